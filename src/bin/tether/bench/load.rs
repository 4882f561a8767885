//! A run from start to end: opens the connections, starts the load threads (threads.rs or
//! events.rs), times the warmup and the measured phase on the shared timeline (timeline.rs),
//! and gathers what every thread recorded into one outcome.
//!
//! Two drivers. Threads (tether's client): closed loop, a thread per connection sends its next
//! call when the previous reply is in; with `--pipeline P` above 1 that thread keeps a window of
//! P pending calls on a `MuxConnection`. Open loop (`--rate`), each thread owns a fixed schedule
//! (`--pipeline P` threads share each connection) and measures latency from the time a call was
//! *scheduled*, not sent, so a stalled server shows up as latency instead of hiding as fewer
//! samples (the coordinated-omission correction of wrk2). Events: a few event loops drive every
//! connection, closed loop with P calls in flight each.
//!
//! The timeline is shared: threads connect, wait on a barrier, run the warmup (not recorded),
//! then the measured phase, which ends at a deadline (`--duration`) or when its attempts are
//! used up (`--requests`). Every thread stops starting calls at that bound by itself; the calls
//! it has in flight then are waited for (each bounded by the call timeout) and count, so a
//! server that stalls near the end shows in the figures.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Barrier};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::cpu;
use super::events::EventLoop;
use super::outcome::{gather, Outcome};
use super::plan::{Bound, Driver, Plan};
use super::progress::Progress;
use super::slot::Slot;
use super::threads::{closed_loop, open_loop, windowed_loop};
use super::timeline::{ThreadStats, Timeline};
use super::workload::ErrorKind;

/// How often the coordinating thread wakes to redraw progress and check the bound.
const TICK: Duration = Duration::from_millis(100);
/// Load threads do little beyond a call; a small stack keeps 1,000+ of them cheap.
const LOAD_THREAD_STACK: usize = 256 * 1024;

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
    // The measured phase's start is fixed before any load thread runs, so with no warmup the
    // first calls already count (and a `--requests` thread knows when it made the last one).
    let start_ns = timeline.now_ns() + plan.warmup.as_nanos() as u64;
    timeline.start_ns.store(start_ns, Ordering::Release);
    barrier.wait();

    let warmup_end = Instant::now() + plan.warmup;
    while Instant::now() < warmup_end {
        progress.warming(plan.warmup);
        thread::sleep(TICK.min(warmup_end.saturating_duration_since(Instant::now())));
    }
    let cpu_start = cpu::process_time();
    wait_for_bound(&plan, &timeline, &handles, progress);
    progress.finishing(plan.call_timeout);

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
