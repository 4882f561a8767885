//! `Connection` against a scripted loopback peer (tests/support/client.rs): calls, seqid check,
//! exceptions, deadlines, connect failures and timeouts, oneway over every channel.

mod support;

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use tether::client::{
    Channel, ClientError, Connection, MuxConfig, MuxConnection, Pool, PoolConfig,
};
use tether::protocol::{
    begin_frame, finish_frame, ApplicationException, ApplicationExceptionKind, MessageType,
};

use support::client::*;

#[test]
fn call_round_trips_and_connection_is_reused() {
    let (addr, _peer) = peer(|_, mut s| {
        while let Some(call) = read_call(&mut s) {
            answer(&mut s, &call);
        }
    });
    let conn = Connection::connect(&addr.to_string(), fast()).unwrap();
    for i in 0..5u8 {
        let body = conn.call("echo", &Payload(vec![i; 3])).unwrap();
        assert_eq!(payload_of(&body), vec![i; 3]);
    }
}

#[test]
fn seqid_mismatch_is_an_error_and_drops_the_connection() {
    let (addr, _peer) = peer(|i, mut s| {
        while let Some(call) = read_call(&mut s) {
            let seqid = if i == 0 { call.seqid + 1 } else { call.seqid };
            s.write_all(&reply_bytes(&call.name, seqid, &call.payload))
                .unwrap();
        }
    });
    let conn = Connection::connect(&addr.to_string(), fast()).unwrap();
    match conn.call("echo", &Payload(b"a".to_vec())) {
        Err(ClientError::SeqidMismatch { expected, received }) => {
            assert_eq!(received, expected + 1)
        }
        other => panic!("expected a seqid mismatch, got {other:?}"),
    }
    assert!(!conn.is_connected());
    // The next call connects again (the peer's second connection answers properly).
    let body = conn.call("echo", &Payload(b"b".to_vec())).unwrap();
    assert_eq!(payload_of(&body), b"b");
}

#[test]
fn exception_reply_is_typed_and_keeps_the_connection() {
    let (addr, _peer) = peer(|_, mut s| {
        while let Some(call) = read_call(&mut s) {
            let mut out = Vec::new();
            let at = begin_frame(&mut out);
            ApplicationException::new(ApplicationExceptionKind::UnknownMethod, "unknown")
                .encode_message(&mut out, &call.name, call.seqid);
            finish_frame(&mut out, at);
            s.write_all(&out).unwrap();
        }
    });
    let conn = Connection::connect(&addr.to_string(), fast()).unwrap();
    for _ in 0..2 {
        match conn.call("nope", &Payload(vec![])) {
            Err(ClientError::Application(e)) => {
                assert_eq!(e.kind, ApplicationExceptionKind::UnknownMethod)
            }
            other => panic!("expected an application exception, got {other:?}"),
        }
        assert!(conn.is_connected());
    }
}

#[test]
fn call_deadline_covers_the_reply() {
    let (addr, _peer) = peer(|_, mut s| {
        // Read the call, never answer; keep the socket open until the client gives up.
        let _call = read_call(&mut s);
        let _ = read_call(&mut s);
    });
    let config = fast().call_timeout(Duration::from_millis(100));
    let conn = Connection::connect(&addr.to_string(), config).unwrap();
    let started = Instant::now();
    let result = conn.call("echo", &Payload(vec![1]));
    assert!(matches!(result, Err(ClientError::Timeout)), "{result:?}");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(100), "{took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(
        !conn.is_connected(),
        "a timed-out connection must be dropped"
    );
}

#[test]
fn connect_refused_is_an_error_fast() {
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    // The listener is gone: nothing listens on the port now.
    let started = Instant::now();
    let result = Connection::connect(&addr.to_string(), fast());
    assert!(matches!(result, Err(ClientError::Connect(_))), "{result:?}");
    assert!(started.elapsed() < Duration::from_millis(400));
}

#[test]
fn connect_timeout_bounds_an_unanswered_connect() {
    // A listener with a backlog of 0 that never accepts: once its queue is full the kernel
    // drops further SYNs, so a connect hangs until the client's timeout.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    socket.listen(0).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    let timeout = Duration::from_millis(200);
    let config = fast().connect_timeout(timeout);
    let mut result = Ok(());
    let mut took = Duration::ZERO;
    for _ in 0..8 {
        let started = Instant::now();
        match Connection::connect(&addr.to_string(), config.clone()) {
            Ok(conn) => fillers.push(conn),
            Err(e) => {
                took = started.elapsed();
                result = Err(e);
                break;
            }
        }
    }
    assert!(matches!(result, Err(ClientError::Connect(_))), "{result:?}");
    assert!(took >= timeout - Duration::from_millis(20), "{took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[test]
fn oneway_is_written_and_no_reply_awaited() {
    let (received, calls) = std::sync::mpsc::channel();
    let (addr, _peer) = peer(move |_, mut s| {
        while let Some(call) = read_call(&mut s) {
            let _ = received.send((call.kind, call.payload));
        }
    });
    let target = addr.to_string();
    // The peer serves one connection at a time: each client is dropped (closed) after its send.
    let conn = Connection::connect(&target, fast()).unwrap();
    conn.send_oneway("fire", &Payload(b"conn".to_vec()))
        .unwrap();
    drop(conn);
    let pool = Pool::new([target.clone()], PoolConfig::default()).unwrap();
    pool.send_oneway("fire", &Payload(b"pool".to_vec()))
        .unwrap();
    drop(pool);
    let mux = MuxConnection::connect(&target, MuxConfig::default()).unwrap();
    mux.send_oneway("fire", &Payload(b"mux".to_vec())).unwrap();
    drop(mux);
    for expected in [&b"conn"[..], b"pool", b"mux"] {
        let (kind, payload) = calls.recv_timeout(Duration::from_secs(2)).unwrap();
        assert_eq!(kind, MessageType::Oneway);
        assert_eq!(payload, expected);
    }
}

#[test]
fn connect_tries_every_address_a_name_resolves_to() {
    // "localhost" may resolve to ::1 first; the listener is on 127.0.0.1 only.
    let (addr, _peer) = peer(answering(Duration::ZERO));
    let conn = Connection::connect(&format!("localhost:{}", addr.port()), fast()).unwrap();
    assert_eq!(
        payload_of(&conn.call("echo", &Payload(vec![9])).unwrap()),
        vec![9]
    );
}
