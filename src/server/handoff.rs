//! How a connection finds a thread when idle parking is on: a spare worker thread, or else a
//! wait in line (parked, so it costs no thread) while the spawner thread starts spares, within
//! the thread capacity. Threads are started only by the spawner, never by the parking loop: a
//! thread start (~100 us here) there would delay every unpark behind it.
//!
//! Spares take the parking loop itself, too: the thread that polls hands the loop to a spare
//! and serves the connection that woke it, so a parked connection's request is read by the
//! thread the readiness woke, not by a second thread woken after it (see `parking`).

use std::collections::VecDeque;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use log::debug;
use parking_lot::Mutex;

use super::connection::{OpenConnection, State};
use super::parking::Lot;
use super::shared::Shared;
use super::stats::CloseReason;
use super::trim;
use super::worker::{self, ThreadSlot};

/// Most worker threads kept spare. A thread whose connection parks or closes waits here for the
/// next one instead of ending, so a burst of unparks does not pay a thread start (clone, a
/// 256 KiB stack and a signal stack mapped: ~100 us on the 2-core test box) each; 32 covers the
/// unparks of a few milliseconds at 10k/s while leaving a parked server at well under 64
/// threads.
const SPARES_MAX: u64 = 32;

/// Spare threads the spawner keeps ready while unparks use them up (on top of one per
/// connection in line): with none left, the next unpark waits for a thread start (~200 us
/// here, far longer on a loaded machine). Every unpark uses one (the spare that takes the
/// parking loop on). 200 back-to-back first calls on parked connections (one every ~0.25 ms)
/// had a p99 of 0.2-0.6 ms with 8 and ~1 ms with 4 and starts put off by 1 ms, which left
/// some unparks with no spare at all.
const SPARES_READY: u64 = 8;

/// How long a spare thread waits for a connection before it ends: 10 s keeps threads for a
/// load that pauses briefly and hands them back after a burst.
const SPARE_LINGER: Duration = Duration::from_secs(10);

/// What a worker thread is handed: a connection to serve, or the parking loop to run.
pub(crate) enum Handed {
    Connection(Box<OpenConnection>),
    Lot(Box<Lot>),
}

/// The spare threads and the connections waiting for a thread.
pub(crate) struct Handoff {
    /// The most worker threads at once: the thread capacity derived at start.
    thread_cap: u64,
    /// Zero-capacity, so a send succeeds only into the hands of a spare waiting right now.
    /// `None` once the server has stopped, which ends every spare.
    to_spares: Mutex<Option<Sender<Handed>>>,
    spares: Receiver<Handed>,
    /// Parked connections with bytes to read and no thread yet, oldest first; still Parked,
    /// so the drainer can close them.
    waiting: Mutex<VecDeque<Box<OpenConnection>>>,
    /// Spare threads the spawner started that are not waiting yet.
    starting: AtomicU64,
    /// Wakes the spawner (one wake-up pending at most); `None` once the server has stopped,
    /// which ends it.
    to_spawner: Mutex<Option<Sender<()>>>,
    spawner: Receiver<()>,
    /// What the spawner was woken for: spares (after an unpark), a heap trim (after parks),
    /// or both. A trim alone starts no spare: a server that never unparks starts none.
    spares_wanted: AtomicBool,
    trim_wanted: AtomicBool,
}

impl Handoff {
    pub fn new(thread_cap: usize) -> Handoff {
        let (to_spares, spares) = crossbeam_channel::bounded(0);
        let (to_spawner, spawner) = crossbeam_channel::bounded(1);
        Handoff {
            thread_cap: thread_cap.try_into().unwrap_or(u64::MAX),
            to_spares: Mutex::new(Some(to_spares)),
            spares,
            waiting: Mutex::new(VecDeque::new()),
            starting: AtomicU64::new(0),
            to_spawner: Mutex::new(Some(to_spawner)),
            spawner,
            spares_wanted: AtomicBool::new(false),
            trim_wanted: AtomicBool::new(false),
        }
    }

    /// Gives `connection` to a spare thread waiting right now; gives it back if none is.
    pub fn offer_spare(&self, connection: Box<OpenConnection>) -> Result<(), Box<OpenConnection>> {
        match self.offer(Handed::Connection(connection)) {
            Ok(()) => Ok(()),
            Err(Handed::Connection(connection)) => Err(connection),
            Err(Handed::Lot(_)) => unreachable!("offer gives back what it was given"),
        }
    }

    /// Gives the parking loop to a spare thread waiting right now; gives it back if none is.
    pub fn offer_lot(&self, lot: Box<Lot>) -> Result<(), Box<Lot>> {
        match self.offer(Handed::Lot(lot)) {
            Ok(()) => Ok(()),
            Err(Handed::Lot(lot)) => Err(lot),
            Err(Handed::Connection(_)) => unreachable!("offer gives back what it was given"),
        }
    }

    fn offer(&self, handed: Handed) -> Result<(), Handed> {
        match self.to_spares.lock().as_ref() {
            Some(to_spares) => to_spares.try_send(handed).map_err(|e| e.into_inner()),
            None => Err(handed),
        }
    }

    /// Puts a parked connection with bytes to read in line for a thread.
    pub fn wait(&self, connection: Box<OpenConnection>) {
        self.waiting.lock().push_back(connection);
    }

    /// The oldest connection in line for a thread.
    pub fn next_waiting(&self) -> Option<Box<OpenConnection>> {
        self.waiting.lock().pop_front()
    }

    /// Puts `connection` back at the head of the line (no thread could take it).
    pub fn wait_first(&self, connection: Box<OpenConnection>) {
        self.waiting.lock().push_front(connection);
    }

    /// The next work for a worker thread whose connection parked or closed: a connection in
    /// line, or what is handed to it as a spare within [`SPARE_LINGER`]. `None`: the thread
    /// ends.
    pub fn next(&self, shared: &Shared) -> Option<Handed> {
        if let Some(connection) = self.next_waiting() {
            return Some(Handed::Connection(connection));
        }
        let spares = &shared.stats.spare_threads;
        if spares.fetch_add(1, Relaxed) >= SPARES_MAX {
            spares.fetch_sub(1, Relaxed);
            return None;
        }
        let handed = self.spares.recv_timeout(SPARE_LINGER);
        spares.fetch_sub(1, Relaxed);
        handed.ok()
    }

    /// Asks the spawner to bring the spares up to [`SPARES_READY`] plus one per connection in
    /// line: for the parking loop, after it has handed connections over or put one in line.
    pub fn want_spares(&self) {
        self.spares_wanted.store(true, SeqCst);
        self.wake_spawner();
    }

    /// Asks the spawner to give the heap memory freed so far back to the kernel.
    pub fn want_trim(&self) {
        self.trim_wanted.store(true, SeqCst);
        self.wake_spawner();
    }

    fn wake_spawner(&self) {
        if let Some(to_spawner) = self.to_spawner.lock().as_ref() {
            let _ = to_spawner.try_send(());
        }
    }

    /// The spawner thread's loop: starts spares and trims the heap when asked, until the
    /// server stops. It starts them at once: putting starts off by 1 ms (to keep them off the
    /// CPU a reply needs) let a burst of first calls use the ready spares up, and the next
    /// unpark then waited for the deferred start (first-call p99 ~1 ms instead of ~0.3 ms).
    pub fn run_spawner(&self, shared: &Arc<Shared>) {
        while self.spawner.recv().is_ok() {
            if self.trim_wanted.swap(false, SeqCst) {
                let started = std::time::Instant::now();
                let released = trim::release_free_memory();
                debug!(
                    "heap trimmed in {:?} (released: {released})",
                    started.elapsed()
                );
            }
            if self.spares_wanted.swap(false, SeqCst) && !shared.draining.load(SeqCst) {
                self.fill(shared);
            }
        }
    }

    /// Starts spare threads until enough are waiting or starting, within the thread capacity.
    fn fill(&self, shared: &Arc<Shared>) {
        loop {
            let wanted = SPARES_READY + self.waiting.lock().len() as u64;
            if shared.stats.spare_threads.load(Relaxed) + self.starting.load(SeqCst) >= wanted {
                return;
            }
            let Some(slot) = ThreadSlot::take_below(shared, self.thread_cap) else {
                return;
            };
            self.starting.fetch_add(1, SeqCst);
            if let Err(e) = worker::spawn_spare(shared, slot) {
                self.starting.fetch_sub(1, SeqCst);
                shared.stats.spawn_failures.fetch_add(1, SeqCst);
                debug!("no spare thread ({e})");
                return;
            }
        }
    }

    /// A thread the spawner started is about to wait as a spare.
    pub fn spare_started(&self) {
        self.starting.fetch_sub(1, SeqCst);
    }

    /// Ends every spare thread and the spawner, now and from now on.
    pub fn stop(&self) {
        self.to_spares.lock().take();
        self.to_spawner.lock().take();
    }
}

/// A worker takes `connection` over: a parked one becomes Idle again, unless the drainer
/// claimed it first, in which case the bytes that arrived are a request the server never
/// started, and it closes. A new connection (already Idle) passes as is.
pub(crate) fn take_over(mut connection: Box<OpenConnection>) -> Option<Box<OpenConnection>> {
    let state = &connection.connection.state;
    if state.get() == State::Idle {
        return Some(connection);
    }
    if !state.claim(State::Parked, State::Idle) {
        connection.reason = Some(connection.broken(CloseReason::Drain));
        return None;
    }
    connection.set_parked(false);
    if connection.had_worker {
        connection.shared.stats.unparks.fetch_add(1, Relaxed);
    }
    Some(connection)
}
