//! `tether serve`: the Echo service on a tether server.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use tether::server::{drain_on_signals, Config, DrainReport, Router, Server};
use tether::services::echo::EchoProcessor;
use tether::transport::Codec;
use tether::EchoService;

use crate::units::{parse_bytes, parse_duration};

/// Flags of `tether serve`; unset ones take the server Config's defaults.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (printed on stdout).
    #[arg(long, default_value = "127.0.0.1:9090")]
    pub listen: SocketAddr,
    /// Transport: auto detects framed, unframed or THeader per connection.
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
    /// Serve HTTP /healthz, /readyz and /metrics on this address (default off).
    #[arg(long)]
    pub admin_listen: Option<SocketAddr>,
    /// On SIGTERM, keep serving this long while /readyz answers 503, then drain (default 0s).
    #[arg(long, value_parser = parse_duration)]
    pub drain_announce: Option<Duration>,
    /// Park a connection idle this long: its thread is freed until bytes arrive (default 1s).
    #[arg(long, value_parser = parse_duration)]
    pub park_after: Option<Duration>,
    /// Keep one thread per open connection instead of parking idle ones.
    #[arg(long, conflicts_with = "park_after")]
    pub no_park: bool,
}

/// `--transport` values of `tether serve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TransportArg {
    /// Detect framed, unframed or THeader per connection.
    Auto,
    /// TFramedTransport only.
    Framed,
    /// TBufferedTransport only.
    Unframed,
    /// THeader only.
    Header,
}

impl TransportArg {
    /// The codec every connection must speak; `None` (auto) detects each connection's.
    fn codec(self) -> Option<Codec> {
        match self {
            TransportArg::Auto => None,
            TransportArg::Framed => Some(Codec::FRAMED),
            TransportArg::Unframed => Some(Codec::UNFRAMED),
            TransportArg::Header => Some(Codec::HEADER),
        }
    }
}

/// The server Config for these flags: set flags override the defaults.
fn config(args: &ServeArgs) -> Config {
    let mut config = Config::default()
        .listen(args.listen)
        .codec(args.transport.codec())
        .reuse_port(args.reuse_port)
        .stats_interval(args.stats_interval);
    if let Some(t) = args.idle_timeout {
        config = config.idle_timeout(t);
    }
    if let Some(t) = args.request_timeout {
        config = config.request_timeout(t);
    }
    if let Some(t) = args.write_timeout {
        config = config.write_timeout(t);
    }
    if let Some(n) = args.max_connections {
        config = config.max_connections(n);
    }
    if args.max_requests.is_some() {
        config = config.max_requests_per_connection(args.max_requests);
    }
    if args.max_connection_age.is_some() {
        config = config.max_connection_age(args.max_connection_age);
    }
    if let Some(t) = args.drain_timeout {
        config = config.drain_timeout(t);
    }
    if let Some(bytes) = args.max_frame {
        config = config.max_frame(bytes);
    }
    if let Some(t) = args.drain_announce {
        config = config.drain_announce(t);
    }
    if args.no_park {
        config = config.park_after(None);
    } else if args.park_after.is_some() {
        config = config.park_after(args.park_after);
    }
    config_admin(config, args)
}

#[cfg(feature = "admin")]
fn config_admin(config: Config, args: &ServeArgs) -> Config {
    config.admin_listen(args.admin_listen)
}

/// Without the `admin` feature the flag is still parsed (the CLI is a contract) but refused
/// in `serve`.
#[cfg(not(feature = "admin"))]
fn config_admin(config: Config, _: &ServeArgs) -> Config {
    config
}

/// Runs the server until a signal drains it; exit code 0 after a clean drain, 1 when the drain
/// had to force connections closed or the server could not start.
pub fn run(args: ServeArgs) -> ExitCode {
    match serve(&args) {
        Ok(report) if report.is_clean() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("tether serve: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: &ServeArgs) -> io::Result<DrainReport> {
    if cfg!(not(feature = "admin")) && args.admin_listen.is_some() {
        return Err(io::Error::other(
            "--admin-listen needs tether built with the `admin` feature",
        ));
    }
    let router = Router::new().service(EchoProcessor::new(EchoService));
    let server = Server::bind(config(args), router)?;
    if args.no_park {
        log::info!(
            "serving at most {} connections at once (--max-connections or the thread \
             capacity, whichever is smaller)",
            server.connection_cap()
        );
    } else {
        log::info!(
            "holding at most {} connections open at once (--max-connections or the descriptor \
             limit, whichever is smaller); idle ones park without a thread",
            server.connection_cap()
        );
    }
    drain_on_signals(server.handle())?;
    // The contract with scripts and tests: this is the first stdout line, flushed at once.
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "listening on {}", server.local_addr())?;
    if let Some(addr) = server.admin_addr() {
        writeln!(stdout, "admin on http://{addr}")?;
    }
    stdout.flush()?;
    drop(stdout);
    server.run()
}
