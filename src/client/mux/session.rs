//! One socket's life inside a [`MuxConnection`](super::MuxConnection): the shared write path,
//! the calls awaiting replies, the reader thread that routes replies to them, and how the
//! session ends.

use std::collections::HashMap;
use std::io::{self, Read};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use log::debug;
use parking_lot::Mutex;

use crate::client::link::{deadline_error, io_error};
use crate::client::message::{decode_reply, open_reply, reply_seqid};
use crate::client::retry::{CallFailure, Stage};
use crate::client::ClientError;
use crate::protocol::Limits;
use crate::transport::{
    Codec, DeadlineError, FrameStatus, Framing, SocketDeadlines, FRAME_HEADER_LEN,
};

use super::{MuxCounters, SlotGuard};

/// Read size of the reader thread: replies of many callers arrive together.
const READ_CHUNK: usize = 64 * 1024;

/// What a waiting call receives: its reply, or the news that the socket died before it.
#[derive(Debug)]
pub(super) enum Outcome {
    /// The reply arrived (decoded and checked against the call, or the error that broke it).
    Reply(Result<Vec<u8>, ClientError>),
    /// The socket ended while the call awaited its reply: how far the call got, and whether
    /// the socket was reused, for the retry rule to judge.
    Lost { failure: CallFailure, reused: bool },
}

/// A call awaiting its reply. It holds its in-flight slot: whoever removes it from the map
/// (the reader with the reply, a timeout, a dropped pending call, socket death) frees it.
#[derive(Debug)]
pub(super) struct Waiter {
    pub(super) method: Box<str>,
    pub(super) reply: Sender<Outcome>,
    /// The session had answered a call before this one was registered: the retry rule's
    /// "reused connection".
    pub(super) reused: bool,
    pub(super) _slot: SlotGuard,
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum End {
    /// The peer closed the socket while no call was in flight (its idle timeout, a restart):
    /// found by the reader's EOF or by the peek before a call.
    PeerClosedIdle,
    /// This client closed it: idle past the idle timeout.
    Expired,
    /// The socket failed (or the peer closed it) with calls in flight, or before any call.
    Failed(io::ErrorKind),
    /// The [`MuxConnection`](super::MuxConnection) was dropped.
    Dropped,
    /// A reply carried THeader's `:drain`: no new call goes on the session, which closes once
    /// the calls already on it are answered (or given up).
    Drained,
}

/// Whether a new call may go on the session, and whether it should be checked first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Admission {
    /// Go ahead; `peek` after an idle pause (the caller now holds the pause: others do not).
    Open { peek: bool },
    /// Idle past the idle timeout: closed just now.
    Expired,
    /// The session has ended (`carried`: it had carried calls before).
    Ended { end: End, carried: bool },
}

/// The calls awaiting replies and the session's life, under one lock so that registering a
/// call and ending the session cannot cross.
#[derive(Debug)]
struct Calls {
    by_seqid: HashMap<i32, Waiter>,
    end: Option<End>,
    /// A call was registered on the session (it is no longer fresh).
    carried: bool,
    /// A reply arrived on the session.
    answered: bool,
    /// When the last call was registered or reply routed (or the session connected).
    last_used: Instant,
}

/// The write half's state: a batch being written, possibly left part-written by a caller whose
/// deadline passed (the next writer finishes it, so the stream stays in step).
#[derive(Debug)]
struct Writer {
    batch: Vec<u8>,
    written: usize,
    /// When the peer last took bytes (or the batch started): a batch stuck for a whole call
    /// timeout means the peer stopped reading, and the session is closed.
    progress: Instant,
    /// The write side's socket timeout; the reader thread keeps its own.
    deadlines: SocketDeadlines,
}

/// One socket carrying many calls.
#[derive(Debug)]
pub(super) struct Session {
    pub(super) id: u64,
    pub(super) codec: Codec,
    stream: TcpStream,
    /// Messages waiting to be written, whole, in the order their callers queued them.
    outbox: Mutex<Vec<u8>>,
    writer: Mutex<Writer>,
    /// A batch was left part-written: a waiting caller must flush even with an empty outbox.
    unfinished: AtomicBool,
    calls: Mutex<Calls>,
}

impl Session {
    pub(super) fn new(id: u64, stream: TcpStream, codec: Codec) -> Session {
        let now = Instant::now();
        Session {
            id,
            codec,
            stream,
            outbox: Mutex::new(Vec::new()),
            writer: Mutex::new(Writer {
                batch: Vec::new(),
                written: 0,
                progress: now,
                deadlines: SocketDeadlines::new(),
            }),
            unfinished: AtomicBool::new(false),
            calls: Mutex::new(Calls {
                by_seqid: HashMap::new(),
                end: None,
                carried: false,
                answered: false,
                last_used: now,
            }),
        }
    }

    /// Decides whether a new call may use the session. One idle past `idle_timeout` is
    /// expired here (the reader's own timer may not have fired yet); one idle past `pause`
    /// asks for a peek, once: the pause is over for the callers after this one.
    pub(super) fn admit(&self, idle_timeout: Duration, pause: Duration) -> Admission {
        let now = Instant::now();
        let mut calls = self.calls.lock();
        if let Some(end) = calls.end {
            let carried = calls.carried;
            return Admission::Ended { end, carried };
        }
        let idle = calls.by_seqid.is_empty();
        let quiet = now.saturating_duration_since(calls.last_used);
        if idle && quiet >= idle_timeout {
            calls.end = Some(End::Expired);
            drop(calls);
            debug!("mux: session {} idle for {quiet:?}, closing it", self.id);
            let _ = self.stream.shutdown(Shutdown::Both);
            return Admission::Expired;
        }
        calls.last_used = now;
        Admission::Open {
            peek: idle && quiet >= pause,
        }
    }

    /// Registers a call awaiting its reply, unless the session ended (the waiter comes back).
    pub(super) fn register(&self, seqid: i32, mut waiter: Waiter) -> Result<(), Waiter> {
        let mut calls = self.calls.lock();
        // 2^32 calls ago this seqid was given out and is still awaited: that caller would get
        // this reply. Not within any sane call timeout; treated as a dead session to stay correct.
        if calls.end.is_some() || calls.by_seqid.contains_key(&seqid) {
            return Err(waiter);
        }
        waiter.reused = calls.answered;
        calls.carried = true;
        calls.last_used = Instant::now();
        calls.by_seqid.insert(seqid, waiter);
        Ok(())
    }

    /// Gives up on a call (timed out or dropped); returns its waiter, if it still waited.
    pub(super) fn forget(&self, seqid: i32) -> Option<Waiter> {
        let mut calls = self.calls.lock();
        let waiter = calls.by_seqid.remove(&seqid);
        self.close_if_drained(&calls);
        waiter
    }

    /// Closes a drained session once no call awaits a reply on it: the reader sees the end of
    /// the stream and stops.
    fn close_if_drained(&self, calls: &Calls) {
        if calls.end == Some(End::Drained) && calls.by_seqid.is_empty() {
            debug!("mux: session {} drained, closing it", self.id);
            let _ = self.stream.shutdown(Shutdown::Both);
        }
    }

    /// How the session ended, if it did.
    pub(super) fn end(&self) -> Option<End> {
        self.calls.lock().end
    }

    /// Notes that a oneway message is about to be written; false if the session ended.
    pub(super) fn touch(&self) -> bool {
        let mut calls = self.calls.lock();
        calls.last_used = Instant::now();
        calls.end.is_none()
    }

    /// Queues a whole message for the next write.
    pub(super) fn enqueue(&self, message: &[u8]) {
        self.outbox.lock().extend_from_slice(message);
    }

    /// Whether something is queued or part-written, so a waiting caller should flush.
    pub(super) fn has_unwritten(&self) -> bool {
        self.unfinished.load(Ordering::Acquire) || !self.outbox.lock().is_empty()
    }

    /// Looks for a FIN without blocking, holding the write half so no write runs meanwhile
    /// (the socket is briefly non-blocking). The reader thread, if it enters a read in that
    /// window, sees `WouldBlock` and reads again. Bytes waiting are a late reply, not a fault.
    /// Returns false (and ends the session) if the peer closed it.
    pub(super) fn peek_alive(&self, deadline: Instant) -> bool {
        let Some(_writer) = self.writer.try_lock_until(deadline) else {
            // Another caller is writing: the session is in use, not idle.
            return true;
        };
        let mut probe = [0u8; 1];
        let closed = match self.stream.set_nonblocking(true) {
            Ok(()) => {
                let found = self.stream.peek(&mut probe);
                let restored = self.stream.set_nonblocking(false);
                match found {
                    Ok(0) => true,
                    Ok(_) => restored.is_err(),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => restored.is_err(),
                    Err(_) => true,
                }
            }
            Err(_) => true,
        };
        if closed {
            self.finish(End::PeerClosedIdle);
        }
        !closed
    }

    /// Ends the session if it has no call in flight and nothing to write, and
    /// sat unused for `idle_timeout`.
    fn expire_if_idle(&self, idle_timeout: Duration) -> bool {
        let mut calls = self.calls.lock();
        let idle = calls.by_seqid.is_empty() && calls.last_used.elapsed() >= idle_timeout;
        if calls.end.is_some() || !idle || self.has_unwritten() {
            return false;
        }
        calls.end = Some(End::Expired);
        debug!(
            "mux: session {} idle for {idle_timeout:?}, closing it",
            self.id
        );
        true
    }

    /// Writes whatever is queued, finishing first any batch a caller before left part-written.
    /// Callers queue, then take turns at the socket; whoever gets it writes everything queued so
    /// far in one syscall, so under load many requests share a write (and the server's read).
    /// A caller that finds its message already written by the one before it returns at once.
    ///
    /// The write is bounded by this caller's `deadline`, but the batch carries other callers'
    /// requests, so when the deadline passes mid-batch the rest is left for the next writer and
    /// only this caller gets [`ClientError::Timeout`]. The session is closed only if the write
    /// fails, or if the peer has taken no byte for `stall_limit` (it stopped reading).
    pub(super) fn flush(
        &self,
        deadline: Instant,
        stall_limit: Duration,
    ) -> Result<(), ClientError> {
        let Some(mut writer) = self.writer.try_lock_until(deadline) else {
            return Err(ClientError::Timeout);
        };
        let writer = &mut *writer;
        // Two rounds at most: what was left part-written, then what is queued now.
        for _ in 0..2 {
            if writer.written == writer.batch.len() {
                writer.batch.clear();
                writer.written = 0;
                std::mem::swap(&mut *self.outbox.lock(), &mut writer.batch);
                if writer.batch.is_empty() {
                    break;
                }
                writer.progress = Instant::now();
            }
            while writer.written < writer.batch.len() {
                let unwritten = &writer.batch[writer.written..];
                match writer
                    .deadlines
                    .write_some_by(&self.stream, unwritten, deadline)
                {
                    Ok(n) => {
                        writer.written += n;
                        writer.progress = Instant::now();
                    }
                    Err(DeadlineError::Io(e)) if !is_timeout(&e) => {
                        debug!("mux: session {}: write failed, closing: {e}", self.id);
                        self.fail_write(e.kind());
                        return Err(io_error(e));
                    }
                    Err(e) => {
                        self.unfinished.store(true, Ordering::Release);
                        if writer.progress.elapsed() >= stall_limit {
                            debug!("mux: session {}: peer stopped reading, closing", self.id);
                            self.fail_write(io::ErrorKind::TimedOut);
                        }
                        return Err(deadline_error(e));
                    }
                }
            }
            self.unfinished.store(false, Ordering::Release);
        }
        match self.end() {
            // Written by the caller before us, unless its write ended the session; a drained
            // session still takes what was queued before the drain was seen.
            Some(End::Drained) | None => Ok(()),
            Some(_) => Err(ClientError::Io(connection_lost())),
        }
    }

    fn fail_write(&self, kind: io::ErrorKind) {
        self.calls.lock().end.get_or_insert(End::Failed(kind));
        let _ = self.stream.shutdown(Shutdown::Both);
    }

    /// Ends the session (first reason wins) and closes the socket; the reader thread wakes,
    /// fails every waiting call and exits.
    pub(super) fn finish(&self, end: End) {
        self.calls.lock().end.get_or_insert(end);
        let _ = self.stream.shutdown(Shutdown::Both);
    }

    /// Ends the session after the reader stopped with `cause`, and wakes every waiting call
    /// with what the retry rule needs to judge it. `partial` is the reply whose first bytes had
    /// arrived: that call got a reply byte and is never retried.
    fn fail_all(&self, cause: &io::Error, partial: Partial) {
        let (waiting, end) = {
            let mut calls = self.calls.lock();
            let idle = calls.by_seqid.is_empty();
            let end = *calls.end.get_or_insert(match cause.kind() {
                io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset if idle => {
                    End::PeerClosedIdle
                }
                kind => End::Failed(kind),
            });
            (std::mem::take(&mut calls.by_seqid), end)
        };
        let kind = match end {
            End::Failed(kind) => kind,
            End::PeerClosedIdle => io::ErrorKind::UnexpectedEof,
            End::Expired | End::Dropped | End::Drained => io::ErrorKind::ConnectionAborted,
        };
        if !waiting.is_empty() {
            debug!(
                "mux: session {} lost ({cause}), {} calls awaited replies",
                self.id,
                waiting.len()
            );
        }
        for (seqid, waiter) in waiting {
            let stage = match partial {
                Partial::Unknown => Stage::Reply,
                Partial::Of(of) if of == seqid => Stage::Reply,
                Partial::None | Partial::Of(_) => Stage::AwaitReply,
            };
            let error = io::Error::new(kind, "connection lost while awaiting the reply");
            let failure = CallFailure::new(stage, ClientError::Io(error));
            // A connection dropped by its owner has nothing to retry on.
            let reused = waiter.reused && end != End::Dropped;
            let _ = waiter.reply.send(Outcome::Lost { failure, reused });
        }
    }
}

/// The reply that had begun to arrive when the socket ended.
#[derive(Debug, Clone, Copy)]
enum Partial {
    None,
    Of(i32),
    /// Bytes arrived whose call cannot be told: no call may assume it got none.
    Unknown,
}

fn partial_reply(input: &[u8], codec: Codec, limits: &Limits) -> Partial {
    if input.is_empty() {
        return Partial::None;
    }
    let message = match codec.framing() {
        Framing::Framed => input.get(FRAME_HEADER_LEN..).unwrap_or_default(),
        Framing::Unframed => input,
        // The frame's own seqid (after length, magic and flags) is the call's: this client
        // writes it so and the server echoes it.
        Framing::Header => return frame_seqid(input.get(8..12)),
        // The same, after the outer frame's length.
        Framing::FramedHeader => return frame_seqid(input.get(12..16)),
    };
    match reply_seqid(message, codec.protocol(), limits) {
        Ok(seqid) => Partial::Of(seqid),
        Err(_) => Partial::Unknown,
    }
}

fn frame_seqid(bytes: Option<&[u8]>) -> Partial {
    bytes.map_or(Partial::Unknown, |b| {
        Partial::Of(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    })
}

/// What the reader thread needs besides the session.
#[derive(Debug)]
pub(super) struct ReaderSetup {
    pub(super) limits: Limits,
    pub(super) idle_timeout: Duration,
}

/// The reader thread: routes each reply to its caller until the socket ends; closes an idle
/// session once it has been idle for the idle timeout, so an unused connection does not wait
/// for the server to close it.
pub(super) fn read_replies(session: &Session, setup: &ReaderSetup, counters: &MuxCounters) {
    /// Fails the waiters even if the thread unwinds, so no caller waits out its full timeout
    /// on a connection nobody reads any more.
    struct FailOnExit<'a>(&'a Session);
    impl Drop for FailOnExit<'_> {
        fn drop(&mut self) {
            let cause = io::Error::other("reply reader stopped");
            self.0.fail_all(&cause, Partial::Unknown);
        }
    }
    let guard = FailOnExit(session);
    // A zero timeout means none to the socket; 1 ms is the shortest it takes.
    let idle = setup.idle_timeout.max(Duration::from_millis(1));
    let mut input = Vec::new();
    let mut chunk = vec![0u8; READ_CHUNK];
    let cause = match session.stream.set_read_timeout(Some(idle)) {
        Err(e) => e,
        Ok(()) => loop {
            if let Err(e) = route_buffered(&mut input, session, &setup.limits, counters) {
                break io::Error::new(io::ErrorKind::InvalidData, e);
            }
            match (&session.stream).read(&mut chunk) {
                Ok(0) => break io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed"),
                Ok(n) => input.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => {
                    if session.expire_if_idle(setup.idle_timeout) {
                        counters.expired.fetch_add(1, Ordering::Relaxed);
                        break io::Error::new(io::ErrorKind::ConnectionAborted, "idle expiry");
                    }
                    // A peek made the socket non-blocking for a moment, or calls are in flight.
                    thread::yield_now();
                }
                Err(e) => break e,
            }
        },
    };
    std::mem::forget(guard);
    let _ = session.stream.shutdown(Shutdown::Both);
    session.fail_all(&cause, partial_reply(&input, session.codec, &setup.limits));
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
        let (message, consumed) = match session.codec.parse(&input[start..], limits)? {
            FrameStatus::Complete { message, consumed } => (message, consumed),
            FrameStatus::Incomplete { .. } => break,
        };
        let found = &input[start + message.start..start + message.end];
        let reply = open_reply(session.codec, found, limits)?;
        let seqid = reply_seqid(&reply.payload, reply.protocol, limits)?;
        let drain = reply.drain;
        let waiter = {
            let mut calls = session.calls.lock();
            calls.answered = true;
            calls.last_used = Instant::now();
            let waiter = calls.by_seqid.remove(&seqid);
            if drain && calls.end.is_none() {
                calls.end = Some(End::Drained);
                counters.drained.fetch_add(1, Ordering::Relaxed);
                debug!(
                    "mux: session {}: server draining, no new calls on it",
                    session.id
                );
            }
            session.close_if_drained(&calls);
            waiter
        };
        match waiter {
            Some(waiter) => {
                let result = decode_reply(
                    &reply.payload,
                    reply.protocol,
                    &waiter.method,
                    seqid,
                    limits,
                );
                let _ = waiter.reply.send(Outcome::Reply(result));
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

/// A socket timeout (a deadline passing), or a non-blocking socket with nothing to do.
fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

pub(super) fn connection_lost() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "connection lost")
}
