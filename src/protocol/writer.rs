//! Encoding: every function appends to a `Vec<u8>` and cannot fail.
//!
//! Lengths above `i32::MAX` cannot be expressed in the binary protocol; encoding such a value
//! panics, as it is a bug in the caller, never something a peer can cause.

use super::ttype::{MessageHeader, TType};

/// The high half of a strict header's first word: binary protocol version 1.
pub const VERSION_1: u32 = 0x8001_0000;

fn len_i32(len: usize) -> i32 {
    i32::try_from(len).expect("thrift binary protocol lengths must fit in an i32")
}

/// Appends a strict message header (version word, name, seqid), as Apache Thrift writes it.
pub fn write_message_begin(out: &mut Vec<u8>, header: &MessageHeader<'_>) {
    write_i32(out, (VERSION_1 | header.kind as u32) as i32);
    write_string(out, header.name);
    write_i32(out, header.seqid);
}

/// Appends a field header: type id and field id.
pub fn write_field_begin(out: &mut Vec<u8>, ttype: TType, id: i16) {
    out.push(ttype.id());
    write_i16(out, id);
}

/// Appends the stop byte that ends a struct.
pub fn write_field_stop(out: &mut Vec<u8>) {
    out.push(TType::Stop.id());
}

/// Appends a list header: element type and length.
pub fn write_list_begin(out: &mut Vec<u8>, element: TType, len: usize) {
    out.push(element.id());
    write_i32(out, len_i32(len));
}

/// Appends a set header: element type and length.
pub fn write_set_begin(out: &mut Vec<u8>, element: TType, len: usize) {
    write_list_begin(out, element, len);
}

/// Appends a map header: key type, value type and length.
pub fn write_map_begin(out: &mut Vec<u8>, key: TType, value: TType, len: usize) {
    out.push(key.id());
    out.push(value.id());
    write_i32(out, len_i32(len));
}

/// Appends a bool as one byte, 1 or 0.
pub fn write_bool(out: &mut Vec<u8>, v: bool) {
    out.push(v as u8);
}

/// Appends a byte.
pub fn write_i8(out: &mut Vec<u8>, v: i8) {
    out.push(v as u8);
}

/// Appends a big-endian i16.
pub fn write_i16(out: &mut Vec<u8>, v: i16) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends a big-endian i32.
pub fn write_i32(out: &mut Vec<u8>, v: i32) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends a big-endian i64.
pub fn write_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends a double as its big-endian IEEE 754 bits.
pub fn write_double(out: &mut Vec<u8>, v: f64) {
    out.extend_from_slice(&v.to_bits().to_be_bytes());
}

/// Appends a uuid: its 16 bytes in RFC 4122 (big-endian) order.
pub fn write_uuid(out: &mut Vec<u8>, v: &[u8; 16]) {
    out.extend_from_slice(v);
}

/// Appends a string: i32 byte length then the UTF-8 bytes.
pub fn write_string(out: &mut Vec<u8>, v: &str) {
    write_binary(out, v.as_bytes());
}

/// Appends a binary: i32 length then the bytes.
pub fn write_binary(out: &mut Vec<u8>, v: &[u8]) {
    write_i32(out, len_i32(v.len()));
    out.extend_from_slice(v);
}
