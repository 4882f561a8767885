//! Telling a connection's codec from its first bytes, and finding its messages. No I/O.

use super::codec::Codec;
use super::frame::{FrameStatus, Framing, UnframedScanner};
use super::header::HEADER_MAGIC;
use crate::protocol::{Limits, Protocol, ProtocolError, COMPACT_PROTOCOL_ID};

/// Bytes [`detect`] needs before it can decide, except for THeader (see there).
const DETECT_LEN: usize = 5;

/// Bytes [`detect`] needs to tell a THeader frame inside a frame (its magic at bytes 8 and 9)
/// from a framed message whose first byte is 0x00.
const FRAMED_HEADER_DETECT_LEN: usize = 10;

/// Tells a connection's codec (framed, unframed or THeader; binary or compact) by its first
/// bytes; `None` until enough are buffered.
///
/// A strict unframed binary message starts with the version byte 0x80, a compact one with its
/// protocol id 0x82. A frame starts with a length below 2^31, so its first byte is never 0x80
/// or 0x82, and its message starts at byte 4: 0x80 when strict binary, 0x00 (the high byte of a
/// name length) when not, 0x82 when compact, and THeader's magic 0x0FFF in bytes 4 and 5 (so a
/// sixth byte is awaited after a 0x0F). A THeader frame inside a frame (Apache's test programs'
/// "header" over "framed") has the magic at byte 8, after its own length. An old non-strict
/// unframed message has the name's first character at byte 4. A THeader frame names its
/// protocol itself, per frame.
pub fn detect(buf: &[u8]) -> Option<Codec> {
    let [magic_high, magic_low] = HEADER_MAGIC.to_be_bytes();
    let compact = |codec: Codec| Some(codec.with_protocol(Protocol::Compact));
    match buf {
        [0x80, ..] => Some(Codec::UNFRAMED),
        [COMPACT_PROTOCOL_ID, ..] => compact(Codec::UNFRAMED),
        [_, _, _, _, high, low, ..] if [*high, *low] == [magic_high, magic_low] => {
            Some(Codec::HEADER)
        }
        // Five bytes cannot tell THeader yet; nor a non-strict name that starts with 0x0f.
        [_, _, _, _, high] if *high == magic_high => None,
        // A frame around a THeader frame: the inner length, then the magic at byte 8. A frame
        // whose message starts with 0x00 waits for ten bytes to tell (a non-strict binary
        // message has 10 at least: name length, type, seqid; its name's first bytes are never
        // 0x0F 0xFF, which is not UTF-8).
        [_, _, _, _, 0x00, _, _, _, high, low, ..] if [*high, *low] == [magic_high, magic_low] => {
            Some(Codec::FRAMED_HEADER)
        }
        [_, _, _, _, 0x00, ..] if buf.len() < FRAMED_HEADER_DETECT_LEN => None,
        [_, _, _, _, 0x80 | 0x00, ..] => Some(Codec::FRAMED),
        [_, _, _, _, COMPACT_PROTOCOL_ID, ..] => compact(Codec::FRAMED),
        [_, _, _, _, _, ..] => Some(Codec::UNFRAMED),
        _ => None,
    }
}

/// Whether a connection's first bytes can start a message of any framing: a first byte above
/// 0x80 but for compact's 0x82 is a negative frame length and a negative name length (and no
/// protocol's first byte), and a length over `max_frame` fits neither a frame nor a non-strict
/// message's name. Checked before [`detect`] has its five bytes, so such a peer is refused at
/// once.
pub fn check_first_bytes(buf: &[u8], max_frame: usize) -> Result<(), ProtocolError> {
    match buf {
        [first, ..] if *first > 0x80 && *first != COMPACT_PROTOCOL_ID => {
            Err(ProtocolError::InvalidData {
                reason: "neither a frame length nor a message header",
            })
        }
        [a, b, c, d, ..] if *a != 0x80 && *a != COMPACT_PROTOCOL_ID => {
            let len = i32::from_be_bytes([*a, *b, *c, *d]) as usize;
            if len > max_frame {
                Err(ProtocolError::SizeLimit {
                    size: len as u64,
                    limit: max_frame as u64,
                })
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

/// Finds the messages on one connection: detects its codec (unless fixed) and keeps the place
/// of an unframed message that is still arriving, so each byte is walked once.
#[derive(Debug)]
pub struct Deframer {
    codec: Option<Codec>,
    scanner: UnframedScanner,
    limits: Limits,
}

impl Deframer {
    /// For a connection whose codec is `codec`, or detected from its first bytes when `None`;
    /// messages are bounded by `limits`.
    pub fn new(codec: Option<Codec>, limits: Limits) -> Self {
        Deframer {
            codec,
            scanner: UnframedScanner::with_protocol(
                codec.map_or(Protocol::Binary, Codec::protocol),
            ),
            limits,
        }
    }

    /// The codec, once known.
    pub fn codec(&self) -> Option<Codec> {
        self.codec
    }

    /// Bytes the unframed walk has examined, for tests that check it is linear.
    pub fn walked(&self) -> u64 {
        self.scanner.walked()
    }

    /// The message at the start of `buf`, the connection's unconsumed bytes. After `Complete`
    /// the caller drops `consumed` bytes before the next call; between calls that return
    /// `Incomplete`, `buf` may only grow at its end.
    pub fn next(&mut self, buf: &[u8]) -> Result<FrameStatus, ProtocolError> {
        let codec = match self.codec {
            Some(codec) => codec,
            None => {
                check_first_bytes(buf, self.limits.max_frame)?;
                match detect(buf) {
                    Some(codec) => {
                        self.scanner = UnframedScanner::with_protocol(codec.protocol());
                        *self.codec.insert(codec)
                    }
                    None => {
                        return Ok(FrameStatus::Incomplete {
                            needed: DETECT_LEN.saturating_sub(buf.len()).max(1),
                        })
                    }
                }
            }
        };
        match codec.framing() {
            Framing::Unframed => self.scanner.scan(buf, &self.limits),
            Framing::Framed | Framing::Header | Framing::FramedHeader => {
                codec.parse(buf, &self.limits)
            }
        }
    }
}

#[cfg(test)]
mod tests;
