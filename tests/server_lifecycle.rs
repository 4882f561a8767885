//! Keep-alive lifecycle: idle, request, write deadlines; per-connection limits; max connections.

mod support;

use std::thread;
use std::time::{Duration, Instant};

use support::*;
use tether::server::{CloseReason, Config};

const MS: Duration = Duration::from_millis(1);

#[test]
fn idle_connection_is_closed_at_idle_timeout() {
    let server = TestServer::start(Config::default().idle_timeout(200 * MS));
    let mut client = server.connect();
    // Timed from before the call: the server's idle clock starts after its reply, so it can
    // only be later than this, however loaded the machine is.
    let sent = Instant::now();
    assert!(client.call(&ping_call(1)).exception().is_none());
    client.wait_closed(Duration::from_secs(3)).expect("closed");
    let waited = sent.elapsed();
    assert!(waited >= 200 * MS, "closed early: {waited:?}");
    assert!(waited <= 2000 * MS, "closed late: {waited:?}");
    server.wait_stats("idle close", |s| s.closed(CloseReason::Idle) == 1);
}

#[test]
fn connection_used_every_half_idle_period_stays_open() {
    let server = TestServer::start(Config::default().idle_timeout(200 * MS));
    let mut client = server.connect();
    for seqid in 0..6 {
        thread::sleep(100 * MS);
        let reply = client.call(&ping_call(seqid));
        assert_eq!((reply.name.as_str(), reply.seqid), ("ping", seqid));
    }
    assert_eq!(server.stats().closed_total(), 0);
}

#[test]
fn silent_connection_is_closed_while_others_are_served() {
    let server = TestServer::start(Config::default().idle_timeout(300 * MS));
    let mut silent = server.connect();
    let start = Instant::now();
    let busy = {
        let addr = server.addr;
        thread::spawn(move || {
            let mut client = RawClient::connect(addr);
            for seqid in 0..10 {
                let payload = vec![seqid as u8; 100];
                let reply = client.call(&echo_call(seqid, &payload));
                assert_eq!(reply.binary_field(0), Some(payload));
                thread::sleep(50 * MS);
            }
        })
    };
    let waited = silent.wait_closed(Duration::from_secs(2)).expect("closed");
    assert!(
        start.elapsed() >= 300 * MS && waited <= 1500 * MS,
        "{waited:?}"
    );
    busy.join().unwrap();
    assert_eq!(server.stats().requests, 10);
}

#[test]
fn slowloris_is_closed_at_request_timeout_and_never_handled() {
    let server = TestServer::start(
        Config::default()
            .idle_timeout(Duration::from_secs(5))
            .request_timeout(300 * MS),
    );
    let mut client = server.connect();
    let request = framed(&echo_call(1, b"slow"));
    let start = Instant::now();
    // One byte every 30% of the request timeout: each byte would reset a per-read timeout.
    let mut writer = client.stream.try_clone().unwrap();
    let trickle = thread::spawn(move || {
        use std::io::Write;
        for byte in &request[..request.len() - 1] {
            if writer.write_all(&[*byte]).is_err() {
                return;
            }
            thread::sleep(90 * MS);
        }
    });
    let waited = client.wait_closed(Duration::from_secs(3)).expect("closed");
    assert!(waited >= 290 * MS, "closed early: {waited:?}");
    // Were the deadline per read, the trickle (one byte per 90 ms, 2.8 s in all) would keep the
    // connection open until it stopped.
    assert!(waited <= 2000 * MS, "closed late: {waited:?}");
    assert!(start.elapsed() < Duration::from_secs(3));
    server.wait_stats("request timeout", |s| {
        s.closed(CloseReason::RequestTimeout) == 1
    });
    assert_eq!(server.stats().requests, 0, "the handler must never run");
    trickle.join().unwrap();
}

#[test]
fn peer_that_never_reads_is_closed_at_write_timeout() {
    let server = TestServer::start(Config::default().write_timeout(300 * MS));
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    // A tiny receive window so the reply cannot disappear into kernel buffers.
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&server.addr.into()).unwrap();
    let mut client = RawClient::from_stream(socket.into());
    let payload = vec![7u8; 15_000_000];
    // Before the send: the server starts its write clock after reading the request.
    let sent = Instant::now();
    client.send_framed(&echo_call(1, &payload)).unwrap();
    server.wait_stats("request read", |s| s.requests == 1);
    let start = Instant::now();
    if !wait_until(Duration::from_secs(3), || {
        server.stats().closed(CloseReason::WriteTimeout) == 1
    }) {
        panic!("not closed at write timeout: {}", server.stats());
    }
    assert!(
        sent.elapsed() >= 300 * MS,
        "closed early: {:?}",
        sent.elapsed()
    );
    assert!(start.elapsed() <= Duration::from_secs(2));
}

#[test]
fn max_requests_answers_every_pipelined_request_it_read_then_closes() {
    let server = TestServer::start(Config::default().max_requests_per_connection(Some(3)));
    let mut client = server.connect();
    let mut batch = Vec::new();
    for seqid in 0..4 {
        batch.extend(framed(&ping_call(seqid)));
    }
    // One write: the 4th request is read with the 3rd, so it is answered too.
    client.send(&batch).unwrap();
    for seqid in 0..4 {
        assert_eq!(
            client.read_framed(Duration::from_secs(2)).reply().seqid,
            seqid
        );
    }
    assert!(matches!(
        client.read_framed(Duration::from_secs(2)),
        Received::Closed
    ));
    server.wait_stats("max requests close", |s| {
        s.closed(CloseReason::MaxRequests) == 1 && s.requests == 4
    });

    // One request at a time: the 3rd reply is followed by the close.
    let mut client = server.connect();
    for seqid in 0..3 {
        client.call(&ping_call(seqid));
    }
    assert!(client.wait_closed(Duration::from_secs(2)).is_some());
}

#[test]
fn pipelined_request_behind_a_slow_handler_is_not_charged_for_its_time() {
    let server = TestServer::start(
        Config::default()
            .idle_timeout(Duration::from_secs(5))
            .request_timeout(200 * MS),
    );
    let mut client = server.connect();
    let echo = framed(&echo_call(2, b"after the sleep"));
    let mut bytes = framed(&sleep_call(1, 500));
    // The echo's first bytes arrive with the sleep; the rest while the handler sleeps.
    bytes.extend(&echo[..6]);
    client.send(&bytes).unwrap();
    server.wait_stats("sleep started", |s| s.requests == 1);
    client.send(&echo[6..]).unwrap();
    let first = client.read_framed(Duration::from_secs(3)).reply();
    assert_eq!((first.name.as_str(), first.seqid), ("sleep", 1));
    let second = client.read_framed(Duration::from_secs(3)).reply();
    assert_eq!(second.binary_field(0), Some(b"after the sleep".to_vec()));
    assert_eq!(server.stats().closed(CloseReason::RequestTimeout), 0);
}

#[test]
fn max_connection_age_closes_an_idle_connection_between_requests() {
    let server = TestServer::start(
        Config::default()
            .idle_timeout(Duration::from_secs(5))
            .max_connection_age(Some(300 * MS)),
    );
    let start = Instant::now();
    let mut client = server.connect();
    let mut answered = 0;
    let closed_at = loop {
        assert!(start.elapsed() < Duration::from_secs(3), "never closed");
        if client.send_framed(&ping_call(answered)).is_err() {
            break start.elapsed();
        }
        match client.read_framed(Duration::from_secs(2)) {
            Received::Message(reply) => assert_eq!(reply.seqid, answered),
            Received::Closed => break start.elapsed(),
            Received::TimedOut => panic!("no reply and no close"),
        }
        answered += 1;
        thread::sleep(40 * MS);
    };
    // The age is jittered +-10% per connection: 270 ms at the earliest.
    assert!(closed_at >= 265 * MS, "closed at {closed_at:?}");
    assert!(answered >= 3);
    server.wait_stats("max age close", |s| s.closed(CloseReason::MaxAge) == 1);
    assert_eq!(
        server.stats().requests,
        answered as u64,
        "every request answered"
    );

    // An idle connection is closed at its age (jittered: 270 ms at the earliest).
    let mut idle = server.connect();
    let waited = idle.wait_closed(Duration::from_secs(2)).expect("closed");
    assert!(waited >= 265 * MS && waited <= 1500 * MS, "{waited:?}");
}

#[test]
fn connection_over_max_connections_waits_for_a_free_slot() {
    let server = TestServer::start(Config::default().max_connections(2));
    let mut first = server.connect();
    let mut second = server.connect();
    first.call(&ping_call(1));
    second.call(&ping_call(2));
    let mut third = server.connect();
    third.send_framed(&ping_call(3)).unwrap();
    assert!(
        matches!(third.read_framed(300 * MS), Received::TimedOut),
        "served beyond max_connections"
    );
    assert_eq!(server.stats().active, 2);
    drop(first);
    let reply = third.read_framed(Duration::from_secs(2)).reply();
    assert_eq!(reply.seqid, 3);
    second.call(&ping_call(4));
}

#[test]
fn request_deadline_counts_from_the_first_byte_even_behind_a_pipelined_request() {
    let server = TestServer::start(
        Config::default()
            .idle_timeout(Duration::from_secs(5))
            .request_timeout(300 * MS),
    );
    let mut client = server.connect();
    let second = framed(&ping_call(2));
    let mut bytes = framed(&ping_call(1));
    bytes.extend(&second[..3]);
    // Before the send: the second request's clock cannot start earlier than this.
    let start = Instant::now();
    client.send(&bytes).unwrap();
    assert_eq!(client.read_framed(Duration::from_secs(2)).reply().seqid, 1);
    // 17 more bytes, one per 100 ms: a per-read deadline would keep it open for 2 s.
    for byte in &second[3..second.len() - 1] {
        thread::sleep(100 * MS);
        if client.send(&[*byte]).is_err() {
            break;
        }
    }
    client.wait_closed(Duration::from_secs(2)).expect("closed");
    let waited = start.elapsed();
    assert!(waited >= 300 * MS && waited <= 1500 * MS, "{waited:?}");
    server.wait_stats("request timeout", |s| {
        s.closed(CloseReason::RequestTimeout) == 1 && s.requests == 1
    });
}

/// Address space cut under the server while it runs: the next worker thread cannot be
/// started. The accepted connection is kept (not closed), and served once threads can start.
/// It runs `tether serve` (the binary), so it needs the `cli` feature.
#[cfg(feature = "cli")]
#[test]
fn failed_thread_spawn_keeps_the_connection_waiting_until_a_retry_succeeds() {
    if !prlimit_works() {
        skip("prlimit (util-linux) is missing");
        return;
    }
    let server = support::process::ServeProcess::start(&[]);
    let pid = server.pid().to_string();
    let vm_kib = server.vm_size_kib();
    // 128 KiB more than in use now: less than one 256 KiB worker stack.
    let prlimit = |soft: &str| {
        let status = std::process::Command::new("prlimit")
            .args(["--pid", &pid, &format!("--as={soft}:unlimited")])
            .status()
            .expect("prlimit");
        assert!(status.success());
    };
    prlimit(&((vm_kib + 128) * 1024).to_string());
    let mut waiting = RawClient::connect(server.addr);
    waiting.send_framed(&ping_call(1)).unwrap();
    assert!(
        matches!(waiting.read_framed(300 * MS), Received::TimedOut),
        "served (or closed) with no room for a thread"
    );
    let mut behind = RawClient::connect(server.addr);
    behind.send_framed(&ping_call(2)).unwrap();
    prlimit("unlimited");
    assert_eq!(waiting.read_framed(Duration::from_secs(3)).reply().seqid, 1);
    assert_eq!(behind.read_framed(Duration::from_secs(3)).reply().seqid, 2);
}
