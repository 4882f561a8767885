//! One endpoint of a [`Pool`](super::Pool) as the pool sees it: its idle connections, its load,
//! its health (failure accrual: ejection after failures in a row, a jittered exponential
//! backoff, a probe when it ends, as Finagle's), and the power-of-two-choices pick between
//! endpoints.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::link::Link;

/// A connection waiting in the pool, and since when.
#[derive(Debug)]
pub(crate) struct IdleLink {
    pub(crate) link: Link,
    pub(crate) since: Instant,
}

/// How a use of an endpoint ended, for its health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The server answered (a reply or an exception).
    Answered,
    /// A connect or I/O failure that says the endpoint is in trouble.
    Failed,
    /// The server answered with THeader's `:drain`: it is going away, so it is ejected at
    /// once (new connections go elsewhere while there is elsewhere; a lone endpoint is still
    /// dialled, as when every endpoint is ejected).
    Draining,
    /// Says nothing about the endpoint: a timeout, a stale keep-alive connection, a protocol
    /// error, a connect the call's own deadline cut short.
    Inconclusive,
}

/// Whether an endpoint takes calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Health {
    Alive,
    /// Skipped until `until`; then one call probes it.
    Ejected {
        until: Instant,
    },
    /// One call is probing it; others skip it until the probe ends.
    Probing,
}

/// When an endpoint is ejected and for how long.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EjectionPolicy {
    pub(crate) threshold: u32,
    pub(crate) first: Duration,
    pub(crate) max: Duration,
}

impl EjectionPolicy {
    /// The `n`th ejection in a row (from 0) lasts `first x 2^n`, capped at `max`, jittered down
    /// by up to half (so a fleet of clients does not probe in step) but never below `first`.
    fn backoff(&self, n: u32, random: u64) -> Duration {
        let max = self.max.max(self.first);
        let nominal = self
            .first
            .checked_mul(1u32 << n.min(20))
            .map_or(max, |d| d.min(max));
        let half = nominal / 2;
        let spread = half.as_nanos().min(u128::from(u64::MAX)) as u64;
        let jittered = half + Duration::from_nanos(random % spread.saturating_add(1));
        jittered.clamp(self.first, max)
    }
}

/// An endpoint's idle connections, calls in flight and health.
#[derive(Debug)]
pub(crate) struct Endpoint {
    /// Idle connections, most recently returned last.
    pub(crate) idle: Vec<IdleLink>,
    /// Calls using it now (connecting included): the load the pick compares.
    pub(crate) outstanding: usize,
    failures: u32,
    ejections: u32,
    health: Health,
}

impl Endpoint {
    pub(crate) fn new() -> Endpoint {
        Endpoint {
            idle: Vec::new(),
            outstanding: 0,
            failures: 0,
            ejections: 0,
            health: Health::Alive,
        }
    }

    /// Not ejected, and not being probed.
    pub(crate) fn is_alive(&self) -> bool {
        self.health == Health::Alive
    }

    /// May take a new connection at `now`: alive, or its ejection is over (the call probes it).
    pub(crate) fn may_dial(&self, now: Instant) -> bool {
        match self.health {
            Health::Alive => true,
            Health::Ejected { until } => until <= now,
            Health::Probing => false,
        }
    }

    /// When it takes calls again: now if alive or probing (the probe ends soon), else when its
    /// ejection ends. Orders endpoints when every one is ejected.
    pub(crate) fn back_at(&self, now: Instant) -> Instant {
        match self.health {
            Health::Ejected { until } => until,
            Health::Alive | Health::Probing => now,
        }
    }

    /// A call starts using it; a call dialling it after its ejection ended is the probe.
    pub(crate) fn begin(&mut self, now: Instant) {
        self.outstanding += 1;
        if let Health::Ejected { until } = self.health {
            if until <= now {
                self.health = Health::Probing;
            }
        }
    }

    /// A call stops using it. Returns the ejection's length if this outcome ejected it.
    pub(crate) fn end(
        &mut self,
        outcome: Outcome,
        now: Instant,
        policy: &EjectionPolicy,
        random: u64,
    ) -> Option<Duration> {
        self.outstanding = self.outstanding.saturating_sub(1);
        match (outcome, self.health) {
            (Outcome::Answered, _) => {
                self.failures = 0;
                self.ejections = 0;
                self.health = Health::Alive;
                None
            }
            (Outcome::Failed, Health::Probing) => Some(self.eject(now, policy, random)),
            (Outcome::Failed, Health::Alive) => {
                self.failures += 1;
                (self.failures >= policy.threshold).then(|| self.eject(now, policy, random))
            }
            // Calls that were in flight when it was ejected say nothing new.
            (Outcome::Failed, Health::Ejected { .. }) => None,
            (Outcome::Inconclusive, Health::Probing) => {
                // The probe learnt nothing: the next call probes again.
                self.health = Health::Ejected { until: now };
                None
            }
            (Outcome::Inconclusive, _) => None,
            (Outcome::Draining, Health::Ejected { .. }) => None,
            (Outcome::Draining, Health::Alive | Health::Probing) => {
                Some(self.eject(now, policy, random))
            }
        }
    }

    fn eject(&mut self, now: Instant, policy: &EjectionPolicy, random: u64) -> Duration {
        let backoff = policy.backoff(self.ejections, random);
        self.ejections = self.ejections.saturating_add(1);
        self.failures = 0;
        self.health = Health::Ejected {
            until: now + backoff,
        };
        backoff
    }
}

/// Power of two choices: of two endpoints drawn at random among those `eligible`, the one with
/// fewer calls outstanding. Load-aware like least-loaded, without herding every caller onto the
/// same momentarily idle endpoint.
pub(crate) fn pick(
    endpoints: &[Endpoint],
    random: &Random,
    eligible: impl Fn(usize, &Endpoint) -> bool,
) -> Option<usize> {
    let nth = |n: usize| {
        endpoints
            .iter()
            .enumerate()
            .filter(|&(i, e)| eligible(i, e))
            .nth(n)
            .map(|(i, _)| i)
    };
    let count = endpoints
        .iter()
        .enumerate()
        .filter(|&(i, e)| eligible(i, e))
        .count();
    if count <= 1 {
        return nth(0);
    }
    let first = (random.next() % count as u64) as usize;
    let mut second = (random.next() % (count as u64 - 1)) as usize;
    if second >= first {
        second += 1;
    }
    let (a, b) = (nth(first)?, nth(second)?);
    Some(if endpoints[b].outstanding < endpoints[a].outstanding {
        b
    } else {
        a
    })
}

/// A lock-free pseudo-random sequence (splitmix64) seeded by the standard library's per-process
/// random keys: enough for picks and jitter, nothing secret.
#[derive(Debug)]
pub(crate) struct Random(AtomicU64);

impl Random {
    pub(crate) fn new() -> Random {
        Random(AtomicU64::new(RandomState::new().build_hasher().finish()))
    }

    #[cfg(test)]
    fn seeded(seed: u64) -> Random {
        Random(AtomicU64::new(seed))
    }

    pub(crate) fn next(&self) -> u64 {
        const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut z = self
            .0
            .fetch_add(GOLDEN, Ordering::Relaxed)
            .wrapping_add(GOLDEN);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> EjectionPolicy {
        EjectionPolicy {
            threshold: 5,
            first: Duration::from_secs(5),
            max: Duration::from_secs(300),
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_between_first_and_max() {
        let policy = policy();
        let random = Random::seeded(7);
        for n in 0..40 {
            let nominal = (Duration::from_secs(5) * (1u32 << n.min(20))).min(policy.max);
            for _ in 0..50 {
                let b = policy.backoff(n, random.next());
                assert!(b >= Duration::from_secs(5) && b <= policy.max, "{n}: {b:?}");
                assert!(b >= nominal / 2 && b <= nominal, "{n}: {b:?}");
            }
        }
        assert_eq!(policy.backoff(0, 12345), Duration::from_secs(5));
    }

    #[test]
    fn five_failures_in_a_row_eject_and_a_probe_decides() {
        let policy = policy();
        let now = Instant::now();
        let mut e = Endpoint::new();
        for _ in 0..4 {
            e.begin(now);
            assert_eq!(e.end(Outcome::Failed, now, &policy, 0), None);
        }
        // An answer resets the count.
        e.begin(now);
        e.end(Outcome::Answered, now, &policy, 0);
        for _ in 0..4 {
            e.begin(now);
            e.end(Outcome::Failed, now, &policy, 0);
        }
        e.begin(now);
        assert_eq!(
            e.end(Outcome::Failed, now, &policy, 0),
            Some(Duration::from_secs(5))
        );
        assert!(!e.may_dial(now + Duration::from_secs(4)));
        let later = now + Duration::from_secs(5);
        assert!(e.may_dial(later));
        e.begin(later);
        assert!(!e.may_dial(later), "one probe at a time");
        // The probe fails: ejected again for longer, 5 s..10 s.
        let again = e.end(Outcome::Failed, later, &policy, 99).unwrap();
        assert!(again >= Duration::from_secs(5) && again <= Duration::from_secs(10));
        let after = later + again;
        e.begin(after);
        e.end(Outcome::Answered, after, &policy, 0);
        assert!(e.is_alive());
        assert_eq!(e.outstanding, 0);
    }

    #[test]
    fn inconclusive_probe_lets_the_next_call_probe() {
        let policy = EjectionPolicy {
            threshold: 1,
            ..policy()
        };
        let now = Instant::now();
        let mut e = Endpoint::new();
        e.begin(now);
        e.end(Outcome::Failed, now, &policy, 0);
        let later = now + Duration::from_secs(6);
        e.begin(later);
        e.end(Outcome::Inconclusive, later, &policy, 0);
        assert!(e.may_dial(later));
        assert!(!e.is_alive());
    }

    #[test]
    fn pick_prefers_the_less_loaded_of_two() {
        let random = Random::seeded(1);
        let mut endpoints = vec![Endpoint::new(), Endpoint::new()];
        endpoints[0].outstanding = 3;
        for _ in 0..20 {
            assert_eq!(pick(&endpoints, &random, |_, _| true), Some(1));
        }
        assert_eq!(pick(&endpoints, &random, |i, _| i == 0), Some(0));
        assert_eq!(pick(&endpoints, &random, |_, _| false), None);
        // Equal load: both get picked.
        endpoints[0].outstanding = 0;
        let firsts = (0..100)
            .filter(|_| pick(&endpoints, &random, |_, _| true) == Some(0))
            .count();
        assert!((10..90).contains(&firsts), "{firsts}");
    }
}
