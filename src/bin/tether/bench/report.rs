//! The final report, as text for people and as JSON (written by hand: a flat object of
//! numbers and a few strings) for scripts.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::load::Outcome;
use super::workload::ErrorKind;

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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
    /// `framed` or `unframed`.
    pub transport: &'static str,
    /// Connections.
    pub connections: usize,
    /// Calls in flight per connection.
    pub pipeline: usize,
    /// Open-loop rate, if any.
    pub rate: Option<f64>,
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
            errors: outcome
                .errors
                .iter()
                .map(|(kind, count)| (ErrorKind::name(*kind), *count))
                .collect(),
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
            "tether bench {}: {what}, {}, {} connections x {} in flight, {mode}",
            s.addr, s.transport, s.connections, s.pipeline
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
            let kinds: Vec<String> = self
                .errors
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            format!("{} ({})", self.error_total(), kinds.join(", "))
        };
        let _ = writeln!(out, "  errors       {errors}");
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

    /// The report as one JSON object.
    pub fn to_json(&self) -> String {
        let s = &self.setup;
        let l = &self.latency;
        let p = &self.per_connection;
        let errors: Vec<String> = self
            .errors
            .iter()
            .map(|(kind, n)| format!("{}: {n}", json_string(kind)))
            .collect();
        let mut out = String::from("{\n");
        let mut field = |name: &str, value: String| {
            let _ = writeln!(out, "  {}: {value},", json_string(name));
        };
        field("addr", json_string(&s.addr));
        field("method", json_string(s.method));
        field("payload", s.payload.to_string());
        field("transport", json_string(s.transport));
        field("connections", s.connections.to_string());
        field("pipeline", s.pipeline.to_string());
        field("rate", s.rate.map_or("null".to_string(), json_number));
        field("calls", self.calls.to_string());
        field("errors", format!("{{{}}}", errors.join(", ")));
        field("error_total", self.error_total().to_string());
        field("duration_s", json_number(self.duration.as_secs_f64()));
        field("calls_per_s", json_number(self.calls_per_s()));
        field(
            "latency_us",
            format!(
                "{{\"p50\": {}, \"p90\": {}, \"p99\": {}, \"p999\": {}, \"max\": {}, \"mean\": {}}}",
                json_number(l.p50),
                json_number(l.p90),
                json_number(l.p99),
                json_number(l.p999),
                json_number(l.max),
                json_number(l.mean)
            ),
        );
        field(
            "calls_per_connection",
            format!(
                "{{\"min\": {}, \"median\": {}, \"max\": {}, \"without_calls\": {}}}",
                p.min, p.median, p.max, p.without_calls
            ),
        );
        out.push_str(&format!(
            "  \"client_cpu_s\": {}\n}}\n",
            self.cpu
                .map_or("null".to_string(), |c| json_number(c.as_secs_f64()))
        ));
        out
    }
}

/// A finite number with three decimals (JSON has no NaN or infinity).
fn json_number(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.3}")
    } else {
        "null".to_string()
    }
}

/// A JSON string literal with the escapes RFC 8259 requires.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
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
            connections: 4,
            pipeline: 1,
            rate: None,
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
        let json = sample().to_json();
        for needle in [
            "\"calls\": 1000,",
            "\"errors\": {\"io\": 2, \"timeout\": 1},",
            "\"duration_s\": 2.000,",
            "\"calls_per_s\": 500.000,",
            "\"latency_us\": {\"p50\": ",
            "\"p999\": ",
            "\"rate\": null,",
            "\"client_cpu_s\": 0.500\n}",
        ] {
            assert!(json.contains(needle), "{needle} missing from {json}");
        }
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\u0001\"");
        assert_eq!(json_number(f64::NAN), "null");
    }
}
