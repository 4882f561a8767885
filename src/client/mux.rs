//! [`MuxConnection`]: one socket carrying many calls at once, matched by seqid.
//!
//! Calls in flight come from many threads (each blocked in [`Channel::call`]), from one thread
//! holding a window of [`PendingCall`]s, or both. Every call is [`MuxConnection::start_call`]
//! (or [`MuxConnection::queue_call`]) and then [`PendingCall::wait`]; the blocking call is just
//! the two back to back, so both kinds share one code path and the same guarantees:
//!
//! - the deadline of a call starts when it is started, and covers waiting for a slot, the write
//!   and the reply; a reply that arrives after it is read and discarded;
//! - at most [`MuxConfig::max_in_flight`] calls await replies: starting one more blocks until a
//!   reply arrives or a pending call is dropped, and fails with [`ClientError::Timeout`] if its
//!   deadline passes first. A slot is freed when the reply *arrives*, not when it is waited for,
//!   so one thread that keeps the whole window itself never blocks itself for good;
//! - replies are matched by seqid, in whatever order they come;
//! - if the socket dies every pending call fails at once, and the next call connects again;
//! - dropping a [`PendingCall`] gives up its slot and its seqid (a late reply is discarded).
//!
//! Requests share writes: a thread that starts a call while another is writing leaves its
//! request to be written with the next batch, and [`MuxConnection::queue_call`] lets one thread
//! queue several requests and write them with one [`MuxConnection::flush`].

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};
use log::debug;
use parking_lot::{Condvar, Mutex};

use crate::protocol::{Encode, Limits, MessageType};
use crate::transport::{self, FrameStatus, Framing};

use super::config::MuxConfig;
use super::link::{connect, io_error};
use super::message::{decode_reply, encode_message, reply_seqid};
use super::{Channel, ClientError};

/// Read size of the reader thread: replies of many callers arrive together.
const READ_CHUNK: usize = 64 * 1024;

/// One connection carrying many calls at once, from many threads or as one thread's
/// [`PendingCall`]s: each call gets its own sequence id, writes are serialised (and batched),
/// and a reader thread hands each reply to the call awaiting its seqid (in whatever order
/// replies come). A call that times out gives up its seqid; its late reply is
/// read and discarded, and the connection carries on. If the socket dies, every waiting caller
/// gets an error at once and the next call connects again.
#[derive(Debug)]
pub struct MuxConnection {
    addr: String,
    config: MuxConfig,
    session: Mutex<Option<Arc<Session>>>,
    next_seqid: AtomicI32,
    slots: Arc<Slots>,
    counters: Arc<MuxCounters>,
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
    /// Replies that arrived for no waiting caller (their call had timed out), discarded.
    pub late_replies: u64,
    /// Calls that timed out waiting for their reply.
    pub timeouts: u64,
}

#[derive(Debug, Default)]
struct MuxCounters {
    connects: AtomicU64,
    late_replies: AtomicU64,
    timeouts: AtomicU64,
    sessions: AtomicU64,
}

/// One socket's life: the write half, the callers awaiting replies, the reader thread's stream.
#[derive(Debug)]
struct Session {
    /// Messages waiting to be written, whole, in the order their callers queued them.
    outbox: Mutex<Vec<u8>>,
    writer: Mutex<Writer>,
    waiters: Mutex<Waiters>,
    framing: Framing,
}

/// The socket's write half, with a spare buffer the outbox is swapped into.
#[derive(Debug)]
struct Writer {
    stream: TcpStream,
    batch: Vec<u8>,
}

#[derive(Debug, Default)]
struct Waiters {
    by_seqid: HashMap<i32, Waiter>,
    /// Set once the socket is dead; no caller may wait on it after that.
    dead: bool,
}

/// A call awaiting its reply. It holds its in-flight slot: whoever removes it from the map
/// (the reader with the reply, a timeout, a dropped [`PendingCall`], socket death) frees it.
#[derive(Debug)]
struct Waiter {
    method: Box<str>,
    reply: Sender<Result<Vec<u8>, ClientError>>,
    _slot: SlotGuard,
}

/// A call that was started and whose reply has not been taken yet; see
/// [`MuxConnection::start_call`]. Dropping it without waiting abandons the call: its slot and
/// seqid are freed at once and its reply, if one comes, is discarded.
#[derive(Debug)]
#[must_use = "a pending call does nothing unless waited for; dropping it abandons the call"]
pub struct PendingCall {
    session: Arc<Session>,
    counters: Arc<MuxCounters>,
    seqid: i32,
    deadline: Instant,
    replied: Receiver<Result<Vec<u8>, ClientError>>,
    /// The reply was taken (or the call given up): nothing is left to clean up on drop.
    settled: bool,
}

impl MuxConnection {
    /// Connects to `addr` (`host:port`) and starts the reader thread.
    pub fn connect(addr: &str, config: MuxConfig) -> Result<MuxConnection, ClientError> {
        let mux = MuxConnection {
            addr: addr.to_owned(),
            config,
            session: Mutex::new(None),
            next_seqid: AtomicI32::new(0),
            slots: Arc::default(),
            counters: Arc::default(),
        };
        mux.session()?;
        Ok(mux)
    }

    /// What the connection has done so far.
    pub fn stats(&self) -> MuxStats {
        let c = &self.counters;
        MuxStats {
            connects: c.connects.load(Ordering::Relaxed),
            late_replies: c.late_replies.load(Ordering::Relaxed),
            timeouts: c.timeouts.load(Ordering::Relaxed),
        }
    }

    /// The live session, connecting a new one if there is none or the last one died. Callers
    /// arriving during a connect wait for it instead of opening sockets of their own.
    fn session(&self) -> Result<Arc<Session>, ClientError> {
        let mut slot = self.session.lock();
        if let Some(session) = &*slot {
            if !session.waiters.lock().dead {
                return Ok(session.clone());
            }
        }
        *slot = None;
        let stream = connect(&self.addr, &self.config.connection)?;
        let reader = stream.try_clone().map_err(ClientError::Io)?;
        let session = Arc::new(Session {
            outbox: Mutex::new(Vec::new()),
            writer: Mutex::new(Writer {
                stream,
                batch: Vec::new(),
            }),
            waiters: Mutex::new(Waiters::default()),
            framing: self.config.connection.framing,
        });
        let id = self.counters.sessions.fetch_add(1, Ordering::Relaxed) + 1;
        let limits = self.config.connection.limits;
        let (for_reader, counters) = (session.clone(), self.counters.clone());
        thread::Builder::new()
            .name(format!("tether-mux-{id}"))
            .spawn(move || read_replies(reader, &for_reader, &limits, &counters))
            .map_err(ClientError::Io)?;
        self.counters.connects.fetch_add(1, Ordering::Relaxed);
        debug!("mux: connected to {} (session {id})", self.addr);
        *slot = Some(session.clone());
        Ok(session)
    }

    /// Waits (until `deadline`) for a slot under the in-flight cap.
    fn claim_slot(&self, deadline: Instant) -> Result<SlotGuard, ClientError> {
        let mut in_flight = self.slots.in_flight.lock();
        while *in_flight >= self.config.max_in_flight {
            if self
                .slots
                .freed
                .wait_until(&mut in_flight, deadline)
                .timed_out()
                && *in_flight >= self.config.max_in_flight
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

impl Channel for MuxConnection {
    fn call(&self, method: &str, args: &dyn Encode) -> Result<Vec<u8>, ClientError> {
        self.call_with_timeout(method, args, self.config.connection.call_timeout)
    }

    fn send_oneway(&self, method: &str, args: &dyn Encode) -> Result<(), ClientError> {
        let deadline = Instant::now() + self.config.connection.call_timeout;
        let session = self.session()?;
        let mut message = Vec::new();
        encode_message(
            &mut message,
            session.framing,
            method,
            MessageType::Oneway,
            self.seqid(),
            args,
        );
        session.outbox.lock().extend_from_slice(&message);
        session.flush(deadline)
    }
}

impl MuxConnection {
    /// Like [`Channel::call`], with this call's own deadline instead of the configured call
    /// timeout; other calls in flight keep theirs.
    pub fn call_with_timeout(
        &self,
        method: &str,
        args: &dyn Encode,
        timeout: Duration,
    ) -> Result<Vec<u8>, ClientError> {
        self.begin(method, args, Instant::now() + timeout, true)?
            .wait()
    }

    /// Starts a call and returns without waiting for its reply: the request is written (or
    /// left queued behind a write another thread is doing, which will carry it), its seqid
    /// registered. Take the reply with [`PendingCall::wait`]. The call's deadline (the
    /// configured call timeout) runs from now.
    ///
    /// At the in-flight cap this blocks until a reply arrives or a pending call is dropped, and
    /// fails with [`ClientError::Timeout`] if none does before the deadline.
    pub fn start_call(&self, method: &str, args: &dyn Encode) -> Result<PendingCall, ClientError> {
        let deadline = Instant::now() + self.config.connection.call_timeout;
        self.begin(method, args, deadline, true)
    }

    /// Like [`MuxConnection::start_call`], but only queues the request: it is written by the
    /// next [`MuxConnection::flush`], the next started call, or when any pending call of this
    /// connection is waited for. Queue several, flush once, and they share one write.
    pub fn queue_call(&self, method: &str, args: &dyn Encode) -> Result<PendingCall, ClientError> {
        let deadline = Instant::now() + self.config.connection.call_timeout;
        self.begin(method, args, deadline, false)
    }

    /// Writes every queued request (see [`MuxConnection::queue_call`]) within the call timeout.
    pub fn flush(&self) -> Result<(), ClientError> {
        let session = self.session.lock().clone();
        match session {
            Some(session) => session.flush(Instant::now() + self.config.connection.call_timeout),
            None => Ok(()),
        }
    }

    /// Claims a slot, registers a seqid, queues the request and (if `write`) writes the queue.
    fn begin(
        &self,
        method: &str,
        args: &dyn Encode,
        deadline: Instant,
        write: bool,
    ) -> Result<PendingCall, ClientError> {
        let slot = self.claim_slot(deadline)?;
        let session = self.session()?;
        let seqid = self.seqid();
        let mut message = Vec::new();
        encode_message(
            &mut message,
            session.framing,
            method,
            MessageType::Call,
            seqid,
            args,
        );
        let (reply, replied) = bounded(1);
        {
            let mut waiters = session.waiters.lock();
            if waiters.dead {
                return Err(ClientError::Io(connection_lost()));
            }
            if waiters.by_seqid.contains_key(&seqid) {
                // 2^32 calls ago this seqid was given out and is still awaited: that caller
                // would get our reply. Not within any sane call timeout, but stay correct.
                return Err(ClientError::Io(io::Error::other("seqid still in use")));
            }
            let waiter = Waiter {
                method: method.into(),
                reply,
                _slot: slot,
            };
            waiters.by_seqid.insert(seqid, waiter);
        }
        let pending = PendingCall {
            session,
            counters: self.counters.clone(),
            seqid,
            deadline,
            replied,
            settled: false,
        };
        pending.session.outbox.lock().extend_from_slice(&message);
        if write {
            // On error the pending call drops here and gives its slot and seqid back.
            pending.session.flush(deadline)?;
        }
        Ok(pending)
    }
}

impl PendingCall {
    /// Waits for the reply until the call's deadline; then it is [`ClientError::Timeout`] and
    /// a reply arriving later is discarded. Writes this connection's queued requests first.
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

    /// Whether the reply (or the error that ends the call) is in, so `wait` returns at once.
    pub fn is_ready(&self) -> bool {
        !self.replied.is_empty()
    }

    /// When the call times out: its start plus the call timeout.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    fn wait_until(mut self, deadline: Instant) -> Result<Vec<u8>, ClientError> {
        if self.replied.is_empty() && !self.session.outbox.lock().is_empty() {
            // A failed write kills the session and the reader fails this call: the result
            // comes through the channel either way.
            let _ = self.session.flush(deadline);
        }
        let result = self.replied.recv_deadline(deadline);
        self.settled = true;
        match result {
            Ok(result) => result,
            Err(RecvTimeoutError::Timeout) => {
                let abandoned = self.session.waiters.lock().by_seqid.remove(&self.seqid);
                drop(abandoned);
                // The reply may have been handed over between the deadline and the removal.
                if let Ok(result) = self.replied.try_recv() {
                    return result;
                }
                self.counters.timeouts.fetch_add(1, Ordering::Relaxed);
                Err(ClientError::Timeout)
            }
            Err(RecvTimeoutError::Disconnected) => Err(ClientError::Io(connection_lost())),
        }
    }
}

impl Drop for PendingCall {
    fn drop(&mut self) {
        if !self.settled {
            // No-op if the reply already came (the reader removed the waiter then). The
            // waiter (and with it the slot) is dropped once the lock is released.
            let abandoned = self.session.waiters.lock().by_seqid.remove(&self.seqid);
            drop(abandoned);
        }
    }
}

impl Drop for MuxConnection {
    fn drop(&mut self) {
        if let Some(session) = self.session.lock().take() {
            session.kill();
        }
    }
}

impl Session {
    /// Writes whatever is queued. Callers queue, then take turns at the socket; whoever gets it
    /// writes everything queued so far in one syscall, so under load many requests share a write
    /// (and the server's read). A caller that finds its message already written by the one
    /// before it returns at once. A write that fails or times out part way leaves the stream
    /// out of step, so it kills the session.
    fn flush(&self, deadline: Instant) -> Result<(), ClientError> {
        let Some(mut writer) = self.writer.try_lock_until(deadline) else {
            return Err(ClientError::Timeout);
        };
        let writer = &mut *writer;
        std::mem::swap(&mut *self.outbox.lock(), &mut writer.batch);
        if writer.batch.is_empty() {
            // Written by the caller before us, unless its write killed the session.
            if self.waiters.lock().dead {
                return Err(ClientError::Io(connection_lost()));
            }
            return Ok(());
        }
        let result = write_all(&mut writer.stream, &writer.batch, deadline);
        writer.batch.clear();
        result.map_err(|e| {
            debug!("mux: write failed, closing the connection: {e}");
            self.waiters.lock().dead = true;
            let _ = writer.stream.shutdown(Shutdown::Both);
            io_error(e)
        })
    }

    /// Closes the socket; the reader thread wakes, fails every waiting caller and exits.
    fn kill(&self) {
        self.waiters.lock().dead = true;
        let _ = self.writer.lock().stream.shutdown(Shutdown::Both);
    }

    /// Marks the session dead and wakes every waiting caller with an error.
    fn fail_all(&self, cause: &io::Error) {
        let waiting = {
            let mut waiters = self.waiters.lock();
            waiters.dead = true;
            std::mem::take(&mut waiters.by_seqid)
        };
        debug!(
            "mux: connection lost ({cause}), failing {} calls",
            waiting.len()
        );
        for waiter in waiting.into_values() {
            let error = io::Error::new(cause.kind(), "connection lost while awaiting the reply");
            let _ = waiter.reply.send(Err(ClientError::Io(error)));
        }
    }
}

fn write_all(stream: &mut TcpStream, bytes: &[u8], deadline: Instant) -> io::Result<()> {
    let mut written = 0;
    while written < bytes.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        stream.set_write_timeout(Some(left))?;
        match stream.write(&bytes[written..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn connection_lost() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "connection lost")
}

/// The reader thread: routes each reply to its caller until the socket ends.
fn read_replies(mut stream: TcpStream, session: &Session, limits: &Limits, counters: &MuxCounters) {
    /// Fails the waiters even if the thread unwinds, so no caller waits out its full timeout
    /// on a connection nobody reads any more.
    struct FailOnExit<'a>(&'a Session);
    impl Drop for FailOnExit<'_> {
        fn drop(&mut self) {
            self.0.fail_all(&io::Error::other("reply reader stopped"));
        }
    }
    let _guard = FailOnExit(session);
    let mut input = Vec::new();
    let mut chunk = vec![0u8; READ_CHUNK];
    let cause = loop {
        match route_buffered(&mut input, session, limits, counters) {
            Ok(()) => {}
            Err(e) => break io::Error::new(io::ErrorKind::InvalidData, e),
        }
        match stream.read(&mut chunk) {
            Ok(0) => break io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed"),
            Ok(n) => input.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break e,
        }
    };
    let _ = stream.shutdown(Shutdown::Both);
    session.fail_all(&cause);
}

/// Hands every whole reply in `input` to its waiting caller and drops it from the buffer.
fn route_buffered(
    input: &mut Vec<u8>,
    session: &Session,
    limits: &Limits,
    counters: &MuxCounters,
) -> Result<(), ClientError> {
    let mut start = 0;
    while start < input.len() {
        let (message, consumed) = match transport::parse(&input[start..], session.framing, limits)?
        {
            FrameStatus::Complete { message, consumed } => (message, consumed),
            FrameStatus::Incomplete { .. } => break,
        };
        let reply = &input[start + message.start..start + message.end];
        let seqid = reply_seqid(reply, limits)?;
        let waiter = session.waiters.lock().by_seqid.remove(&seqid);
        match waiter {
            Some(waiter) => {
                let _ = waiter
                    .reply
                    .send(decode_reply(reply, &waiter.method, seqid, limits));
            }
            None => {
                counters.late_replies.fetch_add(1, Ordering::Relaxed);
                debug!("mux: discarding a reply for seqid {seqid}, nobody awaits it");
            }
        }
        start += consumed;
    }
    input.drain(..start);
    Ok(())
}
