//! [`Connection`]: one socket, one call at a time.

use log::debug;
use parking_lot::Mutex;

use crate::protocol::Encode;

use super::config::ConnectionConfig;
use super::link::Link;
use super::retry::CallFailure;
use super::{Channel, ClientError};

/// A single connection to one server, carrying one call at a time (callers from several threads
/// take turns). A call that leaves the socket out of step (I/O error, timeout, wrong seqid,
/// broken reply) drops it; the next call connects again.
///
/// A `Connection` never retries: it cannot tell a stale socket from a failing server. Use a
/// [`Pool`](super::Pool) for the keep-alive contract's retry.
#[derive(Debug)]
pub struct Connection {
    addr: String,
    config: ConnectionConfig,
    link: Mutex<Option<Link>>,
}

impl Connection {
    /// Connects to `addr` (`host:port`; every address the name resolves to is tried).
    pub fn connect(addr: &str, config: ConnectionConfig) -> Result<Connection, ClientError> {
        let link = Link::connect(addr, &config)?;
        Ok(Connection {
            addr: addr.to_owned(),
            config,
            link: Mutex::new(Some(link)),
        })
    }

    /// Whether a socket is open (false after a call dropped it, until the next call).
    pub fn is_connected(&self) -> bool {
        self.link.lock().is_some()
    }

    fn with_link<T>(
        &self,
        f: impl FnOnce(&mut Link) -> Result<T, CallFailure>,
    ) -> Result<T, ClientError> {
        let mut slot = self.link.lock();
        let link = match &mut *slot {
            Some(link) => link,
            None => slot.insert(Link::connect(&self.addr, &self.config)?),
        };
        let failure = match f(link) {
            Ok(value) => return Ok(value),
            Err(failure) => failure,
        };
        if !failure.leaves_connection_usable() {
            debug!("connection to {} dropped: {}", self.addr, failure.error);
            link.close();
            *slot = None;
        }
        Err(failure.error)
    }
}

impl Channel for Connection {
    fn call(&self, method: &str, args: &dyn Encode) -> Result<Vec<u8>, ClientError> {
        self.with_link(|link| link.call(method, args))
    }

    fn send_oneway(&self, method: &str, args: &dyn Encode) -> Result<(), ClientError> {
        self.with_link(|link| link.send_oneway(method, args))
    }
}
