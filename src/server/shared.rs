//! State shared by the accept loop, the workers and shutdown handles.

use std::collections::HashMap;
use std::io::Read;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::SeqCst};
use std::sync::Arc;

use log::debug;
use parking_lot::Mutex;

use super::config::Config;
use super::router::Router;
use super::stats::{CloseReason, Stats};

/// Waiting for the first byte of a request; the drainer may close it.
pub(crate) const IDLE: u8 = 0;
/// A request has started; it will be finished before the connection closes.
pub(crate) const BUSY: u8 = 1;
/// The drainer (or a force) claimed the connection; the worker must not start a request.
pub(crate) const CLOSING: u8 = 2;

/// One open connection, as the drainer sees it.
#[derive(Debug)]
pub(crate) struct Connection {
    pub id: u64,
    /// IDLE, BUSY or CLOSING. The one atomic that settles "drainer closes an idle connection"
    /// against "worker starts a request that just arrived": whoever moves it off IDLE first wins.
    pub state: AtomicU8,
    pub stream: TcpStream,
}

/// How drained connections ended, for the [`DrainReport`](super::DrainReport).
#[derive(Debug, Default)]
pub(crate) struct DrainCounts {
    pub closed_idle: AtomicU64,
    pub completed: AtomicU64,
}

pub(crate) struct Shared {
    pub config: Config,
    pub router: Router,
    pub stats: Stats,
    pub connections: Mutex<HashMap<u64, Arc<Connection>>>,
    pub shutdown_requested: AtomicBool,
    pub force_requested: AtomicBool,
    pub draining: AtomicBool,
    pub forced: AtomicBool,
    pub accept_paused: AtomicBool,
    pub drain: DrainCounts,
    pub waker: mio::Waker,
}

impl Shared {
    /// Wakes the accept loop (shutdown, a freed slot while paused, a drained connection).
    pub fn wake(&self) {
        if let Err(e) = self.waker.wake() {
            debug!("waking the accept loop failed: {e}");
        }
    }

    /// Starts draining: every connection that is Idle is claimed and woken so its worker closes
    /// it; Busy ones close themselves once their request is answered.
    pub fn begin_drain(&self) {
        self.draining.store(true, SeqCst);
        for connection in self.snapshot_connections() {
            if connection
                .state
                .compare_exchange(IDLE, CLOSING, SeqCst, SeqCst)
                .is_ok()
            {
                // Wakes the worker's blocked read with end-of-stream.
                let _ = connection.stream.shutdown(Shutdown::Read);
            }
        }
    }

    /// Closes every remaining connection now, busy or not; returns how many there were.
    pub fn force_close(&self) -> usize {
        self.forced.store(true, SeqCst);
        let connections = self.snapshot_connections();
        for connection in &connections {
            connection.state.store(CLOSING, SeqCst);
            let _ = connection.stream.shutdown(Shutdown::Both);
        }
        connections.len()
    }

    fn snapshot_connections(&self) -> Vec<Arc<Connection>> {
        self.connections.lock().values().cloned().collect()
    }
}

/// Keeps the counts right however a worker ends: normal return, panic, or never started
/// (thread spawn failed).
pub(crate) struct WorkerGuard {
    pub shared: Arc<Shared>,
    pub connection: Arc<Connection>,
    pub started: bool,
    pub reason: Option<CloseReason>,
}

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        let shared = &self.shared;
        let id = self.connection.id;
        close_gently(&self.connection.stream);
        shared.connections.lock().remove(&id);
        match (self.started, self.reason) {
            (false, _) => {
                shared.stats.rejected.fetch_add(1, SeqCst);
            }
            (true, reason) => {
                let reason = reason.unwrap_or(CloseReason::IoError);
                shared.stats.count_close(reason);
                debug!("conn {id}: closed ({reason})");
            }
        }
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
