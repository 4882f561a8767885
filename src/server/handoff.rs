//! How a connection finds a thread when idle parking is on: a spare worker thread, a new one
//! while under the thread capacity, or else a wait in line (parked, so it costs no thread).

use std::collections::VecDeque;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use log::debug;
use parking_lot::Mutex;

use super::connection::{OpenConnection, State};
use super::shared::Shared;
use super::stats::CloseReason;
use super::worker::{self, ThreadSlot};

/// Most worker threads kept spare. A thread whose connection parks or closes waits here for the
/// next one instead of ending, so a burst of unparks does not pay a thread start (clone, a
/// 256 KiB stack and a signal stack mapped: ~100 us on the 2-core test box) each; 32 covers the
/// unparks of a few milliseconds at 10k/s while leaving a parked server at well under 64
/// threads.
const SPARES_MAX: u64 = 32;

/// Spare threads the parking loop keeps ready while unparks use them up: with none left, the
/// next unpark would wait for a thread start (far longer on a loaded machine); the
/// loop starts replacements after it has handed its ready connections over, off their path.
const SPARES_READY: u64 = 4;

/// How long a spare thread waits for a connection before it ends: 10 s keeps threads for a
/// load that pauses briefly and hands them back after a burst.
const SPARE_LINGER: Duration = Duration::from_secs(10);

/// Which thread took a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Started {
    /// A spare that was waiting.
    Spare,
    /// A thread started for it.
    NewThread,
}

/// The spare threads and the connections waiting for a thread.
pub(crate) struct Handoff {
    /// The most worker threads at once: the thread capacity derived at start.
    thread_cap: u64,
    /// Zero-capacity, so a send succeeds only into the hands of a spare waiting right now.
    /// `None` once the server has stopped, which ends every spare.
    to_spares: Mutex<Option<Sender<Box<OpenConnection>>>>,
    spares: Receiver<Box<OpenConnection>>,
    /// Parked connections with bytes to read and no thread yet, oldest first; still Parked,
    /// so the drainer can close them.
    waiting: Mutex<VecDeque<Box<OpenConnection>>>,
    /// Spare threads started by [`replenish`](Handoff::replenish) that are not waiting yet.
    starting: AtomicU64,
}

impl Handoff {
    pub fn new(thread_cap: usize) -> Handoff {
        let (to_spares, spares) = crossbeam_channel::bounded(0);
        Handoff {
            thread_cap: thread_cap.try_into().unwrap_or(u64::MAX),
            to_spares: Mutex::new(Some(to_spares)),
            spares,
            waiting: Mutex::new(VecDeque::new()),
            starting: AtomicU64::new(0),
        }
    }

    /// Gives `connection` to a spare thread waiting right now; gives it back if none is.
    pub fn offer_spare(&self, connection: Box<OpenConnection>) -> Result<(), Box<OpenConnection>> {
        match self.to_spares.lock().as_ref() {
            Some(to_spares) => to_spares.try_send(connection).map_err(|e| e.into_inner()),
            None => Err(connection),
        }
    }

    /// Gives `connection` to a spare thread, or to a new one if fewer than the capacity exist;
    /// gives it back when neither can take it.
    pub fn start(
        &self,
        shared: &Arc<Shared>,
        connection: Box<OpenConnection>,
    ) -> Result<Started, Box<OpenConnection>> {
        let Err(connection) = self.offer_spare(connection) else {
            return Ok(Started::Spare);
        };
        let Some(slot) = ThreadSlot::take_below(shared, self.thread_cap) else {
            return Err(connection);
        };
        worker::spawn(shared, slot, connection)
            .map(|()| Started::NewThread)
            .map_err(|(e, connection)| {
                shared.stats.spawn_failures.fetch_add(1, SeqCst);
                debug!("conn {}: no worker thread ({e})", connection.id());
                connection
            })
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

    /// The next connection for a worker thread whose connection parked or closed: one in line,
    /// or one handed to it as a spare within [`SPARE_LINGER`]. `None`: the thread ends.
    pub fn next(&self, shared: &Shared) -> Option<Box<OpenConnection>> {
        loop {
            if let Some(connection) = self.next_waiting() {
                match take_over(connection) {
                    Some(connection) => return Some(connection),
                    None => continue,
                }
            }
            let spares = &shared.stats.spare_threads;
            if spares.fetch_add(1, Relaxed) >= SPARES_MAX {
                spares.fetch_sub(1, Relaxed);
                return None;
            }
            let handed = self.spares.recv_timeout(SPARE_LINGER);
            spares.fetch_sub(1, Relaxed);
            match handed {
                Ok(connection) => {
                    if let Some(connection) = take_over(connection) {
                        return Some(connection);
                    }
                }
                Err(_) => return None,
            }
        }
    }

    /// Starts spare threads until [`SPARES_READY`] are waiting or starting, within the thread
    /// capacity. For the parking loop, after it has handed connections to spares.
    pub fn replenish(&self, shared: &Arc<Shared>) {
        while shared.stats.spare_threads.load(Relaxed) + self.starting.load(SeqCst) < SPARES_READY {
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

    /// A thread [`replenish`](Handoff::replenish) started is about to wait as a spare.
    pub fn spare_started(&self) {
        self.starting.fetch_sub(1, SeqCst);
    }

    /// Ends every spare thread, now and from now on.
    pub fn stop(&self) {
        self.to_spares.lock().take();
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
