//! Finding where an unframed message ends, resuming where the last look stopped.
//!
//! An unframed (TBufferedTransport) message has no length prefix: its end is found by walking
//! its header and skipping its body. A message that arrives in many reads must not be walked
//! from its start after each one (a 2,000,000-field message in 4 KiB writes would be walked
//! ~2,000 times), so the walk keeps its place: the values it has passed and an explicit stack of
//! the structs and containers it is inside. Each value is taken whole or not at all, so the work
//! is linear in the bytes received.

use crate::protocol::{Limits, Protocol, ProtocolError, Reader, TType};

use super::FrameStatus;

/// What the walk expects next, innermost last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A field header or the stop byte of a struct.
    Field,
    /// One value of this type.
    Value(TType),
    /// `left` more elements of a list or set (u32: a count on the wire is a positive i32).
    Elements { element: TType, left: u32 },
    /// `left` more key-value pairs of a map.
    Pairs { key: TType, value: TType, left: u32 },
}

/// Nesting levels whose stack entries are allocated up front (12 bytes each); a configured
/// depth beyond this grows the stack with the input instead.
const MAX_PREALLOCATED_DEPTH: u32 = 256;

/// The walk over one unframed message, resumable across reads. Feed it the buffered bytes from
/// the message's start each time more have arrived; it continues from where it stopped.
#[derive(Debug, Default)]
pub struct UnframedScanner {
    /// The protocol of the messages walked. Compact's reader state (the last field id, a bool
    /// folded into its field header) does not survive a resumed walk, which is harmless: a
    /// field header and its folded bool are taken in the same step sequence (the bool needs no
    /// byte), and field ids do not change sizes.
    protocol: Protocol,
    /// Bytes of the message walked so far.
    position: usize,
    /// Whether the message header has been passed.
    header_done: bool,
    stack: Vec<Expect>,
    /// Nested structs and containers on the stack (what the depth limit counts).
    depth: u32,
    /// Buffered bytes below which the value in hand cannot be complete: no walk until then.
    wanted: usize,
    /// Bytes walked over in all, for tests that check the walk is linear.
    walked: u64,
}

impl UnframedScanner {
    /// A walk at the start of a binary message.
    pub fn new() -> Self {
        UnframedScanner::default()
    }

    /// A walk at the start of a message in `protocol`.
    pub fn with_protocol(protocol: Protocol) -> Self {
        UnframedScanner {
            protocol,
            ..UnframedScanner::default()
        }
    }

    /// Bytes examined since this scanner was made (each byte of a message once, plus the
    /// retries of values that were still incomplete).
    pub fn walked(&self) -> u64 {
        self.walked
    }

    /// Continues the walk over `buf`, the bytes buffered from the message's start (the same
    /// bytes as before, plus more). After `Complete` or an error the scanner starts over.
    ///
    /// The message may not exceed `limits.max_frame` bytes, whether it arrives in one read or
    /// many: a message that would be longer is an error as soon as that is certain.
    pub fn scan(&mut self, buf: &[u8], limits: &Limits) -> Result<FrameStatus, ProtocolError> {
        let result = self.walk(buf, limits);
        if !matches!(result, Ok(FrameStatus::Incomplete { .. })) {
            self.position = 0;
            self.header_done = false;
            self.stack.clear();
            self.depth = 0;
            self.wanted = 0;
        }
        result
    }

    fn walk(&mut self, buf: &[u8], limits: &Limits) -> Result<FrameStatus, ProtocolError> {
        if self.stack.capacity() == 0 {
            // Room for the deepest nesting allowed (plus a map's key and value), taken once per
            // connection: the stack then never grows with what a peer sends.
            let levels = limits.max_depth.min(MAX_PREALLOCATED_DEPTH) as usize + 2;
            self.stack.reserve_exact(levels);
        }
        if buf.len() < self.wanted {
            return Ok(FrameStatus::Incomplete {
                needed: self.wanted - buf.len(),
            });
        }
        // A reader over what follows the walked part; the frame limit applies to what is left
        // of the message, so a declared length is refused before its bytes are awaited.
        let start = self.position.min(buf.len());
        let room = limits.max_frame.saturating_sub(start);
        let mut reader = Reader::with_protocol(
            &buf[start..],
            self.protocol,
            Limits {
                max_frame: room,
                ..*limits
            },
        );
        loop {
            if self.header_done && self.stack.is_empty() {
                return Ok(FrameStatus::Complete {
                    message: 0..self.position,
                    consumed: self.position,
                });
            }
            let at = reader.position();
            match self.step(&mut reader, limits.max_depth) {
                Ok(()) => {
                    let taken = reader.position() - at;
                    self.position += taken;
                    self.walked += taken as u64;
                    if self.position > limits.max_frame {
                        return Err(too_long(self.position, limits));
                    }
                }
                Err(ProtocolError::UnexpectedEnd { needed }) => {
                    self.walked += (reader.position() - at) as u64;
                    let wanted = buf.len().saturating_add(needed);
                    if wanted > limits.max_frame {
                        return Err(too_long(wanted, limits));
                    }
                    self.wanted = wanted;
                    return Ok(FrameStatus::Incomplete { needed });
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Takes the next whole piece (a header, a field header, a value, a container header) from
    /// `reader` and updates the stack; on an error the state is left as it was.
    fn step(&mut self, reader: &mut Reader<'_>, max_depth: u32) -> Result<(), ProtocolError> {
        if !self.header_done {
            reader.read_message_begin()?;
            self.header_done = true;
            return self.push_value(TType::Struct, reader, max_depth);
        }
        let Some(top) = self.stack.last_mut() else {
            return Ok(());
        };
        match *top {
            Expect::Field => match reader.read_field_begin()? {
                None => {
                    self.stack.pop();
                    self.depth -= 1;
                }
                Some((ttype, _)) => self.stack.push(Expect::Value(ttype)),
            },
            Expect::Value(ttype) => {
                let opened = open_value(ttype, reader, &mut self.depth, max_depth)?;
                self.stack.pop();
                self.stack.extend(opened);
            }
            Expect::Elements { element, left } => {
                if left == 0 {
                    self.stack.pop();
                    self.depth -= 1;
                } else {
                    *top = Expect::Elements {
                        element,
                        left: left - 1,
                    };
                    self.stack.push(Expect::Value(element));
                }
            }
            Expect::Pairs { key, value, left } => {
                if left == 0 {
                    self.stack.pop();
                    self.depth -= 1;
                } else {
                    *top = Expect::Pairs {
                        key,
                        value,
                        left: left - 1,
                    };
                    self.stack.push(Expect::Value(value));
                    self.stack.push(Expect::Value(key));
                }
            }
        }
        Ok(())
    }

    fn push_value(
        &mut self,
        ttype: TType,
        reader: &mut Reader<'_>,
        max_depth: u32,
    ) -> Result<(), ProtocolError> {
        let opened = open_value(ttype, reader, &mut self.depth, max_depth)?;
        self.stack.extend(opened);
        Ok(())
    }
}

/// Takes a value of `ttype`: a scalar or string whole, or a container's header (then returns
/// what to expect inside it, one level deeper). On an error `depth` is unchanged; `reader` may
/// have moved, which the caller discards.
fn open_value(
    ttype: TType,
    reader: &mut Reader<'_>,
    depth: &mut u32,
    max_depth: u32,
) -> Result<Option<Expect>, ProtocolError> {
    let inside = match ttype {
        TType::Struct => Expect::Field,
        TType::List | TType::Set => {
            check_depth(*depth, max_depth)?;
            let (element, left) = reader.read_list_begin()?;
            Expect::Elements {
                element,
                left: wire_count(left),
            }
        }
        TType::Map => {
            check_depth(*depth, max_depth)?;
            let (key, value, left) = reader.read_map_begin()?;
            Expect::Pairs {
                key,
                value,
                left: wire_count(left),
            }
        }
        scalar => {
            reader.skip(scalar)?;
            return Ok(None);
        }
    };
    check_depth(*depth, max_depth)?;
    *depth += 1;
    Ok(Some(inside))
}

/// A container count the reader accepted: it came from a non-negative i32.
fn wire_count(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

fn check_depth(depth: u32, max_depth: u32) -> Result<(), ProtocolError> {
    if depth >= max_depth {
        return Err(ProtocolError::DepthLimit { limit: max_depth });
    }
    Ok(())
}

fn too_long(size: usize, limits: &Limits) -> ProtocolError {
    ProtocolError::SizeLimit {
        size: size as u64,
        limit: limits.max_frame as u64,
    }
}
