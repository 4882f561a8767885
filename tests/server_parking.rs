//! Idle parking (docs/architecture.md "Connection lifecycle"): a connection idle for
//! `park_after` waits in the parking loop without a thread, which still enforces the idle
//! timeout, max age and drain, and a worker takes it back when bytes arrive.

mod support;

use std::thread;
use std::time::{Duration, Instant};

use support::*;
use tether::server::{CloseReason, Config};

const MS: Duration = Duration::from_millis(1);

/// Parks after 50 ms: long enough that a closed loop never waits that long, short enough to
/// keep the tests fast.
fn parking() -> Config {
    Config::default().park_after(Some(50 * MS))
}

#[test]
fn an_idle_connection_parks_and_answers_when_bytes_arrive() {
    let server = TestServer::start(parking());
    let mut client = server.connect();
    assert_eq!(client.call(&echo_call(1, b"before")).seqid, 1);
    server.wait_stats("the connection parked", |s| s.parked == 1 && s.parks == 1);
    assert_eq!(server.stats().busy, 0);
    let reply = client.call(&echo_call(2, b"after"));
    assert_eq!(reply.seqid, 2);
    assert_eq!(reply.binary_field(0).as_deref(), Some(&b"after"[..]));
    let stats = server.stats();
    assert_eq!(stats.unparks, 1, "{stats}");
    assert_eq!(stats.parked, 0, "{stats}");
    // And it parks again once idle.
    server.wait_stats("parked again", |s| s.parked == 1 && s.parks == 2);
}

/// Each unpark hands the parking loop to another thread (the one that polled serves the
/// connection that woke it): after many such moves the loop still holds every other parked
/// connection to its idle timeout, and the drain still closes the rest at once.
#[test]
fn the_parking_loop_keeps_every_deadline_as_it_moves_between_threads() {
    let mut server = TestServer::start(
        parking()
            .idle_timeout(1_500 * MS)
            .drain_timeout(Duration::from_secs(5)),
    );
    let mut watched = server.connect();
    assert_eq!(watched.call(&ping_call(0)).seqid, 0);
    let watched_since = Instant::now();
    let mut others: Vec<RawClient> = (0..6).map(|_| server.connect()).collect();
    for (seqid, client) in others.iter_mut().enumerate() {
        assert_eq!(client.call(&ping_call(seqid as i32)).seqid, seqid as i32);
    }
    server.wait_stats("all parked", |s| s.parked == 7);
    // One at a time, so each unpark moves the loop: 6 moves, each answered.
    for (k, client) in others.iter_mut().enumerate() {
        let seqid = 100 + k as i32;
        assert_eq!(client.call(&echo_call(seqid, b"woken")).seqid, seqid);
    }
    let stats = server.stats();
    assert_eq!(stats.unparks, 6, "{stats}");
    watched
        .wait_closed(3_000 * MS)
        .expect("the watched connection closed at its idle timeout");
    let took = watched_since.elapsed();
    assert!(
        took >= 1_400 * MS && took < 3_000 * MS,
        "closed after {took:?}"
    );
    server.wait_stats("the others parked again", |s| s.parked == 6);
    let start = Instant::now();
    let report = server.shutdown().join().unwrap().unwrap();
    assert!(
        start.elapsed() < 1_000 * MS,
        "drain took {:?}",
        start.elapsed()
    );
    for client in &mut others {
        client.wait_closed(1_000 * MS).expect("closed at the drain");
    }
    assert_eq!(report.stats.closed(CloseReason::Idle), 1);
    assert_eq!(report.stats.closed(CloseReason::Drain), 6);
}

/// Parked connections that all send at once wake in one poll: the polling thread serves one,
/// spares take others, and the rest wait in line for threads the spawner starts. Every one is
/// answered, none twice.
#[test]
fn parked_connections_waking_together_are_all_answered() {
    let server = TestServer::start(parking());
    let mut clients: Vec<RawClient> = (0..40).map(|_| server.connect()).collect();
    for (seqid, client) in clients.iter_mut().enumerate() {
        assert_eq!(client.call(&ping_call(seqid as i32)).seqid, seqid as i32);
    }
    server.wait_stats("all parked", |s| s.parked == 40);
    for (k, client) in clients.iter_mut().enumerate() {
        client
            .send(&wire::framed(&echo_call(1_000 + k as i32, b"together")))
            .unwrap();
    }
    for (k, client) in clients.iter_mut().enumerate() {
        let reply = client.read_framed(3_000 * MS).reply();
        assert_eq!(reply.seqid, 1_000 + k as i32);
        assert_eq!(reply.binary_field(0).as_deref(), Some(&b"together"[..]));
    }
    let stats = server.stats();
    assert_eq!(stats.unparks, 40, "{stats}");
    assert_eq!(stats.requests, 80, "{stats}");
}

#[test]
fn a_connection_in_a_closed_loop_never_parks() {
    // 200 ms: no scheduling stall of a loaded test machine between two calls comes near it.
    let server = TestServer::start(Config::default().park_after(Some(200 * MS)));
    let mut client = server.connect();
    let start = Instant::now();
    let mut seqid = 0;
    // 600 ms of back-to-back calls: three park_after periods, each filled with requests.
    while start.elapsed() < 600 * MS {
        assert_eq!(client.call(&ping_call(seqid)).seqid, seqid);
        seqid += 1;
    }
    let stats = server.stats();
    assert_eq!(stats.parks, 0, "{seqid} calls: {stats}");
}

#[test]
fn half_a_request_is_never_parked() {
    let server = TestServer::start(parking().request_timeout(2_000 * MS));
    let mut client = server.connect();
    assert_eq!(client.call(&ping_call(1)).seqid, 1);
    server.wait_stats("the connection parked", |s| s.parked == 1);
    // Half a request wakes it; the rest comes well after park_after. It is in a request by
    // then: the request deadline applies, not parking.
    let request = wire::framed(&echo_call(2, &[5u8; 100]));
    let (head, tail) = request.split_at(40);
    client.send(head).unwrap();
    server.wait_stats("taken back", |s| s.unparks == 1 && s.parked == 0);
    thread::sleep(200 * MS);
    let stats = server.stats();
    assert_eq!((stats.parked, stats.parks), (0, 1), "{stats}");
    assert_eq!(stats.busy, 1, "{stats}");
    client.send(tail).unwrap();
    assert_eq!(client.read_framed(2_000 * MS).reply().seqid, 2);
}

#[test]
fn half_a_request_is_held_to_the_request_deadline_not_parked() {
    let server = TestServer::start(parking().request_timeout(200 * MS));
    let mut client = server.connect();
    let request = wire::framed(&ping_call(1));
    client.send(&request[..6]).unwrap();
    let closed = client.wait_closed(2_000 * MS).expect("closed");
    assert!(closed >= 180 * MS, "closed after {closed:?}");
    server.wait_stats("request timeout", |s| {
        s.closed(CloseReason::RequestTimeout) == 1
    });
    assert_eq!(server.stats().parks, 0);
}

#[test]
fn a_parked_connection_closes_at_the_idle_timeout() {
    let server = TestServer::start(parking().idle_timeout(300 * MS));
    let mut client = server.connect();
    let start = Instant::now();
    assert_eq!(client.call(&ping_call(1)).seqid, 1);
    server.wait_stats("parked", |s| s.parked == 1);
    client
        .wait_closed(2_000 * MS)
        .expect("closed at the idle timeout");
    let took = start.elapsed();
    // Not before the idle timeout; the upper bound only says it closed (a loaded machine may
    // run the parking loop late).
    assert!(
        took >= 290 * MS && took < 2_000 * MS,
        "closed after {took:?}"
    );
    server.wait_stats("an idle close", |s| {
        s.closed(CloseReason::Idle) == 1 && s.active == 0 && s.parked == 0
    });
}

#[test]
fn a_parked_connection_closes_at_its_max_age() {
    let server = TestServer::start(
        parking()
            .idle_timeout(Duration::from_secs(10))
            .max_connection_age(Some(300 * MS)),
    );
    let mut client = server.connect();
    let start = Instant::now();
    assert_eq!(client.call(&ping_call(1)).seqid, 1);
    server.wait_stats("parked", |s| s.parked == 1);
    client.wait_closed(2_000 * MS).expect("closed at max age");
    let took = start.elapsed();
    // 300 ms less its 10% jitter at the earliest.
    assert!(
        took >= 260 * MS && took < 2_000 * MS,
        "closed after {took:?}"
    );
    server.wait_stats("a max-age close", |s| s.closed(CloseReason::MaxAge) == 1);
}

#[test]
fn a_peer_closing_a_parked_connection_is_closed_without_a_thread() {
    let server = TestServer::start(parking());
    let mut client = server.connect();
    assert_eq!(client.call(&ping_call(1)).seqid, 1);
    server.wait_stats("parked", |s| s.parked == 1);
    drop(client);
    server.wait_stats("closed", |s| {
        s.closed(CloseReason::PeerEof) == 1 && s.active == 0
    });
    assert_eq!(server.stats().unparks, 0);
}

#[test]
fn the_drain_closes_parked_connections_at_once() {
    let mut server = TestServer::start(parking().drain_timeout(Duration::from_secs(5)));
    let mut clients: Vec<RawClient> = (0..20).map(|_| server.connect()).collect();
    for (seqid, client) in clients.iter_mut().enumerate() {
        assert_eq!(client.call(&ping_call(seqid as i32)).seqid, seqid as i32);
    }
    server.wait_stats("all parked", |s| s.parked == 20);
    let start = Instant::now();
    let report = server.shutdown().join().unwrap().unwrap();
    // "At once" against a 5 s drain timeout: 1 s leaves room for a loaded 2-core machine's
    // scheduling and still fails if parked connections waited for the timeout.
    assert!(
        start.elapsed() < 1_000 * MS,
        "drain took {:?}",
        start.elapsed()
    );
    for client in &mut clients {
        client.wait_closed(1_000 * MS).expect("closed at the drain");
    }
    assert_eq!(
        (report.connections, report.closed_idle, report.forced),
        (20, 20, 0)
    );
    assert_eq!(report.stats.closed(CloseReason::Drain), 20);
    assert_eq!(report.stats.parked, 0);
}

/// Requests sent to parked connections while the drainer closes them: each is answered, or
/// the connection closes without any reply byte (the request was never started), and every
/// request the server counted was answered.
#[test]
fn a_request_arriving_as_the_drainer_closes_is_answered_or_never_started() {
    const CONNECTIONS: usize = 40;
    let mut answered_total = 0;
    let mut refused_total = 0;
    for round in 0..5 {
        let mut server = TestServer::start(parking().drain_timeout(Duration::from_secs(5)));
        let mut clients: Vec<RawClient> = (0..CONNECTIONS).map(|_| server.connect()).collect();
        for (seqid, client) in clients.iter_mut().enumerate() {
            assert_eq!(client.call(&ping_call(seqid as i32)).seqid, seqid as i32);
        }
        server.wait_stats("all parked", |s| s.parked == CONNECTIONS as u64);
        let requests_before = server.stats().requests;
        // Half the requests go out before the drain, half after, a few microseconds apart.
        let (early, late) = clients.split_at_mut(CONNECTIONS / 2 + round);
        for (i, client) in early.iter_mut().enumerate() {
            let _ = client.send(&wire::framed(&echo_call(1000 + i as i32, b"race")));
        }
        let draining = server.shutdown();
        for (i, client) in late.iter_mut().enumerate() {
            let _ = client.send(&wire::framed(&echo_call(2000 + i as i32, b"race")));
        }
        let mut answered = 0;
        for client in &mut clients {
            match client.read_framed(2_000 * MS) {
                Received::Message(reply) => {
                    assert_eq!(reply.binary_field(0).as_deref(), Some(&b"race"[..]));
                    answered += 1;
                    assert!(client.wait_closed(2_000 * MS).is_some(), "left open");
                }
                Received::Closed => {
                    assert_eq!(client.buffered(), 0, "half a reply");
                    refused_total += 1;
                }
                Received::TimedOut => panic!("neither answered nor closed"),
            }
        }
        let report = draining.join().unwrap().unwrap();
        assert!(report.is_clean(), "{report}");
        assert_eq!(
            report.stats.requests - requests_before,
            answered,
            "a request was started and not answered: {report}"
        );
        answered_total += answered;
    }
    eprintln!("{answered_total} answered, {refused_total} never started");
}

#[test]
fn without_parking_an_idle_connection_keeps_its_thread() {
    let server = TestServer::start(Config::default().park_after(None));
    let mut client = server.connect();
    assert_eq!(client.call(&ping_call(1)).seqid, 1);
    thread::sleep(150 * MS);
    let stats = server.stats();
    assert_eq!((stats.parked, stats.parks), (0, 0), "{stats}");
    assert_eq!(client.call(&ping_call(2)).seqid, 2);
}

#[test]
fn a_zero_park_after_still_answers_every_request() {
    let server = TestServer::start(Config::default().park_after(Some(Duration::ZERO)));
    let mut client = server.connect();
    for seqid in 0..20 {
        assert_eq!(client.call(&ping_call(seqid)).seqid, seqid);
        // Past a socket timeout of 1 ms, which the kernel rounds up to a few jiffies.
        thread::sleep(25 * MS);
    }
    assert!(server.stats().parks > 0, "{}", server.stats());
}
