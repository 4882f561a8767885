//! Graceful drain: in process through the ShutdownHandle, and `tether serve` under signals.

mod support;

use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use support::process::ServeProcess;
use support::*;
use tether::server::{CloseReason, Config};

const MS: Duration = Duration::from_millis(1);
const SECOND: Duration = Duration::from_secs(1);

fn refused(addr: std::net::SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, SECOND).is_err()
}

#[test]
fn drain_closes_idle_at_once_finishes_in_flight_and_refuses_new_connects() {
    let mut server = TestServer::start(Config::default().drain_timeout(5 * SECOND));
    let mut idle = server.connect();
    idle.call(&ping_call(1));
    let mut busy = server.connect();
    busy.send_framed(&sleep_call(2, 1500)).unwrap();
    server.wait_stats("sleep started", |s| s.requests == 2);

    let drained = server.shutdown();
    // "At once": before the busy connection's 1.5 s handler is done, by a wide margin.
    idle.wait_closed(SECOND).expect("idle closed at once");
    assert_eq!(busy.buffered(), 0, "idle closed only after the busy one");
    assert!(refused(server.addr), "new connections must be refused");

    let reply = busy.read_framed(3 * SECOND).reply();
    assert_eq!((reply.name.as_str(), reply.seqid), ("sleep", 2));
    assert!(busy.wait_closed(SECOND).is_some());

    let report = drained.join().unwrap().unwrap();
    assert_eq!(
        (
            report.connections,
            report.closed_idle,
            report.completed,
            report.forced
        ),
        (2, 1, 1, 0)
    );
    assert!(report.is_clean());
    assert_eq!(report.stats.closed(CloseReason::Drain), 2);
}

#[test]
fn drain_forces_a_request_longer_than_drain_timeout() {
    let mut server = TestServer::start(Config::default().drain_timeout(200 * MS));
    let mut idle = server.connect();
    idle.call(&ping_call(1));
    let mut slow = server.connect();
    slow.send_framed(&sleep_call(2, 3000)).unwrap();
    server.wait_stats("sleep started", |s| s.requests == 2);

    let drained = server.shutdown();
    assert!(matches!(slow.read_framed(2 * SECOND), Received::Closed));
    let report = drained.join().unwrap().unwrap();
    assert_eq!(
        (report.closed_idle, report.completed, report.forced),
        (1, 0, 1)
    );
    assert!(report.duration >= 190 * MS && report.duration < 2 * SECOND);
    assert!(!report.is_clean());
}

#[test]
fn force_during_a_drain_closes_busy_connections_at_once() {
    let mut server = TestServer::start(Config::default().drain_timeout(10 * SECOND));
    let mut slow = server.connect();
    slow.send_framed(&sleep_call(1, 3000)).unwrap();
    server.wait_stats("sleep started", |s| s.requests == 1);
    let handle = server.handle.clone();
    let drained = server.shutdown();
    assert!(wait_until(SECOND, || handle.is_draining()));
    let start = Instant::now();
    handle.force();
    let report = drained.join().unwrap().unwrap();
    assert!(start.elapsed() < 2 * SECOND, "the sleep takes 3 s");
    assert_eq!(report.forced, 1);
    assert!(matches!(slow.read_framed(SECOND), Received::Closed));
}

/// Requests that arrive as the drain starts: each is either answered in full or refused with
/// a clean close before any reply byte (the client may then retry it), never half-processed,
/// and every request the server handled was answered.
#[test]
fn drain_racing_arriving_requests_never_loses_a_handled_request() {
    const CLIENTS: usize = 8;
    for round in 0..15 {
        let mut server = TestServer::start(Config::default().drain_timeout(2 * SECOND));
        let mut clients: Vec<RawClient> = (0..CLIENTS).map(|_| server.connect()).collect();
        for (i, client) in clients.iter_mut().enumerate() {
            client.call(&ping_call(i as i32));
        }
        let barrier = Arc::new(Barrier::new(CLIENTS + 1));
        let senders: Vec<_> = clients
            .into_iter()
            .enumerate()
            .map(|(i, mut client)| {
                let barrier = Arc::clone(&barrier);
                thread::spawn(move || {
                    barrier.wait();
                    // Stagger a little so some requests land before, some after the drain.
                    thread::sleep(Duration::from_micros((i as u64 * 37 + round * 11) % 300));
                    if client
                        .send_framed(&echo_call(100 + i as i32, b"race"))
                        .is_err()
                    {
                        return false;
                    }
                    match client.read_framed(3 * SECOND) {
                        Received::Message(reply) => {
                            assert_eq!(reply.binary_field(0), Some(b"race".to_vec()));
                            assert!(client.wait_closed(SECOND).is_some());
                            true
                        }
                        Received::Closed => {
                            assert_eq!(client.buffered(), 0, "a partial reply");
                            false
                        }
                        Received::TimedOut => panic!("neither answered nor closed"),
                    }
                })
            })
            .collect();
        barrier.wait();
        thread::sleep(Duration::from_micros(round * 20));
        let report = server.shutdown().join().unwrap().unwrap();
        let answered = senders
            .into_iter()
            .map(|s| s.join().unwrap())
            .filter(|&answered| answered)
            .count();
        eprintln!("round {round}: {answered} of {CLIENTS} racing requests answered");
        assert_eq!(report.forced, 0);
        assert_eq!(
            report.stats.requests as usize,
            CLIENTS + answered,
            "round {round}: a handled request went unanswered"
        );
        assert_eq!(
            (report.closed_idle + report.completed) as usize,
            CLIENTS,
            "round {round}"
        );
        assert_eq!(report.connections as usize, CLIENTS, "round {round}");
    }
}

#[test]
fn sigterm_with_a_client_calling_every_100ms_exits_0_promptly() {
    let mut server = ServeProcess::start(&[]);
    let addr = server.addr;
    let answered = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&answered);
    let client = thread::spawn(move || {
        let mut client = RawClient::connect(addr);
        for seqid in 0..100 {
            if client.send_framed(&ping_call(seqid)).is_err() {
                break;
            }
            match client.read_framed(2 * SECOND) {
                Received::Message(reply) => assert_eq!(reply.seqid, seqid),
                Received::Closed => break,
                Received::TimedOut => panic!("no reply and no close"),
            }
            counter.fetch_add(1, SeqCst);
            thread::sleep(100 * MS);
        }
    });
    // The connection is never idle for long: signal once it has proven itself keep-alive.
    assert!(wait_until(5 * SECOND, || answered.load(SeqCst) >= 3));
    let start = Instant::now();
    server.signal("TERM");
    let status = server.wait_exit(5 * SECOND).expect("exited");
    let took = start.elapsed();
    assert!(status.success(), "{status:?}");
    assert!(took < 5 * SECOND, "took {took:?} (drain timeout is 30 s)");
    client.join().unwrap();
    let answered = answered.load(SeqCst);
    assert!((3..20).contains(&answered), "{answered}");
}

#[test]
fn sigint_and_sigquit_drain_too() {
    for signal in ["INT", "QUIT"] {
        let mut server = ServeProcess::start(&[]);
        let mut idle = RawClient::connect(server.addr);
        idle.call(&ping_call(1));
        server.signal(signal);
        let status = server.wait_exit(5 * SECOND).expect("exited");
        assert!(status.success(), "{signal}: {status:?}");
        assert!(idle.wait_closed(SECOND).is_some());
    }
}

/// Needs the admin endpoint to see that the slow request is in hand before the first signal:
/// signalled earlier, its connection is still Idle and the drain rightly closes it at once.
#[cfg(feature = "admin")]
#[test]
fn second_signal_forces_the_exit() {
    let mut server = ServeProcess::start(&["--admin-listen", "127.0.0.1:0"]);
    let admin = server.admin.expect("admin address");
    let mut slow = RawClient::connect(server.addr);
    slow.send_framed(&sleep_call(1, 10_000)).unwrap();
    assert!(wait_until(2 * SECOND, || {
        let (_, metrics) = support::http::get(admin, "/metrics");
        support::http::sample(&metrics, "tether_connections_busy") == Some(1.0)
    }));
    server.signal("TERM");
    assert!(wait_until(2 * SECOND, || refused(server.addr)));
    assert!(
        server.wait_exit(200 * MS).is_none(),
        "must wait for the busy connection"
    );
    let start = Instant::now();
    server.signal("TERM");
    let status = server.wait_exit(5 * SECOND).expect("forced exit");
    assert!(start.elapsed() < 3 * SECOND, "the sleep takes 10 s");
    assert_eq!(status.code(), Some(1), "a forced drain is not clean");
    assert!(matches!(slow.read_framed(SECOND), Received::Closed));
}

#[test]
fn drain_finishes_a_request_that_is_still_arriving() {
    let mut server = TestServer::start(Config::default().drain_timeout(2 * SECOND));
    let mut client = server.connect();
    let request = framed(&echo_call(1, b"arriving in pieces"));
    client.send(&request[..5]).unwrap();
    server.wait_stats("request started", |s| s.busy == 1);
    let drained = server.shutdown();
    assert!(wait_until(SECOND, || server.handle.is_draining()));
    for piece in [&request[5..8], &request[8..12], &request[12..]] {
        thread::sleep(20 * MS);
        client.send(piece).unwrap();
    }
    let reply = client.read_framed(2 * SECOND).reply();
    assert_eq!(reply.binary_field(0), Some(b"arriving in pieces".to_vec()));
    assert!(client.wait_closed(SECOND).is_some());
    let report = drained.join().unwrap().unwrap();
    assert_eq!(
        (report.closed_idle, report.completed, report.forced),
        (0, 1, 0)
    );
}

/// Idle, busy, and busy connections that reach max requests during the drain: each connection
/// open at the drain's start is counted once, and the forced one's count is final.
#[test]
fn drain_counts_add_up_with_idle_busy_max_requests_and_forced_connections() {
    let mut server = TestServer::start(
        Config::default()
            .drain_timeout(800 * MS)
            .max_requests_per_connection(Some(2)),
    );
    let mut idle: Vec<RawClient> = (0..3).map(|_| server.connect()).collect();
    for (seqid, client) in idle.iter_mut().enumerate() {
        client.call(&ping_call(seqid as i32));
    }
    // Busy with a short sleep: answered, then closed for the drain.
    let mut busy = server.connect();
    busy.send_framed(&sleep_call(10, 200)).unwrap();
    // Busy with its last allowed request plus a pipelined one: both answered, then closed
    // for max requests during the drain.
    let mut limited = server.connect();
    limited.call(&ping_call(20));
    let mut pipelined = framed(&sleep_call(21, 200));
    pipelined.extend(framed(&ping_call(22)));
    limited.send(&pipelined).unwrap();
    // Busy past the drain deadline: forced.
    let mut stuck = server.connect();
    stuck.send_framed(&sleep_call(30, 5000)).unwrap();
    // 3 idle pings, the first limited ping, and the three sleeps.
    server.wait_stats("three sleeps started", |s| s.requests == 3 + 1 + 3);

    let report = server.shutdown().join().unwrap().unwrap();
    assert_eq!(busy.read_framed(SECOND).reply().seqid, 10);
    assert_eq!(limited.read_framed(SECOND).reply().seqid, 21);
    assert_eq!(limited.read_framed(SECOND).reply().seqid, 22);
    assert!(matches!(stuck.read_framed(SECOND), Received::Closed));
    assert_eq!(
        (
            report.connections,
            report.closed_idle,
            report.completed,
            report.forced
        ),
        (6, 3, 2, 1),
        "{report}"
    );
    assert_eq!(
        report.closed_idle + report.completed + report.forced,
        report.connections
    );
    assert_eq!(report.stats.closed(CloseReason::MaxRequests), 1);
    assert_eq!(report.stats.closed(CloseReason::Drain), 4);
}
