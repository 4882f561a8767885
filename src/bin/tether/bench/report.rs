//! The final report, as text for people and as JSON (serde) for scripts.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::outcome::Outcome;
use super::workload::ErrorKind;

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Slowest call.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

impl Latency {
    /// Every figure to three decimals (nanoseconds), as the JSON report gives them.
    fn in_thousandths(self) -> Latency {
        Latency {
            p50: thousandths(self.p50),
            p90: thousandths(self.p90),
            p99: thousandths(self.p99),
            p999: thousandths(self.p999),
            max: thousandths(self.max),
            mean: thousandths(self.mean),
        }
    }

    fn from_histogram(ns: &Histogram<u64>) -> Latency {
        if ns.is_empty() {
            return Latency::default();
        }
        let us = |v: u64| v as f64 / 1000.0;
        Latency {
            p50: us(ns.value_at_quantile(0.50)),
            p90: us(ns.value_at_quantile(0.90)),
            p99: us(ns.value_at_quantile(0.99)),
            p999: us(ns.value_at_quantile(0.999)),
            max: us(ns.max()),
            mean: ns.mean() / 1000.0,
        }
    }
}

/// Min, median and max of successful calls per connection: a min far below the median means
/// the server starved some connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Spread {
    /// Fewest calls on one connection.
    pub min: u64,
    /// Median calls per connection.
    pub median: u64,
    /// Most calls on one connection.
    pub max: u64,
    /// Connections that completed no call at all.
    pub without_calls: usize,
}

impl Spread {
    fn of(counts: &[u64]) -> Spread {
        let mut sorted = counts.to_vec();
        sorted.sort_unstable();
        match sorted.as_slice() {
            [] => Spread::default(),
            s => Spread {
                min: s[0],
                median: s[s.len() / 2],
                max: s[s.len() - 1],
                without_calls: s.iter().take_while(|&&n| n == 0).count(),
            },
        }
    }
}

/// How the run was set up, echoed in the report.
#[derive(Debug, Clone)]
pub struct Setup {
    /// Server address as given.
    pub addr: String,
    /// `echo` or `ping`.
    pub method: &'static str,
    /// Echo payload bytes (0 for ping).
    pub payload: usize,
    /// `framed`, `unframed` or `header`.
    pub transport: &'static str,
    /// `binary` or `compact`.
    pub protocol: &'static str,
    /// Connections.
    pub connections: usize,
    /// Calls in flight per connection.
    pub pipeline: usize,
    /// Open-loop rate, if any.
    pub rate: Option<f64>,
    /// `threads` or `events`.
    pub driver: &'static str,
    /// Whether tether's liveness check and retry were on (off with `--no-retry`).
    pub retry: bool,
}

/// Everything `tether bench` reports.
#[derive(Debug, Clone)]
pub struct Report {
    /// The setup.
    pub setup: Setup,
    /// Successful calls in the measured phase.
    pub calls: u64,
    /// Failed calls by kind name.
    pub errors: BTreeMap<&'static str, u64>,
    /// Failed connects before the load began, by kind name.
    pub setup_errors: BTreeMap<&'static str, u64>,
    /// Length of the measured phase.
    pub duration: Duration,
    /// Latency of successful calls.
    pub latency: Latency,
    /// Successful calls per connection.
    pub per_connection: Spread,
    /// Client CPU time in the measured phase.
    pub cpu: Option<Duration>,
}

impl Report {
    /// Summarises a run.
    pub fn new(setup: Setup, outcome: &Outcome) -> Report {
        Report {
            setup,
            calls: outcome.calls,
            errors: by_name(&outcome.errors),
            setup_errors: by_name(&outcome.setup_errors),
            duration: outcome.elapsed,
            latency: Latency::from_histogram(&outcome.latency_ns),
            per_connection: Spread::of(&outcome.per_connection),
            cpu: outcome.cpu,
        }
    }

    /// Successful calls per second of the measured phase.
    pub fn calls_per_s(&self) -> f64 {
        let seconds = self.duration.as_secs_f64();
        if seconds > 0.0 {
            self.calls as f64 / seconds
        } else {
            0.0
        }
    }

    fn error_total(&self) -> u64 {
        self.errors.values().sum()
    }

    /// The report for people.
    pub fn to_text(&self) -> String {
        let s = &self.setup;
        let mut out = String::new();
        let what = match s.method {
            "echo" => format!("echo {} B", s.payload),
            other => other.to_string(),
        };
        let mode = match s.rate {
            Some(rate) => format!("open loop at {rate:.0} calls/s"),
            None => "closed loop".to_string(),
        };
        let _ = writeln!(
            out,
            "tether bench {}: {what}, {} {}, {} connections x {} in flight, {mode} ({} driver)",
            s.addr, s.transport, s.protocol, s.connections, s.pipeline, s.driver
        );
        let _ = writeln!(
            out,
            "  calls        {} in {:.2} s = {:.0} calls/s",
            self.calls,
            self.duration.as_secs_f64(),
            self.calls_per_s()
        );
        let errors = if self.errors.is_empty() {
            "0".to_string()
        } else {
            format!("{} ({})", self.error_total(), kinds(&self.errors))
        };
        let _ = writeln!(out, "  errors       {errors}");
        if !self.setup_errors.is_empty() {
            let _ = writeln!(
                out,
                "  setup errors {} ({}), not counted above",
                self.setup_errors.values().sum::<u64>(),
                kinds(&self.setup_errors)
            );
        }
        let l = &self.latency;
        let _ = writeln!(
            out,
            "  latency us   p50 {:.1}  p90 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}  mean {:.1}",
            l.p50, l.p90, l.p99, l.p999, l.max, l.mean
        );
        let p = &self.per_connection;
        let _ = writeln!(
            out,
            "  per conn     min {}  median {}  max {} calls ({} without any)",
            p.min, p.median, p.max, p.without_calls
        );
        if let Some(cpu) = self.cpu {
            let _ = writeln!(
                out,
                "  client cpu   {:.2} s ({:.0}% of one core, {:.1} us per call)",
                cpu.as_secs_f64(),
                100.0 * cpu.as_secs_f64() / self.duration.as_secs_f64().max(1e-9),
                cpu.as_secs_f64() * 1e6 / (self.calls.max(1) as f64)
            );
        }
        out
    }

    /// The report as one JSON object (pretty-printed, one field a line).
    pub fn to_json(&self) -> String {
        let s = &self.setup;
        let json = JsonReport {
            addr: &s.addr,
            method: s.method,
            payload: s.payload,
            transport: s.transport,
            protocol: s.protocol,
            connections: s.connections,
            pipeline: s.pipeline,
            rate: s.rate,
            driver: s.driver,
            retry: s.retry,
            calls: self.calls,
            errors: &self.errors,
            error_total: self.error_total(),
            setup_errors: &self.setup_errors,
            duration_s: thousandths(self.duration.as_secs_f64()),
            calls_per_s: thousandths(self.calls_per_s()),
            latency_us: self.latency.in_thousandths(),
            calls_per_connection: self.per_connection,
            client_cpu_s: self.cpu.map(|c| thousandths(c.as_secs_f64())),
        };
        let mut out = serde_json::to_string_pretty(&json).expect("plain data serialises");
        out.push('\n');
        out
    }
}

/// The JSON report's fields, in the order they are written. `calls`, `errors`, `duration_s`,
/// `calls_per_s` and `latency_us` are the CLI contract (README.md "CLI").
#[derive(Serialize)]
struct JsonReport<'a> {
    addr: &'a str,
    method: &'a str,
    payload: usize,
    transport: &'a str,
    protocol: &'a str,
    connections: usize,
    pipeline: usize,
    rate: Option<f64>,
    driver: &'a str,
    retry: bool,
    calls: u64,
    errors: &'a BTreeMap<&'static str, u64>,
    error_total: u64,
    setup_errors: &'a BTreeMap<&'static str, u64>,
    duration_s: f64,
    calls_per_s: f64,
    latency_us: Latency,
    calls_per_connection: Spread,
    client_cpu_s: Option<f64>,
}

/// Counts keyed by the kinds' report names.
fn by_name(counts: &BTreeMap<ErrorKind, u64>) -> BTreeMap<&'static str, u64> {
    counts
        .iter()
        .map(|(kind, count)| (kind.name(), *count))
        .collect()
}

/// `io 2, timeout 1`.
fn kinds(counts: &BTreeMap<&'static str, u64>) -> String {
    let kinds: Vec<String> = counts.iter().map(|(k, n)| format!("{k} {n}")).collect();
    kinds.join(", ")
}

/// `v` to three decimals, as the report always gave its numbers (serde_json writes a
/// non-finite number as null).
fn thousandths(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        let mut latency_ns = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        for us in 1..=1000u64 {
            latency_ns.record(us * 1000).unwrap();
        }
        let outcome = Outcome {
            calls: 1000,
            errors: BTreeMap::from([(ErrorKind::Io, 2), (ErrorKind::Timeout, 1)]),
            setup_errors: BTreeMap::from([(ErrorKind::Connect, 1)]),
            latency_ns,
            per_connection: vec![300, 100, 600, 0],
            elapsed: Duration::from_secs(2),
            cpu: Some(Duration::from_millis(500)),
        };
        let setup = Setup {
            addr: "127.0.0.1:9090".into(),
            method: "echo",
            payload: 64,
            transport: "framed",
            protocol: "binary",
            connections: 4,
            pipeline: 1,
            rate: None,
            driver: "threads",
            retry: true,
        };
        Report::new(setup, &outcome)
    }

    #[test]
    fn summarises_an_outcome() {
        let r = sample();
        assert_eq!(r.calls_per_s(), 500.0);
        assert!((r.latency.p50 - 500.0).abs() < 1.0, "{:?}", r.latency);
        assert!((r.latency.p99 - 990.0).abs() < 1.0, "{:?}", r.latency);
        assert!((r.latency.max - 1000.0).abs() < 1.0, "{:?}", r.latency);
        assert_eq!(
            r.per_connection,
            Spread {
                min: 0,
                median: 300,
                max: 600,
                without_calls: 1,
            }
        );
        assert_eq!(r.error_total(), 3);
        let text = r.to_text();
        assert!(text.contains("500 calls/s"), "{text}");
        assert!(text.contains("3 (io 2, timeout 1)"), "{text}");
    }

    #[test]
    fn json_has_the_contract_fields() {
        let text = sample().to_json();
        let json: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(json["calls"], 1000);
        assert_eq!(json["errors"], serde_json::json!({"io": 2, "timeout": 1}));
        assert_eq!(json["error_total"], 3);
        assert_eq!(json["setup_errors"], serde_json::json!({"connect": 1}));
        assert_eq!(json["duration_s"], 2.0);
        assert_eq!(json["calls_per_s"], 500.0);
        for p in ["p50", "p90", "p99", "p999", "max", "mean"] {
            assert!(json["latency_us"][p].is_f64(), "{p} missing from {text}");
        }
        assert_eq!(json["rate"], serde_json::Value::Null);
        assert_eq!(json["retry"], true);
        assert_eq!(json["client_cpu_s"], 0.5);
        assert_eq!(json["calls_per_connection"]["without_calls"], 1);
        assert_eq!(json["addr"], "127.0.0.1:9090");
        assert!(text.ends_with("}\n"), "{text}");
    }

    #[test]
    fn json_escapes_strings_and_nulls_non_finite_numbers() {
        let mut report = sample();
        report.setup.addr = "a\"b\\c\n\u{1}".into();
        report.latency.p50 = f64::NAN;
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(json["addr"], "a\"b\\c\n\u{1}");
        assert_eq!(json["latency_us"]["p50"], serde_json::Value::Null);
    }

    #[test]
    fn setup_errors_get_their_own_line() {
        let text = sample().to_text();
        assert!(
            text.contains("  setup errors 1 (connect 1), not counted above\n"),
            "{text}"
        );
        let mut clean = sample();
        clean.setup_errors.clear();
        assert!(!clean.to_text().contains("setup"), "{}", clean.to_text());
    }
}
