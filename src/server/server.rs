//! The server: bind, the accept loop, drain, and the handle that stops it.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{debug, info, warn};
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use parking_lot::Mutex;
use socket2::{Domain, Protocol, Socket, Type};

#[cfg(feature = "admin")]
use super::admin::Admin;
use super::capacity::ThreadCapacity;
use super::config::Config;
use super::connection::OpenConnection;
use super::router::Router;
use super::shared::{Registry, Shared};
use super::stats::{Stats, StatsSnapshot};
use super::worker;
use crate::transport::configure;

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);

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

/// A bound server, ready to [`run`](Server::run).
///
/// ```no_run
/// # fn demo(processor: impl tether::server::Processor) -> std::io::Result<()> {
/// use tether::server::{Config, Server};
///
/// let server = Server::bind(Config::default(), processor)?;
/// println!("listening on {}", server.local_addr());
/// tether::server::drain_on_signals(server.handle())?;
/// let report = server.run()?;
/// println!("{report}");
/// # Ok(()) }
/// ```
pub struct Server {
    shared: Arc<Shared>,
    listener: TcpListener,
    poll: Poll,
    local_addr: SocketAddr,
    /// The admin endpoint; it serves from `bind` and stops when `run` returns (or on drop).
    #[cfg(feature = "admin")]
    admin: Option<Admin>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("router", &self.shared.router)
            .finish()
    }
}

/// Stops a running server and reads its stats; cheap to clone, usable from any thread.
#[derive(Clone)]
pub struct ShutdownHandle {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    admin_addr: Option<SocketAddr>,
}

impl fmt::Debug for ShutdownHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownHandle")
            .field("local_addr", &self.local_addr)
            .finish()
    }
}

/// How a drain went. Every connection open when the drain began is counted once:
/// `closed_idle + completed + forced == connections`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DrainReport {
    /// Connections open when the drain began.
    pub connections: u64,
    /// Connections closed while idle.
    pub closed_idle: u64,
    /// Connections that were busy, answered the requests they had read, and closed (also when
    /// they closed for max requests, max age or a broken peer on the way).
    pub completed: u64,
    /// Connections still open at the drain deadline (or a second signal), closed by force.
    pub forced: u64,
    /// From the start of the drain (after any announce) to the last connection closed (or
    /// forced).
    pub duration: Duration,
    /// The counters at the end.
    pub stats: StatsSnapshot,
}

impl DrainReport {
    /// Whether every connection closed without force.
    pub fn is_clean(&self) -> bool {
        self.forced == 0
    }
}

impl fmt::Display for DrainReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "drained {} connections in {:?}: closed idle {}, completed {}, forced {}",
            self.connections, self.duration, self.closed_idle, self.completed, self.forced
        )
    }
}

fn bind_listener(config: &Config) -> io::Result<std::net::TcpListener> {
    let addr = config.listen;
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // SO_REUSEADDR: a restarted server can bind while old connections sit in TIME_WAIT.
    socket.set_reuse_address(true)?;
    if config.reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(config.backlog)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

impl Server {
    /// Binds `config`'s listen address and prepares to serve `router`'s services (a single
    /// processor converts into a router).
    pub fn bind(config: Config, router: impl Into<Router>) -> io::Result<Server> {
        let listener = TcpListener::from_std(bind_listener(&config)?);
        let local_addr = listener.local_addr()?;
        let poll = Poll::new()?;
        let waker = Waker::new(poll.registry(), WAKER)?;
        let capacity = ThreadCapacity::detect(config.worker_stack_size);
        info!("thread capacity {capacity}");
        let connection_cap = config.max_connections.min(capacity.threads);
        let router: Router = router.into();
        let stats = Stats::new(router.method_slots().len());
        stats
            .thread_capacity
            .store(capacity.threads.try_into().unwrap_or(u64::MAX), SeqCst);
        let shared = Arc::new(Shared {
            config,
            router,
            stats,
            registry: Mutex::new(Registry::default()),
            shutdown_requested: AtomicBool::new(false),
            force_requested: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            forced: AtomicBool::new(false),
            accept_paused: AtomicBool::new(false),
            threads: AtomicU64::new(0),
            connection_cap,
            waker,
        });
        #[cfg(feature = "admin")]
        let admin = match shared.config.admin_listen {
            Some(addr) => Some(Admin::start(addr, Arc::clone(&shared))?),
            None => None,
        };
        Ok(Server {
            shared,
            listener,
            poll,
            local_addr,
            #[cfg(feature = "admin")]
            admin,
        })
    }

    /// The admin endpoint's bound address, when
    /// [`Config::admin_listen`](super::Config::admin_listen) set one.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        #[cfg(feature = "admin")]
        return self.admin.as_ref().map(Admin::local_addr);
        #[cfg(not(feature = "admin"))]
        None
    }

    /// The bound address (the real port when the config asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The most connections served at once: the smaller of max_connections and the number of
    /// worker threads the process can hold under the kernel's limits, derived at bind.
    pub fn connection_cap(&self) -> usize {
        self.shared.connection_cap
    }

    /// A handle to stop the server and read its stats.
    pub fn handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            shared: Arc::clone(&self.shared),
            local_addr: self.local_addr,
            admin_addr: self.admin_addr(),
        }
    }

    /// Serves until [`ShutdownHandle::shutdown`], then drains and reports. An `Err` means the
    /// accept loop itself failed (its connections were drained all the same).
    pub fn run(self) -> io::Result<DrainReport> {
        let Server {
            shared,
            listener,
            poll,
            local_addr,
            #[cfg(feature = "admin")]
            admin,
        } = self;
        info!("listening on {local_addr}");
        let mut acceptor = Acceptor {
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
        };
        // Even if the accept loop fails, the open connections are drained, not abandoned.
        let served = acceptor.serve();
        if let Err(e) = &served {
            warn!("accept loop failed: {e}; draining");
        }
        let report = acceptor.drain();
        #[cfg(feature = "admin")]
        drop(admin);
        served.map(|()| report)
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

impl ShutdownHandle {
    /// Starts a graceful shutdown: for the configured
    /// [`drain_announce`](super::Config::drain_announce) the server keeps serving while it
    /// reports not ready, then it drains: the listener closes, idle connections close at once,
    /// busy ones after their request. Returns at once; [`Server::run`] returns when the drain
    /// is done.
    pub fn shutdown(&self) {
        self.shared.shutdown_requested.store(true, SeqCst);
        self.shared.wake();
    }

    /// Drains, but closes busy connections too without waiting (a second signal).
    pub fn force(&self) {
        self.shared.force_requested.store(true, SeqCst);
        self.shutdown();
    }

    /// Whether the drain has begun: the listener is closed and idle connections are being
    /// closed (a health check can report "not ready" from here on).
    pub fn is_draining(&self) -> bool {
        self.shared.draining.load(SeqCst)
    }

    /// The most connections served at once (see [`Server::connection_cap`]).
    pub fn connection_cap(&self) -> usize {
        self.shared.connection_cap
    }

    /// Whether the server wants new connections: true until a shutdown is requested, false
    /// from then on, through the announce phase and the drain (what `/readyz` reports).
    pub fn is_ready(&self) -> bool {
        self.shared.phase() == Phase::Serving
    }

    /// The server's counters now.
    pub fn stats(&self) -> StatsSnapshot {
        self.shared.stats.snapshot()
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The admin endpoint's bound address, if the server has one.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }
}

/// Where a server is between start and stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Accepting and serving; ready.
    Serving,
    /// A shutdown was requested: still accepting and serving for `drain_announce`, not ready.
    Announcing,
    /// The listener is closed and connections are closing.
    Draining,
}

#[cfg_attr(not(feature = "admin"), allow(dead_code))]
impl Phase {
    /// Every phase, in order.
    pub const ALL: [Phase; 3] = [Phase::Serving, Phase::Announcing, Phase::Draining];

    /// The label value in metrics.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Serving => "serving",
            Phase::Announcing => "announcing",
            Phase::Draining => "draining",
        }
    }
}

impl Shared {
    /// The phase now, read from the flags the accept loop and the drainer set.
    pub(crate) fn phase(&self) -> Phase {
        if self.draining.load(SeqCst) {
            Phase::Draining
        } else if self.shutdown_requested.load(SeqCst) {
            Phase::Announcing
        } else {
            Phase::Serving
        }
    }
}

struct Acceptor {
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
    /// The accept loop, until shutdown is requested.
    fn serve(&mut self) -> io::Result<()> {
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
            let timeout = [
                self.retry_at,
                self.spawn.retry_at,
                self.next_stats,
                announce_until,
            ]
            .into_iter()
            .flatten()
            .min()
            .map(|at| at.saturating_duration_since(Instant::now()));
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
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

    /// Whether the cap is reached: worker threads that still exist count, also those whose
    /// connection has just closed.
    fn at_capacity(&self) -> bool {
        self.shared.threads.load(SeqCst) as usize >= self.shared.connection_cap
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
        self.spawn_worker(connection);
    }

    /// Starts a worker for `connection`; if the thread cannot be started, keeps the connection
    /// waiting and pauses accepting until a retry succeeds.
    fn spawn_worker(&mut self, connection: Box<OpenConnection>) {
        let shared = &self.shared;
        match worker::spawn(shared, connection) {
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
    fn drain(&mut self) -> DrainReport {
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

/// accept() failures that mean "out of descriptors or memory" (Linux errno values): retrying at
/// once would spin, so the loop backs off.
fn is_resource_exhaustion(e: &io::Error) -> bool {
    const EMFILE: i32 = 24;
    const ENFILE: i32 = 23;
    const ENOBUFS: i32 = 105;
    const ENOMEM: i32 = 12;
    matches!(e.raw_os_error(), Some(EMFILE | ENFILE | ENOBUFS | ENOMEM))
}
