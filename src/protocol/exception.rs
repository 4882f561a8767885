//! Thrift's TApplicationException: the error a server sends instead of a result.

use std::fmt;

use super::encoder::Writer;
use super::error::ProtocolError;
use super::reader::Reader;
use super::ttype::{MessageHeader, MessageType, TType};
use super::value::{Decode, Encode, WireType};

/// The standard TApplicationException kinds, with their wire values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ApplicationExceptionKind {
    /// 0: no more specific kind applies.
    Unknown,
    /// 1: the server has no such method.
    UnknownMethod,
    /// 2: the message type was not expected.
    InvalidMessageType,
    /// 3: the reply names a different method than the call.
    WrongMethodName,
    /// 4: the reply's sequence id does not match the call's.
    BadSequenceId,
    /// 5: the reply carried neither a result nor a declared exception.
    MissingResult,
    /// 6: the handler failed (panicked, or returned an undeclared error).
    InternalError,
    /// 7: the request could not be decoded.
    ProtocolError,
    /// 8: a transform (compression) was not understood.
    InvalidTransform,
    /// 9: the protocol version or id was not understood.
    InvalidProtocol,
    /// 10: the client type is not supported.
    UnsupportedClientType,
    /// A value no kind above has, kept as sent.
    Other(i32),
}

impl ApplicationExceptionKind {
    /// The kind's wire value.
    pub fn value(self) -> i32 {
        match self {
            ApplicationExceptionKind::Unknown => 0,
            ApplicationExceptionKind::UnknownMethod => 1,
            ApplicationExceptionKind::InvalidMessageType => 2,
            ApplicationExceptionKind::WrongMethodName => 3,
            ApplicationExceptionKind::BadSequenceId => 4,
            ApplicationExceptionKind::MissingResult => 5,
            ApplicationExceptionKind::InternalError => 6,
            ApplicationExceptionKind::ProtocolError => 7,
            ApplicationExceptionKind::InvalidTransform => 8,
            ApplicationExceptionKind::InvalidProtocol => 9,
            ApplicationExceptionKind::UnsupportedClientType => 10,
            ApplicationExceptionKind::Other(v) => v,
        }
    }

    /// The kind for a wire value; unknown values are kept as [`ApplicationExceptionKind::Other`].
    pub fn from_value(value: i32) -> Self {
        match value {
            0 => ApplicationExceptionKind::Unknown,
            1 => ApplicationExceptionKind::UnknownMethod,
            2 => ApplicationExceptionKind::InvalidMessageType,
            3 => ApplicationExceptionKind::WrongMethodName,
            4 => ApplicationExceptionKind::BadSequenceId,
            5 => ApplicationExceptionKind::MissingResult,
            6 => ApplicationExceptionKind::InternalError,
            7 => ApplicationExceptionKind::ProtocolError,
            8 => ApplicationExceptionKind::InvalidTransform,
            9 => ApplicationExceptionKind::InvalidProtocol,
            10 => ApplicationExceptionKind::UnsupportedClientType,
            v => ApplicationExceptionKind::Other(v),
        }
    }
}

/// A TApplicationException: message (field 1) and kind (field 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationException {
    /// What went wrong, for people.
    pub message: String,
    /// What went wrong, for programs.
    pub kind: ApplicationExceptionKind,
}

impl ApplicationException {
    /// An exception of `kind` with `message`.
    pub fn new(kind: ApplicationExceptionKind, message: impl Into<String>) -> Self {
        ApplicationException {
            message: message.into(),
            kind,
        }
    }

    /// Appends a whole exception message: header (type EXCEPTION, the call's name and seqid),
    /// then the exception struct.
    pub fn encode_message(&self, out: &mut Writer<'_>, name: &str, seqid: i32) {
        let header = MessageHeader {
            name,
            kind: MessageType::Exception,
            seqid,
        };
        out.write_message_begin(&header);
        self.encode(out);
    }
}

impl ProtocolError {
    /// The exception kind a server sends back when a request fails with this error.
    pub fn exception_kind(&self) -> ApplicationExceptionKind {
        match self {
            ProtocolError::BadVersion { .. } => ApplicationExceptionKind::InvalidProtocol,
            _ => ApplicationExceptionKind::ProtocolError,
        }
    }
}

impl From<&ProtocolError> for ApplicationException {
    fn from(e: &ProtocolError) -> Self {
        ApplicationException::new(e.exception_kind(), e.to_string())
    }
}

impl fmt::Display for ApplicationException {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "application exception ({:?}): {}",
            self.kind, self.message
        )
    }
}

impl std::error::Error for ApplicationException {}

impl WireType for ApplicationException {
    const TTYPE: TType = TType::Struct;
}

impl Encode for ApplicationException {
    fn encode(&self, w: &mut Writer<'_>) {
        w.write_struct_begin();
        w.write_field(1, &self.message);
        w.write_field(2, &self.kind.value());
        w.write_field_stop();
        w.write_struct_end();
    }
}

impl Decode for ApplicationException {
    fn decode(r: &mut Reader<'_>) -> Result<Self, ProtocolError> {
        r.enter()?;
        let mut exception = ApplicationException::new(ApplicationExceptionKind::Unknown, "");
        while let Some((ttype, id)) = r.read_field_begin()? {
            match (id, ttype) {
                (1, TType::String) => exception.message = r.read_str()?.to_owned(),
                (2, TType::I32) => {
                    exception.kind = ApplicationExceptionKind::from_value(r.read_i32()?)
                }
                _ => r.skip(ttype)?,
            }
        }
        r.leave();
        Ok(exception)
    }
}
