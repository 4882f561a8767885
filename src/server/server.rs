//! The server: bind, run (the accept loop and the parking loop, then the drain), the drain
//! report, and the handle that stops it.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use log::{info, warn};
use mio::net::TcpListener;
use mio::{Poll, Waker};
use parking_lot::Mutex;
use socket2::{Domain, Protocol, Socket, Type};

use super::accept::{Acceptor, WAKER};
#[cfg(feature = "admin")]
use super::admin::Admin;
use super::capacity::ThreadCapacity;
use super::config::Config;
use super::handoff::Handoff;
use super::parking::{self, ParkingThread};
use super::router::Router;
use super::shared::{Registry, Shared};
use super::stats::{Stats, StatsSnapshot};

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
    /// The parking loop, when idle parking is on: started at bind, so a server that reports
    /// itself listening needs no further thread to run; stopped once `run` has drained.
    parking_thread: Option<ParkingThread>,
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
        // With idle parking a connection holds a thread only while busy, so threads are
        // capped on their own and open connections only by the descriptors.
        let (parking, parking_loop) = match config.park_after {
            Some(_) => {
                let (parking, parking_loop) = parking::new()?;
                (Some(parking), Some(parking_loop))
            }
            None => (None, None),
        };
        let connection_cap = match parking {
            Some(_) => config.max_connections.min(capacity.connections),
            None => config.max_connections.min(capacity.threads),
        };
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
            parking,
            handoff: Handoff::new(capacity.threads),
        });
        let parking_thread = match parking_loop {
            Some(parking_loop) => Some(parking_loop.spawn(Arc::clone(&shared))?),
            None => None,
        };
        #[cfg(feature = "admin")]
        let admin = match shared.config.admin_listen {
            Some(addr) => Some(Admin::start(addr, Arc::clone(&shared))?),
            None => None,
        };
        Ok(Server {
            shared,
            listener,
            poll,
            parking_thread,
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

    /// The most connections open at once: the smaller of max_connections and, with idle
    /// parking, the descriptors the process may open, or without it the number of worker
    /// threads the process can hold under the kernel's limits; derived at bind.
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
            parking_thread,
            local_addr,
            #[cfg(feature = "admin")]
            admin,
        } = self;
        info!("listening on {local_addr}");
        let mut acceptor = Acceptor::new(shared, listener, poll);
        // Even if the accept loop fails, the open connections are drained, not abandoned.
        let served = acceptor.serve();
        if let Err(e) = &served {
            warn!("accept loop failed: {e}; draining");
        }
        let report = acceptor.drain();
        drop(acceptor);
        drop(parking_thread);
        #[cfg(feature = "admin")]
        drop(admin);
        served.map(|()| report)
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
