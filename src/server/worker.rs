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
use super::shared::Shared;
use super::stats::CloseReason;
use crate::transport::{deadline_after, DeadlineError, FrameStatus};

/// A write buffer larger than this is freed once its reply is sent, so one large reply does not
/// pin memory on a long-lived connection.
const KEEP_WRITE_BUFFER: usize = 64 << 10;

/// Starts a worker thread (`tether-conn-42`) that serves `connection` until it closes. If the
/// thread cannot be started, the connection comes back untouched, still open.
pub(crate) fn spawn(
    shared: &Arc<Shared>,
    connection: Box<OpenConnection>,
) -> Result<(), (io::Error, Box<OpenConnection>)> {
    // The connection goes over a channel once the thread exists, so a failed spawn, which
    // drops the closure, does not drop (and close) the connection with it.
    let (handoff, arrival) = crossbeam_channel::bounded::<Box<OpenConnection>>(1);
    let slot = ThreadSlot(Arc::clone(shared));
    shared.threads.fetch_add(1, SeqCst);
    let spawned = thread::Builder::new()
        .name(format!("tether-conn-{}", connection.id()))
        .stack_size(shared.config.worker_stack_size)
        .spawn(move || {
            slot.keep_until_thread_exit();
            if let Ok(mut connection) = arrival.recv() {
                serve(&mut connection);
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

/// Serves `connection` until it must close, and records why.
pub(crate) fn serve(connection: &mut OpenConnection) {
    connection.start();
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
    let reason = worker.serve();
    worker.conn.reason = Some(reason);
}

struct Worker<'a> {
    shared: &'a Shared,
    conn: &'a mut OpenConnection,
    dispatcher: Dispatcher<'a>,
}

impl Worker<'_> {
    fn serve(&mut self) -> CloseReason {
        loop {
            // The state was stored Idle before the drain check, and the drainer sets
            // `draining` before it looks at states: one of the two always sees the other.
            if let Some(reason) = self.conn.limit_reached(Instant::now) {
                return reason;
            }
            if let Some(reason) = self.wait_for_request() {
                return reason;
            }
            if !self.conn.connection.state.claim(State::Idle, State::Busy) {
                // The drainer claimed the connection first: the bytes that arrived are a
                // request the server never started, so it is not processed at all.
                return self.conn.broken(CloseReason::Drain);
            }
            let busy = BusyGauge::enter(&self.dispatcher.stats.busy);
            if let Some(reason) = self.serve_requests() {
                return reason;
            }
            drop(busy);
            if !self.conn.connection.state.claim(State::Busy, State::Idle) {
                return self.conn.broken(CloseReason::Forced);
            }
            self.conn.read_buffer.release();
            if self.conn.write_buffer.capacity() > KEEP_WRITE_BUFFER {
                self.conn.write_buffer = Vec::new();
            }
        }
    }

    /// Waits, Idle, for the first bytes of a request; `Some` when the connection must close.
    fn wait_for_request(&mut self) -> Option<CloseReason> {
        let config = &self.shared.config;
        let conn = &mut *self.conn;
        // One clock read serves the idle deadline and the read's first wait.
        let now = Instant::now();
        let idle_deadline = deadline_after(now, config.idle_timeout);
        let age_deadline = conn.max_age.map(|age| deadline_after(conn.born, age));
        let deadline = age_deadline.map_or(idle_deadline, |age| age.min(idle_deadline));
        match conn.io.read_by_at(
            &conn.connection.stream,
            &mut conn.read_buffer,
            deadline,
            now,
        ) {
            Ok(0) => Some(conn.broken(CloseReason::PeerEof)),
            Ok(n) => {
                conn.last_read = Instant::now();
                self.dispatcher.stats.bytes_in.fetch_add(n as u64, Relaxed);
                None
            }
            Err(DeadlineError::TimedOut) => {
                if age_deadline.is_some_and(|age| Instant::now() >= age) {
                    Some(CloseReason::MaxAge)
                } else {
                    Some(conn.broken(CloseReason::Idle))
                }
            }
            Err(DeadlineError::Io(e)) => {
                debug!("conn {}: read failed: {e}", conn.id());
                Some(conn.broken(CloseReason::IoError))
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
struct ThreadSlot(Arc<Shared>);

impl ThreadSlot {
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
