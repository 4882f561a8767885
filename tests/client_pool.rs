//! `Pool` against scripted loopback peers (tests/support/client.rs): the peek, the retry rule,
//! ejection, power of two choices, max_active waits, idle timeout, lifetime and the reaper; and
//! against the real tether server: the keep-alive contract (peek, retry keeping its slot, one
//! deadline, budget) and an endpoint killed and restarted.

mod support;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use tether::client::{Channel, ClientError, Pool, PoolConfig, RetryBudgetConfig};
use tether::server::Config;
use tether::services::echo::EchoClient;

use support::client::*;
use support::TestServer;

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
    // Past the idle pause after which a connection is peeked (50 ms); loopback delivers the FIN
    // at once.
    thread::sleep(Duration::from_millis(100));
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
fn pool_ejects_an_endpoint_after_five_refused_connects() {
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (live, _peer) = peer(|_, mut s| {
        while let Some(call) = read_call(&mut s) {
            answer(&mut s, &call);
        }
    });
    // No idle connections kept: every call dials, so the refusing endpoint keeps being picked
    // (half the time, at equal load) until it is ejected.
    let config = PoolConfig::default().connection(fast()).max_idle(0);
    let pool = Pool::new([dead.to_string(), live.to_string()], config).unwrap();
    for i in 0..60u8 {
        let body = pool.call("echo", &Payload(vec![i])).unwrap();
        assert_eq!(payload_of(&body), vec![i]);
    }
    // Five refusals in a row eject it; for the 5 s that follow it is not dialled again.
    let stats = pool.stats();
    assert_eq!(
        (stats.connect_failures, stats.ejections, stats.ejected),
        (5, 1, 1),
        "{stats:?}"
    );
}

#[test]
fn pool_with_every_endpoint_ejected_tries_them_anyway() {
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let config = PoolConfig::default()
        .connection(fast())
        .ejection_threshold(1);
    let pool = Pool::new([dead.to_string()], config).unwrap();
    for _ in 0..3 {
        let result = pool.call("echo", &Payload(vec![1]));
        assert!(matches!(result, Err(ClientError::Connect(_))), "{result:?}");
    }
    let stats = pool.stats();
    assert_eq!((stats.connect_failures, stats.ejected), (3, 1), "{stats:?}");
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
fn pool_dials_the_endpoint_with_fewer_outstanding_calls() {
    let counter = |hits: Arc<AtomicUsize>, delay: Duration| {
        move |i: usize, s: TcpStream| {
            hits.fetch_add(1, Ordering::SeqCst);
            answering(delay)(i, s)
        }
    };
    let hits_slow = Arc::new(AtomicUsize::new(0));
    let hits_fast = Arc::new(AtomicUsize::new(0));
    let (slow, _peer_slow) = peer(counter(hits_slow.clone(), Duration::from_millis(400)));
    let (fast_peer, _peer_fast) = peer(counter(hits_fast.clone(), Duration::ZERO));
    // No idle connections kept: every call dials, so every call shows the choice.
    let config = PoolConfig::default()
        .connection(fast().call_timeout(Duration::from_secs(3)))
        .max_idle(0);
    let pool = Pool::new([slow.to_string(), fast_peer.to_string()], config).unwrap();
    // Calls until one sits on the slow endpoint (each lands on either at equal load).
    let accepted = || hits_slow.load(Ordering::SeqCst) + hits_fast.load(Ordering::SeqCst);
    let mut slow_call = None;
    for _ in 0..50 {
        let before = accepted();
        let pool = pool.clone();
        let call = thread::spawn(move || pool.call("echo", &Payload(b"slow?".to_vec())));
        assert!(support::wait_until(Duration::from_secs(2), || accepted() > before));
        if hits_slow.load(Ordering::SeqCst) > 0 {
            slow_call = Some(call);
            break;
        }
        call.join().unwrap().unwrap();
    }
    let slow_call = slow_call.expect("one of 50 calls picked the slow endpoint");
    // With one call outstanding there and none on the other, both choices compare the two.
    let before = hits_fast.load(Ordering::SeqCst);
    for i in 0..5u8 {
        pool.call("echo", &Payload(vec![i])).unwrap();
    }
    assert_eq!(hits_fast.load(Ordering::SeqCst) - before, 5);
    assert_eq!(hits_slow.load(Ordering::SeqCst), 1);
    slow_call.join().unwrap().unwrap();
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
    // Past the idle pause after which a connection is peeked (50 ms).
    thread::sleep(Duration::from_millis(100));
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

fn idle_closing_server() -> TestServer {
    TestServer::start(Config::default().idle_timeout(Duration::from_millis(300)))
}

fn echo_pool(addrs: &[std::net::SocketAddr], config: PoolConfig) -> EchoClient<Pool> {
    EchoClient::new(Pool::new(addrs.iter().map(|a| a.to_string()), config).unwrap())
}

/// One echo every `every`, `calls` times; returns how many failed.
fn paced_calls(client: &EchoClient<Pool>, calls: usize, every: Duration) -> usize {
    let mut errors = 0;
    for i in 0..calls {
        if i > 0 {
            thread::sleep(every);
        }
        let payload = format!("call {i}").into_bytes();
        match client.echo(payload.clone()) {
            Ok(reply) => assert_eq!(reply, payload),
            Err(_) => errors += 1,
        }
    }
    errors
}

/// The field failure: the server closes idle connections after 300 ms, a call comes every
/// 400 ms, so every reuse meets a connection the server already closed.
#[test]
fn pool_finds_the_servers_idle_close_before_every_reuse() {
    let server = idle_closing_server();
    let client = echo_pool(&[server.addr], PoolConfig::default().connection(fast()));
    let errors = paced_calls(&client, 10, Duration::from_millis(400));
    let stats = client.channel().stats();
    assert_eq!(errors, 0, "{stats:?}");
    // 9 reuses, each after the server's idle close (slack for a late close on a loaded box).
    assert!(stats.discarded_stale + stats.retries >= 7, "{stats:?}");
}

/// Proves the test above is real: with the connection config's retry switch off (no peek, no
/// retry: the naive client) the failures show.
#[test]
fn pool_without_retry_fails_after_the_servers_idle_close() {
    let server = idle_closing_server();
    let config = PoolConfig::default().connection(fast().retry(false));
    let client = echo_pool(&[server.addr], config);
    let errors = paced_calls(&client, 10, Duration::from_millis(400));
    let stats = client.channel().stats();
    // Every reuse fails and drops its connection, so the next call connects afresh.
    assert!(errors >= 3, "only {errors} errors: {stats:?}");
    assert_eq!((stats.discarded_stale, stats.retries), (0, 0), "{stats:?}");
}

/// Six callers share one slot on a server that closes every connection after one reply: nearly
/// every call meets a closed connection and is retried while others wait for the slot. The
/// retry keeps the slot, so no call waits twice, and each ends within its one deadline.
#[test]
fn pool_retry_at_max_active_keeps_its_slot_and_its_deadline() {
    let server = TestServer::start(Config::default().max_requests_per_connection(Some(1)));
    let timeout = Duration::from_secs(1);
    let config = PoolConfig::default()
        .connection(fast().call_timeout(timeout))
        .max_active(1)
        .wait_timeout(timeout);
    let client = Arc::new(echo_pool(&[server.addr], config));
    let stop = Instant::now() + Duration::from_secs(10);
    let threads: Vec<_> = (0..6)
        .map(|t| {
            let client = client.clone();
            thread::spawn(move || {
                let mut slowest = Duration::ZERO;
                for i in 0..15 {
                    if Instant::now() >= stop {
                        break;
                    }
                    let payload = format!("{t}/{i}").into_bytes();
                    let started = Instant::now();
                    let result = client.echo(payload.clone());
                    slowest = slowest.max(started.elapsed());
                    assert_eq!(result.unwrap(), payload);
                }
                slowest
            })
        })
        .collect();
    let slowest = threads
        .into_iter()
        .map(|t| t.join().unwrap())
        .max()
        .unwrap();
    let stats = client.channel().stats();
    eprintln!("max_active 1, 6 callers: slowest call {slowest:?}, {stats:?}");
    assert!(stats.retries >= 10, "{stats:?}");
    assert_eq!(stats.budget_exhausted, 0, "{stats:?}");
    // The deadline itself, plus scheduling slack for a loaded machine.
    assert!(
        slowest <= timeout + Duration::from_millis(250),
        "{slowest:?}"
    );
    assert_eq!(stats.active, 0, "{stats:?}");
}

/// The one deadline covers a retry that waits on its handler: the stale first attempt fails at
/// once, the retry gets what is left of the call timeout, not a new one.
#[test]
fn pool_retry_stays_within_the_one_call_deadline() {
    let server = TestServer::start(Config::default().max_requests_per_connection(Some(1)));
    let timeout = Duration::from_millis(400);
    let client = echo_pool(
        &[server.addr],
        PoolConfig::default().connection(fast().call_timeout(timeout)),
    );
    client.ping().unwrap();
    let started = Instant::now();
    let result = client.sleep(2000);
    let took = started.elapsed();
    assert!(matches!(result, Err(ClientError::Timeout)), "{result:?}");
    assert!(took < timeout * 2 - Duration::from_millis(50), "{took:?}");
    assert_eq!(client.channel().stats().retries, 1);
}

/// Two endpoints, one killed: calls keep succeeding on the other, the dead one is ejected after
/// five refused connects, and after its restart the probe brings it back.
#[test]
fn pool_ejects_a_killed_endpoint_and_takes_it_back_after_restart() {
    let live = TestServer::start(Config::default());
    let doomed = TestServer::start(Config::default());
    let doomed_addr = doomed.addr;
    // No idle connections kept: every call dials, so the pick keeps reaching the dead one.
    let config = PoolConfig::default()
        .connection(fast())
        .max_idle(0)
        .ejection_time(Duration::from_millis(200))
        .max_ejection_time(Duration::from_millis(400));
    let client = echo_pool(&[live.addr, doomed_addr], config);
    for _ in 0..10 {
        client.ping().unwrap();
    }
    drop(doomed);
    let calls_until = |what: &str, done: &dyn Fn(&tether::client::PoolStats) -> bool| {
        let stop = Instant::now() + Duration::from_secs(5);
        for _ in 0..2000 {
            client.ping().unwrap();
            if done(&client.channel().stats()) {
                return;
            }
            assert!(
                Instant::now() < stop,
                "no {what}: {:?}",
                client.channel().stats()
            );
            thread::sleep(Duration::from_millis(2));
        }
        panic!("no {what}: {:?}", client.channel().stats());
    };
    calls_until("ejection", &|s| s.ejected == 1);
    let stats = client.channel().stats();
    assert_eq!(
        (stats.ejections, stats.connect_failures),
        (1, 5),
        "{stats:?}"
    );
    let restarted = TestServer::start(Config::default().listen(doomed_addr));
    calls_until("return", &|s| s.ejected == 0);
    // Back in the rotation: it serves calls again.
    calls_until("calls on the restarted endpoint", &|_| {
        restarted.stats().requests >= 3
    });
}

/// A fleet whose every kept-alive connection fails (one reply per connection, then closed):
/// without a budget every call would be sent twice. The budget (20% of calls, 1 retry/s of
/// reserve over 10 s) caps the retries.
#[test]
fn pool_retries_are_capped_by_the_budget() {
    let server = TestServer::start(Config::default().max_requests_per_connection(Some(1)));
    let budget = RetryBudgetConfig::default().percent(20).min_per_second(1);
    let config = PoolConfig::default().connection(fast().retry_budget(Some(budget)));
    let client = echo_pool(&[server.addr], config);
    let calls = 200;
    let errors = (0..calls).filter(|_| client.ping().is_err()).count() as u64;
    let stats = client.channel().stats();
    eprintln!("pool, failing fleet: {calls} calls, {errors} errors, {stats:?}");
    // Deposits: 20% of 200 calls = 40 retries, plus the reserve of 10.
    assert!(stats.retries <= 50, "{stats:?}");
    assert!(stats.retries >= 20, "{stats:?}");
    assert!(stats.budget_exhausted > 0, "{stats:?}");
    assert_eq!(errors, stats.budget_exhausted, "{stats:?}");
}

/// An idle connection to either endpoint is used before a new one is dialled: sequential calls
/// over two endpoints keep to one connection (round-robin used to dial the other endpoint while
/// this one sat idle).
#[test]
fn pool_uses_an_idle_connection_to_any_endpoint_before_dialing() {
    let (a, _peer_a) = peer(answering(Duration::ZERO));
    let (b, _peer_b) = peer(answering(Duration::ZERO));
    let config = PoolConfig::default().connection(fast()).max_idle(1);
    let pool = Pool::new([a.to_string(), b.to_string()], config).unwrap();
    for i in 0..10u8 {
        pool.call("echo", &Payload(vec![i])).unwrap();
    }
    let stats = pool.stats();
    assert_eq!((stats.created, stats.reused), (1, 9), "{stats:?}");
    assert_eq!(stats.discarded_surplus, 0, "{stats:?}");
}
