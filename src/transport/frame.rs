//! Finding message boundaries in a byte buffer: framed, unframed, or detected. No I/O.

use std::ops::Range;

use crate::protocol::{Limits, ProtocolError, Reader, TType};

mod unframed;

pub use unframed::UnframedScanner;

/// Length prefix of a framed message.
pub const FRAME_HEADER_LEN: usize = 4;

/// How messages are delimited on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Framing {
    /// Each message is preceded by its length as a big-endian i32 (TFramedTransport).
    Framed,
    /// Messages follow each other with no delimiter (TBufferedTransport); a message's end is
    /// found by parsing it.
    Unframed,
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
/// a message in pieces keeps an [`UnframedScanner`] (or a [`Deframer`]) instead, which resumes.
pub fn parse_unframed(buf: &[u8], limits: &Limits) -> Result<FrameStatus, ProtocolError> {
    let mut reader = Reader::with_limits(buf, *limits);
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

/// Parses the message at the start of `buf` with the given framing.
pub fn parse(buf: &[u8], framing: Framing, limits: &Limits) -> Result<FrameStatus, ProtocolError> {
    match framing {
        Framing::Framed => parse_framed(buf, limits.max_frame),
        Framing::Unframed => parse_unframed(buf, limits),
    }
}

/// Bytes [`detect`] may need before it can decide.
pub const DETECT_LEN: usize = 5;

/// Tells framed from unframed by a connection's first bytes; `None` until enough are buffered.
///
/// A strict unframed message starts with the version byte 0x80. A frame starts with a length
/// below 2^31, so its first byte is never 0x80, and its message starts at byte 4: 0x80 when
/// strict, 0x00 (the high byte of a name length) when not. An old non-strict unframed message
/// has the name's first character at byte 4.
pub fn detect(buf: &[u8]) -> Option<Framing> {
    match buf {
        [0x80, ..] => Some(Framing::Unframed),
        [_, _, _, _, 0x80 | 0x00, ..] => Some(Framing::Framed),
        [_, _, _, _, _, ..] => Some(Framing::Unframed),
        _ => None,
    }
}

/// Whether a connection's first bytes can start a message of any framing: a first byte above
/// 0x80 is a negative frame length and a negative name length (and no binary protocol version),
/// and a length over `max_frame` fits neither a frame nor a non-strict message's name. Checked
/// before [`detect`] has its five bytes, so such a peer is refused at once.
pub fn check_first_bytes(buf: &[u8], max_frame: usize) -> Result<(), ProtocolError> {
    match buf {
        [first, ..] if *first > 0x80 => Err(ProtocolError::InvalidData {
            reason: "neither a frame length nor a message header",
        }),
        [a, b, c, d, ..] if *a != 0x80 => {
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

/// Finds the messages on one connection: detects its framing (unless fixed) and keeps the
/// place of an unframed message that is still arriving, so each byte is walked once.
#[derive(Debug)]
pub struct Deframer {
    framing: Option<Framing>,
    scanner: UnframedScanner,
    limits: Limits,
}

impl Deframer {
    /// For a connection whose framing is `framing`, or detected from its first bytes when
    /// `None`; messages are bounded by `limits`.
    pub fn new(framing: Option<Framing>, limits: Limits) -> Self {
        Deframer {
            framing,
            scanner: UnframedScanner::new(),
            limits,
        }
    }

    /// The framing, once known.
    pub fn framing(&self) -> Option<Framing> {
        self.framing
    }

    /// Bytes the unframed walk has examined, for tests that check it is linear.
    pub fn walked(&self) -> u64 {
        self.scanner.walked()
    }

    /// The message at the start of `buf`, the connection's unconsumed bytes. After `Complete`
    /// the caller drops `consumed` bytes before the next call; between calls that return
    /// `Incomplete`, `buf` may only grow at its end.
    pub fn next(&mut self, buf: &[u8]) -> Result<FrameStatus, ProtocolError> {
        let framing = match self.framing {
            Some(framing) => framing,
            None => {
                check_first_bytes(buf, self.limits.max_frame)?;
                match detect(buf) {
                    Some(framing) => *self.framing.insert(framing),
                    None => {
                        return Ok(FrameStatus::Incomplete {
                            needed: DETECT_LEN - buf.len(),
                        })
                    }
                }
            }
        };
        match framing {
            Framing::Framed => parse_framed(buf, self.limits.max_frame),
            Framing::Unframed => self.scanner.scan(buf, &self.limits),
        }
    }
}

#[cfg(test)]
mod tests;
