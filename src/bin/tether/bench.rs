//! `tether bench`: a Thrift load generator for the Echo service.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::units::{parse_bytes, parse_duration};

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
    /// Calls in flight per connection (multiplexed connection when above 1).
    #[arg(long, default_value_t = 1)]
    pub pipeline: usize,
    /// Open loop at this many calls per second in total, latency from the scheduled send time.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Transport to use.
    #[arg(long, value_enum, default_value_t = BenchTransportArg::Framed)]
    pub transport: BenchTransportArg,
    /// Pause between calls on each connection.
    #[arg(long, value_parser = parse_duration)]
    pub idle_between: Option<Duration>,
    /// Write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// `--method` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    /// echo(payload) -> payload.
    Echo,
    /// ping() -> void.
    Ping,
}

/// `--transport` values of `tether bench`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchTransportArg {
    /// TFramedTransport.
    Framed,
    /// TBufferedTransport.
    Unframed,
}

/// Runs the load test and prints the report.
pub fn run(args: BenchArgs) -> ExitCode {
    eprintln!("tether bench: not built yet ({args:?})");
    ExitCode::FAILURE
}
