//! [`Pool`]: reusable connections to one or more endpoints, never handing out a dead one.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, RecvTimeoutError, Sender};

use log::debug;
use parking_lot::{Condvar, Mutex};

use crate::protocol::{Encode, Limits, Protocol};

use super::config::PoolConfig;
use super::endpoint::{pick, EjectionPolicy, Endpoint, IdleLink, Outcome, Random};
use super::link::{Link, Liveness};
use super::retry::{CallFailure, Retries};
use super::{Channel, ClientError};

/// Connections to one or more endpoints, shared by any number of threads.
///
/// Each call takes a pool slot (at most max_active at once), then a connection: an idle one to
/// any healthy endpoint if there is one (checked for a peer FIN by a non-blocking peek after an
/// idle pause), else a new one to the endpoint that power of two choices picks on outstanding
/// calls. It makes the call and gives the connection back, unless the call failed or timed
/// out, in which case it is closed. A call that failed on a reused connection before any reply
/// byte arrived is sent once more on a fresh connection, keeping its slot, as the retry budget
/// allows (the keep-alive contract in docs/architecture.md). The call timeout bounds all of it.
///
/// An endpoint that fails 5 connects or calls in a row is ejected for a jittered backoff from
/// 5 s doubling to 300 s, then probed by one call; if every endpoint is ejected, they are tried
/// anyway. Idle connections older than the idle timeout are closed lazily, at the next checkout
/// or return, or by [`Pool::reap`].
///
/// Cloning a `Pool` is cheap and shares its connections.
#[derive(Clone)]
pub struct Pool {
    shared: Arc<Shared>,
}

/// Counts of what a pool has done since it was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// Connections opened.
    pub created: u64,
    /// Calls made on an idle connection taken from the pool.
    pub reused: u64,
    /// Idle connections found closed by the peer (or holding stray bytes) at checkout.
    pub discarded_stale: u64,
    /// Connections closed for passing the idle timeout or the max lifetime.
    pub discarded_expired: u64,
    /// Connections closed because their call failed (I/O or protocol error), or because their
    /// endpoint was ejected.
    pub discarded_error: u64,
    /// Connections closed because their call timed out (a late reply would desynchronise them).
    pub discarded_timeout: u64,
    /// Connections closed on return because max_idle were already idle.
    pub discarded_surplus: u64,
    /// Connections retired on return because the server's reply carried THeader's `:drain`.
    pub retired_drain: u64,
    /// Calls retried on a fresh connection under the retry rule.
    pub retries: u64,
    /// Calls the retry rule would have retried but the retry budget did not allow.
    pub budget_exhausted: u64,
    /// Connect attempts that failed.
    pub connect_failures: u64,
    /// Times an endpoint was ejected.
    pub ejections: u64,
    /// Endpoints ejected (or being probed) now.
    pub ejected: usize,
    /// Connections idle in the pool now.
    pub idle: usize,
    /// Connections in use now.
    pub active: usize,
}

/// Why a connection left the pool for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Discard {
    Stale,
    Expired,
    Error,
    Timeout,
    Surplus,
    Ejected,
    /// The server's reply carried THeader's `:drain`.
    Drain,
}

struct Shared {
    config: PoolConfig,
    idle_timeout: Duration,
    check_before_reuse: bool,
    ejection: EjectionPolicy,
    addrs: Vec<String>,
    state: Mutex<State>,
    freed: Condvar,
    counters: Counters,
    retries: Retries,
    random: Random,
    /// Dropped with the pool, which wakes the reaper thread (if any) to exit.
    _stop_reaper: Option<Sender<()>>,
}

struct State {
    endpoints: Vec<Endpoint>,
    idle_count: usize,
    active: usize,
}

#[derive(Default)]
struct Counters {
    created: AtomicU64,
    reused: AtomicU64,
    stale: AtomicU64,
    expired: AtomicU64,
    error: AtomicU64,
    timeout: AtomicU64,
    surplus: AtomicU64,
    drained: AtomicU64,
    connect_failures: AtomicU64,
    ejections: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Pool {
    /// A pool over `endpoints` (`host:port` each), connecting lazily on the first calls.
    pub fn new<I, S>(endpoints: I, config: PoolConfig) -> Result<Pool, ClientError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let addrs: Vec<String> = endpoints.into_iter().map(Into::into).collect();
        if addrs.is_empty() {
            return Err(ClientError::Connect(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "pool has no endpoints",
            )));
        }
        let state = State {
            endpoints: addrs.iter().map(|_| Endpoint::new()).collect(),
            idle_count: 0,
            active: 0,
        };
        let reaper = config.reap_interval.map(|every| (every, bounded::<()>(0)));
        let shared = Arc::new(Shared {
            idle_timeout: config.effective_idle_timeout(),
            check_before_reuse: config.effective_check_before_reuse(),
            ejection: EjectionPolicy {
                threshold: config.ejection_threshold,
                first: config.ejection_time,
                max: config.max_ejection_time,
            },
            retries: Retries::new(config.effective_retry(), &config.connection),
            config,
            addrs,
            state: Mutex::new(state),
            freed: Condvar::new(),
            counters: Counters::default(),
            random: Random::new(),
            _stop_reaper: reaper.as_ref().map(|(_, (stop, _))| stop.clone()),
        });
        if let Some((every, (_, stopped))) = reaper {
            let pool = Arc::downgrade(&shared);
            thread::Builder::new()
                .name("tether-pool-reaper".to_owned())
                .spawn(move || {
                    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                        match pool.upgrade() {
                            Some(pool) => pool.reap(),
                            None => break,
                        }
                    }
                })
                .map_err(ClientError::Io)?;
        }
        Ok(Pool { shared })
    }

    /// What the pool has done so far, and how many connections it holds now.
    pub fn stats(&self) -> PoolStats {
        let shared = &self.shared;
        let c = &shared.counters;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let state = shared.state.lock();
        PoolStats {
            created: load(&c.created),
            reused: load(&c.reused),
            discarded_stale: load(&c.stale),
            discarded_expired: load(&c.expired),
            discarded_error: load(&c.error),
            discarded_timeout: load(&c.timeout),
            discarded_surplus: load(&c.surplus),
            retired_drain: load(&c.drained),
            retries: shared.retries.retried(),
            budget_exhausted: shared.retries.budget_exhausted(),
            connect_failures: load(&c.connect_failures),
            ejections: load(&c.ejections),
            ejected: state.endpoints.iter().filter(|e| !e.is_alive()).count(),
            idle: state.idle_count,
            active: state.active,
        }
    }

    /// Closes idle connections that passed the idle timeout or the max lifetime now, instead of
    /// at the next checkout or return.
    pub fn reap(&self) {
        self.shared.reap();
    }

    fn run<T>(
        &self,
        oneway: bool,
        mut call: impl FnMut(&mut Link, Instant) -> Result<T, CallFailure>,
    ) -> Result<T, ClientError> {
        let shared = &self.shared;
        let deadline = Instant::now() + shared.config.connection.call_timeout;
        let mut lease = shared.acquire(deadline)?;
        shared.retries.record_call();
        lease.connect(deadline, false)?;
        let reused = lease.reused();
        let failure = match lease.call(&mut call, deadline) {
            Ok(value) => return Ok(value),
            Err(failure) => failure,
        };
        if !shared.retries.allow(&failure, reused, oneway) {
            return Err(failure.error);
        }
        // The retry keeps the slot: under a saturated max_active it must not queue again.
        lease.connect(deadline, true)?;
        lease.call(&mut call, deadline).map_err(|f| f.error)
    }
}

impl Channel for Pool {
    fn call(&self, method: &str, args: &dyn Encode) -> Result<Vec<u8>, ClientError> {
        self.run(false, |link, deadline| link.call(method, args, deadline))
    }

    fn send_oneway(&self, method: &str, args: &dyn Encode) -> Result<(), ClientError> {
        self.run(true, |link, deadline| {
            link.send_oneway(method, args, deadline)
        })
    }

    fn limits(&self) -> Limits {
        self.shared.config.connection.limits
    }

    fn protocol(&self) -> Protocol {
        self.shared.config.connection.codec.protocol()
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("endpoints", &self.shared.addrs)
            .field("stats", &self.stats())
            .finish()
    }
}

/// What the pool hands a call that has a slot.
// Moved once per checkout; boxing the link would allocate on every call.
#[allow(clippy::large_enum_variant)]
enum Choice {
    Idle(usize, Link),
    Dial(usize),
}

impl Shared {
    fn reap(&self) {
        let expired = self.take_expired(&mut self.state.lock());
        self.close_all(expired, Discard::Expired);
    }

    /// Claims one of the max_active slots, waiting for one up to the wait timeout (and never
    /// past the call's deadline).
    fn acquire(&self, deadline: Instant) -> Result<Lease<'_>, ClientError> {
        let wait_deadline = deadline.min(Instant::now() + self.config.wait_timeout);
        let mut state = self.state.lock();
        while state.active >= self.config.max_active {
            if self.freed.wait_until(&mut state, wait_deadline).timed_out()
                && state.active >= self.config.max_active
            {
                return Err(ClientError::PoolTimeout);
            }
        }
        state.active += 1;
        Ok(Lease {
            pool: self,
            bound: None,
            holds_slot: true,
        })
    }

    /// Under the lock: an idle connection to a healthy endpoint (unless `fresh`), else the
    /// endpoint to dial, skipping those in `tried`; `None` when every endpoint was tried.
    fn choose(
        &self,
        state: &mut State,
        now: Instant,
        fresh: bool,
        tried: &[bool],
    ) -> (Option<Choice>, Vec<Link>) {
        let expired = self.take_expired(state);
        let endpoints = &mut state.endpoints;
        let untried = |i: usize| !tried.get(i).copied().unwrap_or(false);
        if !fresh {
            let idle = pick(endpoints, &self.random, |_, e| {
                e.is_alive() && !e.idle.is_empty()
            });
            if let Some(i) = idle {
                if let Some(IdleLink { link, .. }) = endpoints[i].idle.pop() {
                    state.idle_count -= 1;
                    endpoints[i].begin(now);
                    return (Some(Choice::Idle(i, link)), expired);
                }
            }
        }
        let dial = pick(endpoints, &self.random, |i, e| {
            untried(i) && e.may_dial(now)
        })
        // Every endpoint ejected: try them anyway, the one coming back first first.
        .or_else(|| {
            (0..endpoints.len())
                .filter(|&i| untried(i))
                .min_by_key(|&i| endpoints[i].back_at(now))
        });
        let choice = dial.map(|i| {
            endpoints[i].begin(now);
            Choice::Dial(i)
        });
        (choice, expired)
    }

    /// Ends a call's use of `endpoint`; an ejection closes the endpoint's idle connections.
    fn end_use(&self, state: &mut State, endpoint: usize, outcome: Outcome) -> Vec<IdleLink> {
        let random = self.random.next();
        let now = Instant::now();
        let e = &mut state.endpoints[endpoint];
        let Some(backoff) = e.end(outcome, now, &self.ejection, random) else {
            return Vec::new();
        };
        bump(&self.counters.ejections);
        debug!("pool: ejecting {} for {backoff:?}", self.addrs[endpoint]);
        let idle = std::mem::take(&mut e.idle);
        state.idle_count -= idle.len();
        idle
    }

    fn expired(&self, link: &Link, idle_since: Option<Instant>) -> bool {
        let idle_too_long = idle_since.is_some_and(|t| t.elapsed() >= self.idle_timeout);
        let too_old = self
            .config
            .max_lifetime
            .is_some_and(|max| link.created().elapsed() >= max);
        idle_too_long || too_old
    }

    /// The lazy reaper: moves expired idle connections out, to be closed outside the lock.
    fn take_expired(&self, state: &mut State) -> Vec<Link> {
        let mut expired = Vec::new();
        for endpoint in &mut state.endpoints {
            let list = &mut endpoint.idle;
            let mut i = 0;
            while i < list.len() {
                if self.expired(&list[i].link, Some(list[i].since)) {
                    expired.push(list.remove(i).link);
                } else {
                    i += 1;
                }
            }
        }
        state.idle_count -= expired.len();
        expired
    }

    fn close_all(&self, links: impl IntoIterator<Item = Link>, reason: Discard) {
        for link in links {
            self.close(link, reason);
        }
    }

    fn close(&self, link: Link, reason: Discard) {
        let c = &self.counters;
        bump(match reason {
            Discard::Stale => &c.stale,
            Discard::Expired => &c.expired,
            Discard::Error | Discard::Ejected => &c.error,
            Discard::Timeout => &c.timeout,
            Discard::Surplus => &c.surplus,
            Discard::Drain => &c.drained,
        });
        debug!("pool: closing a connection ({reason:?})");
        link.close();
    }
}

/// A connection in use, and the endpoint it goes to.
struct Bound {
    link: Link,
    endpoint: usize,
    reused: bool,
}

/// A call's pool slot and, while it makes the call, its connection. Dropped (a failed call, a
/// panic), it closes the connection and frees the slot, so the counts stay right on every path.
struct Lease<'a> {
    pool: &'a Shared,
    bound: Option<Bound>,
    holds_slot: bool,
}

impl Lease<'_> {
    fn reused(&self) -> bool {
        self.bound.as_ref().is_some_and(|b| b.reused)
    }

    /// Takes a connection for the call: a live idle one (unless `fresh`), else a new one; a
    /// failed connect moves on to another endpoint until each was tried or the deadline passed.
    fn connect(&mut self, deadline: Instant, fresh: bool) -> Result<(), ClientError> {
        let pool = self.pool;
        let mut tried: Vec<bool> = Vec::new();
        let mut last_error = None;
        loop {
            if Instant::now() >= deadline {
                return Err(ClientError::Timeout);
            }
            let (choice, expired) =
                pool.choose(&mut pool.state.lock(), Instant::now(), fresh, &tried);
            pool.close_all(expired, Discard::Expired);
            match choice {
                None => return Err(last_error.unwrap_or(ClientError::Timeout)),
                Some(Choice::Idle(endpoint, link)) => {
                    if self.reuse(endpoint, link) {
                        return Ok(());
                    }
                }
                Some(Choice::Dial(endpoint)) => match self.dial(endpoint, deadline) {
                    Ok(()) => return Ok(()),
                    Err(ClientError::Timeout) => return Err(ClientError::Timeout),
                    Err(e) => {
                        if tried.is_empty() {
                            tried = vec![false; pool.addrs.len()];
                        }
                        tried[endpoint] = true;
                        last_error = Some(e);
                    }
                },
            }
        }
    }

    /// Binds an idle connection unless the peek (after an idle pause) finds it closed or out of
    /// step; then it is closed, and false returned.
    fn reuse(&mut self, endpoint: usize, link: Link) -> bool {
        let pool = self.pool;
        let liveness = if pool.check_before_reuse && link.paused(Instant::now()) {
            link.liveness()
        } else {
            Liveness::Alive
        };
        self.bound = Some(Bound {
            link,
            endpoint,
            reused: true,
        });
        if liveness != Liveness::Alive {
            debug!(
                "pool: idle connection to {} found {liveness:?}",
                pool.addrs[endpoint]
            );
            self.discard(Discard::Stale, Outcome::Inconclusive);
            return false;
        }
        bump(&pool.counters.reused);
        debug!("pool: reusing a connection to {}", pool.addrs[endpoint]);
        true
    }

    /// Binds a new connection to `endpoint`; a failed connect counts against the endpoint,
    /// unless the call's own deadline cut it short.
    fn dial(&mut self, endpoint: usize, deadline: Instant) -> Result<(), ClientError> {
        let pool = self.pool;
        match Link::connect(&pool.addrs[endpoint], &pool.config.connection, deadline) {
            Ok(link) => {
                bump(&pool.counters.created);
                debug!("pool: new connection to {}", pool.addrs[endpoint]);
                self.bound = Some(Bound {
                    link,
                    endpoint,
                    reused: false,
                });
                Ok(())
            }
            Err(e) => {
                let outcome = match e {
                    ClientError::Timeout => Outcome::Inconclusive,
                    _ => Outcome::Failed,
                };
                bump(&pool.counters.connect_failures);
                debug!("pool: connect to {} failed: {e}", pool.addrs[endpoint]);
                let ejected = pool.end_use(&mut pool.state.lock(), endpoint, outcome);
                pool.close_all(ejected.into_iter().map(|idle| idle.link), Discard::Ejected);
                Err(e)
            }
        }
    }

    /// Makes the call on the bound connection; gives it back if it is still in step (freeing
    /// the slot too when the call succeeded), else closes it and keeps the slot for a retry.
    fn call<T>(
        &mut self,
        call: &mut impl FnMut(&mut Link, Instant) -> Result<T, CallFailure>,
        deadline: Instant,
    ) -> Result<T, CallFailure> {
        let bound = self
            .bound
            .as_mut()
            .expect("a call is made only after connect bound a connection");
        let reused = bound.reused;
        let result = call(&mut bound.link, deadline);
        match &result {
            Ok(_) => self.give_back(true),
            Err(f) if f.leaves_connection_usable() => self.give_back(false),
            Err(f) if matches!(f.error, ClientError::Timeout) => {
                self.discard(Discard::Timeout, Outcome::Inconclusive)
            }
            Err(f) => {
                // A stale keep-alive connection says nothing about the endpoint (its restart
                // closes every idle one); nor does a reply that broke the protocol.
                let endpoint_failed =
                    matches!(f.error, ClientError::Io(_)) && !f.is_stale_connection(reused);
                let outcome = if endpoint_failed {
                    Outcome::Failed
                } else {
                    Outcome::Inconclusive
                };
                self.discard(Discard::Error, outcome)
            }
        }
        result
    }

    /// Returns the connection to the idle list (or closes it past its lifetime or max_idle).
    fn give_back(&mut self, release_slot: bool) {
        let Some(Bound { link, endpoint, .. }) = self.bound.take() else {
            return;
        };
        let pool = self.pool;
        let expired = pool.expired(&link, None);
        let mut state = pool.state.lock();
        // A draining server asked that nothing new be sent on it: retired, never reused, and
        // its endpoint ejected so new connections go elsewhere.
        let drained = link.drained();
        let outcome = if drained {
            Outcome::Draining
        } else {
            Outcome::Answered
        };
        let ejected = pool.end_use(&mut state, endpoint, outcome);
        let keep = !expired && !drained && state.idle_count < pool.config.max_idle;
        let surplus = if keep {
            state.endpoints[endpoint].idle.push(IdleLink {
                link,
                since: Instant::now(),
            });
            state.idle_count += 1;
            None
        } else {
            Some(link)
        };
        if release_slot && std::mem::take(&mut self.holds_slot) {
            state.active -= 1;
        }
        drop(state);
        pool.freed.notify_one();
        pool.close_all(ejected.into_iter().map(|idle| idle.link), Discard::Ejected);
        match surplus {
            None => debug!("pool: connection returned ({})", pool.addrs[endpoint]),
            Some(link) if drained => pool.close(link, Discard::Drain),
            Some(link) if expired => pool.close(link, Discard::Expired),
            Some(link) => pool.close(link, Discard::Surplus),
        }
    }

    /// Closes the connection; its endpoint learns `outcome`.
    fn discard(&mut self, reason: Discard, outcome: Outcome) {
        let Some(Bound { link, endpoint, .. }) = self.bound.take() else {
            return;
        };
        let pool = self.pool;
        let ejected = pool.end_use(&mut pool.state.lock(), endpoint, outcome);
        pool.close(link, reason);
        pool.close_all(ejected.into_iter().map(|idle| idle.link), Discard::Ejected);
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        self.discard(Discard::Error, Outcome::Inconclusive);
        if std::mem::take(&mut self.holds_slot) {
            self.pool.state.lock().active -= 1;
            self.pool.freed.notify_one();
        }
    }
}
