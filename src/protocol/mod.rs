//! The Thrift binary and compact protocols, without I/O: a [`Writer`] encodes into a borrowed
//! `Vec<u8>`, a [`Reader`] decodes from a `&[u8]`; each carries the [`Protocol`] it speaks, so
//! [`Encode`] and [`Decode`] impls (generated code included) never name one.
//!
//! Decoding never trusts a size from the wire: each is checked against the bytes that remain
//! and the [`Limits`] before it is used, so hostile input yields a [`ProtocolError`], never a
//! panic, a hang or an allocation larger than the input.

mod binary;
mod compact;
mod cursor;
mod detect;
mod encoder;
mod error;
mod exception;
mod limits;
mod reader;
mod ttype;
mod value;

#[cfg(test)]
mod tests;

pub use binary::VERSION_1;
pub use compact::{COMPACT_PROTOCOL_ID, COMPACT_VERSION};
pub use detect::Protocol;
pub use encoder::Writer;
pub use error::ProtocolError;
pub use exception::{ApplicationException, ApplicationExceptionKind};
pub use limits::{Limits, DEFAULT_MAX_DEPTH, DEFAULT_MAX_FRAME};
pub use reader::Reader;
pub use ttype::{MessageHeader, MessageType, TType};
/// Thrift `uuid` values: the `uuid` crate's type, re-exported so generated code can name it.
pub use uuid::Uuid;
pub use value::{
    decode_from, decode_with_limits, decode_with_protocol, encode_to_vec, encode_with_protocol,
    Decode, Encode, WireType,
};
