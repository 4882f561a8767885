//! [`MuxConnection`]: one socket carrying many calls at once, matched by seqid.
//!
//! Calls in flight come from many threads (each blocked in [`Channel::call`]), from one thread
//! holding a window of [`PendingCall`]s, or both. Every call is [`MuxConnection::start_call`]
//! (or [`MuxConnection::queue_call`]) and then [`PendingCall::wait`]; the blocking call is just
//! the two back to back, so both kinds share one code path and the same guarantees:
//!
//! - one deadline per call, from when it is started: it bounds waiting for a slot, waiting for
//!   (or making) a connect, the write, the reply and the retry; a reply that arrives after it is
//!   read and discarded, and the connection carries on;
//! - at most [`MuxConfig::max_in_flight`] calls await replies: starting one more first writes
//!   the requests queued so far, then blocks until a reply arrives or a pending call is dropped,
//!   and fails with [`ClientError::Timeout`] if its deadline passes first. A slot is freed when
//!   the reply *arrives*, not when it is waited for, so one thread that keeps the whole window
//!   itself never blocks itself for good;
//! - replies are matched by seqid, in whatever order they come;
//! - one connect at a time: it runs on the new session's own thread, bounded by the connect
//!   timeout, and every caller (the one that needed it included) waits for it only until its
//!   own deadline;
//! - a short deadline is that caller's alone: a batch it was writing for others is finished by
//!   the next writer, and its timeout leaves the socket up;
//! - the keep-alive contract (docs/architecture.md): a session idle for the idle timeout is closed
//!   before the server would; the first call after an idle pause peeks for the server's FIN; a call
//!   lost with a *reused* socket before any reply byte is sent again once on a fresh one, drawing
//!   on the retry budget. Off with [`ConnectionConfig::retry`]`(false)`, a peer's close is found by
//!   the call that fails on it, as a naive client finds it;
//! - if the socket dies every pending call learns it at once, and the next call connects again;
//! - dropping a [`PendingCall`] gives up its slot and its seqid (a late reply is discarded).
//!
//! [`ConnectionConfig::retry`]: super::ConnectionConfig::retry

mod connect;
mod session;

use std::io;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError};
use log::debug;
use parking_lot::{Condvar, Mutex};

use crate::protocol::{Encode, Limits, MessageType, Protocol};

use super::config::MuxConfig;
use super::link::IDLE_PAUSE;
use super::message::encode_message;
use super::retry::Retries;
use super::{Channel, ClientError};

use connect::{connect_failed, run_session, Attempt};
use session::{connection_lost, Admission, End, Outcome, Session, Waiter};

/// Sessions one call may go through: the one it found, a fresh one after an expiry or a stale
/// close, and one more in case a concurrent caller's session ended under it. Past that the
/// server keeps closing new connections, and the call fails rather than dial in a loop.
const SESSIONS_PER_CALL: usize = 3;

/// One connection carrying many calls at once, from many threads or as one thread's
/// [`PendingCall`]s: each call gets its own sequence id, writes are serialised (and batched),
/// and a reader thread hands each reply to the call awaiting its seqid (in whatever order
/// replies come). A call that times out gives up its seqid; its late reply is read and
/// discarded, and the connection carries on. If the socket dies, every waiting caller learns
/// it at once (and is retried if the keep-alive contract allows), and the next call connects
/// again. The guarantees are those of the keep-alive contract (docs/architecture.md).
#[derive(Debug)]
pub struct MuxConnection {
    shared: Arc<Shared>,
}

/// What the connection and its pending calls share.
#[derive(Debug)]
struct Shared {
    addr: String,
    config: MuxConfig,
    current: Mutex<Current>,
    next_seqid: AtomicI32,
    next_session: AtomicU64,
    slots: Arc<Slots>,
    counters: Arc<MuxCounters>,
    retries: Retries,
}

/// The socket calls go on now.
#[derive(Debug)]
enum Current {
    /// None, and nobody connecting: the next call connects.
    Absent,
    /// A connect is running; callers wait for it (each until its own deadline).
    Connecting(Arc<Attempt>),
    /// A session; it may have ended since (callers check, and replace it).
    Live(Arc<Session>),
    /// The [`MuxConnection`] was dropped: a connect that finishes now closes its socket.
    Closed,
}

/// The in-flight cap: calls awaiting replies, and a condvar for callers waiting for one to end.
#[derive(Debug, Default)]
struct Slots {
    in_flight: Mutex<usize>,
    freed: Condvar,
}

/// Counts of what a multiplexed connection has done since it was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MuxStats {
    /// Sockets opened (the first connect included).
    pub connects: u64,
    /// Sockets opened to replace one that ended.
    pub reconnects: u64,
    /// Connects that failed or timed out.
    pub connect_failures: u64,
    /// Replies that arrived for no waiting caller (their call had timed out), discarded.
    pub late_replies: u64,
    /// Calls that timed out waiting for their reply.
    pub timeouts: u64,
    /// Sockets the server had closed while idle, found (by the reader's EOF or the peek)
    /// before a call was sent on them.
    pub stale: u64,
    /// Sockets this client closed after the idle timeout.
    pub expired: u64,
    /// Sockets retired because a reply carried THeader's `:drain` (closed once their pending
    /// replies were in).
    pub retired_drain: u64,
    /// Calls sent again on a fresh socket under the retry rule.
    pub retries: u64,
    /// Retries the rule allowed but the retry budget refused (the call failed instead).
    pub budget_exhausted: u64,
}

#[derive(Debug, Default)]
struct MuxCounters {
    connects: AtomicU64,
    connect_failures: AtomicU64,
    late_replies: AtomicU64,
    timeouts: AtomicU64,
    stale: AtomicU64,
    expired: AtomicU64,
    drained: AtomicU64,
}

/// A call that was started and whose reply has not been taken yet; see
/// [`MuxConnection::start_call`]. Dropping it without waiting abandons the call: its slot and
/// seqid are freed at once and its reply, if one comes, is discarded.
#[derive(Debug)]
#[must_use = "a pending call does nothing unless waited for; dropping it abandons the call"]
pub struct PendingCall {
    shared: Arc<Shared>,
    session: Arc<Session>,
    request: Request,
    deadline: Instant,
    replied: Receiver<Outcome>,
    /// The reply was taken (or the call given up): nothing is left to clean up on drop.
    settled: bool,
}

/// An encoded call, kept until its reply so it can be sent again under the retry rule.
#[derive(Debug, Default)]
struct Request {
    method: Box<str>,
    seqid: i32,
    bytes: Vec<u8>,
    /// Sent again already: never a second time.
    retried: bool,
}

impl MuxConnection {
    /// Connects to `addr` (`host:port`) and starts the reader thread. Returns once the connect
    /// does: within the connect timeout (plus resolving the name).
    pub fn connect(addr: &str, config: MuxConfig) -> Result<MuxConnection, ClientError> {
        let retries = Retries::new(config.connection.retry, &config.connection);
        let shared = Arc::new(Shared {
            addr: addr.to_owned(),
            config,
            current: Mutex::new(Current::Absent),
            next_seqid: AtomicI32::new(0),
            next_session: AtomicU64::new(0),
            slots: Arc::default(),
            counters: Arc::default(),
            retries,
        });
        let attempt = Shared::start_connect(&shared, &mut shared.current.lock())?;
        match attempt.wait_until(None) {
            Some(Ok(_)) => Ok(MuxConnection { shared }),
            Some(Err(e)) => Err(connect_failed(&e)),
            None => unreachable!("a wait without a deadline ends with the connect"),
        }
    }

    /// What the connection has done so far.
    pub fn stats(&self) -> MuxStats {
        let c = &self.shared.counters;
        let connects = c.connects.load(Ordering::Relaxed);
        MuxStats {
            connects,
            reconnects: connects.saturating_sub(1),
            connect_failures: c.connect_failures.load(Ordering::Relaxed),
            late_replies: c.late_replies.load(Ordering::Relaxed),
            timeouts: c.timeouts.load(Ordering::Relaxed),
            stale: c.stale.load(Ordering::Relaxed),
            expired: c.expired.load(Ordering::Relaxed),
            retired_drain: c.drained.load(Ordering::Relaxed),
            retries: self.shared.retries.retried(),
            budget_exhausted: self.shared.retries.budget_exhausted(),
        }
    }

    /// Like [`Channel::call`], with this call's own deadline instead of the configured call
    /// timeout; other calls in flight keep theirs.
    pub fn call_with_timeout(
        &self,
        method: &str,
        args: &dyn Encode,
        timeout: Duration,
    ) -> Result<Vec<u8>, ClientError> {
        self.shared
            .begin(method, args, Instant::now() + timeout, true)?
            .wait()
    }

    /// Starts a call and returns without waiting for its reply: the request is written (or
    /// left queued behind a write another thread is doing, which will carry it), its seqid
    /// registered. Take the reply with [`PendingCall::wait`]. The call's deadline (the
    /// configured call timeout) runs from now.
    ///
    /// At the in-flight cap this writes the queued requests, then blocks until a reply arrives
    /// or a pending call is dropped, and fails with [`ClientError::Timeout`] if none does
    /// before the deadline.
    pub fn start_call(&self, method: &str, args: &dyn Encode) -> Result<PendingCall, ClientError> {
        let deadline = Instant::now() + self.shared.config.connection.call_timeout;
        self.shared.begin(method, args, deadline, true)
    }

    /// Like [`MuxConnection::start_call`], but only queues the request: it is written by the
    /// next [`MuxConnection::flush`], the next started call, a call that finds the cap reached,
    /// or when any pending call of this connection is waited for. Queue several, flush once,
    /// and they share one write.
    pub fn queue_call(&self, method: &str, args: &dyn Encode) -> Result<PendingCall, ClientError> {
        let deadline = Instant::now() + self.shared.config.connection.call_timeout;
        self.shared.begin(method, args, deadline, false)
    }

    /// Writes every queued request (see [`MuxConnection::queue_call`]) within the call timeout.
    pub fn flush(&self) -> Result<(), ClientError> {
        let deadline = Instant::now() + self.shared.config.connection.call_timeout;
        match self.shared.live() {
            Some(session) => session.flush(deadline, self.shared.config.connection.call_timeout),
            None => Ok(()),
        }
    }
}

impl Channel for MuxConnection {
    fn call(&self, method: &str, args: &dyn Encode) -> Result<Vec<u8>, ClientError> {
        self.call_with_timeout(method, args, self.shared.config.connection.call_timeout)
    }

    fn limits(&self) -> Limits {
        self.shared.config.connection.limits
    }

    fn protocol(&self) -> Protocol {
        self.shared.config.connection.codec.protocol()
    }

    /// Queues the message and writes it. Never retried: once any of it may have been written,
    /// the server may have processed it.
    fn send_oneway(&self, method: &str, args: &dyn Encode) -> Result<(), ClientError> {
        let shared = &self.shared;
        let deadline = Instant::now() + shared.config.connection.call_timeout;
        let session = shared.open_session(deadline)?;
        let mut message = Vec::new();
        let seqid = shared.seqid();
        encode_message(
            &mut message,
            session.codec,
            method,
            MessageType::Oneway,
            seqid,
            args,
        );
        if !session.touch() {
            return Err(ClientError::Io(connection_lost()));
        }
        session.enqueue(&message);
        session.flush(deadline, shared.config.connection.call_timeout)
    }
}

impl Drop for MuxConnection {
    fn drop(&mut self) {
        let previous = std::mem::replace(&mut *self.shared.current.lock(), Current::Closed);
        if let Current::Live(session) = previous {
            session.finish(End::Dropped);
        }
    }
}

impl Shared {
    /// The session a new call goes on: the live one, unless it ended (then a new one is
    /// connected), was idle past the idle timeout (closed, replaced), or is found closed by the
    /// peer (replaced; without the retry rule, the call fails instead, as a naive one would).
    fn open_session(self: &Arc<Self>, deadline: Instant) -> Result<Arc<Session>, ClientError> {
        let connection = &self.config.connection;
        let mut tries = 0;
        while tries < SESSIONS_PER_CALL {
            let session = self.session(deadline)?;
            // A session the server drained is no failure: the next one is counted, not it.
            tries += usize::from(session.end() != Some(End::Drained));
            match session.admit(connection.idle_timeout, IDLE_PAUSE) {
                Admission::Open { peek } => {
                    if !peek || !connection.retry || session.peek_alive(deadline) {
                        return Ok(session);
                    }
                    self.counters.stale.fetch_add(1, Ordering::Relaxed);
                    debug!(
                        "mux: session {} closed by the peer, found by peek",
                        session.id
                    );
                }
                Admission::Expired => {
                    self.counters.expired.fetch_add(1, Ordering::Relaxed);
                }
                Admission::Ended { end, carried } => match end {
                    // Closed by the reader's idle timer, which counted it; or retired for the
                    // server's drain, counted by the reader that saw `:drain`.
                    End::Expired | End::Drained => {}
                    End::PeerClosedIdle if connection.retry => {
                        self.counters.stale.fetch_add(1, Ordering::Relaxed);
                        debug!("mux: session {} closed by the peer while idle", session.id);
                    }
                    End::PeerClosedIdle => {
                        self.retire(&session);
                        return Err(ClientError::Io(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "connection closed by peer",
                        )));
                    }
                    End::Dropped => return Err(ClientError::Io(connection_lost())),
                    // The calls in flight have had the error; a socket that died before
                    // carrying any call is the server refusing work: this call fails too.
                    End::Failed(_) if carried => {}
                    End::Failed(kind) => {
                        self.retire(&session);
                        return Err(ClientError::Io(io::Error::new(
                            kind,
                            "connection closed before any call",
                        )));
                    }
                },
            }
            self.retire(&session);
        }
        Err(ClientError::Io(connection_lost()))
    }

    /// The current session, or the outcome of a connect (started here if none is running),
    /// waited for until `deadline`.
    fn session(self: &Arc<Self>, deadline: Instant) -> Result<Arc<Session>, ClientError> {
        let attempt = {
            let mut current = self.current.lock();
            match &*current {
                Current::Live(session) => return Ok(session.clone()),
                Current::Connecting(attempt) => attempt.clone(),
                Current::Closed => return Err(ClientError::Io(connection_lost())),
                Current::Absent => Shared::start_connect(self, &mut current)?,
            }
        };
        match attempt.wait_until(Some(deadline)) {
            Some(Ok(session)) => Ok(session),
            Some(Err(e)) => Err(connect_failed(&e)),
            // The connect goes on for the callers after; this call has timed out.
            None => Err(ClientError::Timeout),
        }
    }

    /// The live session, if there is one (ended or not).
    fn live(&self) -> Option<Arc<Session>> {
        match &*self.current.lock() {
            Current::Live(session) => Some(session.clone()),
            _ => None,
        }
    }

    /// Forgets `session` if it is still the current one, so the next call connects.
    fn retire(&self, session: &Arc<Session>) {
        let mut current = self.current.lock();
        if matches!(&*current, Current::Live(s) if Arc::ptr_eq(s, session)) {
            *current = Current::Absent;
        }
    }

    /// Starts a connect on a new thread (which then reads the session's replies) and makes it
    /// the current attempt. The thread holds only a weak reference: a connection dropped while
    /// it connects is not kept alive by it.
    fn start_connect(
        shared: &Arc<Shared>,
        current: &mut Current,
    ) -> Result<Arc<Attempt>, ClientError> {
        let id = shared.next_session.fetch_add(1, Ordering::Relaxed) + 1;
        let attempt = Arc::new(Attempt::default());
        let (weak, for_thread) = (Arc::downgrade(shared), attempt.clone());
        thread::Builder::new()
            .name(format!("tether-mux-{id}"))
            .spawn(move || run_session(&weak, &for_thread, id))
            .map_err(ClientError::Io)?;
        *current = Current::Connecting(attempt.clone());
        Ok(attempt)
    }
}

impl Shared {
    /// Claims a slot, encodes the call, registers its seqid on a session, queues the request
    /// and (if `write`) writes the queue.
    fn begin(
        self: &Arc<Self>,
        method: &str,
        args: &dyn Encode,
        deadline: Instant,
        write: bool,
    ) -> Result<PendingCall, ClientError> {
        let slot = self.claim_slot(deadline)?;
        let seqid = self.seqid();
        let mut bytes = Vec::new();
        encode_message(
            &mut bytes,
            self.config.connection.codec,
            method,
            MessageType::Call,
            seqid,
            args,
        );
        self.retries.record_call();
        let request = Request {
            method: method.into(),
            seqid,
            bytes,
            retried: false,
        };
        self.send(request, slot, deadline, write)
    }

    /// Registers `request` on a session that takes it and queues (and maybe writes) it.
    fn send(
        self: &Arc<Self>,
        request: Request,
        slot: SlotGuard,
        deadline: Instant,
        write: bool,
    ) -> Result<PendingCall, ClientError> {
        let (reply, replied) = bounded(1);
        let mut waiter = Waiter {
            method: request.method.clone(),
            reply,
            reused: false,
            _slot: slot,
        };
        let mut tries = 0;
        let session = loop {
            let session = self.open_session(deadline)?;
            match session.register(request.seqid, waiter) {
                Ok(()) => break session,
                Err(back) => waiter = back,
            }
            // It ended between the admission and the registration (a drain is no failure).
            self.retire(&session);
            if session.end() == Some(End::Drained) && Instant::now() < deadline {
                continue;
            }
            tries += 1;
            if tries == SESSIONS_PER_CALL {
                return Err(ClientError::Io(connection_lost()));
            }
        };
        session.enqueue(&request.bytes);
        let pending = PendingCall {
            shared: self.clone(),
            session,
            request,
            deadline,
            replied,
            settled: false,
        };
        if write {
            match pending
                .session
                .flush(deadline, self.config.connection.call_timeout)
            {
                Ok(()) => {}
                // The socket failed: the reader tells this call (and the retry rule decides)
                // through its channel, as for every other call on it.
                Err(ClientError::Io(_)) => {}
                // On a timeout the pending call drops here and gives its slot and seqid back.
                Err(e) => return Err(e),
            }
        }
        Ok(pending)
    }

    /// Waits (until `deadline`) for a slot under the in-flight cap. At the cap it first writes
    /// the queued requests: they may be the very calls whose replies would free a slot.
    fn claim_slot(&self, deadline: Instant) -> Result<SlotGuard, ClientError> {
        let cap = self.config.max_in_flight;
        let mut flushed = false;
        let mut in_flight = self.slots.in_flight.lock();
        while *in_flight >= cap {
            if !flushed {
                flushed = true;
                if let Some(session) = self.live() {
                    if session.has_unwritten() {
                        drop(in_flight);
                        // A failed write ends the session and frees its calls' slots.
                        let _ = session.flush(deadline, self.config.connection.call_timeout);
                        in_flight = self.slots.in_flight.lock();
                        continue;
                    }
                }
            }
            if self
                .slots
                .freed
                .wait_until(&mut in_flight, deadline)
                .timed_out()
                && *in_flight >= cap
            {
                return Err(ClientError::Timeout);
            }
        }
        *in_flight += 1;
        Ok(SlotGuard {
            slots: self.slots.clone(),
        })
    }

    fn seqid(&self) -> i32 {
        self.next_seqid
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_add(1)
    }

    /// Sends a lost call again on a fresh session (the retry rule and budget allowed it).
    fn retry(
        self: &Arc<Self>,
        mut request: Request,
        deadline: Instant,
    ) -> Result<PendingCall, ClientError> {
        request.retried = true;
        let slot = self.claim_slot(deadline)?;
        self.send(request, slot, deadline, true)
    }
}

/// Frees an in-flight slot on every exit path.
#[derive(Debug)]
struct SlotGuard {
    slots: Arc<Slots>,
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        *self.slots.in_flight.lock() -= 1;
        self.slots.freed.notify_one();
    }
}

impl PendingCall {
    /// Waits for the reply until the call's deadline; then it is [`ClientError::Timeout`] and
    /// a reply arriving later is discarded. Writes this connection's queued requests first. A
    /// call lost with its socket is sent again here if the retry rule allows.
    pub fn wait(self) -> Result<Vec<u8>, ClientError> {
        let deadline = self.deadline;
        self.wait_until(deadline)
    }

    /// Like [`PendingCall::wait`], but gives up after `timeout` if that comes before the
    /// call's deadline. Giving up abandons the call, as at its deadline.
    pub fn wait_timeout(self, timeout: Duration) -> Result<Vec<u8>, ClientError> {
        let deadline = self.deadline.min(Instant::now() + timeout);
        self.wait_until(deadline)
    }

    /// Whether the reply (or the error that ends the call) is in, so `wait` returns at once;
    /// or the socket died under the call, and `wait` sends it again if the retry rule allows.
    pub fn is_ready(&self) -> bool {
        !self.replied.is_empty()
    }

    /// When the call times out: its start plus the call timeout.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    fn wait_until(mut self, deadline: Instant) -> Result<Vec<u8>, ClientError> {
        loop {
            if self.replied.is_empty() && self.session.has_unwritten() {
                // A failed write ends the session and the reader fails this call: the result
                // comes through the channel either way. A timeout is this call's alone.
                let call_timeout = self.shared.config.connection.call_timeout;
                let _ = self.session.flush(deadline, call_timeout);
            }
            let result = self.replied.recv_deadline(deadline);
            self.settled = true;
            let (failure, reused) = match result {
                Ok(Outcome::Reply(result)) => return result,
                Ok(Outcome::Lost { failure, reused }) => (failure, reused),
                Err(RecvTimeoutError::Timeout) => return self.time_out(),
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(ClientError::Io(connection_lost()))
                }
            };
            if self.request.retried || !self.shared.retries.allow(&failure, reused, false) {
                return Err(failure.error);
            }
            let request = std::mem::take(&mut self.request);
            self = self.shared.retry(request, self.deadline)?;
        }
    }

    fn time_out(&self) -> Result<Vec<u8>, ClientError> {
        drop(self.session.forget(self.request.seqid));
        // The reply may have been handed over between the deadline and the removal.
        match self.replied.try_recv() {
            Ok(Outcome::Reply(result)) => result,
            Ok(Outcome::Lost { failure, .. }) => Err(failure.error),
            Err(_) => {
                self.shared
                    .counters
                    .timeouts
                    .fetch_add(1, Ordering::Relaxed);
                Err(ClientError::Timeout)
            }
        }
    }
}

impl Drop for PendingCall {
    fn drop(&mut self) {
        if !self.settled {
            // No-op if the reply already came (the reader removed the waiter then). The
            // waiter (and with it the slot) is dropped once the lock is released.
            drop(self.session.forget(self.request.seqid));
        }
    }
}
