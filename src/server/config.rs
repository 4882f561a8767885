//! The server's one configuration struct.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::time::Duration;

use crate::protocol::{Limits, DEFAULT_MAX_DEPTH, DEFAULT_MAX_FRAME};
use crate::transport::{Codec, Keepalive};

/// Settings of a [`Server`](super::Server). Build from [`Config::default`] with the setters.
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) listen: SocketAddr,
    pub(crate) codec: Option<Codec>,
    pub(crate) idle_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) max_requests_per_connection: Option<u64>,
    pub(crate) max_connection_age: Option<Duration>,
    pub(crate) drain_timeout: Duration,
    pub(crate) drain_announce: Duration,
    pub(crate) park_after: Option<Duration>,
    #[cfg(feature = "admin")]
    pub(crate) admin_listen: Option<SocketAddr>,
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
            codec: None,
            // 60 s: below nginx's 75 s and above the client pool's 45 s, so a pooled client
            // always gives up an idle connection before the server closes it.
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            max_requests_per_connection: None,
            max_connection_age: None,
            drain_timeout: Duration::from_secs(30),
            // 0: without a load balancer polling readiness there is nobody to tell; set it to
            // the balancer's check interval x fall count (see docs/operations.md).
            drain_announce: Duration::ZERO,
            // 1 s: a connection in a closed request loop waits microseconds between requests
            // and never parks; one a pool holds for later waits seconds, and after 1 s the
            // ~40 us an unpark costs is noise against the pause it ends.
            park_after: Some(Duration::from_secs(1)),
            #[cfg(feature = "admin")]
            admin_listen: None,
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

    /// Sets the codec every connection must speak, or `None` to detect each connection's
    /// (framed, unframed or THeader; binary or compact) from its first bytes. Defaults to
    /// `None`.
    pub fn codec(mut self, codec: Option<Codec>) -> Self {
        self.codec = codec;
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

    /// Sets the age after which a connection is closed once idle. Each connection's age is this
    /// +-10% at random (gRPC's rule), so connections opened together close spread out.
    /// Defaults to unlimited (`None`).
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

    /// Sets how long a shutdown keeps serving, with readiness reporting 503, before the drain
    /// closes the listener: long enough for a load balancer's health checks to take the
    /// instance out of rotation (its check interval x fall count). A second signal or
    /// [`force`](super::ShutdownHandle::force) cuts it short. Defaults to 0 (drain at once).
    pub fn drain_announce(mut self, announce: Duration) -> Self {
        self.drain_announce = announce;
        self
    }

    /// Sets how long a connection waits Idle on its own thread before it is parked: its socket
    /// goes to the parking loop (one thread for all parked connections, which still enforces
    /// the idle timeout, max age and drain) and its thread becomes a spare or ends; when bytes
    /// arrive, a spare or new worker takes it back. Threads then track busy connections, and
    /// open connections are bounded by the descriptor limit instead of the thread capacity.
    /// `None` keeps one thread per open connection for its whole life; below 1 ms counts as
    /// 1 ms (a worker handed a connection must get to read before it parks it again).
    /// Defaults to 1 s.
    pub fn park_after(mut self, after: Option<Duration>) -> Self {
        self.park_after = after.map(|after| after.max(MIN_PARK_AFTER));
        self
    }

    /// Serves the HTTP admin endpoint on `addr`: `/healthz`, `/readyz` (503 from the moment a
    /// shutdown begins) and `/metrics` (Prometheus text format). It runs on its own thread and
    /// stops with the server; bind it to loopback or an internal interface. Defaults to off
    /// (`None`).
    #[cfg(feature = "admin")]
    pub fn admin_listen(mut self, addr: Option<SocketAddr>) -> Self {
        self.admin_listen = addr;
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

/// The shortest `park_after`: with zero, a worker would park a connection it was just handed
/// for its bytes without reading them, and the two threads would pass it back and forth.
const MIN_PARK_AFTER: Duration = Duration::from_millis(1);

/// How far a connection's max age strays from the configured one: +-10%, gRPC's rule
/// (MAX_CONNECTION_AGE), so connections opened together (a pool's warm-up, a reconnect storm
/// after a restart) do not all close, and reconnect, together.
const MAX_AGE_JITTER: f64 = 0.10;

/// `age` jittered uniformly within +-[`MAX_AGE_JITTER`] for connection `connection_id`.
pub(crate) fn jittered_age(age: Duration, connection_id: u64) -> Duration {
    // RandomState is seeded per process and advanced per instance: a fresh draw each call,
    // with no random-number crate.
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(connection_id);
    // The top 53 bits as a fraction in [0, 1).
    let unit = (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64;
    age.mul_f64(1.0 - MAX_AGE_JITTER + 2.0 * MAX_AGE_JITTER * unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_jitter_stays_within_ten_percent_and_spreads() {
        let age = Duration::from_secs(100);
        let ages: Vec<Duration> = (0..1000).map(|id| jittered_age(age, id)).collect();
        let (low, high) = (Duration::from_secs(90), Duration::from_secs(110));
        assert!(ages.iter().all(|a| (low..=high).contains(a)), "{ages:?}");
        // Spread over the whole range, not clustered: some in each outer fifth.
        assert!(ages.iter().any(|a| *a < Duration::from_secs(94)));
        assert!(ages.iter().any(|a| *a > Duration::from_secs(106)));
        let distinct: std::collections::HashSet<_> = ages.iter().collect();
        assert!(distinct.len() > 990, "{} distinct ages", distinct.len());
    }
}
