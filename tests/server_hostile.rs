//! Hostile input: bad frames close only their connection; declared sizes never cost memory.

mod support;

use std::time::Duration;

use support::process::ServeProcess;
use support::*;
use tether::server::{CloseReason, Config, Transport};

const SECOND: Duration = Duration::from_secs(1);

fn assert_closed_and_server_fine(bytes: &[u8], closes: u64) {
    let server = TestServer::start(Config::default());
    let mut bad = server.connect();
    let mut good = server.connect();
    bad.send(bytes).unwrap();
    assert!(bad.wait_closed(2 * SECOND).is_some(), "{bytes:?} left open");
    server.wait_stats("protocol error close", |s| {
        s.closed(CloseReason::ProtocolError) == closes
    });
    assert_eq!(server.stats().requests, 0);
    let reply = good.call(&echo_call(1, b"fine"));
    assert_eq!(reply.binary_field(0), Some(b"fine".to_vec()));
}

/// A length prefix followed by the first bytes of a strict message, as a framed peer sends it.
fn frame_start(length: i32) -> Vec<u8> {
    let mut bytes = length.to_be_bytes().to_vec();
    bytes.extend(&[0x80, 1, 0, 1]);
    bytes
}

#[test]
fn frame_length_zero_closes_the_connection() {
    assert_closed_and_server_fine(&frame_start(0), 1);
}

#[test]
fn negative_frame_length_closes_the_connection() {
    assert_closed_and_server_fine(&frame_start(-5), 1);
}

#[test]
fn bad_lengths_alone_close_a_framed_server_connection_at_once() {
    let server = TestServer::start(Config::default().transport(Transport::Framed));
    for length in [0, -1, i32::MIN, 16_384_001] {
        let mut bad = server.connect();
        bad.send(&length.to_be_bytes()).unwrap();
        let waited = bad.wait_closed(2 * SECOND).expect("closed");
        assert!(waited < SECOND, "{length}: {waited:?}");
    }
    server.wait_stats("protocol error closes", |s| {
        s.closed(CloseReason::ProtocolError) == 4
    });
}

#[test]
fn frame_length_over_max_frame_closes_before_the_body_arrives() {
    assert_closed_and_server_fine(&frame_start(16_384_001), 1);
}

#[test]
fn http_request_closes_the_connection() {
    assert_closed_and_server_fine(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 1);
}

#[test]
fn garbage_after_good_calls_closes_only_that_connection() {
    let server = TestServer::start(Config::default());
    let mut client = server.connect();
    client.call(&ping_call(1));
    client.send(&[0xff; 64]).unwrap();
    assert!(client.wait_closed(2 * SECOND).is_some());
    server.connect().call(&ping_call(2));
}

/// 1,000 connections each declare a 16,000,000-byte frame and send 10 bytes of it: memory
/// follows the bytes received, so the server grows by megabytes, not by 16 GB (or 1 GiB).
#[test]
fn thousand_connections_declaring_huge_frames_cost_little_memory() {
    let server = ServeProcess::start(&["--request-timeout", "20s"]);
    let mut probe = RawClient::connect(server.addr);
    probe.call(&ping_call(0));
    let before = server.rss_kib();
    let mut declared = 16_000_000i32.to_be_bytes().to_vec();
    declared.extend(&ping_call(1)[..6]);
    assert_eq!(declared.len(), 10);
    let mut clients = Vec::new();
    for _ in 0..1000 {
        let mut client = RawClient::connect(server.addr);
        client.send(&declared).unwrap();
        clients.push(client);
    }
    // Every worker has read its 10 bytes once all 1,000 + 1 threads exist and a call that
    // queued behind them is answered.
    assert!(
        wait_until(10 * SECOND, || server.threads() >= 1001),
        "threads: {}",
        server.threads()
    );
    probe.call(&ping_call(2));
    let after = server.rss_kib();
    let grown_mib = after.saturating_sub(before) / 1024;
    eprintln!(
        "rss before {before} KiB, after 1000 huge-frame connections {after} KiB (+{grown_mib} MiB)"
    );
    assert!(grown_mib < 200, "rss grew by {grown_mib} MiB");
    drop(clients);
}
