//! The loop that serves a connection: read, process, write, back to Idle, with a deadline on
//! every wait; and the worker threads that run it.

use std::cell::RefCell;
use std::io;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use log::debug;

use super::connection::{OpenConnection, State};
use super::dispatch::{After, Dispatcher};
use super::handoff::{self, Handed};
use super::parking::{self, Lot};
use super::shared::Shared;
use super::stats::CloseReason;
use crate::transport::{deadline_after, DeadlineError, FrameStatus};

/// A write buffer larger than this is freed once its reply is sent, so one large reply does not
/// pin memory on a long-lived connection.
const KEEP_WRITE_BUFFER: usize = 64 << 10;

/// Starts a worker thread (`tether-conn-42`, after the first connection it serves) on `slot`
/// that serves `connection`, and then, with idle parking, whatever connection needs a thread
/// next. If the thread cannot be started, the connection comes back untouched, still open.
pub(crate) fn spawn(
    shared: &Arc<Shared>,
    slot: ThreadSlot,
    connection: Box<OpenConnection>,
) -> Result<(), (io::Error, Box<OpenConnection>)> {
    // The connection goes over a channel once the thread exists, so a failed spawn, which
    // drops the closure, does not drop (and close) the connection with it.
    let (handoff, arrival) = crossbeam_channel::bounded::<Box<OpenConnection>>(1);
    let spawned = thread::Builder::new()
        .name(format!("tether-conn-{}", connection.id()))
        .stack_size(shared.config.worker_stack_size)
        .spawn(move || {
            let shared = Arc::clone(&slot.0);
            slot.keep_until_thread_exit();
            if let Ok(first) = arrival.recv() {
                run(&shared, Handed::Connection(first), ThreadBuffers::default());
            }
        });
    match spawned {
        Ok(_) => {
            // The receiver is alive until it has taken this one message.
            let _ = handoff.send(connection);
            Ok(())
        }
        // The closure was dropped unrun, and with it the slot: `threads` is back.
        Err(e) => Err((e, connection)),
    }
}

/// Starts a worker thread on `slot` that begins as a spare: it waits for a connection to be
/// handed to it (idle parking only), so the next unpark does not wait for a thread start.
pub(crate) fn spawn_spare(shared: &Arc<Shared>, slot: ThreadSlot) -> io::Result<()> {
    thread::Builder::new()
        .name("tether-conn-spare".into())
        .stack_size(shared.config.worker_stack_size)
        .spawn(move || {
            let shared = Arc::clone(&slot.0);
            slot.keep_until_thread_exit();
            // Allocated before the wait, off the path of the request it is handed.
            let buffers = ThreadBuffers::allocated(&shared);
            shared.handoff.spare_started();
            if let Some(first) = shared.handoff.next(&shared) {
                run(&shared, first, buffers);
            }
        })
        .map(drop)
}

/// Starts the worker thread that runs the parking loop first (`tether-parking`); the loop
/// moves on to spares from there, and this thread serves and spares like any other.
pub(crate) fn spawn_parking(shared: &Arc<Shared>, lot: Box<Lot>) -> io::Result<()> {
    let slot = ThreadSlot::take(shared);
    thread::Builder::new()
        .name("tether-parking".into())
        .stack_size(shared.config.worker_stack_size)
        .spawn(move || {
            let shared = Arc::clone(&slot.0);
            slot.keep_until_thread_exit();
            let buffers = ThreadBuffers::allocated(&shared);
            run(&shared, Handed::Lot(lot), buffers);
        })
        .map(drop)
}

/// A worker thread's life: serve a connection until it closes or parks, or run the parking
/// loop until it hands itself on with a connection to serve; then take the next work (only
/// with idle parking), or end.
fn run(shared: &Arc<Shared>, first: Handed, mut buffers: ThreadBuffers) {
    let lending = shared.parking.is_some();
    let mut next = Some(first);
    while let Some(handed) = next {
        let connection = match handed {
            Handed::Connection(connection) => connection,
            Handed::Lot(lot) => match parking::run(lot) {
                Some(connection) => connection,
                // The loop ended: the server has stopped.
                None => return,
            },
        };
        // None: the drainer closed it first.
        if let Some(mut connection) = handoff::take_over(connection) {
            if lending {
                buffers.lend(&mut connection);
            }
            let served = serve(&mut connection);
            if lending {
                buffers.take_back(&mut connection);
            }
            match served {
                Served::Parked => parking::park(connection),
                Served::Closed => drop(connection),
            }
        }
        next = match shared.parking {
            Some(_) => shared.handoff.next(shared),
            None => None,
        };
    }
}

/// The buffers a worker thread keeps between the connections it serves (idle parking): a
/// connection that parks or closes leaves its empty buffers with the thread, and the next one
/// the thread serves reads and writes in them. An unpark then allocates nothing: freeing and
/// allocating a 4 KiB read buffer per park and unpark made glibc shrink and regrow its
/// arenas (an madvise, a TLB shootdown and page faults on the request path).
#[derive(Default)]
struct ThreadBuffers {
    read: Option<Vec<u8>>,
    write: Vec<u8>,
}

impl ThreadBuffers {
    /// Buffers of the configured read buffer size, for a thread about to wait as a spare: a
    /// reply grown from an empty Vec reallocates, and a realloc in a thread arena can shrink
    /// the arena under the request.
    fn allocated(shared: &Shared) -> ThreadBuffers {
        let size = shared.config.read_buffer_size;
        ThreadBuffers {
            read: Some(vec![0; size]),
            write: Vec::with_capacity(size),
        }
    }

    fn lend(&mut self, connection: &mut OpenConnection) {
        if let Some(storage) = self.read.take() {
            self.read = connection.read_buffer.lend_storage(storage).err();
        }
        if connection.write_buffer.capacity() == 0 {
            std::mem::swap(&mut connection.write_buffer, &mut self.write);
        }
    }

    fn take_back(&mut self, connection: &mut OpenConnection) {
        if self.read.is_none() {
            self.read = connection.read_buffer.take_storage();
        }
        let write = &mut connection.write_buffer;
        if self.write.capacity() == 0 && write.is_empty() && write.capacity() <= KEEP_WRITE_BUFFER {
            std::mem::swap(write, &mut self.write);
        }
    }
}

/// How [`serve`] left a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Served {
    /// It must close: the reason is recorded, dropping it closes it.
    Closed,
    /// It was Idle for `park_after`: it goes to the parking loop, still Idle.
    Parked,
}

/// Why the serving loop stopped.
enum Stop {
    Close(CloseReason),
    Park,
}

/// Serves `connection` until it must close (and records why) or parks.
pub(crate) fn serve(connection: &mut OpenConnection) -> Served {
    connection.start();
    connection.had_worker = true;
    let shared = Arc::clone(&connection.shared);
    let id = connection.id();
    let dispatcher = Dispatcher {
        router: &shared.router,
        stats: shared.stats.shard(id),
        limits: shared.config.limits,
        peer: Some(connection.connection.peer),
        connection_id: id,
        drain: &shared.shutdown_requested,
    };
    let mut worker = Worker {
        shared: &shared,
        conn: connection,
        dispatcher,
    };
    match worker.serve() {
        Stop::Close(reason) => {
            worker.conn.reason = Some(reason);
            Served::Closed
        }
        Stop::Park => Served::Parked,
    }
}

struct Worker<'a> {
    shared: &'a Shared,
    conn: &'a mut OpenConnection,
    dispatcher: Dispatcher<'a>,
}

impl Worker<'_> {
    fn serve(&mut self) -> Stop {
        loop {
            // The state was stored Idle before the drain check, and the drainer sets
            // `draining` before it looks at states: one of the two always sees the other.
            if let Some(reason) = self.conn.limit_reached(Instant::now) {
                return Stop::Close(reason);
            }
            if let Some(stop) = self.wait_for_request() {
                return stop;
            }
            if !self.conn.connection.state.claim(State::Idle, State::Busy) {
                // The drainer claimed the connection first: the bytes that arrived are a
                // request the server never started, so it is not processed at all.
                return Stop::Close(self.conn.broken(CloseReason::Drain));
            }
            let busy = BusyGauge::enter(&self.dispatcher.stats.busy);
            if let Some(reason) = self.serve_requests() {
                return Stop::Close(reason);
            }
            drop(busy);
            if !self.conn.connection.state.claim(State::Busy, State::Idle) {
                return Stop::Close(self.conn.broken(CloseReason::Forced));
            }
            self.conn.read_buffer.release();
            if self.conn.write_buffer.capacity() > KEEP_WRITE_BUFFER {
                self.conn.write_buffer = Vec::new();
            }
        }
    }

    /// Waits, Idle, for the first bytes of a request; `Some` when the connection must close
    /// or, Idle for `park_after`, park.
    fn wait_for_request(&mut self) -> Option<Stop> {
        let config = &self.shared.config;
        let conn = &mut *self.conn;
        // One clock read serves the idle deadline and the read's first wait. Back from the
        // parking loop, the idle time counts from where the wait began.
        let now = Instant::now();
        let idle_since = conn.idle_since.take().unwrap_or(now);
        let idle_deadline = deadline_after(idle_since, config.idle_timeout);
        let age_deadline = conn.max_age.map(|age| deadline_after(conn.born, age));
        let mut deadline = age_deadline.map_or(idle_deadline, |age| age.min(idle_deadline));
        if let Some(after) = config.park_after {
            deadline = deadline.min(deadline_after(now, after));
        }
        match conn.io.read_by_at(
            &conn.connection.stream,
            &mut conn.read_buffer,
            deadline,
            now,
        ) {
            Ok(0) => Some(Stop::Close(conn.broken(CloseReason::PeerEof))),
            Ok(n) => {
                conn.last_read = Instant::now();
                self.dispatcher.stats.bytes_in.fetch_add(n as u64, Relaxed);
                None
            }
            Err(DeadlineError::TimedOut) => {
                let now = Instant::now();
                if age_deadline.is_some_and(|age| now >= age) {
                    Some(Stop::Close(CloseReason::MaxAge))
                } else if now >= idle_deadline {
                    Some(Stop::Close(conn.broken(CloseReason::Idle)))
                } else {
                    // The park deadline, the only one left, passed.
                    conn.idle_since = Some(idle_since);
                    Some(Stop::Park)
                }
            }
            Err(DeadlineError::Io(e)) => {
                debug!("conn {}: read failed: {e}", conn.id());
                Some(Stop::Close(conn.broken(CloseReason::IoError)))
            }
        }
    }

    /// Busy: handles every complete buffered request, writes the replies in one go, and reads
    /// on while a request is partly in. `None` when the buffer is empty and the connection
    /// goes back to Idle.
    ///
    /// Every request read whole is answered. Once a limit is reached (max requests, max age,
    /// drain) the request partly in hand is finished too, and nothing after it is started.
    fn serve_requests(&mut self) -> Option<CloseReason> {
        let timeout = self.shared.config.request_timeout;
        let mut request_deadline = deadline_after(self.conn.last_read, timeout);
        // Requests served when a limit was first seen here, and that limit.
        let mut finish_line = None;
        loop {
            let served_before = self.conn.served;
            let after = self.handle_buffered();
            if let Some(reason) = self.flush(self.conn.served - served_before) {
                return Some(reason);
            }
            if after == After::Close {
                return Some(CloseReason::ProtocolError);
            }
            if self.conn.read_buffer.is_empty() {
                return None;
            }
            if self.conn.served > served_before {
                // The next request began in the last read, but the time its predecessors
                // spent in handlers and in the write is not its own: its deadline starts now.
                request_deadline = deadline_after(Instant::now(), timeout);
            }
            match finish_line {
                Some((served, reason)) if self.conn.served > served => return Some(reason),
                Some(_) => {}
                None => {
                    finish_line = self
                        .conn
                        .limit_reached(Instant::now)
                        .map(|reason| (self.conn.served, reason));
                }
            }
            let conn = &mut *self.conn;
            match conn.io.read_by(
                &conn.connection.stream,
                &mut conn.read_buffer,
                request_deadline,
            ) {
                Ok(0) => return Some(conn.broken(CloseReason::PeerEof)),
                Ok(n) => {
                    self.dispatcher.stats.bytes_in.fetch_add(n as u64, Relaxed);
                }
                Err(DeadlineError::TimedOut) => return Some(CloseReason::RequestTimeout),
                Err(DeadlineError::Io(e)) => {
                    debug!("conn {}: read failed: {e}", conn.id());
                    return Some(conn.broken(CloseReason::IoError));
                }
            }
        }
    }

    /// Dispatches the complete requests at the front of the read buffer, in order.
    fn handle_buffered(&mut self) -> After {
        let conn = &mut *self.conn;
        loop {
            match conn.deframer.next(conn.read_buffer.filled()) {
                Ok(FrameStatus::Complete { message, consumed }) => {
                    let bytes = &conn.read_buffer.filled()[message];
                    let codec = conn
                        .deframer
                        .codec()
                        .expect("a complete message has a codec");
                    let after = self.dispatcher.handle(bytes, codec, &mut conn.write_buffer);
                    conn.read_buffer.consume(consumed);
                    conn.served += 1;
                    if after == After::Close {
                        return After::Close;
                    }
                }
                Ok(FrameStatus::Incomplete { .. }) => return After::Continue,
                Err(e) => {
                    debug!("conn {}: bad frame: {e}", conn.id());
                    return After::Close;
                }
            }
        }
    }

    /// Writes the buffered replies of the `answered` requests just handled, with one deadline.
    fn flush(&mut self, answered: u64) -> Option<CloseReason> {
        if self.conn.write_buffer.is_empty() {
            if answered > 0 {
                self.record_latency(Instant::now(), answered);
            }
            return None;
        }
        let now = Instant::now();
        self.record_latency(now, answered);
        let deadline = deadline_after(now, self.shared.config.write_timeout);
        let conn = &mut *self.conn;
        let result =
            conn.io
                .write_all_by_at(&conn.connection.stream, &conn.write_buffer, deadline, now);
        let written = conn.write_buffer.len() as u64;
        conn.write_buffer.clear();
        match result {
            Ok(()) => {
                self.dispatcher.stats.bytes_out.fetch_add(written, Relaxed);
                None
            }
            Err(DeadlineError::TimedOut) => Some(conn.broken(CloseReason::WriteTimeout)),
            Err(DeadlineError::Io(e)) => {
                debug!("conn {}: write failed: {e}", conn.id());
                Some(conn.broken(CloseReason::IoError))
            }
        }
    }

    /// Counts `requests` handled by `now`, timed from the first byte of the batch they arrived
    /// in (receiving the rest, decode, handler, encode). It reuses clock reads the worker takes anyway.
    fn record_latency(&self, now: Instant, requests: u64) {
        if requests > 0 {
            let took = now.saturating_duration_since(self.conn.last_read);
            self.dispatcher.stats.latency.record(took, requests);
        }
    }
}

/// Counts a connection as busy while alive, on every exit path.
struct BusyGauge<'a>(&'a AtomicU64);

impl<'a> BusyGauge<'a> {
    fn enter(gauge: &'a AtomicU64) -> Self {
        gauge.fetch_add(1, Relaxed);
        BusyGauge(gauge)
    }
}

impl Drop for BusyGauge<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

thread_local! {
    static SLOT: RefCell<Option<ThreadSlot>> = const { RefCell::new(None) };
}

/// A worker thread's place in [`Shared::threads`], given back by a thread-local destructor:
/// those run after the thread's main function has returned and Rust's runtime has unmapped the
/// thread's signal stack, the last thing the thread maps.
pub(crate) struct ThreadSlot(Arc<Shared>);

impl ThreadSlot {
    /// Counts one more worker thread, to be started on this slot.
    pub fn take(shared: &Arc<Shared>) -> ThreadSlot {
        shared.threads.fetch_add(1, SeqCst);
        ThreadSlot(Arc::clone(shared))
    }

    /// Counts one more worker thread if fewer than `cap` exist.
    pub fn take_below(shared: &Arc<Shared>, cap: u64) -> Option<ThreadSlot> {
        shared
            .threads
            .fetch_update(SeqCst, SeqCst, |n| (n < cap).then_some(n + 1))
            .ok()
            .map(|_| ThreadSlot(Arc::clone(shared)))
    }

    /// Hands the slot to the current thread, to be given back when the thread ends.
    fn keep_until_thread_exit(self) {
        SLOT.with(|slot| *slot.borrow_mut() = Some(self));
    }
}

impl Drop for ThreadSlot {
    fn drop(&mut self) {
        let shared = &self.0;
        shared.threads.fetch_sub(1, SeqCst);
        if shared.accept_paused.load(SeqCst) {
            shared.wake();
        }
    }
}
