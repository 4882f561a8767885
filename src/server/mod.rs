//! The server: accept loop, worker threads, idle parking, keep-alive lifecycle, drain.
//!
//! A [`Server`] binds a listener, runs an accept loop on a mio `Poll` and serves each accepted
//! connection on a named worker thread (`tether-conn-42`, after the first connection it
//! serves). A worker loops read -> process -> write with a deadline on every wait (idle, whole
//! request, write) and closes a connection only when it is Idle or already unusable. A
//! connection Idle for [`Config::park_after`] parks: one parking loop watches every parked
//! socket (and its idle and age deadlines); when bytes arrive the thread running the loop
//! serves the connection and a spare worker takes the loop on, so threads track busy
//! connections. [`ShutdownHandle::shutdown`] (or a signal, see
//! [`drain_on_signals`]) drains: listener closed, idle and parked connections closed at once,
//! busy ones after their request, the rest forced at the drain deadline.

mod accept;
#[cfg(feature = "admin")]
mod admin;
mod capacity;
mod config;
mod connection;
mod dispatch;
mod handoff;
#[cfg(feature = "admin")]
mod metrics;
mod parking;
mod processor;
mod router;
#[allow(clippy::module_inception)]
mod server;
mod shared;
mod signals;
mod stats;
mod trim;
mod worker;

pub use config::Config;
pub use processor::{CallContext, InfoHeader, Processor, MAX_REPLY_HEADER_BYTES};
pub use router::Router;
pub use server::{DrainReport, Server, ShutdownHandle};
pub use signals::drain_on_signals;
pub use stats::{CloseReason, StatsSnapshot};
