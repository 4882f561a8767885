//! Operations behaviour: max-age jitter, and a drain under the load of 64 connections that
//! loses nothing.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use support::*;
use tether::client::{ClientError, Pool, PoolConfig};
use tether::server::{CloseReason, Config};
use tether::services::echo::EchoClient;

#[test]
fn connections_opened_together_reach_max_age_spread_out() {
    let age = Duration::from_secs(1);
    let server = TestServer::start(Config::default().max_connection_age(Some(age)));
    let start = Instant::now();
    let waiters: Vec<_> = (0..16)
        .map(|seqid| {
            let mut client = server.connect();
            client.call(&ping_call(seqid));
            thread::spawn(move || {
                client.wait_closed(Duration::from_secs(5))?;
                Some(start.elapsed())
            })
        })
        .collect();
    let closed: Vec<Duration> = waiters
        .into_iter()
        .map(|w| w.join().unwrap().expect("closed by max age"))
        .collect();
    server.wait_stats("16 max-age closes", |s| s.closed(CloseReason::MaxAge) == 16);
    let (first, last) = (closed.iter().min().unwrap(), closed.iter().max().unwrap());
    // Every connection was opened after `start`, so none closes before 90% of the age.
    assert!(*first >= age.mul_f64(0.9), "{closed:?}");
    // +-10% of 1 s spreads 16 closes over ~180 ms on average; without jitter they land within
    // a few milliseconds of each other.
    assert!(*last - *first >= Duration::from_millis(30), "{closed:?}");
}

/// Calls made by the load threads, and every error they met.
#[derive(Default)]
struct Load {
    ok: AtomicU64,
    errors: parking_lot::Mutex<Vec<ClientError>>,
    stop: AtomicBool,
}

#[test]
fn a_drain_under_load_answers_every_request_it_read() {
    const CONNECTIONS: usize = 64;
    // Bounds the run if the drain never comes: 64 threads x 5,000 calls.
    const MAX_CALLS_PER_THREAD: u64 = 5_000;
    let mut draining = TestServer::start(Config::default());
    let staying = TestServer::start(Config::default());
    let pool = Pool::new(
        [draining.addr.to_string(), staying.addr.to_string()],
        PoolConfig::default()
            .max_active(CONNECTIONS)
            .max_idle(CONNECTIONS),
    )
    .unwrap();
    let load = Arc::new(Load::default());
    let threads: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (client, load) = (EchoClient::new(pool.clone()), Arc::clone(&load));
            thread::spawn(move || {
                for _ in 0..MAX_CALLS_PER_THREAD {
                    if load.stop.load(Relaxed) {
                        break;
                    }
                    match client.echo(b"drain me".to_vec()) {
                        Ok(reply) if reply == b"drain me" => {
                            load.ok.fetch_add(1, Relaxed);
                        }
                        Ok(other) => panic!("wrong echo: {other:?}"),
                        Err(e) => load.errors.lock().push(e),
                    }
                }
            })
        })
        .collect();
    // Both servers busy on many connections before the drain begins.
    draining.wait_stats("load on the draining server", |s| {
        s.requests >= 2_000 && s.active >= 16
    });
    staying.wait_stats("load on the other server", |s| s.requests >= 2_000);
    let report = draining.shutdown().join().unwrap().unwrap();
    // Load goes on against the server that stays, then stops.
    let after = staying.stats().requests;
    staying.wait_stats("load after the drain", |s| s.requests >= after + 2_000);
    load.stop.store(true, Relaxed);
    for thread in threads {
        thread.join().unwrap();
    }

    eprintln!("{report}; pool: {:?}", pool.stats());
    let errors = load.errors.lock();
    assert!(
        errors.is_empty(),
        "{} calls failed: {errors:?}",
        errors.len()
    );
    assert!(report.is_clean(), "{report}");
    let drained = report.stats;
    assert_eq!(drained.active, 0);
    assert!(drained.closed(CloseReason::Drain) >= 16, "{drained}");
    for reason in [
        CloseReason::Forced,
        CloseReason::IoError,
        CloseReason::RequestTimeout,
        CloseReason::WriteTimeout,
    ] {
        assert_eq!(drained.closed(reason), 0, "{reason}: {drained}");
    }
    // Every request a server read was answered and its reply arrived: the servers' request
    // counts add up to the successful calls exactly. A retried call was never read the first
    // time (or it would be counted twice).
    let served = drained.requests + staying.stats().requests;
    assert_eq!(served, load.ok.load(Relaxed), "pool: {:?}", pool.stats());
}
