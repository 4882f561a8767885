//! `tether bench`: a Thrift load generator for the Echo service of idl/echo.thrift, against
//! any Thrift server that implements it (framed or unframed, binary protocol).
//!
//! Closed loop by default (each connection sends its next call when the reply is in), open
//! loop with `--rate` (latency from the scheduled send time, coordinated omission corrected).
//! Every call that starts in the measured phase counts, however late it ends: calls in flight
//! at the end are waited for (up to `--timeout`), and open-loop calls that fell due but were
//! never sent count as late, so a server that stalls shows instead of hiding.
//! The report: calls/s, latency percentiles from an HdrHistogram, errors by kind (failed first
//! connects apart, as setup errors), calls per connection (starvation shows as a min far below
//! the median) and the client's CPU time; `--json FILE` writes the same as one JSON object.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use tether::protocol::Protocol;
use tether::transport::{Codec, Framing};

use crate::units::{parse_bytes, parse_duration};

mod cpu;
mod events;
mod load;
mod outcome;
mod plan;
mod progress;
mod report;
mod slot;
mod threads;
mod timeline;
mod workload;

use plan::{Bound, Driver, Plan};
use progress::{Progress, Unit};
use report::{Report, Setup};
use workload::Workload;

/// Measured phase when neither --duration nor --requests is given.
const DEFAULT_DURATION: Duration = Duration::from_secs(10);

/// Flags of `tether bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Server address, e.g. 127.0.0.1:9090.
    pub addr: String,
    /// Concurrent connections.
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
    /// How long to measure (default 10s unless --requests is given).
    #[arg(long, value_parser = parse_duration, conflicts_with = "requests")]
    pub duration: Option<Duration>,
    /// Total calls to make, across all connections.
    #[arg(long)]
    pub requests: Option<u64>,
    /// Load before measuring starts.
    #[arg(long, value_parser = parse_duration, default_value = "1s")]
    pub warmup: Duration,
    /// Echo payload size in bytes.
    #[arg(long, value_parser = parse_bytes, default_value = "64")]
    pub payload: usize,
    /// Method to call.
    #[arg(long, value_enum, default_value_t = MethodArg::Echo)]
    pub method: MethodArg,
    /// Calls in flight per connection: with `--driver threads`, one thread per connection keeps
    /// that many pending calls on a MuxConnection (with `--rate`, that many caller threads share
    /// it); with `--driver events`, a window of calls on the socket.
    #[arg(long, default_value_t = 1)]
    pub pipeline: usize,
    /// Open loop at this many calls per second in total, latency from the scheduled send time.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Transport to use.
    #[arg(long, value_enum, default_value_t = Framing::Framed)]
    pub transport: Framing,
    /// Protocol of the messages (inside the THeader frames with `--transport header`).
    #[arg(long, value_enum, default_value_t = Protocol::Binary)]
    pub protocol: Protocol,
    /// Pause between calls on each connection.
    #[arg(long, value_parser = parse_duration)]
    pub idle_between: Option<Duration>,
    /// Turn tether's client-side keep-alive contract off: no liveness peek before reusing a
    /// connection after an idle pause, no retry of a call that a reused connection lost before
    /// any reply byte. Shows what a naive client meets (the stale-connection race), next to
    /// what tether's client meets. The events driver never peeks or retries, so it always runs
    /// like this.
    #[arg(long)]
    pub no_retry: bool,
    /// Write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Bound on each call (write and reply); a call past it counts as a timeout.
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    pub timeout: Duration,
    /// What drives the calls: `threads` is tether's client, a thread per connection (a window
    /// of pending calls each with `--pipeline`; open loop: a thread per call in flight);
    /// `events` is a few event loops driving every connection (closed loop only), which keeps
    /// the client's own scheduling out of the figures when connections outnumber cores.
    #[arg(long, value_enum, default_value_t = DriverArg::Threads)]
    pub driver: DriverArg,
    /// Bound on opening each connection. 3s: a SYN dropped by a full accept backlog is resent
    /// after 1 s, which a storm of 1,000 connects can meet.
    #[arg(long, value_parser = parse_duration, default_value = "3s")]
    pub connect_timeout: Duration,
}

/// `--method` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    /// echo(payload) -> payload.
    Echo,
    /// ping() -> void.
    Ping,
}

/// `--driver` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DriverArg {
    /// A thread per call in flight, through tether's client.
    Threads,
    /// Event loops, each driving many connections.
    Events,
}

/// Runs the load test and prints the report; fails when no call succeeded.
pub fn run(args: BenchArgs) -> ExitCode {
    let plan = match plan(&args) {
        Ok(plan) => plan,
        Err(message) => {
            eprintln!("tether bench: {message}");
            return ExitCode::from(2);
        }
    };
    let progress = match plan.bound {
        Bound::Duration(d) => Progress::new(Unit::Milliseconds, d.as_millis() as u64),
        Bound::Requests(n) => Progress::new(Unit::Calls, n),
    };
    let setup = Setup {
        addr: args.addr.clone(),
        method: plan.workload.method(),
        payload: match args.method {
            MethodArg::Echo => args.payload,
            MethodArg::Ping => 0,
        },
        transport: args.transport.name(),
        connections: plan.connections,
        pipeline: plan.pipeline,
        rate: plan.rate,
        driver: match plan.driver {
            Driver::Threads => "threads",
            Driver::Events => "events",
        },
        retry: plan.retry,
    };
    let outcome = match load::run(Arc::new(plan), &progress) {
        Ok(outcome) => outcome,
        Err(message) => {
            progress.finish();
            eprintln!("tether bench: {message}");
            return ExitCode::FAILURE;
        }
    };
    let report = Report::new(setup, &outcome);
    print!("{}", report.to_text());
    if let Some(path) = &args.json {
        if let Err(e) = std::fs::write(path, report.to_json()) {
            eprintln!("tether bench: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    if report.calls == 0 {
        eprintln!("tether bench: no call succeeded");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Checks the flags and turns them into a plan.
fn plan(args: &BenchArgs) -> Result<Plan, String> {
    if args.connections == 0 {
        return Err("--connections must be at least 1".into());
    }
    if args.pipeline == 0 {
        return Err("--pipeline must be at least 1".into());
    }
    if let Some(rate) = args.rate {
        if !(rate.is_finite() && rate > 0.0) {
            return Err("--rate must be a positive number of calls per second".into());
        }
    }
    if args.driver == DriverArg::Events && (args.rate.is_some() || args.idle_between.is_some()) {
        return Err("--driver events runs a closed loop: no --rate or --idle-between".into());
    }
    if args.rate.is_some() && args.idle_between.is_some() {
        return Err("--idle-between is for the closed loop; --rate already spaces calls".into());
    }
    let bound = match (args.duration, args.requests) {
        (_, Some(0)) => return Err("--requests must be at least 1".into()),
        (_, Some(n)) => Bound::Requests(n),
        (Some(d), None) if d.is_zero() => return Err("--duration must be above 0".into()),
        (Some(d), None) => Bound::Duration(d),
        (None, None) => Bound::Duration(DEFAULT_DURATION),
    };
    Ok(Plan {
        addr: resolve(&args.addr)?,
        codec: Codec::new(args.transport, args.protocol),
        connections: args.connections,
        pipeline: args.pipeline,
        driver: match args.driver {
            DriverArg::Threads => Driver::Threads,
            DriverArg::Events => Driver::Events,
        },
        bound,
        warmup: args.warmup,
        rate: args.rate,
        idle_between: args.idle_between,
        connect_timeout: args.connect_timeout,
        call_timeout: args.timeout,
        retry: !args.no_retry,
        workload: match args.method {
            MethodArg::Echo => Workload::echo(args.payload),
            MethodArg::Ping => Workload::ping(),
        },
    })
}

/// The first address `addr` resolves to.
fn resolve(addr: &str) -> Result<SocketAddr, String> {
    addr.to_socket_addrs()
        .map_err(|e| format!("cannot resolve {addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("{addr} resolves to no address"))
}

#[cfg(test)]
mod tests;
