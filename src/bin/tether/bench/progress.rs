//! The live progress line: phase, calls so far, current rate and errors, drawn on stderr and
//! hidden when stderr is not a terminal (scripts, CI).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use parking_lot::Mutex;

/// What the bar's position counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Milliseconds of the measured phase (`--duration`).
    Milliseconds,
    /// Call attempts (`--requests`).
    Calls,
}

/// Progress of one run.
pub struct Progress {
    bar: ProgressBar,
    unit: Unit,
    /// Calls and time at the previous redraw, for the current (not average) rate.
    last: Mutex<(u64, Instant)>,
}

impl Progress {
    /// A bar of `length` units.
    pub fn new(unit: Unit, length: u64) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{prefix:>10} [{bar:30}] {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        Progress {
            bar,
            unit,
            last: Mutex::new((0, Instant::now())),
        }
    }

    /// Opening the connections.
    pub fn connecting(&self, connections: usize) {
        self.bar.set_prefix("connect");
        self.bar.set_message(format!("{connections} connections"));
    }

    /// In the warmup, which is not recorded.
    pub fn warming(&self, warmup: Duration) {
        self.bar.set_prefix("warmup");
        self.bar
            .set_message(format!("{:.1} s", warmup.as_secs_f64()));
        self.bar.tick();
    }

    /// In the measured phase.
    pub fn measuring(&self, started: Instant, calls: &AtomicU64, errors: &AtomicU64) {
        let calls = calls.load(Ordering::Relaxed);
        let errors = errors.load(Ordering::Relaxed);
        let now = Instant::now();
        let rate = {
            let mut last = self.last.lock();
            let seconds = now.duration_since(last.1).as_secs_f64();
            let rate = if seconds > 0.0 {
                calls.saturating_sub(last.0) as f64 / seconds
            } else {
                0.0
            };
            *last = (calls, now);
            rate
        };
        self.bar.set_prefix("measure");
        self.bar
            .set_message(format!("{calls} calls, {rate:.0} calls/s, {errors} errors"));
        self.bar
            .set_position(self.position(started, calls + errors));
    }

    /// The measured phase is over; the calls still in flight are being waited for.
    pub fn finishing(&self, timeout: Duration) {
        self.bar.set_prefix("finish");
        self.bar.set_message(format!(
            "waiting for the calls in flight (up to {:.1} s)",
            timeout.as_secs_f64()
        ));
        self.bar.tick();
    }

    fn position(&self, started: Instant, calls: u64) -> u64 {
        match self.unit {
            Unit::Milliseconds => started.elapsed().as_millis() as u64,
            Unit::Calls => calls,
        }
    }

    /// Clears the bar before the report is printed.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
