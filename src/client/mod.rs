//! The client: single connection, connection pool, multiplexed connection.
//!
//! All three implement [`Channel`], the call trait generated clients are written against:
//!
//! - [`Connection`]: one socket, one call at a time; reconnects on the next call after a failure.
//! - [`Pool`]: connections to one or more endpoints (round-robin, failing endpoints ejected for a
//!   while), checked for a peer FIN before reuse, with the keep-alive contract's retry rule.
//! - [`MuxConnection`]: one socket shared by many threads, replies matched to calls by seqid.
//!
//! ```no_run
//! use tether::client::{Pool, PoolConfig};
//! use tether::services::echo::EchoClient;
//!
//! let pool = Pool::new(["10.0.0.1:9090", "10.0.0.2:9090"], PoolConfig::default())?;
//! let client = EchoClient::new(pool);
//! assert_eq!(client.echo(b"hi".to_vec())?, b"hi");
//! # Ok::<(), tether::client::ClientError>(())
//! ```

mod channel;
mod config;
mod connection;
mod link;
mod message;
mod mux;
mod pool;
mod retry;

pub use channel::{Channel, ClientError};
pub use config::{ConnectionConfig, MuxConfig, PoolConfig, RetryBudgetConfig};
pub use connection::Connection;
pub use mux::{MuxConnection, MuxStats, PendingCall};
pub use pool::{Pool, PoolStats};
