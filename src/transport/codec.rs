//! What one connection speaks, and the one place a message's framing is written. No I/O.

use super::frame::{parse_framed, parse_unframed, FrameStatus, Framing, FRAME_HEADER_LEN};
use crate::protocol::{Limits, ProtocolError};

/// How a connection's messages are written and found: its framing (the protocol inside is
/// binary). Every side uses this one type: the server's configuration and per-connection
/// detection, the client's configuration, and the bench.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Codec {
    framing: Framing,
}

/// Where [`Codec::begin_message`] left a message, for [`Codec::finish_message`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a framed message is not valid until finish_message patches its length"]
pub struct MessageStart {
    /// Where the message (its frame prefix, if any) starts in the buffer.
    at: usize,
    /// Where the protocol bytes start, after the prefix.
    body_at: usize,
}

impl Codec {
    /// Framed (TFramedTransport), binary protocol.
    pub const FRAMED: Codec = Codec::new(Framing::Framed);
    /// Unframed (TBufferedTransport), binary protocol.
    pub const UNFRAMED: Codec = Codec::new(Framing::Unframed);

    /// The codec with this framing.
    pub const fn new(framing: Framing) -> Codec {
        Codec { framing }
    }

    /// How messages are delimited.
    pub fn framing(self) -> Framing {
        self.framing
    }

    /// Starts a message at the end of `out`: reserves the frame length when framed. The caller
    /// appends the message (header and body), then calls [`finish_message`](Self::finish_message),
    /// so the message is encoded in place with no copy.
    pub fn begin_message(self, out: &mut Vec<u8>) -> MessageStart {
        let at = out.len();
        if self.framing == Framing::Framed {
            out.extend_from_slice(&[0; FRAME_HEADER_LEN]);
        }
        MessageStart {
            at,
            body_at: out.len(),
        }
    }

    /// Ends the message begun at `start`: patches its frame length. A message with nothing
    /// written (a oneway call's absent reply) leaves nothing, not an empty frame.
    ///
    /// # Panics
    /// If the message exceeds `i32::MAX` bytes: a bug in the caller, never peer input.
    pub fn finish_message(self, out: &mut Vec<u8>, start: MessageStart) {
        if out.len() == start.body_at {
            out.truncate(start.at);
            return;
        }
        if self.framing == Framing::Framed {
            let len = i32::try_from(out.len() - start.body_at)
                .expect("a thrift frame's length must fit in an i32");
            out[start.at..start.body_at].copy_from_slice(&len.to_be_bytes());
        }
    }

    /// Finds the message at the start of `buf`, bounded by `limits`. This walks an unframed
    /// message from its start each time; a connection that receives one in pieces keeps a
    /// [`Deframer`](super::Deframer), which resumes.
    pub fn parse(self, buf: &[u8], limits: &Limits) -> Result<FrameStatus, ProtocolError> {
        match self.framing {
            Framing::Framed => parse_framed(buf, limits.max_frame),
            Framing::Unframed => parse_unframed(buf, limits),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framed_message_gets_its_length_patched_in_place() {
        let mut out = b"queued".to_vec();
        let start = Codec::FRAMED.begin_message(&mut out);
        out.extend_from_slice(b"hello");
        Codec::FRAMED.finish_message(&mut out, start);
        assert_eq!(out, b"queued\0\0\0\x05hello");
    }

    #[test]
    fn unframed_message_is_written_as_is() {
        let mut out = Vec::new();
        let start = Codec::UNFRAMED.begin_message(&mut out);
        out.extend_from_slice(b"hello");
        Codec::UNFRAMED.finish_message(&mut out, start);
        assert_eq!(out, b"hello");
    }

    #[test]
    fn empty_message_leaves_nothing() {
        for codec in [Codec::FRAMED, Codec::UNFRAMED] {
            let mut out = b"queued".to_vec();
            let start = codec.begin_message(&mut out);
            codec.finish_message(&mut out, start);
            assert_eq!(out, b"queued", "{codec:?}");
        }
    }

    #[test]
    fn parse_follows_the_framing() {
        let limits = Limits::default();
        let body = [0x80, 1, 0, 1, 0, 0, 0, 1, b'a', 0, 0, 0, 1, 0];
        let mut framed = Vec::new();
        let start = Codec::FRAMED.begin_message(&mut framed);
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
