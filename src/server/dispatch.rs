//! One request message in, its reply appended to the write buffer: routing, unknown methods,
//! handler panics and undecodable arguments. No I/O.

use std::any::Any;
use std::net::SocketAddr;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;

use log::{debug, warn};

use super::processor::{CallContext, InfoHeader};
use super::router::Router;
use super::stats::{Outcome, RequestCounters};
use crate::protocol::{
    ApplicationException, ApplicationExceptionKind, Limits, MessageHeader, MessageType, Protocol,
    ProtocolError, Reader, TType, Writer,
};
use crate::transport::{Codec, Envelope, HeaderError, Message, DRAIN_HEADER};

/// What the connection does after a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum After {
    /// Carry on with the next request.
    Continue,
    /// Send what was written, then close: the peer broke the protocol.
    Close,
}

/// The connection facts the dispatcher needs.
pub(crate) struct Dispatcher<'a> {
    pub router: &'a Router,
    /// The connection's shard of the request counters.
    pub stats: &'a RequestCounters,
    pub limits: Limits,
    pub peer: Option<SocketAddr>,
    pub connection_id: u64,
    /// Set once a shutdown is requested (the drain announce included): THeader replies then
    /// carry `:drain`.
    pub drain: &'a AtomicBool,
}

/// The value of the `:drain` info header (Envoy's thrift_proxy checks only that it is there).
const DRAIN_VALUE: &[u8] = b"true";

impl Dispatcher<'_> {
    /// Handles the message `found` (as [`Codec::parse`] found it: no frame prefix) and appends
    /// the reply, if any, in the connection's `codec` to `out`: in the request's protocol, and
    /// on THeader under the request frame's seqid, flags and transforms, with `:drain` once the
    /// server drains and the info headers the handler set.
    pub fn handle(&self, found: &[u8], codec: Codec, out: &mut Vec<u8>) -> After {
        let message = match codec.open(found, &self.limits) {
            Ok(message) => message,
            Err(e) => return self.unopenable(found, codec, &e, out),
        };
        // A THeader frame names its own protocol; the reply speaks it too.
        let codec = message
            .header()
            .map_or(codec, |frame| codec.with_protocol(frame.protocol));
        let drain: &[(&[u8], &[u8])] = if self.drain.load(Relaxed) {
            &[(DRAIN_HEADER, DRAIN_VALUE)]
        } else {
            &[]
        };
        let mut envelope = reply_envelope(&message, drain);
        let mut start = codec.begin_message(out, &envelope);
        let info = message
            .info_headers()
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .collect();
        let mut reply_info = Vec::new();
        let after = self.handle_message(
            message.payload(),
            codec.protocol(),
            info,
            &mut reply_info,
            &mut Writer::new(out, codec.protocol()),
        );
        if !reply_info.is_empty() {
            let all: Vec<(&[u8], &[u8])> = drain
                .iter()
                .copied()
                .chain(reply_info.iter().map(|(k, v)| (k.as_slice(), v.as_slice())))
                .collect();
            envelope.info = &all;
            start = codec.restart_message(out, start, &envelope);
            codec.finish_message(out, start);
            return after;
        }
        codec.finish_message(out, start);
        after
    }

    /// A THeader frame that cannot be opened (an unknown transform, corrupt zlib, an unknown
    /// protocol id) is answered with an exception, as the spec requires for a transform, under
    /// the frame's seqid and protocol and without transforms; then the connection closes, its
    /// stream no longer trusted.
    fn unopenable(
        &self,
        found: &[u8],
        codec: Codec,
        error: &HeaderError,
        out: &mut Vec<u8>,
    ) -> After {
        debug!(
            "conn {}: unreadable theader frame: {error}",
            self.connection_id
        );
        let (envelope, codec) = codec.error_reply(found);
        let start = codec.begin_message(out, &envelope);
        let e = ApplicationException::new(error.exception_kind(), error.to_string());
        self.stats.exceptions.fetch_add(1, Relaxed);
        e.encode_message(&mut Writer::new(out, codec.protocol()), "", envelope.seqid);
        codec.finish_message(out, start);
        After::Close
    }

    fn handle_message(
        &self,
        message: &[u8],
        protocol: Protocol,
        info: Vec<InfoHeader>,
        reply_info: &mut Vec<InfoHeader>,
        out: &mut Writer<'_>,
    ) -> After {
        let mut reader = Reader::with_protocol(message, protocol, self.limits);
        let header = match reader.read_message_begin() {
            Ok(header) => header,
            Err(e) => {
                debug!(
                    "conn {}: undecodable message header: {e}",
                    self.connection_id
                );
                return After::Close;
            }
        };
        self.stats.requests.fetch_add(1, Relaxed);
        let oneway = match header.kind {
            MessageType::Call => false,
            MessageType::Oneway => {
                self.stats.oneway.fetch_add(1, Relaxed);
                true
            }
            MessageType::Reply | MessageType::Exception => {
                let e = ApplicationException::new(
                    ApplicationExceptionKind::InvalidMessageType,
                    "expected a call or a oneway message",
                );
                self.send_exception(out, &e, &header);
                return After::Close;
            }
        };
        let body_start = out.len();
        let Some((processor, method, slot)) = self.router.route_slot(header.name) else {
            self.stats.unknown_methods.fetch_add(1, Relaxed);
            // Skipping the arguments checks the message is well formed before answering.
            if let Err(e) = reader.skip(TType::Struct) {
                return self.undecodable(out, body_start, oneway, &header, &e);
            }
            if !oneway {
                let e = ApplicationException::new(
                    ApplicationExceptionKind::UnknownMethod,
                    format!("unknown method {}", header.name),
                );
                self.send_exception(out, &e, &header);
            }
            return After::Continue;
        };
        let routed = MessageHeader {
            name: method,
            ..header
        };
        let ctx =
            CallContext::new(self.peer, self.connection_id, header.seqid).with_info_headers(info);
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            processor.process(&ctx, &routed, &mut reader, out)
        }));
        *reply_info = ctx.take_reply_headers();
        match result {
            Ok(Ok(())) => {
                if oneway {
                    out.buffer_mut().truncate(body_start);
                    self.stats.count_method(slot, Outcome::Oneway);
                } else {
                    self.stats.count_method(slot, Outcome::Ok);
                }
                After::Continue
            }
            Ok(Err(e)) => {
                self.stats.count_method(slot, Outcome::BadArguments);
                self.undecodable(out, body_start, oneway, &routed, &e)
            }
            Err(payload) => {
                self.stats.count_method(slot, Outcome::Panic);
                self.stats.panics.fetch_add(1, Relaxed);
                out.buffer_mut().truncate(body_start);
                let what = panic_message(payload.as_ref());
                // The panic text stays in the log: it may hold internals (paths, values) that
                // are none of the peer's business.
                warn!(
                    "conn {}: handler for {} panicked: {what}",
                    self.connection_id, routed.name
                );
                if !oneway {
                    let e = ApplicationException::new(
                        ApplicationExceptionKind::InternalError,
                        format!("internal error in {}", routed.name),
                    );
                    self.send_exception(out, &e, &routed);
                }
                After::Continue
            }
        }
    }

    fn undecodable(
        &self,
        out: &mut Writer<'_>,
        body_start: usize,
        oneway: bool,
        header: &MessageHeader<'_>,
        error: &ProtocolError,
    ) -> After {
        debug!(
            "conn {}: undecodable arguments for {}: {error}",
            self.connection_id, header.name
        );
        out.buffer_mut().truncate(body_start);
        if !oneway {
            self.send_exception(out, &ApplicationException::from(error), header);
        }
        After::Close
    }

    fn send_exception(
        &self,
        out: &mut Writer<'_>,
        e: &ApplicationException,
        header: &MessageHeader<'_>,
    ) {
        self.stats.exceptions.fetch_add(1, Relaxed);
        e.encode_message(out, header.name, header.seqid);
    }
}

/// A reply's THeader envelope: the request frame's seqid, flags and zlib, and `info`. Plain
/// messages have no envelope to echo.
fn reply_envelope<'h>(request: &Message<'_>, info: &'h [(&'h [u8], &'h [u8])]) -> Envelope<'h> {
    match request.header() {
        Some(frame) => Envelope {
            seqid: frame.seqid,
            flags: frame.flags,
            zlib: frame.zlib,
            info,
        },
        None => Envelope::default(),
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "panic"
    }
}
