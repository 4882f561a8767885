//! Dispatch: pipelining, routing, unknown methods, handler panics, oneway, undecodable args.

mod support;

use std::time::Duration;

use support::*;
use tether::protocol::{
    ApplicationExceptionKind, MessageHeader, MessageType, ProtocolError, Reader, TType, Writer,
};
use tether::server::{CallContext, CloseReason, Config, Processor, Router};
use tether::transport::Codec;

const SECOND: Duration = Duration::from_secs(1);

#[test]
fn pipelined_requests_in_one_write_are_answered_in_order() {
    let server = TestServer::start(Config::default());
    let mut client = server.connect();
    let mut batch = Vec::new();
    for seqid in 0..200 {
        batch.extend(framed(&echo_call(seqid, &seqid.to_be_bytes())));
    }
    client.send(&batch).unwrap();
    for seqid in 0..200 {
        let reply = client.read_framed(2 * SECOND).reply();
        assert_eq!(reply.seqid, seqid);
        assert_eq!(reply.binary_field(0), Some(seqid.to_be_bytes().to_vec()));
    }
    assert_eq!(server.stats().requests, 200);
}

#[test]
fn unframed_requests_are_detected_and_answered_unframed() {
    let server = TestServer::start(Config::default());
    let mut client = server.connect();
    let mut batch = Vec::new();
    for seqid in 0..3 {
        batch.extend(echo_call(seqid, b"plain"));
    }
    client.send(&batch).unwrap();
    for seqid in 0..3 {
        let reply = client.read_unframed(2 * SECOND).reply();
        assert_eq!(reply.seqid, seqid);
        assert_eq!(reply.binary_field(0), Some(b"plain".to_vec()));
    }
}

#[test]
fn forced_framing_rejects_the_other_one() {
    let server = TestServer::start(Config::default().codec(Some(Codec::FRAMED)));
    let mut client = server.connect();
    client.send(&echo_call(1, b"plain")).unwrap();
    assert!(client.wait_closed(2 * SECOND).is_some());
    server.wait_stats("protocol error", |s| {
        s.closed(CloseReason::ProtocolError) == 1
    });
}

#[test]
fn unknown_method_then_a_good_call_on_the_same_connection() {
    let server = TestServer::start(Config::default());
    let mut client = server.connect();
    let reply = client.call(&call("nosuch", 41, &binary_args(b"ignored")));
    assert_eq!((reply.name.as_str(), reply.seqid), ("nosuch", 41));
    let e = reply.exception().expect("an exception");
    assert_eq!(e.kind, ApplicationExceptionKind::UnknownMethod);
    assert!(e.message.contains("nosuch"));
    let reply = client.call(&echo_call(42, b"after"));
    assert_eq!(reply.binary_field(0), Some(b"after".to_vec()));
}

#[test]
fn handler_panic_then_a_good_call_on_the_same_connection() {
    let server = TestServer::start(Config::default());
    let mut client = server.connect();
    let reply = client.call(&fail_call(7, "panic"));
    assert_eq!((reply.name.as_str(), reply.seqid), ("fail", 7));
    let e = reply.exception().expect("an exception");
    assert_eq!(e.kind, ApplicationExceptionKind::InternalError);
    let reply = client.call(&echo_call(8, b"still here"));
    assert_eq!(reply.binary_field(0), Some(b"still here".to_vec()));
    let stats = server.stats();
    assert_eq!((stats.panics, stats.exceptions), (1, 1));
}

#[test]
fn declared_exception_and_plain_result() {
    let server = TestServer::start(Config::default());
    let mut client = server.connect();
    let reply = client.call(&fail_call(1, "error"));
    assert_eq!(reply.kind, MessageType::Reply);
    let mut reader = Reader::new(&reply.body);
    assert_eq!(reader.read_field_begin().unwrap(), Some((TType::Struct, 1)));
    let reply = client.call(&fail_call(2, "x"));
    assert_eq!(reply.binary_field(0), Some(b"x".to_vec()));
}

#[test]
fn oneway_then_a_good_call_on_the_same_connection() {
    let server = TestServer::start(Config::default());
    let mut client = server.connect();
    client.send_framed(&fire_call(1, b"fire")).unwrap();
    let reply = client.call(&ping_call(2));
    assert_eq!((reply.name.as_str(), reply.seqid), ("ping", 2));
    let stats = server.stats();
    assert_eq!((stats.requests, stats.oneway), (2, 1));
}

#[test]
fn undecodable_arguments_get_protocol_error_then_close() {
    let server = TestServer::start(Config::default());
    let mut client = server.connect();
    // Field 1 declares 1000 bytes of payload; the frame ends after 3.
    let mut args = vec![11, 0, 1];
    args.extend(1000i32.to_be_bytes());
    args.extend(b"abc");
    let reply = client.call(&call("echo", 5, &args));
    assert_eq!(reply.seqid, 5);
    let e = reply.exception().expect("an exception");
    assert_eq!(e.kind, ApplicationExceptionKind::ProtocolError);
    assert!(client.wait_closed(2 * SECOND).is_some());
    server.wait_stats("protocol error close", |s| {
        s.closed(CloseReason::ProtocolError) == 1
    });
    server.connect().call(&ping_call(1));
}

/// Arguments nested `depth` structs deep, for the unknown-method skip.
fn nested_args(depth: usize) -> Vec<u8> {
    let mut args = Vec::new();
    for _ in 0..depth {
        Writer::binary(&mut args).write_field_begin(TType::Struct, 1);
    }
    for _ in 0..=depth {
        Writer::binary(&mut args).write_field_stop();
    }
    args
}

#[test]
fn deep_nesting_is_bounded_and_does_not_overflow_the_worker_stack() {
    let server = TestServer::start(Config::default());
    let mut client = server.connect();
    let reply = client.call(&call("nosuch", 1, &nested_args(63)));
    assert_eq!(
        reply.exception().unwrap().kind,
        ApplicationExceptionKind::UnknownMethod
    );
    let reply = client.call(&call("nosuch", 2, &nested_args(100_000)));
    assert_eq!(
        reply.exception().unwrap().kind,
        ApplicationExceptionKind::ProtocolError
    );
    assert!(client.wait_closed(2 * SECOND).is_some());
    server.connect().call(&ping_call(3));
}

/// A second service that shares the method name `ping` with Echo.
struct Other;

impl Processor for Other {
    fn service_name(&self) -> &'static str {
        "Other"
    }
    fn method_names(&self) -> &'static [&'static str] {
        &["ping", "other"]
    }
    fn process(
        &self,
        _: &CallContext,
        header: &MessageHeader<'_>,
        args: &mut Reader<'_>,
        out: &mut Writer<'_>,
    ) -> Result<(), ProtocolError> {
        args.skip(TType::Struct)?;
        let reply = MessageHeader {
            kind: MessageType::Reply,
            ..*header
        };
        out.write_message_begin(&reply);
        out.write_field_begin(TType::String, 0);
        out.write_string("other");
        out.write_field_stop();
        Ok(())
    }
}

#[test]
fn router_serves_plain_names_when_unambiguous_and_prefixed_names_always() {
    let router = Router::new().service(echo_processor()).service(Other);
    let server = TestServer::start_with(Config::default(), router);
    let mut client = server.connect();
    let reply = client.call(&echo_call(1, b"plain"));
    assert_eq!(reply.binary_field(0), Some(b"plain".to_vec()));
    let reply = client.call(&call("Echo:echo", 2, &binary_args(b"prefixed")));
    assert_eq!(reply.binary_field(0), Some(b"prefixed".to_vec()));
    assert_eq!(reply.name, "echo");
    let reply = client.call(&call("other", 3, &no_args()));
    assert_eq!(reply.binary_field(0), Some(b"other".to_vec()));
    let reply = client.call(&call("Other:ping", 4, &no_args()));
    assert_eq!(reply.binary_field(0), Some(b"other".to_vec()));
    let reply = client.call(&call("Echo:ping", 5, &no_args()));
    assert_eq!(
        (reply.kind, reply.binary_field(0)),
        (MessageType::Reply, None)
    );
    let reply = client.call(&call("ping", 6, &no_args()));
    assert_eq!(
        reply.exception().unwrap().kind,
        ApplicationExceptionKind::UnknownMethod,
        "ambiguous plain name"
    );
}

#[test]
fn exception_before_close_survives_unread_bytes_behind_it() {
    let server = TestServer::start(Config::default());
    let mut client = server.connect();
    let mut args = vec![11, 0, 1];
    args.extend(1000i32.to_be_bytes());
    let mut bytes = framed(&call("echo", 9, &args));
    for seqid in 0..200 {
        bytes.extend(framed(&echo_call(seqid, &[1; 200])));
    }
    client.send(&bytes).unwrap();
    // Let the close happen before reading: a reset would now destroy the unread reply.
    server.wait_stats("protocol error close", |s| {
        s.closed(CloseReason::ProtocolError) == 1
    });
    std::thread::sleep(Duration::from_millis(50));
    let reply = client.read_framed(2 * SECOND).reply();
    assert_eq!(
        (reply.seqid, reply.exception().unwrap().kind),
        (9, ApplicationExceptionKind::ProtocolError)
    );
}

#[test]
fn large_requests_arrive_over_many_reads_framed_and_unframed() {
    let server = TestServer::start(Config::default());
    let payload: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
    let mut framed_client = server.connect();
    let reply = framed_client.call(&echo_call(1, &payload));
    assert!(reply.binary_field(0) == Some(payload.clone()));

    let mut plain = server.connect();
    let request = echo_call(2, &payload);
    for chunk in request.chunks(64 << 10) {
        plain.send(chunk).unwrap();
    }
    let reply = plain.read_unframed(5 * SECOND).reply();
    assert!(reply.binary_field(0) == Some(payload));
    assert_eq!(framed_client.call(&ping_call(3)).seqid, 3);
}
