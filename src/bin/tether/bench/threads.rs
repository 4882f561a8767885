//! The loops of the threads driver, one per load thread: closed loop (one call at a time),
//! windowed (a window of pending calls on a `MuxConnection`), and open loop (`--rate`).

use std::collections::VecDeque;

use tether::client::PendingCall;

use super::plan::Plan;
use super::slot::{call_once, Client, Slot};
use super::timeline::{pause_after_connect_failure, record, ThreadStats, Timeline};
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
