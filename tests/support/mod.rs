//! Helpers shared by the integration tests: a server on port 0 (in process or the `tether serve`
//! binary), a raw socket client that can send any bytes, Thrift message builders, and a way to
//! wait for a condition with a deadline.
#![allow(dead_code)]

pub mod client;
pub mod http;
#[cfg(feature = "cli")]
pub mod process;
pub mod wire;

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tether::protocol::{ApplicationException, MessageType};
use tether::server::{Config, DrainReport, Router, Server, ShutdownHandle, StatsSnapshot};
use tether::services::echo::EchoProcessor;
use tether::transport::{parse_unframed, FrameStatus};
use tether::EchoService;

pub use wire::*;

/// The Echo service as `tether serve` runs it: the generated processor over [`EchoService`].
pub fn echo_processor() -> EchoProcessor<EchoService> {
    EchoProcessor::new(EchoService)
}

/// Polls `condition` every few milliseconds until it holds or `timeout` passes; returns whether
/// it held. No fixed sleeps: a test waits only as long as the behaviour takes.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(2));
    }
}

/// A server running in this process on 127.0.0.1 port 0; forced down when dropped.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Stops it, reads stats.
    pub handle: ShutdownHandle,
    thread: Option<JoinHandle<io::Result<DrainReport>>>,
}

impl TestServer {
    /// Serves the Echo service with `config` (the default listen address becomes port 0).
    pub fn start(config: Config) -> TestServer {
        TestServer::start_with(config, Router::new().service(echo_processor()))
    }

    /// Serves `router`'s services with `config`; the default listen address becomes
    /// 127.0.0.1:0 (name another to restart a server on a port a test already knows).
    pub fn start_with(config: Config, router: Router) -> TestServer {
        let config = if config.listen_addr() == Config::default().listen_addr() {
            config.listen(SocketAddr::from(([127, 0, 0, 1], 0)))
        } else {
            config
        };
        let server = Server::bind(config, router).expect("bind");
        let addr = server.local_addr();
        let handle = server.handle();
        let thread = thread::Builder::new()
            .name("test-server".into())
            .spawn(move || server.run())
            .expect("spawn server");
        TestServer {
            addr,
            handle,
            thread: Some(thread),
        }
    }

    /// The server's counters now.
    pub fn stats(&self) -> StatsSnapshot {
        self.handle.stats()
    }

    /// A raw client connected to this server.
    pub fn connect(&self) -> RawClient {
        RawClient::connect(self.addr)
    }

    /// Waits until the stats satisfy `condition` (2 s at most); panics with the stats if not.
    pub fn wait_stats(&self, what: &str, condition: impl Fn(&StatsSnapshot) -> bool) {
        if !wait_until(Duration::from_secs(2), || condition(&self.stats())) {
            panic!("timed out waiting for {what}: {}", self.stats());
        }
    }

    /// Starts a graceful drain and returns the thread that will yield the report.
    pub fn shutdown(&mut self) -> JoinHandle<io::Result<DrainReport>> {
        self.handle.shutdown();
        self.thread.take().expect("already stopped")
    }

    /// Drains and waits for the report.
    pub fn stop(mut self) -> DrainReport {
        self.shutdown().join().expect("server thread").expect("run")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.handle.force();
            let _ = thread.join();
        }
    }
}

/// What a read from a [`RawClient`] found.
#[derive(Debug)]
pub enum Received {
    /// A whole message (frame prefix removed).
    Message(Reply),
    /// The server closed the connection (EOF or reset) before a whole message arrived.
    Closed,
    /// Nothing (or not enough) arrived in time.
    TimedOut,
}

impl Received {
    /// The reply; panics on anything else.
    pub fn reply(self) -> Reply {
        match self {
            Received::Message(reply) => reply,
            other => panic!("expected a reply, got {other:?}"),
        }
    }
}

/// A blocking TCP client that sends arbitrary bytes and reads framed or unframed messages.
pub struct RawClient {
    /// The socket, for tests that need more.
    pub stream: TcpStream,
    buffer: Vec<u8>,
}

impl RawClient {
    /// Connects to `addr` (1 s connect timeout).
    pub fn connect(addr: SocketAddr) -> RawClient {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).expect("connect");
        RawClient::from_stream(stream)
    }

    /// Wraps a socket connected elsewhere (e.g. with special options).
    pub fn from_stream(stream: TcpStream) -> RawClient {
        stream.set_nodelay(true).unwrap();
        RawClient {
            stream,
            buffer: Vec::new(),
        }
    }

    /// Writes `bytes` as they are.
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Sends `message` with a frame prefix.
    pub fn send_framed(&mut self, message: &[u8]) -> io::Result<()> {
        self.send(&framed(message))
    }

    /// Sends a framed call and reads the framed reply (5 s at most).
    pub fn call(&mut self, message: &[u8]) -> Reply {
        self.send_framed(message).expect("send");
        self.read_framed(Duration::from_secs(5)).reply()
    }

    fn fill(&mut self, deadline: Instant) -> Option<Received> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Some(Received::TimedOut);
        }
        self.stream.set_read_timeout(Some(left)).unwrap();
        let mut chunk = [0u8; 64 << 10];
        match self.stream.read(&mut chunk) {
            Ok(0) => Some(Received::Closed),
            Ok(n) => {
                self.buffer.extend_from_slice(&chunk[..n]);
                None
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Some(Received::TimedOut)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => None,
            Err(_) => Some(Received::Closed),
        }
    }

    /// Reads one framed message within `timeout`.
    pub fn read_framed(&mut self, timeout: Duration) -> Received {
        let deadline = Instant::now() + timeout;
        loop {
            if self.buffer.len() >= 4 {
                let len = u32::from_be_bytes(self.buffer[..4].try_into().unwrap()) as usize;
                if self.buffer.len() >= 4 + len {
                    let message: Vec<u8> = self.buffer.drain(..4 + len).skip(4).collect();
                    return Received::Message(Reply::parse(&message));
                }
            }
            if let Some(end) = self.fill(deadline) {
                return end;
            }
        }
    }

    /// Reads one length-prefixed frame within `timeout`, length word included (for THeader
    /// frames, which [`read_framed`](Self::read_framed) cannot parse as a message).
    pub fn read_frame(&mut self, timeout: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.buffer.len() >= 4 {
                let len = u32::from_be_bytes(self.buffer[..4].try_into().unwrap()) as usize;
                if self.buffer.len() >= 4 + len {
                    return Some(self.buffer.drain(..4 + len).collect());
                }
            }
            if self.fill(deadline).is_some() {
                return None;
            }
        }
    }

    /// Reads one unframed message within `timeout`.
    pub fn read_unframed(&mut self, timeout: Duration) -> Received {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(FrameStatus::Complete { message, consumed }) =
                parse_unframed(&self.buffer, &Default::default())
            {
                let reply = Reply::parse(&self.buffer[message]);
                self.buffer.drain(..consumed);
                return Received::Message(reply);
            }
            if let Some(end) = self.fill(deadline) {
                return end;
            }
        }
    }

    /// Waits up to `timeout` for the server to close the connection, discarding any bytes;
    /// returns how long it took, or `None` if it stayed open.
    pub fn wait_closed(&mut self, timeout: Duration) -> Option<Duration> {
        let start = Instant::now();
        let deadline = start + timeout;
        loop {
            match self.fill(deadline) {
                Some(Received::Closed) => return Some(start.elapsed()),
                Some(_) => return None,
                None => self.buffer.clear(),
            }
        }
    }

    /// Bytes received but not yet returned as a message (a partial reply).
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// Closes the sending side (the server sees end of stream).
    pub fn finish(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

/// A decoded reply message: header and the raw result struct.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The method name.
    pub name: String,
    /// REPLY or EXCEPTION (or anything a broken server sends).
    pub kind: MessageType,
    /// The sequence id.
    pub seqid: i32,
    /// The bytes after the header.
    pub body: Vec<u8>,
}

impl Reply {
    /// Decodes a message; panics on bytes that are not one.
    pub fn parse(message: &[u8]) -> Reply {
        let mut reader = tether::protocol::Reader::new(message);
        let header = reader.read_message_begin().expect("reply header");
        Reply {
            name: header.name.to_string(),
            kind: header.kind,
            seqid: header.seqid,
            body: message[reader.position()..].to_vec(),
        }
    }

    /// The TApplicationException, when this is an EXCEPTION message.
    pub fn exception(&self) -> Option<ApplicationException> {
        (self.kind == MessageType::Exception)
            .then(|| tether::protocol::decode_from(&self.body).expect("exception struct"))
    }

    /// Field `id` of the result struct as raw binary/string bytes, if present.
    pub fn binary_field(&self, id: i16) -> Option<Vec<u8>> {
        wire::find_binary_field(&self.body, id)
    }
}

/// Says on the terminal, past cargo's output capture, that a test did not run and why.
pub fn skip(why: &str) {
    let _ = io::stderr().write_all(format!("skipped: {why}\n").as_bytes());
}

/// Whether `prlimit` (util-linux) runs here.
pub fn prlimit_works() -> bool {
    std::process::Command::new("prlimit")
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The soft and hard RLIMIT_NOFILE of this process, from /proc.
pub fn open_files_limit() -> (u64, u64) {
    let limits = std::fs::read_to_string("/proc/self/limits").expect("/proc/self/limits");
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .expect("an open files line");
    let mut values = line["Max open files".len()..]
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(u64::MAX));
    (values.next().unwrap(), values.next().unwrap())
}

/// Raises this process's soft RLIMIT_NOFILE to at least `wanted` (within the hard limit) with
/// prlimit; returns the soft limit in force afterwards.
pub fn raise_open_files_limit(wanted: u64) -> u64 {
    let (soft, hard) = open_files_limit();
    if soft >= wanted || !prlimit_works() {
        return soft;
    }
    let target = wanted.min(hard);
    let _ = std::process::Command::new("prlimit")
        .arg(format!("--pid={}", std::process::id()))
        .arg(format!("--nofile={target}:{hard}"))
        .status();
    open_files_limit().0
}
