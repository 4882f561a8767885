//! A minimal blocking connection for the load loops: one call at a time, framed or unframed.
//!
//! Stand-in for `tether::client::Connection` until the client lands; it implements the same
//! [`Channel`] trait, so swapping it is one line in `load.rs`.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use parking_lot::Mutex;
use tether::client::{Channel, ClientError};
use tether::protocol::{
    begin_frame, finish_frame, write_message_begin, ApplicationException, Decode, Encode, Limits,
    MessageHeader, MessageType, ProtocolError, Reader,
};
use tether::transport::{parse, FrameStatus, Framing};

/// Bytes read per syscall at least: a whole 1 KiB echo reply and its header in one read.
const READ_CHUNK: usize = 16 * 1024;

/// One socket to the server under test.
#[derive(Debug)]
pub struct BenchConnection {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    stream: TcpStream,
    framing: Framing,
    limits: Limits,
    seqid: i32,
    out: Vec<u8>,
    buf: Vec<u8>,
    filled: usize,
}

impl BenchConnection {
    /// Connects with TCP_NODELAY; `call_timeout` bounds each read and write of a call.
    pub fn connect(
        addr: SocketAddr,
        framing: Framing,
        connect_timeout: Duration,
        call_timeout: Duration,
    ) -> io::Result<BenchConnection> {
        let stream = TcpStream::connect_timeout(&addr, connect_timeout)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(call_timeout))?;
        stream.set_write_timeout(Some(call_timeout))?;
        Ok(BenchConnection {
            inner: Mutex::new(Inner {
                stream,
                framing,
                limits: Limits::default(),
                seqid: 0,
                out: Vec::with_capacity(READ_CHUNK),
                buf: vec![0; READ_CHUNK],
                filled: 0,
            }),
        })
    }
}

impl Channel for BenchConnection {
    fn call(&self, method: &str, args: &dyn Encode) -> Result<Vec<u8>, ClientError> {
        let mut inner = self.inner.lock();
        let seqid = inner.send(method, MessageType::Call, args)?;
        inner.receive(method, seqid)
    }

    fn send_oneway(&self, method: &str, args: &dyn Encode) -> Result<(), ClientError> {
        self.inner
            .lock()
            .send(method, MessageType::Oneway, args)
            .map(drop)
    }
}

impl Inner {
    fn send(
        &mut self,
        method: &str,
        kind: MessageType,
        args: &dyn Encode,
    ) -> Result<i32, ClientError> {
        self.seqid = self.seqid.wrapping_add(1);
        let header = MessageHeader {
            name: method,
            kind,
            seqid: self.seqid,
        };
        self.out.clear();
        let framed = self.framing == Framing::Framed;
        let at = framed.then(|| begin_frame(&mut self.out));
        write_message_begin(&mut self.out, &header);
        args.encode(&mut self.out);
        if let Some(at) = at {
            finish_frame(&mut self.out, at);
        }
        self.stream.write_all(&self.out).map_err(io_error)?;
        Ok(self.seqid)
    }

    fn receive(&mut self, method: &str, seqid: i32) -> Result<Vec<u8>, ClientError> {
        let (message, consumed) = loop {
            match parse(&self.buf[..self.filled], self.framing, &self.limits)? {
                FrameStatus::Complete { message, consumed } => break (message, consumed),
                FrameStatus::Incomplete { needed } => self.fill(needed)?,
            }
        };
        let result = check_reply(&self.buf[message], method, seqid);
        self.buf.copy_within(consumed..self.filled, 0);
        self.filled -= consumed;
        result
    }

    /// Reads at least once, with room for `needed` more bytes (which the frame parser has
    /// bounded by the frame limit).
    fn fill(&mut self, needed: usize) -> Result<(), ClientError> {
        let want = self.filled + needed.max(READ_CHUNK);
        if self.buf.len() < want {
            self.buf.resize(want, 0);
        }
        match self.stream.read(&mut self.buf[self.filled..]) {
            Ok(0) => Err(ClientError::Io(io::ErrorKind::UnexpectedEof.into())),
            Ok(n) => {
                self.filled += n;
                Ok(())
            }
            Err(e) => Err(io_error(e)),
        }
    }
}

/// Checks a reply's header against the call and returns its body (the result struct).
fn check_reply(message: &[u8], method: &str, seqid: i32) -> Result<Vec<u8>, ClientError> {
    let mut reader = Reader::new(message);
    let header = reader.read_message_begin()?;
    if header.seqid != seqid || header.name != method {
        return Err(ProtocolError::InvalidData {
            reason: "reply does not match the call",
        }
        .into());
    }
    match header.kind {
        MessageType::Reply => Ok(message[reader.position()..].to_vec()),
        MessageType::Exception => Err(ApplicationException::decode(&mut reader)?.into()),
        MessageType::Call | MessageType::Oneway => Err(ProtocolError::InvalidData {
            reason: "reply is not a reply",
        }
        .into()),
    }
}

/// A socket timeout is a call timeout; anything else stays an I/O error.
fn io_error(e: io::Error) -> ClientError {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ClientError::Timeout,
        _ => ClientError::Io(e),
    }
}
