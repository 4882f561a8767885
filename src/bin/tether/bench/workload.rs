//! What each call sends and how its reply is checked: `echo(payload)` or `ping()` of
//! idl/echo.thrift, with the argument and result structs generated from it.

use tether::client::ClientError;
use tether::protocol::{decode_with_protocol, Encode, Limits, Protocol};
use tether::services::echo::{EchoEchoArgs, EchoEchoResult, EchoPingArgs, EchoPingResult};

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
    /// An open-loop call that was due in the measured phase but never sent: the thread was
    /// still waiting on an earlier call when the phase ended.
    Late,
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
            ErrorKind::Late => "late",
            ErrorKind::Other => "other",
        }
    }

    /// The kind of a failed call.
    pub fn of(error: &ClientError) -> ErrorKind {
        match error {
            ClientError::Connect(_) => ErrorKind::Connect,
            ClientError::Io(_) => ErrorKind::Io,
            ClientError::Timeout => ErrorKind::Timeout,
            ClientError::Protocol(_) | ClientError::SeqidMismatch { .. } => ErrorKind::Protocol,
            ClientError::Application(_) => ErrorKind::Application,
            _ => ErrorKind::Other,
        }
    }
}

/// The call every connection repeats, with its arguments encoded by the generated Echo code.
#[derive(Debug, Clone)]
pub enum Workload {
    /// `binary echo(1: binary payload)`; the reply must carry the same bytes.
    Echo(EchoEchoArgs),
    /// `void ping()`.
    Ping(EchoPingArgs),
}

impl Workload {
    /// An echo of `size` bytes; the bytes vary so a server that mixes up replies is caught.
    pub fn echo(size: usize) -> Workload {
        Workload::Echo(EchoEchoArgs {
            payload: (0..size).map(|i| (i % 251) as u8).collect(),
        })
    }

    /// A ping.
    pub fn ping() -> Workload {
        Workload::Ping(EchoPingArgs {})
    }

    /// The method name on the wire.
    pub fn method(&self) -> &'static str {
        match self {
            Workload::Echo(_) => "echo",
            Workload::Ping(_) => "ping",
        }
    }

    /// The argument struct to send (built once, encoded for every call).
    pub fn args(&self) -> &dyn Encode {
        match self {
            Workload::Echo(args) => args,
            Workload::Ping(args) => args,
        }
    }

    /// Checks a reply's result struct (the body after the message header).
    pub fn check_reply(&self, body: &[u8], protocol: Protocol) -> Result<(), ErrorKind> {
        let limits = Limits::default();
        match self {
            Workload::Echo(args) => {
                match decode_with_protocol::<EchoEchoResult>(body, protocol, limits) {
                    Ok(EchoEchoResult {
                        success: Some(echoed),
                    }) if echoed == args.payload => Ok(()),
                    Ok(_) => Err(ErrorKind::Mismatch),
                    Err(_) => Err(ErrorKind::Protocol),
                }
            }
            Workload::Ping(_) => decode_with_protocol::<EchoPingResult>(body, protocol, limits)
                .map(drop)
                .map_err(|_| ErrorKind::Protocol),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tether::protocol::{encode_to_vec, TType, Writer};

    fn result_with_success(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = Writer::binary(&mut out);
        w.write_field_begin(TType::String, 0);
        w.write_binary(payload);
        w.write_field_stop();
        out
    }

    fn encoded_args(work: &Workload) -> Vec<u8> {
        encode_to_vec(work.args())
    }

    #[test]
    fn echo_args_are_field_one_binary() {
        let work = Workload::Echo(EchoEchoArgs {
            payload: b"hi".to_vec(),
        });
        assert_eq!(encoded_args(&work), [11, 0, 1, 0, 0, 0, 2, b'h', b'i', 0]);
        assert_eq!(encoded_args(&Workload::ping()), [0]);
        assert_eq!(encode_to_vec(&EchoPingArgs {}), [0]);
    }

    #[test]
    fn echo_reply_must_carry_the_payload() {
        let work = Workload::echo(300);
        let Workload::Echo(args) = &work else {
            unreachable!()
        };
        let payload = &args.payload;
        assert_eq!(
            work.check_reply(&result_with_success(payload), Protocol::Binary),
            Ok(())
        );
        let mut other = payload.clone();
        other[299] ^= 1;
        assert_eq!(
            work.check_reply(&result_with_success(&other), Protocol::Binary),
            Err(ErrorKind::Mismatch)
        );
        assert_eq!(
            work.check_reply(&[0], Protocol::Binary),
            Err(ErrorKind::Mismatch)
        );
        assert_eq!(
            work.check_reply(&[11, 0], Protocol::Binary),
            Err(ErrorKind::Protocol)
        );
    }

    #[test]
    fn ping_reply_is_any_struct() {
        assert_eq!(Workload::ping().check_reply(&[0], Protocol::Binary), Ok(()));
        assert_eq!(
            Workload::ping().check_reply(&[], Protocol::Binary),
            Err(ErrorKind::Protocol)
        );
    }
}
