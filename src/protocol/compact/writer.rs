//! Compact encoding into an owned buffer; nothing here can fail.
//!
//! Lengths above `i32::MAX` cannot be expressed in the compact protocol either; encoding such a
//! value panics, as it is a bug in the caller, never something a peer can cause.

use super::super::ttype::{MessageHeader, TType};
use super::{
    compact_id, zigzag_32, zigzag_64, FieldIds, COMPACT_PROTOCOL_ID, COMPACT_VERSION, CT_FALSE,
    CT_TRUE, TYPE_SHIFT,
};

fn len_i32(len: usize) -> u32 {
    i32::try_from(len).expect("thrift compact protocol lengths must fit in an i32") as u32
}

/// Appends compact-encoded values to a buffer it owns.
///
/// Structs are bracketed by [`write_struct_begin`](CompactWriter::write_struct_begin) and
/// [`write_struct_end`](CompactWriter::write_struct_end) (the binary protocol writes nothing
/// there; compact saves and restores the last field id). A bool field is announced with
/// `write_field_begin(TType::Bool, id)` and its header is written by the following
/// [`write_bool`](CompactWriter::write_bool), which folds the value into it.
///
/// The buffer and the nesting stack keep their capacity across [`clear`](CompactWriter::clear),
/// so a writer kept per connection allocates only while its largest message grows.
#[derive(Debug, Clone)]
pub struct CompactWriter {
    out: Vec<u8>,
    last_field: i16,
    fields: FieldIds,
    pending_bool: Option<i16>,
}

impl Default for CompactWriter {
    fn default() -> Self {
        CompactWriter::new()
    }
}

impl CompactWriter {
    /// A writer with an empty buffer.
    pub fn new() -> Self {
        CompactWriter::with_buffer(Vec::new())
    }

    /// A writer appending to `out`, which keeps whatever it already holds (a frame prefix, say).
    pub fn with_buffer(out: Vec<u8>) -> Self {
        CompactWriter {
            out,
            last_field: 0,
            fields: FieldIds::new(),
            pending_bool: None,
        }
    }

    /// The bytes written so far.
    pub fn buffer(&self) -> &[u8] {
        &self.out
    }

    /// The buffer itself, to reserve or patch a frame length around the message.
    pub fn buffer_mut(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }

    /// Gives the buffer back.
    pub fn into_buffer(self) -> Vec<u8> {
        self.out
    }

    /// Empties the buffer and forgets all struct state, keeping the capacity.
    pub fn clear(&mut self) {
        self.out.clear();
        self.last_field = 0;
        self.fields.clear();
        self.pending_bool = None;
    }

    /// Appends a message header: protocol id 0x82, version 1 with the message type in the top
    /// three bits, seqid as a varint (its 32 bits unsigned, not zigzag), then the name.
    pub fn write_message_begin(&mut self, header: &MessageHeader<'_>) {
        self.out.push(COMPACT_PROTOCOL_ID);
        self.out
            .push(COMPACT_VERSION | ((header.kind as u8) << TYPE_SHIFT));
        self.write_varint(u64::from(header.seqid as u32));
        self.write_string(header.name);
    }

    /// Starts a struct: its field ids count from 0 again until the matching
    /// [`write_struct_end`](CompactWriter::write_struct_end).
    pub fn write_struct_begin(&mut self) {
        self.fields.push(self.last_field);
        self.last_field = 0;
    }

    /// Ends a struct (after its [`write_field_stop`](CompactWriter::write_field_stop)), going
    /// back to the enclosing struct's field ids.
    pub fn write_struct_end(&mut self) {
        self.last_field = self.fields.pop();
    }

    /// Appends a field header: the id as a delta of 1..=15 from the previous field in the high
    /// nibble when it fits, else the type alone then the id as a zigzag varint. For a bool
    /// field, the header waits for the value (see [`write_bool`](CompactWriter::write_bool)).
    pub fn write_field_begin(&mut self, ttype: TType, id: i16) {
        debug_assert!(self.pending_bool.is_none(), "bool field without a value");
        if ttype == TType::Bool {
            self.pending_bool = Some(id);
        } else {
            self.write_field_header(compact_id(ttype), id);
        }
    }

    fn write_field_header(&mut self, compact_type: u8, id: i16) {
        let delta = i32::from(id) - i32::from(self.last_field);
        if (1..=15).contains(&delta) {
            self.out.push(((delta as u8) << 4) | compact_type);
        } else {
            self.out.push(compact_type);
            self.write_varint(u64::from(zigzag_32(i32::from(id))));
        }
        self.last_field = id;
    }

    /// Appends the stop byte that ends a struct's fields.
    pub fn write_field_stop(&mut self) {
        self.out.push(0);
    }

    /// Appends a list header: the length in the high nibble when below 15, else 0xf then a
    /// varint length; the element type in the low nibble.
    pub fn write_list_begin(&mut self, element: TType, len: usize) {
        let len = len_i32(len);
        let element = compact_id(element);
        if len < 15 {
            self.out.push(((len as u8) << 4) | element);
        } else {
            self.out.push(0xf0 | element);
            self.write_varint(u64::from(len));
        }
    }

    /// Appends a set header, laid out as a list header.
    pub fn write_set_begin(&mut self, element: TType, len: usize) {
        self.write_list_begin(element, len);
    }

    /// Appends a map header: a varint length, then (when not empty) one byte with the key type
    /// in the high nibble and the value type in the low.
    pub fn write_map_begin(&mut self, key: TType, value: TType, len: usize) {
        let len = len_i32(len);
        self.write_varint(u64::from(len));
        if len > 0 {
            self.out.push((compact_id(key) << 4) | compact_id(value));
        }
    }

    /// Appends a bool: folded into the pending field header after
    /// `write_field_begin(TType::Bool, ..)`, else one byte (1 true, 2 false) as a container
    /// element.
    pub fn write_bool(&mut self, v: bool) {
        let compact_type = if v { CT_TRUE } else { CT_FALSE };
        match self.pending_bool.take() {
            Some(id) => self.write_field_header(compact_type, id),
            None => self.out.push(compact_type),
        }
    }

    /// Appends a byte.
    pub fn write_i8(&mut self, v: i8) {
        self.out.push(v as u8);
    }

    /// Appends an i16 as a zigzag varint.
    pub fn write_i16(&mut self, v: i16) {
        self.write_varint(u64::from(zigzag_32(i32::from(v))));
    }

    /// Appends an i32 as a zigzag varint.
    pub fn write_i32(&mut self, v: i32) {
        self.write_varint(u64::from(zigzag_32(v)));
    }

    /// Appends an i64 as a zigzag varint.
    pub fn write_i64(&mut self, v: i64) {
        self.write_varint(zigzag_64(v));
    }

    /// Appends a double as its IEEE 754 bits, little-endian (unlike binary's big-endian).
    pub fn write_double(&mut self, v: f64) {
        self.out.extend_from_slice(&v.to_bits().to_le_bytes());
    }

    /// Appends a uuid: its 16 bytes in RFC 4122 (big-endian) order, no length.
    pub fn write_uuid(&mut self, v: &[u8; 16]) {
        self.out.extend_from_slice(v);
    }

    /// Appends a string: varint byte length then the UTF-8 bytes.
    pub fn write_string(&mut self, v: &str) {
        self.write_binary(v.as_bytes());
    }

    /// Appends a binary: varint length then the bytes.
    pub fn write_binary(&mut self, v: &[u8]) {
        self.write_varint(u64::from(len_i32(v.len())));
        self.out.extend_from_slice(v);
    }

    /// Unsigned LEB128: seven bits per byte, least significant first, high bit set on all but
    /// the last.
    fn write_varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.out.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.out.push(v as u8);
    }
}
