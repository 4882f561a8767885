//! THeader over loopback against tether's server: replies in kind (seqid, flags, zlib), info
//! headers both ways through CallContext, unknown transforms answered as the spec requires,
//! sizes bounded like frames, and the in-band drain (`:drain`) that spares clients a retry.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use support::*;
use tether::client::{
    Channel, Connection, ConnectionConfig, Multiplexed, MuxConfig, MuxConnection, Pool, PoolConfig,
};
use tether::protocol::{ApplicationException, ApplicationExceptionKind, Protocol};
use tether::server::{CallContext, Config, Router};
use tether::services::echo::{EchoClient, EchoFailError, EchoHandler, EchoProcessor};
use tether::transport::{
    encode_header_frame, parse_header_frame, Codec, HeaderMeta, HeaderStatus, DRAIN_HEADER,
};

const SECOND: Duration = Duration::from_secs(1);

fn meta<'h>(seqid: i32, zlib: bool, info: &'h [(&'h [u8], &'h [u8])]) -> HeaderMeta<'h> {
    HeaderMeta {
        flags: 0,
        seqid,
        protocol: Protocol::Binary,
        zlib,
        info,
    }
}

fn header_frame(meta: &HeaderMeta<'_>, message: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_header_frame(&mut out, meta, message).unwrap();
    out
}

/// A reply frame's seqid, flags, zlib, info headers and message.
struct HeaderReply {
    seqid: i32,
    flags: u16,
    zlib: bool,
    info: Vec<(Vec<u8>, Vec<u8>)>,
    reply: Reply,
}

fn read_header_reply(client: &mut RawClient) -> HeaderReply {
    let bytes = client.read_frame(5 * SECOND).expect("a reply frame");
    let HeaderStatus::Complete { frame, consumed } = parse_header_frame(&bytes, 1 << 20).unwrap()
    else {
        panic!("whole frame read");
    };
    assert_eq!(consumed, bytes.len());
    assert_eq!(frame.protocol, Protocol::Binary);
    HeaderReply {
        seqid: frame.seqid,
        flags: frame.flags,
        zlib: frame.zlib,
        info: frame
            .info_headers()
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .collect(),
        reply: Reply::parse(frame.payload()),
    }
}

#[test]
fn theader_calls_are_answered_in_kind_detected_or_fixed() {
    for config in [
        Config::default(),
        Config::default().codec(Some(Codec::HEADER)),
    ] {
        let server = TestServer::start(config);
        let mut client = server.connect();
        for (seqid, zlib) in [(77, false), (78, true)] {
            let mut request = meta(seqid, zlib, &[(b"k", b"v")]);
            request.flags = 1;
            client
                .send(&header_frame(&request, &echo_call(seqid, b"hello")))
                .unwrap();
            let got = read_header_reply(&mut client);
            assert_eq!((got.seqid, got.flags, got.zlib), (seqid, 1, zlib));
            assert!(got.info.is_empty(), "no reply headers asked for");
            assert_eq!((got.reply.name.as_str(), got.reply.seqid), ("echo", seqid));
            assert_eq!(got.reply.binary_field(0).unwrap(), b"hello");
        }
        // A oneway call is answered with nothing, not an empty frame.
        client
            .send(&header_frame(&meta(79, false, &[]), &fire_call(79, b"x")))
            .unwrap();
        client
            .send(&header_frame(&meta(80, false, &[]), &ping_call(80)))
            .unwrap();
        assert_eq!(read_header_reply(&mut client).seqid, 80);
    }
}

/// Echo answers with the request's `x-ask` info header and sets `x-answer` on the reply.
struct HeaderEcho;

impl EchoHandler for HeaderEcho {
    fn echo(&self, ctx: &CallContext, _: Vec<u8>) -> Result<Vec<u8>, ApplicationException> {
        assert!(ctx.set_reply_header("x-answer", "42"));
        assert!(!ctx.set_reply_header("x-huge", vec![0u8; tether::server::MAX_REPLY_HEADER_BYTES]));
        Ok(ctx.info_header(b"x-ask").unwrap_or_default().to_vec())
    }
    fn ping(&self, _: &CallContext) -> Result<(), ApplicationException> {
        Ok(())
    }
    fn sleep(&self, _: &CallContext, _: i32) -> Result<(), ApplicationException> {
        Ok(())
    }
    fn fire(&self, _: &CallContext, _: Vec<u8>) -> Result<(), ApplicationException> {
        Ok(())
    }
    fn fail(&self, _: &CallContext, mode: String) -> Result<String, EchoFailError> {
        Ok(mode)
    }
}

#[test]
fn handlers_read_info_headers_and_set_them_on_replies() {
    let server = TestServer::start_with(
        Config::default(),
        Router::new().service(EchoProcessor::new(HeaderEcho)),
    );
    let mut client = server.connect();
    for zlib in [false, true] {
        let info: &[(&[u8], &[u8])] = &[(b"x-ask", b"first"), (b"x-ask", b"last wins")];
        client
            .send(&header_frame(&meta(5, zlib, info), &echo_call(5, b"")))
            .unwrap();
        let got = read_header_reply(&mut client);
        assert_eq!(got.zlib, zlib);
        assert_eq!(got.info, [(b"x-answer".to_vec(), b"42".to_vec())]);
        assert_eq!(got.reply.binary_field(0).unwrap(), b"last wins");
    }
    // The same handler over a framed connection: the headers go nowhere, the call works.
    let reply = server.connect().call(&echo_call(6, b""));
    assert_eq!(reply.binary_field(0).unwrap(), b"");
}

#[test]
fn unknown_transform_is_answered_with_invalid_transform_then_closed() {
    let server = TestServer::start(Config::default());
    let mut client = server.connect();
    let message = ping_call(9);
    // protocol 0, one transform: id 3 (snappy, which tether does not implement), padded to 4.
    let headers = [0u8, 1, 3, 0];
    let mut frame = Vec::new();
    frame.extend_from_slice(&[0x0f, 0xff, 0, 0]);
    frame.extend_from_slice(&9i32.to_be_bytes());
    frame.extend_from_slice(&1u16.to_be_bytes());
    frame.extend_from_slice(&headers);
    frame.extend_from_slice(&message);
    let mut bytes = (frame.len() as u32).to_be_bytes().to_vec();
    bytes.extend_from_slice(&frame);
    client.send(&bytes).unwrap();
    let got = read_header_reply(&mut client);
    assert_eq!((got.seqid, got.zlib), (9, false));
    let e = got.reply.exception().expect("an exception");
    assert_eq!(e.kind, ApplicationExceptionKind::InvalidTransform);
    assert!(client.wait_closed(SECOND).is_some());
}

#[test]
fn theader_frames_are_bounded_like_frames() {
    let server = TestServer::start(Config::default().max_frame(1024));
    let mut client = server.connect();
    // A length of 4096 and the magic: refused on the header alone, no body awaited.
    let mut bytes = 4096u32.to_be_bytes().to_vec();
    bytes.extend_from_slice(&[0x0f, 0xff, 0, 0]);
    client.send(&bytes).unwrap();
    assert!(client.wait_closed(SECOND).is_some());
    // A zlib bomb: 2 KiB of zeros that inflate past max_frame is refused too.
    let mut client = server.connect();
    let big = echo_call(1, &vec![0u8; 2048]);
    client
        .send(&header_frame(&meta(1, true, &[]), &big))
        .unwrap();
    assert!(client.wait_closed(SECOND).is_some());
}

fn theader_client() -> ConnectionConfig {
    ConnectionConfig::default()
        .codec(Codec::HEADER)
        .connect_timeout(Duration::from_millis(500))
        .call_timeout(2 * SECOND)
}

#[test]
fn generated_clients_speak_theader_and_compact() {
    let server = TestServer::start(Config::default());
    let target = server.addr.to_string();
    let compact = |codec: Codec| codec.with_protocol(Protocol::Compact);
    for codec in [
        Codec::HEADER,
        compact(Codec::HEADER),
        compact(Codec::FRAMED),
    ] {
        let config = theader_client().codec(codec);
        let (connection, pool, mux) = support::client::echo_clients(&target, config);
        for payload in [&b""[..], b"hi", &[7u8; 100_000]] {
            assert_eq!(connection.echo(payload.to_vec()).unwrap(), payload);
            assert_eq!(pool.echo(payload.to_vec()).unwrap(), payload);
            assert_eq!(mux.echo(payload.to_vec()).unwrap(), payload);
        }
        connection.ping().unwrap();
        pool.fire(b"x".to_vec()).unwrap();
        assert!(
            matches!(mux.fail("error".into()), Err(EchoFailError::Err(_))),
            "{codec:?}"
        );
        assert_eq!(pool.fail("x".into()).unwrap(), "x");
        assert_eq!(pool.channel().stats().created, 1);
        // A wrapper channel forwards the protocol: `Echo:echo` over the same codec.
        let multiplexed = EchoClient::new(Multiplexed::new(pool.into_channel(), "Echo"));
        assert_eq!(multiplexed.echo(b"m".to_vec()).unwrap(), b"m", "{codec:?}");
    }
}

/// Calls `echo` on `client` from `threads` threads until `stop`; returns the calls made and
/// panics on any error.
fn load<C: Channel + Send + Sync + 'static>(
    client: Arc<EchoClient<C>>,
    threads: usize,
    stop: Arc<AtomicBool>,
) -> Vec<thread::JoinHandle<u64>> {
    (0..threads)
        .map(|i| {
            let (client, stop) = (client.clone(), stop.clone());
            thread::spawn(move || {
                let mut calls = 0;
                while !stop.load(Ordering::Relaxed) {
                    let payload = format!("{i}:{calls}").into_bytes();
                    let reply = client
                        .echo(payload.clone())
                        .expect("no call fails in a drain");
                    assert_eq!(reply, payload);
                    calls += 1;
                }
                calls
            })
        })
        .collect()
}

/// The announce phase marks every reply `:drain`: each client retires a connection once its
/// replies are in, so when the drain closes connections none of theirs is in use or idle in a
/// pool, and no call is lost or needs sending again.
#[test]
fn drain_under_load_over_theader_needs_no_retry() {
    let mut server = TestServer::start(
        Config::default()
            .drain_announce(Duration::from_millis(400))
            .drain_timeout(2 * SECOND),
    );
    let target = server.addr.to_string();
    let connection = Arc::new(EchoClient::new(
        Connection::connect(&target, theader_client()).unwrap(),
    ));
    let pool = Arc::new(EchoClient::new(
        Pool::new(
            [target.clone()],
            PoolConfig::default().connection(theader_client()),
        )
        .unwrap(),
    ));
    let mux = Arc::new(EchoClient::new(
        MuxConnection::connect(&target, MuxConfig::default().connection(theader_client())).unwrap(),
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = load(connection.clone(), 1, stop.clone());
    workers.extend(load(pool.clone(), 4, stop.clone()));
    workers.extend(load(mux.clone(), 4, stop.clone()));
    thread::sleep(Duration::from_millis(100));
    let drained = server.shutdown();
    // Load on through most of the announce, then stop before the listener closes.
    thread::sleep(Duration::from_millis(250));
    stop.store(true, Ordering::Relaxed);
    let calls: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let report = drained.join().unwrap().unwrap();
    assert!(calls > 0);
    let (c, p, m) = (
        connection.channel().stats(),
        pool.channel().stats(),
        mux.channel().stats(),
    );
    assert_eq!(
        (c.retries, p.retries, m.retries),
        (0, 0, 0),
        "{c:?} {p:?} {m:?}"
    );
    assert!(c.retired_drain > 0, "{c:?}");
    assert!(p.retired_drain > 0, "{p:?}");
    assert!(m.retired_drain > 0, "{m:?}");
    assert_eq!(report.forced, 0, "{report:?}");
    assert!(report.is_clean(), "{report:?}");
}

#[test]
fn replies_carry_drain_only_once_a_shutdown_is_requested() {
    let mut server =
        TestServer::start(Config::default().drain_announce(Duration::from_millis(300)));
    let mut client = server.connect();
    client
        .send(&header_frame(&meta(1, false, &[]), &ping_call(1)))
        .unwrap();
    assert!(read_header_reply(&mut client).info.is_empty());
    let _drained = server.shutdown();
    assert!(wait_until(SECOND, || !server.handle.is_ready()));
    client
        .send(&header_frame(&meta(2, false, &[]), &ping_call(2)))
        .unwrap();
    let got = read_header_reply(&mut client);
    assert_eq!(got.info, [(DRAIN_HEADER.to_vec(), b"true".to_vec())]);
    // A framed connection has nowhere to carry it and is served as before.
    let reply = server.connect().call(&ping_call(3));
    assert_eq!(reply.seqid, 3);
}

/// A pool over two servers keeps its load on through one server's whole drain: the announce
/// retires its connections to the draining one in band, a refused connect moves on to the
/// other, and no call fails or is sent twice.
#[test]
fn pool_rides_through_a_whole_drain_over_theader() {
    let mut draining = TestServer::start(
        Config::default()
            .drain_announce(Duration::from_millis(300))
            .drain_timeout(2 * SECOND),
    );
    let staying = TestServer::start(Config::default());
    let pool = Arc::new(EchoClient::new(
        Pool::new(
            [draining.addr.to_string(), staying.addr.to_string()],
            PoolConfig::default().connection(theader_client()),
        )
        .unwrap(),
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let workers = load(pool.clone(), 4, stop.clone());
    thread::sleep(Duration::from_millis(100));
    let report = draining.shutdown().join().unwrap().unwrap();
    thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    let calls: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let stats = pool.channel().stats();
    assert!(calls > 0);
    assert_eq!(stats.retries, 0, "{stats:?}");
    assert!(stats.retired_drain > 0, "{stats:?}");
    assert!(report.is_clean(), "{report:?}");
}

/// Every framing with both protocols, detected by the server and answered in kind, through
/// each client. (The generated client decodes results as binary, so the result is decoded
/// here in the connection's protocol.)
#[test]
fn every_framing_and_protocol_is_detected_and_answered_in_kind() {
    use tether::protocol::{decode_with_protocol, Limits};
    use tether::services::echo::{EchoEchoArgs, EchoEchoResult};
    use tether::transport::Framing;

    let server = TestServer::start(Config::default());
    let target = server.addr.to_string();
    for framing in [
        Framing::Framed,
        Framing::Unframed,
        Framing::Header,
        Framing::FramedHeader,
    ] {
        for protocol in [Protocol::Binary, Protocol::Compact] {
            let config = theader_client().codec(Codec::new(framing, protocol));
            let channels: Vec<(&str, Box<dyn Channel>)> = vec![
                (
                    "connection",
                    Box::new(Connection::connect(&target, config.clone()).unwrap()),
                ),
                (
                    "pool",
                    Box::new(
                        Pool::new(
                            [target.clone()],
                            PoolConfig::default().connection(config.clone()),
                        )
                        .unwrap(),
                    ),
                ),
                (
                    "mux",
                    Box::new(
                        MuxConnection::connect(&target, MuxConfig::default().connection(config))
                            .unwrap(),
                    ),
                ),
            ];
            for (name, channel) in channels {
                for payload in [b"".to_vec(), b"hello".to_vec(), vec![9u8; 70_000]] {
                    let body = channel
                        .call(
                            "echo",
                            &EchoEchoArgs {
                                payload: payload.clone(),
                            },
                        )
                        .unwrap_or_else(|e| panic!("{framing:?} {protocol:?} {name}: {e}"));
                    let result: EchoEchoResult =
                        decode_with_protocol(&body, protocol, Limits::default()).unwrap();
                    assert_eq!(
                        result.success.unwrap(),
                        payload,
                        "{framing:?} {protocol:?} {name}"
                    );
                }
            }
        }
    }
}
