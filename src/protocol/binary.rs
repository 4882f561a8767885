//! Apache's binary protocol: fixed-width big-endian integers, i32 lengths, one-byte type ids.
//! The [`Writer`](super::Writer) and [`Reader`](super::Reader) call these when they speak
//! [`Protocol::Binary`](super::Protocol::Binary); none of it needs state beyond the cursor.
//!
//! Lengths above `i32::MAX` cannot be expressed in the binary protocol; encoding such a value
//! panics, as it is a bug in the caller, never something a peer can cause.

use super::cursor::Cursor;
use super::error::ProtocolError;
use super::ttype::{MessageHeader, MessageType, TType};

/// The high half of a strict header's first word: binary protocol version 1.
pub const VERSION_1: u32 = 0x8001_0000;

const VERSION_MASK: u32 = 0xffff_0000;
const TYPE_MASK: u32 = 0x0000_00ff;

#[inline]
fn len_i32(len: usize) -> i32 {
    i32::try_from(len).expect("thrift binary protocol lengths must fit in an i32")
}

/// A strict message header (version word, name, seqid), as Apache Thrift writes it.
#[inline]
pub(super) fn write_message_begin(out: &mut Vec<u8>, header: &MessageHeader<'_>) {
    write_i32(out, (VERSION_1 | header.kind as u32) as i32);
    write_binary(out, header.name.as_bytes());
    write_i32(out, header.seqid);
}

#[inline]
pub(super) fn write_field_begin(out: &mut Vec<u8>, ttype: TType, id: i16) {
    out.push(ttype.id());
    write_i16(out, id);
}

#[inline]
pub(super) fn write_list_begin(out: &mut Vec<u8>, element: TType, len: usize) {
    out.push(element.id());
    write_i32(out, len_i32(len));
}

#[inline]
pub(super) fn write_map_begin(out: &mut Vec<u8>, key: TType, value: TType, len: usize) {
    out.push(key.id());
    out.push(value.id());
    write_i32(out, len_i32(len));
}

#[inline]
pub(super) fn write_i16(out: &mut Vec<u8>, v: i16) {
    out.extend_from_slice(&v.to_be_bytes());
}

#[inline]
pub(super) fn write_i32(out: &mut Vec<u8>, v: i32) {
    out.extend_from_slice(&v.to_be_bytes());
}

#[inline]
pub(super) fn write_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&v.to_be_bytes());
}

#[inline]
pub(super) fn write_double(out: &mut Vec<u8>, v: f64) {
    out.extend_from_slice(&v.to_bits().to_be_bytes());
}

#[inline]
pub(super) fn write_binary(out: &mut Vec<u8>, v: &[u8]) {
    write_i32(out, len_i32(v.len()));
    out.extend_from_slice(v);
}

/// A size from the wire: an i32 that must not be negative.
#[inline]
fn size(value: i32) -> Result<u32, ProtocolError> {
    u32::try_from(value).map_err(|_| ProtocolError::NegativeSize { size: value.into() })
}

/// A message header, strict (versioned) or old non-strict.
#[inline]
pub(super) fn read_message_begin<'a>(
    c: &mut Cursor<'a>,
) -> Result<MessageHeader<'a>, ProtocolError> {
    let word = read_i32(c)?;
    if word < 0 {
        let word = word as u32;
        if word & VERSION_MASK != VERSION_1 {
            return Err(ProtocolError::BadVersion { word });
        }
        let kind = MessageType::from_id((word & TYPE_MASK) as u8)?;
        let name = std::str::from_utf8(read_bytes(c)?)?;
        let seqid = read_i32(c)?;
        Ok(MessageHeader { name, kind, seqid })
    } else {
        // Non-strict: the first word is the name's length.
        let name_len = c.checked_len(word as u32, 1)?;
        let name = std::str::from_utf8(c.take(name_len)?)?;
        let kind = MessageType::from_id(c.read_u8()?)?;
        let seqid = read_i32(c)?;
        Ok(MessageHeader { name, kind, seqid })
    }
}

#[inline]
pub(super) fn read_field_begin(c: &mut Cursor<'_>) -> Result<Option<(TType, i16)>, ProtocolError> {
    let ttype = TType::from_id(c.read_u8()?)?;
    if ttype == TType::Stop {
        return Ok(None);
    }
    let id = read_i16(c)?;
    Ok(Some((ttype, id)))
}

#[inline]
pub(super) fn read_list_begin(c: &mut Cursor<'_>) -> Result<(TType, usize), ProtocolError> {
    let element = read_element_type(c)?;
    let size = size(read_i32(c)?)?;
    let len = c.checked_container_len(size, element.min_encoded_size())?;
    Ok((element, len))
}

#[inline]
pub(super) fn read_map_begin(c: &mut Cursor<'_>) -> Result<(TType, TType, usize), ProtocolError> {
    let key = read_element_type(c)?;
    let value = read_element_type(c)?;
    let size = size(read_i32(c)?)?;
    let len = c.checked_container_len(size, key.min_encoded_size() + value.min_encoded_size())?;
    Ok((key, value, len))
}

#[inline]
fn read_element_type(c: &mut Cursor<'_>) -> Result<TType, ProtocolError> {
    let id = c.read_u8()?;
    match TType::from_id(id)? {
        // Zero-sized elements would let a peer make a decoder loop without consuming input.
        TType::Stop | TType::Void => Err(ProtocolError::InvalidType { id }),
        ttype => Ok(ttype),
    }
}

#[inline]
pub(super) fn read_i16(c: &mut Cursor<'_>) -> Result<i16, ProtocolError> {
    Ok(i16::from_be_bytes(c.take_array()?))
}

#[inline]
pub(super) fn read_i32(c: &mut Cursor<'_>) -> Result<i32, ProtocolError> {
    Ok(i32::from_be_bytes(c.take_array()?))
}

#[inline]
pub(super) fn read_i64(c: &mut Cursor<'_>) -> Result<i64, ProtocolError> {
    Ok(i64::from_be_bytes(c.take_array()?))
}

#[inline]
pub(super) fn read_double(c: &mut Cursor<'_>) -> Result<f64, ProtocolError> {
    Ok(f64::from_bits(u64::from_be_bytes(c.take_array()?)))
}

#[inline]
pub(super) fn read_bytes<'a>(c: &mut Cursor<'a>) -> Result<&'a [u8], ProtocolError> {
    let size = size(read_i32(c)?)?;
    c.take_string(size)
}
