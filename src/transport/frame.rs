//! Finding message boundaries in a byte buffer, framed or unframed. No I/O.

use std::ops::Range;

use crate::protocol::{Limits, Protocol, ProtocolError, Reader, TType};

mod unframed;

pub use unframed::UnframedScanner;

/// Length prefix of a framed message.
pub const FRAME_HEADER_LEN: usize = 4;

/// How messages are delimited on a connection: the framing half of a
/// [`Codec`](super::Codec). The `tether` binary's `--transport` values are these variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Framing {
    /// TFramedTransport: each message after its length, a big-endian i32.
    Framed,
    /// TBufferedTransport: no delimiter; a message's end is found by parsing it.
    Unframed,
    /// THeader (Apache's THeaderTransport): a frame whose headers carry a sequence id, info
    /// key/value pairs and transforms (zlib) before the message.
    Header,
    /// THeader inside TFramedTransport: each THeader frame (its own length included) after a
    /// frame length of its own, 4 more than the THeader frame's. Apache's test programs speak
    /// this for `--protocol header --transport framed`, as they layer THeaderProtocol over
    /// whatever transport `--transport` names.
    FramedHeader,
}

impl Framing {
    /// The lowercase name, as the `--transport` flag spells it: `framed`, `unframed`,
    /// `header`, `framed-header`.
    pub fn name(self) -> &'static str {
        match self {
            Framing::Framed => "framed",
            Framing::Unframed => "unframed",
            Framing::Header => "header",
            Framing::FramedHeader => "framed-header",
        }
    }
}

/// What a buffer holds at its start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameStatus {
    /// One whole message is buffered.
    Complete {
        /// Where the message (header and body, without any frame prefix) lies in the buffer.
        message: Range<usize>,
        /// How many bytes to drop from the buffer's start once the message is handled.
        consumed: usize,
    },
    /// The message has started but is not whole yet.
    Incomplete {
        /// At least this many more bytes are needed.
        needed: usize,
    },
}

/// Parses the frame at the start of `buf`. Length 0, negative or over `max_frame` is an error,
/// reported as soon as the four length bytes are in, before any body byte is awaited.
pub fn parse_framed(buf: &[u8], max_frame: usize) -> Result<FrameStatus, ProtocolError> {
    if buf.len() < FRAME_HEADER_LEN {
        return Ok(FrameStatus::Incomplete {
            needed: FRAME_HEADER_LEN - buf.len(),
        });
    }
    let len = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if len < 0 {
        return Err(ProtocolError::NegativeSize { size: len.into() });
    }
    if len == 0 {
        return Err(ProtocolError::InvalidData {
            reason: "empty frame",
        });
    }
    let len = len as usize;
    if len > max_frame {
        return Err(ProtocolError::SizeLimit {
            size: len as u64,
            limit: max_frame as u64,
        });
    }
    let end = FRAME_HEADER_LEN + len;
    if buf.len() < end {
        return Ok(FrameStatus::Incomplete {
            needed: end - buf.len(),
        });
    }
    Ok(FrameStatus::Complete {
        message: FRAME_HEADER_LEN..end,
        consumed: end,
    })
}

/// Finds the end of the unframed message at the start of `buf` by parsing its header and
/// skipping its body, allocating nothing. A message longer than `limits.max_frame` is an error,
/// also when it arrived whole. This walks from the start each time; a connection that receives
/// a message in pieces keeps an [`UnframedScanner`] (or a [`Deframer`](super::Deframer))
/// instead, which resumes. The message is binary; [`Codec::parse`](super::Codec::parse) takes
/// others.
pub fn parse_unframed(buf: &[u8], limits: &Limits) -> Result<FrameStatus, ProtocolError> {
    parse_unframed_in(buf, Protocol::Binary, limits)
}

/// [`parse_unframed`] for a message in `protocol`.
pub(super) fn parse_unframed_in(
    buf: &[u8],
    protocol: Protocol,
    limits: &Limits,
) -> Result<FrameStatus, ProtocolError> {
    let mut reader = Reader::with_protocol(buf, protocol, *limits);
    let scanned = reader
        .read_message_begin()
        .and_then(|_| reader.skip(TType::Struct));
    match scanned {
        Ok(()) => {
            let end = reader.position();
            if end > limits.max_frame {
                return Err(ProtocolError::SizeLimit {
                    size: end as u64,
                    limit: limits.max_frame as u64,
                });
            }
            Ok(FrameStatus::Complete {
                message: 0..end,
                consumed: end,
            })
        }
        Err(ProtocolError::UnexpectedEnd { needed }) => {
            let wanted = buf.len().saturating_add(needed);
            if wanted > limits.max_frame {
                return Err(ProtocolError::SizeLimit {
                    size: wanted as u64,
                    limit: limits.max_frame as u64,
                });
            }
            Ok(FrameStatus::Incomplete { needed })
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests;
