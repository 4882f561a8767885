//! The call trait generated clients are written against, and the client's error type.

use std::fmt;
use std::io;

use crate::protocol::{ApplicationException, Encode, Limits, ProtocolError};
use crate::transport::HeaderError;

/// Something that carries calls to a server: a single connection, a pool, a multiplexed
/// connection. Generated clients are generic over it.
pub trait Channel: Send + Sync {
    /// Sends a call of `method` with the encoded argument struct `args` and returns the reply
    /// message's body (the result struct, after the header), once its header has been checked
    /// (type REPLY, same name, same seqid). An EXCEPTION reply is returned as
    /// [`ClientError::Application`].
    fn call(&self, method: &str, args: &dyn Encode) -> Result<Vec<u8>, ClientError>;

    /// Sends a oneway message; returns once it is written. No reply is read.
    fn send_oneway(&self, method: &str, args: &dyn Encode) -> Result<(), ClientError>;

    /// The limits a reply's result struct is decoded with: the channel's configured ones
    /// ([`ConnectionConfig::limits`](super::ConnectionConfig::limits)). The default, for
    /// channels without a configuration, is [`Limits::default`].
    fn limits(&self) -> Limits {
        Limits::default()
    }
}

/// A shared channel is a channel: `EchoClient<Arc<MuxConnection>>`, `EchoClient<&Pool>`.
impl<C: Channel + ?Sized> Channel for std::sync::Arc<C> {
    fn call(&self, method: &str, args: &dyn Encode) -> Result<Vec<u8>, ClientError> {
        (**self).call(method, args)
    }

    fn send_oneway(&self, method: &str, args: &dyn Encode) -> Result<(), ClientError> {
        (**self).send_oneway(method, args)
    }

    fn limits(&self) -> Limits {
        (**self).limits()
    }
}

impl<C: Channel + ?Sized> Channel for &C {
    fn call(&self, method: &str, args: &dyn Encode) -> Result<Vec<u8>, ClientError> {
        (**self).call(method, args)
    }

    fn send_oneway(&self, method: &str, args: &dyn Encode) -> Result<(), ClientError> {
        (**self).send_oneway(method, args)
    }

    fn limits(&self) -> Limits {
        (**self).limits()
    }
}

impl<C: Channel + ?Sized> Channel for Box<C> {
    fn call(&self, method: &str, args: &dyn Encode) -> Result<Vec<u8>, ClientError> {
        (**self).call(method, args)
    }

    fn send_oneway(&self, method: &str, args: &dyn Encode) -> Result<(), ClientError> {
        (**self).send_oneway(method, args)
    }

    fn limits(&self) -> Limits {
        (**self).limits()
    }
}

/// Why a call failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientError {
    /// The socket failed (connect, write, read, or the peer closed it).
    Io(io::Error),
    /// The call's deadline passed before its reply arrived.
    Timeout,
    /// The reply could not be decoded, or broke the protocol (wrong seqid, name or type).
    Protocol(ProtocolError),
    /// The server answered with a TApplicationException.
    Application(ApplicationException),
    /// No address of the endpoint accepted a connection within the connect timeout.
    Connect(io::Error),
    /// The reply carried another call's sequence id; the connection was dropped.
    SeqidMismatch {
        /// The sequence id of the call.
        expected: i32,
        /// The sequence id the reply carried.
        received: i32,
    },
    /// The pool had no free connection before the wait timeout (max_active reached).
    PoolTimeout,
    /// The reply's THeader frame could not be opened (an unknown transform, corrupt zlib).
    Header(HeaderError),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Io(_) => f.write_str("i/o error"),
            ClientError::Timeout => f.write_str("call timed out"),
            ClientError::Protocol(_) => f.write_str("protocol error in reply"),
            ClientError::Application(e) => write!(f, "server exception: {}", e.message),
            ClientError::Connect(_) => f.write_str("could not connect"),
            ClientError::SeqidMismatch { expected, received } => {
                write!(
                    f,
                    "reply seqid {received} does not match call seqid {expected}"
                )
            }
            ClientError::PoolTimeout => f.write_str("no pooled connection became free in time"),
            ClientError::Header(_) => f.write_str("unreadable theader frame in reply"),
        }
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClientError::Io(e) => Some(e),
            ClientError::Protocol(e) => Some(e),
            ClientError::Header(e) => Some(e),
            ClientError::Application(e) => Some(e),
            ClientError::Connect(e) => Some(e),
            ClientError::Timeout | ClientError::SeqidMismatch { .. } | ClientError::PoolTimeout => {
                None
            }
        }
    }
}

impl From<io::Error> for ClientError {
    fn from(e: io::Error) -> Self {
        ClientError::Io(e)
    }
}

impl From<ProtocolError> for ClientError {
    fn from(e: ProtocolError) -> Self {
        ClientError::Protocol(e)
    }
}

impl From<ApplicationException> for ClientError {
    fn from(e: ApplicationException) -> Self {
        ClientError::Application(e)
    }
}
