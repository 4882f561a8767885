//! A connection's worker: read, process, write, back to Idle, with a deadline on every wait.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::time::{Duration, Instant};

use log::debug;

use super::config::{jittered_age, Transport};
use super::dispatch::{After, Dispatcher};
use super::shared::{Connection, Shared, WorkerGuard, BUSY, CLOSING, IDLE};
use super::stats::CloseReason;
use crate::protocol::Protocol;
use crate::transport::{
    deadline_after, DeadlineError, Deframer, FrameStatus, Framing, ReadBuffer, SocketDeadlines,
};

/// A write buffer larger than this is freed once its reply is sent, so one large reply does not
/// pin memory on a long-lived connection.
const KEEP_WRITE_BUFFER: usize = 64 << 10;

/// Serves one connection until it closes; records the reason in `guard`.
pub(crate) fn run(guard: &mut WorkerGuard) {
    guard.started = true;
    let shared = &*guard.shared;
    let connection = &*guard.connection;
    let peer = Some(connection.peer);
    debug!("conn {}: open from {}", connection.id, connection.peer);
    let mut worker = Worker {
        shared,
        connection,
        io: SocketDeadlines::new(),
        read_buffer: ReadBuffer::new(shared.config.read_buffer_size),
        write_buffer: Vec::new(),
        deframer: Deframer::new(
            match shared.config.transport {
                Transport::Auto => None,
                Transport::Framed => Some(Framing::Framed),
                Transport::Unframed => Some(Framing::Unframed),
            },
            shared.config.limits,
        ),
        born: Instant::now(),
        max_age: shared
            .config
            .max_connection_age
            .map(|age| jittered_age(age, connection.id)),
        last_read: Instant::now(),
        served: 0,
        dispatcher: Dispatcher {
            router: &shared.router,
            stats: shared.stats.shard(connection.id),
            limits: shared.config.limits,
            peer,
            connection_id: connection.id,
        },
    };
    guard.reason = Some(worker.serve());
}

struct Worker<'a> {
    shared: &'a Shared,
    connection: &'a Connection,
    io: SocketDeadlines,
    read_buffer: ReadBuffer,
    write_buffer: Vec<u8>,
    /// Where messages end; keeps its place in an unframed message that is still arriving.
    deframer: Deframer,
    born: Instant,
    /// This connection's max age: the configured one with its jitter.
    max_age: Option<Duration>,
    /// When the read that ended the Idle wait returned: the first byte of the request.
    last_read: Instant,
    served: u64,
    dispatcher: Dispatcher<'a>,
}

impl Worker<'_> {
    fn serve(&mut self) -> CloseReason {
        loop {
            if let Some(reason) = self.close_if_due() {
                return reason;
            }
            if let Some(reason) = self.wait_for_request() {
                return reason;
            }
            if self
                .connection
                .state
                .compare_exchange(IDLE, BUSY, SeqCst, SeqCst)
                .is_err()
            {
                // The drainer claimed the connection first: the bytes that arrived are a
                // request the server never started, so it is not processed at all.
                return self.broken(CloseReason::Drain);
            }
            let busy = BusyGauge::enter(&self.dispatcher.stats.busy);
            if let Some(reason) = self.serve_requests() {
                return reason;
            }
            drop(busy);
            if self
                .connection
                .state
                .compare_exchange(BUSY, IDLE, SeqCst, SeqCst)
                .is_err()
            {
                return self.broken(CloseReason::Forced);
            }
            self.read_buffer.release();
            if self.write_buffer.capacity() > KEEP_WRITE_BUFFER {
                self.write_buffer = Vec::new();
            }
        }
    }

    /// The reasons to close an Idle connection before waiting for another request.
    fn close_if_due(&self) -> Option<CloseReason> {
        // The state was stored IDLE before the drain check, and the drainer sets `draining`
        // before it looks at states: one of the two always sees the other.
        self.limit_reached(Instant::now)
    }

    /// The limit that ends the connection once the requests it has read are answered: max
    /// requests, max age, or a drain. `now` is called only when an age limit is set.
    fn limit_reached(&self, now: impl FnOnce() -> Instant) -> Option<CloseReason> {
        if self.max_requests_reached() {
            return Some(CloseReason::MaxRequests);
        }
        if self
            .max_age
            .is_some_and(|age| now().saturating_duration_since(self.born) >= age)
        {
            return Some(CloseReason::MaxAge);
        }
        if self.shared.draining.load(SeqCst) {
            return Some(CloseReason::Drain);
        }
        None
    }

    /// Waits, Idle, for the first bytes of a request; `Some` when the connection must close.
    fn wait_for_request(&mut self) -> Option<CloseReason> {
        let config = &self.shared.config;
        // One clock read serves the idle deadline and the read's first wait.
        let now = Instant::now();
        let idle_deadline = deadline_after(now, config.idle_timeout);
        let age_deadline = self.max_age.map(|age| deadline_after(self.born, age));
        let deadline = age_deadline.map_or(idle_deadline, |age| age.min(idle_deadline));
        match self.io.read_by_at(
            &self.connection.stream,
            &mut self.read_buffer,
            deadline,
            now,
        ) {
            Ok(0) => Some(self.broken(CloseReason::PeerEof)),
            Ok(n) => {
                self.last_read = Instant::now();
                self.dispatcher.stats.bytes_in.fetch_add(n as u64, Relaxed);
                None
            }
            Err(DeadlineError::TimedOut) => {
                if age_deadline.is_some_and(|age| Instant::now() >= age) {
                    Some(CloseReason::MaxAge)
                } else {
                    Some(self.broken(CloseReason::Idle))
                }
            }
            Err(DeadlineError::Io(e)) => {
                debug!("conn {}: read failed: {e}", self.connection.id);
                Some(self.broken(CloseReason::IoError))
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
        let mut request_deadline = deadline_after(self.last_read, timeout);
        // Requests served when a limit was first seen here, and that limit.
        let mut finish_line = None;
        loop {
            let served_before = self.served;
            let after = self.handle_buffered();
            if let Some(reason) = self.flush(self.served - served_before) {
                return Some(reason);
            }
            if after == After::Close {
                return Some(CloseReason::ProtocolError);
            }
            if self.read_buffer.is_empty() {
                return None;
            }
            if self.served > served_before {
                // The next request began in the last read, but the time its predecessors
                // spent in handlers and in the write is not its own: its deadline starts now.
                request_deadline = deadline_after(Instant::now(), timeout);
            }
            match finish_line {
                Some((served, reason)) if self.served > served => return Some(reason),
                Some(_) => {}
                None => {
                    finish_line = self
                        .limit_reached(Instant::now)
                        .map(|reason| (self.served, reason));
                }
            }
            match self.io.read_by(
                &self.connection.stream,
                &mut self.read_buffer,
                request_deadline,
            ) {
                Ok(0) => return Some(self.broken(CloseReason::PeerEof)),
                Ok(n) => {
                    self.dispatcher.stats.bytes_in.fetch_add(n as u64, Relaxed);
                }
                Err(DeadlineError::TimedOut) => return Some(CloseReason::RequestTimeout),
                Err(DeadlineError::Io(e)) => {
                    debug!("conn {}: read failed: {e}", self.connection.id);
                    return Some(self.broken(CloseReason::IoError));
                }
            }
        }
    }

    /// Dispatches the complete requests at the front of the read buffer, in order.
    fn handle_buffered(&mut self) -> After {
        loop {
            match self.deframer.next(self.read_buffer.filled()) {
                Ok(FrameStatus::Complete { message, consumed }) => {
                    let bytes = &self.read_buffer.filled()[message];
                    let framed = self.deframer.framing() == Some(Framing::Framed);
                    let after = self.dispatcher.handle(
                        bytes,
                        framed,
                        Protocol::Binary,
                        &mut self.write_buffer,
                    );
                    self.read_buffer.consume(consumed);
                    self.served += 1;
                    if after == After::Close {
                        return After::Close;
                    }
                }
                Ok(FrameStatus::Incomplete { .. }) => return After::Continue,
                Err(e) => {
                    debug!("conn {}: bad frame: {e}", self.connection.id);
                    return After::Close;
                }
            }
        }
    }

    /// Writes the buffered replies of the `answered` requests just handled, with one deadline.
    fn flush(&mut self, answered: u64) -> Option<CloseReason> {
        if self.write_buffer.is_empty() {
            if answered > 0 {
                self.record_latency(Instant::now(), answered);
            }
            return None;
        }
        let now = Instant::now();
        self.record_latency(now, answered);
        let deadline = deadline_after(now, self.shared.config.write_timeout);
        let result =
            self.io
                .write_all_by_at(&self.connection.stream, &self.write_buffer, deadline, now);
        let written = self.write_buffer.len() as u64;
        self.write_buffer.clear();
        match result {
            Ok(()) => {
                self.dispatcher.stats.bytes_out.fetch_add(written, Relaxed);
                None
            }
            Err(DeadlineError::TimedOut) => Some(self.broken(CloseReason::WriteTimeout)),
            Err(DeadlineError::Io(e)) => {
                debug!("conn {}: write failed: {e}", self.connection.id);
                Some(self.broken(CloseReason::IoError))
            }
        }
    }

    /// Counts `requests` handled by `now`, timed from the first byte of the batch they arrived
    /// in (receiving the rest, decode, handler, encode). It reuses clock reads the worker takes anyway.
    fn record_latency(&self, now: Instant, requests: u64) {
        if requests > 0 {
            let took = now.saturating_duration_since(self.last_read);
            self.dispatcher.stats.latency.record(took, requests);
        }
    }

    fn max_requests_reached(&self) -> bool {
        self.shared
            .config
            .max_requests_per_connection
            .is_some_and(|max| self.served >= max)
    }

    /// The real reason a socket call failed: a force or a drain claim shut the socket down
    /// under the worker, or else `otherwise`.
    fn broken(&self, otherwise: CloseReason) -> CloseReason {
        if self.shared.forced.load(SeqCst) {
            CloseReason::Forced
        } else if self.connection.state.load(SeqCst) == CLOSING {
            CloseReason::Drain
        } else {
            otherwise
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
