//! `tether bench --idle-between` longer than the server's idle timeout, against `tether serve`:
//! every call after a pause finds its connection closed by the server. tether's client (the
//! liveness peek and the retry) meets no error; with `--no-retry` the errors appear, which shows
//! the run really meets stale connections.

mod support;

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use support::process::ServeProcess;

/// The server closes a connection idle for 300 ms; the bench pauses 400 ms between calls.
const SERVER_IDLE: &str = "300ms";
const IDLE_BETWEEN: &str = "400ms";

/// Runs `tether bench` against `addr` with `args` and returns its JSON report.
fn bench(addr: &str, name: &str, args: &[&str]) -> Value {
    let json = json_path(name);
    let output = Command::new(env!("CARGO_BIN_EXE_tether"))
        .args(["bench", addr, "--warmup", "0s", "--timeout", "1s"])
        .args(["--idle-between", IDLE_BETWEEN, "--json"])
        .arg(&json)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run tether bench");
    let report = std::fs::read_to_string(&json).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}); stdout {} stderr {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let _ = std::fs::remove_file(&json);
    let report: Value = serde_json::from_str(&report).expect("valid JSON");
    println!("tether bench {}: {report}", args.join(" "));
    report
}

fn json_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "tether-bench-idle-{}-{name}.json",
        std::process::id()
    ))
}

fn error_total(report: &Value) -> u64 {
    report["errors"]
        .as_object()
        .expect("errors is an object")
        .values()
        .map(|n| n.as_u64().expect("a count"))
        .sum()
}

/// One call at a time on 2 connections, 4 calls each: 3 pauses per connection, each past the
/// server's idle timeout.
const SINGLE: &[&str] = &["--connections", "2", "--requests", "8"];
/// A window of 4 on 2 connections, 3 windows each.
const WINDOW: &[&str] = &["--connections", "2", "--requests", "24", "--pipeline", "4"];

fn with(base: &[&'static str], extra: &[&'static str]) -> Vec<&'static str> {
    base.iter().chain(extra).copied().collect()
}

/// Runs `args` against a server with a 300 ms idle timeout: every call is a success.
fn meets_no_error(name: &str, args: &[&str], requests: u64) {
    let server = ServeProcess::start(&["--idle-timeout", SERVER_IDLE]);
    let report = bench(&server.addr.to_string(), name, args);
    assert_eq!(report["retry"], true);
    assert_eq!(error_total(&report), 0, "{name}: {report}");
    assert_eq!(report["calls"], requests, "{name}: {report}");
    assert_eq!(
        report["setup_errors"],
        serde_json::json!({}),
        "{name}: {report}"
    );
}

#[test]
fn connection_meets_no_error_after_idle_pauses() {
    meets_no_error("single", SINGLE, 8);
}

#[test]
fn mux_connection_meets_no_error_after_idle_pauses() {
    meets_no_error("window", WINDOW, 24);
}

/// Runs `args` with `--no-retry` against a server with a 300 ms idle timeout: calls fail with
/// `io` on the connections it closed.
fn meets_stale_connections(name: &str, args: &[&'static str], requests: u64) {
    let server = ServeProcess::start(&["--idle-timeout", SERVER_IDLE]);
    let report = bench(&server.addr.to_string(), name, &with(args, &["--no-retry"]));
    assert_eq!(report["retry"], false);
    let errors = error_total(&report);
    assert!(errors > 0, "{name}: {report}");
    assert_eq!(report["errors"]["io"], errors, "{name}: {report}");
    assert_eq!(
        report["calls"].as_u64().unwrap() + errors,
        requests,
        "{name}: {report}"
    );
}

#[test]
fn connection_without_retry_meets_the_stale_connections() {
    meets_stale_connections("single-no-retry", SINGLE, 8);
}

#[test]
fn mux_connection_without_retry_meets_the_stale_connections() {
    meets_stale_connections("window-no-retry", WINDOW, 24);
}
