//! [`Writer`]: encoding into a borrowed buffer in either protocol; nothing here can fail.

use super::binary;
use super::compact::{self, WriteState};
use super::detect::Protocol;
use super::ttype::{MessageHeader, TType};
use super::value::{Encode, WireType};

/// Appends values to a borrowed `Vec<u8>` in the [`Protocol`] it was made with.
///
/// Structs are bracketed by [`write_struct_begin`](Writer::write_struct_begin) and
/// [`write_struct_end`](Writer::write_struct_end): binary writes nothing there, compact saves
/// and restores the last field id (its field ids are deltas). A bool field is announced with
/// `write_field_begin(TType::Bool, id)` and the following [`write_bool`](Writer::write_bool)
/// completes it (compact folds the value into the field header).
///
/// The compact state keeps the default depth's field ids inline, so making a writer never
/// touches the heap; whatever `out` already holds (a frame prefix, say) is kept.
#[derive(Debug)]
pub struct Writer<'a> {
    out: &'a mut Vec<u8>,
    speaks: Speaks,
}

impl<'a> Writer<'a> {
    /// A writer appending to `out` in `protocol`.
    #[inline]
    pub fn new(out: &'a mut Vec<u8>, protocol: Protocol) -> Self {
        // One arm per protocol, so a binary writer is built with its tag alone instead of
        // copying the (unused) compact state into place.
        match protocol {
            Protocol::Binary => Writer {
                out,
                speaks: Speaks::Binary,
            },
            Protocol::Compact => Writer {
                out,
                speaks: Speaks::Compact(WriteState::new()),
            },
        }
    }

    /// A writer appending to `out` in the binary protocol.
    #[inline]
    pub fn binary(out: &'a mut Vec<u8>) -> Self {
        Writer::new(out, Protocol::Binary)
    }

    /// The protocol this writer speaks.
    pub fn protocol(&self) -> Protocol {
        match self.speaks {
            Speaks::Binary => Protocol::Binary,
            Speaks::Compact(_) => Protocol::Compact,
        }
    }

    /// Everything in the buffer, including what was there before this writer.
    pub fn buffer(&self) -> &[u8] {
        self.out
    }

    /// The buffer itself, to reserve, patch or truncate around a message.
    pub fn buffer_mut(&mut self) -> &mut Vec<u8> {
        self.out
    }

    /// The buffer's length in bytes.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// Appends a message header: binary's strict header (version word, name, seqid) as Apache
    /// Thrift writes it, or compact's (0x82, version and type, varint seqid, name).
    #[inline]
    pub fn write_message_begin(&mut self, header: &MessageHeader<'_>) {
        match &mut self.speaks {
            Speaks::Binary => binary::write_message_begin(self.out, header),
            Speaks::Compact(_) => compact::write_message_begin(self.out, header),
        }
    }

    /// Starts a struct's fields.
    #[inline]
    pub fn write_struct_begin(&mut self) {
        if let Speaks::Compact(state) = &mut self.speaks {
            state.write_struct_begin();
        }
    }

    /// Ends a struct, after its [`write_field_stop`](Writer::write_field_stop).
    #[inline]
    pub fn write_struct_end(&mut self) {
        if let Speaks::Compact(state) = &mut self.speaks {
            state.write_struct_end();
        }
    }

    /// Appends a field header: type and id.
    #[inline]
    pub fn write_field_begin(&mut self, ttype: TType, id: i16) {
        match &mut self.speaks {
            Speaks::Binary => binary::write_field_begin(self.out, ttype, id),
            Speaks::Compact(state) => state.write_field_begin(self.out, ttype, id),
        }
    }

    /// Appends the stop byte that ends a struct's fields (0 in both protocols).
    #[inline]
    pub fn write_field_stop(&mut self) {
        self.out.push(TType::Stop.id());
    }

    /// Writes a field header and the value, for required and default-requiredness fields.
    #[inline]
    pub fn write_field<T: Encode + WireType + ?Sized>(&mut self, id: i16, value: &T) {
        self.write_field_begin(T::TTYPE, id);
        value.encode(self);
    }

    /// Writes a field only when it is set, for optional fields.
    #[inline]
    pub fn write_optional_field<T: Encode + WireType>(&mut self, id: i16, value: &Option<T>) {
        if let Some(value) = value {
            self.write_field(id, value);
        }
    }

    /// Appends a list header: element type and length.
    #[inline]
    pub fn write_list_begin(&mut self, element: TType, len: usize) {
        match &mut self.speaks {
            Speaks::Binary => binary::write_list_begin(self.out, element, len),
            Speaks::Compact(_) => compact::write_list_begin(self.out, element, len),
        }
    }

    /// Appends a set header: element type and length (laid out as a list header).
    #[inline]
    pub fn write_set_begin(&mut self, element: TType, len: usize) {
        self.write_list_begin(element, len);
    }

    /// Appends a map header: key type, value type and length.
    #[inline]
    pub fn write_map_begin(&mut self, key: TType, value: TType, len: usize) {
        match &mut self.speaks {
            Speaks::Binary => binary::write_map_begin(self.out, key, value, len),
            Speaks::Compact(_) => compact::write_map_begin(self.out, key, value, len),
        }
    }

    /// Appends a bool: binary's one byte (1 or 0); compact's field header after
    /// `write_field_begin(TType::Bool, ..)`, else one byte (1 true, 2 false).
    #[inline]
    pub fn write_bool(&mut self, v: bool) {
        match &mut self.speaks {
            Speaks::Binary => self.out.push(v as u8),
            Speaks::Compact(state) => state.write_bool(self.out, v),
        }
    }

    /// Appends a byte (the same in both protocols).
    #[inline]
    pub fn write_i8(&mut self, v: i8) {
        self.out.push(v as u8);
    }

    /// Appends an i16: big-endian in binary, a zigzag varint in compact.
    #[inline]
    pub fn write_i16(&mut self, v: i16) {
        match &mut self.speaks {
            Speaks::Binary => binary::write_i16(self.out, v),
            Speaks::Compact(_) => compact::write_i16(self.out, v),
        }
    }

    /// Appends an i32: big-endian in binary, a zigzag varint in compact.
    #[inline]
    pub fn write_i32(&mut self, v: i32) {
        match &mut self.speaks {
            Speaks::Binary => binary::write_i32(self.out, v),
            Speaks::Compact(_) => compact::write_i32(self.out, v),
        }
    }

    /// Appends an i64: big-endian in binary, a zigzag varint in compact.
    #[inline]
    pub fn write_i64(&mut self, v: i64) {
        match &mut self.speaks {
            Speaks::Binary => binary::write_i64(self.out, v),
            Speaks::Compact(_) => compact::write_i64(self.out, v),
        }
    }

    /// Appends a double's IEEE 754 bits: big-endian in binary, little-endian in compact.
    #[inline]
    pub fn write_double(&mut self, v: f64) {
        match &mut self.speaks {
            Speaks::Binary => binary::write_double(self.out, v),
            Speaks::Compact(_) => compact::write_double(self.out, v),
        }
    }

    /// Appends a uuid: its 16 bytes in RFC 4122 (big-endian) order, no length, in both.
    #[inline]
    pub fn write_uuid(&mut self, v: &[u8; 16]) {
        self.out.extend_from_slice(v);
    }

    /// Appends a string: its byte length (i32 in binary, varint in compact) then UTF-8 bytes.
    #[inline]
    pub fn write_string(&mut self, v: &str) {
        self.write_binary(v.as_bytes());
    }

    /// Appends a binary: its length (i32 in binary, varint in compact) then the bytes.
    #[inline]
    pub fn write_binary(&mut self, v: &[u8]) {
        match &mut self.speaks {
            Speaks::Binary => binary::write_binary(self.out, v),
            Speaks::Compact(_) => compact::write_binary(self.out, v),
        }
    }
}

/// The protocol and the state it needs: binary none, so a binary writer only writes the tag.
#[derive(Debug, Clone)]
enum Speaks {
    Binary,
    Compact(WriteState),
}
