//! What a run is asked to do: the flags checked and turned into one value every thread reads.

use std::net::SocketAddr;
use std::thread;
use std::time::Duration;

use tether::transport::Codec;

use super::workload::Workload;

/// When the measured phase ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// After this long.
    Duration(Duration),
    /// After this many call attempts (successes and errors) in total.
    Requests(u64),
}

/// How calls are driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    /// tether's client: a thread per connection, keeping `--pipeline` pending calls on a
    /// `MuxConnection` when above 1 (open loop: a blocking thread per call in flight).
    Threads,
    /// Event loops (about one per two cores), each driving many connections (events.rs).
    Events,
}

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The server.
    pub addr: SocketAddr,
    /// What the connections speak.
    pub codec: Codec,
    /// Connections to open.
    pub connections: usize,
    /// Calls in flight per connection.
    pub pipeline: usize,
    /// Threads or event loops.
    pub driver: Driver,
    /// Measured phase bound.
    pub bound: Bound,
    /// Unrecorded load before measuring.
    pub warmup: Duration,
    /// Open loop at this many calls per second in total.
    pub rate: Option<f64>,
    /// Pause between calls of one thread (closed loop).
    pub idle_between: Option<Duration>,
    /// Bound on opening a connection.
    pub connect_timeout: Duration,
    /// Bound on each call.
    pub call_timeout: Duration,
    /// The keep-alive contract's client side (liveness peek, retry) on tether's channels;
    /// false for `--no-retry`.
    pub retry: bool,
    /// What every call sends.
    pub workload: Workload,
}

impl Plan {
    /// Load threads (or event loops) the run starts.
    pub fn threads(&self) -> usize {
        match self.driver {
            Driver::Threads if self.windowed() => self.connections,
            Driver::Threads => self.connections * self.pipeline,
            // Half the cores: the rest are for the server under test on the same machine.
            Driver::Events => {
                let cores = thread::available_parallelism().map_or(1, |n| n.get());
                (cores / 2).clamp(1, self.connections)
            }
        }
    }
}

impl Plan {
    /// Whether each thread keeps a window of pending calls on its connection.
    pub fn windowed(&self) -> bool {
        self.driver == Driver::Threads && self.pipeline > 1 && self.rate.is_none()
    }
}
