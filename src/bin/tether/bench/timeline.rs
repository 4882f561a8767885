//! The run's shared clock and phase boundaries (warmup, measured phase, end), the attempt count
//! of `--requests`, and what each load thread records into them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use parking_lot::Mutex;

use super::plan::Bound;
use super::workload::ErrorKind;

/// Not set yet, for the shared phase boundaries.
const NOT_YET: u64 = u64::MAX;
/// Longest single sleep of a load thread, so it notices the end of the run promptly.
const SLEEP_SLICE: Duration = Duration::from_millis(50);
/// Pause after a failed connect so a refusing server is not hammered in a hot loop.
pub const RECONNECT_PAUSE: Duration = Duration::from_millis(10);
/// Latencies are recorded in nanoseconds up to a minute, to three significant digits.
const MAX_LATENCY_NS: u64 = 60_000_000_000;
/// Load threads share this many latency histograms (~220 KB each). One per thread would make
/// 1,000 threads fault in up to 220 MB during the run, and page faults of many threads contend
/// on the process's memory map lock: the client would stall itself and report it as latency.
const LATENCY_SHARDS: usize = 16;

/// The phase boundaries and counters every load thread reads.
#[derive(Debug)]
pub struct Timeline {
    pub(super) base: Instant,
    pub(super) start_ns: AtomicU64,
    pub(super) end_ns: AtomicU64,
    attempts: AtomicU64,
    attempt_limit: u64,
    pub(super) calls: AtomicU64,
    pub(super) errors: AtomicU64,
    pub(super) latency_ns: Vec<Mutex<Histogram<u64>>>,
}

/// An empty histogram with the bounds every latency shard uses.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3).expect("valid histogram bounds")
}

impl Timeline {
    /// A timeline that starts now, for a run bounded by `bound`.
    pub fn new(bound: Bound) -> Timeline {
        Timeline {
            base: Instant::now(),
            start_ns: AtomicU64::new(NOT_YET),
            end_ns: AtomicU64::new(NOT_YET),
            attempts: AtomicU64::new(0),
            attempt_limit: match bound {
                Bound::Requests(n) => n,
                Bound::Duration(_) => u64::MAX,
            },
            calls: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            latency_ns: (0..LATENCY_SHARDS)
                .map(|_| Mutex::new(latency_histogram()))
                .collect(),
        }
    }

    /// Nanoseconds since the run began.
    pub fn now_ns(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }

    /// Whether a call begun at `at_ns` belongs to the measured phase.
    pub fn measuring_at(&self, at_ns: u64) -> bool {
        at_ns >= self.start_ns.load(Ordering::Acquire)
    }

    /// Whether the run is over at `at_ns`.
    pub fn ended_at(&self, at_ns: u64) -> bool {
        at_ns >= self.end_ns.load(Ordering::Acquire)
    }

    /// Claims one measured attempt; false once `--requests` are used up. Calls already in
    /// flight then still finish and count, so the phase has exactly that many attempts.
    pub fn take_attempt(&self) -> bool {
        self.attempts.fetch_add(1, Ordering::Relaxed) < self.attempt_limit
    }

    /// Whether every `--requests` attempt is claimed: no call may start any more, so a thread
    /// has nothing to pause for.
    pub fn attempts_used_up(&self) -> bool {
        self.attempts.load(Ordering::Relaxed) >= self.attempt_limit
    }

    /// When the measured phase ended (`--duration`), if it has.
    pub fn end_ns(&self) -> Option<u64> {
        Some(self.end_ns.load(Ordering::Acquire)).filter(|&end| end != NOT_YET)
    }

    /// When the measured phase started, if it has.
    pub fn start_ns(&self) -> Option<u64> {
        Some(self.start_ns.load(Ordering::Acquire)).filter(|&start| start != NOT_YET)
    }

    /// Sleeps until `at_ns` in short slices; false if the run ended meanwhile.
    pub fn sleep_until(&self, at_ns: u64) -> bool {
        loop {
            let now = self.now_ns();
            if self.ended_at(now) {
                return false;
            }
            if now >= at_ns {
                return true;
            }
            thread::sleep(Duration::from_nanos(at_ns - now).min(SLEEP_SLICE));
        }
    }
}

/// What one load thread recorded.
pub struct ThreadStats {
    pub(super) connection: usize,
    latency_shard: usize,
    pub(super) calls: u64,
    pub(super) errors: BTreeMap<ErrorKind, u64>,
    /// Failures to open the connections before the load began, kept apart from the
    /// measured errors (events driver; the threads driver connects before it starts threads).
    pub(super) setup_errors: BTreeMap<ErrorKind, u64>,
    pub(super) last_done_ns: u64,
}

impl ThreadStats {
    /// Stats of `connection`, kept by load thread `thread_index`.
    pub fn new(thread_index: usize, connection: usize) -> ThreadStats {
        ThreadStats {
            connection,
            latency_shard: thread_index % LATENCY_SHARDS,
            calls: 0,
            errors: BTreeMap::new(),
            setup_errors: BTreeMap::new(),
            last_done_ns: 0,
        }
    }
}

/// Records a call that began (or was scheduled) at `begin_ns` and ended at `done_ns`, if it
/// belongs to the measured phase: it began inside it, however late it ended. A call still in
/// flight when the phase ends is waited for (up to its timeout) and counts, so a server that
/// stalls near the end shows as latency and errors instead of a clean run.
pub fn record(
    timeline: &Timeline,
    stats: &mut ThreadStats,
    begin_ns: u64,
    done_ns: u64,
    result: Result<(), ErrorKind>,
) {
    if !timeline.measuring_at(begin_ns) || timeline.ended_at(begin_ns) {
        return;
    }
    stats.last_done_ns = stats.last_done_ns.max(done_ns);
    match result {
        Ok(()) => {
            stats.calls += 1;
            timeline.latency_ns[stats.latency_shard]
                .lock()
                .saturating_record((done_ns - begin_ns).max(1));
            timeline.calls.fetch_add(1, Ordering::Relaxed);
        }
        Err(kind) => {
            *stats.errors.entry(kind).or_default() += 1;
            timeline.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Records `count` open-loop calls that were due in the measured phase but never sent, because
/// the thread was still waiting on an earlier call when the phase ended.
pub fn record_unsent(timeline: &Timeline, stats: &mut ThreadStats, count: u64) {
    if count > 0 {
        *stats.errors.entry(ErrorKind::Late).or_default() += count;
        timeline.errors.fetch_add(count, Ordering::Relaxed);
    }
}

/// Waits a little after a failed connect, so a refusing server is not hammered in a hot loop.
pub fn pause_after_connect_failure(timeline: &Timeline) {
    timeline.sleep_until(timeline.now_ns() + RECONNECT_PAUSE.as_nanos() as u64);
}
