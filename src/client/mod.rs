//! The client: single connection, connection pool, multiplexed connection.

mod channel;

pub use channel::{Channel, ClientError};
