//! The client against the real tether server over loopback: the keep-alive contract's field
//! failure reproduced and beaten, restarts, max requests, the multiplexed connection under load.

mod support;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use support::process::ServeProcess;
use support::TestServer;
use tether::client::{
    Channel, ClientError, Connection, ConnectionConfig, MuxConfig, MuxConnection, Pool, PoolConfig,
};
use tether::protocol::ApplicationExceptionKind;
use tether::protocol::{Decode, Reader};
use tether::server::Config;
use tether::services::echo::{
    EchoClient, EchoEchoArgs, EchoEchoResult, EchoFailError, EchoSleepArgs,
};
use tether::transport::Codec;

fn connection_config() -> ConnectionConfig {
    ConnectionConfig::default()
        .connect_timeout(Duration::from_millis(500))
        .call_timeout(Duration::from_secs(2))
}

fn pool(addr: SocketAddr, config: PoolConfig) -> EchoClient<Pool> {
    EchoClient::new(Pool::new([addr.to_string()], config.connection(connection_config())).unwrap())
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

fn idle_closing_server() -> TestServer {
    TestServer::start(Config::default().idle_timeout(Duration::from_millis(300)))
}

/// The field failure: the server closes idle connections after 300 ms, the pool keeps them 2 s,
/// a call comes every 500 ms, so every reuse meets a connection the server already closed.
#[test]
fn stale_connections_are_found_by_the_peek() {
    let server = idle_closing_server();
    let client = pool(
        server.addr,
        PoolConfig::default().idle_timeout(Duration::from_secs(2)),
    );
    let errors = paced_calls(&client, 10, Duration::from_millis(500));
    let stats = client.channel().stats();
    assert_eq!(errors, 0, "{stats:?}");
    // 9 reuses, each after the server's idle close (slack for a late close on a loaded box).
    assert!(stats.discarded_stale >= 5, "{stats:?}");
}

#[test]
fn stale_connections_are_beaten_by_the_retry_without_the_peek() {
    let server = idle_closing_server();
    let client = pool(
        server.addr,
        PoolConfig::default()
            .idle_timeout(Duration::from_secs(2))
            .check_before_reuse(false),
    );
    let errors = paced_calls(&client, 10, Duration::from_millis(500));
    let stats = client.channel().stats();
    assert_eq!(errors, 0, "{stats:?}");
    assert!(stats.retries >= 5, "{stats:?}");
    assert_eq!(stats.discarded_stale, 0, "{stats:?}");
}

/// Proves the two tests above are real: with neither defence the failure shows.
#[test]
fn stale_connections_fail_calls_without_peek_and_retry() {
    let server = idle_closing_server();
    let client = pool(
        server.addr,
        PoolConfig::default()
            .idle_timeout(Duration::from_secs(2))
            .check_before_reuse(false)
            .retry(false),
    );
    let errors = paced_calls(&client, 10, Duration::from_millis(500));
    // Every reuse fails (and the next call gets a fresh connection): calls 2, 4, 6, 8, 10.
    assert!(
        errors >= 3,
        "only {errors} errors: {:?}",
        client.channel().stats()
    );
}

#[test]
fn pool_idle_timeout_below_the_servers_never_reuses_a_stale_connection() {
    let server = idle_closing_server();
    let client = pool(
        server.addr,
        PoolConfig::default().idle_timeout(Duration::from_millis(200)),
    );
    for gap in [50, 250, 50, 400, 100, 250] {
        thread::sleep(Duration::from_millis(gap));
        client.ping().unwrap();
    }
    let stats = client.channel().stats();
    assert_eq!(stats.discarded_stale, 0, "{stats:?}");
    assert_eq!(stats.retries, 0, "{stats:?}");
    assert!(stats.discarded_expired >= 3, "{stats:?}");
    assert!(stats.reused >= 2, "{stats:?}");
}

#[test]
fn server_restart_between_calls_is_invisible() {
    let mut server = TestServer::start(Config::default());
    let addr = server.addr;
    for check_before_reuse in [true, false] {
        let client = pool(
            addr,
            PoolConfig::default().check_before_reuse(check_before_reuse),
        );
        for _ in 0..3 {
            client.ping().unwrap();
        }
        server.stop();
        server = TestServer::start(Config::default().listen(addr));
        for _ in 0..3 {
            client.ping().unwrap();
        }
        let stats = client.channel().stats();
        assert_eq!(stats.discarded_stale + stats.retries, 1, "{stats:?}");
    }
}

#[test]
fn server_max_requests_under_continuous_load_shows_no_errors() {
    let server = TestServer::start(Config::default().max_requests_per_connection(Some(3)));
    let client = Arc::new(pool(server.addr, PoolConfig::default().max_active(4)));
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(5);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (client, errors) = (client.clone(), errors.clone());
            thread::spawn(move || {
                for i in 0..150 {
                    if Instant::now() >= deadline {
                        break;
                    }
                    let payload = format!("{t}/{i}").into_bytes();
                    match client.echo(payload.clone()) {
                        Ok(reply) => assert_eq!(reply, payload),
                        Err(e) => {
                            eprintln!("call failed: {e:?}");
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let stats = client.channel().stats();
    assert_eq!(errors.load(Ordering::Relaxed), 0, "{stats:?}");
    // Each connection carried at most 3 calls: the server's cap was really in force.
    assert!(stats.created >= 100, "{stats:?}");
}

fn mux(addr: SocketAddr, call_timeout: Duration) -> Arc<EchoClient<MuxConnection>> {
    let config = MuxConfig::default().connection(connection_config().call_timeout(call_timeout));
    Arc::new(EchoClient::new(
        MuxConnection::connect(&addr.to_string(), config).unwrap(),
    ))
}

#[test]
fn mux_32_threads_share_one_connection_and_every_reply_finds_its_caller() {
    let server = TestServer::start(Config::default());
    let client = mux(server.addr, Duration::from_secs(10));
    let threads: Vec<_> = (0..32)
        .map(|t| {
            let client = client.clone();
            thread::spawn(move || {
                for i in 0..500 {
                    let payload = format!("thread {t} call {i}").into_bytes();
                    assert_eq!(client.echo(payload.clone()).unwrap(), payload);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let stats = client.channel().stats();
    assert_eq!(stats.connects, 1, "{stats:?}");
    assert_eq!(server.stats().accepted, 1);
}

#[test]
fn mux_slow_call_times_out_alone() {
    let server = TestServer::start(Config::default());
    let client = mux(server.addr, Duration::from_secs(2));
    let slow = {
        let client = client.clone();
        thread::spawn(move || {
            let started = Instant::now();
            let result = client.channel().call_with_timeout(
                "sleep",
                &EchoSleepArgs { millis: 200 },
                Duration::from_millis(50),
            );
            (result, started.elapsed())
        })
    };
    let quick: Vec<_> = (0..8)
        .map(|t| {
            let client = client.clone();
            thread::spawn(move || {
                for i in 0..20 {
                    let payload = format!("{t}.{i}").into_bytes();
                    assert_eq!(client.echo(payload.clone()).unwrap(), payload);
                }
            })
        })
        .collect();
    let (result, took) = slow.join().unwrap();
    assert!(matches!(result, Err(ClientError::Timeout)), "{result:?}");
    assert!(took >= Duration::from_millis(50), "{took:?}");
    // Timeout (not Ok) already shows the deadline fired before the 200 ms reply.
    assert!(took < Duration::from_secs(1), "{took:?}");
    for t in quick {
        t.join().unwrap();
    }
    // The late reply to the sleep is read and dropped; the connection carries on.
    assert!(support::wait_until(Duration::from_secs(2), || {
        client.channel().stats().late_replies == 1
    }));
    client.ping().unwrap();
    assert_eq!(client.channel().stats().connects, 1);
}

fn echoed(body: &[u8]) -> Vec<u8> {
    EchoEchoResult::decode(&mut Reader::new(body))
        .unwrap()
        .success
        .unwrap()
}

#[test]
fn mux_one_thread_keeps_32_pending_calls_on_one_connection() {
    const WINDOW: usize = 32;
    const CALLS: usize = 2_000;
    let server = TestServer::start(Config::default());
    let config = MuxConfig::default().connection(connection_config());
    let mux = MuxConnection::connect(&server.addr.to_string(), config).unwrap();
    let mut window = VecDeque::new();
    let (mut started, mut done) = (0, 0);
    while done < CALLS {
        while window.len() < WINDOW && started < CALLS {
            let payload = format!("call {started}").into_bytes();
            let args = EchoEchoArgs {
                payload: payload.clone(),
            };
            window.push_back((payload, mux.queue_call("echo", &args).unwrap()));
            started += 1;
        }
        mux.flush().unwrap();
        let (payload, pending) = window.pop_front().unwrap();
        assert_eq!(echoed(&pending.wait().unwrap()), payload);
        done += 1;
    }
    let stats = mux.stats();
    assert_eq!((stats.connects, stats.timeouts), (1, 0), "{stats:?}");
    assert_eq!(server.stats().accepted, 1);
}

#[test]
fn mux_pending_calls_are_waited_for_in_any_order() {
    let server = TestServer::start(Config::default());
    let mux = MuxConnection::connect(
        &server.addr.to_string(),
        MuxConfig::default().connection(connection_config()),
    )
    .unwrap();
    // The server answers one connection's calls in order (tests/client_mux.rs has a peer that
    // does not); here the waits go in reverse: the slow call is started first, waited last.
    let slow = mux
        .start_call("sleep", &EchoSleepArgs { millis: 100 })
        .unwrap();
    let quick: Vec<_> = (0..4)
        .map(|i| {
            let args = EchoEchoArgs {
                payload: vec![i; 3],
            };
            (i, mux.start_call("echo", &args).unwrap())
        })
        .collect();
    for (i, pending) in quick.into_iter().rev() {
        assert_eq!(echoed(&pending.wait().unwrap()), vec![i; 3]);
    }
    slow.wait().unwrap();
}

#[test]
fn mux_server_killed_fails_every_pending_call_of_one_thread() {
    let server = ServeProcess::start(&[]);
    let addr = server.addr.to_string();
    let mux = MuxConnection::connect(
        &addr,
        MuxConfig::default().connection(connection_config().call_timeout(Duration::from_secs(5))),
    )
    .unwrap();
    let pending: Vec<_> = (0..16)
        .map(|_| {
            mux.start_call("sleep", &EchoSleepArgs { millis: 2_000 })
                .unwrap()
        })
        .collect();
    thread::sleep(Duration::from_millis(100));
    server.signal("KILL");
    let killed = Instant::now();
    for call in pending {
        let result = call.wait();
        assert!(matches!(result, Err(ClientError::Io(_))), "{result:?}");
    }
    let took = killed.elapsed();
    assert!(took < Duration::from_secs(1), "{took:?}");
    let _server = serve_process_on(&addr);
    let again = mux.start_call("ping", &tether::services::echo::EchoPingArgs {});
    again.unwrap().wait().unwrap();
    assert_eq!(mux.stats().connects, 2);
}

fn serve_process_on(addr: &str) -> ServeProcess {
    ServeProcess::start_command(
        Command::new(env!("CARGO_BIN_EXE_tether")).args(["serve", "--listen", addr]),
    )
}

#[test]
fn mux_server_killed_mid_flight_fails_every_waiting_call_at_once() {
    let mut server = ServeProcess::start(&[]);
    let addr = server.addr.to_string();
    let client = mux(server.addr, Duration::from_secs(5));
    client.ping().unwrap();
    let waiting: Vec<_> = (0..8)
        .map(|_| {
            let client = client.clone();
            thread::spawn(move || (client.sleep(2_000), Instant::now()))
        })
        .collect();
    // Let the calls reach the server before it dies.
    thread::sleep(Duration::from_millis(100));
    server.signal("KILL");
    let killed = Instant::now();
    server
        .wait_exit(Duration::from_secs(2))
        .expect("server exits");
    for call in waiting {
        let (result, failed_at) = call.join().unwrap();
        // Lost before any reply byte on a reused socket: the retry rule sends it again, and
        // the retry finds the port closed.
        assert!(
            matches!(result, Err(ClientError::Io(_) | ClientError::Connect(_))),
            "{result:?}"
        );
        let after = failed_at.saturating_duration_since(killed);
        assert!(
            after < Duration::from_millis(100),
            "failed {after:?} after the kill"
        );
    }
    let _server = serve_process_on(&addr);
    client.ping().unwrap();
    // 2, or 3 when a retry's connect reached the dying process's listener before it closed.
    let connects = client.channel().stats().connects;
    assert!((2..=3).contains(&connects), "{connects}");
}

#[test]
fn pool_max_active_waits_then_times_out() {
    let server = TestServer::start(Config::default());
    let client = Arc::new(pool(
        server.addr,
        PoolConfig::default()
            .max_active(2)
            .wait_timeout(Duration::from_millis(100)),
    ));
    let busy: Vec<_> = (0..2)
        .map(|_| {
            let client = client.clone();
            thread::spawn(move || client.sleep(400))
        })
        .collect();
    assert!(support::wait_until(Duration::from_secs(2), || {
        client.channel().stats().active == 2
    }));
    let started = Instant::now();
    let result = client.ping();
    let took = started.elapsed();
    assert!(
        matches!(result, Err(ClientError::PoolTimeout)),
        "{result:?}"
    );
    assert!(took >= Duration::from_millis(100), "{took:?}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    for b in busy {
        b.join().unwrap().unwrap();
    }
    client.ping().unwrap();
}

#[test]
fn connect_to_a_port_without_listener_fails_fast() {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let started = Instant::now();
    let client = pool(addr, PoolConfig::default());
    assert!(matches!(client.ping(), Err(ClientError::Connect(_))));
    assert!(matches!(
        Connection::connect(&addr.to_string(), connection_config()),
        Err(ClientError::Connect(_))
    ));
    assert!(started.elapsed() < Duration::from_millis(400));
}

/// Every method of the generated client, over any channel; the channel stays in step throughout.
fn exercise_every_method<C: Channel>(client: &EchoClient<C>) {
    assert_eq!(client.echo(b"abc".to_vec()).unwrap(), b"abc");
    assert_eq!(client.echo(Vec::new()).unwrap(), Vec::<u8>::new());
    let big = vec![7u8; 256 * 1024];
    assert_eq!(client.echo(big.clone()).unwrap(), big);
    client.ping().unwrap();
    client.sleep(1).unwrap();
    client.fire(b"fire and forget".to_vec()).unwrap();
    assert_eq!(client.fail("fine".to_owned()).unwrap(), "fine");
    match client.fail("error".to_owned()) {
        Err(EchoFailError::Err(e)) => assert!(!e.message.is_empty()),
        other => panic!("expected the declared EchoError, got {other:?}"),
    }
    match client.fail("panic".to_owned()) {
        Err(EchoFailError::Application(e)) => {
            assert_eq!(e.kind, ApplicationExceptionKind::InternalError)
        }
        other => panic!("expected INTERNAL_ERROR, got {other:?}"),
    }
    assert_eq!(
        client.echo(b"still in step".to_vec()).unwrap(),
        b"still in step"
    );
}

#[test]
fn generated_client_works_over_connection_pool_and_mux() {
    let server = TestServer::start(Config::default());
    let target = server.addr.to_string();
    for codec in [
        Codec::FRAMED,
        Codec::UNFRAMED,
        Codec::HEADER,
        Codec::FRAMED_HEADER,
    ] {
        let config = connection_config().codec(codec);
        let connection = Connection::connect(&target, config.clone()).unwrap();
        exercise_every_method(&EchoClient::new(connection));
        let pool = Pool::new(
            [target.clone()],
            PoolConfig::default().connection(config.clone()),
        );
        let pool = EchoClient::new(pool.unwrap());
        exercise_every_method(&pool);
        assert_eq!(
            pool.channel().stats().created,
            1,
            "{:?}",
            pool.channel().stats()
        );
        let mux = MuxConnection::connect(&target, MuxConfig::default().connection(config));
        exercise_every_method(&EchoClient::new(mux.unwrap()));
    }
}
