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
    assert!(client.call(&ping_call(1)).exception().is_none());
    let waited = client.wait_closed(Duration::from_secs(2)).expect("closed");
    assert!(waited >= 190 * MS, "closed early: {waited:?}");
    assert!(waited <= 350 * MS, "closed late: {waited:?}");
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
        start.elapsed() >= 290 * MS && waited <= 450 * MS,
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
    client.send_framed(&echo_call(1, &payload)).unwrap();
    let sent = Instant::now();
    server.wait_stats("request read", |s| s.requests == 1);
    let start = Instant::now();
    if !wait_until(Duration::from_secs(3), || {
        server.stats().closed(CloseReason::WriteTimeout) == 1
    }) {
        panic!("not closed at write timeout: {}", server.stats());
    }
    assert!(
        sent.elapsed() >= 290 * MS,
        "closed early: {:?}",
        sent.elapsed()
    );
    assert!(start.elapsed() <= Duration::from_secs(2));
}

#[test]
fn max_requests_gives_three_replies_then_eof() {
    let server = TestServer::start(Config::default().max_requests_per_connection(Some(3)));
    let mut client = server.connect();
    let mut batch = Vec::new();
    for seqid in 0..4 {
        batch.extend(framed(&ping_call(seqid)));
    }
    client.send(&batch).unwrap();
    for seqid in 0..3 {
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
        s.closed(CloseReason::MaxRequests) == 1 && s.requests == 3
    });
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

    // An idle connection is closed at its age even though the idle timeout is far off.
    let mut idle = server.connect();
    let waited = idle.wait_closed(Duration::from_secs(2)).expect("closed");
    assert!(waited >= 290 * MS && waited <= 1500 * MS, "{waited:?}");
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
    client.send(&bytes).unwrap();
    let start = Instant::now();
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
    assert!(waited >= 290 * MS && waited <= 1500 * MS, "{waited:?}");
    server.wait_stats("request timeout", |s| {
        s.closed(CloseReason::RequestTimeout) == 1 && s.requests == 1
    });
}

#[test]
fn worker_thread_spawn_failure_rejects_that_connection_and_keeps_accepting() {
    // A 64 TiB stack cannot be mapped: every spawn fails.
    let server = TestServer::start(Config::default().worker_stack_size(1 << 46));
    for _ in 0..2 {
        let mut client = server.connect();
        assert!(client.wait_closed(Duration::from_secs(2)).is_some());
    }
    server.wait_stats("two rejected", |s| {
        s.rejected == 2 && s.accepted == 2 && s.active == 0
    });
}
