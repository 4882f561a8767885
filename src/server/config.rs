//! The server's one configuration struct.

use std::net::SocketAddr;
use std::time::Duration;

use crate::protocol::{Limits, DEFAULT_MAX_DEPTH, DEFAULT_MAX_FRAME};
use crate::transport::Keepalive;

/// How the server tells where messages end on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// Detect framed or unframed from each connection's first bytes.
    Auto,
    /// TFramedTransport only.
    Framed,
    /// TBufferedTransport (no frame prefix) only.
    Unframed,
}

/// Settings of a [`Server`](super::Server). Build from [`Config::default`] with the setters.
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) listen: SocketAddr,
    pub(crate) transport: Transport,
    pub(crate) idle_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) max_requests_per_connection: Option<u64>,
    pub(crate) max_connection_age: Option<Duration>,
    pub(crate) drain_timeout: Duration,
    pub(crate) limits: Limits,
    pub(crate) tcp_nodelay: bool,
    pub(crate) tcp_keepalive: Option<Keepalive>,
    pub(crate) reuse_port: bool,
    pub(crate) backlog: i32,
    pub(crate) stats_interval: Option<Duration>,
    pub(crate) worker_stack_size: usize,
    pub(crate) read_buffer_size: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 9090)),
            transport: Transport::Auto,
            // 60 s: below nginx's 75 s and above the client pool's 45 s, so a pooled client
            // always gives up an idle connection before the server closes it.
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            max_requests_per_connection: None,
            max_connection_age: None,
            drain_timeout: Duration::from_secs(30),
            limits: Limits::default()
                .max_frame(DEFAULT_MAX_FRAME)
                .max_depth(DEFAULT_MAX_DEPTH),
            tcp_nodelay: true,
            tcp_keepalive: Some(Keepalive::default()),
            reuse_port: false,
            // 1024: absorbs a reconnect storm of a large pool while the accept loop catches up;
            // the kernel caps it at net.core.somaxconn anyway.
            backlog: 1024,
            stats_interval: None,
            // 256 KiB: a worker's deepest path is a depth-64 decode or skip (a few hundred bytes
            // per level) plus the handler; 2 MiB (Rust's default) would reserve 20 GB of
            // address space for 10,000 connections. Handlers that recurse deeply can raise it.
            worker_stack_size: 256 << 10,
            // 4 KiB: one read takes a typical request whole; 1,000 idle connections cost 4 MB.
            read_buffer_size: 4 << 10,
        }
    }
}

impl Config {
    /// Sets the address to listen on; port 0 picks a free port. Defaults to 127.0.0.1:9090.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Sets how messages are delimited. Defaults to [`Transport::Auto`].
    pub fn transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }

    /// Sets how long a connection may wait for the first byte of a request before it is
    /// closed. Defaults to 60 s.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Sets the deadline for a whole request, counted from its first byte; bytes trickling in
    /// do not extend it. Defaults to 10 s.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets the deadline for writing a reply. Defaults to 10 s.
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout;
        self
    }

    /// Sets the most open connections; at the cap, accepting pauses until one closes.
    /// Defaults to 10,000.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max.max(1);
        self
    }

    /// Sets how many requests a connection serves before it is closed (when idle).
    /// Defaults to unlimited (`None`).
    pub fn max_requests_per_connection(mut self, max: Option<u64>) -> Self {
        self.max_requests_per_connection = max;
        self
    }

    /// Sets the age after which a connection is closed once idle. Defaults to unlimited (`None`).
    pub fn max_connection_age(mut self, age: Option<Duration>) -> Self {
        self.max_connection_age = age;
        self
    }

    /// Sets how long a graceful drain may take before remaining connections are forced closed.
    /// Defaults to 30 s.
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }

    /// Sets the largest frame (or unframed message) in bytes. Defaults to 16,384,000.
    pub fn max_frame(mut self, bytes: usize) -> Self {
        self.limits = self.limits.max_frame(bytes);
        self
    }

    /// Sets the decoding limits (frame size, depth, string and container caps). Defaults to
    /// [`Limits::default`]: 16,384,000-byte frames, depth 64.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets TCP_NODELAY on accepted sockets. Defaults to on.
    pub fn tcp_nodelay(mut self, on: bool) -> Self {
        self.tcp_nodelay = on;
        self
    }

    /// Sets TCP keepalive probing on accepted sockets. Defaults to 60 s idle, 10 s interval,
    /// 6 probes.
    pub fn tcp_keepalive(mut self, keepalive: Option<Keepalive>) -> Self {
        self.tcp_keepalive = keepalive;
        self
    }

    /// Sets SO_REUSEPORT so a new instance can bind beside an old one. Defaults to off.
    pub fn reuse_port(mut self, on: bool) -> Self {
        self.reuse_port = on;
        self
    }

    /// Sets the listen backlog. Defaults to 1024.
    pub fn backlog(mut self, backlog: i32) -> Self {
        self.backlog = backlog;
        self
    }

    /// Logs a stats snapshot at this interval. Defaults to off (`None`).
    pub fn stats_interval(mut self, interval: Option<Duration>) -> Self {
        self.stats_interval = interval;
        self
    }

    /// Sets each connection worker thread's stack size in bytes. Defaults to 256 KiB.
    pub fn worker_stack_size(mut self, bytes: usize) -> Self {
        self.worker_stack_size = bytes;
        self
    }

    /// Sets the initial size of each connection's read buffer; it grows with the bytes received
    /// and shrinks back once idle. Defaults to 4 KiB.
    pub fn read_buffer_size(mut self, bytes: usize) -> Self {
        self.read_buffer_size = bytes.max(16);
        self
    }

    /// The address to listen on.
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen
    }
}
