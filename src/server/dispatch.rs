//! One request message in, its reply appended to the write buffer: routing, unknown methods,
//! handler panics and undecodable arguments. No I/O.

use std::any::Any;
use std::net::SocketAddr;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::Ordering::Relaxed;

use log::{debug, warn};

use super::processor::CallContext;
use super::router::Router;
use super::stats::{Outcome, RequestCounters};
use crate::protocol::{
    begin_frame, finish_frame, ApplicationException, ApplicationExceptionKind, Limits,
    MessageHeader, MessageType, Protocol, ProtocolError, Reader, TType, Writer,
};

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
}

impl Dispatcher<'_> {
    /// Handles `message` (header and body, no frame prefix, in `protocol`) and appends the
    /// reply, framed when `framed` and in the same protocol, to `out`.
    pub fn handle(
        &self,
        message: &[u8],
        framed: bool,
        protocol: Protocol,
        out: &mut Vec<u8>,
    ) -> After {
        let frame_at = framed.then(|| begin_frame(out));
        let after = self.handle_unframed(message, protocol, &mut Writer::new(out, protocol));
        if let Some(at) = frame_at {
            if out.len() == at + 4 {
                out.truncate(at);
            } else {
                finish_frame(out, at);
            }
        }
        after
    }

    fn handle_unframed(&self, message: &[u8], protocol: Protocol, out: &mut Writer<'_>) -> After {
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
        let ctx = CallContext::new(self.peer, self.connection_id, header.seqid);
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            processor.process(&ctx, &routed, &mut reader, out)
        }));
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

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "panic"
    }
}
