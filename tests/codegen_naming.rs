//! The naming golden file compiles, and the names it picks are the documented ones.

#[allow(dead_code)]
#[path = "codegen/naming.rs"]
mod naming;

use naming::*;

#[test]
fn idl_names_become_rust_names() {
    let s = camelStruct {
        user_id: 1,
        http_header: "h".into(),
        self_: true,
        r#match: vec![],
        r: Some(1),
        id: Some(2),
        ttype: Some(3),
    };
    let bytes = tether::protocol::encode_to_vec(&s);
    assert_eq!(
        tether::protocol::decode_from::<camelStruct>(&bytes).unwrap(),
        s
    );
    assert_eq!(lowerEnum::SECOND_VALUE.0, 5);
    assert_eq!(lowerEnum::THIRD_VALUE.name(), Some("THIRD_VALUE"));
    let clashes = Clashes {
        the_edge_case: true,
        TheEdgeCase: false,
        the_edge_case_: true,
    };
    assert!(clashes.the_edge_case && clashes.the_edge_case_ && !clashes.TheEdgeCase);
    assert_ne!(Tricky::Tricky(true), Tricky::Tricky_(1));
    let e = clashServicePickError::Problem(Problem {
        message: "a".into(),
    });
    assert!(matches!(e, clashServicePickError::Problem(_)));
    assert!(matches!(
        clashServicePickError::Problem_(Problem::default()),
        clashServicePickError::Problem_(_)
    ));
}

struct Recorder(std::sync::Mutex<Vec<String>>);

impl nameServiceHandler for Recorder {
    fn get_by_id(
        &self,
        _: &tether::server::CallContext,
        user_id: i64,
    ) -> Result<camelStruct, tether::protocol::ApplicationException> {
        Ok(camelStruct {
            user_id,
            ..Default::default()
        })
    }
    fn do_it(
        &self,
        _: &tether::server::CallContext,
        _: lowerEnum,
    ) -> Result<(), tether::protocol::ApplicationException> {
        Ok(())
    }
}

impl clashServiceHandler for Recorder {
    fn pick(
        &self,
        _: &tether::server::CallContext,
        _: Clashes,
    ) -> Result<Tricky, clashServicePickError> {
        Ok(Tricky::Tricky(true))
    }
    fn new(
        &self,
        _: &tether::server::CallContext,
        ctx: i32,
        handler: String,
        out: i32,
        args: i32,
        header: i32,
    ) -> Result<(), tether::protocol::ApplicationException> {
        self.0
            .lock()
            .unwrap()
            .push(format!("{ctx} {handler} {out} {args} {header}"));
        Ok(())
    }
    fn channel(
        &self,
        _: &tether::server::CallContext,
    ) -> Result<i32, tether::protocol::ApplicationException> {
        Ok(7)
    }
}

#[test]
fn arguments_named_like_the_processors_own_reach_the_handler() {
    use tether::protocol::{encode_to_vec, MessageHeader, MessageType, Reader, Writer};
    use tether::server::{CallContext, Processor};
    let processor = clashServiceProcessor::new(Recorder(Default::default()));
    let args = encode_to_vec(&clashServiceNewArgs {
        ctx: 1,
        handler: "h".into(),
        out: 3,
        args: 4,
        header: 5,
    });
    let header = MessageHeader {
        name: "new",
        kind: MessageType::Call,
        seqid: 1,
    };
    let mut out = Vec::new();
    processor
        .process(
            &CallContext::new(None, 1, 1),
            &header,
            &mut Reader::new(&args),
            &mut Writer::binary(&mut out),
        )
        .unwrap();
    assert_eq!(*processor.handler().0.lock().unwrap(), ["1 h 3 4 5"]);
    assert!(processor.method_names().contains(&"getById"));
}
