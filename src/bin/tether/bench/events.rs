//! One thread drives many connections through readiness events (mio, edge-triggered), each
//! keeping `--pipeline` calls in flight (one by default: a closed loop per connection).
//!
//! Why not a thread per connection: with 1,000 connections on a small machine, 1,000 client
//! threads fight the server's 1,000 threads for the scheduler, and a connection whose client
//! thread is not run for seconds looks starved although the server would have served it. One
//! event loop sends each connection's next call the moment its reply arrives, so what the
//! report shows (fairness above all) is the server's doing. New calls of a connection go out in
//! one write; replies are matched to calls by seqid, in any order.

use std::io::{self, Read, Write};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use tether::protocol::{Limits, MessageHeader, MessageType, Protocol, Reader, Writer};
use tether::transport::{Envelope, FrameStatus};

use super::plan::Plan;
use super::timeline::{record, ThreadStats, Timeline, RECONNECT_PAUSE};
use super::workload::ErrorKind;

/// Longest wait for events, so deadlines (call timeout, end of run) are checked promptly.
const POLL_TICK_NS: u64 = 20_000_000;
/// Read buffer of a connection to begin with; grows to fit a larger reply.
const READ_CHUNK: usize = 4 * 1024;

/// The connections of one event-loop thread.
pub struct EventLoop<'a> {
    plan: &'a Plan,
    timeline: &'a Timeline,
    poll: Poll,
    conns: Vec<Conn>,
}

impl<'a> EventLoop<'a> {
    /// Starts connecting `first..first + count` (completed once the loop runs).
    pub fn open(
        plan: &'a Plan,
        timeline: &'a Timeline,
        first: usize,
        count: usize,
        thread_index: usize,
    ) -> io::Result<EventLoop<'a>> {
        let poll = Poll::new()?;
        let mut conns: Vec<Conn> = (first..first + count)
            .map(|index| Conn::new(ThreadStats::new(thread_index, index)))
            .collect();
        for (slot, conn) in conns.iter_mut().enumerate() {
            conn.open(plan, timeline, &poll, Token(slot));
        }
        Ok(EventLoop {
            plan,
            timeline,
            poll,
            conns,
        })
    }

    /// Runs until the run ends (deadline, or every connection used up its attempts) and the
    /// calls still in flight then are answered or timed out.
    pub fn run(mut self) -> Vec<ThreadStats> {
        let mut events = Events::with_capacity(1024);
        let mut next_check = 0;
        loop {
            let now = self.timeline.now_ns();
            // Once the run is over, every pass checks whether the last calls are in.
            if now >= next_check || self.timeline.ended_at(now) {
                if self.check_deadlines(now) {
                    break;
                }
                next_check = now + POLL_TICK_NS;
            }
            let wait = std::time::Duration::from_nanos(POLL_TICK_NS);
            if let Err(e) = self.poll.poll(&mut events, Some(wait)) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                break;
            }
            for event in events.iter() {
                let conn = &mut self.conns[event.token().0];
                let outcome = conn.on_event(self.plan, self.timeline, event.is_readable());
                if let Err(kind) = outcome {
                    conn.fail(kind, self.timeline, &self.poll);
                }
            }
        }
        self.conns.into_iter().map(|c| c.stats).collect()
    }

    /// Times out late calls and connects, reopens failed connections; true when every
    /// connection is done: nothing in flight, and the run over or its attempts used up.
    fn check_deadlines(&mut self, now: u64) -> bool {
        let call_timeout = self.plan.call_timeout.as_nanos() as u64;
        let connect_timeout = self.plan.connect_timeout.as_nanos() as u64;
        let ended = self.timeline.ended_at(now);
        let mut all_done = true;
        for (slot, conn) in self.conns.iter_mut().enumerate() {
            match &conn.state {
                State::Connecting { since } if now.saturating_sub(*since) > connect_timeout => {
                    conn.fail(ErrorKind::Connect, self.timeline, &self.poll);
                }
                State::Connected => {
                    let oldest = conn.in_flight.iter().map(|&(_, sent)| sent).min();
                    if oldest.is_some_and(|sent| now.saturating_sub(sent) > call_timeout) {
                        conn.fail(ErrorKind::Timeout, self.timeline, &self.poll);
                    }
                }
                State::Closed { retry_at } if now >= *retry_at && !conn.exhausted && !ended => {
                    conn.open(self.plan, self.timeline, &self.poll, Token(slot));
                }
                _ => {}
            }
            all_done &= (ended || conn.exhausted) && conn.in_flight.is_empty();
        }
        all_done
    }
}

enum State {
    Connecting { since: u64 },
    Connected,
    Closed { retry_at: u64 },
}

/// One connection with its calls in flight: (seqid, send time in timeline nanoseconds).
struct Conn {
    stream: Option<TcpStream>,
    state: State,
    next_seqid: i32,
    in_flight: Vec<(i32, u64)>,
    exhausted: bool,
    /// Whether its first open finished (connected or failed): a connect that fails before
    /// that is a setup error, not a measured one.
    setup_done: bool,
    out: Vec<u8>,
    written: usize,
    buf: Vec<u8>,
    filled: usize,
    stats: ThreadStats,
}

impl Conn {
    fn new(stats: ThreadStats) -> Conn {
        Conn {
            stream: None,
            state: State::Closed { retry_at: 0 },
            next_seqid: 0,
            in_flight: Vec::new(),
            exhausted: false,
            setup_done: false,
            out: Vec::new(),
            written: 0,
            buf: vec![0; READ_CHUNK],
            filled: 0,
            stats,
        }
    }

    /// Starts a non-blocking connect; a failure to even start it is a connect error.
    fn open(&mut self, plan: &Plan, timeline: &Timeline, poll: &Poll, token: Token) {
        let now = timeline.now_ns();
        let started = TcpStream::connect(plan.addr).and_then(|mut stream| {
            poll.registry().register(
                &mut stream,
                token,
                Interest::READABLE | Interest::WRITABLE,
            )?;
            Ok(stream)
        });
        match started {
            Ok(stream) => {
                self.stream = Some(stream);
                self.state = State::Connecting { since: now };
            }
            Err(_) => self.fail(ErrorKind::Connect, timeline, poll),
        }
    }

    /// Drops the socket after a failure: calls in flight fail with `kind` (a failed connect
    /// counts as one failed attempt, or as a setup error if the connection never opened), and
    /// the connection is reopened after a pause.
    fn fail(&mut self, kind: ErrorKind, timeline: &Timeline, poll: &Poll) {
        let now = timeline.now_ns();
        if let Some(mut stream) = self.stream.take() {
            let _ = poll.registry().deregister(&mut stream);
        }
        if kind == ErrorKind::Connect && !self.setup_done {
            *self.stats.setup_errors.entry(kind).or_default() += 1;
            self.setup_done = true;
        } else if kind == ErrorKind::Connect {
            if !timeline.measuring_at(now) || timeline.take_attempt() {
                record(timeline, &mut self.stats, now, now, Err(kind));
            } else {
                self.exhausted = true;
            }
        }
        for (_, sent) in self.in_flight.drain(..) {
            record(timeline, &mut self.stats, sent, now, Err(kind));
        }
        self.out.clear();
        self.written = 0;
        self.filled = 0;
        self.state = State::Closed {
            retry_at: now + RECONNECT_PAUSE.as_nanos() as u64,
        };
    }

    fn on_event(
        &mut self,
        plan: &Plan,
        timeline: &Timeline,
        readable: bool,
    ) -> Result<(), ErrorKind> {
        let Some(stream) = self.stream.as_ref() else {
            return Ok(());
        };
        if let State::Connecting { .. } = self.state {
            if let Ok(Some(_)) | Err(_) = stream.take_error() {
                return Err(ErrorKind::Connect);
            }
            match stream.peer_addr() {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(()),
                Err(_) => return Err(ErrorKind::Connect),
            }
            stream.set_nodelay(true).map_err(|_| ErrorKind::Connect)?;
            self.state = State::Connected;
            self.setup_done = true;
        }
        if readable {
            self.read_replies(plan, timeline)?;
        }
        self.top_up(plan, timeline);
        self.flush()
    }

    /// Queues new calls until `--pipeline` are in flight, unless the run is over or its attempts
    /// are used up.
    fn top_up(&mut self, plan: &Plan, timeline: &Timeline) {
        while self.in_flight.len() < plan.pipeline && !self.exhausted {
            let now = timeline.now_ns();
            if timeline.ended_at(now) {
                return;
            }
            if timeline.measuring_at(now) && !timeline.take_attempt() {
                self.exhausted = true;
                return;
            }
            self.next_seqid = self.next_seqid.wrapping_add(1);
            let envelope = Envelope {
                seqid: self.next_seqid,
                ..Envelope::default()
            };
            let start = plan.codec.begin_message(&mut self.out, &envelope);
            let header = MessageHeader {
                name: plan.workload.method(),
                kind: MessageType::Call,
                seqid: self.next_seqid,
            };
            let mut writer = Writer::new(&mut self.out, plan.codec.protocol());
            writer.write_message_begin(&header);
            plan.workload.args().encode(&mut writer);
            plan.codec.finish_message(&mut self.out, start);
            self.in_flight.push((self.next_seqid, now));
        }
    }

    /// Writes what is queued until done or the socket is full (then the next writable event
    /// resumes it).
    fn flush(&mut self) -> Result<(), ErrorKind> {
        let Some(stream) = self.stream.as_mut() else {
            return Ok(());
        };
        while self.written < self.out.len() {
            match stream.write(&self.out[self.written..]) {
                Ok(0) => return Err(ErrorKind::Io),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(ErrorKind::Io),
            }
        }
        self.out.clear();
        self.written = 0;
        Ok(())
    }

    /// Reads until the socket is drained (edge-triggered), handling every complete reply.
    fn read_replies(&mut self, plan: &Plan, timeline: &Timeline) -> Result<(), ErrorKind> {
        let limits = Limits::default();
        loop {
            if self.buf.len() - self.filled < READ_CHUNK {
                let needed = match plan.codec.parse(&self.buf[..self.filled], &limits) {
                    Ok(FrameStatus::Incomplete { needed }) => needed,
                    _ => 0,
                };
                self.buf.resize(self.filled + needed.max(READ_CHUNK), 0);
            }
            let stream = self.stream.as_mut().ok_or(ErrorKind::Io)?;
            let space = self.buf.len() - self.filled;
            let drained = match stream.read(&mut self.buf[self.filled..]) {
                Ok(0) => return Err(ErrorKind::Io),
                Ok(n) => {
                    self.filled += n;
                    // A short read emptied the socket; bytes arriving later raise a new edge.
                    // Not reading again until WouldBlock saves a syscall per reply.
                    n < space
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Err(ErrorKind::Io),
            };
            self.handle_buffered(plan, timeline, &limits)?;
            if drained {
                return Ok(());
            }
        }
    }

    fn handle_buffered(
        &mut self,
        plan: &Plan,
        timeline: &Timeline,
        limits: &Limits,
    ) -> Result<(), ErrorKind> {
        let mut at = 0;
        loop {
            let status = plan
                .codec
                .parse(&self.buf[at..self.filled], limits)
                .map_err(|_| ErrorKind::Protocol)?;
            let FrameStatus::Complete { message, consumed } = status else {
                break;
            };
            let found = &self.buf[at + message.start..at + message.end];
            let message = plan
                .codec
                .open(found, limits)
                .map_err(|_| ErrorKind::Protocol)?;
            let protocol = message
                .header()
                .map_or(plan.codec.protocol(), |frame| frame.protocol);
            let (seqid, result) = check(plan, message.payload(), protocol)?;
            let index = self
                .in_flight
                .iter()
                .position(|&(s, _)| s == seqid)
                .ok_or(ErrorKind::Protocol)?;
            let (_, sent) = self.in_flight.swap_remove(index);
            record(timeline, &mut self.stats, sent, timeline.now_ns(), result);
            at += consumed;
        }
        self.buf.copy_within(at..self.filled, 0);
        self.filled -= at;
        Ok(())
    }
}

/// A reply's seqid and the call's outcome; Err when the reply cannot be trusted at all.
fn check(
    plan: &Plan,
    message: &[u8],
    protocol: Protocol,
) -> Result<(i32, Result<(), ErrorKind>), ErrorKind> {
    let mut reader = Reader::with_protocol(message, protocol, Limits::default());
    let header = reader
        .read_message_begin()
        .map_err(|_| ErrorKind::Protocol)?;
    if header.name != plan.workload.method() {
        return Err(ErrorKind::Protocol);
    }
    let body = &message[reader.position()..];
    let outcome = match header.kind {
        MessageType::Reply => plan.workload.check_reply(body, protocol),
        MessageType::Exception => Err(ErrorKind::Application),
        MessageType::Call | MessageType::Oneway => return Err(ErrorKind::Protocol),
    };
    Ok((header.seqid, outcome))
}
