//! What the server calls for each request: a [`Processor`], usually generated from IDL.

use std::net::SocketAddr;

use crate::protocol::{MessageHeader, ProtocolError, Reader, Writer};

/// Facts about the call in hand, passed to every handler method.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CallContext {
    /// The peer's address, when the socket reported one.
    pub peer: Option<SocketAddr>,
    /// The server-assigned id of the connection (also in the worker thread's name).
    pub connection_id: u64,
    /// The request's sequence id.
    pub seqid: i32,
}

impl CallContext {
    /// A context for a call on connection `connection_id` from `peer`.
    pub fn new(peer: Option<SocketAddr>, connection_id: u64, seqid: i32) -> Self {
        CallContext {
            peer,
            connection_id,
            seqid,
        }
    }
}

/// Serves the methods of one service.
///
/// The server has read the frame and the message header; the processor decodes the arguments
/// from `args` (positioned just after the header), runs the handler and writes the whole reply
/// message (header and result struct) to `out`, which speaks the request's protocol. For a
/// oneway method it writes nothing.
///
/// An `Err` means the arguments could not be decoded: the server answers PROTOCOL_ERROR and
/// closes the connection. A panic in the handler is caught by the server, which discards
/// anything appended and answers INTERNAL_ERROR.
pub trait Processor: Send + Sync + 'static {
    /// The service's name, used for `Service:method` names (Apache's multiplexed protocol).
    fn service_name(&self) -> &'static str;

    /// Every method this processor serves, including inherited ones (`extends`).
    fn method_names(&self) -> &'static [&'static str];

    /// Handles one request. `header.name` is the plain method name (any `Service:` prefix has
    /// been removed by the router).
    fn process(
        &self,
        ctx: &CallContext,
        header: &MessageHeader<'_>,
        args: &mut Reader<'_>,
        out: &mut Writer<'_>,
    ) -> Result<(), ProtocolError>;
}
