//! The accept loop: takes connections while below the cap, starts them on a worker thread (or,
//! with idle parking, a spare one or the parking loop), backs off on exhausted resources, and
//! drains at the end.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{debug, info, warn};
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};

use super::connection::OpenConnection;
use super::parking;
use super::server::DrainReport;
use super::shared::Shared;
use super::worker::{self, ThreadSlot};
use crate::transport::configure;

const LISTENER: Token = Token(0);
pub(crate) const WAKER: Token = Token(1);

/// First pause after accept() fails for lack of file descriptors; doubles up to the maximum.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(5);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// First pause after a worker thread could not be started; doubles up to the maximum. A closing
/// connection frees a thread and ends the pause early.
const SPAWN_BACKOFF_MIN: Duration = Duration::from_millis(10);
const SPAWN_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Failed spawns are logged at warn at most this often (each one at debug).
const SPAWN_WARN_INTERVAL: Duration = Duration::from_secs(10);

/// After a force, how long the report waits for workers to notice their closed sockets, so its
/// stats are final; a handler that is still running is not waited for beyond this.
const FORCE_GRACE: Duration = Duration::from_millis(500);

pub(crate) struct Acceptor {
    shared: Arc<Shared>,
    listener: Option<TcpListener>,
    poll: Poll,
    registered: bool,
    backoff: Option<Duration>,
    retry_at: Option<Instant>,
    /// An accepted connection whose worker thread could not be started yet. While it waits,
    /// accepting pauses (the next connections wait in the backlog); it is never dropped.
    waiting: Option<Box<OpenConnection>>,
    spawn: SpawnBackoff,
    next_id: u64,
    next_stats: Option<Instant>,
}

/// The pause after failed spawns, and their rate-limited log.
#[derive(Debug, Default)]
struct SpawnBackoff {
    backoff: Option<Duration>,
    retry_at: Option<Instant>,
    /// Open connections at the last failure: when fewer are open, a thread was freed.
    active_at_failure: u64,
    failures_since_warn: u64,
    last_warn: Option<Instant>,
}

impl Acceptor {
    /// An accept loop for `listener`, polled on `poll` (whose waker is [`WAKER`]).
    pub fn new(shared: Arc<Shared>, listener: TcpListener, poll: Poll) -> Acceptor {
        Acceptor {
            shared,
            listener: Some(listener),
            poll,
            registered: false,
            backoff: None,
            retry_at: None,
            waiting: None,
            spawn: SpawnBackoff::default(),
            next_id: 1,
            next_stats: None,
        }
    }

    /// The accept loop, until shutdown is requested.
    pub fn serve(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(64);
        self.next_stats = self
            .shared
            .config
            .stats_interval
            .map(|i| Instant::now() + i);
        let mut announce_until = None;
        loop {
            if self.shared.shutdown_requested.load(SeqCst) {
                let until = *announce_until.get_or_insert_with(|| {
                    let announce = self.shared.config.drain_announce;
                    if !announce.is_zero() {
                        info!("shutdown: announcing the drain for {announce:?} before it starts");
                    }
                    Instant::now() + announce
                });
                if Instant::now() >= until || self.shared.force_requested.load(SeqCst) {
                    return Ok(());
                }
            }
            self.retry_waiting();
            self.update_registration()?;
            if self.registered && self.retry_at.is_none() {
                self.accept_all();
            }
            // Accepting may have filled the last slot or hit EMFILE.
            self.update_registration()?;
            poll_until(
                &mut self.poll,
                &mut events,
                [
                    self.retry_at,
                    self.spawn.retry_at,
                    self.next_stats,
                    announce_until,
                ],
            )?;
            let now = Instant::now();
            if self.retry_at.is_some_and(|at| now >= at) {
                self.retry_at = None;
            }
            if let (Some(at), Some(interval)) = (self.next_stats, self.shared.config.stats_interval)
            {
                if now >= at {
                    info!("stats: {}", self.shared.stats.snapshot());
                    self.next_stats = Some(now + interval);
                }
            }
        }
    }

    /// Whether the cap is reached. Without parking, worker threads that still exist count, also
    /// those whose connection has just closed; with it, open connections do (threads are
    /// capped where they start).
    fn at_capacity(&self) -> bool {
        let open = match self.shared.parking {
            Some(_) => self.shared.stats.active.load(SeqCst),
            None => self.shared.threads.load(SeqCst),
        };
        open as usize >= self.shared.connection_cap
    }

    /// Polls the listener only while a slot is free and no connection waits for a thread, so a
    /// full server neither spins on readiness nor accepts connections it would have to drop.
    fn update_registration(&mut self) -> io::Result<()> {
        let full = self.at_capacity() || self.waiting.is_some();
        let Some(listener) = self.listener.as_mut() else {
            return Ok(());
        };
        self.shared.accept_paused.store(full, SeqCst);
        if full && self.registered {
            self.poll.registry().deregister(listener)?;
            self.registered = false;
            debug!("at the connection cap or out of threads: accepting paused");
        } else if !full && !self.registered {
            self.poll
                .registry()
                .register(listener, LISTENER, Interest::READABLE)?;
            self.registered = true;
        }
        // A slot may have freed between the check and the flag store; recheck next round.
        if full && self.waiting.is_none() && !self.at_capacity() {
            self.shared.wake();
        }
        Ok(())
    }

    fn accept_all(&mut self) {
        while self.waiting.is_none() && !self.at_capacity() {
            let Some(listener) = self.listener.as_ref() else {
                return;
            };
            match listener.accept() {
                Ok((stream, peer)) => {
                    self.backoff = None;
                    self.shared.stats.accepted.fetch_add(1, SeqCst);
                    self.start_connection(stream.into(), peer);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if is_resource_exhaustion(&e) => {
                    self.shared.stats.accept_errors.fetch_add(1, SeqCst);
                    let backoff = self
                        .backoff
                        .map_or(ACCEPT_BACKOFF_MIN, |b| (b * 2).min(ACCEPT_BACKOFF_MAX));
                    warn!("accept failed: {e}; retrying in {backoff:?}");
                    self.backoff = Some(backoff);
                    self.retry_at = Some(Instant::now() + backoff);
                    return;
                }
                Err(e) => {
                    // ECONNABORTED and friends: that one connection is gone, others wait.
                    self.shared.stats.accept_errors.fetch_add(1, SeqCst);
                    debug!("accept failed: {e}");
                }
            }
        }
    }

    fn start_connection(&mut self, stream: std::net::TcpStream, peer: SocketAddr) {
        let config = &self.shared.config;
        let setup = stream
            .set_nonblocking(false)
            .and_then(|()| configure(&stream, config.tcp_nodelay, config.tcp_keepalive));
        if let Err(e) = setup {
            debug!("socket setup for {peer} failed: {e}");
            self.shared.stats.rejected.fetch_add(1, SeqCst);
            return;
        }
        let id = self.next_id;
        self.next_id += 1;
        let connection = Box::new(OpenConnection::open(&self.shared, id, stream, peer));
        if self.shared.parking.is_none() {
            self.spawn_worker(connection);
            return;
        }
        // A spare thread takes it if one waits; otherwise it is held parked (not left in the
        // backlog) until its first bytes arrive, so a burst of connects that send nothing yet
        // (a pool warming up) costs no threads: 2,000 such connects took 2,000 threads for
        // park_after, and their stacks stayed resident in glibc's stack cache.
        if let Err(connection) = self.shared.handoff.offer_spare(connection) {
            parking::park(connection);
        }
    }

    /// Starts a worker for `connection`; if the thread cannot be started, keeps the connection
    /// waiting and pauses accepting until a retry succeeds.
    fn spawn_worker(&mut self, connection: Box<OpenConnection>) {
        let shared = &self.shared;
        match worker::spawn(shared, ThreadSlot::take(shared), connection) {
            Ok(()) => {
                if self.spawn.backoff.take().is_some() {
                    info!("worker threads start again");
                }
                self.spawn.retry_at = None;
                self.waiting = None;
            }
            Err((e, connection)) => {
                shared.stats.spawn_failures.fetch_add(1, SeqCst);
                self.spawn
                    .failed(&e, shared.stats.active.load(SeqCst), &connection);
                self.waiting = Some(connection);
            }
        }
    }

    /// Retries the waiting connection once its pause is over or a connection has closed.
    fn retry_waiting(&mut self) {
        if self.waiting.is_none() {
            return;
        }
        let freed = self.shared.stats.active.load(SeqCst) < self.spawn.active_at_failure;
        let due = !matches!(self.spawn.retry_at, Some(at) if Instant::now() < at);
        if freed || due {
            if let Some(connection) = self.waiting.take() {
                self.spawn_worker(connection);
            }
        }
    }

    /// Closes the listener, drains connections, forces at the deadline, and reports.
    pub fn drain(&mut self) -> DrainReport {
        let started = Instant::now();
        if let Some(mut listener) = self.listener.take() {
            if self.registered {
                let _ = self.poll.registry().deregister(&mut listener);
            }
        }
        if let Some(connection) = self.waiting.take() {
            // Never served, so no request of it was read: the peer sees a close before any
            // reply byte and may retry elsewhere.
            debug!(
                "conn {}: closed at drain before a worker could start",
                connection.id()
            );
            self.shared.stats.rejected.fetch_add(1, SeqCst);
            drop(connection);
        }
        let shared = &self.shared;
        info!(
            "draining {} connections (drain timeout {:?})",
            shared.stats.active.load(SeqCst),
            shared.config.drain_timeout
        );
        shared.begin_drain();
        let deadline = started + shared.config.drain_timeout;
        let mut events = Events::with_capacity(8);
        let mut counts = None;
        while shared.stats.active.load(SeqCst) > 0 {
            let now = Instant::now();
            if now >= deadline || shared.force_requested.load(SeqCst) {
                let forced = shared.force_close();
                warn!(
                    "drain forced: {} connections closed mid-request",
                    forced.forced
                );
                counts = Some(forced);
                // Workers blocked on their sockets end at once; give them a moment so the
                // stats below are final.
                let grace = Instant::now() + FORCE_GRACE;
                while shared.stats.active.load(SeqCst) > 0 {
                    let now = Instant::now();
                    if now >= grace {
                        break;
                    }
                    let _ = self.poll.poll(&mut events, Some(grace - now));
                }
                break;
            }
            let _ = self.poll.poll(&mut events, Some(deadline - now));
        }
        let counts = counts.unwrap_or_else(|| shared.drain_counts());
        let report = DrainReport {
            connections: counts.connections,
            closed_idle: counts.closed_idle,
            completed: counts.completed,
            forced: counts.forced,
            duration: started.elapsed(),
            stats: shared.stats.snapshot(),
        };
        info!("{report}");
        info!("stats: {}", report.stats);
        report
    }
}

impl SpawnBackoff {
    /// Records a failed spawn: pauses (doubling) and warns at most every SPAWN_WARN_INTERVAL.
    fn failed(&mut self, e: &io::Error, active: u64, connection: &OpenConnection) {
        let backoff = self
            .backoff
            .map_or(SPAWN_BACKOFF_MIN, |b| (b * 2).min(SPAWN_BACKOFF_MAX));
        let now = Instant::now();
        self.backoff = Some(backoff);
        self.retry_at = Some(now + backoff);
        self.active_at_failure = active;
        self.failures_since_warn += 1;
        debug!(
            "conn {}: no worker thread ({e}); {active} open, retrying in {backoff:?}",
            connection.id()
        );
        let quiet =
            matches!(self.last_warn, Some(at) if now.duration_since(at) < SPAWN_WARN_INTERVAL);
        if !quiet {
            warn!(
                "could not start a worker thread ({e}) with {active} connections open: accepting \
                 paused, the connection waits ({} failures since the last warning)",
                self.failures_since_warn
            );
            self.failures_since_warn = 0;
            self.last_warn = Some(now);
        }
    }
}

/// Polls until an event, or the soonest of `wake_at` (none: until an event); an interrupted
/// poll returns as if woken.
pub(crate) fn poll_until(
    poll: &mut Poll,
    events: &mut Events,
    wake_at: impl IntoIterator<Item = Option<Instant>>,
) -> io::Result<()> {
    let timeout = wake_at
        .into_iter()
        .flatten()
        .min()
        .map(|at| at.saturating_duration_since(Instant::now()));
    match poll.poll(events, timeout) {
        Err(e) if e.kind() != io::ErrorKind::Interrupted => Err(e),
        _ => Ok(()),
    }
}

/// accept() failures that mean "out of descriptors or memory" (Linux errno values): retrying at
/// once would spin, so the loop backs off.
fn is_resource_exhaustion(e: &io::Error) -> bool {
    const EMFILE: i32 = 24;
    const ENFILE: i32 = 23;
    const ENOBUFS: i32 = 105;
    const ENOMEM: i32 = 12;
    matches!(e.raw_os_error(), Some(EMFILE | ENFILE | ENOBUFS | ENOMEM))
}
