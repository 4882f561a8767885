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
