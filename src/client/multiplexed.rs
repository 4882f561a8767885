//! Calling one service of a server that serves several on one port.

use crate::protocol::{Encode, Limits, Protocol};

use super::channel::{Channel, ClientError};

/// A channel that names every call `Service:method`, as Apache's TMultiplexedProtocol does, so
/// a generated client reaches its service on a server multiplexing several (tether's
/// [`Router`](crate::server::Router), Apache's TMultiplexedProcessor).
///
/// Replies come back under the plain method name, which the channel underneath accepts for a
/// prefixed call. Generated clients build one with `multiplexed(channel)`, which fills in the
/// IDL's service name.
#[derive(Debug, Clone)]
pub struct Multiplexed<C> {
    channel: C,
    service: String,
}

impl<C: Channel> Multiplexed<C> {
    /// Calls `service`'s methods over `channel`.
    pub fn new(channel: C, service: impl Into<String>) -> Self {
        Multiplexed {
            channel,
            service: service.into(),
        }
    }

    /// The service every call is addressed to.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The channel calls go over.
    pub fn channel(&self) -> &C {
        &self.channel
    }

    /// Gives the channel back.
    pub fn into_channel(self) -> C {
        self.channel
    }

    fn name(&self, method: &str) -> String {
        let mut name = String::with_capacity(self.service.len() + 1 + method.len());
        name.push_str(&self.service);
        name.push(':');
        name.push_str(method);
        name
    }
}

impl<C: Channel> Channel for Multiplexed<C> {
    fn call(&self, method: &str, args: &dyn Encode) -> Result<Vec<u8>, ClientError> {
        self.channel.call(&self.name(method), args)
    }

    fn send_oneway(&self, method: &str, args: &dyn Encode) -> Result<(), ClientError> {
        self.channel.send_oneway(&self.name(method), args)
    }

    fn limits(&self) -> Limits {
        self.channel.limits()
    }

    // Without this the trait's default (binary) would decode a compact channel's replies.
    fn protocol(&self) -> Protocol {
        self.channel.protocol()
    }
}
