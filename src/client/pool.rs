//! [`Pool`]: reusable connections to one or more endpoints, never handing out a dead one.

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use crossbeam_channel::{bounded, RecvTimeoutError, Sender};

use log::debug;
use parking_lot::{Condvar, Mutex};

use crate::protocol::Encode;

use super::config::PoolConfig;
use super::link::{Link, Liveness};
use super::retry::CallFailure;
use super::{Channel, ClientError};

/// Connections to one or more endpoints, shared by any number of threads.
///
/// Each call takes a connection (an idle one if there is one, checked for a peer FIN by a
/// non-blocking peek; else a new one to the next endpoint in round-robin order), makes the call
/// and gives the connection back, unless the call failed or timed out, in which case it is
/// closed. A call that failed on a reused connection before any reply byte arrived is retried
/// once on a fresh connection (the keep-alive contract in DESIGN.md). Endpoints that refuse a
/// connect are skipped for a while. Idle connections older than the idle timeout are closed
/// lazily, at the next checkout or return, or by [`Pool::reap`].
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
    /// Connections closed because their call failed (I/O or protocol error).
    pub discarded_error: u64,
    /// Connections closed because their call timed out (a late reply would desynchronise them).
    pub discarded_timeout: u64,
    /// Connections closed on return because max_idle were already idle.
    pub discarded_surplus: u64,
    /// Calls retried on a fresh connection under the retry rule.
    pub retries: u64,
    /// Connect attempts that failed (each ejects its endpoint for a while).
    pub connect_failures: u64,
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
}

struct Shared {
    config: PoolConfig,
    endpoints: Vec<String>,
    next_endpoint: AtomicUsize,
    state: Mutex<State>,
    freed: Condvar,
    counters: Counters,
    /// Dropped with the pool, which wakes the reaper thread (if any) to exit.
    _stop_reaper: Option<Sender<()>>,
}

struct State {
    /// Idle connections per endpoint, most recently returned last.
    idle: Vec<Vec<IdleLink>>,
    /// When each endpoint may be tried again after a failed connect.
    ejected_until: Vec<Option<Instant>>,
    idle_count: usize,
    active: usize,
}

struct IdleLink {
    link: Link,
    since: Instant,
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
    retries: AtomicU64,
    connect_failures: AtomicU64,
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
        let endpoints: Vec<String> = endpoints.into_iter().map(Into::into).collect();
        if endpoints.is_empty() {
            return Err(ClientError::Connect(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "pool has no endpoints",
            )));
        }
        let state = State {
            idle: endpoints.iter().map(|_| Vec::new()).collect(),
            ejected_until: vec![None; endpoints.len()],
            idle_count: 0,
            active: 0,
        };
        let reaper = config.reap_interval.map(|every| (every, bounded::<()>(0)));
        let shared = Arc::new(Shared {
            config,
            endpoints,
            next_endpoint: AtomicUsize::new(0),
            state: Mutex::new(state),
            freed: Condvar::new(),
            counters: Counters::default(),
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
        let c = &self.shared.counters;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let state = self.shared.state.lock();
        PoolStats {
            created: load(&c.created),
            reused: load(&c.reused),
            discarded_stale: load(&c.stale),
            discarded_expired: load(&c.expired),
            discarded_error: load(&c.error),
            discarded_timeout: load(&c.timeout),
            discarded_surplus: load(&c.surplus),
            retries: load(&c.retries),
            connect_failures: load(&c.connect_failures),
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
        mut call: impl FnMut(&mut Link) -> Result<T, CallFailure>,
    ) -> Result<T, ClientError> {
        let shared = &self.shared;
        let mut lease = shared.checkout(false)?;
        let failure = match lease.call(&mut call) {
            Ok(value) => return Ok(value),
            Err(failure) => failure,
        };
        if !(shared.config.retry && failure.may_retry(lease.reused, oneway)) {
            return Err(failure.error);
        }
        drop(lease);
        bump(&shared.counters.retries);
        debug!("retrying on a fresh connection after: {}", failure.error);
        let mut lease = shared.checkout(true)?;
        lease.call(&mut call).map_err(|f| f.error)
    }
}

impl Channel for Pool {
    fn call(&self, method: &str, args: &dyn Encode) -> Result<Vec<u8>, ClientError> {
        self.run(false, |link| link.call(method, args))
    }

    fn send_oneway(&self, method: &str, args: &dyn Encode) -> Result<(), ClientError> {
        self.run(true, |link| link.send_oneway(method, args))
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("endpoints", &self.shared.endpoints)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Shared {
    fn reap(&self) {
        let expired = self.take_expired(&mut self.state.lock());
        self.close_all(expired, Discard::Expired);
    }

    /// Takes a connection: an idle live one, or (always when `fresh`) a new one. Waits up to the
    /// wait timeout while max_active are in use.
    fn checkout(&self, fresh: bool) -> Result<Lease<'_>, ClientError> {
        let wait_deadline = Instant::now() + self.config.wait_timeout;
        let mut connect_attempts = 0;
        loop {
            let (endpoint, idle) = self.reserve(wait_deadline, fresh)?;
            let mut lease = Lease {
                pool: self,
                link: None,
                endpoint,
                reused: false,
                holds_slot: true,
            };
            if let Some(link) = idle {
                let liveness = if self.config.check_before_reuse {
                    link.liveness()
                } else {
                    Liveness::Alive
                };
                lease.link = Some(link);
                if liveness == Liveness::Alive {
                    lease.reused = true;
                    bump(&self.counters.reused);
                    debug!("pool: reusing a connection to {}", self.endpoints[endpoint]);
                    return Ok(lease);
                }
                debug!("pool: idle connection found {liveness:?} at checkout");
                lease.discard(Discard::Stale);
                continue;
            }
            match Link::connect(&self.endpoints[endpoint], &self.config.connection) {
                Ok(link) => {
                    bump(&self.counters.created);
                    self.state.lock().ejected_until[endpoint] = None;
                    debug!("pool: new connection to {}", self.endpoints[endpoint]);
                    lease.link = Some(link);
                    return Ok(lease);
                }
                Err(e) => {
                    drop(lease);
                    bump(&self.counters.connect_failures);
                    let until = Instant::now() + self.config.ejection_time;
                    self.state.lock().ejected_until[endpoint] = Some(until);
                    debug!("pool: ejecting {} after: {e}", self.endpoints[endpoint]);
                    connect_attempts += 1;
                    if connect_attempts >= self.endpoints.len() {
                        return Err(e);
                    }
                }
            }
        }
    }

    /// Claims an active slot, waiting for one if needed; returns the endpoint to use and an
    /// idle connection to it if one is kept.
    fn reserve(
        &self,
        wait_deadline: Instant,
        fresh: bool,
    ) -> Result<(usize, Option<Link>), ClientError> {
        let mut state = self.state.lock();
        let expired = self.take_expired(&mut state);
        while state.active >= self.config.max_active {
            if self.freed.wait_until(&mut state, wait_deadline).timed_out()
                && state.active >= self.config.max_active
            {
                drop(state);
                self.close_all(expired, Discard::Expired);
                return Err(ClientError::PoolTimeout);
            }
        }
        state.active += 1;
        let endpoint = self.pick_endpoint(&state);
        let idle = if fresh {
            None
        } else {
            state.idle[endpoint].pop().map(|idle| idle.link)
        };
        if idle.is_some() {
            state.idle_count -= 1;
        }
        drop(state);
        self.close_all(expired, Discard::Expired);
        Ok((endpoint, idle))
    }

    /// The next endpoint in round-robin order that is not ejected; if all are, the one whose
    /// ejection ends first.
    fn pick_endpoint(&self, state: &State) -> usize {
        let n = self.endpoints.len();
        let start = self.next_endpoint.fetch_add(1, Ordering::Relaxed) % n;
        let now = Instant::now();
        (0..n)
            .map(|i| (start + i) % n)
            .find(|&e| state.ejected_until[e].map_or(true, |until| until <= now))
            .unwrap_or_else(|| {
                (0..n)
                    .min_by_key(|&e| state.ejected_until[e])
                    .unwrap_or(start)
            })
    }

    fn expired(&self, link: &Link, idle_since: Option<Instant>) -> bool {
        let idle_too_long = idle_since.is_some_and(|t| t.elapsed() >= self.config.idle_timeout);
        let too_old = self
            .config
            .max_lifetime
            .is_some_and(|max| link.created().elapsed() >= max);
        idle_too_long || too_old
    }

    /// The lazy reaper: moves expired idle connections out, to be closed outside the lock.
    fn take_expired(&self, state: &mut State) -> Vec<Link> {
        let mut expired = Vec::new();
        for list in &mut state.idle {
            let mut i = 0;
            while i < list.len() {
                if self.expired(&list[i].link, Some(list[i].since)) {
                    expired.push(list.swap_remove(i).link);
                } else {
                    i += 1;
                }
            }
        }
        state.idle_count -= expired.len();
        expired
    }

    fn close_all(&self, links: Vec<Link>, reason: Discard) {
        for link in links {
            self.close(link, reason);
        }
    }

    fn close(&self, link: Link, reason: Discard) {
        let c = &self.counters;
        bump(match reason {
            Discard::Stale => &c.stale,
            Discard::Expired => &c.expired,
            Discard::Error => &c.error,
            Discard::Timeout => &c.timeout,
            Discard::Surplus => &c.surplus,
        });
        debug!("pool: closing a connection ({reason:?})");
        link.close();
    }
}

/// A connection taken from the pool. Dropped without being given back (a failed call, a panic),
/// it is closed and its slot freed, so the active count stays right on every path.
struct Lease<'a> {
    pool: &'a Shared,
    link: Option<Link>,
    endpoint: usize,
    reused: bool,
    holds_slot: bool,
}

impl Lease<'_> {
    /// Makes a call; gives the connection back if it is still in step, else closes it.
    fn call<T>(
        &mut self,
        call: &mut impl FnMut(&mut Link) -> Result<T, CallFailure>,
    ) -> Result<T, CallFailure> {
        let link = self
            .link
            .as_mut()
            .expect("a lease holds its connection until the call is done");
        let result = call(link);
        match &result {
            Ok(_) => self.give_back(),
            Err(f) if f.leaves_connection_usable() => self.give_back(),
            Err(f) if matches!(f.error, ClientError::Timeout) => self.discard(Discard::Timeout),
            Err(_) => self.discard(Discard::Error),
        }
        result
    }

    fn give_back(&mut self) {
        let Some(link) = self.link.take() else { return };
        let pool = self.pool;
        if pool.expired(&link, None) {
            self.release_slot();
            pool.close(link, Discard::Expired);
            return;
        }
        let mut state = pool.state.lock();
        state.active -= 1;
        self.holds_slot = false;
        if state.idle_count < pool.config.max_idle {
            state.idle[self.endpoint].push(IdleLink {
                link,
                since: Instant::now(),
            });
            state.idle_count += 1;
            drop(state);
            pool.freed.notify_one();
            debug!(
                "pool: connection returned ({})",
                pool.endpoints[self.endpoint]
            );
        } else {
            drop(state);
            pool.freed.notify_one();
            pool.close(link, Discard::Surplus);
        }
    }

    fn discard(&mut self, reason: Discard) {
        if let Some(link) = self.link.take() {
            self.release_slot();
            self.pool.close(link, reason);
        }
    }

    fn release_slot(&mut self) {
        if std::mem::take(&mut self.holds_slot) {
            self.pool.state.lock().active -= 1;
            self.pool.freed.notify_one();
        }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        self.release_slot();
        if let Some(link) = self.link.take() {
            self.pool.close(link, Discard::Error);
        }
    }
}
