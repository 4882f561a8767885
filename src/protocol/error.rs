//! The one error type of the wire layer.

use std::fmt;
use std::str::Utf8Error;

/// Why bytes could not be decoded (or a value could not be encoded) as Thrift binary or compact
/// protocol.
///
/// Every variant maps to the [`ApplicationExceptionKind`](super::ApplicationExceptionKind) a
/// server answers with ([`ProtocolError::exception_kind`], beside the exception types so
/// imports run one way: exceptions know errors, errors do not know exceptions).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A size or length on the wire was negative.
    NegativeSize {
        /// The value that was read.
        size: i64,
    },
    /// A size on the wire exceeded a configured limit or the bytes that remain.
    SizeLimit {
        /// The size that was declared (elements or bytes).
        size: u64,
        /// The limit it broke.
        limit: u64,
    },
    /// Structs, containers or skips nested deeper than the configured maximum.
    DepthLimit {
        /// The maximum depth in force.
        limit: u32,
    },
    /// A message header carried a protocol or version other than binary or compact version 1.
    BadVersion {
        /// The first word of a binary header, or the first two bytes of a compact one.
        word: u32,
    },
    /// A value broke a rule of the protocol or of the schema (bad message type, missing field...).
    InvalidData {
        /// What was wrong.
        reason: &'static str,
    },
    /// A type id on the wire is not a Thrift type.
    InvalidType {
        /// The type id that was read.
        id: u8,
    },
    /// The input ended in the middle of a value.
    UnexpectedEnd {
        /// How many bytes were missing at least.
        needed: usize,
    },
    /// A string field held bytes that are not UTF-8.
    InvalidUtf8(Utf8Error),
    /// A required field was absent from a struct.
    MissingField {
        /// The struct's name.
        strukt: &'static str,
        /// The field's name.
        field: &'static str,
    },
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::NegativeSize { size } => write!(f, "negative size {size}"),
            ProtocolError::SizeLimit { size, limit } => {
                write!(f, "size {size} exceeds limit {limit}")
            }
            ProtocolError::DepthLimit { limit } => write!(f, "nesting deeper than {limit}"),
            ProtocolError::BadVersion { word } => write!(f, "bad protocol version {word:#010x}"),
            ProtocolError::InvalidData { reason } => write!(f, "invalid data: {reason}"),
            ProtocolError::InvalidType { id } => write!(f, "invalid type id {id}"),
            ProtocolError::UnexpectedEnd { needed } => {
                write!(f, "unexpected end of input, {needed} more bytes needed")
            }
            ProtocolError::InvalidUtf8(_) => f.write_str("string is not valid utf-8"),
            ProtocolError::MissingField { strukt, field } => {
                write!(f, "required field {strukt}.{field} is missing")
            }
        }
    }
}

impl std::error::Error for ProtocolError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProtocolError::InvalidUtf8(e) => Some(e),
            _ => None,
        }
    }
}

impl From<Utf8Error> for ProtocolError {
    fn from(e: Utf8Error) -> Self {
        ProtocolError::InvalidUtf8(e)
    }
}
