//! Compact encoding; nothing here can fail.
//!
//! Lengths above `i32::MAX` cannot be expressed in the compact protocol either; encoding such a
//! value panics, as it is a bug in the caller, never something a peer can cause.

use super::super::ttype::{MessageHeader, TType};
use super::{
    compact_id, zigzag_32, zigzag_64, FieldIds, COMPACT_PROTOCOL_ID, COMPACT_VERSION, CT_FALSE,
    CT_TRUE, TYPE_SHIFT,
};

#[inline]
fn len_i32(len: usize) -> u32 {
    i32::try_from(len).expect("thrift compact protocol lengths must fit in an i32") as u32
}

/// What a [`Writer`](super::super::Writer) speaking compact remembers between calls.
///
/// Structs are bracketed by `write_struct_begin` and `write_struct_end` (the binary protocol
/// writes nothing there; compact saves and restores the last field id). A bool field is
/// announced with `write_field_begin(TType::Bool, id)` and its header is written by the
/// following `write_bool`, which folds the value into it.
#[derive(Debug, Clone)]
pub(in crate::protocol) struct WriteState {
    last_field: i16,
    fields: FieldIds,
    pending_bool: Option<i16>,
}

impl WriteState {
    #[inline]
    pub(in crate::protocol) fn new() -> Self {
        WriteState {
            last_field: 0,
            fields: FieldIds::new(),
            pending_bool: None,
        }
    }

    /// Starts a struct: its field ids count from 0 again until the matching `write_struct_end`.
    #[inline]
    pub(in crate::protocol) fn write_struct_begin(&mut self) {
        self.fields.push(self.last_field);
        self.last_field = 0;
    }

    /// Ends a struct (after its stop byte), going back to the enclosing struct's field ids.
    #[inline]
    pub(in crate::protocol) fn write_struct_end(&mut self) {
        self.last_field = self.fields.pop();
    }

    /// Appends a field header: the id as a delta of 1..=15 from the previous field in the high
    /// nibble when it fits, else the type alone then the id as a zigzag varint. For a bool
    /// field, the header waits for the value (see `write_bool`).
    #[inline]
    pub(in crate::protocol) fn write_field_begin(
        &mut self,
        out: &mut Vec<u8>,
        ttype: TType,
        id: i16,
    ) {
        debug_assert!(self.pending_bool.is_none(), "bool field without a value");
        if ttype == TType::Bool {
            self.pending_bool = Some(id);
        } else {
            self.write_field_header(out, compact_id(ttype), id);
        }
    }

    #[inline]
    fn write_field_header(&mut self, out: &mut Vec<u8>, compact_type: u8, id: i16) {
        let delta = i32::from(id) - i32::from(self.last_field);
        if (1..=15).contains(&delta) {
            out.push(((delta as u8) << 4) | compact_type);
        } else {
            out.push(compact_type);
            write_varint(out, u64::from(zigzag_32(i32::from(id))));
        }
        self.last_field = id;
    }

    /// Appends a bool: folded into the pending field header after
    /// `write_field_begin(TType::Bool, ..)`, else one byte (1 true, 2 false) as a container
    /// element.
    #[inline]
    pub(in crate::protocol) fn write_bool(&mut self, out: &mut Vec<u8>, v: bool) {
        let compact_type = if v { CT_TRUE } else { CT_FALSE };
        match self.pending_bool.take() {
            Some(id) => self.write_field_header(out, compact_type, id),
            None => out.push(compact_type),
        }
    }
}

/// Appends a message header: protocol id 0x82, version 1 with the message type in the top
/// three bits, seqid as a varint (its 32 bits unsigned, not zigzag), then the name.
#[inline]
pub(in crate::protocol) fn write_message_begin(out: &mut Vec<u8>, header: &MessageHeader<'_>) {
    out.push(COMPACT_PROTOCOL_ID);
    out.push(COMPACT_VERSION | ((header.kind as u8) << TYPE_SHIFT));
    write_varint(out, u64::from(header.seqid as u32));
    write_binary(out, header.name.as_bytes());
}

/// Appends a list or set header: the length in the high nibble when below 15, else 0xf then a
/// varint length; the element type in the low nibble.
#[inline]
pub(in crate::protocol) fn write_list_begin(out: &mut Vec<u8>, element: TType, len: usize) {
    let len = len_i32(len);
    let element = compact_id(element);
    if len < 15 {
        out.push(((len as u8) << 4) | element);
    } else {
        out.push(0xf0 | element);
        write_varint(out, u64::from(len));
    }
}

/// Appends a map header: a varint length, then (when not empty) one byte with the key type in
/// the high nibble and the value type in the low.
#[inline]
pub(in crate::protocol) fn write_map_begin(
    out: &mut Vec<u8>,
    key: TType,
    value: TType,
    len: usize,
) {
    let len = len_i32(len);
    write_varint(out, u64::from(len));
    if len > 0 {
        out.push((compact_id(key) << 4) | compact_id(value));
    }
}

/// Appends an i16 as a zigzag varint.
#[inline]
pub(in crate::protocol) fn write_i16(out: &mut Vec<u8>, v: i16) {
    write_varint(out, u64::from(zigzag_32(i32::from(v))));
}

/// Appends an i32 as a zigzag varint.
#[inline]
pub(in crate::protocol) fn write_i32(out: &mut Vec<u8>, v: i32) {
    write_varint(out, u64::from(zigzag_32(v)));
}

/// Appends an i64 as a zigzag varint.
#[inline]
pub(in crate::protocol) fn write_i64(out: &mut Vec<u8>, v: i64) {
    write_varint(out, zigzag_64(v));
}

/// Appends a double as its IEEE 754 bits, little-endian (unlike binary's big-endian).
#[inline]
pub(in crate::protocol) fn write_double(out: &mut Vec<u8>, v: f64) {
    out.extend_from_slice(&v.to_bits().to_le_bytes());
}

/// Appends a binary or string: varint length then the bytes.
#[inline]
pub(in crate::protocol) fn write_binary(out: &mut Vec<u8>, v: &[u8]) {
    write_varint(out, u64::from(len_i32(v.len())));
    out.extend_from_slice(v);
}

/// Unsigned LEB128: seven bits per byte, least significant first, high bit set on all but the
/// last.
#[inline]
fn write_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}
