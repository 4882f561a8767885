//! Server counters: lock-free while serving, read as a [`StatsSnapshot`].

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

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

/// The live counters.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub accepted: AtomicU64,
    pub active: AtomicU64,
    pub rejected: AtomicU64,
    pub accept_errors: AtomicU64,
    pub spawn_failures: AtomicU64,
    pub thread_capacity: AtomicU64,
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
}

impl Stats {
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
    /// (`u64::MAX` when nothing limits it); connections are capped at the smaller of this and
    /// max_connections.
    pub thread_capacity: u64,
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
            "accepted={} active={} busy={} rejected={} accept_errors={} spawn_failures={} \
             requests={} oneway={} exceptions={} panics={} bytes_in={} bytes_out={} closed:",
            self.accepted,
            self.active,
            self.busy,
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
}
