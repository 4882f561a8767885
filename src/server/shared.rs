//! What the accept loop, the workers and shutdown handles share: the registry of open
//! connections, the drain's counts, and the server's flags.

use std::collections::HashMap;
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;

use log::debug;
use parking_lot::Mutex;

use super::config::Config;
use super::connection::{Connection, State};
use super::handoff::Handoff;
use super::parking::Parking;
use super::router::Router;
use super::stats::Stats;

/// How drained connections ended, for the [`DrainReport`](super::DrainReport). Updated only
/// under the `connections` lock, so every connection open at the drain's start is counted
/// exactly once: by its worker's guard when it closes, or by the force.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DrainCounts {
    /// Connections open when the drain began.
    pub connections: u64,
    /// Of those, Idle at the drain's start and closed.
    pub closed_idle: u64,
    /// Of those, Busy at the drain's start and closed after their requests.
    pub completed: u64,
    /// Of those, still open at the drain deadline (or a second signal) and closed by force.
    pub forced: u64,
}

/// Where a connection stood when the drain began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DrainClass {
    /// The drain has not begun.
    Serving,
    /// Idle: the drainer claimed it.
    Idle,
    /// Busy: it finishes the requests it has read, then closes.
    Busy,
}

/// A connection in the registry the drainer walks.
#[derive(Debug)]
pub(crate) struct Registered {
    pub connection: Arc<Connection>,
    pub class: DrainClass,
}

/// The open connections and the drain's counts, under one lock.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    pub connections: HashMap<u64, Registered>,
    pub drain: DrainCounts,
}

pub(crate) struct Shared {
    pub config: Config,
    pub router: Router,
    pub stats: Stats,
    pub registry: Mutex<Registry>,
    pub shutdown_requested: AtomicBool,
    pub force_requested: AtomicBool,
    pub draining: AtomicBool,
    pub forced: AtomicBool,
    pub accept_paused: AtomicBool,
    /// Worker threads that exist: counted before the spawn, uncounted by `worker::ThreadSlot` at the
    /// very end of the thread, after Rust has unmapped its signal stack. A closing connection's
    /// thread lives on briefly after its connection is uncounted; capping on this instead of
    /// on open connections keeps a burst of closes and accepts from holding more threads (and
    /// memory maps) than the capacity allows.
    pub threads: AtomicU64,
    /// The most connections open at once: the smaller of max_connections and the thread
    /// capacity, or with idle parking the descriptor capacity.
    pub connection_cap: usize,
    pub waker: mio::Waker,
    /// The parking loop, when idle parking is on.
    pub parking: Option<Parking>,
    /// Spare worker threads and the connections waiting for one (idle parking only).
    pub handoff: Handoff,
}

impl Shared {
    /// Wakes the accept loop (shutdown, a freed slot while paused, a drained connection).
    pub fn wake(&self) {
        if let Err(e) = self.waker.wake() {
            debug!("waking the accept loop failed: {e}");
        }
    }

    /// Starts draining: every connection that is Idle or Parked is claimed and woken so its
    /// worker (or the parking loop) closes it at once; Busy ones close themselves once their
    /// requests are answered.
    pub fn begin_drain(&self) {
        self.draining.store(true, SeqCst);
        let mut registry = self.registry.lock();
        registry.drain.connections = registry.connections.len() as u64;
        for registered in registry.connections.values_mut() {
            let connection = &registered.connection;
            if connection.state.claim(State::Idle, State::Closing)
                || connection.state.claim(State::Parked, State::Closing)
            {
                registered.class = DrainClass::Idle;
                // Wakes the worker's blocked read with end-of-stream.
                let _ = connection.stream.shutdown(Shutdown::Read);
            } else {
                registered.class = DrainClass::Busy;
            }
        }
        drop(registry);
        if let Some(parking) = &self.parking {
            parking.wake();
        }
    }

    /// Closes every remaining connection now, busy or not, and returns the final drain counts.
    /// Their workers may still be running a handler; they count nothing more.
    pub fn force_close(&self) -> DrainCounts {
        self.forced.store(true, SeqCst);
        let mut registry = self.registry.lock();
        let Registry { connections, drain } = &mut *registry;
        for (_, registered) in connections.drain() {
            let connection = &registered.connection;
            connection.state.force(State::Closing);
            let _ = connection.stream.shutdown(Shutdown::Both);
            if registered.class != DrainClass::Serving {
                drain.forced += 1;
            }
        }
        *drain
    }

    /// The drain counts now.
    pub fn drain_counts(&self) -> DrainCounts {
        self.registry.lock().drain
    }

    /// Adds a connection to the registry the drainer walks.
    pub fn register(&self, connection: Arc<Connection>) {
        self.registry.lock().connections.insert(
            connection.id,
            Registered {
                connection,
                class: DrainClass::Serving,
            },
        );
    }

    /// Removes connection `id` and counts how it ended if it was open when the drain began.
    pub fn unregister(&self, id: u64) {
        let mut registry = self.registry.lock();
        let Some(registered) = registry.connections.remove(&id) else {
            return;
        };
        match registered.class {
            DrainClass::Serving => {}
            DrainClass::Idle => registry.drain.closed_idle += 1,
            DrainClass::Busy => registry.drain.completed += 1,
        }
    }
}
