//! The generated code of idl/ checked in under src/services (and, for the conformance IDL,
//! examples/cross): fresh, round-tripping, dispatching.
//!
//! `TETHER_BLESS=1 cargo test --test codegen_services` rewrites both from idl/.

use std::path::Path;

use tether::client::{Channel, ClientError};
use tether::codegen::{Builder, Generated};
use tether::protocol::{
    decode_from, encode_to_vec, ApplicationException, ApplicationExceptionKind, MessageHeader,
    MessageType, Reader, Writer,
};
use tether::protocol::{Decode, Encode};
use tether::server::{CallContext, Processor};
use tether::services::echo::*;

const IDL: &[&str] = &["idl/echo.thrift"];
/// Apache's cross-test service, generated for examples/cross_server.rs and cross_client.rs.
const CONFORMANCE_IDL: &[&str] = &["idl/ThriftTest.thrift"];

#[test]
fn checked_in_services_are_fresh() {
    assert_fresh(IDL, "src/services", "crate");
}

#[test]
fn checked_in_conformance_code_is_fresh() {
    assert_fresh(CONFORMANCE_IDL, "examples/cross", "::tether");
}

#[test]
fn hand_written_services_mod_declares_every_generated_module() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mod_rs = std::fs::read_to_string(root.join("src/services/mod.rs")).unwrap();
    for file in generate(IDL, "crate").files {
        let module = file
            .path
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(
            mod_rs
                .lines()
                .any(|line| line == format!("pub mod {module};")),
            "src/services/mod.rs does not declare `pub mod {module};`"
        );
    }
}

/// The code `tether gen` writes for `idl` (paths from the crate root), naming the runtime crate
/// `runtime`.
fn generate(idl: &[&str], runtime: &str) -> Generated {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut builder = Builder::new().runtime_crate(runtime);
    for file in idl {
        builder = builder.file(root.join(file));
    }
    builder.generate().expect("the checked-in IDL compiles")
}

/// Fails unless every generated file of `idl` is in `dir` as the generator writes it today; with
/// TETHER_BLESS set, rewrites them instead. The `mod.rs` beside them is hand-written (it also
/// declares handlers), so it is not compared; `Generated::mod_rs` is what `tether gen --out`
/// writes for users.
fn assert_fresh(idl: &[&str], dir: &str, runtime: &str) {
    let generated = generate(idl, runtime);
    let bless = std::env::var_os("TETHER_BLESS").is_some();
    for file in &generated.files {
        let name = file.path.display();
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(dir)
            .join(&file.path);
        if bless {
            std::fs::write(&path, &file.source).unwrap();
            continue;
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == file.source,
            "{dir}/{name} is stale; regenerate with TETHER_BLESS=1 cargo test --test codegen_services{}",
            rustfmt_hint()
        );
    }
}

#[test]
fn echo_args_and_results_round_trip() {
    let args = EchoEchoArgs {
        payload: b"hello".to_vec(),
    };
    let bytes = encode_to_vec(&args);
    // field header (type 11 = string, id 1), length 5, bytes, stop
    assert_eq!(bytes, b"\x0b\x00\x01\x00\x00\x00\x05hello\x00");
    assert_eq!(decode_from::<EchoEchoArgs>(&bytes).unwrap(), args);

    let result = EchoFailResult {
        success: None,
        err: Some(EchoError {
            message: "boom".into(),
        }),
    };
    let bytes = encode_to_vec(&result);
    assert_eq!(
        bytes,
        b"\x0c\x00\x01\x0b\x00\x01\x00\x00\x00\x04boom\x00\x00".to_vec()
    );
    assert_eq!(decode_from::<EchoFailResult>(&bytes).unwrap(), result);

    for value in [
        EchoSleepArgs { millis: -7 },
        EchoSleepArgs { millis: i32::MAX },
    ] {
        assert_eq!(
            decode_from::<EchoSleepArgs>(&encode_to_vec(&value)).unwrap(),
            value
        );
    }
    assert_eq!(
        decode_from::<EchoPingResult>(&encode_to_vec(&EchoPingResult {})).unwrap(),
        EchoPingResult {}
    );
}

#[test]
fn unknown_fields_are_skipped_and_absent_defaults_filled() {
    // field 9 (i64) and field 2 (list<i32>) are unknown to EchoEchoArgs; payload is missing.
    let bytes = b"\x0a\x00\x09\x00\x00\x00\x00\x00\x00\x00\x01\x0f\x00\x02\x08\x00\x00\x00\x01\x00\x00\x00\x05\x00";
    assert_eq!(
        decode_from::<EchoEchoArgs>(bytes).unwrap(),
        EchoEchoArgs { payload: vec![] }
    );
    // A known id with the wrong type is skipped too.
    let bytes = b"\x08\x00\x01\x00\x00\x00\x05\x00";
    assert_eq!(
        decode_from::<EchoEchoArgs>(bytes).unwrap(),
        EchoEchoArgs { payload: vec![] }
    );
    // Truncated input is an error, not a panic.
    assert!(decode_from::<EchoEchoArgs>(b"\x0b\x00\x01\x00\x00\x00\x05he").is_err());
}

/// A handler with fixed answers, just enough to see the processor route and encode.
struct Fixed;

impl EchoHandler for Fixed {
    fn echo(&self, _: &CallContext, payload: Vec<u8>) -> Result<Vec<u8>, ApplicationException> {
        Ok(payload.into_iter().rev().collect())
    }
    fn ping(&self, _: &CallContext) -> Result<(), ApplicationException> {
        Ok(())
    }
    fn sleep(&self, _: &CallContext, millis: i32) -> Result<(), ApplicationException> {
        Err(ApplicationException::new(
            ApplicationExceptionKind::Unknown,
            format!("no sleep {millis}"),
        ))
    }
    fn fire(&self, _: &CallContext, _: Vec<u8>) -> Result<(), ApplicationException> {
        Ok(())
    }
    fn fail(&self, _: &CallContext, mode: String) -> Result<String, EchoFailError> {
        match mode.as_str() {
            "error" => Err(EchoError {
                message: "as asked".into(),
            }
            .into()),
            _ => Ok(mode),
        }
    }
}

/// Runs one call through the processor: returns the reply bytes and how many bytes of the
/// request were left unread.
fn call(name: &str, args: &[u8]) -> (Result<Vec<u8>, tether::protocol::ProtocolError>, usize) {
    let processor = EchoProcessor::new(Fixed);
    let ctx = CallContext::new(None, 1, 42);
    let header = MessageHeader {
        name,
        kind: MessageType::Call,
        seqid: 42,
    };
    let mut reader = Reader::new(args);
    let mut out = Vec::new();
    let result = processor
        .process(&ctx, &header, &mut reader, &mut Writer::binary(&mut out))
        .map(|()| out);
    (result, reader.remaining())
}

fn reply(kind: MessageType, name: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Writer::binary(&mut out).write_message_begin(&MessageHeader {
        name,
        kind,
        seqid: 42,
    });
    out.extend_from_slice(body);
    out
}

#[test]
fn processor_dispatches_each_kind_of_method() {
    let processor = EchoProcessor::new(Fixed);
    assert_eq!(processor.service_name(), "Echo");
    assert_eq!(
        processor.method_names(),
        &["echo", "ping", "sleep", "fire", "fail"]
    );

    let args = encode_to_vec(&EchoEchoArgs {
        payload: b"abc".to_vec(),
    });
    let expected = encode_to_vec(&EchoEchoResult {
        success: Some(b"cba".to_vec()),
    });
    let (out, left) = call("echo", &args);
    assert_eq!(out.unwrap(), reply(MessageType::Reply, "echo", &expected));
    assert_eq!(left, 0);

    let (out, _) = call("ping", &encode_to_vec(&EchoPingArgs {}));
    assert_eq!(
        out.unwrap(),
        reply(
            MessageType::Reply,
            "ping",
            &encode_to_vec(&EchoPingResult {})
        )
    );

    // oneway: nothing is written
    let (out, left) = call("fire", &encode_to_vec(&EchoFireArgs { payload: vec![1] }));
    assert_eq!(out.unwrap(), Vec::<u8>::new());
    assert_eq!(left, 0);

    // declared exception: a REPLY carrying the exception field
    let (out, _) = call(
        "fail",
        &encode_to_vec(&EchoFailArgs {
            mode: "error".into(),
        }),
    );
    let expected = encode_to_vec(&EchoFailResult {
        success: None,
        err: Some(EchoError {
            message: "as asked".into(),
        }),
    });
    assert_eq!(out.unwrap(), reply(MessageType::Reply, "fail", &expected));

    let (out, _) = call(
        "fail",
        &encode_to_vec(&EchoFailArgs {
            mode: "fine".into(),
        }),
    );
    let expected = encode_to_vec(&EchoFailResult {
        success: Some("fine".into()),
        err: None,
    });
    assert_eq!(out.unwrap(), reply(MessageType::Reply, "fail", &expected));

    // application error: an EXCEPTION message
    let (out, _) = call("sleep", &encode_to_vec(&EchoSleepArgs { millis: 3 }));
    let exception = ApplicationException::new(ApplicationExceptionKind::Unknown, "no sleep 3");
    assert_eq!(
        out.unwrap(),
        reply(MessageType::Exception, "sleep", &encode_to_vec(&exception))
    );
}

#[test]
fn unknown_method_skips_args_and_answers_unknown_method() {
    let args = encode_to_vec(&EchoEchoArgs {
        payload: b"zzz".to_vec(),
    });
    let (out, left) = call("nope", &args);
    assert_eq!(left, 0, "the args struct is consumed");
    let out = out.unwrap();
    let mut r = Reader::new(&out);
    let header = r.read_message_begin().unwrap();
    assert_eq!(
        (header.name, header.kind, header.seqid),
        ("nope", MessageType::Exception, 42)
    );
    let exception: ApplicationException = tether::protocol::Decode::decode(&mut r).unwrap();
    assert_eq!(exception.kind, ApplicationExceptionKind::UnknownMethod);
}

#[test]
fn undecodable_args_are_an_error() {
    // a string field whose length runs past the end
    let (out, _) = call("echo", b"\x0b\x00\x01\x00\x00\x10\x00ab");
    assert!(out.is_err());
    // nesting past the depth limit
    let deep: Vec<u8> = std::iter::repeat([0x0c, 0x00, 0x09])
        .take(100)
        .flatten()
        .collect();
    let (out, _) = call("echo", &deep);
    assert!(out.is_err());
}

/// A channel that hands each call straight to an in-process processor.
struct InProcess(EchoProcessor<Fixed>);

impl InProcess {
    fn run(&self, method: &str, args: &dyn Encode) -> Vec<u8> {
        let body = encode_to_vec(args);
        let header = MessageHeader {
            name: method,
            kind: MessageType::Call,
            seqid: 7,
        };
        let mut out = Vec::new();
        self.0
            .process(
                &CallContext::new(None, 1, 7),
                &header,
                &mut Reader::new(&body),
                &mut Writer::binary(&mut out),
            )
            .expect("args decode");
        out
    }
}

impl Channel for InProcess {
    fn call(&self, method: &str, args: &dyn Encode) -> Result<Vec<u8>, ClientError> {
        let out = self.run(method, args);
        let mut r = Reader::new(&out);
        let header = r.read_message_begin()?;
        assert_eq!((header.name, header.seqid), (method, 7));
        match header.kind {
            MessageType::Reply => Ok(out[r.position()..].to_vec()),
            _ => Err(ClientError::Application(ApplicationException::decode(
                &mut r,
            )?)),
        }
    }

    fn send_oneway(&self, method: &str, args: &dyn Encode) -> Result<(), ClientError> {
        assert!(self.run(method, args).is_empty());
        Ok(())
    }
}

#[test]
fn client_maps_results_exceptions_and_application_errors() {
    let client = EchoClient::new(InProcess(EchoProcessor::new(Fixed)));
    assert_eq!(client.echo(b"xyz".to_vec()).unwrap(), b"zyx");
    client.ping().unwrap();
    client.fire(vec![1, 2]).unwrap();
    assert_eq!(client.fail("ok".into()).unwrap(), "ok");
    match client.fail("error".into()) {
        Err(EchoFailError::Err(e)) => assert_eq!(e.message, "as asked"),
        other => panic!("expected the declared exception, got {other:?}"),
    }
    match client.sleep(5) {
        Err(ClientError::Application(e)) => assert_eq!(e.message, "no sleep 5"),
        other => panic!("expected an application exception, got {other:?}"),
    }
}

/// A channel whose replies carry neither a result nor an exception.
struct Empty;

impl Channel for Empty {
    fn call(&self, _: &str, _: &dyn Encode) -> Result<Vec<u8>, ClientError> {
        Ok(vec![0])
    }
    fn send_oneway(&self, _: &str, _: &dyn Encode) -> Result<(), ClientError> {
        Ok(())
    }
}

#[test]
fn client_reports_missing_result() {
    let client = EchoClient::new(Empty);
    match client.echo(vec![]) {
        Err(ClientError::Application(e)) => {
            assert_eq!(e.kind, ApplicationExceptionKind::MissingResult)
        }
        other => panic!("expected MISSING_RESULT, got {other:?}"),
    }
    match client.fail("x".into()) {
        Err(EchoFailError::Application(e)) => {
            assert_eq!(e.kind, ApplicationExceptionKind::MissingResult)
        }
        other => panic!("expected MISSING_RESULT, got {other:?}"),
    }
    // void methods succeed on an empty result struct
    client.ping().unwrap();
}

/// Generated code goes through rustfmt when it is installed; without it the output differs.
fn rustfmt_hint() -> &'static str {
    let found = std::process::Command::new("rustfmt")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        ""
    } else {
        " (rustfmt is not installed here; the checked-in files were formatted with it)"
    }
}
