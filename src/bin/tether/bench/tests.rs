//! The load loops against a small in-process Echo server over loopback.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use tether::protocol::{Limits, MessageHeader, MessageType, Reader, TType, Writer};
use tether::transport::{Codec, Envelope, FrameStatus};

use super::load;
use super::outcome::Outcome;
use super::plan::{Bound, Driver, Plan};
use super::progress::{Progress, Unit};
use super::workload::{ErrorKind, Workload};
use super::{plan, BenchArgs};

/// How the test server misbehaves, if at all.
#[derive(Debug, Clone, Copy, Default)]
struct Behaviour {
    /// Close each connection after this many replies.
    close_after: Option<usize>,
    /// Wait this long before each reply.
    delay: Option<Duration>,
    /// Answer the requests found buffered together in reverse order.
    reverse: bool,
    /// Stop answering (keep every connection open, read and drop what arrives) this long after
    /// the server started.
    stall_after: Option<Duration>,
}

/// An Echo server (echo and ping) on 127.0.0.1:0, thread per connection; stops on drop.
struct EchoServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    /// Most complete requests found buffered at once on any connection.
    max_batch: Arc<AtomicUsize>,
}

impl EchoServer {
    fn start(codec: Codec, behaviour: Behaviour) -> EchoServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let max_batch = Arc::new(AtomicUsize::new(0));
        let (stopping, batch) = (stop.clone(), max_batch.clone());
        let stall_at = behaviour.stall_after.map(|after| Instant::now() + after);
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::Acquire) {
                    return;
                }
                if let Ok(stream) = stream {
                    let (batch, stopping) = (batch.clone(), stopping.clone());
                    thread::spawn(move || {
                        serve(stream, codec, behaviour, stall_at, &stopping, &batch)
                    });
                }
            }
        });
        EchoServer {
            addr,
            stop,
            max_batch,
        }
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve(
    mut stream: TcpStream,
    codec: Codec,
    behaviour: Behaviour,
    stall_at: Option<Instant>,
    stop: &AtomicBool,
    max_batch: &AtomicUsize,
) {
    stream.set_nodelay(true).unwrap();
    // Short reads so a stalled connection notices the server stopping.
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let limits = Limits::default();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let mut replies = 0;
    loop {
        // Every complete request buffered now is one batch.
        let mut batch = Vec::new();
        let mut at = 0;
        loop {
            match codec.parse(&buf[at..], &limits) {
                Ok(FrameStatus::Complete { message, consumed }) => {
                    batch.push(reply_to(&buf[at + message.start..at + message.end], codec));
                    at += consumed;
                }
                Ok(FrameStatus::Incomplete { .. }) => break,
                Err(_) => return,
            }
        }
        buf.drain(..at);
        max_batch.fetch_max(batch.len(), Ordering::Relaxed);
        if behaviour.reverse {
            batch.reverse();
        }
        for reply in batch {
            if stall_at.is_some_and(|at| Instant::now() >= at) {
                break;
            }
            if behaviour.close_after == Some(replies) {
                return;
            }
            if let Some(delay) = behaviour.delay {
                thread::sleep(delay);
            }
            if stream.write_all(&reply).is_err() {
                return;
            }
            replies += 1;
        }
        if stop.load(Ordering::Acquire) {
            return;
        }
        match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
    }
}

fn reply_to(found: &[u8], codec: Codec) -> Vec<u8> {
    let opened = codec.open(found, &Limits::default()).unwrap();
    let envelope = Envelope {
        seqid: opened.header().map_or(0, |frame| frame.seqid),
        ..Envelope::default()
    };
    let protocol = opened
        .header()
        .map_or(codec.protocol(), |frame| frame.protocol);
    let codec = codec.with_protocol(protocol);
    let mut reader = Reader::with_protocol(opened.payload(), protocol, Limits::default());
    let header = reader.read_message_begin().unwrap();
    let mut payload = None;
    while let Some((ttype, id)) = reader.read_field_begin().unwrap() {
        match (id, ttype) {
            (1, TType::String) => payload = Some(reader.read_bytes().unwrap()),
            _ => reader.skip(ttype).unwrap(),
        }
    }
    let mut out = Vec::new();
    let start = codec.begin_message(&mut out, &envelope);
    let reply = MessageHeader {
        name: header.name,
        kind: MessageType::Reply,
        seqid: header.seqid,
    };
    let mut writer = Writer::new(&mut out, codec.protocol());
    writer.write_message_begin(&reply);
    if let Some(payload) = payload {
        writer.write_field_begin(TType::String, 0);
        writer.write_binary(payload);
    }
    writer.write_field_stop();
    codec.finish_message(&mut out, start);
    out
}

fn test_plan(addr: SocketAddr, bound: Bound) -> Plan {
    Plan {
        addr,
        codec: Codec::FRAMED,
        connections: 4,
        pipeline: 1,
        driver: Driver::Threads,
        bound,
        warmup: Duration::ZERO,
        rate: None,
        idle_between: None,
        connect_timeout: Duration::from_millis(500),
        call_timeout: Duration::from_millis(500),
        retry: true,
        workload: Workload::echo(100),
    }
}

fn run(plan: Plan) -> Outcome {
    let progress = Progress::new(Unit::Calls, 1);
    load::run(Arc::new(plan), &progress).unwrap()
}

fn errors(outcome: &Outcome, kind: ErrorKind) -> u64 {
    outcome.errors.get(&kind).copied().unwrap_or(0)
}

const DRIVERS: [Driver; 2] = [Driver::Threads, Driver::Events];

#[test]
fn requests_bound_makes_exactly_that_many_calls() {
    for driver in DRIVERS {
        requests_bound_with(driver);
    }
}

fn requests_bound_with(driver: Driver) {
    let server = EchoServer::start(Codec::FRAMED, Behaviour::default());
    let mut plan = test_plan(server.addr, Bound::Requests(300));
    plan.driver = driver;
    let outcome = run(plan);
    assert_eq!(outcome.calls, 300);
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert_eq!(outcome.per_connection.len(), 4);
    assert_eq!(outcome.per_connection.iter().sum::<u64>(), 300);
    assert_eq!(outcome.latency_ns.len(), 300);
}

#[test]
fn duration_bound_stops_by_itself_after_the_warmup() {
    for driver in DRIVERS {
        duration_bound_with(driver);
    }
}

fn duration_bound_with(driver: Driver) {
    let server = EchoServer::start(Codec::FRAMED, Behaviour::default());
    let mut plan = test_plan(server.addr, Bound::Duration(Duration::from_millis(300)));
    plan.warmup = Duration::from_millis(100);
    plan.driver = driver;
    let began = Instant::now();
    let outcome = run(plan);
    assert!(outcome.calls > 0);
    assert!(
        outcome.elapsed >= Duration::from_millis(300),
        "{:?}",
        outcome.elapsed
    );
    assert!(began.elapsed() >= Duration::from_millis(400));
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "{:?}",
        began.elapsed()
    );
    assert!(outcome.per_connection.iter().all(|&n| n > 0));
}

#[test]
fn unframed_ping_works() {
    for driver in DRIVERS {
        unframed_ping_with(driver);
    }
}

fn unframed_ping_with(driver: Driver) {
    let server = EchoServer::start(Codec::UNFRAMED, Behaviour::default());
    let mut plan = test_plan(server.addr, Bound::Requests(50));
    plan.codec = Codec::UNFRAMED;
    plan.driver = driver;
    plan.workload = Workload::ping();
    let outcome = run(plan);
    assert_eq!(outcome.calls, 50);
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
}

#[test]
fn theader_and_compact_echo_run_on_every_driver() {
    use tether::protocol::Protocol;
    let compact = |codec: Codec| codec.with_protocol(Protocol::Compact);
    let codecs = [
        Codec::HEADER,
        compact(Codec::HEADER),
        Codec::FRAMED_HEADER,
        compact(Codec::FRAMED),
        compact(Codec::UNFRAMED),
    ];
    for codec in codecs {
        for driver in DRIVERS {
            let server = EchoServer::start(codec, Behaviour::default());
            let mut plan = test_plan(server.addr, Bound::Requests(40));
            plan.codec = codec;
            plan.driver = driver;
            let outcome = run(plan);
            assert_eq!(outcome.calls, 40, "{codec:?} {driver:?}");
            assert!(
                outcome.errors.is_empty(),
                "{codec:?} {driver:?}: {:?}",
                outcome.errors
            );
        }
    }
}

#[test]
fn framing_mismatch_is_an_error_not_a_hang() {
    for driver in DRIVERS {
        framing_mismatch_with(driver);
    }
}

fn framing_mismatch_with(driver: Driver) {
    let server = EchoServer::start(Codec::UNFRAMED, Behaviour::default());
    let mut plan = test_plan(server.addr, Bound::Requests(8));
    plan.driver = driver;
    let outcome = run(plan);
    assert_eq!(outcome.calls, 0);
    assert_eq!(
        outcome.errors.values().sum::<u64>(),
        8,
        "{:?}",
        outcome.errors
    );
}

#[test]
fn open_loop_keeps_to_the_rate() {
    let server = EchoServer::start(Codec::FRAMED, Behaviour::default());
    let mut plan = test_plan(server.addr, Bound::Duration(Duration::from_millis(500)));
    plan.rate = Some(400.0);
    let outcome = run(plan);
    // 400/s for 0.5 s is 200 scheduled calls; never more but for each of the 4 threads' two
    // window edges (a schedule point on the start and one rounding onto the end), and a loaded
    // machine catches up.
    assert!(outcome.calls <= 208, "{}", outcome.calls);
    assert!(outcome.calls >= 100, "{}", outcome.calls);
}

#[test]
fn open_loop_latency_counts_from_the_schedule() {
    // One connection, server takes 20 ms per call, calls scheduled every 5 ms: a closed-loop
    // tool would report 20 ms; from the schedule, the queue behind the slow server shows.
    let server = EchoServer::start(
        Codec::FRAMED,
        Behaviour {
            delay: Some(Duration::from_millis(20)),
            ..Behaviour::default()
        },
    );
    let mut plan = test_plan(server.addr, Bound::Duration(Duration::from_millis(400)));
    plan.connections = 1;
    plan.rate = Some(200.0);
    let outcome = run(plan);
    assert!(outcome.calls >= 5, "{}", outcome.calls);
    let max_ms = outcome.latency_ns.max() as f64 / 1e6;
    assert!(max_ms > 100.0, "max latency {max_ms} ms");
}

#[test]
fn one_call_in_flight_by_default() {
    let server = EchoServer::start(Codec::FRAMED, Behaviour::default());
    let outcome = run(test_plan(server.addr, Bound::Requests(200)));
    assert_eq!(outcome.calls, 200);
    assert_eq!(server.max_batch.load(Ordering::Relaxed), 1);
}

#[test]
fn events_pipeline_keeps_calls_in_flight_matched_by_seqid() {
    // Replies come back in reverse order within each batch: only seqid matching gets them right.
    let server = EchoServer::start(
        Codec::FRAMED,
        Behaviour {
            reverse: true,
            ..Behaviour::default()
        },
    );
    let mut plan = test_plan(server.addr, Bound::Requests(2000));
    plan.connections = 2;
    plan.pipeline = 8;
    plan.driver = Driver::Events;
    let outcome = run(plan);
    assert_eq!(outcome.calls, 2000);
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert_eq!(outcome.per_connection.len(), 2);
    assert!(outcome.per_connection.iter().all(|&n| n > 0));
    assert!(server.max_batch.load(Ordering::Relaxed) > 1);
}

#[test]
fn threads_pipeline_goes_through_the_mux_connection() {
    let server = EchoServer::start(
        Codec::FRAMED,
        Behaviour {
            reverse: true,
            ..Behaviour::default()
        },
    );
    let mut plan = test_plan(server.addr, Bound::Requests(1000));
    plan.connections = 2;
    plan.pipeline = 4;
    // One thread per connection keeps the window of pending calls.
    assert_eq!(plan.threads(), 2);
    let outcome = run(plan);
    assert_eq!(outcome.calls, 1000);
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert_eq!(outcome.per_connection.len(), 2);
    assert!(outcome.per_connection.iter().all(|&n| n > 0));
    // Replacements started together went out in one write: the server read them together.
    assert!(server.max_batch.load(Ordering::Relaxed) > 1);
}

#[test]
fn threads_pipeline_over_a_duration_stops_by_itself() {
    let server = EchoServer::start(Codec::FRAMED, Behaviour::default());
    let mut plan = test_plan(server.addr, Bound::Duration(Duration::from_millis(300)));
    plan.connections = 2;
    plan.pipeline = 8;
    let started = Instant::now();
    let outcome = run(plan);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(outcome.calls > 0);
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
}

#[test]
fn pipelined_calls_lost_with_their_connection_are_errors() {
    for driver in DRIVERS {
        pipelined_calls_lost_with(driver);
    }
}

fn pipelined_calls_lost_with(driver: Driver) {
    let server = EchoServer::start(
        Codec::FRAMED,
        Behaviour {
            close_after: Some(10),
            ..Behaviour::default()
        },
    );
    let mut plan = test_plan(server.addr, Bound::Requests(300));
    plan.connections = 1;
    plan.pipeline = 4;
    plan.driver = driver;
    let outcome = run(plan);
    // The mux retries a call its reused socket lost before any reply byte (the keep-alive
    // contract), so these may all succeed; none may go missing. With a naive client (retry
    // off) they would all be Io errors.
    let lost = errors(&outcome, ErrorKind::Io);
    assert_eq!(outcome.calls + lost, 300, "{:?}", outcome.errors);
}

#[test]
fn closed_connections_are_counted_and_reopened() {
    for driver in DRIVERS {
        closed_connections_with(driver);
    }
}

fn closed_connections_with(driver: Driver) {
    let server = EchoServer::start(
        Codec::FRAMED,
        Behaviour {
            close_after: Some(5),
            ..Behaviour::default()
        },
    );
    let mut plan = test_plan(server.addr, Bound::Requests(60));
    plan.connections = 1;
    plan.driver = driver;
    let outcome = run(plan);
    // Each connection serves 5 calls, then the 6th fails: 10 successes per failure; tether's
    // Connection (the threads driver) sends the 6th again on a fresh connection instead.
    let expected = if driver == Driver::Threads { 0 } else { 10 };
    assert_eq!(outcome.calls + errors(&outcome, ErrorKind::Io), 60);
    assert_eq!(
        errors(&outcome, ErrorKind::Io),
        expected,
        "{:?}",
        outcome.errors
    );
}

#[test]
fn slow_replies_are_timeouts() {
    for driver in DRIVERS {
        slow_replies_with(driver);
    }
}

fn slow_replies_with(driver: Driver) {
    let server = EchoServer::start(
        Codec::FRAMED,
        Behaviour {
            delay: Some(Duration::from_millis(300)),
            ..Behaviour::default()
        },
    );
    let mut plan = test_plan(server.addr, Bound::Requests(2));
    plan.connections = 1;
    plan.call_timeout = Duration::from_millis(100);
    plan.driver = driver;
    let outcome = run(plan);
    assert_eq!(outcome.calls, 0);
    assert_eq!(
        errors(&outcome, ErrorKind::Timeout),
        2,
        "{:?}",
        outcome.errors
    );
}

#[test]
fn refused_connections_are_connect_errors() {
    for driver in DRIVERS {
        refused_with(driver);
    }
}

fn refused_with(driver: Driver) {
    let addr = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let mut plan = test_plan(addr, Bound::Duration(Duration::from_millis(100)));
    plan.connections = 2;
    plan.driver = driver;
    let outcome = run(plan);
    assert_eq!(outcome.calls, 0);
    assert!(
        errors(&outcome, ErrorKind::Connect) >= 2,
        "{:?}",
        outcome.errors
    );
}

/// A named change to a test plan.
type Variant = (&'static str, fn(&mut Plan));

/// Every way the threads driver can run, and the events driver.
fn variants() -> [Variant; 4] {
    [
        ("closed loop", |_| {}),
        ("window of 4", |plan| plan.pipeline = 4),
        ("open loop", |plan| plan.rate = Some(100_000.0)),
        ("events", |plan| plan.driver = Driver::Events),
    ]
}

#[test]
fn failed_first_connects_are_setup_errors_and_retries_pause() {
    let addr = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    for (name, variant) in variants() {
        let mut plan = test_plan(addr, Bound::Duration(Duration::from_millis(200)));
        plan.connections = 2;
        variant(&mut plan);
        let outcome = run(plan);
        assert_eq!(outcome.calls, 0, "{name}");
        // One failed first connect per connection, apart from the measured phase.
        assert_eq!(
            outcome.setup_errors,
            [(ErrorKind::Connect, 2)].into(),
            "{name}"
        );
        // Reconnects in the measured phase are connect errors, each followed by a 10 ms pause:
        // at most ~20 per connection in 200 ms, where a hot loop makes thousands.
        let connects = errors(&outcome, ErrorKind::Connect);
        assert!(
            (1..=100).contains(&connects),
            "{name}: {:?}",
            outcome.errors
        );
        // The open loop falls behind its schedule while it pauses: those calls are late.
        let others = outcome
            .errors
            .keys()
            .filter(|&&kind| kind != ErrorKind::Connect && kind != ErrorKind::Late);
        assert_eq!(others.count(), 0, "{name}: {:?}", outcome.errors);
    }
}

#[test]
fn reconnects_that_fail_are_connect_errors_and_pause() {
    for (name, variant) in variants() {
        // Takes the first connection, closes it and stops listening: every reconnect is refused.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let closer = thread::spawn(move || drop(listener.accept()));
        let mut plan = test_plan(addr, Bound::Duration(Duration::from_millis(200)));
        plan.connections = 1;
        variant(&mut plan);
        let outcome = run(plan);
        closer.join().unwrap();
        assert!(outcome.setup_errors.is_empty(), "{name}");
        // 10 ms between reconnects: about 20 in 200 ms, where a hot loop makes thousands.
        let connects = errors(&outcome, ErrorKind::Connect);
        assert!((1..=60).contains(&connects), "{name}: {:?}", outcome.errors);
        assert_eq!(errors(&outcome, ErrorKind::Other), 0, "{name}");
    }
}

#[test]
fn a_server_that_stalls_before_the_end_shows_timeouts() {
    // The server stops answering 1 s before the end of a 3 s run. The calls it leaves hanging
    // time out 1.5 s later, after the run's end: they are waited for and count as timeouts, and
    // the open loop's calls that fell due meanwhile count as late.
    thread::scope(|scope| {
        for (name, variant) in variants() {
            scope.spawn(move || {
                let server = EchoServer::start(
                    Codec::FRAMED,
                    Behaviour {
                        stall_after: Some(Duration::from_secs(2)),
                        ..Behaviour::default()
                    },
                );
                let mut plan = test_plan(server.addr, Bound::Duration(Duration::from_secs(3)));
                plan.connections = 2;
                plan.call_timeout = Duration::from_millis(1500);
                variant(&mut plan);
                let open_loop = plan.rate.is_some();
                if open_loop {
                    plan.rate = Some(200.0);
                }
                let began = Instant::now();
                let outcome = run(plan);
                assert!(outcome.calls > 0, "{name}");
                // Every connection had a call hanging when the server stalled.
                let timeouts = errors(&outcome, ErrorKind::Timeout);
                assert!(timeouts >= 2, "{name}: {:?}", outcome.errors);
                if open_loop {
                    // 100 calls/s per thread were due in the last second; most were never sent.
                    let late = errors(&outcome, ErrorKind::Late);
                    assert!(late >= 50, "{name}: {:?}", outcome.errors);
                }
                // The wait for the hanging calls is bounded by their timeout.
                assert!(
                    began.elapsed() < Duration::from_secs(10),
                    "{name}: {:?}",
                    began.elapsed()
                );
            });
        }
    });
}

#[test]
fn no_pause_after_the_last_of_the_requests() {
    for pipeline in [1, 4] {
        let server = EchoServer::start(Codec::FRAMED, Behaviour::default());
        // One connection and one window's worth of requests: with two, one connection can
        // claim both windows before the other starts, and its pause between them is due.
        let mut plan = test_plan(server.addr, Bound::Requests(pipeline as u64));
        plan.connections = 1;
        plan.pipeline = pipeline;
        plan.idle_between = Some(Duration::from_secs(5));
        let began = Instant::now();
        let outcome = run(plan);
        assert_eq!(outcome.calls, pipeline as u64);
        // The one call (or window) was the last: nothing to pause 5 s for.
        assert!(
            began.elapsed() < Duration::from_secs(4),
            "pipeline {pipeline}: {:?}",
            began.elapsed()
        );
    }
}

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    args: BenchArgs,
}

fn parse_args(line: &[&str]) -> Result<Plan, String> {
    let cli = Cli::try_parse_from(std::iter::once("bench").chain(line.iter().copied()))
        .map_err(|e| e.to_string())?;
    plan(&cli.args)
}

#[test]
fn flags_become_a_plan() {
    let plan = parse_args(&[
        "127.0.0.1:9",
        "--connections",
        "3",
        "--requests",
        "10",
        "--payload",
        "1KiB",
        "--pipeline",
        "2",
        "--transport",
        "unframed",
    ])
    .unwrap();
    let compact = parse_args(&[
        "127.0.0.1:9",
        "--transport",
        "header",
        "--protocol",
        "compact",
    ])
    .unwrap();
    assert_eq!(
        compact.codec,
        Codec::HEADER.with_protocol(tether::protocol::Protocol::Compact)
    );
    assert_eq!(plan.bound, Bound::Requests(10));
    assert_eq!(plan.connections, 3);
    assert_eq!(plan.pipeline, 2);
    assert_eq!(plan.codec, Codec::UNFRAMED);
    assert!(matches!(plan.workload, Workload::Echo(ref args) if args.payload.len() == 1024));

    assert_eq!(plan.driver, Driver::Threads);

    let plan = parse_args(&["127.0.0.1:9", "--method", "ping", "--driver", "events"]).unwrap();
    assert_eq!(plan.driver, Driver::Events);
    assert_eq!(plan.bound, Bound::Duration(Duration::from_secs(10)));
    assert!(matches!(plan.workload, Workload::Ping(_)));
}

#[test]
fn bad_flags_are_refused() {
    assert!(parse_args(&["127.0.0.1:9", "--connections", "0"]).is_err());
    assert!(parse_args(&["127.0.0.1:9", "--pipeline", "0"]).is_err());
    assert!(parse_args(&["127.0.0.1:9", "--rate", "0"]).is_err());
    assert!(parse_args(&["127.0.0.1:9", "--requests", "0"]).is_err());
    assert!(parse_args(&["127.0.0.1:9", "--duration", "1s", "--requests", "5"]).is_err());
    assert!(parse_args(&["not an address"]).is_err());
    assert!(parse_args(&["127.0.0.1:9", "--rate", "10", "--idle-between", "1s"]).is_err());
    assert!(parse_args(&["127.0.0.1:9", "--driver", "events", "--rate", "10"]).is_err());
    assert!(parse_args(&["127.0.0.1:9", "--driver", "events", "--idle-between", "1s"]).is_err());
}
