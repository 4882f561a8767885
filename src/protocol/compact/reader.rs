//! Compact decoding from a byte slice, with every length checked before it is used.

use super::super::error::ProtocolError;
use super::super::limits::Limits;
use super::super::ttype::{MessageHeader, MessageType, TType};
use super::{
    min_encoded_size, ttype_of, unzigzag_32, unzigzag_64, FieldIds, COMPACT_PROTOCOL_ID,
    COMPACT_VERSION, CT_FALSE, CT_TRUE, TYPE_SHIFT, VERSION_MASK,
};

/// A 64-bit value takes at most 10 varint bytes (70 bits, of which the 10th byte may use one).
const MAX_VARINT_LEN: usize = 10;

/// A cursor over one compact message's bytes.
///
/// It carries what compact decoding needs beyond the position: the last field id of each
/// struct being read and the value of a bool field whose header was just read. Strings and
/// binaries are borrowed from the input. As with the binary [`Reader`](super::super::Reader),
/// sizes are checked against the remaining bytes (times the smallest compact encoding of an
/// element) and the [`Limits`] before anything is allocated, and nesting past `max_depth` is an
/// error; with the default depth limit the reader itself never allocates.
#[derive(Debug, Clone)]
pub struct CompactReader<'a> {
    buf: &'a [u8],
    pos: usize,
    depth: u32,
    limits: Limits,
    last_field: i16,
    fields: FieldIds,
    pending_bool: Option<bool>,
}

impl<'a> CompactReader<'a> {
    /// A reader over `buf` with the default [`Limits`].
    pub fn new(buf: &'a [u8]) -> Self {
        CompactReader::with_limits(buf, Limits::default())
    }

    /// A reader over `buf` with the given limits.
    pub fn with_limits(buf: &'a [u8], limits: Limits) -> Self {
        CompactReader {
            buf,
            pos: 0,
            depth: 0,
            limits,
            last_field: 0,
            fields: FieldIds::new(),
            pending_bool: None,
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

    fn read_u8(&mut self) -> Result<u8, ProtocolError> {
        Ok(self.take(1)?[0])
    }

    /// Enters one level of struct or container nesting; fails past `max_depth`. As with the
    /// binary reader, decoders call this on entering a struct and [`leave`](Self::leave) on
    /// leaving it; here it also starts the struct's field ids from 0 and saves the enclosing
    /// struct's, which [`leave`](Self::leave) restores (harmless around a container, which has
    /// no field ids of its own).
    pub fn enter(&mut self) -> Result<(), ProtocolError> {
        if self.depth >= self.limits.max_depth {
            return Err(ProtocolError::DepthLimit {
                limit: self.limits.max_depth,
            });
        }
        self.depth += 1;
        self.fields.push(self.last_field);
        self.last_field = 0;
        self.pending_bool = None;
        Ok(())
    }

    /// Leaves one level entered with [`enter`](Self::enter).
    pub fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
        self.last_field = self.fields.pop();
    }

    /// Reads a message header: protocol id 0x82, version 1 and the message type, seqid, name.
    pub fn read_message_begin(&mut self) -> Result<MessageHeader<'a>, ProtocolError> {
        let start = self.take(2)?;
        let (protocol, version_and_type) = (start[0], start[1]);
        if protocol != COMPACT_PROTOCOL_ID || version_and_type & VERSION_MASK != COMPACT_VERSION {
            return Err(ProtocolError::BadVersion {
                word: u32::from(u16::from_be_bytes([protocol, version_and_type])),
            });
        }
        let kind = MessageType::from_id(version_and_type >> TYPE_SHIFT)?;
        // The seqid is an i32's bits as an unsigned varint, not zigzag.
        let seqid = self.read_varint_u32()? as i32;
        let name = self.read_str()?;
        Ok(MessageHeader { name, kind, seqid })
    }

    /// Reads a field header; `None` at the stop byte that ends a struct. After a bool field's
    /// header the value is already known and [`read_bool`](Self::read_bool) returns it.
    pub fn read_field_begin(&mut self) -> Result<Option<(TType, i16)>, ProtocolError> {
        self.pending_bool = None;
        let byte = self.read_u8()?;
        if byte == 0 {
            return Ok(None);
        }
        let compact_type = byte & 0x0f;
        // A zero type with a non-zero delta is no stop byte: ttype_of rejects it.
        let ttype = ttype_of(compact_type)?;
        let delta = byte >> 4;
        let id = if delta == 0 {
            self.read_i16()?
        } else {
            self.last_field
                .checked_add(i16::from(delta))
                .ok_or(ProtocolError::InvalidData {
                    reason: "field id delta overflows i16",
                })?
        };
        self.last_field = id;
        match compact_type {
            CT_TRUE => self.pending_bool = Some(true),
            CT_FALSE => self.pending_bool = Some(false),
            _ => {}
        }
        Ok(Some((ttype, id)))
    }

    /// Reads a list header: element type and a length the remaining bytes can hold.
    pub fn read_list_begin(&mut self) -> Result<(TType, usize), ProtocolError> {
        let byte = self.read_u8()?;
        let element = ttype_of(byte & 0x0f)?;
        let size = match byte >> 4 {
            0x0f => self.read_size()?,
            short => u32::from(short),
        };
        let len = self.checked_container_len(size, min_encoded_size(element))?;
        Ok((element, len))
    }

    /// Reads a set header: element type and a length the remaining bytes can hold.
    pub fn read_set_begin(&mut self) -> Result<(TType, usize), ProtocolError> {
        self.read_list_begin()
    }

    /// Reads a map header: key type, value type and a length the remaining bytes can hold.
    /// An empty map carries no types on the wire; both are reported as [`TType::Stop`].
    pub fn read_map_begin(&mut self) -> Result<(TType, TType, usize), ProtocolError> {
        let size = self.read_size()?;
        if size == 0 {
            return Ok((TType::Stop, TType::Stop, 0));
        }
        let types = self.read_u8()?;
        let key = ttype_of(types >> 4)?;
        let value = ttype_of(types & 0x0f)?;
        let len =
            self.checked_container_len(size, min_encoded_size(key) + min_encoded_size(value))?;
        Ok((key, value, len))
    }

    /// Reads a bool: the value from the field header just read, else one element byte
    /// (1 true; 0, the spec's false, or 2, Apache's libraries' false). Any other byte is an
    /// error.
    pub fn read_bool(&mut self) -> Result<bool, ProtocolError> {
        if let Some(v) = self.pending_bool.take() {
            return Ok(v);
        }
        match self.read_u8()? {
            CT_TRUE => Ok(true),
            0 | CT_FALSE => Ok(false),
            _ => Err(ProtocolError::InvalidData {
                reason: "bool element is not 0, 1 or 2",
            }),
        }
    }

    /// Reads a byte.
    pub fn read_i8(&mut self) -> Result<i8, ProtocolError> {
        Ok(self.read_u8()? as i8)
    }

    /// Reads a zigzag varint i16; a value outside i16 is an error.
    pub fn read_i16(&mut self) -> Result<i16, ProtocolError> {
        let v = unzigzag_32(self.read_varint_u32()?);
        i16::try_from(v).map_err(|_| ProtocolError::InvalidData {
            reason: "varint overflows i16",
        })
    }

    /// Reads a zigzag varint i32; a value outside i32 is an error.
    pub fn read_i32(&mut self) -> Result<i32, ProtocolError> {
        Ok(unzigzag_32(self.read_varint_u32()?))
    }

    /// Reads a zigzag varint i64.
    pub fn read_i64(&mut self) -> Result<i64, ProtocolError> {
        Ok(unzigzag_64(self.read_varint()?))
    }

    /// Reads a double from its little-endian IEEE 754 bits.
    pub fn read_double(&mut self) -> Result<f64, ProtocolError> {
        let mut bits = [0; 8];
        bits.copy_from_slice(self.take(8)?);
        Ok(f64::from_bits(u64::from_le_bytes(bits)))
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
        let size = self.read_size()?;
        // As in the binary reader: the cap first, so an oversized string fails before any
        // wait for bytes that would be refused anyway.
        if let Some(max) = self.limits.max_string {
            if u64::from(size) > max as u64 {
                return Err(ProtocolError::SizeLimit {
                    size: size.into(),
                    limit: max as u64,
                });
            }
        }
        let len = self.checked_len(size, 1)?;
        self.take(len)
    }

    /// Skips one value of type `ttype`, whatever it holds, within the depth limit. Every value
    /// skip accepts, the typed reads accept too, and the other way round.
    pub fn skip(&mut self, ttype: TType) -> Result<(), ProtocolError> {
        match ttype {
            TType::Bool => self.read_bool().map(drop),
            TType::Byte => self.take(1).map(drop),
            TType::I16 => self.read_i16().map(drop),
            TType::I32 => self.read_i32().map(drop),
            TType::I64 => self.read_i64().map(drop),
            TType::Double => self.take(8).map(drop),
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

    /// Reads an unsigned LEB128 varint of at most 10 bytes; a longer one, or a 10th byte that
    /// carries bits past the 64th, is an error.
    fn read_varint(&mut self) -> Result<u64, ProtocolError> {
        let mut value = 0u64;
        for i in 0..MAX_VARINT_LEN - 1 {
            let byte = self.read_u8()?;
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        // The 10th byte holds bit 63 alone.
        match self.read_u8()? {
            last @ (0 | 1) => Ok(value | u64::from(last) << 63),
            last if last & 0x80 != 0 => Err(ProtocolError::InvalidData {
                reason: "varint longer than 10 bytes",
            }),
            _ => Err(ProtocolError::InvalidData {
                reason: "varint overflows 64 bits",
            }),
        }
    }

    fn read_varint_u32(&mut self) -> Result<u32, ProtocolError> {
        u32::try_from(self.read_varint()?).map_err(|_| ProtocolError::InvalidData {
            reason: "varint overflows 32 bits",
        })
    }

    /// A length or element count: a varint i32, so one with the sign bit set is negative.
    fn read_size(&mut self) -> Result<u32, ProtocolError> {
        let size = self.read_varint_u32()?;
        if size > i32::MAX as u32 {
            return Err(ProtocolError::NegativeSize {
                size: i64::from(size as i32),
            });
        }
        Ok(size)
    }

    /// A size of `unit`-byte items, bounded by the frame limit and then by the remaining input;
    /// the same two errors as the binary reader's, for the same reason (`UnexpectedEnd` means
    /// "wait for more" to an unframed reader, `SizeLimit` never does).
    fn checked_len(&self, size: u32, unit: usize) -> Result<usize, ProtocolError> {
        let total = u64::from(size).saturating_mul(unit as u64);
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
        Ok(size as usize)
    }

    fn checked_container_len(&self, size: u32, unit: usize) -> Result<usize, ProtocolError> {
        if let Some(max) = self.limits.max_container {
            if size as usize > max {
                return Err(ProtocolError::SizeLimit {
                    size: size.into(),
                    limit: max as u64,
                });
            }
        }
        self.checked_len(size, unit)
    }
}
