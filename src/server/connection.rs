//! One connection: the state the drainer and the worker settle with one atomic, the handle the
//! registry shares, and the state a worker owns while it serves it.
//!
//! [`OpenConnection`] owns everything that lasts from one request to the next (socket handle,
//! buffers, counters, deadlines, deframer) and borrows nothing, so it can move from one thread
//! to another between requests. Dropping it closes the connection and counts why, on every
//! exit path, panics included.

use std::io::Read;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::AtomicU8;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::debug;

use super::config::{jittered_age, Config};
use super::shared::Shared;
use super::stats::CloseReason;
use crate::transport::{Deframer, ReadBuffer, SocketDeadlines};

/// Where a connection stands, as the worker and the drainer see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum State {
    /// Waiting for the first byte of a request; the drainer may close it.
    Idle = 0,
    /// A request has started; it will be finished before the connection closes.
    Busy = 1,
    /// The drainer (or a force) claimed the connection; no request may start on it.
    Closing = 2,
    /// Idle past `park_after`: the parking loop holds it and no thread serves it. The drainer
    /// may close it, as an Idle one.
    Parked = 3,
}

impl State {
    fn from_u8(value: u8) -> State {
        match value {
            0 => State::Idle,
            1 => State::Busy,
            3 => State::Parked,
            _ => State::Closing,
        }
    }
}

/// A [`State`] in one atomic: the one that settles "drainer closes an idle connection" against
/// "worker starts a request that just arrived". Whoever moves it off Idle first wins.
#[derive(Debug)]
pub(crate) struct StateCell(AtomicU8);

impl StateCell {
    pub fn new(state: State) -> StateCell {
        StateCell(AtomicU8::new(state as u8))
    }

    /// The state now.
    pub fn get(&self) -> State {
        State::from_u8(self.0.load(SeqCst))
    }

    /// Moves the state from `from` to `to`; false (and no change) if it was not `from`.
    pub fn claim(&self, from: State, to: State) -> bool {
        self.0
            .compare_exchange(from as u8, to as u8, SeqCst, SeqCst)
            .is_ok()
    }

    /// Sets the state whatever it was (a force).
    pub fn force(&self, to: State) {
        self.0.store(to as u8, SeqCst);
    }
}

/// One open connection, as the registry and the drainer see it.
#[derive(Debug)]
pub(crate) struct Connection {
    pub id: u64,
    pub state: StateCell,
    pub stream: TcpStream,
    pub peer: SocketAddr,
}

/// The deframer a new connection starts with: the configured transport, or detection.
fn deframer_for(config: &Config) -> Deframer {
    Deframer::new(config.codec, config.limits)
}

/// A connection with everything that lasts between its requests, owned: 'static and Send, so
/// it can be served by one thread and then another.
///
/// It is registered (counted open, visible to the drainer) from [`open`](OpenConnection::open)
/// until it drops. Once a worker has [`started`](OpenConnection::start) it, dropping it sends
/// FIN after the last reply and counts the close reason.
pub(crate) struct OpenConnection {
    pub shared: Arc<Shared>,
    pub connection: Arc<Connection>,
    pub io: SocketDeadlines,
    pub read_buffer: ReadBuffer,
    pub write_buffer: Vec<u8>,
    /// Where messages end; keeps its place in an unframed message that is still arriving.
    pub deframer: Deframer,
    pub born: Instant,
    /// This connection's max age: the configured one with its jitter.
    pub max_age: Option<Duration>,
    /// When the read that ended the Idle wait returned: the first byte of the request.
    pub last_read: Instant,
    /// When the Idle wait under way began, while the connection is parked: the idle timeout
    /// counts from there, not from the unpark.
    pub idle_since: Option<Instant>,
    pub served: u64,
    /// Whether it counts in the parked gauge (parked, or waiting for a thread after that).
    parked: bool,
    /// Whether a worker thread has served it: a new connection held parked until its first
    /// bytes arrive is in the parked gauge but not counted as a park or an unpark.
    pub had_worker: bool,
    /// Whether a worker has begun serving it: a connection dropped before that (its thread
    /// could not be started, then the drain came) was never served and counts no close.
    started: bool,
    /// Why it closes, set by whoever ends it; a drop without one is a panic (IoError).
    pub reason: Option<CloseReason>,
}

impl OpenConnection {
    /// Registers `stream`, accepted from `peer`, as connection `id`, Idle.
    pub fn open(shared: &Arc<Shared>, id: u64, stream: TcpStream, peer: SocketAddr) -> Self {
        let connection = Arc::new(Connection {
            id,
            state: StateCell::new(State::Idle),
            stream,
            peer,
        });
        shared.register(Arc::clone(&connection));
        shared.stats.active.fetch_add(1, SeqCst);
        let config = &shared.config;
        let now = Instant::now();
        OpenConnection {
            shared: Arc::clone(shared),
            io: SocketDeadlines::new(),
            read_buffer: ReadBuffer::new(config.read_buffer_size),
            write_buffer: Vec::new(),
            deframer: deframer_for(config),
            born: now,
            max_age: config.max_connection_age.map(|age| jittered_age(age, id)),
            last_read: now,
            idle_since: None,
            served: 0,
            parked: false,
            had_worker: false,
            started: false,
            reason: None,
            connection,
        }
    }

    pub fn id(&self) -> u64 {
        self.connection.id
    }

    /// Marks the connection as served by a worker (logged the first time).
    pub fn start(&mut self) {
        if !self.started {
            self.started = true;
            debug!("conn {}: open from {}", self.id(), self.connection.peer);
        }
    }

    /// Counts the connection in the parked gauge, or no longer.
    pub fn set_parked(&mut self, parked: bool) {
        if parked != self.parked {
            self.parked = parked;
            let gauge = &self.shared.stats.parked;
            if parked {
                gauge.fetch_add(1, Relaxed);
            } else {
                gauge.fetch_sub(1, Relaxed);
            }
        }
    }

    /// The limit that ends the connection once the requests it has read are answered: max
    /// requests, max age, or a drain. `now` is called only when an age limit is set.
    pub fn limit_reached(&self, now: impl FnOnce() -> Instant) -> Option<CloseReason> {
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

    fn max_requests_reached(&self) -> bool {
        self.shared
            .config
            .max_requests_per_connection
            .is_some_and(|max| self.served >= max)
    }

    /// The real reason a socket call failed: a force or a drain claim shut the socket down
    /// under the worker, or else `otherwise`.
    pub fn broken(&self, otherwise: CloseReason) -> CloseReason {
        if self.shared.forced.load(SeqCst) {
            CloseReason::Forced
        } else if self.connection.state.get() == State::Closing {
            CloseReason::Drain
        } else {
            otherwise
        }
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.set_parked(false);
        let shared = &self.shared;
        let id = self.connection.id;
        if self.started {
            close_gently(&self.connection.stream);
            let reason = self.reason.unwrap_or(CloseReason::IoError);
            shared.stats.count_close(reason);
            debug!("conn {id}: closed ({reason})");
        }
        shared.unregister(id);
        shared.stats.active.fetch_sub(1, SeqCst);
        if shared.accept_paused.load(SeqCst) || shared.draining.load(SeqCst) {
            shared.wake();
        }
    }
}

/// Most unread bytes discarded at close; a peer still sending more than this gets a reset.
const CLOSE_DISCARD_LIMIT: usize = 64 << 10;

/// Sends FIN after the last reply, then discards bytes the peer already sent: closing a socket
/// with unread data sends RST instead of FIN, and a RST can destroy replies the peer has not
/// read yet (its kernel drops them).
fn close_gently(stream: &TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    if stream.set_nonblocking(true).is_err() {
        return;
    }
    let mut scratch = [0u8; 4096];
    let mut discarded = 0;
    let mut reader = stream;
    while discarded < CLOSE_DISCARD_LIMIT {
        match reader.read(&mut scratch) {
            Ok(n) if n > 0 => discarded += n,
            _ => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_moves_the_state_only_from_the_named_one() {
        let state = StateCell::new(State::Idle);
        assert!(state.claim(State::Idle, State::Parked));
        assert!(!state.claim(State::Idle, State::Busy), "no longer Idle");
        assert_eq!(state.get(), State::Parked);
        // The drainer and a worker taking the connection back race for Parked: one wins.
        assert!(state.claim(State::Parked, State::Closing));
        assert!(!state.claim(State::Parked, State::Idle));
        assert_eq!(state.get(), State::Closing);
        state.force(State::Busy);
        assert_eq!(state.get(), State::Busy);
    }
}
