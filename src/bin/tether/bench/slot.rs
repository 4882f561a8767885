//! A load connection shared by the threads that keep calls in flight on it.

use std::sync::Arc;

use parking_lot::Mutex;
use tether::client::{
    Channel, ClientError, Connection, ConnectionConfig, MuxConfig, MuxConnection,
};

use super::plan::Plan;
use super::workload::ErrorKind;

/// One connection, shared by the threads that keep calls in flight on it: tether's
/// `Connection` for one call at a time, its `MuxConnection` for `--pipeline` above 1. A
/// `Connection` whose call failed is dropped and the next call opens a new one, so failed
/// connects are counted as such; a `MuxConnection` reconnects by itself and is kept.
pub struct Slot {
    current: Mutex<Option<Client>>,
}

#[derive(Clone)]
pub enum Client {
    /// One call at a time.
    Single(Arc<Connection>),
    /// Calls in flight matched by seqid.
    Mux(Arc<MuxConnection>),
}

impl Client {
    fn channel(&self) -> &dyn Channel {
        match self {
            Client::Single(connection) => &**connection,
            Client::Mux(mux) => &**mux,
        }
    }
}

impl Slot {
    /// No connection yet; the first `get` opens one.
    pub fn empty() -> Slot {
        Slot {
            current: Mutex::new(None),
        }
    }

    /// The current connection, opened first if there is none.
    pub fn get(&self, plan: &Plan) -> Result<Client, ErrorKind> {
        let mut current = self.current.lock();
        if let Some(client) = current.as_ref() {
            return Ok(client.clone());
        }
        let addr = plan.addr.to_string();
        let config = ConnectionConfig::default()
            .connect_timeout(plan.connect_timeout)
            .call_timeout(plan.call_timeout)
            .codec(plan.codec)
            .retry(plan.retry);
        let client = if plan.pipeline > 1 {
            let config = MuxConfig::default()
                .connection(config)
                .max_in_flight(plan.pipeline);
            let mux = MuxConnection::connect(&addr, config).map_err(|_| ErrorKind::Connect)?;
            Client::Mux(Arc::new(mux))
        } else {
            let connection = Connection::connect(&addr, config).map_err(|_| ErrorKind::Connect)?;
            Client::Single(Arc::new(connection))
        };
        *current = Some(client.clone());
        Ok(client)
    }

    /// Drops `failed` unless another thread already replaced it.
    fn discard(&self, failed: &Client) {
        let Client::Single(failed) = failed else {
            return;
        };
        let mut current = self.current.lock();
        if matches!(&*current, Some(Client::Single(c)) if Arc::ptr_eq(c, failed)) {
            *current = None;
        }
    }
}

/// One call on the slot's connection: Ok, or the kind of failure.
pub fn call_once(plan: &Plan, slot: &Slot) -> Result<(), ErrorKind> {
    let client = slot.get(plan)?;
    let result = client
        .channel()
        .call(plan.workload.method(), plan.workload.args())
        .map_err(|e: ClientError| ErrorKind::of(&e))
        .and_then(|body| plan.workload.check_reply(&body, plan.codec.protocol()));
    match result {
        // A server exception leaves the connection in step; anything else may not.
        Err(kind) if kind != ErrorKind::Application => {
            slot.discard(&client);
            Err(kind)
        }
        other => other,
    }
}
