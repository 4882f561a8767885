//! What one connection speaks, and the one place a message's framing is written. No I/O.

use std::borrow::Cow;

use super::frame::{parse_framed, parse_unframed_in, FrameStatus, Framing, FRAME_HEADER_LEN};
use super::header::{
    begin_header_frame, error_reply_meta, finish_header_frame, max_header_frame, parse_body,
    HeaderError, HeaderFrame, HeaderFrameStart, HeaderMeta, InfoHeaders,
};
use crate::protocol::{Limits, Protocol, ProtocolError};

/// What a connection speaks: its framing and the protocol of its messages (on THeader, the
/// protocol its frames name). Every side uses this one type: the server's configuration and
/// per-connection detection, the client's configuration, and the bench.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Codec {
    framing: Framing,
    protocol: Protocol,
}

/// What a message carries beside its bytes. Only THeader writes it (its frame headers); the
/// other framings have nowhere to put it and ignore it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Envelope<'h> {
    /// The frame's sequence id: the message's own on a request, the request frame's on a
    /// reply.
    pub seqid: i32,
    /// The flags word; a reply echoes the request's.
    pub flags: u16,
    /// Compress the message with zlib; a reply is compressed when its request was.
    pub zlib: bool,
    /// Key/value info headers, in order (e.g. `(b":drain", b"true")`).
    pub info: &'h [(&'h [u8], &'h [u8])],
}

/// Where [`Codec::begin_message`] left a message, for [`Codec::finish_message`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a framed message is not valid until finish_message patches its length"]
pub struct MessageStart {
    /// Where the message (its frame prefix or headers, if any) starts in the buffer.
    at: usize,
    /// Where the protocol bytes start, after the prefix.
    body_at: usize,
    /// A THeader frame's place, for its length and zlib.
    header: Option<HeaderFrameStart>,
}

/// One message found in a buffer: its protocol bytes and, on THeader, the frame around them.
#[derive(Debug)]
pub enum Message<'a> {
    /// A framed or unframed message: the bytes as received.
    Plain(&'a [u8]),
    /// A THeader frame: its headers and its (inflated, if compressed) message.
    Header(HeaderFrame<'a>),
}

impl<'a> Message<'a> {
    /// The protocol bytes: message header and body.
    pub fn payload(&self) -> &[u8] {
        match self {
            Message::Plain(bytes) => bytes,
            Message::Header(frame) => frame.payload(),
        }
    }

    /// The protocol bytes, borrowed from the buffer unless they were inflated.
    pub fn into_payload(self) -> Cow<'a, [u8]> {
        match self {
            Message::Plain(bytes) => Cow::Borrowed(bytes),
            Message::Header(frame) => frame.into_payload(),
        }
    }

    /// The THeader frame, if the message came in one.
    pub fn header(&self) -> Option<&HeaderFrame<'a>> {
        match self {
            Message::Plain(_) => None,
            Message::Header(frame) => Some(frame),
        }
    }

    /// The info headers (none unless THeader), in wire order.
    pub fn info_headers(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> {
        self.header()
            .map(HeaderFrame::info_headers)
            .into_iter()
            .flat_map(|headers: InfoHeaders<'a>| headers)
    }

    /// The value of the last info header named `key` (none unless THeader).
    pub fn info_header(&self, key: &[u8]) -> Option<&'a [u8]> {
        self.header().and_then(|frame| frame.info_header(key))
    }
}

impl Codec {
    /// Framed (TFramedTransport), binary protocol.
    pub const FRAMED: Codec = Codec::new(Framing::Framed, Protocol::Binary);
    /// Unframed (TBufferedTransport), binary protocol.
    pub const UNFRAMED: Codec = Codec::new(Framing::Unframed, Protocol::Binary);
    /// THeader, binary protocol inside.
    pub const HEADER: Codec = Codec::new(Framing::Header, Protocol::Binary);
    /// THeader frames each inside a TFramedTransport frame, binary protocol inside.
    pub const FRAMED_HEADER: Codec = Codec::new(Framing::FramedHeader, Protocol::Binary);

    /// The codec with this framing and protocol.
    pub const fn new(framing: Framing, protocol: Protocol) -> Codec {
        Codec { framing, protocol }
    }

    /// The same framing with another protocol.
    pub const fn with_protocol(self, protocol: Protocol) -> Codec {
        Codec::new(self.framing, protocol)
    }

    /// How messages are delimited.
    pub fn framing(self) -> Framing {
        self.framing
    }

    /// The protocol of the messages.
    pub fn protocol(self) -> Protocol {
        self.protocol
    }

    fn header_meta<'h>(self, envelope: &Envelope<'h>) -> HeaderMeta<'h> {
        HeaderMeta {
            flags: envelope.flags,
            seqid: envelope.seqid,
            protocol: self.protocol,
            zlib: envelope.zlib,
            info: envelope.info,
        }
    }

    fn begin_header(self, out: &mut Vec<u8>, envelope: &Envelope<'_>) -> HeaderFrameStart {
        begin_header_frame(out, &self.header_meta(envelope))
            .expect("THeader info headers must fit 262,140 bytes")
    }

    /// Starts a message at the end of `out`: reserves the frame length when framed, writes the
    /// headers of `envelope` on THeader. The caller appends the message (header and body), then
    /// calls [`finish_message`](Self::finish_message), so the message is encoded in place with
    /// no copy (unless zlib compresses it).
    ///
    /// # Panics
    /// On THeader, if `envelope.info` does not fit the 16-bit header size (262,140 bytes): the
    /// caller bounds what it sends, a peer never decides it.
    pub fn begin_message(self, out: &mut Vec<u8>, envelope: &Envelope<'_>) -> MessageStart {
        let at = out.len();
        let header = match self.framing {
            Framing::Framed => {
                out.extend_from_slice(&[0; FRAME_HEADER_LEN]);
                None
            }
            Framing::Unframed => None,
            Framing::Header => Some(self.begin_header(out, envelope)),
            Framing::FramedHeader => {
                out.extend_from_slice(&[0; FRAME_HEADER_LEN]);
                Some(self.begin_header(out, envelope))
            }
        };
        MessageStart {
            at,
            body_at: out.len(),
            header,
        }
    }

    /// Writes the message begun at `start` again under another `envelope`, keeping what was
    /// appended since: for a reply whose info headers were set while its body was written. It
    /// costs one copy of the body, so it is for the rare reply that needs it.
    pub fn restart_message(
        self,
        out: &mut Vec<u8>,
        start: MessageStart,
        envelope: &Envelope<'_>,
    ) -> MessageStart {
        let body = out.split_off(start.body_at);
        out.truncate(start.at);
        let start = self.begin_message(out, envelope);
        out.extend_from_slice(&body);
        start
    }

    /// Ends the message begun at `start`: patches its frame length (and compresses it, when
    /// the envelope asked for zlib). A message with nothing written (a oneway call's absent
    /// reply) leaves nothing, not an empty frame.
    ///
    /// # Panics
    /// If the message exceeds `i32::MAX` bytes (THeader: 0x3FFFFFFF): a bug in the caller,
    /// never peer input.
    pub fn finish_message(self, out: &mut Vec<u8>, start: MessageStart) {
        if out.len() == start.body_at {
            out.truncate(start.at);
            return;
        }
        if let Some(header) = start.header {
            finish_header_frame(out, header);
        }
        // The outer frame is patched last: it holds the THeader frame as finished (compressed).
        if matches!(self.framing, Framing::Framed | Framing::FramedHeader) {
            let frame_at = start.at + FRAME_HEADER_LEN;
            let len = i32::try_from(out.len() - frame_at)
                .expect("a thrift frame's length must fit in an i32");
            out[start.at..frame_at].copy_from_slice(&len.to_be_bytes());
        }
    }

    /// Finds the message at the start of `buf`, bounded by `limits`: where its bytes lie
    /// (on THeader: the frame after its length word, or both lengths inside a frame, for
    /// [`open`](Self::open)). This walks an unframed message from its start each time; a
    /// connection that receives one in pieces keeps a [`Deframer`](super::Deframer), which
    /// resumes.
    pub fn parse(self, buf: &[u8], limits: &Limits) -> Result<FrameStatus, ProtocolError> {
        match self.framing {
            Framing::Framed => parse_framed(buf, limits.max_frame),
            Framing::Unframed => parse_unframed_in(buf, self.protocol, limits),
            Framing::Header => parse_framed(buf, max_header_frame(limits.max_frame)),
            Framing::FramedHeader => parse_framed_header(buf, limits.max_frame),
        }
    }

    /// Opens the message [`parse`](Self::parse) found: the bytes themselves, or on THeader the
    /// frame's headers and its message, inflated up to `limits.max_frame` when compressed.
    pub fn open<'a>(self, found: &'a [u8], limits: &Limits) -> Result<Message<'a>, HeaderError> {
        match self.framing {
            Framing::Framed | Framing::Unframed => Ok(Message::Plain(found)),
            Framing::Header | Framing::FramedHeader => {
                parse_body(found, limits.max_frame).map(Message::Header)
            }
        }
    }

    /// How an error answer to the refused THeader frame `found` goes back: under its sequence
    /// id and in its protocol, as far as they can be read (0 and binary if not), without
    /// transforms.
    pub fn error_reply(self, found: &[u8]) -> (Envelope<'static>, Codec) {
        let (seqid, protocol) = error_reply_meta(found);
        let envelope = Envelope {
            seqid,
            ..Envelope::default()
        };
        (envelope, self.with_protocol(protocol))
    }
}

/// Finds a THeader frame inside a TFramedTransport frame: the outer frame must hold exactly
/// one THeader frame (as Apache's libraries write it, one per flush), so its length is the
/// inner one plus 4. Both are bounded by THeader's limit, the outer as soon as its length is in.
fn parse_framed_header(buf: &[u8], max_frame: usize) -> Result<FrameStatus, ProtocolError> {
    let max_frame = max_header_frame(max_frame);
    let (outer, consumed) = match parse_framed(buf, max_frame)? {
        FrameStatus::Complete { message, consumed } => (message, consumed),
        incomplete => return Ok(incomplete),
    };
    match parse_framed(&buf[outer.clone()], max_frame) {
        Ok(FrameStatus::Complete {
            message,
            consumed: inner,
        }) if inner == outer.len() => Ok(FrameStatus::Complete {
            message: outer.start + message.start..outer.start + message.end,
            consumed,
        }),
        Err(e @ ProtocolError::NegativeSize { .. }) => Err(e),
        _ => Err(ProtocolError::InvalidData {
            reason: "a frame around a theader frame must hold exactly that frame",
        }),
    }
}

#[cfg(test)]
mod framed_header_tests;

#[cfg(test)]
mod tests {
    use super::super::frame::parse_unframed;
    use super::*;

    #[test]
    fn framed_message_gets_its_length_patched_in_place() {
        let mut out = b"queued".to_vec();
        let start = Codec::FRAMED.begin_message(&mut out, &Envelope::default());
        out.extend_from_slice(b"hello");
        Codec::FRAMED.finish_message(&mut out, start);
        assert_eq!(out, b"queued\0\0\0\x05hello");
    }

    #[test]
    fn unframed_message_is_written_as_is() {
        let mut out = Vec::new();
        let start = Codec::UNFRAMED.begin_message(&mut out, &Envelope::default());
        out.extend_from_slice(b"hello");
        Codec::UNFRAMED.finish_message(&mut out, start);
        assert_eq!(out, b"hello");
    }

    #[test]
    fn empty_message_leaves_nothing() {
        for codec in [Codec::FRAMED, Codec::UNFRAMED] {
            let mut out = b"queued".to_vec();
            let start = codec.begin_message(&mut out, &Envelope::default());
            codec.finish_message(&mut out, start);
            assert_eq!(out, b"queued", "{codec:?}");
        }
    }

    #[test]
    fn parse_follows_the_framing() {
        let limits = Limits::default();
        let body = [0x80, 1, 0, 1, 0, 0, 0, 1, b'a', 0, 0, 0, 1, 0];
        let mut framed = Vec::new();
        let start = Codec::FRAMED.begin_message(&mut framed, &Envelope::default());
        framed.extend_from_slice(&body);
        Codec::FRAMED.finish_message(&mut framed, start);
        assert_eq!(
            Codec::FRAMED.parse(&framed, &limits).unwrap(),
            parse_framed(&framed, limits.max_frame).unwrap()
        );
        assert_eq!(
            Codec::UNFRAMED.parse(&body, &limits).unwrap(),
            parse_unframed(&body, &limits).unwrap()
        );
    }
}
