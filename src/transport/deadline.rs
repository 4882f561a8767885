//! Blocking socket reads and writes bounded by absolute deadlines.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::buffer::ReadBuffer;

/// A socket timeout within this much of the wanted one is reused as is. Setting SO_RCVTIMEO is a
/// syscall; without this slack every idle wait would pay one, and the steady state of one read
/// and one write per request would become three syscalls.
const TIMEOUT_SLACK: Duration = Duration::from_millis(5);

/// Deadlines past this are treated as this far off: about 30 years, longer than any process
/// runs, and far from the platform's `Instant` overflow.
const FAR_FUTURE: Duration = Duration::from_secs(1 << 30);

/// `now + timeout`, saturating at about 30 years so a huge configured timeout means "never"
/// instead of a panic on `Instant` overflow.
pub fn deadline_after(now: Instant, timeout: Duration) -> Instant {
    now + timeout.min(FAR_FUTURE)
}

/// Why a deadline-bounded read or write did not complete.
#[derive(Debug)]
#[non_exhaustive]
pub enum DeadlineError {
    /// The deadline passed.
    TimedOut,
    /// The socket failed.
    Io(io::Error),
}

impl fmt::Display for DeadlineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeadlineError::TimedOut => f.write_str("deadline passed"),
            DeadlineError::Io(_) => f.write_str("socket error"),
        }
    }
}

impl std::error::Error for DeadlineError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DeadlineError::Io(e) => Some(e),
            DeadlineError::TimedOut => None,
        }
    }
}

/// Reads and writes on one blocking socket that end at deadlines.
///
/// Deadlines are enforced with SO_RCVTIMEO / SO_SNDTIMEO, set only when the time left differs
/// from the timeout already in force by more than a few milliseconds. It remembers the timeouts
/// it set but does not hold the socket, so whoever owns the socket (a server connection that
/// moves between threads, a client link) owns this beside it; use it with one socket only.
#[derive(Debug, Default)]
pub struct SocketDeadlines {
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
}

fn close_enough(current: Option<Duration>, wanted: Duration) -> bool {
    match current {
        Some(current) => current.max(wanted) - current.min(wanted) <= TIMEOUT_SLACK,
        None => false,
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

impl SocketDeadlines {
    /// Deadlines for a socket whose timeouts are (re)set on first use.
    pub fn new() -> Self {
        SocketDeadlines::default()
    }

    /// Reads once from `stream` into `buf`, waiting until `deadline` at most. `Ok(0)` is end of
    /// stream.
    pub fn read_by(
        &mut self,
        stream: &TcpStream,
        buf: &mut ReadBuffer,
        deadline: Instant,
    ) -> Result<usize, DeadlineError> {
        self.read_by_at(stream, buf, deadline, Instant::now())
    }

    /// [`read_by`](Self::read_by) for a caller that has just read the clock: `now` is the
    /// current time, which saves reading it again.
    pub fn read_by_at(
        &mut self,
        stream: &TcpStream,
        buf: &mut ReadBuffer,
        deadline: Instant,
        now: Instant,
    ) -> Result<usize, DeadlineError> {
        self.read_with(stream, deadline, now, |mut stream| {
            buf.read_from(&mut stream)
        })
    }

    /// Reads once from `stream`, appending at most `max` bytes to `out`, waiting until
    /// `deadline` at most. `Ok(0)` is end of stream. For a caller whose buffer is a plain
    /// `Vec` that grows with the bytes received (a client's reply buffer).
    pub fn read_append_by(
        &mut self,
        stream: &TcpStream,
        out: &mut Vec<u8>,
        max: usize,
        deadline: Instant,
    ) -> Result<usize, DeadlineError> {
        let start = out.len();
        self.read_with(stream, deadline, Instant::now(), |mut stream| {
            out.resize(start + max, 0);
            let read = stream.read(&mut out[start..]);
            out.truncate(start + *read.as_ref().unwrap_or(&0));
            read
        })
    }

    /// Runs `read` on `stream` until it returns something other than a timeout, with the read
    /// timeout set to the time left before `deadline`.
    fn read_with(
        &mut self,
        stream: &TcpStream,
        deadline: Instant,
        mut now: Instant,
        mut read: impl FnMut(&TcpStream) -> io::Result<usize>,
    ) -> Result<usize, DeadlineError> {
        loop {
            let left = deadline.saturating_duration_since(now);
            if left.is_zero() {
                return Err(DeadlineError::TimedOut);
            }
            if !close_enough(self.read_timeout, left) {
                stream
                    .set_read_timeout(Some(left))
                    .map_err(DeadlineError::Io)?;
                self.read_timeout = Some(left);
            }
            match read(stream) {
                Ok(n) => return Ok(n),
                // A timeout a little short of the deadline loops to wait out the rest.
                Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {
                    now = Instant::now();
                }
                Err(e) => return Err(DeadlineError::Io(e)),
            }
        }
    }

    /// Writes all of `bytes` to `stream`, finishing by `deadline`; a peer that reads slowly does
    /// not extend it.
    pub fn write_all_by(
        &mut self,
        stream: &TcpStream,
        bytes: &[u8],
        deadline: Instant,
    ) -> Result<(), DeadlineError> {
        self.write_all_by_at(stream, bytes, deadline, Instant::now())
    }

    /// [`write_all_by`](Self::write_all_by) for a caller that has just read the clock: `now` is
    /// the current time, which saves reading it again.
    pub fn write_all_by_at(
        &mut self,
        stream: &TcpStream,
        mut bytes: &[u8],
        deadline: Instant,
        mut now: Instant,
    ) -> Result<(), DeadlineError> {
        while !bytes.is_empty() {
            let n = self.write_some_by_at(stream, bytes, deadline, now)?;
            bytes = &bytes[n..];
            if !bytes.is_empty() {
                now = Instant::now();
            }
        }
        Ok(())
    }

    /// Writes once to `stream`, waiting until `deadline` at most; returns how many bytes of
    /// `bytes` (not empty) went out, at least one. For a writer that tracks its progress
    /// between writes (a batch shared by several callers).
    pub fn write_some_by(
        &mut self,
        stream: &TcpStream,
        bytes: &[u8],
        deadline: Instant,
    ) -> Result<usize, DeadlineError> {
        self.write_some_by_at(stream, bytes, deadline, Instant::now())
    }

    fn write_some_by_at(
        &mut self,
        mut stream: &TcpStream,
        bytes: &[u8],
        deadline: Instant,
        mut now: Instant,
    ) -> Result<usize, DeadlineError> {
        loop {
            let left = deadline.saturating_duration_since(now);
            if left.is_zero() {
                return Err(DeadlineError::TimedOut);
            }
            if !close_enough(self.write_timeout, left) {
                stream
                    .set_write_timeout(Some(left))
                    .map_err(DeadlineError::Io)?;
                self.write_timeout = Some(left);
            }
            match stream.write(bytes) {
                Ok(0) => return Err(DeadlineError::Io(io::ErrorKind::WriteZero.into())),
                Ok(n) => return Ok(n),
                Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {
                    now = Instant::now();
                }
                Err(e) => return Err(DeadlineError::Io(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, server)
    }

    #[test]
    fn read_returns_data_and_times_out_at_the_deadline() {
        let (mut client, server) = pair();
        let mut deadlines = SocketDeadlines::new();
        let mut buf = ReadBuffer::new(64);
        client.write_all(b"hello").unwrap();
        let n = deadlines
            .read_by(&server, &mut buf, Instant::now() + Duration::from_secs(5))
            .unwrap();
        assert_eq!(&buf.filled()[..n], b"hello");

        let start = Instant::now();
        let err = deadlines
            .read_by(&server, &mut buf, start + Duration::from_millis(100))
            .unwrap_err();
        assert!(matches!(err, DeadlineError::TimedOut));
        assert!(start.elapsed() >= Duration::from_millis(100));
    }

    #[test]
    fn read_append_keeps_what_was_there_and_adds_at_most_max() {
        let (mut client, server) = pair();
        let mut deadlines = SocketDeadlines::new();
        client.write_all(b"hello world").unwrap();
        let mut out = b">".to_vec();
        let deadline = Instant::now() + Duration::from_secs(5);
        let n = deadlines
            .read_append_by(&server, &mut out, 5, deadline)
            .unwrap();
        assert_eq!((n, &out[..]), (5, &b">hello"[..]));
        let start = Instant::now();
        deadlines
            .read_append_by(&server, &mut out, 64, deadline)
            .unwrap();
        assert_eq!(out, b">hello world");
        let err = deadlines
            .read_append_by(&server, &mut out, 64, start + Duration::from_millis(100))
            .unwrap_err();
        assert!(matches!(err, DeadlineError::TimedOut));
        assert_eq!(out, b">hello world", "a timeout adds nothing");
        drop(client);
        let n = deadlines
            .read_append_by(&server, &mut out, 64, deadline)
            .unwrap();
        assert_eq!(n, 0, "end of stream");
    }

    #[test]
    fn write_some_returns_what_one_write_took() {
        let (mut client, server) = pair();
        let mut deadlines = SocketDeadlines::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        let n = deadlines
            .write_some_by(&server, b"hello", deadline)
            .unwrap();
        assert_eq!(n, 5);
        let mut got = [0u8; 5];
        std::io::Read::read_exact(&mut client, &mut got).unwrap();
        assert_eq!(&got, b"hello");
    }

    #[test]
    fn write_times_out_when_the_peer_does_not_read() {
        let (_client, server) = pair();
        let mut deadlines = SocketDeadlines::new();
        let big = vec![0u8; 64 << 20];
        let start = Instant::now();
        let err = deadlines
            .write_all_by(&server, &big, start + Duration::from_millis(150))
            .unwrap_err();
        assert!(matches!(err, DeadlineError::TimedOut));
        assert!(start.elapsed() >= Duration::from_millis(150));
    }
}
