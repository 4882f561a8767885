//! The server: accept loop, one worker thread per connection, keep-alive lifecycle, drain.
//!
//! A [`Server`] binds a listener, runs an accept loop on a mio `Poll` and gives each accepted
//! connection its own named worker thread (`tether-conn-42`). A worker loops read -> process
//! -> write with a deadline on every wait (idle, whole request, write) and closes a connection
//! only when it is Idle or already unusable. [`ShutdownHandle::shutdown`] (or a signal, see
//! [`drain_on_signals`]) drains: listener closed, idle connections closed at once, busy ones
//! after their request, the rest forced at the drain deadline.

#[cfg(feature = "admin")]
mod admin;
mod capacity;
mod config;
mod connection;
mod dispatch;
#[cfg(feature = "admin")]
mod metrics;
mod processor;
mod router;
#[allow(clippy::module_inception)]
mod server;
mod shared;
mod signals;
mod stats;
mod worker;

pub use config::Config;
pub use processor::{CallContext, InfoHeader, Processor, MAX_REPLY_HEADER_BYTES};
pub use router::Router;
pub use server::{DrainReport, Server, ShutdownHandle};
pub use signals::drain_on_signals;
pub use stats::{CloseReason, StatsSnapshot};
