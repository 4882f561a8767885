//! [`Reader`]: decoding from a byte slice in either protocol, every length checked before use.

use super::binary;
use super::compact::{self, ReadState};
use super::cursor::Cursor;
use super::detect::Protocol;
use super::error::ProtocolError;
use super::limits::Limits;
use super::ttype::{MessageHeader, TType};

/// A cursor over one message's bytes, in the [`Protocol`] it was made with.
///
/// Strings and binaries are borrowed from the input. Sizes from the wire are checked against
/// the bytes that remain (times the smallest encoding of an element, for containers) and against
/// [`Limits`] before anything is allocated, so memory grows only with bytes actually received.
/// Compact's state (the last field id per struct, a bool field's value) keeps the default
/// depth inline, so with default limits the reader itself never allocates.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    cursor: Cursor<'a>,
    speaks: Speaks,
}

impl<'a> Reader<'a> {
    /// A binary reader over `buf` with the default [`Limits`].
    #[inline]
    pub fn new(buf: &'a [u8]) -> Self {
        Reader::with_limits(buf, Limits::default())
    }

    /// A binary reader over `buf` with the given limits.
    #[inline]
    pub fn with_limits(buf: &'a [u8], limits: Limits) -> Self {
        Reader::with_protocol(buf, Protocol::Binary, limits)
    }

    /// A reader over `buf` in `protocol` with the given limits.
    #[inline]
    pub fn with_protocol(buf: &'a [u8], protocol: Protocol, limits: Limits) -> Self {
        let cursor = Cursor::new(buf, limits);
        // One arm per protocol, so a binary reader is built with its tag alone instead of
        // copying the (unused) compact state into place.
        match protocol {
            Protocol::Binary => Reader {
                cursor,
                speaks: Speaks::Binary,
            },
            Protocol::Compact => Reader {
                cursor,
                speaks: Speaks::Compact(ReadState::new()),
            },
        }
    }

    /// The protocol this reader speaks.
    pub fn protocol(&self) -> Protocol {
        match self.speaks {
            Speaks::Binary => Protocol::Binary,
            Speaks::Compact(_) => Protocol::Compact,
        }
    }

    /// How many bytes have been consumed.
    pub fn position(&self) -> usize {
        self.cursor.position()
    }

    /// How many bytes are left.
    pub fn remaining(&self) -> usize {
        self.cursor.remaining()
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.cursor.limits
    }

    /// Enters one level of struct or container nesting; fails past `max_depth`. Decoders call
    /// this on entering a struct and [`Reader::leave`] on leaving it; in compact it also starts
    /// the struct's field ids from 0 and saves the enclosing struct's.
    #[inline]
    pub fn enter(&mut self) -> Result<(), ProtocolError> {
        self.cursor.enter()?;
        if let Speaks::Compact(state) = &mut self.speaks {
            state.enter();
        }
        Ok(())
    }

    /// Leaves one level entered with [`Reader::enter`].
    #[inline]
    pub fn leave(&mut self) {
        self.cursor.leave();
        if let Speaks::Compact(state) = &mut self.speaks {
            state.leave();
        }
    }

    /// Reads a message header: binary strict (versioned) or old non-strict, or compact's.
    pub fn read_message_begin(&mut self) -> Result<MessageHeader<'a>, ProtocolError> {
        match &mut self.speaks {
            Speaks::Binary => binary::read_message_begin(&mut self.cursor),
            Speaks::Compact(_) => compact::read_message_begin(&mut self.cursor),
        }
    }

    /// Reads a field header; `None` at the stop byte that ends a struct. In compact, after a
    /// bool field's header the value is already known and [`Reader::read_bool`] returns it.
    #[inline]
    pub fn read_field_begin(&mut self) -> Result<Option<(TType, i16)>, ProtocolError> {
        match &mut self.speaks {
            Speaks::Binary => binary::read_field_begin(&mut self.cursor),
            Speaks::Compact(state) => state.read_field_begin(&mut self.cursor),
        }
    }

    /// Reads a list header: element type and a length the remaining bytes can hold.
    pub fn read_list_begin(&mut self) -> Result<(TType, usize), ProtocolError> {
        match &mut self.speaks {
            Speaks::Binary => binary::read_list_begin(&mut self.cursor),
            Speaks::Compact(_) => compact::read_list_begin(&mut self.cursor),
        }
    }

    /// Reads a set header: element type and a length the remaining bytes can hold.
    pub fn read_set_begin(&mut self) -> Result<(TType, usize), ProtocolError> {
        self.read_list_begin()
    }

    /// Reads a map header: key type, value type and a length the remaining bytes can hold.
    /// An empty compact map carries no types on the wire; both are reported as [`TType::Stop`].
    pub fn read_map_begin(&mut self) -> Result<(TType, TType, usize), ProtocolError> {
        match &mut self.speaks {
            Speaks::Binary => binary::read_map_begin(&mut self.cursor),
            Speaks::Compact(_) => compact::read_map_begin(&mut self.cursor),
        }
    }

    /// Reads a bool. Binary: any non-zero byte is true, as in Apache Thrift. Compact: the value
    /// of the field header just read, else one element byte (1 true; 0 or 2 false; anything
    /// else an error).
    #[inline]
    pub fn read_bool(&mut self) -> Result<bool, ProtocolError> {
        match &mut self.speaks {
            Speaks::Binary => Ok(self.cursor.read_u8()? != 0),
            Speaks::Compact(state) => state.read_bool(&mut self.cursor),
        }
    }

    /// Reads a byte (the same in both protocols).
    #[inline]
    pub fn read_i8(&mut self) -> Result<i8, ProtocolError> {
        Ok(self.cursor.read_u8()? as i8)
    }

    /// Reads an i16: big-endian in binary, a zigzag varint within i16 in compact.
    #[inline]
    pub fn read_i16(&mut self) -> Result<i16, ProtocolError> {
        match &mut self.speaks {
            Speaks::Binary => binary::read_i16(&mut self.cursor),
            Speaks::Compact(_) => compact::read_i16(&mut self.cursor),
        }
    }

    /// Reads an i32: big-endian in binary, a zigzag varint within i32 in compact.
    #[inline]
    pub fn read_i32(&mut self) -> Result<i32, ProtocolError> {
        match &mut self.speaks {
            Speaks::Binary => binary::read_i32(&mut self.cursor),
            Speaks::Compact(_) => compact::read_i32(&mut self.cursor),
        }
    }

    /// Reads an i64: big-endian in binary, a zigzag varint in compact.
    #[inline]
    pub fn read_i64(&mut self) -> Result<i64, ProtocolError> {
        match &mut self.speaks {
            Speaks::Binary => binary::read_i64(&mut self.cursor),
            Speaks::Compact(_) => compact::read_i64(&mut self.cursor),
        }
    }

    /// Reads a double from its IEEE 754 bits: big-endian in binary, little-endian in compact.
    #[inline]
    pub fn read_double(&mut self) -> Result<f64, ProtocolError> {
        match &mut self.speaks {
            Speaks::Binary => binary::read_double(&mut self.cursor),
            Speaks::Compact(_) => compact::read_double(&mut self.cursor),
        }
    }

    /// Reads a uuid: 16 bytes in RFC 4122 (big-endian) order, in both protocols.
    #[inline]
    pub fn read_uuid(&mut self) -> Result<[u8; 16], ProtocolError> {
        self.cursor.take_array()
    }

    /// Reads a string, borrowed from the input; bytes that are not UTF-8 are an error.
    #[inline]
    pub fn read_str(&mut self) -> Result<&'a str, ProtocolError> {
        Ok(std::str::from_utf8(self.read_bytes()?)?)
    }

    /// Reads a binary, borrowed from the input.
    #[inline]
    pub fn read_bytes(&mut self) -> Result<&'a [u8], ProtocolError> {
        match &mut self.speaks {
            Speaks::Binary => binary::read_bytes(&mut self.cursor),
            Speaks::Compact(_) => compact::read_bytes(&mut self.cursor),
        }
    }

    /// Skips one value of type `ttype`, whatever it holds, within the depth limit. Every value
    /// skip accepts, the typed reads accept too, and the other way round.
    pub fn skip(&mut self, ttype: TType) -> Result<(), ProtocolError> {
        match ttype {
            TType::Bool => self.read_bool().map(drop),
            TType::Byte => self.read_i8().map(drop),
            TType::I16 => self.read_i16().map(drop),
            TType::I32 => self.read_i32().map(drop),
            TType::I64 => self.read_i64().map(drop),
            TType::Double => self.read_double().map(drop),
            TType::Uuid => self.read_uuid().map(drop),
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
}

/// The protocol and the state it needs: binary none, so a binary reader only writes the tag.
#[derive(Debug, Clone)]
enum Speaks {
    Binary,
    Compact(ReadState),
}
