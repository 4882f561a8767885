//! `tether serve`: the Echo service on a tether server.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::units::{parse_bytes, parse_duration};

/// Flags of `tether serve`; unset ones take the server Config's defaults.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (printed on stdout).
    #[arg(long, default_value = "127.0.0.1:9090")]
    pub listen: SocketAddr,
    /// Transport: auto detects framed or unframed per connection.
    #[arg(long, value_enum, default_value_t = TransportArg::Auto)]
    pub transport: TransportArg,
    /// Close a connection idle this long (default 60s).
    #[arg(long, value_parser = parse_duration)]
    pub idle_timeout: Option<Duration>,
    /// Deadline for a whole request once its first byte arrived (default 10s).
    #[arg(long, value_parser = parse_duration)]
    pub request_timeout: Option<Duration>,
    /// Deadline for writing a reply (default 10s).
    #[arg(long, value_parser = parse_duration)]
    pub write_timeout: Option<Duration>,
    /// Most open connections; at the cap, accepting pauses (default 10000).
    #[arg(long)]
    pub max_connections: Option<usize>,
    /// Close a connection after this many requests (default unlimited).
    #[arg(long)]
    pub max_requests: Option<u64>,
    /// Close a connection older than this once idle (default unlimited).
    #[arg(long, value_parser = parse_duration)]
    pub max_connection_age: Option<Duration>,
    /// How long a graceful drain may take before forcing (default 30s).
    #[arg(long, value_parser = parse_duration)]
    pub drain_timeout: Option<Duration>,
    /// Largest frame in bytes (default 16384000).
    #[arg(long, value_parser = parse_bytes)]
    pub max_frame: Option<usize>,
    /// Set SO_REUSEPORT so a new instance can bind beside an old one during a restart.
    #[arg(long)]
    pub reuse_port: bool,
    /// Log server statistics at this interval (default off).
    #[arg(long, value_parser = parse_duration)]
    pub stats_interval: Option<Duration>,
}

/// `--transport` values of `tether serve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TransportArg {
    /// Detect framed or unframed per connection.
    Auto,
    /// TFramedTransport only.
    Framed,
    /// TBufferedTransport only.
    Unframed,
}

/// Runs the server until a signal drains it.
pub fn run(args: ServeArgs) -> ExitCode {
    eprintln!("tether serve: not built yet ({args:?})");
    ExitCode::FAILURE
}
