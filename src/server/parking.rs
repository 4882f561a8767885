//! The parking loop: one thread at a time holds every parked connection in a mio `Poll`, with
//! their idle and age deadlines in a timer set, and gives a connection back to a worker thread
//! when bytes arrive. The loop moves between threads: the one that polled serves the
//! connection that woke it and hands the loop to a spare (see [`run`]).
//!
//! A parked connection is Idle without a thread. The loop enforces for it what the worker's
//! Idle wait would: the idle timeout (counted from the start of the Idle wait, not from the
//! park), the max age, and the drain, which closes parked connections at once. Against a
//! request arriving as the drainer closes, the same one atomic change decides: the drainer
//! moves the state Parked -> Closing, a worker taking the connection back moves it Parked ->
//! Idle; whoever is first wins, so a request is answered or never started.

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use log::debug;
use mio::event::Event;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};

use super::accept::poll_until;
use super::connection::{OpenConnection, State};
use super::shared::Shared;
use super::stats::CloseReason;
use super::trim::TrimSchedule;
use super::worker;
use crate::transport::{deadline_after, ReadBuffer};

const WAKER: Token = Token(0);

/// While connections wait for a thread, the loop offers them again after this pause, doubling
/// while offers fail (a thread that cannot be started) up to the maximum. Workers that free up
/// take waiting connections themselves; the retry covers a worker that became spare just after
/// an offer failed, and threads that could not be started.
const WAITING_RETRY_MIN: Duration = Duration::from_millis(10);
const WAITING_RETRY_MAX: Duration = Duration::from_secs(1);

/// Readiness events taken per poll: a burst of unparks is handled 1,024 at a time.
const EVENTS: usize = 1024;

/// The way into the parking loop, kept in [`Shared`].
pub(crate) struct Parking {
    arrivals: Sender<Box<OpenConnection>>,
    waker: Waker,
    stopping: AtomicBool,
}

/// The parking loop's own half, until it runs.
pub(crate) struct ParkingLoop {
    poll: Poll,
    arrivals: Receiver<Box<OpenConnection>>,
}

/// A parking lot and its loop, not yet running.
pub(crate) fn new() -> io::Result<(Parking, ParkingLoop)> {
    let poll = Poll::new()?;
    let waker = Waker::new(poll.registry(), WAKER)?;
    let (sender, arrivals) = crossbeam_channel::unbounded();
    let parking = Parking {
        arrivals: sender,
        waker,
        stopping: AtomicBool::new(false),
    };
    Ok((parking, ParkingLoop { poll, arrivals }))
}

impl Parking {
    /// Wakes the loop: a connection arrived, the drain began, or it should stop.
    pub fn wake(&self) {
        if let Err(e) = self.waker.wake() {
            debug!("waking the parking loop failed: {e}");
        }
    }

    /// Ends the loop; it closes what it still holds.
    pub fn stop(&self) {
        self.stopping.store(true, SeqCst);
        self.wake();
    }
}

/// Parks an Idle connection: its buffers are freed and the parking loop holds it until bytes
/// arrive, its idle or age deadline passes, or the drain closes it. A connection the drainer
/// claimed first closes instead.
pub(crate) fn park(mut connection: Box<OpenConnection>) {
    let shared = Arc::clone(&connection.shared);
    let Some(parking) = shared.parking.as_ref() else {
        return;
    };
    connection.start();
    if connection.idle_since.is_none() {
        connection.idle_since = Some(connection.born);
    }
    if !connection
        .connection
        .state
        .claim(State::Idle, State::Parked)
    {
        connection.reason = Some(connection.broken(CloseReason::Drain));
        return;
    }
    // A parked connection keeps no buffer memory: its read buffer is empty (a connection with
    // half a request in it is Busy and never parks; bytes buffered would be kept with it) and
    // its write buffer was flushed.
    if connection.read_buffer.is_empty() {
        connection.read_buffer = ReadBuffer::new(shared.config.read_buffer_size);
    }
    connection.write_buffer = Vec::new();
    connection.set_parked(true);
    if connection.had_worker {
        shared.stats.parks.fetch_add(1, Relaxed);
    }
    if let Err(returned) = parking.arrivals.send(connection) {
        // The loop has stopped: the server is past its drain.
        let mut connection = returned.into_inner();
        connection.reason = Some(connection.broken(CloseReason::Drain));
        return;
    }
    parking.wake();
}

/// One parked connection and when it closes unless bytes arrive.
struct Held {
    connection: Box<OpenConnection>,
    deadline: Instant,
    /// Why it closes at the deadline: Idle or MaxAge.
    at_deadline: CloseReason,
}

/// The running parking loop and the spawner of spare threads. Dropping it stops both (the loop
/// closes what it still holds) and the spare threads, and waits for both to end.
pub(crate) struct ParkingThread {
    shared: Arc<Shared>,
    spawner: Option<JoinHandle<()>>,
    /// Disconnected once the loop has ended, on whichever thread ran it last.
    lot_ended: Receiver<()>,
}

impl Drop for ParkingThread {
    fn drop(&mut self) {
        self.shared.handoff.stop();
        if let Some(parking) = &self.shared.parking {
            parking.stop();
        }
        let _ = self.lot_ended.recv();
        if let Some(spawner) = self.spawner.take() {
            let _ = spawner.join();
        }
    }
}

impl ParkingLoop {
    /// Starts the loop on a worker thread of its own (`tether-parking`), from which it moves
    /// to spare threads as unparks come, and the spawner of spare threads (`tether-spares`).
    pub fn spawn(self, shared: Arc<Shared>) -> io::Result<ParkingThread> {
        let spawner_shared = Arc::clone(&shared);
        let spawner = thread::Builder::new()
            .name("tether-spares".into())
            .spawn(move || spawner_shared.handoff.run_spawner(&spawner_shared))?;
        let (ended, lot_ended) = crossbeam_channel::bounded(0);
        let lot = Box::new(Lot {
            shared: Arc::clone(&shared),
            poll: self.poll,
            events: Events::with_capacity(EVENTS),
            arrivals: self.arrivals,
            held: HashMap::new(),
            timers: BTreeSet::new(),
            retry_pause: None,
            retry_at: None,
            trim: TrimSchedule::default(),
            handed_over: false,
            _ended: ended,
        });
        let running = ParkingThread {
            shared: Arc::clone(&shared),
            spawner: Some(spawner),
            lot_ended,
        };
        worker::spawn_parking(&shared, lot)?;
        Ok(running)
    }
}

/// The parking loop's state, owned by the thread that runs the loop now.
pub(crate) struct Lot {
    shared: Arc<Shared>,
    poll: Poll,
    events: Events,
    arrivals: Receiver<Box<OpenConnection>>,
    /// By connection id, which is also the poll token.
    held: HashMap<u64, Held>,
    /// (deadline, connection id), soonest first.
    timers: BTreeSet<(Instant, u64)>,
    /// The pause before connections waiting for a thread are offered again, while offers fail.
    retry_pause: Option<Duration>,
    retry_at: Option<Instant>,
    trim: TrimSchedule,
    /// Whether the loop came to its thread from another (which serves a connection now).
    handed_over: bool,
    /// Dropped with the lot: tells [`ParkingThread`] the loop has ended.
    _ended: Sender<()>,
}

/// What one turn of the loop leaves its thread.
enum Turn {
    Continue,
    /// Bytes arrived on this parked connection; the thread that polled serves it, if a spare
    /// takes the loop over.
    Serve(Box<OpenConnection>),
    Stopped,
}

/// What became of a parked connection that turned readable.
enum Woke {
    /// Closed, or handed on (to a spare, or in line for a thread).
    Gone,
    /// A spare thread took it: one fewer is ready.
    ToSpare,
    /// Kept for the thread that polled.
    Kept(Box<OpenConnection>),
}

/// Runs the parking loop on this thread until the server stops (`None`), or until a
/// connection woke and a spare thread took the loop over: the connection is then this
/// thread's to serve. The request is read by the thread the readiness woke, so an unpark
/// costs one thread wake-up, as a request on an unparked connection does; the spare's own
/// wake-up happens while this thread serves.
pub(crate) fn run(mut lot: Box<Lot>) -> Option<Box<OpenConnection>> {
    // This thread was a spare: the spawner replaces it. Asked here rather than by the thread
    // that handed the loop over, so that wake-up is not on the unparked request's path.
    if lot.handed_over {
        lot.shared.handoff.want_spares();
    }
    loop {
        match lot.turn() {
            Turn::Continue => {}
            Turn::Stopped => {
                lot.finish();
                return None;
            }
            Turn::Serve(connection) => {
                let shared = Arc::clone(&lot.shared);
                lot.handed_over = true;
                match shared.handoff.offer_lot(lot) {
                    Ok(()) => return Some(connection),
                    Err(back) => {
                        lot = back;
                        lot.wait_for_thread(connection);
                    }
                }
            }
        }
    }
}

impl Lot {
    fn stopping(&self) -> bool {
        self.shared
            .parking
            .as_ref()
            .map_or(true, |parking| parking.stopping.load(SeqCst))
    }

    /// One turn: take new arrivals, act on the drain, the retry and the trim, wait for
    /// readiness or the next deadline, then hand out what woke and close what expired.
    fn turn(&mut self) -> Turn {
        if self.stopping() {
            return Turn::Stopped;
        }
        while let Ok(connection) = self.arrivals.try_recv() {
            self.hold(connection);
        }
        if self.shared.draining.load(SeqCst) {
            self.close_all(CloseReason::Drain);
        }
        if self.retry_at.is_some_and(|at| Instant::now() >= at) {
            self.offer_waiting();
        }
        self.trim_if_due(Instant::now());
        let next_timer = self.timers.first().map(|&(at, _)| at);
        let trim_at = self.trim.at();
        let wake_at = [next_timer, self.retry_at, trim_at];
        if let Err(e) = poll_until(&mut self.poll, &mut self.events, wake_at) {
            // Nothing else can watch these connections: close them rather than hold them
            // past their deadlines.
            log::warn!("parking loop failed: {e}; closing parked connections");
            return Turn::Stopped;
        }
        let events = std::mem::replace(&mut self.events, Events::with_capacity(0));
        let mut kept = None;
        // Spares are started only once in use: a server that never unparks starts none.
        let mut spares_used = false;
        for event in events.iter() {
            if event.token() == WAKER {
                continue;
            }
            match self.readable(event, kept.is_none()) {
                Woke::Gone => {}
                Woke::ToSpare => spares_used = true,
                Woke::Kept(connection) => kept = Some(connection),
            }
        }
        self.events = events;
        if spares_used && !self.shared.draining.load(SeqCst) {
            self.shared.handoff.want_spares();
        }
        self.expire(Instant::now());
        match kept {
            Some(connection) => Turn::Serve(connection),
            None => Turn::Continue,
        }
    }

    /// The loop has stopped: closes what it holds and what is still on its way in.
    fn finish(&mut self) {
        self.close_all(CloseReason::Drain);
        while let Ok(connection) = self.arrivals.try_recv() {
            close(connection, CloseReason::Drain);
        }
    }

    /// Takes a connection just parked: watches its socket and sets its deadline.
    fn hold(&mut self, connection: Box<OpenConnection>) {
        if connection.connection.state.get() == State::Closing {
            close(connection, CloseReason::Drain);
            return;
        }
        let config = &self.shared.config;
        let idle_since = connection.idle_since.unwrap_or(connection.born);
        let idle_deadline = deadline_after(idle_since, config.idle_timeout);
        let age_deadline = connection
            .max_age
            .map(|age| deadline_after(connection.born, age));
        let (deadline, at_deadline) = match age_deadline {
            Some(age) if age <= idle_deadline => (age, CloseReason::MaxAge),
            _ => (idle_deadline, CloseReason::Idle),
        };
        let id = connection.id();
        let fd = connection.connection.stream.as_raw_fd();
        if let Err(e) =
            self.poll
                .registry()
                .register(&mut SourceFd(&fd), token(id), Interest::READABLE)
        {
            debug!("conn {id}: cannot watch it parked: {e}");
            close(connection, CloseReason::IoError);
            return;
        }
        self.timers.insert((deadline, id));
        self.trim.park(Instant::now());
        self.held.insert(
            id,
            Held {
                connection,
                deadline,
                at_deadline,
            },
        );
    }

    /// Stops watching connection `id` and gives it up.
    fn release(&mut self, id: u64) -> Option<Held> {
        let held = self.held.remove(&id)?;
        self.timers.remove(&(held.deadline, id));
        let fd = held.connection.connection.stream.as_raw_fd();
        let _ = self.poll.registry().deregister(&mut SourceFd(&fd));
        Some(held)
    }

    /// Has the heap memory freed since the last trim given back to the kernel, once it is
    /// due. The spawner thread trims (17 ms with 19,000 parked connections), not the loop.
    fn trim_if_due(&mut self, now: Instant) {
        if self.trim.take_due(now) {
            self.shared.handoff.want_trim();
        }
    }

    /// Bytes (or an end of stream) arrived on a parked connection. `keep`: the polling thread
    /// has none to serve yet and takes this one.
    fn readable(&mut self, event: &Event, keep: bool) -> Woke {
        let Some(held) = self.release(event.token().0 as u64) else {
            return Woke::Gone;
        };
        let connection = held.connection;
        if connection.connection.state.get() == State::Closing {
            close(connection, CloseReason::Drain);
            return Woke::Gone;
        }
        // The peer closed without sending anything: close here instead of waking a thread
        // for it (a pool that shuts down closes all its idle connections at once). The peek
        // does not wait: the end of stream is already in.
        if event.is_read_closed() && matches!(connection.connection.stream.peek(&mut [0]), Ok(0)) {
            close(connection, CloseReason::PeerEof);
            return Woke::Gone;
        }
        if keep {
            return Woke::Kept(connection);
        }
        match self.shared.handoff.offer_spare(connection) {
            Ok(()) => Woke::ToSpare,
            Err(connection) => {
                self.wait_for_thread(connection);
                Woke::Gone
            }
        }
    }

    /// Puts a woken connection that no spare took in line for a thread: a spare the spawner
    /// starts takes it from there; the retry covers a spare that began to wait just after the
    /// offer.
    fn wait_for_thread(&mut self, connection: Box<OpenConnection>) {
        self.shared.handoff.wait(connection);
        self.shared.handoff.want_spares();
        if self.retry_at.is_none() {
            self.retry_at = Some(Instant::now() + WAITING_RETRY_MIN);
        }
    }

    /// Offers the connections in line for a thread to the spares again, and asks for more.
    fn offer_waiting(&mut self) {
        let handoff = &self.shared.handoff;
        while let Some(connection) = handoff.next_waiting() {
            if let Err(connection) = handoff.offer_spare(connection) {
                handoff.wait_first(connection);
                handoff.want_spares();
                let pause = self
                    .retry_pause
                    .map_or(WAITING_RETRY_MIN, |p| (p * 2).min(WAITING_RETRY_MAX));
                self.retry_pause = Some(pause);
                self.retry_at = Some(Instant::now() + pause);
                return;
            }
        }
        self.retry_pause = None;
        self.retry_at = None;
    }

    /// Closes the connections whose deadline has passed by `now`.
    fn expire(&mut self, now: Instant) {
        while let Some(&(at, id)) = self.timers.first() {
            if at > now {
                return;
            }
            if let Some(held) = self.release(id) {
                close(held.connection, held.at_deadline);
            }
        }
    }

    /// Closes every held connection, and every one in line for a thread.
    fn close_all(&mut self, reason: CloseReason) {
        let ids: Vec<u64> = self.held.keys().copied().collect();
        for id in ids {
            if let Some(held) = self.release(id) {
                close(held.connection, reason);
            }
        }
        while let Some(connection) = self.shared.handoff.next_waiting() {
            close(connection, reason);
        }
    }
}

fn token(id: u64) -> Token {
    Token(id as usize)
}

/// Closes a parked connection for `reason`, unless the drainer or a force claimed it first:
/// then that is the reason.
fn close(mut connection: Box<OpenConnection>, reason: CloseReason) {
    let state = &connection.connection.state;
    let reason = if state.claim(State::Parked, State::Closing) {
        reason
    } else {
        connection.broken(CloseReason::Drain)
    };
    connection.reason = Some(reason);
}
