//! What a run measured, gathered from every load thread's records.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::plan::Plan;
use super::timeline::{latency_histogram, ThreadStats, Timeline};
use super::workload::ErrorKind;

/// What a run measured.
#[derive(Debug)]
pub struct Outcome {
    /// Successful calls in the measured phase.
    pub calls: u64,
    /// Failed calls (and connects) of the measured phase by kind.
    pub errors: BTreeMap<ErrorKind, u64>,
    /// Failures to open the connections before the load began, by kind: not part of the
    /// measured phase, so a slow first connect does not count against the server's figures.
    pub setup_errors: BTreeMap<ErrorKind, u64>,
    /// Latency of the measured successful calls, in nanoseconds.
    pub latency_ns: Histogram<u64>,
    /// Successful calls of each connection.
    pub per_connection: Vec<u64>,
    /// Length of the measured phase.
    pub elapsed: Duration,
    /// CPU time this process used during the measured phase, when the OS reports it.
    pub cpu: Option<Duration>,
}

/// Sums what every load thread recorded; `setup_errors` are the run's own failed first
/// connects (threads driver), to which the event loops' are added.
pub fn gather(
    plan: &Plan,
    timeline: &Timeline,
    stats: Vec<ThreadStats>,
    mut setup_errors: BTreeMap<ErrorKind, u64>,
    cpu: Option<Duration>,
    elapsed: Duration,
) -> Outcome {
    let mut latency_ns = latency_histogram();
    for shard in &timeline.latency_ns {
        latency_ns.add(&*shard.lock()).expect("same bounds");
    }
    let mut per_connection = vec![0; plan.connections];
    let mut calls = 0;
    let mut errors = BTreeMap::new();
    for s in stats {
        per_connection[s.connection] += s.calls;
        calls += s.calls;
        for (kind, count) in s.errors {
            *errors.entry(kind).or_default() += count;
        }
        for (kind, count) in s.setup_errors {
            *setup_errors.entry(kind).or_default() += count;
        }
    }
    Outcome {
        calls,
        errors,
        setup_errors,
        latency_ns,
        per_connection,
        elapsed,
        cpu,
    }
}
