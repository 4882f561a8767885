//! The retry rule of the keep-alive contract (docs/architecture.md): which failed calls may be
//! sent again, and the retry budget that caps how many are.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use log::debug;
use std::time::Instant;

use super::config::{ConnectionConfig, RetryBudgetConfig};
use super::ClientError;

/// How far a call got before it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Writing the request failed.
    Write,
    /// The request was written; no reply byte had arrived.
    AwaitReply,
    /// Part or all of the reply had arrived.
    Reply,
}

/// A failed call on one socket, with the stage it reached.
#[derive(Debug)]
pub(crate) struct CallFailure {
    pub(crate) error: ClientError,
    pub(crate) stage: Stage,
}

impl CallFailure {
    pub(crate) fn new(stage: Stage, error: ClientError) -> Self {
        CallFailure { error, stage }
    }

    /// Whether the socket can carry another call: only an exception the server answered with
    /// leaves it in step.
    pub(crate) fn leaves_connection_usable(&self) -> bool {
        matches!(self.error, ClientError::Application(_))
    }

    /// The retry rule: a call on a *reused* connection that failed with EOF, reset or broken pipe
    /// before any reply byte arrived was never processed by a tether server (it answers every
    /// request it read before closing), so it is sent again once, on a fresh connection. Never
    /// after a timeout (the server may be processing it), never on a fresh connection (the
    /// failure is not a stale socket), and a oneway call only if its write failed (a written
    /// oneway may have been processed).
    pub(crate) fn may_retry(&self, reused: bool, oneway: bool) -> bool {
        self.is_stale_connection(reused) && (self.stage == Stage::Write || !oneway)
    }

    /// Whether this is how a stale keep-alive connection fails: reused, and the peer went away
    /// before any reply byte arrived. Says nothing about the server's health.
    pub(crate) fn is_stale_connection(&self, reused: bool) -> bool {
        let ClientError::Io(e) = &self.error else {
            return false;
        };
        reused && peer_went_away(e) && self.stage != Stage::Reply
    }
}

/// EOF, reset, broken pipe: the peer closed a connection it considered idle.
fn peer_went_away(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::NotConnected
    )
}

/// One channel's retries: whether the rule is on, the budget they share, and what they did.
#[derive(Debug)]
pub(crate) struct Retries {
    enabled: bool,
    budget: Option<RetryBudget>,
    retried: AtomicU64,
    budget_exhausted: AtomicU64,
}

impl Retries {
    pub(crate) fn new(enabled: bool, config: &ConnectionConfig) -> Retries {
        Retries {
            enabled,
            budget: config.retry_budget.as_ref().map(RetryBudget::new),
            retried: AtomicU64::new(0),
            budget_exhausted: AtomicU64::new(0),
        }
    }

    /// A call's first attempt is starting.
    pub(crate) fn record_call(&self) {
        if let (true, Some(budget)) = (self.enabled, &self.budget) {
            budget.record_call();
        }
    }

    /// Whether `failure` is sent again: the rule allows it and the budget pays for it.
    pub(crate) fn allow(&self, failure: &CallFailure, reused: bool, oneway: bool) -> bool {
        if !(self.enabled && failure.may_retry(reused, oneway)) {
            return false;
        }
        if self.budget.as_ref().is_some_and(|b| !b.try_withdraw()) {
            self.budget_exhausted.fetch_add(1, Ordering::Relaxed);
            debug!(
                "retry budget exhausted; failing the call: {}",
                failure.error
            );
            return false;
        }
        self.retried.fetch_add(1, Ordering::Relaxed);
        debug!("retrying on a fresh connection after: {}", failure.error);
        true
    }

    /// Calls retried so far.
    pub(crate) fn retried(&self) -> u64 {
        self.retried.load(Ordering::Relaxed)
    }

    /// Retries the rule allowed but the budget refused.
    pub(crate) fn budget_exhausted(&self) -> u64 {
        self.budget_exhausted.load(Ordering::Relaxed)
    }
}

/// Slices the budget's window is cut into: deposits and withdrawals expire a slice at a time, so
/// the window is accurate to a tenth (Finagle's windowed adder uses 10 too).
const SLICES: usize = 10;
/// What one retry costs; a call deposits `percent` of it, so `percent` = 20 pays for one retry
/// in five calls with integer arithmetic only.
const RETRY_COST: i64 = 100;

/// Caps retries at a share of recent calls plus a floor per second (Finagle's retry budget), so
/// a fleet that fails every call sees at most that many extra calls, not twice its load.
///
/// Every first attempt deposits [`RetryBudgetConfig::percent`] hundredths of a retry; a retry
/// withdraws one. Both expire after the window. A reserve of `min_per_second x window` retries
/// is always there on top, so a client that has just started, or calls rarely, can still
/// retry. Lock-free: one atomic word per slice holds the slice's time tag and its balance.
#[derive(Debug)]
pub(crate) struct RetryBudget {
    start: Instant,
    slice_nanos: u64,
    deposit: i64,
    reserve: i64,
    slices: [AtomicU64; SLICES],
}

impl RetryBudget {
    pub(crate) fn new(config: &RetryBudgetConfig) -> RetryBudget {
        let window = config.window.as_nanos().min(u128::from(u64::MAX)) as u64;
        let reserve_retries = u64::from(config.min_per_second) * window / 1_000_000_000;
        RetryBudget {
            start: Instant::now(),
            slice_nanos: (window / SLICES as u64).max(1),
            deposit: i64::from(config.percent),
            reserve: (reserve_retries as i64).saturating_mul(RETRY_COST),
            slices: Default::default(),
        }
    }

    /// A first attempt was made: it pays for a share of a later retry.
    pub(crate) fn record_call(&self) {
        self.record_call_at(Instant::now());
    }

    /// A retry asks to go ahead; false means the budget is spent and the call should fail as it
    /// is.
    pub(crate) fn try_withdraw(&self) -> bool {
        self.try_withdraw_at(Instant::now())
    }

    fn record_call_at(&self, now: Instant) {
        if self.deposit > 0 {
            self.add(self.epoch(now), self.deposit);
        }
    }

    /// Withdraws first and gives back if that overdrew: concurrent retries can then fail
    /// together near zero, but never overdraw together.
    fn try_withdraw_at(&self, now: Instant) -> bool {
        let epoch = self.epoch(now);
        self.add(epoch, -RETRY_COST);
        if self.balance(epoch) >= 0 {
            return true;
        }
        self.add(epoch, RETRY_COST);
        false
    }

    /// Reserve plus every live slice's deposits minus its withdrawals.
    fn balance(&self, epoch: u32) -> i64 {
        let live: i64 = self
            .slices
            .iter()
            .map(|slot| unpack(slot.load(Ordering::Acquire)))
            .filter(|&(tag, _)| (epoch.wrapping_sub(tag) as usize) < SLICES)
            .map(|(_, value)| i64::from(value))
            .sum();
        self.reserve + live
    }

    /// Adds to the current slice, first clearing what it held from a window ago.
    fn add(&self, epoch: u32, delta: i64) {
        let slot = &self.slices[epoch as usize % SLICES];
        let mut current = slot.load(Ordering::Acquire);
        loop {
            let (tag, value) = unpack(current);
            let base = if tag == epoch { i64::from(value) } else { 0 };
            let sum = (base + delta).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
            match slot.compare_exchange_weak(
                current,
                pack(epoch, sum),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(actual) => current = actual,
            }
        }
    }

    /// Which slice `now` falls in, counted from the budget's start. Wraps after 2^32 slices
    /// (136 years with the default 1 s slices); a slice is only ever compared with recent ones.
    fn epoch(&self, now: Instant) -> u32 {
        let nanos = now.saturating_duration_since(self.start).as_nanos();
        (nanos / u128::from(self.slice_nanos)) as u32
    }
}

fn pack(epoch: u32, value: i32) -> u64 {
    (u64::from(epoch) << 32) | u64::from(value as u32)
}

fn unpack(word: u64) -> (u32, i32) {
    ((word >> 32) as u32, word as u32 as i32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn io(kind: io::ErrorKind, stage: Stage) -> CallFailure {
        CallFailure::new(stage, ClientError::Io(io::Error::from(kind)))
    }

    #[test]
    fn eof_before_reply_on_reused_connection_is_retried() {
        for kind in [
            io::ErrorKind::UnexpectedEof,
            io::ErrorKind::ConnectionReset,
            io::ErrorKind::BrokenPipe,
        ] {
            assert!(io(kind, Stage::AwaitReply).may_retry(true, false));
            assert!(io(kind, Stage::Write).may_retry(true, false));
        }
    }

    #[test]
    fn never_on_fresh_connection_after_reply_bytes_or_timeout() {
        let eof = io::ErrorKind::UnexpectedEof;
        assert!(!io(eof, Stage::AwaitReply).may_retry(false, false));
        assert!(!io(eof, Stage::Reply).may_retry(true, false));
        let timeout = CallFailure::new(Stage::AwaitReply, ClientError::Timeout);
        assert!(!timeout.may_retry(true, false));
        assert!(!io(io::ErrorKind::TimedOut, Stage::AwaitReply).may_retry(true, false));
        assert!(!io(io::ErrorKind::PermissionDenied, Stage::Write).may_retry(true, false));
    }

    #[test]
    fn oneway_only_when_the_write_failed() {
        let reset = io::ErrorKind::ConnectionReset;
        assert!(io(reset, Stage::Write).may_retry(true, true));
        assert!(!io(reset, Stage::AwaitReply).may_retry(true, true));
    }

    fn budget(percent: u32, min_per_second: u32) -> RetryBudget {
        RetryBudget::new(
            &RetryBudgetConfig::default()
                .percent(percent)
                .min_per_second(min_per_second),
        )
    }

    fn withdrawals(budget: &RetryBudget, now: Instant, asked: usize) -> usize {
        (0..asked).filter(|_| budget.try_withdraw_at(now)).count()
    }

    #[test]
    fn budget_allows_its_percent_of_calls() {
        let budget = budget(20, 0);
        let now = budget.start;
        assert!(!budget.try_withdraw_at(now), "nothing deposited yet");
        for _ in 0..100 {
            budget.record_call_at(now);
        }
        assert_eq!(withdrawals(&budget, now, 50), 20);
    }

    #[test]
    fn budget_reserve_is_min_per_second_over_the_window() {
        let budget = budget(20, 10);
        assert_eq!(withdrawals(&budget, budget.start, 500), 100);
        let default = RetryBudget::new(&RetryBudgetConfig::default());
        for _ in 0..1000 {
            default.record_call_at(default.start);
        }
        assert_eq!(withdrawals(&default, default.start, 1000), 200 + 100);
    }

    #[test]
    fn budget_deposits_and_withdrawals_expire_with_the_window() {
        let budget = budget(20, 0);
        let start = budget.start;
        for _ in 0..50 {
            budget.record_call_at(start);
        }
        assert_eq!(withdrawals(&budget, start + Duration::from_secs(9), 3), 3);
        // Ten seconds on, the first slice's deposits are gone; the withdrawals at 9 s are not.
        let later = start + Duration::from_secs(10);
        assert!(!budget.try_withdraw_at(later));
        for _ in 0..20 {
            budget.record_call_at(later);
        }
        assert_eq!(withdrawals(&budget, later, 3), 1);
        // At 19 s the withdrawals made at 9 s expire too.
        assert_eq!(withdrawals(&budget, start + Duration::from_secs(19), 5), 3);
    }

    #[test]
    fn budget_never_overdraws_under_concurrent_withdrawals() {
        let budget = std::sync::Arc::new(budget(20, 10));
        for _ in 0..200 {
            budget.record_call();
        }
        let granted: usize = (0..4)
            .map(|_| {
                let budget = budget.clone();
                std::thread::spawn(move || (0..100).filter(|_| budget.try_withdraw()).count())
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .sum();
        // 200 calls x 20% + 10/s x 10 s; the real clock may cross into a later slice, never
        // past the window.
        assert_eq!(granted, 40 + 100);
    }
}
