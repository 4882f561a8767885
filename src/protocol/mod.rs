//! The Thrift binary and compact protocols, without I/O: encode into `Vec<u8>`, decode from
//! `&[u8]`.
//!
//! Decoding never trusts a size from the wire: each is checked against the bytes that remain
//! and the [`Limits`] before it is used, so hostile input yields a [`ProtocolError`], never a
//! panic, a hang or an allocation larger than the input.

mod compact;
mod error;
mod exception;
mod limits;
mod reader;
mod ttype;
mod value;
mod writer;

#[cfg(test)]
mod tests;

pub use compact::{CompactReader, CompactWriter, COMPACT_PROTOCOL_ID, COMPACT_VERSION};
pub use error::ProtocolError;
pub use exception::{ApplicationException, ApplicationExceptionKind};
pub use limits::{Limits, DEFAULT_MAX_DEPTH, DEFAULT_MAX_FRAME};
pub use reader::Reader;
pub use ttype::{MessageHeader, MessageType, TType};
/// Thrift `uuid` values: the `uuid` crate's type, re-exported so generated code can name it.
pub use uuid::Uuid;
pub use value::{
    decode_from, decode_with_limits, encode_to_vec, write_field, write_optional_field, Decode,
    Encode, WireType,
};
pub use writer::{
    write_binary, write_bool, write_double, write_field_begin, write_field_stop, write_i16,
    write_i32, write_i64, write_i8, write_list_begin, write_map_begin, write_message_begin,
    write_set_begin, write_string, write_uuid, VERSION_1,
};
