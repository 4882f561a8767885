//! Settings of the client's connections, pool and multiplexed connection.

use std::time::Duration;

use crate::protocol::Limits;
use crate::transport::{Codec, Keepalive};

/// How one connection is opened and how long its calls may take.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    pub(crate) connect_timeout: Duration,
    pub(crate) call_timeout: Duration,
    pub(crate) codec: Codec,
    pub(crate) nodelay: bool,
    pub(crate) keepalive: Option<Keepalive>,
    pub(crate) limits: Limits,
    pub(crate) retry: bool,
    pub(crate) idle_timeout: Duration,
    pub(crate) retry_budget: Option<RetryBudgetConfig>,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            // 1 s: a loopback or LAN connect takes well under a millisecond; a peer that has not
            // answered a SYN in a second is better tried elsewhere.
            connect_timeout: Duration::from_secs(1),
            // 5 s: above any sane handler time, small enough that a caller learns of a hung
            // server before its own caller gives up.
            call_timeout: Duration::from_secs(5),
            codec: Codec::FRAMED,
            nodelay: true,
            keepalive: Some(Keepalive::default()),
            limits: Limits::default(),
            retry: true,
            // 45 s: below the server's 60 s, so the client drops a connection before the server
            // does and a FIN racing a reuse stays rare (the peek and the retry cover the rest).
            idle_timeout: Duration::from_secs(45),
            retry_budget: Some(RetryBudgetConfig::default()),
        }
    }
}

impl ConnectionConfig {
    /// Sets how long connecting may take, over all addresses the name resolves to.
    /// Defaults to 1 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the deadline of one call, covering all of it: waiting for the connection (its turn,
    /// or a pool slot), connecting, writing the request, reading the reply, and the retry.
    /// Defaults to 5 s.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// Sets the codec: framed (TFramedTransport), unframed (TBufferedTransport) or THeader,
    /// each with the binary or the compact protocol. Defaults to [`Codec::FRAMED`].
    pub fn codec(mut self, codec: Codec) -> Self {
        self.codec = codec;
        self
    }

    /// Sets TCP_NODELAY (send small requests at once instead of waiting up to 40 ms).
    /// Defaults to on.
    pub fn nodelay(mut self, on: bool) -> Self {
        self.nodelay = on;
        self
    }

    /// Sets TCP keepalive probing, or turns it off with `None`.
    /// Defaults to 60 s idle, 10 s interval, 6 probes.
    pub fn keepalive(mut self, keepalive: Option<Keepalive>) -> Self {
        self.keepalive = keepalive;
        self
    }

    /// Sets the limits replies are decoded with. Defaults to [`Limits::default`]
    /// (16,384,000-byte frames, depth 64).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets whether the keep-alive contract's client side is on: a reused connection is checked
    /// for a peer FIN with a non-blocking peek after an idle pause, and a call that failed on a
    /// reused connection before any reply byte arrived (EOF, reset, broken pipe) is retried once
    /// on a fresh connection. Off gives a naive client, to see the stale-connection race it
    /// meets. Defaults to on.
    pub fn retry(mut self, on: bool) -> Self {
        self.retry = on;
        self
    }

    /// Sets how long a connection may sit idle before it is closed instead of reused. Keep it
    /// below the server's idle timeout. Defaults to 45 s (tether's server uses 60 s).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Sets the budget retries draw on, or `None` to let the retry rule alone decide (every
    /// eligible call is retried once). A channel's retries share one budget.
    /// Defaults to [`RetryBudgetConfig::default`] (20% of calls plus 10 per second over 10 s).
    pub fn retry_budget(mut self, budget: Option<RetryBudgetConfig>) -> Self {
        self.retry_budget = budget;
        self
    }
}

/// How many retries a channel may make: a share of its recent calls plus a floor per second,
/// so a fleet that fails every call is not hit with twice its load (Finagle's retry budget).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryBudgetConfig {
    pub(crate) percent: u32,
    pub(crate) min_per_second: u32,
    pub(crate) window: Duration,
}

impl Default for RetryBudgetConfig {
    fn default() -> Self {
        // Finagle's defaults: plenty for stale connections and transient failures (a rolling
        // restart retries a few calls per connection), far below a retry storm's doubling.
        RetryBudgetConfig {
            percent: 20,
            min_per_second: 10,
            window: Duration::from_secs(10),
        }
    }
}

impl RetryBudgetConfig {
    /// Sets the share of calls (in percent, at most 1000) that may be retried, counted over the
    /// window. Defaults to 20.
    pub fn percent(mut self, percent: u32) -> Self {
        // 1000%: Finagle's upper bound; ten retries per call is already no budget at all.
        self.percent = percent.min(1000);
        self
    }

    /// Sets the retries per second allowed on top of the percentage, so a client that has just
    /// started or calls rarely can still retry; 0 for none. Defaults to 10.
    pub fn min_per_second(mut self, n: u32) -> Self {
        self.min_per_second = n;
        self
    }

    /// Sets how long a call's deposit and a retry's withdrawal count, between 1 s and 60 s
    /// (Finagle's bounds: shorter forgets a failure spike at once, longer lets an old quiet
    /// period pay for a new storm). Defaults to 10 s.
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window.clamp(Duration::from_secs(1), Duration::from_secs(60));
        self
    }
}

/// How a [`Pool`](super::Pool) keeps and hands out connections.
///
/// Where a pool setting and a [`ConnectionConfig`] setting overlap (idle timeout, retry, the
/// peek), the pool's setting wins when it was set, whatever the order of the calls; unset, the
/// connection config's applies.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    pub(crate) connection: ConnectionConfig,
    pub(crate) max_idle: usize,
    pub(crate) max_active: usize,
    pub(crate) wait_timeout: Duration,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) max_lifetime: Option<Duration>,
    pub(crate) check_before_reuse: Option<bool>,
    pub(crate) retry: Option<bool>,
    pub(crate) ejection_threshold: u32,
    pub(crate) ejection_time: Duration,
    pub(crate) max_ejection_time: Duration,
    pub(crate) reap_interval: Option<Duration>,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            connection: ConnectionConfig::default(),
            max_idle: 16,
            max_active: 64,
            wait_timeout: Duration::from_secs(1),
            idle_timeout: None,
            max_lifetime: None,
            check_before_reuse: None,
            retry: None,
            // 5 failures, 5 s doubling to 300 s: Finagle's failure accrual defaults. Five in a
            // row tells a dead endpoint from a blip; 5 s lets a restart finish; the doubling
            // stops a long-dead endpoint from costing a connect every 5 s forever.
            ejection_threshold: 5,
            ejection_time: Duration::from_secs(5),
            max_ejection_time: Duration::from_secs(300),
            reap_interval: None,
        }
    }
}

impl PoolConfig {
    /// Sets how each connection is opened and how long calls may take (the call timeout bounds
    /// the whole call: pool wait, connect, write, read and the retry). Defaults to
    /// [`ConnectionConfig::default`].
    pub fn connection(mut self, connection: ConnectionConfig) -> Self {
        self.connection = connection;
        self
    }

    /// Sets how many idle connections the pool keeps, over all endpoints; a connection returned
    /// beyond that is closed. Defaults to 16.
    pub fn max_idle(mut self, n: usize) -> Self {
        self.max_idle = n;
        self
    }

    /// Sets how many connections may be in use at once, over all endpoints; a call beyond that
    /// waits up to the wait timeout for one to be returned. Defaults to 64.
    pub fn max_active(mut self, n: usize) -> Self {
        self.max_active = n.max(1);
        self
    }

    /// Sets how long a call waits for a free connection when max_active are in use (never past
    /// the call timeout). Defaults to 1 s.
    pub fn wait_timeout(mut self, timeout: Duration) -> Self {
        self.wait_timeout = timeout;
        self
    }

    /// Sets how long a connection may sit idle before the pool closes it instead of reusing it,
    /// overriding [`ConnectionConfig::idle_timeout`]. Keep it below the server's idle timeout.
    /// Defaults to the connection config's (45 s; tether's server uses 60 s).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// Sets the age after which a connection is closed when next returned or found idle, or
    /// `None` for no limit. Defaults to `None`.
    pub fn max_lifetime(mut self, lifetime: Option<Duration>) -> Self {
        self.max_lifetime = lifetime;
        self
    }

    /// Sets whether an idle connection is checked with a non-blocking peek before reuse after an
    /// idle pause (a FIN or stray bytes from the peer mean it is discarded), apart from the
    /// retry. Defaults to the connection config's [`retry`](ConnectionConfig::retry) (on).
    pub fn check_before_reuse(mut self, on: bool) -> Self {
        self.check_before_reuse = Some(on);
        self
    }

    /// Sets whether a call that failed on a reused connection before any reply byte arrived
    /// (EOF, reset, broken pipe) is retried once on a fresh connection, apart from the peek.
    /// Defaults to the connection config's [`retry`](ConnectionConfig::retry) (on).
    pub fn retry(mut self, on: bool) -> Self {
        self.retry = Some(on);
        self
    }

    /// Sets how many connect or I/O failures in a row eject an endpoint (a call that failed on
    /// a stale connection under the retry rule does not count). Defaults to 5.
    pub fn ejection_threshold(mut self, failures: u32) -> Self {
        self.ejection_threshold = failures.max(1);
        self
    }

    /// Sets how long an endpoint's first ejection lasts; each further one in a row doubles it
    /// (jittered) up to the max ejection time. When it ends, one call probes the endpoint: a
    /// reply brings it back, a failure ejects it again. Ejected endpoints are skipped unless
    /// every endpoint is. Defaults to 5 s.
    pub fn ejection_time(mut self, time: Duration) -> Self {
        self.ejection_time = time;
        self
    }

    /// Sets the longest an endpoint stays ejected at once. Defaults to 300 s.
    pub fn max_ejection_time(mut self, time: Duration) -> Self {
        self.max_ejection_time = time;
        self
    }

    /// Sets how often a background thread closes idle connections past the idle timeout or the
    /// max lifetime, or `None` for no thread. Either way they are also closed lazily, at the next
    /// checkout or return; the thread only spares the sockets of a pool that sits unused.
    /// Defaults to `None`.
    pub fn reap_interval(mut self, interval: Option<Duration>) -> Self {
        self.reap_interval = interval;
        self
    }

    /// The idle timeout in force: the pool's if set, else the connection config's.
    pub(crate) fn effective_idle_timeout(&self) -> Duration {
        self.idle_timeout.unwrap_or(self.connection.idle_timeout)
    }

    /// Whether the peek before reuse is on: the pool's setting if set, else the retry switch.
    pub(crate) fn effective_check_before_reuse(&self) -> bool {
        self.check_before_reuse.unwrap_or(self.connection.retry)
    }

    /// Whether the retry rule is on: the pool's setting if set, else the connection config's.
    pub(crate) fn effective_retry(&self) -> bool {
        self.retry.unwrap_or(self.connection.retry)
    }
}

/// How a [`MuxConnection`](super::MuxConnection) shares its socket.
#[derive(Debug, Clone)]
pub struct MuxConfig {
    pub(crate) connection: ConnectionConfig,
    pub(crate) max_in_flight: usize,
}

impl Default for MuxConfig {
    fn default() -> Self {
        MuxConfig {
            connection: ConnectionConfig::default(),
            // 1024: far more calls than one socket needs in flight to stay busy (one thread's
            // window of 32 runs 3-10x one call at a time on loopback), yet a stalled server
            // holds at most this many callers waiting.
            max_in_flight: 1024,
        }
    }
}

impl MuxConfig {
    /// Sets how the socket is opened, how long calls may take, and the keep-alive contract's
    /// settings: the idle timeout after which an unused socket is closed, the liveness peek and
    /// retry rule (on or off), and the retry budget all the connection's retries share.
    /// Defaults to [`ConnectionConfig::default`].
    pub fn connection(mut self, connection: ConnectionConfig) -> Self {
        self.connection = connection;
        self
    }

    /// Sets how many calls may await replies at once; a call started beyond that first writes
    /// the queued requests, then waits (within its call timeout) for a reply to arrive or a
    /// pending call to be dropped. Defaults to 1024.
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n.max(1);
        self
    }
}
