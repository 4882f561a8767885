//! One socket to a server carrying one call at a time: the part every client type shares.

use std::io;
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::ops::Range;
use std::time::{Duration, Instant};

use crate::protocol::{Encode, MessageType, ProtocolError};
use crate::transport::{self, DeadlineError, FrameStatus, SocketDeadlines};

use super::config::ConnectionConfig;
use super::message::{decode_reply, encode_message, open_reply};
use super::retry::{CallFailure, Stage};
use super::ClientError;

/// Smallest read: an unframed parse may ask for one byte at a time, the socket may hold more.
const READ_MIN: usize = 4096;
/// Largest read: the buffer grows with bytes received, never with a length a peer declared.
const READ_MAX: usize = 64 * 1024;
/// How long a connection must have been idle before it is peeked for a FIN. 50 ms: far below
/// any idle timeout a server closes connections at (tether's tests use 300 ms, servers seconds),
/// so every connection a server may have closed for idleness is checked; far above the gap
/// between back-to-back calls (microseconds), so a busy connection never pays the peek's three
/// syscalls. A close that races a busy connection (drain, max requests) is the retry's job.
pub(crate) const IDLE_PAUSE: Duration = Duration::from_millis(50);

/// Connects to the first address of `addr` that accepts within the connect timeout, which is
/// shared out over the addresses left to try (so one blackholed address cannot eat all of it).
pub(crate) fn connect(addr: &str, config: &ConnectionConfig) -> Result<TcpStream, ClientError> {
    connect_until(addr, config, Instant::now() + config.connect_timeout)
}

/// [`connect`] within a call: the connect timeout, cut short by the call's `deadline`. A connect
/// the call's deadline cut short is the call timing out, not the endpoint failing.
pub(crate) fn connect_before(
    addr: &str,
    config: &ConnectionConfig,
    call_deadline: Instant,
) -> Result<TcpStream, ClientError> {
    let own_deadline = Instant::now() + config.connect_timeout;
    if own_deadline <= call_deadline {
        return connect_until(addr, config, own_deadline);
    }
    match connect_until(addr, config, call_deadline) {
        Err(ClientError::Connect(_)) if Instant::now() >= call_deadline => {
            Err(ClientError::Timeout)
        }
        other => other,
    }
}

fn connect_until(
    addr: &str,
    config: &ConnectionConfig,
    deadline: Instant,
) -> Result<TcpStream, ClientError> {
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(ClientError::Connect)?
        .collect();
    let mut last = io::Error::new(io::ErrorKind::InvalidInput, "address resolved to nothing");
    for (i, target) in addrs.iter().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            last = io::Error::new(io::ErrorKind::TimedOut, "connect timed out");
            break;
        }
        let share = left / (addrs.len() - i) as u32;
        match TcpStream::connect_timeout(target, share.max(Duration::from_millis(1))) {
            Ok(stream) => {
                transport::configure(&stream, config.nodelay, config.keepalive)
                    .map_err(ClientError::Connect)?;
                return Ok(stream);
            }
            Err(e) => last = e,
        }
    }
    Err(ClientError::Connect(last))
}

/// What a non-blocking peek found on an idle connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Liveness {
    /// Nothing to read and no FIN: the connection can carry a call.
    Alive,
    /// The peer closed it (FIN or reset).
    Closed,
    /// Bytes arrived that no call asked for.
    Unexpected,
}

/// A connected socket with its buffers and sequence counter.
#[derive(Debug)]
pub(crate) struct Link {
    stream: TcpStream,
    deadlines: SocketDeadlines,
    config: ConnectionConfig,
    input: Vec<u8>,
    output: Vec<u8>,
    next_seqid: i32,
    /// A reply carried THeader's `:drain`: the server asked that nothing new be sent here.
    drained: bool,
    created: Instant,
    last_used: Instant,
}

impl Link {
    /// Connects within the connect timeout, outside any call.
    pub(crate) fn open(addr: &str, config: &ConnectionConfig) -> Result<Link, ClientError> {
        Ok(Link::new(connect(addr, config)?, config.clone()))
    }

    /// Connects within the connect timeout, cut short by the call's `deadline`.
    pub(crate) fn connect(
        addr: &str,
        config: &ConnectionConfig,
        deadline: Instant,
    ) -> Result<Link, ClientError> {
        Ok(Link::new(
            connect_before(addr, config, deadline)?,
            config.clone(),
        ))
    }

    pub(crate) fn new(stream: TcpStream, config: ConnectionConfig) -> Link {
        let now = Instant::now();
        Link {
            stream,
            deadlines: SocketDeadlines::new(),
            config,
            input: Vec::new(),
            output: Vec::new(),
            next_seqid: 0,
            drained: false,
            created: now,
            last_used: now,
        }
    }

    /// When the socket was connected.
    pub(crate) fn created(&self) -> Instant {
        self.created
    }

    /// How long the socket has carried nothing, as of `now`.
    pub(crate) fn idle_for(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.last_used)
    }

    /// Whether the socket sat idle long enough that the peer may have closed it: then it is
    /// peeked before a call (see [`IDLE_PAUSE`]).
    pub(crate) fn paused(&self, now: Instant) -> bool {
        self.idle_for(now) > IDLE_PAUSE
    }

    /// Whether the server asked (THeader's `:drain` on a reply) that nothing new be sent on
    /// this socket: its owner retires it instead of reusing it.
    pub(crate) fn drained(&self) -> bool {
        self.drained
    }

    /// Sends a call and reads its reply before `deadline`.
    pub(crate) fn call(
        &mut self,
        method: &str,
        args: &dyn Encode,
        deadline: Instant,
    ) -> Result<Vec<u8>, CallFailure> {
        let result = self.exchange(method, args, deadline);
        self.last_used = Instant::now();
        result
    }

    fn exchange(
        &mut self,
        method: &str,
        args: &dyn Encode,
        deadline: Instant,
    ) -> Result<Vec<u8>, CallFailure> {
        let seqid = self.seqid();
        encode_message(
            &mut self.output,
            self.config.codec,
            method,
            MessageType::Call,
            seqid,
            args,
        );
        self.deadlines
            .write_all_by(&self.stream, &self.output, deadline)
            .map_err(|e| CallFailure::new(Stage::Write, deadline_error(e)))?;
        let (message, consumed) = self.read_message(deadline)?;
        let limits = &self.config.limits;
        let result = match open_reply(self.config.codec, &self.input[message], limits) {
            Ok(reply) => {
                self.drained |= reply.drain;
                decode_reply(&reply.payload, reply.protocol, method, seqid, limits)
            }
            Err(e) => Err(e),
        };
        self.input.drain(..consumed);
        if !self.input.is_empty() {
            // One call at a time: anything past the reply is not ours and would be read as the
            // next call's reply. Checked before the result, so an exception reply (which keeps
            // the connection) cannot leave stray bytes behind either.
            return Err(CallFailure::new(
                Stage::Reply,
                ClientError::Protocol(ProtocolError::InvalidData {
                    reason: "bytes after the reply",
                }),
            ));
        }
        result.map_err(|e| CallFailure::new(Stage::Reply, e))
    }

    /// Writes a oneway message before `deadline`.
    pub(crate) fn send_oneway(
        &mut self,
        method: &str,
        args: &dyn Encode,
        deadline: Instant,
    ) -> Result<(), CallFailure> {
        let seqid = self.seqid();
        encode_message(
            &mut self.output,
            self.config.codec,
            method,
            MessageType::Oneway,
            seqid,
            args,
        );
        let written = self
            .deadlines
            .write_all_by(&self.stream, &self.output, deadline)
            .map_err(|e| CallFailure::new(Stage::Write, deadline_error(e)));
        self.last_used = Instant::now();
        written
    }

    /// Looks for a FIN or stray bytes without blocking; a reused connection is checked so a
    /// server's idle close is found before a call is lost to it.
    pub(crate) fn liveness(&self) -> Liveness {
        if !self.input.is_empty() {
            return Liveness::Unexpected;
        }
        if self.stream.set_nonblocking(true).is_err() {
            return Liveness::Closed;
        }
        let mut probe = [0u8; 1];
        let found = match self.stream.peek(&mut probe) {
            Ok(0) => Liveness::Closed,
            Ok(_) => Liveness::Unexpected,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Liveness::Alive,
            Err(_) => Liveness::Closed,
        };
        if self.stream.set_nonblocking(false).is_err() {
            return Liveness::Closed;
        }
        found
    }

    /// Closes both directions at once (the peer sees a FIN now, not when the value drops).
    pub(crate) fn close(&self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }

    fn seqid(&mut self) -> i32 {
        self.next_seqid = self.next_seqid.wrapping_add(1);
        self.next_seqid
    }

    /// Reads until one whole message is buffered; returns its range and the bytes it took.
    fn read_message(&mut self, deadline: Instant) -> Result<(Range<usize>, usize), CallFailure> {
        let mut wanted = READ_MIN;
        loop {
            if !self.input.is_empty() {
                match self.config.codec.parse(&self.input, &self.config.limits) {
                    Ok(FrameStatus::Complete { message, consumed }) => {
                        return Ok((message, consumed))
                    }
                    Ok(FrameStatus::Incomplete { needed }) => wanted = needed,
                    Err(e) => return Err(CallFailure::new(Stage::Reply, e.into())),
                }
            }
            let stage = if self.input.is_empty() {
                Stage::AwaitReply
            } else {
                Stage::Reply
            };
            let read = self.deadlines.read_append_by(
                &self.stream,
                &mut self.input,
                wanted.clamp(READ_MIN, READ_MAX),
                deadline,
            );
            match read {
                Ok(0) => {
                    return Err(CallFailure::new(
                        stage,
                        ClientError::Io(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "connection closed by peer",
                        )),
                    ))
                }
                Ok(_) => {}
                Err(e) => return Err(CallFailure::new(stage, deadline_error(e))),
            }
        }
    }
}

/// A deadline passing is the call timing out; a socket error stays an I/O error.
pub(crate) fn deadline_error(e: DeadlineError) -> ClientError {
    match e {
        DeadlineError::Io(e) => io_error(e),
        _ => ClientError::Timeout,
    }
}

/// A socket timeout is the call's deadline passing; anything else stays an I/O error.
pub(crate) fn io_error(e: io::Error) -> ClientError {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ClientError::Timeout,
        _ => ClientError::Io(e),
    }
}
