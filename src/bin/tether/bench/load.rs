//! The load loops: threads bound to connections, stopping by themselves at the run's bound.
//!
//! Two drivers. Threads (tether's client): closed loop, a thread per connection sends its next
//! call when the previous reply is in; with `--pipeline P` above 1 that thread keeps a window of
//! P pending calls on a `MuxConnection` (start until P are in flight, wait for the oldest, start
//! more), so one thread drives a whole pipelined connection. Open loop (`--rate`), each thread
//! owns a fixed schedule (`--pipeline P` threads share each connection) and measures latency
//! from the time a call was *scheduled*, not sent, so a stalled server shows up as latency
//! instead of hiding as fewer samples (the coordinated-omission correction of wrk2). Events (events.rs): a few event loops
//! drive every connection, closed loop with P calls in flight each.
//!
//! The timeline is shared: threads connect, wait on a barrier, run the warmup (not recorded),
//! then the measured phase, which ends at a deadline (`--duration`) or when its attempts are
//! used up (`--requests`). Every thread stops by itself at that bound; a call in flight is bounded
//! by the call timeout.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use parking_lot::Mutex;
use tether::client::{
    Channel, ClientError, Connection, ConnectionConfig, MuxConfig, MuxConnection, PendingCall,
};
use tether::transport::Framing;

use super::cpu;
use super::events::EventLoop;
use super::progress::Progress;
use super::workload::{ErrorKind, Workload};

/// Not set yet, for the shared phase boundaries.
const NOT_YET: u64 = u64::MAX;
/// How often the coordinating thread wakes to redraw progress and check the bound.
const TICK: Duration = Duration::from_millis(100);
/// Longest single sleep of a load thread, so it notices the end of the run promptly.
const SLEEP_SLICE: Duration = Duration::from_millis(50);
/// Pause after a failed connect so a refusing server is not hammered in a hot loop.
pub const RECONNECT_PAUSE: Duration = Duration::from_millis(10);
/// Load threads do little beyond a call; a small stack keeps 1,000+ of them cheap.
const LOAD_THREAD_STACK: usize = 256 * 1024;
/// Latencies are recorded in nanoseconds up to a minute, to three significant digits.
const MAX_LATENCY_NS: u64 = 60_000_000_000;
/// Load threads share this many latency histograms (~220 KB each). One per thread would make
/// 1,000 threads fault in up to 220 MB during the run, and page faults of many threads contend
/// on the process's memory map lock: the client would stall itself and report it as latency.
const LATENCY_SHARDS: usize = 16;

/// When the measured phase ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// After this long.
    Duration(Duration),
    /// After this many call attempts (successes and errors) in total.
    Requests(u64),
}

/// How calls are driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    /// tether's client: a thread per connection, keeping `--pipeline` pending calls on a
    /// `MuxConnection` when above 1 (open loop: a blocking thread per call in flight).
    Threads,
    /// Event loops (about one per two cores), each driving many connections (events.rs).
    Events,
}

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The server.
    pub addr: SocketAddr,
    /// Framed or unframed.
    pub framing: Framing,
    /// Connections to open.
    pub connections: usize,
    /// Calls in flight per connection.
    pub pipeline: usize,
    /// Threads or event loops.
    pub driver: Driver,
    /// Measured phase bound.
    pub bound: Bound,
    /// Unrecorded load before measuring.
    pub warmup: Duration,
    /// Open loop at this many calls per second in total.
    pub rate: Option<f64>,
    /// Pause between calls of one thread (closed loop).
    pub idle_between: Option<Duration>,
    /// Bound on opening a connection.
    pub connect_timeout: Duration,
    /// Bound on each call.
    pub call_timeout: Duration,
    /// What every call sends.
    pub workload: Workload,
}

impl Plan {
    /// Load threads (or event loops) the run starts.
    pub fn threads(&self) -> usize {
        match self.driver {
            Driver::Threads if self.windowed() => self.connections,
            Driver::Threads => self.connections * self.pipeline,
            // Half the cores: the rest are for the server under test on the same machine.
            Driver::Events => {
                let cores = thread::available_parallelism().map_or(1, |n| n.get());
                (cores / 2).clamp(1, self.connections)
            }
        }
    }
}

impl Plan {
    /// Whether each thread keeps a window of pending calls on its connection.
    fn windowed(&self) -> bool {
        self.driver == Driver::Threads && self.pipeline > 1 && self.rate.is_none()
    }
}

/// What a run measured.
#[derive(Debug)]
pub struct Outcome {
    /// Successful calls in the measured phase.
    pub calls: u64,
    /// Failed calls (and connects) by kind.
    pub errors: BTreeMap<ErrorKind, u64>,
    /// Latency of the measured successful calls, in nanoseconds.
    pub latency_ns: Histogram<u64>,
    /// Successful calls of each connection.
    pub per_connection: Vec<u64>,
    /// Length of the measured phase.
    pub elapsed: Duration,
    /// CPU time this process used during the measured phase, when the OS reports it.
    pub cpu: Option<Duration>,
}

/// The phase boundaries and counters every load thread reads.
#[derive(Debug)]
pub struct Timeline {
    base: Instant,
    start_ns: AtomicU64,
    end_ns: AtomicU64,
    attempts: AtomicU64,
    attempt_limit: u64,
    calls: AtomicU64,
    errors: AtomicU64,
    latency_ns: Vec<Mutex<Histogram<u64>>>,
}

fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3).expect("valid histogram bounds")
}

impl Timeline {
    fn new(bound: Bound) -> Timeline {
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

    /// Sleeps until `at_ns` in short slices; false if the run ended meanwhile.
    fn sleep_until(&self, at_ns: u64) -> bool {
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

/// One connection, shared by the threads that keep calls in flight on it: tether's
/// `Connection` for one call at a time, its `MuxConnection` for `--pipeline` above 1. A
/// `Connection` whose call failed is dropped and the next call opens a new one, so failed
/// connects are counted as such; a `MuxConnection` reconnects by itself and is kept.
struct Slot {
    current: Mutex<Option<Client>>,
}

#[derive(Clone)]
enum Client {
    Single(Arc<Connection>),
    Mux(Arc<MuxConnection>),
}

impl Client {
    fn channel(&self) -> &dyn Channel {
        match self {
            Client::Single(connection) => &**connection,
            Client::Mux(mux) => &**mux,
        }
    }
}

impl Slot {
    fn empty() -> Slot {
        Slot {
            current: Mutex::new(None),
        }
    }

    fn get(&self, plan: &Plan) -> Result<Client, ErrorKind> {
        let mut current = self.current.lock();
        if let Some(client) = current.as_ref() {
            return Ok(client.clone());
        }
        let addr = plan.addr.to_string();
        let config = ConnectionConfig::default()
            .connect_timeout(plan.connect_timeout)
            .call_timeout(plan.call_timeout)
            .framing(plan.framing);
        let client = if plan.pipeline > 1 {
            let config = MuxConfig::default()
                .connection(config)
                .max_in_flight(plan.pipeline);
            let mux = MuxConnection::connect(&addr, config).map_err(|_| ErrorKind::Connect)?;
            Client::Mux(Arc::new(mux))
        } else {
            let connection = Connection::connect(&addr, config).map_err(|_| ErrorKind::Connect)?;
            Client::Single(Arc::new(connection))
        };
        *current = Some(client.clone());
        Ok(client)
    }

    /// Drops `failed` unless another thread already replaced it.
    fn discard(&self, failed: &Client) {
        let Client::Single(failed) = failed else {
            return;
        };
        let mut current = self.current.lock();
        if matches!(&*current, Some(Client::Single(c)) if Arc::ptr_eq(c, failed)) {
            *current = None;
        }
    }
}

/// What one load thread recorded.
pub struct ThreadStats {
    connection: usize,
    latency_shard: usize,
    calls: u64,
    errors: BTreeMap<ErrorKind, u64>,
    last_done_ns: u64,
}

impl ThreadStats {
    /// Stats of `connection`, kept by load thread `thread_index`.
    pub fn new(thread_index: usize, connection: usize) -> ThreadStats {
        ThreadStats {
            connection,
            latency_shard: thread_index % LATENCY_SHARDS,
            calls: 0,
            errors: BTreeMap::new(),
            last_done_ns: 0,
        }
    }
}

/// One call on the slot's connection: Ok, or the kind of failure.
fn call_once(plan: &Plan, slot: &Slot) -> Result<(), ErrorKind> {
    let client = slot.get(plan)?;
    let result = client
        .channel()
        .call(plan.workload.method(), plan.workload.args())
        .map_err(|e: ClientError| ErrorKind::of(&e))
        .and_then(|body| plan.workload.check_reply(&body));
    match result {
        // A server exception leaves the connection in step; anything else may not.
        Err(kind) if kind != ErrorKind::Application => {
            slot.discard(&client);
            Err(kind)
        }
        other => other,
    }
}

/// Records a call that began (or was scheduled) at `begin_ns` and ended at `done_ns`, if it
/// belongs to the measured phase.
pub fn record(
    timeline: &Timeline,
    stats: &mut ThreadStats,
    begin_ns: u64,
    done_ns: u64,
    result: Result<(), ErrorKind>,
) {
    if !timeline.measuring_at(begin_ns) || timeline.ended_at(done_ns) {
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

/// Waits a little after a failed connect, so a refusing server is not hammered in a hot loop.
pub fn pause_after_connect_failure(timeline: &Timeline) {
    timeline.sleep_until(timeline.now_ns() + RECONNECT_PAUSE.as_nanos() as u64);
}

/// Closed loop: next call as soon as the previous one is answered (after `--idle-between`).
fn closed_loop(plan: &Plan, timeline: &Timeline, slot: &Slot, stats: &mut ThreadStats) {
    loop {
        let begin = timeline.now_ns();
        if timeline.ended_at(begin) {
            return;
        }
        if timeline.measuring_at(begin) && !timeline.take_attempt() {
            return;
        }
        let result = call_once(plan, slot);
        record(timeline, stats, begin, timeline.now_ns(), result);
        if result == Err(ErrorKind::Connect) {
            pause_after_connect_failure(timeline);
        }
        if let Some(pause) = plan.idle_between {
            if !timeline.sleep_until(timeline.now_ns() + pause.as_nanos() as u64) {
                return;
            }
        }
    }
}

/// Closed loop with a window: keeps `--pipeline` pending calls on the slot's `MuxConnection`.
/// Each wait takes the oldest call, then every call behind it whose reply is in too; their
/// replacements are queued and flushed together, so they share one write. Latency runs from
/// each call's own start.
fn windowed_loop(plan: &Plan, timeline: &Timeline, slot: &Slot, stats: &mut ThreadStats) {
    let mut window: VecDeque<(u64, PendingCall)> = VecDeque::with_capacity(plan.pipeline);
    let mut stopping = false;
    loop {
        if !stopping {
            stopping = !fill_window(plan, timeline, slot, stats, &mut window);
        }
        let Some((begin, pending)) = window.pop_front() else {
            if stopping {
                return;
            }
            continue;
        };
        finish(plan, timeline, stats, begin, pending);
        while window.front().is_some_and(|(_, p)| p.is_ready()) {
            let (begin, pending) = window.pop_front().expect("front exists");
            finish(plan, timeline, stats, begin, pending);
        }
        if let Some(pause) = plan.idle_between {
            if !timeline.sleep_until(timeline.now_ns() + pause.as_nanos() as u64) {
                stopping = true;
            }
        }
    }
}

/// Starts calls until the window is full and writes them at once; false once the run is over
/// (or its attempts are used up) and no more calls may start.
fn fill_window(
    plan: &Plan,
    timeline: &Timeline,
    slot: &Slot,
    stats: &mut ThreadStats,
    window: &mut VecDeque<(u64, PendingCall)>,
) -> bool {
    let mux = match slot.get(plan) {
        Ok(Client::Mux(mux)) => mux,
        Ok(Client::Single(_)) => unreachable!("a window is kept on a multiplexed connection"),
        Err(kind) => {
            // The failed connect is an attempt, as in the closed loop.
            let begin = timeline.now_ns();
            if timeline.ended_at(begin)
                || (timeline.measuring_at(begin) && !timeline.take_attempt())
            {
                return false;
            }
            record(timeline, stats, begin, timeline.now_ns(), Err(kind));
            pause_after_connect_failure(timeline);
            return true;
        }
    };
    let mut more = true;
    let started = window.len();
    while window.len() < plan.pipeline {
        let begin = timeline.now_ns();
        if timeline.ended_at(begin) || (timeline.measuring_at(begin) && !timeline.take_attempt()) {
            more = false;
            break;
        }
        match mux.queue_call(plan.workload.method(), plan.workload.args()) {
            Ok(pending) => window.push_back((begin, pending)),
            Err(e) => {
                let kind = ErrorKind::of(&e);
                record(timeline, stats, begin, timeline.now_ns(), Err(kind));
                if kind == ErrorKind::Connect && window.is_empty() {
                    pause_after_connect_failure(timeline);
                }
                break;
            }
        }
    }
    if window.len() > started {
        // A failed write kills the connection and fails the calls: their waits report it.
        let _ = mux.flush();
    }
    more
}

/// Waits for a pending call and records it from its start.
fn finish(
    plan: &Plan,
    timeline: &Timeline,
    stats: &mut ThreadStats,
    begin: u64,
    pending: PendingCall,
) {
    let result = pending
        .wait()
        .map_err(|e| ErrorKind::of(&e))
        .and_then(|body| plan.workload.check_reply(&body));
    record(timeline, stats, begin, timeline.now_ns(), result);
}

/// Open loop: this thread's share of `rate`, on a fixed schedule; latency from the schedule.
fn open_loop(
    plan: &Plan,
    timeline: &Timeline,
    slot: &Slot,
    stats: &mut ThreadStats,
    thread_index: usize,
    rate: f64,
) {
    let threads = plan.threads() as f64;
    let interval_ns = (threads * 1e9 / rate).max(1.0);
    // Threads are spread evenly over one interval so calls do not go out in bursts.
    let first = timeline.now_ns() as f64 + interval_ns * thread_index as f64 / threads;
    for k in 0u64.. {
        let scheduled = (first + interval_ns * k as f64) as u64;
        if !timeline.sleep_until(scheduled) {
            return;
        }
        if timeline.measuring_at(scheduled) && !timeline.take_attempt() {
            return;
        }
        let result = call_once(plan, slot);
        record(timeline, stats, scheduled, timeline.now_ns(), result);
    }
}

/// Runs the plan: connects, warms up, measures, and gathers what every thread recorded.
/// Fails only when the load threads cannot be started.
pub fn run(plan: Arc<Plan>, progress: &Progress) -> Result<Outcome, String> {
    let timeline = Arc::new(Timeline::new(plan.bound));
    let slots: Vec<Arc<Slot>> = (0..plan.connections)
        .map(|_| Arc::new(Slot::empty()))
        .collect();
    let mut setup_errors: BTreeMap<ErrorKind, u64> = BTreeMap::new();
    progress.connecting(plan.connections);
    // Event loops open their own sockets.
    for slot in slots.iter().filter(|_| plan.driver == Driver::Threads) {
        if let Err(kind) = slot.get(&plan) {
            *setup_errors.entry(kind).or_default() += 1;
        }
    }

    let barrier = Arc::new(Barrier::new(plan.threads() + 1));
    let handles = spawn_load_threads(&plan, &timeline, &slots, &barrier)?;
    barrier.wait();

    let warmup_end = Instant::now() + plan.warmup;
    while Instant::now() < warmup_end {
        progress.warming(plan.warmup);
        thread::sleep(TICK.min(warmup_end.saturating_duration_since(Instant::now())));
    }
    let cpu_start = cpu::process_time();
    let start_ns = timeline.now_ns();
    timeline.start_ns.store(start_ns, Ordering::Release);
    wait_for_bound(&plan, &timeline, &handles, progress);

    let stats: Vec<ThreadStats> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("load threads do not panic"))
        .collect();
    let cpu = cpu_start
        .zip(cpu::process_time())
        .map(|(a, b)| b.saturating_sub(a));
    progress.finish();

    let end_ns = match plan.bound {
        Bound::Duration(_) => timeline.end_ns.load(Ordering::Acquire),
        Bound::Requests(_) => stats
            .iter()
            .map(|s| s.last_done_ns)
            .max()
            .unwrap_or(start_ns),
    };
    let elapsed = Duration::from_nanos(end_ns.saturating_sub(start_ns));
    Ok(gather(&plan, &timeline, stats, setup_errors, cpu, elapsed))
}

/// Starts every load thread; each waits on `barrier` so the load starts at once.
fn spawn_load_threads(
    plan: &Arc<Plan>,
    timeline: &Arc<Timeline>,
    slots: &[Arc<Slot>],
    barrier: &Arc<Barrier>,
) -> Result<Vec<JoinHandle<Vec<ThreadStats>>>, String> {
    let threads = plan.threads();
    (0..threads)
        .map(|index| {
            let connection = index % plan.connections;
            let (plan, timeline, barrier) = (plan.clone(), timeline.clone(), barrier.clone());
            let slot = slots[connection].clone();
            thread::Builder::new()
                .name(format!("bench-{index}"))
                .stack_size(LOAD_THREAD_STACK)
                .spawn(move || match plan.driver {
                    Driver::Events => {
                        // Connections split evenly: thread i takes first..first + count.
                        let first = plan.connections * index / threads;
                        let count = plan.connections * (index + 1) / threads - first;
                        let event_loop =
                            EventLoop::open(&plan, &timeline, first, count, index).ok();
                        barrier.wait();
                        event_loop.map_or_else(Vec::new, EventLoop::run)
                    }
                    Driver::Threads => {
                        let mut stats = ThreadStats::new(index, connection);
                        barrier.wait();
                        match plan.rate {
                            Some(rate) => {
                                open_loop(&plan, &timeline, &slot, &mut stats, index, rate)
                            }
                            None if plan.windowed() => {
                                windowed_loop(&plan, &timeline, &slot, &mut stats)
                            }
                            None => closed_loop(&plan, &timeline, &slot, &mut stats),
                        }
                        vec![stats]
                    }
                })
                .map_err(|e| format!("cannot start load thread {index}: {e}"))
        })
        .collect()
}

/// Redraws progress until the measured phase is over: its deadline passed (then it is ended for
/// every thread), or every thread used up its attempts.
fn wait_for_bound(
    plan: &Plan,
    timeline: &Timeline,
    handles: &[JoinHandle<Vec<ThreadStats>>],
    progress: &Progress,
) {
    let started = Instant::now();
    match plan.bound {
        Bound::Duration(length) => {
            let end = started + length;
            while Instant::now() < end {
                progress.measuring(started, &timeline.calls, &timeline.errors);
                thread::sleep(TICK.min(end.saturating_duration_since(Instant::now())));
            }
            timeline
                .end_ns
                .fetch_min(timeline.now_ns(), Ordering::AcqRel);
        }
        Bound::Requests(_) => {
            while !handles.iter().all(|h| h.is_finished()) {
                progress.measuring(started, &timeline.calls, &timeline.errors);
                thread::sleep(TICK);
            }
        }
    }
}

fn gather(
    plan: &Plan,
    timeline: &Timeline,
    stats: Vec<ThreadStats>,
    mut errors: BTreeMap<ErrorKind, u64>,
    cpu: Option<Duration>,
    elapsed: Duration,
) -> Outcome {
    let mut latency_ns = latency_histogram();
    for shard in &timeline.latency_ns {
        latency_ns.add(&*shard.lock()).expect("same bounds");
    }
    let mut per_connection = vec![0; plan.connections];
    let mut calls = 0;
    for s in stats {
        per_connection[s.connection] += s.calls;
        calls += s.calls;
        for (kind, count) in s.errors {
            *errors.entry(kind).or_default() += count;
        }
    }
    Outcome {
        calls,
        errors,
        latency_ns,
        per_connection,
        elapsed,
        cpu,
    }
}
