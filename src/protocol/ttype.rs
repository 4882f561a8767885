//! Type ids, message types and the message header.

use super::error::ProtocolError;

/// A Thrift type id as it appears on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TType {
    /// Marks the end of a struct's fields.
    Stop,
    /// `void`; only legal in skipped positions of old peers, never as a value.
    Void,
    /// `bool`, one byte.
    Bool,
    /// `byte` (`i8`), one byte.
    Byte,
    /// `double`, eight bytes IEEE 754.
    Double,
    /// `i16`.
    I16,
    /// `i32`.
    I32,
    /// `i64`.
    I64,
    /// `string` and `binary`: an i32 length then bytes.
    String,
    /// A struct, union, exception or argument/result struct.
    Struct,
    /// `map<K, V>`.
    Map,
    /// `set<T>`.
    Set,
    /// `list<T>`.
    List,
    /// `uuid`: 16 bytes, big-endian (RFC 4122 byte order) in both protocols.
    Uuid,
}

impl TType {
    /// The type id byte.
    pub const fn id(self) -> u8 {
        match self {
            TType::Stop => 0,
            TType::Void => 1,
            TType::Bool => 2,
            TType::Byte => 3,
            TType::Double => 4,
            TType::I16 => 6,
            TType::I32 => 8,
            TType::I64 => 10,
            TType::String => 11,
            TType::Struct => 12,
            TType::Map => 13,
            TType::Set => 14,
            TType::List => 15,
            TType::Uuid => 16,
        }
    }

    /// Reads a type id byte; ids Thrift does not define are an error.
    pub fn from_id(id: u8) -> Result<TType, ProtocolError> {
        Ok(match id {
            0 => TType::Stop,
            1 => TType::Void,
            2 => TType::Bool,
            3 => TType::Byte,
            4 => TType::Double,
            6 => TType::I16,
            8 => TType::I32,
            10 => TType::I64,
            11 => TType::String,
            12 => TType::Struct,
            13 => TType::Map,
            14 => TType::Set,
            15 => TType::List,
            16 => TType::Uuid,
            _ => return Err(ProtocolError::InvalidType { id }),
        })
    }

    /// The fewest bytes one value of this type takes on the wire; used to reject container sizes
    /// that the remaining input cannot possibly hold before anything is allocated.
    pub const fn min_encoded_size(self) -> usize {
        match self {
            TType::Stop | TType::Void => 0,
            TType::Bool | TType::Byte => 1,
            TType::I16 => 2,
            TType::I32 => 4,
            TType::I64 | TType::Double => 8,
            TType::String => 4,
            // The stop byte of an empty struct.
            TType::Struct => 1,
            // Key type, value type, i32 size.
            TType::Map => 6,
            // Element type, i32 size.
            TType::Set | TType::List => 5,
            TType::Uuid => 16,
        }
    }
}

/// The kind of a message, the low byte of a strict header's first word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// A request that expects a reply.
    Call = 1,
    /// A normal reply (the result struct, which may hold a declared exception).
    Reply = 2,
    /// A TApplicationException instead of a result.
    Exception = 3,
    /// A request that expects no reply.
    Oneway = 4,
}

impl MessageType {
    /// Reads a message type byte; anything outside 1..=4 is an error.
    pub fn from_id(id: u8) -> Result<MessageType, ProtocolError> {
        Ok(match id {
            1 => MessageType::Call,
            2 => MessageType::Reply,
            3 => MessageType::Exception,
            4 => MessageType::Oneway,
            _ => {
                return Err(ProtocolError::InvalidData {
                    reason: "unknown message type",
                })
            }
        })
    }
}

/// The header in front of every message: method name, message type and sequence id.
///
/// The name borrows from the decoded input, so reading a header allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageHeader<'a> {
    /// The method name, possibly `Service:method` for Apache's multiplexed protocol.
    pub name: &'a str,
    /// Call, reply, exception or oneway.
    pub kind: MessageType,
    /// The sequence id a reply must echo.
    pub seqid: i32,
}
