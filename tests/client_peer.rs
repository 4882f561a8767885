//! The client against a scripted peer: a plain loopback listener in the test that reads calls and
//! answers (or misbehaves) exactly as each test needs.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use tether::client::{
    Channel, ClientError, Connection, ConnectionConfig, MuxConfig, MuxConnection, Pool, PoolConfig,
};
use tether::protocol::{
    begin_frame, finish_frame, write_binary, write_field_begin, write_field_stop,
    write_message_begin, ApplicationException, ApplicationExceptionKind, Encode, MessageHeader,
    MessageType, Reader, TType,
};

/// The args of `echo(1: binary payload)`.
struct Payload(Vec<u8>);

impl Encode for Payload {
    fn encode(&self, out: &mut Vec<u8>) {
        write_field_begin(out, TType::String, 1);
        write_binary(out, &self.0);
        write_field_stop(out);
    }
}

/// A call as the peer received it.
struct Call {
    name: String,
    kind: MessageType,
    seqid: i32,
    payload: Vec<u8>,
}

/// Reads one framed call; `None` at EOF.
fn read_call(stream: &mut TcpStream) -> Option<Call> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).ok()?;
    let mut message = vec![0u8; i32::from_be_bytes(len) as usize];
    stream.read_exact(&mut message).ok()?;
    let mut r = Reader::new(&message);
    let header = r.read_message_begin().unwrap();
    let mut payload = Vec::new();
    while let Some((ttype, id)) = r.read_field_begin().unwrap() {
        if id == 1 && ttype == TType::String {
            payload = r.read_bytes().unwrap().to_vec();
        } else {
            r.skip(ttype).unwrap();
        }
    }
    Some(Call {
        name: header.name.to_owned(),
        kind: header.kind,
        seqid: header.seqid,
        payload,
    })
}

/// A framed REPLY carrying `payload` as the result's field 0.
fn reply_bytes(name: &str, seqid: i32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let at = begin_frame(&mut out);
    let header = MessageHeader {
        name,
        kind: MessageType::Reply,
        seqid,
    };
    write_message_begin(&mut out, &header);
    Payload(payload.to_vec()).encode(&mut out);
    finish_frame(&mut out, at);
    out
}

fn answer(stream: &mut TcpStream, call: &Call) {
    stream
        .write_all(&reply_bytes(&call.name, call.seqid, &call.payload))
        .unwrap();
}

/// The payload of an echo reply body.
fn payload_of(body: &[u8]) -> Vec<u8> {
    let mut r = Reader::new(body);
    let (_, id) = r.read_field_begin().unwrap().unwrap();
    assert_eq!(id, 1);
    r.read_bytes().unwrap().to_vec()
}

/// Runs `script` on each accepted connection in turn (connection index given), in a thread.
fn peer(
    script: impl Fn(usize, TcpStream) + Send + 'static,
) -> (SocketAddr, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = thread::spawn(move || {
        for (i, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { return };
            script(i, stream);
        }
    });
    (addr, handle)
}

fn fast() -> ConnectionConfig {
    ConnectionConfig::default()
        .connect_timeout(Duration::from_millis(500))
        .call_timeout(Duration::from_millis(500))
}

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
fn pool_peek_finds_a_peer_fin_before_reuse() {
    let (closed, peer_closed) = std::sync::mpsc::channel();
    let (addr, _peer) = peer(move |i, mut s| {
        if let Some(call) = read_call(&mut s) {
            answer(&mut s, &call);
        }
        if i == 0 {
            // The server's idle close: FIN right after the first reply.
            drop(s);
            closed.send(()).unwrap();
        } else {
            while let Some(call) = read_call(&mut s) {
                answer(&mut s, &call);
            }
        }
    });
    let pool = Pool::new([addr.to_string()], PoolConfig::default().connection(fast())).unwrap();
    pool.call("echo", &Payload(b"1".to_vec())).unwrap();
    peer_closed.recv_timeout(Duration::from_secs(2)).unwrap();
    // Loopback delivers the FIN at once; give a loaded machine a moment anyway.
    thread::sleep(Duration::from_millis(20));
    let body = pool.call("echo", &Payload(b"2".to_vec())).unwrap();
    assert_eq!(payload_of(&body), b"2");
    let stats = pool.stats();
    assert_eq!(stats.discarded_stale, 1, "{stats:?}");
    assert_eq!(stats.created, 2, "{stats:?}");
    assert_eq!(stats.retries, 0, "{stats:?}");
}

/// The server read the request, then closed without answering: the race the retry rule exists
/// for (the peer's FIN was not yet visible when the connection was taken).
fn closes_on_second_call(i: usize, mut s: TcpStream) {
    if i == 0 {
        if let Some(call) = read_call(&mut s) {
            answer(&mut s, &call);
        }
        let _ = read_call(&mut s);
        return;
    }
    while let Some(call) = read_call(&mut s) {
        answer(&mut s, &call);
    }
}

#[test]
fn pool_retries_once_on_a_fresh_connection() {
    let (addr, _peer) = peer(closes_on_second_call);
    let config = PoolConfig::default()
        .connection(fast())
        .check_before_reuse(false);
    let pool = Pool::new([addr.to_string()], config).unwrap();
    pool.call("echo", &Payload(b"1".to_vec())).unwrap();
    let body = pool.call("echo", &Payload(b"2".to_vec())).unwrap();
    assert_eq!(payload_of(&body), b"2");
    let stats = pool.stats();
    assert_eq!(stats.retries, 1, "{stats:?}");
    assert_eq!(stats.created, 2, "{stats:?}");
    assert_eq!(stats.discarded_error, 1, "{stats:?}");
}

#[test]
fn pool_without_retry_surfaces_the_eof() {
    let (addr, _peer) = peer(closes_on_second_call);
    let config = PoolConfig::default()
        .connection(fast())
        .check_before_reuse(false)
        .retry(false);
    let pool = Pool::new([addr.to_string()], config).unwrap();
    pool.call("echo", &Payload(b"1".to_vec())).unwrap();
    let result = pool.call("echo", &Payload(b"2".to_vec()));
    assert!(matches!(result, Err(ClientError::Io(_))), "{result:?}");
    assert_eq!(pool.stats().retries, 0);
}

#[test]
fn pool_never_retries_on_a_fresh_connection_or_after_a_timeout() {
    let (addr, _peer) = peer(|i, mut s| {
        let _ = read_call(&mut s);
        if i == 1 {
            // Second connection: hold the call past the client's deadline.
            let _ = read_call(&mut s);
        }
        // First connection: EOF right after reading the call.
    });
    let config = PoolConfig::default().connection(fast().call_timeout(Duration::from_millis(100)));
    let pool = Pool::new([addr.to_string()], config).unwrap();
    let result = pool.call("echo", &Payload(b"1".to_vec()));
    assert!(matches!(result, Err(ClientError::Io(_))), "{result:?}");
    let result = pool.call("echo", &Payload(b"2".to_vec()));
    assert!(matches!(result, Err(ClientError::Timeout)), "{result:?}");
    let stats = pool.stats();
    assert_eq!(stats.retries, 0, "{stats:?}");
    assert_eq!(stats.discarded_error, 1, "{stats:?}");
    assert_eq!(stats.discarded_timeout, 1, "{stats:?}");
    assert_eq!(stats.idle + stats.active, 0, "{stats:?}");
}

#[test]
fn pool_ejects_an_endpoint_that_refuses() {
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (live, _peer) = peer(|_, mut s| {
        while let Some(call) = read_call(&mut s) {
            answer(&mut s, &call);
        }
    });
    let config = PoolConfig::default().connection(fast()).max_idle(0);
    let pool = Pool::new([dead.to_string(), live.to_string()], config).unwrap();
    for i in 0..6u8 {
        let body = pool.call("echo", &Payload(vec![i])).unwrap();
        assert_eq!(payload_of(&body), vec![i]);
    }
    // The refusing endpoint is tried once, then skipped while ejected.
    assert_eq!(pool.stats().connect_failures, 1, "{:?}", pool.stats());
}

#[test]
fn mux_routes_replies_that_come_out_of_order() {
    let (addr, _peer) = peer(|_, mut s| {
        let mut held = Vec::new();
        while let Some(call) = read_call(&mut s) {
            held.push(call);
            if held.len() == 4 {
                for call in held.drain(..).rev() {
                    answer(&mut s, &call);
                }
            }
        }
    });
    let mux = Arc::new(MuxConnection::connect(&addr.to_string(), MuxConfig::default()).unwrap());
    let callers: Vec<_> = (0..4u8)
        .map(|i| {
            let mux = mux.clone();
            thread::spawn(move || payload_of(&mux.call("echo", &Payload(vec![i; 5])).unwrap()))
        })
        .collect();
    for (i, caller) in callers.into_iter().enumerate() {
        assert_eq!(caller.join().unwrap(), vec![i as u8; 5]);
    }
}

#[test]
fn mux_late_reply_is_discarded_and_connection_carries_on() {
    let (addr, _peer) = peer(|_, mut s| {
        while let Some(call) = read_call(&mut s) {
            if call.payload == b"slow" {
                thread::sleep(Duration::from_millis(300));
            }
            answer(&mut s, &call);
        }
    });
    let config = MuxConfig::default().connection(fast().call_timeout(Duration::from_secs(2)));
    let mux = MuxConnection::connect(&addr.to_string(), config).unwrap();
    let slow = Payload(b"slow".to_vec());
    let result = mux.call_with_timeout("echo", &slow, Duration::from_millis(50));
    assert!(matches!(result, Err(ClientError::Timeout)), "{result:?}");
    // The peer answers calls in order: this reply follows the late one.
    let body = mux.call("echo", &Payload(b"next".to_vec())).unwrap();
    assert_eq!(payload_of(&body), b"next");
    let stats = mux.stats();
    assert_eq!(stats.late_replies, 1, "{stats:?}");
    assert_eq!(stats.connects, 1, "{stats:?}");
}

#[test]
fn mux_socket_death_wakes_every_waiter_and_next_call_reconnects() {
    const CALLERS: usize = 8;
    let (addr, _peer) = peer(|i, mut s| {
        if i == 0 {
            // Collect every call, then die without answering.
            for _ in 0..CALLERS {
                if read_call(&mut s).is_none() {
                    return;
                }
            }
            thread::sleep(Duration::from_millis(50));
            return;
        }
        while let Some(call) = read_call(&mut s) {
            answer(&mut s, &call);
        }
    });
    let config = MuxConfig::default().connection(fast().call_timeout(Duration::from_secs(5)));
    let mux = Arc::new(MuxConnection::connect(&addr.to_string(), config).unwrap());
    let callers: Vec<_> = (0..CALLERS)
        .map(|_| {
            let mux = mux.clone();
            thread::spawn(move || {
                let result = mux.call("echo", &Payload(b"x".to_vec()));
                (result, Instant::now())
            })
        })
        .collect();
    let mut failed_at = Vec::new();
    for caller in callers {
        let (result, at) = caller.join().unwrap();
        assert!(matches!(result, Err(ClientError::Io(_))), "{result:?}");
        failed_at.push(at);
    }
    let first = *failed_at.iter().min().unwrap();
    let last = *failed_at.iter().max().unwrap();
    assert!(
        last - first < Duration::from_millis(100),
        "{:?}",
        last - first
    );
    let body = mux.call("echo", &Payload(b"again".to_vec())).unwrap();
    assert_eq!(payload_of(&body), b"again");
    assert_eq!(mux.stats().connects, 2);
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

/// A peer that answers every call, `delay` after reading it.
fn answering(delay: Duration) -> impl Fn(usize, TcpStream) + Send + 'static {
    move |_, mut s| {
        thread::spawn(move || {
            while let Some(call) = read_call(&mut s) {
                thread::sleep(delay);
                answer(&mut s, &call);
            }
        });
    }
}

#[test]
fn pool_waits_for_a_free_connection_then_gives_up() {
    let (addr, _peer) = peer(answering(Duration::from_millis(300)));
    let config = PoolConfig::default()
        .connection(fast().call_timeout(Duration::from_secs(3)))
        .max_active(1)
        .wait_timeout(Duration::from_millis(100));
    let pool = Pool::new([addr.to_string()], config).unwrap();
    let busy = {
        let pool = pool.clone();
        thread::spawn(move || pool.call("echo", &Payload(b"slow".to_vec())))
    };
    let deadline = Instant::now() + Duration::from_secs(2);
    while pool.stats().active == 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(2));
    }
    let started = Instant::now();
    let result = pool.call("echo", &Payload(b"waits".to_vec()));
    let took = started.elapsed();
    assert!(
        matches!(result, Err(ClientError::PoolTimeout)),
        "{result:?}"
    );
    assert!(took >= Duration::from_millis(100), "{took:?}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert!(busy.join().unwrap().is_ok());
    // The connection is free again: a caller waiting long enough gets it.
    let pool_waiting = Pool::new(
        [addr.to_string()],
        PoolConfig::default()
            .connection(fast().call_timeout(Duration::from_secs(3)))
            .max_active(1)
            .wait_timeout(Duration::from_secs(2)),
    )
    .unwrap();
    let first = {
        let pool = pool_waiting.clone();
        thread::spawn(move || pool.call("echo", &Payload(b"a".to_vec())))
    };
    thread::sleep(Duration::from_millis(50));
    let waited = pool_waiting.call("echo", &Payload(b"b".to_vec()));
    assert!(waited.is_ok(), "{waited:?}");
    assert!(first.join().unwrap().is_ok());
    assert_eq!(pool_waiting.stats().created, 1);
}

#[test]
fn pool_closes_connections_past_idle_timeout_or_lifetime() {
    let (addr, _peer) = peer(answering(Duration::ZERO));
    let config = PoolConfig::default()
        .connection(fast())
        .idle_timeout(Duration::from_millis(300));
    let pool = Pool::new([addr.to_string()], config).unwrap();
    pool.call("echo", &Payload(vec![1])).unwrap();
    pool.call("echo", &Payload(vec![2])).unwrap();
    assert_eq!(pool.stats().reused, 1);
    thread::sleep(Duration::from_millis(350));
    pool.reap();
    let stats = pool.stats();
    assert_eq!((stats.discarded_expired, stats.idle), (1, 0), "{stats:?}");
    pool.call("echo", &Payload(vec![3])).unwrap();
    assert_eq!(pool.stats().created, 2);

    let config = PoolConfig::default()
        .connection(fast())
        .max_lifetime(Some(Duration::from_millis(100)));
    let pool = Pool::new([addr.to_string()], config).unwrap();
    pool.call("echo", &Payload(vec![1])).unwrap();
    thread::sleep(Duration::from_millis(150));
    pool.call("echo", &Payload(vec![2])).unwrap();
    let stats = pool.stats();
    assert_eq!(
        (stats.created, stats.discarded_expired),
        (2, 1),
        "{stats:?}"
    );
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

#[test]
fn pool_spreads_new_connections_round_robin() {
    let counter = |hits: Arc<std::sync::atomic::AtomicUsize>| {
        move |i: usize, s: TcpStream| {
            hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            answering(Duration::ZERO)(i, s)
        }
    };
    let hits_a = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let hits_b = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (a, _peer_a) = peer(counter(hits_a.clone()));
    let (b, _peer_b) = peer(counter(hits_b.clone()));
    // No idle connections kept: every call opens one, so every call shows the rotation.
    let config = PoolConfig::default().connection(fast()).max_idle(0);
    let pool = Pool::new([a.to_string(), b.to_string()], config).unwrap();
    for i in 0..6u8 {
        pool.call("echo", &Payload(vec![i])).unwrap();
    }
    let hits =
        |h: &Arc<std::sync::atomic::AtomicUsize>| h.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!((hits(&hits_a), hits(&hits_b)), (3, 3));
    assert_eq!(pool.stats().discarded_surplus, 6);
}

#[test]
fn pool_peek_discards_a_connection_holding_stray_bytes() {
    let (go, gone) = std::sync::mpsc::channel::<()>();
    let gone = std::sync::Mutex::new(gone);
    let (addr, _peer) = peer(move |i, mut s| {
        if i == 0 {
            let call = read_call(&mut s).unwrap();
            answer(&mut s, &call);
            // Once the client has read the reply: a byte no call asked for, out of step.
            gone.lock().unwrap().recv().unwrap();
            s.write_all(&[0]).unwrap();
        }
        while let Some(call) = read_call(&mut s) {
            answer(&mut s, &call);
        }
    });
    let pool = Pool::new([addr.to_string()], PoolConfig::default().connection(fast())).unwrap();
    pool.call("echo", &Payload(b"1".to_vec())).unwrap();
    go.send(()).unwrap();
    thread::sleep(Duration::from_millis(50));
    pool.call("echo", &Payload(b"2".to_vec())).unwrap();
    let stats = pool.stats();
    assert_eq!((stats.discarded_stale, stats.created), (1, 2), "{stats:?}");
}

#[test]
fn pool_reaper_thread_closes_expired_idle_connections_of_an_unused_pool() {
    let (closed, peer_saw_close) = std::sync::mpsc::channel();
    let (addr, _peer) = peer(move |_, mut s| {
        while let Some(call) = read_call(&mut s) {
            answer(&mut s, &call);
        }
        let _ = closed.send(Instant::now());
    });
    let config = PoolConfig::default()
        .connection(fast())
        .idle_timeout(Duration::from_millis(100))
        .reap_interval(Some(Duration::from_millis(20)));
    let pool = Pool::new([addr.to_string()], config).unwrap();
    pool.call("echo", &Payload(vec![1])).unwrap();
    let returned = Instant::now();
    // No call, no checkout: only the reaper thread can close it.
    let closed_at = peer_saw_close.recv_timeout(Duration::from_secs(2)).unwrap();
    assert!(closed_at - returned >= Duration::from_millis(90));
    let stats = pool.stats();
    assert_eq!((stats.idle, stats.discarded_expired), (0, 1), "{stats:?}");
}

#[test]
fn mux_caps_calls_in_flight() {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    let most_outstanding = Arc::new(AtomicUsize::new(0));
    let most = most_outstanding.clone();
    let (addr, _peer) = peer(move |_, s| {
        let answered = Arc::new(AtomicUsize::new(0));
        let (calls, to_answer) = crossbeam_channel::unbounded::<Call>();
        let mut writer = s.try_clone().unwrap();
        let answered_by_writer = answered.clone();
        thread::spawn(move || {
            for call in to_answer {
                thread::sleep(Duration::from_millis(10));
                answered_by_writer.fetch_add(1, SeqCst);
                answer(&mut writer, &call);
            }
        });
        let mut reader = s;
        let mut received = 0;
        while let Some(call) = read_call(&mut reader) {
            received += 1;
            most.fetch_max(received - answered.load(SeqCst), SeqCst);
            calls.send(call).unwrap();
        }
    });
    let config = MuxConfig::default()
        .connection(fast().call_timeout(Duration::from_secs(5)))
        .max_in_flight(2);
    let mux = Arc::new(MuxConnection::connect(&addr.to_string(), config).unwrap());
    let callers: Vec<_> = (0..6u8)
        .map(|i| {
            let mux = mux.clone();
            thread::spawn(move || {
                for j in 0..5u8 {
                    let body = mux.call("echo", &Payload(vec![i, j])).unwrap();
                    assert_eq!(payload_of(&body), vec![i, j]);
                }
            })
        })
        .collect();
    for caller in callers {
        caller.join().unwrap();
    }
    assert_eq!(most_outstanding.load(SeqCst), 2);
}
