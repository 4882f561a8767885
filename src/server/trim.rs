//! Giving the heap memory freed by connections that parked back to the kernel: when (the
//! parking loop's [`TrimSchedule`]) and how ([`release_free_memory`], which the spawner
//! thread calls, off the loop).
//!
//! glibc's malloc keeps freed memory resident in its arenas; after a burst of connections
//! parks (their threads ended, the buffers of their busy time freed), that memory would stay
//! in the server's RSS for good. `malloc_trim(0)` releases the free pages of every arena.

use std::time::{Duration, Instant};

/// After this many parks, the heap memory freed since goes back to the kernel
/// ([`release_free_memory`]): what the connections' busy time allocated is freed when they
/// park, but glibc keeps it resident. With 19,000 idle connections the server's RSS was
/// 103 MiB untrimmed and 59 MiB trimmed (before worker threads lent their buffers).
const TRIM_AFTER_PARKS: u64 = 1024;

/// The trim waits for the parks to pause this long (the burst is over), but no longer than
/// [`TRIM_LATEST`] after the count was reached, so a steady stream of parks is trimmed too.
const TRIM_QUIET: Duration = Duration::from_millis(500);
const TRIM_LATEST: Duration = Duration::from_secs(5);

/// When the parking loop asks for a heap trim: once [`TRIM_AFTER_PARKS`] parks were counted,
/// when they pause for [`TRIM_QUIET`], or [`TRIM_LATEST`] after the count was reached.
#[derive(Debug, Default)]
pub(crate) struct TrimSchedule {
    /// Parks since the last trim.
    parks: u64,
    /// The parks' pause and the latest time, once enough parks were counted.
    due: Option<(Instant, Instant)>,
}

impl TrimSchedule {
    /// Counts a park at `now`.
    pub fn park(&mut self, now: Instant) {
        self.parks += 1;
        if self.parks >= TRIM_AFTER_PARKS {
            let latest = self.due.map_or(now + TRIM_LATEST, |(_, latest)| latest);
            self.due = Some((now + TRIM_QUIET, latest));
        }
    }

    /// When the trim is due, if it is.
    pub fn at(&self) -> Option<Instant> {
        self.due.map(|(quiet, latest)| quiet.min(latest))
    }

    /// Whether the trim is due by `now`; if so, the count starts again.
    pub fn take_due(&mut self, now: Instant) -> bool {
        if self.at().is_some_and(|at| now >= at) {
            *self = TrimSchedule::default();
            return true;
        }
        false
    }
}

/// Releases the free pages of the heap to the kernel; true if any were released. Does nothing
/// outside glibc (musl and other allocators return memory on their own terms).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub(crate) fn release_free_memory() -> bool {
    extern "C" {
        fn malloc_trim(pad: usize) -> std::os::raw::c_int;
    }
    // SAFETY: malloc_trim takes no pointers and touches only glibc's own arenas, each under its
    // lock; it may be called from any thread at any time. Measured: per parked connection,
    // 19,000 idle connections took 5.2 KiB of RSS untrimmed and 2.9 KiB trimmed.
    unsafe { malloc_trim(0) != 0 }
}

/// Releases the free pages of the heap to the kernel; true if any were released. Does nothing
/// outside glibc (musl and other allocators return memory on their own terms).
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn release_free_memory() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trim_waits_for_enough_parks_then_for_them_to_pause() {
        let start = Instant::now();
        let mut trim = TrimSchedule::default();
        for _ in 1..TRIM_AFTER_PARKS {
            trim.park(start);
        }
        assert_eq!(trim.at(), None, "one park short");
        trim.park(start);
        assert_eq!(trim.at(), Some(start + TRIM_QUIET));
        // Each park puts it off ...
        let later = start + TRIM_QUIET / 2;
        trim.park(later);
        assert!(!trim.take_due(start + TRIM_QUIET));
        assert!(trim.take_due(later + TRIM_QUIET));
        assert_eq!(trim.at(), None, "the count starts again");
    }

    #[test]
    fn a_steady_stream_of_parks_is_trimmed_at_the_latest_time() {
        let start = Instant::now();
        let mut trim = TrimSchedule::default();
        let mut now = start;
        for _ in 0..TRIM_AFTER_PARKS {
            trim.park(now);
        }
        // ... but never past TRIM_LATEST.
        while now < start + TRIM_LATEST {
            now += TRIM_QUIET / 5;
            trim.park(now);
        }
        assert_eq!(trim.at(), Some(start + TRIM_LATEST));
        assert!(trim.take_due(now));
    }
}
