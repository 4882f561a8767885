//! Decoding from a byte slice, with every length checked before it is used.

use byteorder::{BigEndian, ByteOrder};

use super::error::ProtocolError;
use super::limits::Limits;
use super::ttype::{MessageHeader, MessageType, TType};
use super::writer::VERSION_1;

const VERSION_MASK: u32 = 0xffff_0000;
const TYPE_MASK: u32 = 0x0000_00ff;

/// A cursor over one message's bytes.
///
/// Strings and binaries are borrowed from the input. Sizes from the wire are checked against
/// the bytes that remain (times the smallest encoding of an element, for containers) and against
/// [`Limits`] before anything is allocated, so memory grows only with bytes actually received.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    depth: u32,
    limits: Limits,
}

impl<'a> Reader<'a> {
    /// A reader over `buf` with the default [`Limits`].
    pub fn new(buf: &'a [u8]) -> Self {
        Reader::with_limits(buf, Limits::default())
    }

    /// A reader over `buf` with the given limits.
    pub fn with_limits(buf: &'a [u8], limits: Limits) -> Self {
        Reader {
            buf,
            pos: 0,
            depth: 0,
            limits,
        }
    }

    /// How many bytes have been consumed.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// How many bytes are left.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ProtocolError> {
        let remaining = self.remaining();
        if n > remaining {
            return Err(ProtocolError::UnexpectedEnd {
                needed: n - remaining,
            });
        }
        let bytes = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    /// Enters one level of struct or container nesting; fails past `max_depth`.
    /// Generated decoders call this on entering a struct and [`Reader::leave`] on leaving it.
    pub fn enter(&mut self) -> Result<(), ProtocolError> {
        if self.depth >= self.limits.max_depth {
            return Err(ProtocolError::DepthLimit {
                limit: self.limits.max_depth,
            });
        }
        self.depth += 1;
        Ok(())
    }

    /// Leaves one level entered with [`Reader::enter`].
    pub fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Reads a message header, strict (versioned) or old non-strict.
    pub fn read_message_begin(&mut self) -> Result<MessageHeader<'a>, ProtocolError> {
        let word = self.read_i32()?;
        if word < 0 {
            let word = word as u32;
            if word & VERSION_MASK != VERSION_1 {
                return Err(ProtocolError::BadVersion { word });
            }
            let kind = MessageType::from_id((word & TYPE_MASK) as u8)?;
            let name = self.read_str()?;
            let seqid = self.read_i32()?;
            Ok(MessageHeader { name, kind, seqid })
        } else {
            // Non-strict: the first word is the name's length.
            let name_len = self.checked_len(word, 1)?;
            let name = std::str::from_utf8(self.take(name_len)?)?;
            let kind = MessageType::from_id(self.read_i8()? as u8)?;
            let seqid = self.read_i32()?;
            Ok(MessageHeader { name, kind, seqid })
        }
    }

    /// Reads a field header; `None` at the stop byte that ends a struct.
    pub fn read_field_begin(&mut self) -> Result<Option<(TType, i16)>, ProtocolError> {
        let ttype = TType::from_id(self.read_i8()? as u8)?;
        if ttype == TType::Stop {
            return Ok(None);
        }
        let id = self.read_i16()?;
        Ok(Some((ttype, id)))
    }

    /// Reads a list header: element type and a length the remaining bytes can hold.
    pub fn read_list_begin(&mut self) -> Result<(TType, usize), ProtocolError> {
        let element = self.read_element_type()?;
        let size = self.read_i32()?;
        let len = self.checked_container_len(size, element.min_encoded_size())?;
        Ok((element, len))
    }

    /// Reads a set header: element type and a length the remaining bytes can hold.
    pub fn read_set_begin(&mut self) -> Result<(TType, usize), ProtocolError> {
        self.read_list_begin()
    }

    /// Reads a map header: key type, value type and a length the remaining bytes can hold.
    pub fn read_map_begin(&mut self) -> Result<(TType, TType, usize), ProtocolError> {
        let key = self.read_element_type()?;
        let value = self.read_element_type()?;
        let size = self.read_i32()?;
        let len =
            self.checked_container_len(size, key.min_encoded_size() + value.min_encoded_size())?;
        Ok((key, value, len))
    }

    fn read_element_type(&mut self) -> Result<TType, ProtocolError> {
        let id = self.read_i8()? as u8;
        match TType::from_id(id)? {
            // Zero-sized elements would let a peer make a decoder loop without consuming input.
            TType::Stop | TType::Void => Err(ProtocolError::InvalidType { id }),
            ttype => Ok(ttype),
        }
    }

    /// Reads a bool; any non-zero byte is true, as in Apache Thrift.
    pub fn read_bool(&mut self) -> Result<bool, ProtocolError> {
        Ok(self.read_i8()? != 0)
    }

    /// Reads a byte.
    pub fn read_i8(&mut self) -> Result<i8, ProtocolError> {
        Ok(self.take(1)?[0] as i8)
    }

    /// Reads a big-endian i16.
    pub fn read_i16(&mut self) -> Result<i16, ProtocolError> {
        Ok(BigEndian::read_i16(self.take(2)?))
    }

    /// Reads a big-endian i32.
    pub fn read_i32(&mut self) -> Result<i32, ProtocolError> {
        Ok(BigEndian::read_i32(self.take(4)?))
    }

    /// Reads a big-endian i64.
    pub fn read_i64(&mut self) -> Result<i64, ProtocolError> {
        Ok(BigEndian::read_i64(self.take(8)?))
    }

    /// Reads a double from its big-endian IEEE 754 bits.
    pub fn read_double(&mut self) -> Result<f64, ProtocolError> {
        Ok(f64::from_bits(BigEndian::read_u64(self.take(8)?)))
    }

    /// Reads a uuid: 16 bytes in RFC 4122 (big-endian) order.
    pub fn read_uuid(&mut self) -> Result<[u8; 16], ProtocolError> {
        let mut bytes = [0; 16];
        bytes.copy_from_slice(self.take(16)?);
        Ok(bytes)
    }

    /// Reads a string, borrowed from the input; bytes that are not UTF-8 are an error.
    pub fn read_str(&mut self) -> Result<&'a str, ProtocolError> {
        Ok(std::str::from_utf8(self.read_bytes()?)?)
    }

    /// Reads a binary, borrowed from the input.
    pub fn read_bytes(&mut self) -> Result<&'a [u8], ProtocolError> {
        let size = self.read_i32()?;
        // The cap is checked before the remaining input, so an unframed reader rejects an
        // oversized string at once instead of waiting for bytes it will refuse anyway.
        if let Some(max) = self.limits.max_string {
            if size > 0 && size as u64 > max as u64 {
                return Err(ProtocolError::SizeLimit {
                    size: size as u64,
                    limit: max as u64,
                });
            }
        }
        let len = self.checked_len(size, 1)?;
        self.take(len)
    }

    /// Skips one value of type `ttype`, whatever it holds, within the depth limit.
    pub fn skip(&mut self, ttype: TType) -> Result<(), ProtocolError> {
        match ttype {
            TType::Bool | TType::Byte => self.take(1).map(drop),
            TType::I16 => self.take(2).map(drop),
            TType::I32 => self.take(4).map(drop),
            TType::I64 | TType::Double => self.take(8).map(drop),
            TType::Uuid => self.take(16).map(drop),
            TType::String => self.read_bytes().map(drop),
            TType::Struct => {
                self.enter()?;
                while let Some((field, _)) = self.read_field_begin()? {
                    self.skip(field)?;
                }
                self.leave();
                Ok(())
            }
            TType::List | TType::Set => {
                self.enter()?;
                let (element, len) = self.read_list_begin()?;
                for _ in 0..len {
                    self.skip(element)?;
                }
                self.leave();
                Ok(())
            }
            TType::Map => {
                self.enter()?;
                let (key, value, len) = self.read_map_begin()?;
                for _ in 0..len {
                    self.skip(key)?;
                    self.skip(value)?;
                }
                self.leave();
                Ok(())
            }
            TType::Stop | TType::Void => Err(ProtocolError::InvalidType { id: ttype.id() }),
        }
    }

    /// A non-negative size of `unit`-byte items, bounded by the frame limit and then by the
    /// remaining input. Past the frame limit is a hard error; within it but past the input is
    /// `UnexpectedEnd`, which an unframed reader treats as "wait for more bytes".
    fn checked_len(&self, size: i32, unit: usize) -> Result<usize, ProtocolError> {
        if size < 0 {
            return Err(ProtocolError::NegativeSize { size: size.into() });
        }
        let len = size as usize;
        let total = (len as u64).saturating_mul(unit as u64);
        let max = self.limits.max_frame as u64;
        if total > max {
            return Err(ProtocolError::SizeLimit {
                size: total,
                limit: max,
            });
        }
        let remaining = self.remaining() as u64;
        if total > remaining {
            return Err(ProtocolError::UnexpectedEnd {
                needed: (total - remaining) as usize,
            });
        }
        Ok(len)
    }

    fn checked_container_len(&self, size: i32, unit: usize) -> Result<usize, ProtocolError> {
        if size < 0 {
            return Err(ProtocolError::NegativeSize { size: size.into() });
        }
        if let Some(max) = self.limits.max_container {
            if size as usize > max {
                return Err(ProtocolError::SizeLimit {
                    size: size as u64,
                    limit: max as u64,
                });
            }
        }
        self.checked_len(size, unit)
    }
}
