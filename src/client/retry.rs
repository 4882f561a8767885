//! The retry rule of the keep-alive contract (DESIGN.md): which failed calls may be sent again.

use std::io;

use super::ClientError;

/// How far a call got before it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Writing the request failed.
    Write,
    /// The request was written; no reply byte had arrived.
    AwaitReply,
    /// Part or all of the reply had arrived.
    Reply,
}

/// A failed call on one socket, with the stage it reached.
#[derive(Debug)]
pub(crate) struct CallFailure {
    pub(crate) error: ClientError,
    pub(crate) stage: Stage,
}

impl CallFailure {
    pub(crate) fn new(stage: Stage, error: ClientError) -> Self {
        CallFailure { error, stage }
    }

    /// Whether the socket can carry another call: only an exception the server answered with
    /// leaves it in step.
    pub(crate) fn leaves_connection_usable(&self) -> bool {
        matches!(self.error, ClientError::Application(_))
    }

    /// The retry rule: a call on a *reused* connection that failed with EOF, reset or broken pipe
    /// before any reply byte arrived was never processed by a tether server (it answers every
    /// request it read before closing), so it is sent again once, on a fresh connection. Never
    /// after a timeout (the server may be processing it), never on a fresh connection (the
    /// failure is not a stale socket), and a oneway call only if its write failed (a written
    /// oneway may have been processed).
    pub(crate) fn may_retry(&self, reused: bool, oneway: bool) -> bool {
        if !reused {
            return false;
        }
        let ClientError::Io(e) = &self.error else {
            return false;
        };
        if !peer_went_away(e) {
            return false;
        }
        match self.stage {
            Stage::Write => true,
            Stage::AwaitReply => !oneway,
            Stage::Reply => false,
        }
    }
}

/// EOF, reset, broken pipe: the peer closed a connection it considered idle.
fn peer_went_away(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::NotConnected
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(kind: io::ErrorKind, stage: Stage) -> CallFailure {
        CallFailure::new(stage, ClientError::Io(io::Error::from(kind)))
    }

    #[test]
    fn eof_before_reply_on_reused_connection_is_retried() {
        for kind in [
            io::ErrorKind::UnexpectedEof,
            io::ErrorKind::ConnectionReset,
            io::ErrorKind::BrokenPipe,
        ] {
            assert!(io(kind, Stage::AwaitReply).may_retry(true, false));
            assert!(io(kind, Stage::Write).may_retry(true, false));
        }
    }

    #[test]
    fn never_on_fresh_connection_after_reply_bytes_or_timeout() {
        let eof = io::ErrorKind::UnexpectedEof;
        assert!(!io(eof, Stage::AwaitReply).may_retry(false, false));
        assert!(!io(eof, Stage::Reply).may_retry(true, false));
        let timeout = CallFailure::new(Stage::AwaitReply, ClientError::Timeout);
        assert!(!timeout.may_retry(true, false));
        assert!(!io(io::ErrorKind::TimedOut, Stage::AwaitReply).may_retry(true, false));
        assert!(!io(io::ErrorKind::PermissionDenied, Stage::Write).may_retry(true, false));
    }

    #[test]
    fn oneway_only_when_the_write_failed() {
        let reset = io::ErrorKind::ConnectionReset;
        assert!(io(reset, Stage::Write).may_retry(true, true));
        assert!(!io(reset, Stage::AwaitReply).may_retry(true, true));
    }
}
