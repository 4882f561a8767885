//! The admin endpoint: health, readiness through the announce phase and the drain, metrics that
//! match what the server did, and that it stops with the server.
#![cfg(feature = "admin")]

mod support;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use support::http::{get, request, sample};
use support::*;
use tether::server::Config;

fn with_admin(config: Config) -> Config {
    config.admin_listen(Some(SocketAddr::from(([127, 0, 0, 1], 0))))
}

fn admin(server: &TestServer) -> SocketAddr {
    server.handle.admin_addr().expect("admin endpoint bound")
}

#[test]
fn health_readiness_and_routes() {
    let server = TestServer::start(with_admin(Config::default()));
    let addr = admin(&server);
    assert_eq!(get(addr, "/healthz"), (200, "ok\n".to_string()));
    assert_eq!(get(addr, "/readyz"), (200, "ready\n".to_string()));
    assert_eq!(
        get(addr, "/readyz?verbose=1").0,
        200,
        "a query string is ignored"
    );
    assert_eq!(get(addr, "/nope").0, 404);
    assert_eq!(request(addr, "POST", "/metrics").0, 405);
    assert_eq!(request(addr, "HEAD", "/healthz").0, 200);
}

#[test]
fn metrics_count_what_the_server_did() {
    let server = TestServer::start(with_admin(Config::default()));
    let mut client = server.connect();
    for seqid in 1..=3 {
        client.call(&echo_call(seqid, b"hi"));
    }
    client.call(&fail_call(4, "panic"));
    client.call(&fail_call(5, "error"));
    let unknown = client.call(&call("nope", 6, &no_args()));
    assert!(unknown.exception().is_some());
    client.send_framed(&fire_call(7, b"x")).unwrap();
    client.call(&ping_call(8));
    // Not busy: the last reply's bytes are counted (the client can read it before that).
    server.wait_stats("8 requests, idle", |s| s.requests == 8 && s.busy == 0);

    let (status, metrics) = get(admin(&server), "/metrics");
    assert_eq!(status, 200);
    let value = |series: &str| {
        sample(&metrics, series).unwrap_or_else(|| panic!("no {series} in:\n{metrics}"))
    };
    let requests = |method: &str, outcome: &str| {
        value(&format!(
            "tether_requests_total{{service=\"Echo\",method=\"{method}\",outcome=\"{outcome}\"}}"
        ))
    };
    assert_eq!(requests("echo", "ok"), 3.0);
    assert_eq!(requests("fail", "panic"), 1.0);
    assert_eq!(requests("fail", "ok"), 1.0, "an IDL exception is a reply");
    assert_eq!(requests("fire", "oneway"), 1.0);
    assert_eq!(requests("ping", "ok"), 1.0);
    assert_eq!(requests("sleep", "ok"), 0.0);
    assert_eq!(
        value("tether_requests_total{service=\"\",method=\"\",outcome=\"unknown_method\"}"),
        1.0
    );
    assert_eq!(value("tether_request_duration_seconds_count"), 8.0);
    assert_eq!(
        value("tether_request_duration_seconds_bucket{le=\"+Inf\"}"),
        8.0
    );
    assert!(value("tether_request_duration_seconds_sum") > 0.0);
    assert_eq!(value("tether_connections_open"), 1.0);
    assert_eq!(value("tether_connections_accepted_total"), 1.0);
    assert_eq!(
        value("tether_exceptions_total"),
        2.0,
        "panic and unknown method"
    );
    let stats = server.stats();
    assert_eq!(value("tether_received_bytes_total"), stats.bytes_in as f64);
    assert_eq!(value("tether_sent_bytes_total"), stats.bytes_out as f64);
    assert_eq!(
        value("tether_thread_capacity"),
        stats.thread_capacity as f64
    );
    assert!(stats.thread_capacity > 0);
    assert_eq!(value("tether_spawn_failures_total"), 0.0);
    assert_eq!(value("tether_ready"), 1.0);
    assert_eq!(value("tether_drain_phase{phase=\"serving\"}"), 1.0);
    assert!(metrics.contains("# TYPE tether_request_duration_seconds histogram"));

    drop(client);
    server.wait_stats("the close", |s| s.active == 0);
    let (_, metrics) = get(admin(&server), "/metrics");
    assert_eq!(
        sample(
            &metrics,
            "tether_connections_closed_total{reason=\"peer_eof\"}"
        ),
        Some(1.0)
    );
}

#[test]
fn readiness_fails_from_the_announce_while_the_server_still_serves() {
    let config = with_admin(Config::default()).drain_announce(Duration::from_secs(30));
    let mut server = TestServer::start(config);
    let addr = admin(&server);
    let mut before = server.connect();
    before.call(&ping_call(1));
    let started = Instant::now();
    let run = server.shutdown();
    assert!(
        wait_until(Duration::from_secs(2), || get(addr, "/readyz").0 == 503),
        "readyz never failed"
    );
    assert_eq!(get(addr, "/readyz"), (503, "announcing\n".to_string()));
    assert!(!server.handle.is_ready());
    assert!(!server.handle.is_draining());
    assert_eq!(get(addr, "/healthz").0, 200, "still alive while announcing");
    // Still serving: the old connection and a brand new one are both answered.
    before.call(&ping_call(2));
    let mut after = server.connect();
    after.call(&echo_call(3, b"late"));
    let (_, metrics) = get(addr, "/metrics");
    assert_eq!(sample(&metrics, "tether_ready"), Some(0.0));
    assert_eq!(
        sample(&metrics, "tether_drain_phase{phase=\"announcing\"}"),
        Some(1.0)
    );
    // A second signal cuts the announce short.
    drop((before, after));
    server.wait_stats("both closed", |s| s.active == 0);
    server.handle.force();
    let report = run.join().unwrap().unwrap();
    assert!(started.elapsed() < Duration::from_secs(20), "force waited");
    assert_eq!(report.forced, 0);
}

#[test]
fn the_announce_delays_the_drain_and_the_admin_stops_with_the_server() {
    let announce = Duration::from_millis(300);
    let mut server = TestServer::start(with_admin(Config::default()).drain_announce(announce));
    let addr = admin(&server);
    let started = Instant::now();
    let report = server.shutdown().join().unwrap().unwrap();
    assert!(started.elapsed() >= announce, "{:?}", started.elapsed());
    assert!(report.is_clean());
    assert!(
        wait_until(Duration::from_secs(2), || TcpStream::connect(addr).is_err()),
        "the admin endpoint outlived the server"
    );
}

#[test]
fn a_stalled_admin_client_does_not_block_scrapes() {
    let server = TestServer::start(with_admin(Config::default()));
    let addr = admin(&server);
    let mut stalled = TcpStream::connect(addr).unwrap();
    stalled.write_all(b"GET /metr").unwrap();
    let mut garbage = TcpStream::connect(addr).unwrap();
    garbage.write_all(&[0xff; 512]).unwrap();
    assert_eq!(get(addr, "/healthz").0, 200);
    assert_eq!(get(addr, "/metrics").0, 200);
    // The RPC side is untouched by it.
    server.connect().call(&ping_call(1));
}

#[cfg(feature = "cli")]
#[test]
fn tether_serve_announces_on_sigterm_then_drains_and_exits_zero() {
    let mut serve =
        process::ServeProcess::start(&["--admin-listen", "127.0.0.1:0", "--drain-announce", "30s"]);
    let admin = serve.admin.expect("admin line");
    assert_eq!(get(admin, "/readyz").0, 200);
    let mut client = RawClient::connect(serve.addr);
    client.call(&ping_call(1));
    serve.signal("TERM");
    assert!(
        wait_until(Duration::from_secs(5), || get(admin, "/readyz").0 == 503),
        "readyz never failed after SIGTERM"
    );
    // Announcing: still serving the open connection and new ones.
    client.call(&ping_call(2));
    RawClient::connect(serve.addr).call(&echo_call(3, b"new"));
    drop(client);
    let open = || sample(&get(admin, "/metrics").1, "tether_connections_open");
    assert!(
        wait_until(Duration::from_secs(5), || open() == Some(0.0)),
        "connections stayed open"
    );
    // The second signal cuts the 30 s announce short; nothing is open, so the exit is clean.
    serve.signal("TERM");
    let status = serve.wait_exit(Duration::from_secs(10)).expect("exited");
    assert!(status.success(), "{status:?}");
}

#[test]
fn metrics_show_parked_connections_parks_and_unparks() {
    let server = TestServer::start(with_admin(
        Config::default().park_after(Some(Duration::from_millis(50))),
    ));
    let mut client = server.connect();
    client.call(&ping_call(1));
    server.wait_stats("parked", |s| s.parked == 1 && s.parks == 1);
    let (_, metrics) = get(admin(&server), "/metrics");
    let value = |metrics: &str, series: &str| {
        sample(metrics, series).unwrap_or_else(|| panic!("no {series} in:\n{metrics}"))
    };
    assert_eq!(value(&metrics, "tether_connections_parked"), 1.0);
    assert_eq!(value(&metrics, "tether_connection_parks_total"), 1.0);
    assert_eq!(value(&metrics, "tether_connection_unparks_total"), 0.0);
    client.call(&ping_call(2));
    let (_, metrics) = get(admin(&server), "/metrics");
    assert_eq!(value(&metrics, "tether_connections_parked"), 0.0);
    assert_eq!(value(&metrics, "tether_connection_unparks_total"), 1.0);
    assert!(value(&metrics, "tether_spare_threads") >= 0.0);
}
