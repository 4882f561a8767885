//! [`MuxConnection`]: one socket carrying calls from many threads at once, matched by seqid.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, RecvTimeoutError, Sender};
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

/// One connection shared by many threads: each call gets its own sequence id, writes are
/// serialised, and a reader thread hands each reply to the caller waiting for its seqid (in
/// whatever order replies come). A call that times out gives up its seqid; its late reply is
/// read and discarded, and the connection carries on. If the socket dies, every waiting caller
/// gets an error at once and the next call connects again.
#[derive(Debug)]
pub struct MuxConnection {
    addr: String,
    config: MuxConfig,
    session: Mutex<Option<Arc<Session>>>,
    next_seqid: AtomicI32,
    in_flight: Mutex<usize>,
    slot_freed: Condvar,
    counters: Arc<MuxCounters>,
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

#[derive(Debug)]
struct Waiter {
    method: Box<str>,
    reply: Sender<Result<Vec<u8>, ClientError>>,
}

impl MuxConnection {
    /// Connects to `addr` (`host:port`) and starts the reader thread.
    pub fn connect(addr: &str, config: MuxConfig) -> Result<MuxConnection, ClientError> {
        let mux = MuxConnection {
            addr: addr.to_owned(),
            config,
            session: Mutex::new(None),
            next_seqid: AtomicI32::new(0),
            in_flight: Mutex::new(0),
            slot_freed: Condvar::new(),
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
    fn claim_slot(&self, deadline: Instant) -> Result<SlotGuard<'_>, ClientError> {
        let mut in_flight = self.in_flight.lock();
        while *in_flight >= self.config.max_in_flight {
            if self
                .slot_freed
                .wait_until(&mut in_flight, deadline)
                .timed_out()
                && *in_flight >= self.config.max_in_flight
            {
                return Err(ClientError::Timeout);
            }
        }
        *in_flight += 1;
        Ok(SlotGuard { mux: self })
    }

    fn seqid(&self) -> i32 {
        self.next_seqid
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_add(1)
    }
}

/// Frees an in-flight slot on every exit path.
struct SlotGuard<'a> {
    mux: &'a MuxConnection,
}

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        *self.mux.in_flight.lock() -= 1;
        self.mux.slot_freed.notify_one();
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
        session.write(&message, deadline)
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
        let deadline = Instant::now() + timeout;
        let _slot = self.claim_slot(deadline)?;
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
            };
            waiters.by_seqid.insert(seqid, waiter);
        }
        if let Err(e) = session.write(&message, deadline) {
            session.waiters.lock().by_seqid.remove(&seqid);
            return Err(e);
        }
        match replied.recv_deadline(deadline) {
            Ok(result) => result,
            Err(RecvTimeoutError::Timeout) => {
                session.waiters.lock().by_seqid.remove(&seqid);
                // The reply may have been handed over between the deadline and the removal.
                if let Ok(result) = replied.try_recv() {
                    return result;
                }
                self.counters.timeouts.fetch_add(1, Ordering::Relaxed);
                Err(ClientError::Timeout)
            }
            Err(RecvTimeoutError::Disconnected) => Err(ClientError::Io(connection_lost())),
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
    /// Queues one whole message and returns once it is written. Callers queue, then take turns
    /// at the socket; whoever gets it writes everything queued so far in one syscall, so under
    /// load many callers' requests share a write (and the server's read). A caller that finds
    /// its message already written by the one before it returns at once. A write that fails or
    /// times out part way leaves the stream out of step, so it kills the session.
    fn write(&self, message: &[u8], deadline: Instant) -> Result<(), ClientError> {
        self.outbox.lock().extend_from_slice(message);
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
