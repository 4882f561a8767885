//! Pipelined calls from one thread per connection: up to `--pipeline` requests are in flight on
//! the socket at once; new ones go out in one write as soon as replies come back, and replies
//! are matched to calls by seqid (in any order).
//!
//! One thread drives a whole connection, so the client spends its CPU on the socket rather than
//! on waking one caller thread per reply, and the server's pipelined path is what is measured.

use std::io::{self, Read, Write};
use std::net::TcpStream;

use tether::protocol::{
    begin_frame, finish_frame, write_message_begin, Limits, MessageHeader, MessageType, Reader,
};
use tether::transport::{parse, FrameStatus, Framing};

use super::load::{pause_after_connect_failure, record, Plan, ThreadStats, Timeline};
use super::workload::ErrorKind;

/// Bytes read per syscall at least: many small replies per read when pipelining.
const READ_CHUNK: usize = 64 * 1024;

/// Runs one connection's window of calls until the run ends.
pub fn window_loop(plan: &Plan, timeline: &Timeline, stats: &mut ThreadStats) {
    let mut pipe: Option<Pipe> = None;
    loop {
        if timeline.ended_at(timeline.now_ns()) {
            return;
        }
        let current = match pipe.as_mut() {
            Some(current) => current,
            None => match Pipe::connect(plan) {
                Ok(fresh) => pipe.insert(fresh),
                Err(()) => {
                    let now = timeline.now_ns();
                    if timeline.measuring_at(now) && !timeline.take_attempt() {
                        return;
                    }
                    record(timeline, stats, now, now, Err(ErrorKind::Connect));
                    pause_after_connect_failure(timeline);
                    continue;
                }
            },
        };
        match current.turn(plan, timeline, stats) {
            Ok(true) => {}
            Ok(false) => return,
            Err(kind) => {
                let now = timeline.now_ns();
                for (_, sent) in current.in_flight.drain(..) {
                    record(timeline, stats, sent, now, Err(kind));
                }
                pipe = None;
            }
        }
    }
}

/// One socket with its calls in flight: (seqid, send time in timeline nanoseconds).
struct Pipe {
    stream: TcpStream,
    framing: Framing,
    limits: Limits,
    next_seqid: i32,
    in_flight: Vec<(i32, u64)>,
    exhausted: bool,
    out: Vec<u8>,
    buf: Vec<u8>,
    filled: usize,
}

impl Pipe {
    fn connect(plan: &Plan) -> Result<Pipe, ()> {
        let stream = TcpStream::connect_timeout(&plan.addr, plan.connect_timeout).map_err(drop)?;
        stream.set_nodelay(true).map_err(drop)?;
        stream
            .set_read_timeout(Some(plan.call_timeout))
            .map_err(drop)?;
        stream
            .set_write_timeout(Some(plan.call_timeout))
            .map_err(drop)?;
        Ok(Pipe {
            stream,
            framing: plan.framing,
            limits: Limits::default(),
            next_seqid: 0,
            in_flight: Vec::with_capacity(plan.pipeline),
            exhausted: false,
            out: Vec::new(),
            buf: vec![0; READ_CHUNK],
            filled: 0,
        })
    }

    /// Tops the window up, then handles at least one read of replies. False when the run is
    /// over for this connection.
    fn turn(
        &mut self,
        plan: &Plan,
        timeline: &Timeline,
        stats: &mut ThreadStats,
    ) -> Result<bool, ErrorKind> {
        if timeline.ended_at(timeline.now_ns()) {
            return Ok(false);
        }
        self.out.clear();
        while self.in_flight.len() < plan.pipeline && !self.exhausted {
            let now = timeline.now_ns();
            if timeline.measuring_at(now) && !timeline.take_attempt() {
                self.exhausted = true;
                break;
            }
            self.next_seqid = self.next_seqid.wrapping_add(1);
            self.encode(plan, self.next_seqid);
            self.in_flight.push((self.next_seqid, now));
        }
        if !self.out.is_empty() {
            self.stream.write_all(&self.out).map_err(io_kind)?;
        }
        if self.in_flight.is_empty() {
            return Ok(false);
        }
        self.read_replies(plan, timeline, stats)?;
        Ok(true)
    }

    fn encode(&mut self, plan: &Plan, seqid: i32) {
        let at = (self.framing == Framing::Framed).then(|| begin_frame(&mut self.out));
        let header = MessageHeader {
            name: plan.workload.method(),
            kind: MessageType::Call,
            seqid,
        };
        write_message_begin(&mut self.out, &header);
        plan.workload.args().encode(&mut self.out);
        if let Some(at) = at {
            finish_frame(&mut self.out, at);
        }
    }

    /// One read, then every complete reply in the buffer.
    fn read_replies(
        &mut self,
        plan: &Plan,
        timeline: &Timeline,
        stats: &mut ThreadStats,
    ) -> Result<(), ErrorKind> {
        let needed = match parse(&self.buf[..self.filled], self.framing, &self.limits) {
            Ok(FrameStatus::Incomplete { needed }) => needed,
            _ => 0,
        };
        if self.buf.len() < self.filled + needed.max(READ_CHUNK) {
            self.buf.resize(self.filled + needed.max(READ_CHUNK), 0);
        }
        match self.stream.read(&mut self.buf[self.filled..]) {
            Ok(0) => return Err(ErrorKind::Io),
            Ok(n) => self.filled += n,
            Err(e) => return Err(io_kind(e)),
        }
        let mut at = 0;
        loop {
            let status = parse(&self.buf[at..self.filled], self.framing, &self.limits)
                .map_err(|_| ErrorKind::Protocol)?;
            let FrameStatus::Complete { message, consumed } = status else {
                break;
            };
            let message = at + message.start..at + message.end;
            let (seqid, result) = check(plan, &self.buf[message])?;
            let index = self
                .in_flight
                .iter()
                .position(|&(s, _)| s == seqid)
                .ok_or(ErrorKind::Protocol)?;
            let (_, sent) = self.in_flight.swap_remove(index);
            record(timeline, stats, sent, timeline.now_ns(), result);
            at += consumed;
        }
        self.buf.copy_within(at..self.filled, 0);
        self.filled -= at;
        Ok(())
    }
}

/// A reply's seqid and the call's outcome; Err when the reply cannot be trusted at all.
fn check(plan: &Plan, message: &[u8]) -> Result<(i32, Result<(), ErrorKind>), ErrorKind> {
    let mut reader = Reader::new(message);
    let header = reader
        .read_message_begin()
        .map_err(|_| ErrorKind::Protocol)?;
    if header.name != plan.workload.method() {
        return Err(ErrorKind::Protocol);
    }
    let body = &message[reader.position()..];
    let outcome = match header.kind {
        MessageType::Reply => plan.workload.check_reply(body),
        MessageType::Exception => Err(ErrorKind::Application),
        MessageType::Call | MessageType::Oneway => return Err(ErrorKind::Protocol),
    };
    Ok((header.seqid, outcome))
}

fn io_kind(e: io::Error) -> ErrorKind {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ErrorKind::Timeout,
        _ => ErrorKind::Io,
    }
}
