//! [`Connection`]: one socket, one call at a time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use log::debug;
use parking_lot::Mutex;

use crate::protocol::{Encode, Limits, Protocol};

use super::config::ConnectionConfig;
use super::link::{Link, Liveness};
use super::retry::{CallFailure, Retries};
use super::{Channel, ClientError};

/// A single connection to one server, carrying one call at a time (callers from several threads
/// take turns). A call that leaves the socket out of step (I/O error, timeout, wrong seqid,
/// broken reply) drops it; the next call connects again.
///
/// It keeps the keep-alive contract (docs/architecture.md): a socket idle past the idle timeout is
/// closed instead of reused; after an idle pause it is checked for a peer FIN with a non-blocking
/// peek; a call that failed on a reused socket before any reply byte arrived is sent once more on a
/// fresh one, as the retry budget allows. The call timeout bounds the whole call: waiting for the
/// turn, reconnecting, writing, reading and the retry.
#[derive(Debug)]
pub struct Connection {
    addr: String,
    config: ConnectionConfig,
    link: Mutex<Option<Link>>,
    retries: Retries,
    counters: Counters,
}

/// Counts of what a [`Connection`] has done since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionStats {
    /// Sockets opened, the first one included.
    pub connects: u64,
    /// Sockets found closed by the peer (or holding stray bytes) by the peek before a call.
    pub discarded_stale: u64,
    /// Sockets closed for sitting idle past the idle timeout.
    pub discarded_expired: u64,
    /// Sockets retired because the server's reply carried THeader's `:drain`.
    pub retired_drain: u64,
    /// Calls sent again on a fresh socket under the retry rule.
    pub retries: u64,
    /// Calls the retry rule would have sent again but the retry budget did not allow.
    pub budget_exhausted: u64,
}

#[derive(Debug, Default)]
struct Counters {
    connects: AtomicU64,
    stale: AtomicU64,
    expired: AtomicU64,
    drained: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Connection {
    /// Connects to `addr` (`host:port`; every address the name resolves to is tried).
    pub fn connect(addr: &str, config: ConnectionConfig) -> Result<Connection, ClientError> {
        let link = Link::open(addr, &config)?;
        let counters = Counters::default();
        bump(&counters.connects);
        Ok(Connection {
            addr: addr.to_owned(),
            retries: Retries::new(config.retry, &config),
            config,
            link: Mutex::new(Some(link)),
            counters,
        })
    }

    /// Whether a socket is open (false after a call dropped it, until the next call).
    pub fn is_connected(&self) -> bool {
        self.link.lock().is_some()
    }

    /// What the connection has done so far.
    pub fn stats(&self) -> ConnectionStats {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ConnectionStats {
            connects: load(&self.counters.connects),
            discarded_stale: load(&self.counters.stale),
            discarded_expired: load(&self.counters.expired),
            retired_drain: load(&self.counters.drained),
            retries: self.retries.retried(),
            budget_exhausted: self.retries.budget_exhausted(),
        }
    }

    fn run<T>(
        &self,
        oneway: bool,
        mut call: impl FnMut(&mut Link, Instant) -> Result<T, CallFailure>,
    ) -> Result<T, ClientError> {
        let started = Instant::now();
        let deadline = started + self.config.call_timeout;
        let mut slot = self
            .link
            .try_lock_until(deadline)
            .ok_or(ClientError::Timeout)?;
        self.retries.record_call();
        self.drop_if_unfit(&mut slot, started);
        let reused = slot.is_some();
        let link = match &mut *slot {
            Some(link) => link,
            None => slot.insert(self.open(deadline)?),
        };
        let result = call(link, deadline);
        self.retire_if_drained(&mut slot);
        let failure = match result {
            Ok(value) => return Ok(value),
            Err(failure) => failure,
        };
        self.settle(&mut slot, &failure);
        if !self.retries.allow(&failure, reused, oneway) {
            return Err(failure.error);
        }
        let link = slot.insert(self.open(deadline)?);
        let result = call(link, deadline);
        self.retire_if_drained(&mut slot);
        result.map_err(|failure| {
            self.settle(&mut slot, &failure);
            failure.error
        })
    }

    /// Closes the socket once a reply carried `:drain`: its call is answered and nothing new
    /// goes on it, so the server's drain never races a request of ours.
    fn retire_if_drained(&self, slot: &mut Option<Link>) {
        if slot.as_ref().is_some_and(Link::drained) {
            debug!(
                "connection to {}: server draining, retiring the socket",
                self.addr
            );
            bump(&self.counters.drained);
            if let Some(link) = slot.take() {
                link.close();
            }
        }
    }

    /// Closes a socket that sat idle past the idle timeout, or that the peek finds closed after
    /// an idle pause (the peek only when the retry rule is on: off is the naive client).
    fn drop_if_unfit(&self, slot: &mut Option<Link>, now: Instant) {
        let Some(link) = slot.as_ref() else { return };
        if link.idle_for(now) >= self.config.idle_timeout {
            debug!(
                "connection to {}: idle timeout passed, reconnecting",
                self.addr
            );
            bump(&self.counters.expired);
        } else if self.config.retry && link.paused(now) {
            let liveness = link.liveness();
            if liveness == Liveness::Alive {
                return;
            }
            debug!(
                "connection to {}: found {liveness:?} before a call",
                self.addr
            );
            bump(&self.counters.stale);
        } else {
            return;
        }
        link.close();
        *slot = None;
    }

    fn open(&self, deadline: Instant) -> Result<Link, ClientError> {
        let link = Link::connect(&self.addr, &self.config, deadline)?;
        bump(&self.counters.connects);
        debug!("connection to {}: connected", self.addr);
        Ok(link)
    }

    /// Drops the socket unless the failure left it in step.
    fn settle(&self, slot: &mut Option<Link>, failure: &CallFailure) {
        if failure.leaves_connection_usable() {
            return;
        }
        if let Some(link) = slot.take() {
            debug!("connection to {} dropped: {}", self.addr, failure.error);
            link.close();
        }
    }
}

impl Channel for Connection {
    fn call(&self, method: &str, args: &dyn Encode) -> Result<Vec<u8>, ClientError> {
        self.run(false, |link, deadline| link.call(method, args, deadline))
    }

    fn send_oneway(&self, method: &str, args: &dyn Encode) -> Result<(), ClientError> {
        self.run(true, |link, deadline| {
            link.send_oneway(method, args, deadline)
        })
    }

    fn limits(&self) -> Limits {
        self.config.limits
    }

    fn protocol(&self) -> Protocol {
        self.config.codec.protocol()
    }
}
