//! The client: single connection, connection pool, multiplexed connection.
//!
//! All three implement [`Channel`], the call trait generated clients are written against.

mod channel;
mod config;
mod connection;
mod link;
mod message;
mod mux;
mod pool;
mod retry;

pub use channel::{Channel, ClientError};
pub use config::{ConnectionConfig, MuxConfig, PoolConfig};
pub use connection::Connection;
pub use mux::{MuxConnection, MuxStats};
pub use pool::{Pool, PoolStats};
