//! What the server calls for each request: a [`Processor`], usually generated from IDL.

use std::net::SocketAddr;

use parking_lot::Mutex;

use crate::protocol::{MessageHeader, ProtocolError, Reader, Writer};

/// Most bytes (keys and values) of info headers a handler may set on one reply: 64 KiB, well
/// inside THeader's 262,140-byte header section, so a reply's headers always fit beside the
/// server's own (`:drain`).
pub const MAX_REPLY_HEADER_BYTES: usize = 64 << 10;

/// A THeader info header: key and value bytes.
pub type InfoHeader = (Vec<u8>, Vec<u8>);

/// Facts about the call in hand, passed to every handler method.
#[derive(Debug)]
#[non_exhaustive]
pub struct CallContext {
    /// The peer's address, when the socket reported one.
    pub peer: Option<SocketAddr>,
    /// The server-assigned id of the connection (also in the worker thread's name).
    pub connection_id: u64,
    /// The request's sequence id.
    pub seqid: i32,
    info: Vec<InfoHeader>,
    reply_info: Mutex<Vec<InfoHeader>>,
}

impl Clone for CallContext {
    fn clone(&self) -> Self {
        CallContext {
            peer: self.peer,
            connection_id: self.connection_id,
            seqid: self.seqid,
            info: self.info.clone(),
            reply_info: Mutex::new(self.reply_info.lock().clone()),
        }
    }
}

impl CallContext {
    /// A context for a call on connection `connection_id` from `peer`.
    pub fn new(peer: Option<SocketAddr>, connection_id: u64, seqid: i32) -> Self {
        CallContext {
            peer,
            connection_id,
            seqid,
            info: Vec::new(),
            reply_info: Mutex::new(Vec::new()),
        }
    }

    /// The same context, with the request's THeader info headers (in wire order).
    pub fn with_info_headers(mut self, info: Vec<InfoHeader>) -> Self {
        self.info = info;
        self
    }

    /// The request's THeader info headers, in wire order (none on other transports).
    pub fn info_headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.info.iter().map(|(k, v)| (k.as_slice(), v.as_slice()))
    }

    /// The value of the request's last info header named `key`, as a later one overrides an
    /// earlier one in Apache's libraries.
    pub fn info_header(&self, key: &[u8]) -> Option<&[u8]> {
        self.info_headers()
            .filter(|(k, _)| *k == key)
            .last()
            .map(|(_, v)| v)
    }

    /// Adds an info header to the reply. Only THeader replies carry them; on other transports
    /// they go nowhere. Returns false, adding nothing, once the reply's headers would pass
    /// [`MAX_REPLY_HEADER_BYTES`].
    pub fn set_reply_header(&self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> bool {
        let (key, value) = (key.into(), value.into());
        let mut reply = self.reply_info.lock();
        let used: usize = reply.iter().map(|(k, v)| k.len() + v.len()).sum();
        if used + key.len() + value.len() > MAX_REPLY_HEADER_BYTES {
            return false;
        }
        reply.push((key, value));
        true
    }

    /// The info headers set for the reply, taken out.
    pub(crate) fn take_reply_headers(&self) -> Vec<InfoHeader> {
        std::mem::take(&mut *self.reply_info.lock())
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
