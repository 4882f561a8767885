//! The client: single connection, connection pool, multiplexed connection.
//!
//! All three implement [`Channel`], the call trait generated clients are written against:
//!
//! - [`Connection`]: one socket, one call at a time; reconnects on the next call after a failure.
//! - [`Pool`]: connections to one or more endpoints (power of two choices on outstanding calls,
//!   failing endpoints ejected with a backoff and probed back).
//! - [`MuxConnection`]: one socket shared by many threads, replies matched to calls by seqid.
//!
//! Every channel keeps the keep-alive contract (docs/architecture.md): idle connections are given
//! up before the server's idle timeout and peeked for a peer FIN after an idle pause; a call that
//! failed on a reused connection before any reply byte arrived is retried once on a fresh one,
//! drawing on a retry budget ([`RetryBudgetConfig`]); one deadline (the call timeout) bounds a
//! whole call.
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
mod endpoint;
mod link;
mod message;
mod multiplexed;
mod mux;
mod pool;
mod retry;

pub use channel::{Channel, ClientError};
pub use config::{ConnectionConfig, MuxConfig, PoolConfig, RetryBudgetConfig};
pub use connection::{Connection, ConnectionStats};
pub use multiplexed::Multiplexed;
pub use mux::{MuxConnection, MuxStats, PendingCall};
pub use pool::{Pool, PoolStats};
