//! What each call sends and how its reply is checked: `echo(payload)` or `ping()` of
//! idl/echo.thrift, encoded with tether's protocol functions.

use tether::client::ClientError;
use tether::protocol::{
    write_binary, write_field_begin, write_field_stop, Encode, ProtocolError, Reader, TType,
};

/// Why one call did not count as a success. Each kind is a key of the report's `errors`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorKind {
    /// The connection could not be opened.
    Connect,
    /// The socket failed or the peer closed it during the call.
    Io,
    /// No reply within the call timeout.
    Timeout,
    /// The reply broke the protocol (bad header, seqid, or body).
    Protocol,
    /// The server answered with a TApplicationException.
    Application,
    /// The reply decoded but did not carry the payload that was sent.
    Mismatch,
    /// An error kind the client added after this report was written.
    Other,
}

impl ErrorKind {
    /// The stable name used in the text and JSON reports.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Io => "io",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Application => "application",
            ErrorKind::Mismatch => "mismatch",
            ErrorKind::Other => "other",
        }
    }

    /// The kind of a failed call.
    pub fn of(error: &ClientError) -> ErrorKind {
        match error {
            ClientError::Io(_) => ErrorKind::Io,
            ClientError::Timeout => ErrorKind::Timeout,
            ClientError::Protocol(_) => ErrorKind::Protocol,
            ClientError::Application(_) => ErrorKind::Application,
            _ => ErrorKind::Other,
        }
    }
}

/// The call every connection repeats.
#[derive(Debug, Clone)]
pub enum Workload {
    /// `binary echo(1: binary payload)`; the reply must carry the same bytes.
    Echo {
        /// The bytes sent with every call.
        payload: Vec<u8>,
    },
    /// `void ping()`.
    Ping,
}

impl Workload {
    /// An echo of `size` bytes; the bytes vary so a server that mixes up replies is caught.
    pub fn echo(size: usize) -> Workload {
        Workload::Echo {
            payload: (0..size).map(|i| (i % 251) as u8).collect(),
        }
    }

    /// The method name on the wire.
    pub fn method(&self) -> &'static str {
        match self {
            Workload::Echo { .. } => "echo",
            Workload::Ping => "ping",
        }
    }

    /// The argument struct to send.
    pub fn args(&self) -> Args<'_> {
        match self {
            Workload::Echo { payload } => Args::Echo(payload),
            Workload::Ping => Args::Ping,
        }
    }

    /// Checks a reply's result struct (the body after the message header).
    pub fn check_reply(&self, body: &[u8]) -> Result<(), ErrorKind> {
        let mut reader = Reader::new(body);
        match self {
            Workload::Echo { payload } => match read_success(&mut reader) {
                Ok(Some(echoed)) if echoed == payload.as_slice() => Ok(()),
                Ok(_) => Err(ErrorKind::Mismatch),
                Err(_) => Err(ErrorKind::Protocol),
            },
            Workload::Ping => skip_struct(&mut reader).map_err(|_| ErrorKind::Protocol),
        }
    }
}

/// The argument struct of a call, borrowed from the [`Workload`].
#[derive(Debug, Clone, Copy)]
pub enum Args<'a> {
    /// `echo_args { 1: binary payload }`.
    Echo(&'a [u8]),
    /// `ping_args {}`.
    Ping,
}

impl Encode for Args<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        if let Args::Echo(payload) = self {
            write_field_begin(out, TType::String, 1);
            write_binary(out, payload);
        }
        write_field_stop(out);
    }
}

/// Reads a result struct and returns its field 0 (`success`) if it is a binary.
fn read_success<'a>(reader: &mut Reader<'a>) -> Result<Option<&'a [u8]>, ProtocolError> {
    let mut success = None;
    while let Some((ttype, id)) = reader.read_field_begin()? {
        match (id, ttype) {
            (0, TType::String) => success = Some(reader.read_bytes()?),
            _ => reader.skip(ttype)?,
        }
    }
    Ok(success)
}

/// Reads a result struct to its end, ignoring its fields.
fn skip_struct(reader: &mut Reader<'_>) -> Result<(), ProtocolError> {
    while let Some((ttype, _)) = reader.read_field_begin()? {
        reader.skip(ttype)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tether::protocol::encode_to_vec;

    fn result_with_success(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_field_begin(&mut out, TType::String, 0);
        write_binary(&mut out, payload);
        write_field_stop(&mut out);
        out
    }

    #[test]
    fn echo_args_are_field_one_binary() {
        let bytes = encode_to_vec(&Args::Echo(b"hi"));
        assert_eq!(bytes, [11, 0, 1, 0, 0, 0, 2, b'h', b'i', 0]);
        assert_eq!(encode_to_vec(&Args::Ping), [0]);
    }

    #[test]
    fn echo_reply_must_carry_the_payload() {
        let work = Workload::echo(300);
        let Workload::Echo { payload } = &work else {
            unreachable!()
        };
        assert_eq!(work.check_reply(&result_with_success(payload)), Ok(()));
        let mut other = payload.clone();
        other[299] ^= 1;
        assert_eq!(
            work.check_reply(&result_with_success(&other)),
            Err(ErrorKind::Mismatch)
        );
        assert_eq!(work.check_reply(&[0]), Err(ErrorKind::Mismatch));
        assert_eq!(work.check_reply(&[11, 0]), Err(ErrorKind::Protocol));
    }

    #[test]
    fn ping_reply_is_any_struct() {
        assert_eq!(Workload::Ping.check_reply(&[0]), Ok(()));
        assert_eq!(Workload::Ping.check_reply(&[]), Err(ErrorKind::Protocol));
    }
}
