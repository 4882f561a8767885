//! Server counters: lock-free while serving, read as a [`StatsSnapshot`].

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Why a connection was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// The peer closed its side.
    PeerEof,
    /// No request began within the idle timeout.
    Idle,
    /// The connection served its maximum number of requests.
    MaxRequests,
    /// The connection reached its maximum age.
    MaxAge,
    /// The server is draining.
    Drain,
    /// The drain deadline passed (or a second signal came) with the connection still busy.
    Forced,
    /// The peer sent bytes that are not a valid request.
    ProtocolError,
    /// The socket failed.
    IoError,
    /// A request did not arrive whole within the request timeout.
    RequestTimeout,
    /// A reply could not be written within the write timeout.
    WriteTimeout,
}

impl CloseReason {
    /// Every reason, in counter order.
    pub const ALL: [CloseReason; 10] = [
        CloseReason::PeerEof,
        CloseReason::Idle,
        CloseReason::MaxRequests,
        CloseReason::MaxAge,
        CloseReason::Drain,
        CloseReason::Forced,
        CloseReason::ProtocolError,
        CloseReason::IoError,
        CloseReason::RequestTimeout,
        CloseReason::WriteTimeout,
    ];

    fn index(self) -> usize {
        self as usize
    }

    /// A short name for logs.
    pub fn name(self) -> &'static str {
        match self {
            CloseReason::PeerEof => "peer_eof",
            CloseReason::Idle => "idle",
            CloseReason::MaxRequests => "max_requests",
            CloseReason::MaxAge => "max_age",
            CloseReason::Drain => "drain",
            CloseReason::Forced => "forced",
            CloseReason::ProtocolError => "protocol_error",
            CloseReason::IoError => "io_error",
            CloseReason::RequestTimeout => "request_timeout",
            CloseReason::WriteTimeout => "write_timeout",
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Shards of the per-request counters. Workers of different connections mostly update
/// different shards, so they do not bounce one cache line between cores on every request.
const SHARDS: usize = 16;

/// How a routed request ended, for the per-method counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A reply was sent (a result or an exception the IDL declares).
    Ok,
    /// A oneway request was handled (no reply).
    Oneway,
    /// The arguments could not be decoded: PROTOCOL_ERROR and the connection closed.
    BadArguments,
    /// The handler panicked: INTERNAL_ERROR.
    Panic,
}

// The names and sums serve the admin endpoint's metrics.
#[cfg_attr(not(feature = "admin"), allow(dead_code))]
impl Outcome {
    /// Every outcome, in counter order.
    pub const ALL: [Outcome; 4] = [
        Outcome::Ok,
        Outcome::Oneway,
        Outcome::BadArguments,
        Outcome::Panic,
    ];

    /// The label value in metrics.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Oneway => "oneway",
            Outcome::BadArguments => "bad_arguments",
            Outcome::Panic => "panic",
        }
    }
}

/// Upper bounds of the request latency buckets, in microseconds: 50 us (a loopback echo) to
/// 10 s (the default request timeout), about three per decade as Prometheus's defaults.
pub(crate) const LATENCY_BOUNDS_US: [u64; 16] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 10_000_000,
];

/// A latency histogram made of atomics: recording is two relaxed adds, reading sums them.
#[derive(Debug, Default)]
pub(crate) struct Latency {
    /// Requests per bucket of [`LATENCY_BOUNDS_US`]; the last counts those above every bound.
    buckets: [AtomicU64; LATENCY_BOUNDS_US.len() + 1],
    sum_us: AtomicU64,
}

impl Latency {
    /// Counts `requests` requests that each took `took`.
    pub fn record(&self, took: Duration, requests: u64) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let bucket = LATENCY_BOUNDS_US.partition_point(|&bound| bound < us);
        self.buckets[bucket].fetch_add(requests, Relaxed);
        self.sum_us.fetch_add(us.saturating_mul(requests), Relaxed);
    }
}

/// A latency histogram summed over shards: per-bucket counts (not cumulative) and the total.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(not(feature = "admin"), allow(dead_code))]
pub(crate) struct LatencySnapshot {
    pub buckets: [u64; LATENCY_BOUNDS_US.len() + 1],
    pub sum_us: u64,
}

#[cfg_attr(not(feature = "admin"), allow(dead_code))]
impl LatencySnapshot {
    /// Requests recorded.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }
}

/// One method's requests by [`Outcome`], on cache lines of its own: the shards' method arrays
/// are separate allocations that could otherwise sit side by side on one line.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct MethodCounters([AtomicU64; Outcome::ALL.len()]);

#[cfg_attr(not(feature = "admin"), allow(dead_code))]
impl MethodCounters {
    pub fn count(&self, outcome: Outcome) -> u64 {
        self.0[outcome as usize].load(Relaxed)
    }
}

/// The live counters.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub accepted: AtomicU64,
    pub active: AtomicU64,
    pub rejected: AtomicU64,
    pub accept_errors: AtomicU64,
    pub spawn_failures: AtomicU64,
    pub thread_capacity: AtomicU64,
    /// Connections without a thread now: parked, new and waiting for bytes, or waiting for a
    /// thread after bytes came.
    pub parked: AtomicU64,
    /// Times a connection was handed to the parking loop.
    pub parks: AtomicU64,
    /// Times a worker took a parked connection back.
    pub unparks: AtomicU64,
    /// Worker threads with no connection, waiting for one.
    pub spare_threads: AtomicU64,
    closed: [AtomicU64; 10],
    shards: [RequestCounters; SHARDS],
}

/// The counters a request updates: one shard of them, on cache lines of its own.
///
/// Every update is immediately visible to [`Stats::snapshot`], which sums the shards: nothing
/// is batched, so a snapshot is as current as it was with single counters. As before, the
/// counters are read one by one, not as one atomic picture.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct RequestCounters {
    pub busy: AtomicU64,
    pub requests: AtomicU64,
    pub oneway: AtomicU64,
    pub exceptions: AtomicU64,
    pub panics: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    /// Requests whose method no service has.
    pub unknown_methods: AtomicU64,
    /// Handling time of requests, from the read that completed them to their reply's write.
    pub latency: Latency,
    /// Per method slot of the router (see `Router::method_slots`), by outcome.
    pub methods: Box<[MethodCounters]>,
}

impl RequestCounters {
    /// Counts a routed request's `outcome` for method `slot`.
    pub fn count_method(&self, slot: usize, outcome: Outcome) {
        if let Some(method) = self.methods.get(slot) {
            method.0[outcome as usize].fetch_add(1, Relaxed);
        }
    }
}

/// The readers of the per-method and latency counters, which only the admin endpoint's
/// metrics show.
#[cfg_attr(not(feature = "admin"), allow(dead_code))]
impl Stats {
    /// Requests per method slot and outcome, summed over shards.
    pub fn method_counts(&self) -> Vec<[u64; Outcome::ALL.len()]> {
        let slots = self.shards[0].methods.len();
        let mut counts = vec![[0; Outcome::ALL.len()]; slots];
        for shard in &self.shards {
            for (sum, method) in counts.iter_mut().zip(shard.methods.iter()) {
                for (slot, outcome) in sum.iter_mut().zip(Outcome::ALL) {
                    *slot += method.count(outcome);
                }
            }
        }
        counts
    }

    /// Requests for methods no service has.
    pub fn unknown_methods(&self) -> u64 {
        self.shards
            .iter()
            .map(|shard| shard.unknown_methods.load(Relaxed))
            .sum()
    }

    /// The latency histogram, summed over shards.
    pub fn latency(&self) -> LatencySnapshot {
        let mut snapshot = LatencySnapshot::default();
        for shard in &self.shards {
            for (sum, bucket) in snapshot.buckets.iter_mut().zip(&shard.latency.buckets) {
                *sum += bucket.load(Relaxed);
            }
            snapshot.sum_us += shard.latency.sum_us.load(Relaxed);
        }
        snapshot
    }
}

impl Stats {
    /// Counters for a router with `method_slots` methods.
    pub fn new(method_slots: usize) -> Stats {
        let mut stats = Stats::default();
        for shard in &mut stats.shards {
            shard.methods = (0..method_slots)
                .map(|_| MethodCounters::default())
                .collect();
        }
        stats
    }

    pub fn count_close(&self, reason: CloseReason) {
        self.closed[reason.index()].fetch_add(1, Relaxed);
    }

    /// The shard of request counters for connection `connection_id`.
    pub fn shard(&self, connection_id: u64) -> &RequestCounters {
        &self.shards[(connection_id % SHARDS as u64) as usize]
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        let mut closed = [0; 10];
        for (slot, counter) in closed.iter_mut().zip(&self.closed) {
            *slot = counter.load(Relaxed);
        }
        let sum = |field: fn(&RequestCounters) -> &AtomicU64| -> u64 {
            self.shards
                .iter()
                .map(|shard| field(shard).load(Relaxed))
                .fold(0, u64::wrapping_add)
        };
        StatsSnapshot {
            accepted: self.accepted.load(Relaxed),
            active: self.active.load(Relaxed),
            busy: sum(|s| &s.busy),
            rejected: self.rejected.load(Relaxed),
            accept_errors: self.accept_errors.load(Relaxed),
            spawn_failures: self.spawn_failures.load(Relaxed),
            thread_capacity: self.thread_capacity.load(Relaxed),
            parked: self.parked.load(Relaxed),
            parks: self.parks.load(Relaxed),
            unparks: self.unparks.load(Relaxed),
            spare_threads: self.spare_threads.load(Relaxed),
            closed,
            requests: sum(|s| &s.requests),
            oneway: sum(|s| &s.oneway),
            exceptions: sum(|s| &s.exceptions),
            panics: sum(|s| &s.panics),
            bytes_in: sum(|s| &s.bytes_in),
            bytes_out: sum(|s| &s.bytes_out),
        }
    }
}

/// The server's counters at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections open now.
    pub active: u64,
    /// Connections with a request in hand now (the rest of `active` are Idle).
    pub busy: u64,
    /// Accepted connections closed without being served (socket setup or thread spawn failed).
    pub rejected: u64,
    /// accept() failures (EMFILE, ENFILE, ...).
    pub accept_errors: u64,
    /// Worker threads that could not be started; each connection waited and was retried.
    pub spawn_failures: u64,
    /// Worker threads the process can hold, derived at start from the kernel's limits
    /// (`u64::MAX` when nothing limits it). Worker threads never exceed it; without idle
    /// parking, connections are capped at the smaller of this and max_connections.
    pub thread_capacity: u64,
    /// Connections without a thread now (part of `active`): parked idle ones, new ones waiting
    /// for their first bytes, and those whose bytes arrived and that wait for a thread.
    pub parked: u64,
    /// Times an idle connection was handed to the parking loop by its worker (a new connection
    /// held there until its first bytes arrive, when no spare thread waits, is in `parked` but
    /// not counted here).
    pub parks: u64,
    /// Times a worker took a parked connection back to read a request.
    pub unparks: u64,
    /// Worker threads kept spare, without a connection, now.
    pub spare_threads: u64,
    closed: [u64; 10],
    /// Requests handled, oneway included.
    pub requests: u64,
    /// Oneway requests handled.
    pub oneway: u64,
    /// TApplicationExceptions sent (unknown method, handler panic, undecodable arguments).
    pub exceptions: u64,
    /// Handler panics caught.
    pub panics: u64,
    /// Bytes read from peers.
    pub bytes_in: u64,
    /// Bytes written to peers.
    pub bytes_out: u64,
}

impl StatsSnapshot {
    /// Connections closed for `reason`.
    pub fn closed(&self, reason: CloseReason) -> u64 {
        self.closed[reason.index()]
    }

    /// Connections closed for any reason.
    pub fn closed_total(&self) -> u64 {
        self.closed.iter().sum()
    }
}

impl fmt::Display for StatsSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "accepted={} active={} busy={} parked={} parks={} unparks={} spare_threads={} \
             rejected={} accept_errors={} spawn_failures={} requests={} oneway={} exceptions={} \
             panics={} bytes_in={} bytes_out={} closed:",
            self.accepted,
            self.active,
            self.busy,
            self.parked,
            self.parks,
            self.unparks,
            self.spare_threads,
            self.rejected,
            self.accept_errors,
            self.spawn_failures,
            self.requests,
            self.oneway,
            self.exceptions,
            self.panics,
            self.bytes_in,
            self.bytes_out
        )?;
        for reason in CloseReason::ALL {
            write!(f, " {}={}", reason.name(), self.closed(reason))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_sums_every_shard() {
        let stats = Stats::default();
        for id in 0..(3 * SHARDS as u64) {
            let shard = stats.shard(id);
            shard.requests.fetch_add(1, Relaxed);
            shard.bytes_in.fetch_add(10, Relaxed);
            shard.busy.fetch_add(1, Relaxed);
        }
        // Two connections on different shards: one goes idle, the other stays busy.
        stats.shard(1).busy.fetch_sub(1, Relaxed);
        stats.shard(2).oneway.fetch_add(1, Relaxed);
        let snapshot = stats.snapshot();
        assert_eq!(snapshot.requests, 3 * SHARDS as u64);
        assert_eq!(snapshot.bytes_in, 30 * SHARDS as u64);
        assert_eq!(snapshot.busy, 3 * SHARDS as u64 - 1);
        assert_eq!(snapshot.oneway, 1);
        assert!(!std::ptr::eq(stats.shard(1), stats.shard(2)));
    }

    #[test]
    fn latency_lands_in_the_first_bucket_not_below_it() {
        let stats = Stats::default();
        stats.shard(0).latency.record(Duration::from_micros(50), 1);
        stats.shard(1).latency.record(Duration::from_micros(51), 2);
        stats.shard(2).latency.record(Duration::from_secs(60), 1);
        let latency = stats.latency();
        assert_eq!(latency.buckets[0], 1, "50 us is within the 50 us bucket");
        assert_eq!(latency.buckets[1], 2);
        assert_eq!(
            latency.buckets[LATENCY_BOUNDS_US.len()],
            1,
            "above every bound"
        );
        assert_eq!(latency.count(), 4);
        assert_eq!(latency.sum_us, 50 + 2 * 51 + 60_000_000);
    }

    #[test]
    fn method_counts_sum_shards_and_ignore_unknown_slots() {
        let stats = Stats::new(2);
        stats.shard(0).count_method(1, Outcome::Ok);
        stats.shard(5).count_method(1, Outcome::Ok);
        stats.shard(7).count_method(0, Outcome::Panic);
        stats.shard(7).count_method(9, Outcome::Ok);
        let counts = stats.method_counts();
        assert_eq!(counts.len(), 2);
        assert_eq!(counts[1][Outcome::Ok as usize], 2);
        assert_eq!(counts[0][Outcome::Panic as usize], 1);
        assert_eq!(counts[0][Outcome::Ok as usize], 0);
    }
}
