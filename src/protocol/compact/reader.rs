//! Compact decoding from a byte slice, with every length checked before it is used.

use super::super::cursor::Cursor;
use super::super::error::ProtocolError;
use super::super::ttype::{MessageHeader, MessageType, TType};
use super::{
    min_encoded_size, ttype_of, unzigzag_32, unzigzag_64, FieldIds, COMPACT_PROTOCOL_ID,
    COMPACT_VERSION, CT_FALSE, CT_TRUE, TYPE_SHIFT, VERSION_MASK,
};

/// A 64-bit value takes at most 10 varint bytes (70 bits, of which the 10th byte may use one).
const MAX_VARINT_LEN: usize = 10;

/// What a [`Reader`](super::super::Reader) speaking compact remembers between calls: the last
/// field id of each struct being read and the value of a bool field whose header was just read.
/// With the default depth limit it never allocates.
#[derive(Debug, Clone)]
pub(in crate::protocol) struct ReadState {
    last_field: i16,
    fields: FieldIds,
    pending_bool: Option<bool>,
}

impl ReadState {
    #[inline]
    pub(in crate::protocol) fn new() -> Self {
        ReadState {
            last_field: 0,
            fields: FieldIds::new(),
            pending_bool: None,
        }
    }

    /// Called once the reader entered a level: the struct's field ids count from 0 and the
    /// enclosing struct's are saved for [`leave`](Self::leave) (harmless around a container,
    /// which has no field ids of its own).
    #[inline]
    pub(in crate::protocol) fn enter(&mut self) {
        self.fields.push(self.last_field);
        self.last_field = 0;
        self.pending_bool = None;
    }

    #[inline]
    pub(in crate::protocol) fn leave(&mut self) {
        self.last_field = self.fields.pop();
    }

    /// Reads a field header; `None` at the stop byte that ends a struct. After a bool field's
    /// header the value is already known and [`read_bool`](Self::read_bool) returns it.
    #[inline]
    pub(in crate::protocol) fn read_field_begin(
        &mut self,
        c: &mut Cursor<'_>,
    ) -> Result<Option<(TType, i16)>, ProtocolError> {
        self.pending_bool = None;
        let byte = c.read_u8()?;
        if byte == 0 {
            return Ok(None);
        }
        let compact_type = byte & 0x0f;
        // A zero type with a non-zero delta is no stop byte: ttype_of rejects it.
        let ttype = ttype_of(compact_type)?;
        let delta = byte >> 4;
        let id = if delta == 0 {
            read_i16(c)?
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

    /// Reads a bool: the value from the field header just read, else one element byte
    /// (1 true; 0, the spec's false, or 2, Apache's libraries' false). Any other byte is an
    /// error.
    #[inline]
    pub(in crate::protocol) fn read_bool(
        &mut self,
        c: &mut Cursor<'_>,
    ) -> Result<bool, ProtocolError> {
        if let Some(v) = self.pending_bool.take() {
            return Ok(v);
        }
        match c.read_u8()? {
            CT_TRUE => Ok(true),
            0 | CT_FALSE => Ok(false),
            _ => Err(ProtocolError::InvalidData {
                reason: "bool element is not 0, 1 or 2",
            }),
        }
    }
}

/// Reads a message header: protocol id 0x82, version 1 and the message type, seqid, name.
#[inline]
pub(in crate::protocol) fn read_message_begin<'a>(
    c: &mut Cursor<'a>,
) -> Result<MessageHeader<'a>, ProtocolError> {
    let start = c.take(2)?;
    let (protocol, version_and_type) = (start[0], start[1]);
    if protocol != COMPACT_PROTOCOL_ID || version_and_type & VERSION_MASK != COMPACT_VERSION {
        return Err(ProtocolError::BadVersion {
            word: u32::from(u16::from_be_bytes([protocol, version_and_type])),
        });
    }
    let kind = MessageType::from_id(version_and_type >> TYPE_SHIFT)?;
    // The seqid is an i32's bits as an unsigned varint, not zigzag.
    let seqid = read_varint_u32(c)? as i32;
    let name = std::str::from_utf8(read_bytes(c)?)?;
    Ok(MessageHeader { name, kind, seqid })
}

/// Reads a list or set header: element type and a length the remaining bytes can hold.
#[inline]
pub(in crate::protocol) fn read_list_begin(
    c: &mut Cursor<'_>,
) -> Result<(TType, usize), ProtocolError> {
    let byte = c.read_u8()?;
    let element = ttype_of(byte & 0x0f)?;
    let size = match byte >> 4 {
        0x0f => read_size(c)?,
        short => u32::from(short),
    };
    let len = c.checked_container_len(size, min_encoded_size(element))?;
    Ok((element, len))
}

/// Reads a map header: key type, value type and a length the remaining bytes can hold.
/// An empty map carries no types on the wire; both are reported as [`TType::Stop`].
#[inline]
pub(in crate::protocol) fn read_map_begin(
    c: &mut Cursor<'_>,
) -> Result<(TType, TType, usize), ProtocolError> {
    let size = read_size(c)?;
    if size == 0 {
        return Ok((TType::Stop, TType::Stop, 0));
    }
    let types = c.read_u8()?;
    let key = ttype_of(types >> 4)?;
    let value = ttype_of(types & 0x0f)?;
    let len = c.checked_container_len(size, min_encoded_size(key) + min_encoded_size(value))?;
    Ok((key, value, len))
}

/// Reads a zigzag varint i16; a value outside i16 is an error.
#[inline]
pub(in crate::protocol) fn read_i16(c: &mut Cursor<'_>) -> Result<i16, ProtocolError> {
    let v = unzigzag_32(read_varint_u32(c)?);
    i16::try_from(v).map_err(|_| ProtocolError::InvalidData {
        reason: "varint overflows i16",
    })
}

/// Reads a zigzag varint i32; a value outside i32 is an error.
#[inline]
pub(in crate::protocol) fn read_i32(c: &mut Cursor<'_>) -> Result<i32, ProtocolError> {
    Ok(unzigzag_32(read_varint_u32(c)?))
}

/// Reads a zigzag varint i64.
#[inline]
pub(in crate::protocol) fn read_i64(c: &mut Cursor<'_>) -> Result<i64, ProtocolError> {
    Ok(unzigzag_64(read_varint(c)?))
}

/// Reads a double from its little-endian IEEE 754 bits.
#[inline]
pub(in crate::protocol) fn read_double(c: &mut Cursor<'_>) -> Result<f64, ProtocolError> {
    Ok(f64::from_bits(u64::from_le_bytes(c.take_array()?)))
}

/// Reads a binary or string's bytes, borrowed from the input.
#[inline]
pub(in crate::protocol) fn read_bytes<'a>(c: &mut Cursor<'a>) -> Result<&'a [u8], ProtocolError> {
    let size = read_size(c)?;
    c.take_string(size)
}

/// Reads an unsigned LEB128 varint of at most 10 bytes; a longer one, or a 10th byte that
/// carries bits past the 64th, is an error.
#[inline]
fn read_varint(c: &mut Cursor<'_>) -> Result<u64, ProtocolError> {
    let mut value = 0u64;
    for i in 0..MAX_VARINT_LEN - 1 {
        let byte = c.read_u8()?;
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    // The 10th byte holds bit 63 alone.
    match c.read_u8()? {
        last @ (0 | 1) => Ok(value | u64::from(last) << 63),
        last if last & 0x80 != 0 => Err(ProtocolError::InvalidData {
            reason: "varint longer than 10 bytes",
        }),
        _ => Err(ProtocolError::InvalidData {
            reason: "varint overflows 64 bits",
        }),
    }
}

#[inline]
fn read_varint_u32(c: &mut Cursor<'_>) -> Result<u32, ProtocolError> {
    u32::try_from(read_varint(c)?).map_err(|_| ProtocolError::InvalidData {
        reason: "varint overflows 32 bits",
    })
}

/// A length or element count: a varint i32, so one with the sign bit set is negative.
#[inline]
fn read_size(c: &mut Cursor<'_>) -> Result<u32, ProtocolError> {
    let size = read_varint_u32(c)?;
    if size > i32::MAX as u32 {
        return Err(ProtocolError::NegativeSize {
            size: i64::from(size as i32),
        });
    }
    Ok(size)
}
