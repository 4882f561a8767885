//! The loops of the threads driver, one per load thread: closed loop (one call at a time),
//! windowed (a window of pending calls on a `MuxConnection`), and open loop (`--rate`).

use std::collections::VecDeque;

use tether::client::PendingCall;

use super::plan::Plan;
use super::slot::{call_once, Client, Slot};
use super::timeline::{pause_after_connect_failure, record, record_unsent, ThreadStats, Timeline};
use super::workload::ErrorKind;

/// Closed loop: next call as soon as the previous one is answered (after `--idle-between`).
pub fn closed_loop(plan: &Plan, timeline: &Timeline, slot: &Slot, stats: &mut ThreadStats) {
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
            // After the last of `--requests` there is no next call to pause for.
            if timeline.attempts_used_up()
                || !timeline.sleep_until(timeline.now_ns() + pause.as_nanos() as u64)
            {
                return;
            }
        }
    }
}

/// Closed loop with a window: keeps `--pipeline` pending calls on the slot's `MuxConnection`.
/// Each wait takes the oldest call, then every call behind it whose reply is in too; their
/// replacements are queued and flushed together, so they share one write. Latency runs from
/// each call's own start. With `--idle-between` the whole window is answered before the pause,
/// so the connection really sits idle and no reply waits out the pause unrecorded.
pub fn windowed_loop(plan: &Plan, timeline: &Timeline, slot: &Slot, stats: &mut ThreadStats) {
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
            while let Some((begin, pending)) = window.pop_front() {
                finish(plan, timeline, stats, begin, pending);
            }
            // After the last of `--requests` there is no next window to pause for.
            if !stopping
                && (timeline.attempts_used_up()
                    || !timeline.sleep_until(timeline.now_ns() + pause.as_nanos() as u64))
            {
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
                // With nothing pending, nothing else would slow the next attempt: a
                // reconnect that fails at once would become a hot loop.
                if window.is_empty() {
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
        .and_then(|body| plan.workload.check_reply(&body, plan.codec.protocol()));
    record(timeline, stats, begin, timeline.now_ns(), result);
}

/// Open loop: this thread's share of `rate`, on a fixed schedule; latency from the schedule.
/// Calls that fell due in the measured phase while the thread still waited on an earlier one
/// and were never sent are recorded as late when the phase ends.
pub fn open_loop(
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
    let schedule = Schedule { first, interval_ns };
    for k in 0u64.. {
        let scheduled = schedule.at(k);
        if !timeline.sleep_until(scheduled) {
            if let (Some(start), Some(end)) = (timeline.start_ns(), timeline.end_ns()) {
                record_unsent(timeline, stats, schedule.due(k, start, end));
            }
            return;
        }
        if timeline.measuring_at(scheduled) && !timeline.take_attempt() {
            return;
        }
        let result = call_once(plan, slot);
        record(timeline, stats, scheduled, timeline.now_ns(), result);
        if result == Err(ErrorKind::Connect) {
            pause_after_connect_failure(timeline);
        }
    }
}

/// One open-loop thread's send times: `first`, then one every `interval_ns`.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    first: f64,
    interval_ns: f64,
}

impl Schedule {
    /// When call `k` is due, in timeline nanoseconds.
    fn at(&self, k: u64) -> u64 {
        (self.first + self.interval_ns * k as f64) as u64
    }

    /// How many calls from the `k`th on fall due in `start..end`.
    fn due(&self, k: u64, start: u64, end: u64) -> u64 {
        // The first call index due at or after `at`.
        let index_at = |at: u64| {
            ((at as f64 - self.first) / self.interval_ns)
                .ceil()
                .max(0.0) as u64
        };
        let from = index_at(start).max(k);
        index_at(end).saturating_sub(from)
    }
}

#[cfg(test)]
mod tests {
    use super::Schedule;

    #[test]
    fn due_counts_the_calls_of_a_window_from_the_kth() {
        // Calls at 100, 110, 120, ...
        let schedule = Schedule {
            first: 100.0,
            interval_ns: 10.0,
        };
        assert_eq!(schedule.at(3), 130);
        // 130, 140, 150 are due in 125..160.
        assert_eq!(schedule.due(0, 125, 160), 3);
        // From the 4th (140) on: 140, 150.
        assert_eq!(schedule.due(4, 125, 160), 2);
        assert_eq!(schedule.due(9, 125, 160), 0);
        // A window before the first call.
        assert_eq!(schedule.due(0, 0, 100), 0);
        assert_eq!(schedule.due(0, 0, 101), 1);
    }
}
