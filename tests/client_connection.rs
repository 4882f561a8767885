//! `Connection` against a scripted loopback peer (tests/support/client.rs): calls, seqid check,
//! exceptions, deadlines, connect failures and timeouts, oneway over every channel; and against
//! the real tether server: the keep-alive contract (peek, retry, budget, one deadline) and the
//! configured limits in generated clients.

mod support;

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use tether::client::{
    Channel, ClientError, Connection, MuxConfig, MuxConnection, Pool, PoolConfig, RetryBudgetConfig,
};
use tether::protocol::{
    ApplicationException, ApplicationExceptionKind, Limits, MessageType, Writer,
};
use tether::server::Config;
use tether::services::echo::EchoClient;
use tether::transport::{Codec, Envelope};

use support::client::*;
use support::TestServer;

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
            let at = Codec::FRAMED.begin_message(&mut out, &Envelope::default());
            ApplicationException::new(ApplicationExceptionKind::UnknownMethod, "unknown")
                .encode_message(&mut Writer::binary(&mut out), &call.name, call.seqid);
            Codec::FRAMED.finish_message(&mut out, at);
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
fn exception_reply_followed_by_stray_bytes_drops_the_connection() {
    let (addr, _peer) = peer(|_, mut s| {
        while let Some(call) = read_call(&mut s) {
            let mut out = Vec::new();
            let at = Codec::FRAMED.begin_message(&mut out, &Envelope::default());
            ApplicationException::new(ApplicationExceptionKind::UnknownMethod, "unknown")
                .encode_message(&mut Writer::binary(&mut out), &call.name, call.seqid);
            Codec::FRAMED.finish_message(&mut out, at);
            // A second reply no call asked for, in the same write: out of step.
            out.extend_from_slice(&reply_bytes(&call.name, call.seqid, b"stray"));
            s.write_all(&out).unwrap();
        }
    });
    let conn = Connection::connect(&addr.to_string(), fast()).unwrap();
    let result = conn.call("nope", &Payload(vec![]));
    assert!(
        matches!(result, Err(ClientError::Protocol(_))),
        "{result:?}"
    );
    assert!(!conn.is_connected());
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

fn idle_closing_server() -> TestServer {
    TestServer::start(Config::default().idle_timeout(Duration::from_millis(300)))
}

/// One echo every `every`, `calls` times, over a generated client; returns how many failed.
fn paced_calls<C: Channel>(client: &EchoClient<C>, calls: usize, every: Duration) -> usize {
    let mut errors = 0;
    for i in 0..calls {
        if i > 0 {
            std::thread::sleep(every);
        }
        let payload = format!("call {i}").into_bytes();
        match client.echo(payload.clone()) {
            Ok(reply) => assert_eq!(reply, payload),
            Err(_) => errors += 1,
        }
    }
    errors
}

/// The field failure on one connection: the server closes it after 300 ms idle, a call comes
/// every 400 ms, so every call meets a socket the server already closed.
#[test]
fn connection_finds_the_servers_idle_close_before_every_call() {
    let server = idle_closing_server();
    let conn = Connection::connect(&server.addr.to_string(), fast()).unwrap();
    let client = EchoClient::new(conn);
    let errors = paced_calls(&client, 10, Duration::from_millis(400));
    let stats = client.channel().stats();
    assert_eq!(errors, 0, "{stats:?}");
    // Every call after the first found a closed socket, by the peek or (if the FIN came late on
    // a loaded machine) by the retry; slack for a server close that came after the call.
    assert!(stats.discarded_stale + stats.retries >= 7, "{stats:?}");
    assert!(stats.connects >= 8, "{stats:?}");
}

/// Proves the test above is real: the naive client meets the closed sockets.
#[test]
fn connection_without_retry_fails_after_the_servers_idle_close() {
    let server = idle_closing_server();
    let conn = Connection::connect(&server.addr.to_string(), fast().retry(false)).unwrap();
    let client = EchoClient::new(conn);
    let errors = paced_calls(&client, 10, Duration::from_millis(400));
    let stats = client.channel().stats();
    // Each failure drops the socket, so the next call connects afresh and succeeds: every
    // second call fails.
    assert!(errors >= 3, "only {errors} errors: {stats:?}");
    assert_eq!((stats.discarded_stale, stats.retries), (0, 0), "{stats:?}");
}

#[test]
fn connection_gives_up_a_socket_idle_past_its_idle_timeout() {
    let server = idle_closing_server();
    let config = fast().idle_timeout(Duration::from_millis(200));
    let client = EchoClient::new(Connection::connect(&server.addr.to_string(), config).unwrap());
    client.ping().unwrap();
    std::thread::sleep(Duration::from_millis(250));
    client.ping().unwrap();
    let stats = client.channel().stats();
    assert_eq!(
        (
            stats.discarded_expired,
            stats.discarded_stale,
            stats.retries
        ),
        (1, 0, 0),
        "{stats:?}"
    );
}

/// A server that answers one request per connection and closes it: every back-to-back reuse
/// (too soon for the peek) meets a closed socket, the stale-connection failure at its most
/// frequent.
fn one_request_per_connection_server() -> TestServer {
    TestServer::start(Config::default().max_requests_per_connection(Some(1)))
}

#[test]
fn connection_retry_stays_within_the_one_call_deadline() {
    let server = one_request_per_connection_server();
    let timeout = Duration::from_millis(400);
    let conn = Connection::connect(&server.addr.to_string(), fast().call_timeout(timeout));
    let client = EchoClient::new(conn.unwrap());
    client.ping().unwrap();
    // Right away: the socket is closed, the call fails at once and is retried on a fresh one,
    // where the handler outlasts the deadline. The retry gets what is left, not a new 400 ms.
    let started = Instant::now();
    let result = client.sleep(2000);
    let took = started.elapsed();
    assert!(matches!(result, Err(ClientError::Timeout)), "{result:?}");
    assert!(took < timeout * 2 - Duration::from_millis(50), "{took:?}");
    assert_eq!(client.channel().stats().retries, 1);
}

/// A fleet whose every kept-alive connection fails: without a budget every call would be sent
/// twice. The budget (20% of calls, 1 retry/s reserve over 10 s) caps the retries.
#[test]
fn connection_retries_are_capped_by_the_budget() {
    let server = one_request_per_connection_server();
    let budget = RetryBudgetConfig::default().percent(20).min_per_second(1);
    let config = fast().retry_budget(Some(budget));
    let client = EchoClient::new(Connection::connect(&server.addr.to_string(), config).unwrap());
    let calls = 200;
    let errors = (0..calls).filter(|_| client.ping().is_err()).count() as u64;
    let stats = client.channel().stats();
    eprintln!("connection, failing fleet: {calls} calls, {errors} errors, {stats:?}");
    // Deposits: 20% of 200 calls = 40 retries, plus the reserve of 10.
    assert!(stats.retries <= 50, "{stats:?}");
    assert!(stats.retries >= 20, "{stats:?}");
    assert!(stats.budget_exhausted > 0, "{stats:?}");
    assert_eq!(errors, stats.budget_exhausted, "{stats:?}");

    // Without a budget every stale socket is retried, and no call fails.
    let config = fast().retry_budget(None);
    let client = EchoClient::new(Connection::connect(&server.addr.to_string(), config).unwrap());
    let errors = (0..calls).filter(|_| client.ping().is_err()).count();
    let stats = client.channel().stats();
    assert_eq!((errors as u64, stats.budget_exhausted), (0, 0), "{stats:?}");
    assert!(stats.retries >= 150, "{stats:?}");
}

/// Generated clients decode results with the channel's limits, not the defaults.
#[test]
fn generated_client_decodes_with_the_configured_limits() {
    let server = TestServer::start(Config::default());
    let target = server.addr.to_string();
    let limits = Limits::default().max_string(Some(16));
    let config = fast().limits(limits);
    let (connection, pool, mux) = support::client::echo_clients(&target, config);
    assert_eq!(connection.echo(vec![1; 16]).unwrap(), vec![1; 16]);
    assert_eq!(pool.echo(vec![1; 16]).unwrap(), vec![1; 16]);
    assert_eq!(mux.echo(vec![1; 16]).unwrap(), vec![1; 16]);
    let result = connection.echo(vec![1; 17]);
    assert!(
        matches!(result, Err(ClientError::Protocol(_))),
        "{result:?}"
    );
    let result = pool.echo(vec![1; 17]);
    assert!(
        matches!(result, Err(ClientError::Protocol(_))),
        "{result:?}"
    );
    let result = mux.echo(vec![1; 17]);
    assert!(
        matches!(result, Err(ClientError::Protocol(_))),
        "{result:?}"
    );
}
