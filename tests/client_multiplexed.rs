//! Apache's multiplexed protocol end to end: generated clients name their calls
//! `Service:method` through `multiplexed(channel)`, and tether's server serves two services on
//! one port, the plain names going to its default service.

mod support;

#[allow(dead_code)]
#[path = "codegen/uuids.rs"]
mod uuids;

use std::sync::mpsc;
use std::time::Duration;

use std::io::Write;

use support::client::{fast, peer, read_call};
use support::{echo_processor, TestServer};
use tether::client::{Channel, ClientError, Connection, Multiplexed};
use tether::protocol::{
    ApplicationException, ApplicationExceptionKind, Encode, MessageHeader, MessageType, Protocol,
    Uuid, Writer,
};
use tether::server::{CallContext, Config, Router};
use tether::services::echo::{EchoClient, EchoEchoResult};
use tether::transport::{Codec, Envelope};
use uuids::{RegistryClient, RegistryHandler, RegistryProcessor};

struct Registry;

impl RegistryHandler for Registry {
    fn lookup(&self, _: &CallContext, id: Uuid) -> Result<Uuid, ApplicationException> {
        Ok(Uuid::from_u128(id.as_u128() + 1))
    }
}

fn two_services(router: Router) -> TestServer {
    TestServer::start_with(
        Config::default(),
        router
            .service(echo_processor())
            .service(RegistryProcessor::new(Registry)),
    )
}

/// A framed REPLY to `echo` as Apache's generated server writes it (result field 0).
fn echo_reply(name: &str, seqid: i32, payload: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::new();
    let at = Codec::FRAMED.begin_message(&mut out, &Envelope::default());
    let mut w = Writer::binary(&mut out);
    w.write_message_begin(&MessageHeader {
        name,
        kind: MessageType::Reply,
        seqid,
    });
    EchoEchoResult {
        success: Some(payload),
    }
    .encode(&mut w);
    Codec::FRAMED.finish_message(&mut out, at);
    out
}

#[test]
fn calls_carry_the_service_prefix_and_accept_plain_replies() {
    let (names, seen) = mpsc::channel();
    let (addr, _peer) = peer(move |_, mut s| {
        while let Some(call) = read_call(&mut s) {
            names.send(call.name.clone()).unwrap();
            // Apache's TMultiplexedProcessor answers under the plain name.
            if call.name.ends_with(":echo") {
                let plain = call.name.rsplit_once(':').unwrap().1;
                s.write_all(&echo_reply(plain, call.seqid, call.payload))
                    .unwrap();
            }
        }
    });
    let client = EchoClient::multiplexed(Connection::connect(&addr.to_string(), fast()).unwrap());
    assert_eq!(client.channel().service(), "Echo");
    assert_eq!(client.echo(b"hi".to_vec()).unwrap(), b"hi");
    client.fire(b"x".to_vec()).unwrap();
    let wait = Duration::from_millis(500);
    assert_eq!(seen.recv_timeout(wait).unwrap(), "Echo:echo");
    assert_eq!(seen.recv_timeout(wait).unwrap(), "Echo:fire");
}

#[test]
fn two_services_share_one_port_and_one_connection() {
    let server = two_services(Router::new());
    let connection = Connection::connect(&server.addr.to_string(), fast()).unwrap();
    let echo = EchoClient::multiplexed(&connection);
    let registry = RegistryClient::multiplexed(&connection);
    for i in 0..3u128 {
        assert_eq!(echo.echo(vec![i as u8]).unwrap(), [i as u8]);
        assert_eq!(
            registry.lookup(Uuid::from_u128(i)).unwrap().as_u128(),
            i + 1
        );
    }
    // Each method's plain name belongs to one service, so unprefixed calls route too.
    assert_eq!(
        EchoClient::new(&connection).echo(b"p".to_vec()).unwrap(),
        b"p"
    );
    assert_eq!(server.stats().exceptions, 0);
}

#[test]
fn a_service_the_server_lacks_is_an_unknown_method() {
    let server = TestServer::start(Config::default());
    let connection = Connection::connect(&server.addr.to_string(), fast()).unwrap();
    let client = EchoClient::new(Multiplexed::new(&connection, "Nope"));
    match client.echo(b"x".to_vec()) {
        Err(ClientError::Application(e)) => {
            assert_eq!(e.kind, ApplicationExceptionKind::UnknownMethod)
        }
        other => panic!("expected unknown method, got {other:?}"),
    }
    // The connection is still good for the right service.
    let client = EchoClient::multiplexed(&connection);
    assert_eq!(client.echo(b"y".to_vec()).unwrap(), b"y");
}

#[test]
fn plain_names_go_to_the_default_service() {
    let server = two_services(Router::new().default_service("Echo"));
    let connection = Connection::connect(&server.addr.to_string(), fast()).unwrap();
    // A plain client of the default service, as before the server multiplexed.
    assert_eq!(
        EchoClient::new(&connection).echo(b"d".to_vec()).unwrap(),
        b"d"
    );
    assert_eq!(
        RegistryClient::new(&connection)
            .lookup(Uuid::nil())
            .unwrap()
            .as_u128(),
        1
    );
}

#[test]
fn multiplexed_calls_decode_replies_in_the_channel_protocol() {
    let server = two_services(Router::new());
    for codec in [
        Codec::FRAMED,
        Codec::UNFRAMED,
        Codec::HEADER,
        Codec::FRAMED_HEADER,
    ] {
        let codec = codec.with_protocol(Protocol::Compact);
        let connection =
            Connection::connect(&server.addr.to_string(), fast().codec(codec)).unwrap();
        let echo = EchoClient::multiplexed(&connection);
        assert_eq!(echo.channel().protocol(), Protocol::Compact, "{codec:?}");
        // A compact reply decoded as binary fails or garbles; the bytes must come back whole.
        assert_eq!(
            echo.echo(b"compact".to_vec()).unwrap(),
            b"compact",
            "{codec:?}"
        );
        let registry = RegistryClient::multiplexed(&connection);
        assert_eq!(registry.lookup(Uuid::from_u128(7)).unwrap().as_u128(), 8);
    }
    assert_eq!(server.stats().exceptions, 0);
}
