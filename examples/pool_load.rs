//! Closed-loop echo load through one [`Pool`] over several endpoints, reported as JSON: what
//! scripts/rolling_restart.sh runs against servers restarted under it, with no load balancer.
//!
//! ```text
//! cargo run --release --example pool_load -- 127.0.0.1:9091 127.0.0.1:9092 \
//!     --threads 16 --seconds 10
//! ```
//!
//! Each of `--threads` threads calls `echo` in a loop for `--seconds` (and at most
//! `--max-calls` calls). The JSON on stdout: `calls` (successful), `errors` (kind -> count),
//! `duration_s`, `calls_per_s`, `latency_us` (`p50`, `p99`, `max`) and the pool's `retries`,
//! `connect_failures` and `created`. The first few errors are printed on stderr as they happen.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tether::client::{ClientError, Pool, PoolConfig};
use tether::services::echo::EchoClient;

/// Errors printed on stderr as they happen; the rest are only counted.
const ERRORS_SHOWN: u64 = 10;

struct Options {
    endpoints: Vec<String>,
    threads: usize,
    run_for: Duration,
    payload: usize,
    max_calls: u64,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        endpoints: Vec::new(),
        threads: 16,
        run_for: Duration::from_secs(10),
        payload: 64,
        // Bounds a run whatever the duration: 16 threads x 2,000,000 calls.
        max_calls: 2_000_000,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--threads" => options.threads = parse(&value("--threads")?)?,
            "--seconds" => {
                let seconds: f64 = parse(&value("--seconds")?)?;
                options.run_for = Duration::from_secs_f64(seconds);
            }
            "--payload" => options.payload = parse(&value("--payload")?)?,
            "--max-calls" => options.max_calls = parse(&value("--max-calls")?)?,
            flag if flag.starts_with("--") => return Err(format!("unknown flag {flag}")),
            endpoint => options.endpoints.push(endpoint.to_owned()),
        }
    }
    if options.endpoints.is_empty() {
        return Err(
            "usage: pool_load ADDR... [--threads N] [--seconds S] [--payload BYTES] \
                    [--max-calls N]"
                .to_owned(),
        );
    }
    Ok(options)
}

fn parse<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.parse().map_err(|_| format!("invalid number {text:?}"))
}

fn error_kind(error: &ClientError) -> &'static str {
    match error {
        ClientError::Io(_) => "io",
        ClientError::Timeout => "timeout",
        ClientError::Protocol(_) => "protocol",
        ClientError::Application(_) => "application",
        ClientError::Connect(_) => "connect",
        ClientError::SeqidMismatch { .. } => "seqid_mismatch",
        ClientError::PoolTimeout => "pool_timeout",
        _ => "other",
    }
}

#[derive(Default)]
struct Totals {
    errors: Mutex<BTreeMap<&'static str, u64>>,
    error_count: AtomicU64,
    /// Every successful call's latency in microseconds.
    latencies: Mutex<Vec<u32>>,
}

fn main() -> ExitCode {
    let options = match options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("pool_load: {message}");
            return ExitCode::from(2);
        }
    };
    let config = PoolConfig::default()
        .max_active(options.threads)
        .max_idle(options.threads);
    let pool = match Pool::new(options.endpoints.clone(), config) {
        Ok(pool) => pool,
        Err(e) => {
            eprintln!("pool_load: {e}");
            return ExitCode::FAILURE;
        }
    };
    let totals = Arc::new(Totals::default());
    let payload = vec![b'x'; options.payload];
    let started = Instant::now();
    let deadline = started + options.run_for;
    let workers: Vec<_> = (0..options.threads)
        .map(|_| {
            let client = EchoClient::new(pool.clone());
            let (totals, payload) = (Arc::clone(&totals), payload.clone());
            let max_calls = options.max_calls;
            thread::spawn(move || {
                let mut latencies = Vec::new();
                for _ in 0..max_calls {
                    let sent = Instant::now();
                    if sent >= deadline {
                        break;
                    }
                    match client.echo(payload.clone()) {
                        Ok(reply) if reply == payload => {
                            latencies.push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32)
                        }
                        Ok(_) => count_error(&totals, "wrong_reply", "wrong echo payload"),
                        Err(e) => count_error(&totals, error_kind(&e), &e.to_string()),
                    }
                }
                totals.latencies.lock().extend(latencies);
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.join();
    }
    let duration = started.elapsed();
    let mut latencies = std::mem::take(&mut *totals.latencies.lock());
    latencies.sort_unstable();
    let percentile = |p: f64| -> u32 {
        if latencies.is_empty() {
            return 0;
        }
        let at = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len());
        latencies[at - 1]
    };
    let errors: Vec<String> = totals
        .errors
        .lock()
        .iter()
        .map(|(kind, n)| format!("\"{kind}\": {n}"))
        .collect();
    let stats = pool.stats();
    println!(
        "{{\"calls\": {}, \"errors\": {{{}}}, \"duration_s\": {:.3}, \"calls_per_s\": {:.1}, \
         \"latency_us\": {{\"p50\": {}, \"p99\": {}, \"max\": {}}}, \"retries\": {}, \
         \"connect_failures\": {}, \"created\": {}}}",
        latencies.len(),
        errors.join(", "),
        duration.as_secs_f64(),
        latencies.len() as f64 / duration.as_secs_f64(),
        percentile(0.50),
        percentile(0.99),
        latencies.last().copied().unwrap_or(0),
        stats.retries,
        stats.connect_failures,
        stats.created,
    );
    if totals.error_count.load(Relaxed) == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn count_error(totals: &Totals, kind: &'static str, message: &str) {
    let seen = totals.error_count.fetch_add(1, Relaxed);
    if seen < ERRORS_SHOWN {
        eprintln!("pool_load: call failed ({kind}): {message}");
    }
    *totals.errors.lock().entry(kind).or_default() += 1;
}
