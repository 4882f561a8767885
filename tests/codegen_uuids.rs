//! `uuid` in generated code (tests/codegen/uuids.thrift, golden file beside it): the struct
//! matches the bytes PyPI's thrift writes for it in both protocols, every uuid place
//! round-trips, and a service passes uuids through tether's server and client.

mod support;

#[allow(dead_code)]
#[path = "codegen/uuids.rs"]
mod uuids;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use support::TestServer;
use tether::client::{Connection, ConnectionConfig};
use tether::protocol::{
    decode_with_protocol, encode_with_protocol, ApplicationException, Decode, Limits, Protocol,
    Reader, TType, Uuid,
};
use tether::server::{CallContext, Config, Router};
use uuids::*;

fn golden(file: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden_protocols")
        .join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `WithUuid` at the end of scripts/golden_protocols.py's uuid vector, after three uuids
/// and a list of them.
fn with_uuid_bytes(file: &str, protocol: Protocol) -> Vec<u8> {
    let bytes = golden(file);
    let mut r = Reader::with_protocol(&bytes, protocol, Limits::default());
    for _ in 0..3 {
        r.skip(TType::Uuid).unwrap();
    }
    r.skip(TType::List).unwrap();
    bytes[r.position()..].to_vec()
}

#[test]
fn generated_struct_matches_pypi_thrift_in_both_protocols() {
    let expected = WithUuid {
        id: Uuid::from_u128(0x0011_2233_4455_6677_8899_aabb_ccdd_eeff),
        flag: true,
        other: Uuid::from_u128(u128::MAX),
    };
    for (file, protocol) in [
        ("binary_value_uuid.bin", Protocol::Binary),
        ("compact_value_uuid.bin", Protocol::Compact),
    ] {
        let theirs = with_uuid_bytes(file, protocol);
        let decoded: WithUuid = decode_with_protocol(&theirs, protocol, Limits::default())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(decoded, expected, "{file}");
        assert_eq!(encode_with_protocol(&expected, protocol), theirs, "{file}");
    }
}

fn sample() -> Uuids {
    let a = Uuid::from_u128(1);
    let b = Uuid::from_u128(0xfeed_f00d << 64);
    Uuids {
        id: a,
        parent: Some(b),
        ids: vec![a, b, Uuid::nil()],
        tags: BTreeSet::from([a, b]),
        names: BTreeMap::from([(a, "a".to_string()), (b, "b".to_string())]),
        fallback: Uuid::nil(),
    }
}

#[test]
fn every_uuid_place_round_trips_in_both_protocols() {
    for protocol in [Protocol::Binary, Protocol::Compact] {
        for value in [sample(), Uuids::default()] {
            let bytes = encode_with_protocol(&value, protocol);
            let back: Uuids = decode_with_protocol(&bytes, protocol, Limits::default()).unwrap();
            assert_eq!(back, value, "{protocol:?}");
        }
    }
}

#[test]
fn constants_and_defaults_are_the_idl_strings() {
    assert_eq!(
        EXAMPLE,
        Uuid::parse_str("00112233-4455-6677-8899-aabbccddeeff").unwrap()
    );
    assert_eq!(Uuids::default().fallback, EXAMPLE);
    // A required uuid absent from the wire is an error, not a nil uuid.
    let mut r = Reader::new(&[0]);
    assert!(Uuids::decode(&mut r).is_err());
}

struct Registry;

impl RegistryHandler for Registry {
    fn lookup(&self, _: &CallContext, id: Uuid) -> Result<Uuid, ApplicationException> {
        Ok(Uuid::from_u128(!id.as_u128()))
    }
}

#[test]
fn a_service_passes_uuids_through_server_and_client() {
    let server = TestServer::start_with(
        Config::default(),
        Router::new().service(RegistryProcessor::new(Registry)),
    );
    let config = ConnectionConfig::default()
        .connect_timeout(Duration::from_millis(500))
        .call_timeout(Duration::from_millis(500));
    let client =
        RegistryClient::new(Connection::connect(&server.addr.to_string(), config).unwrap());
    assert_eq!(client.lookup(Uuid::nil()).unwrap(), Uuid::max());
    assert_eq!(
        client.lookup(EXAMPLE).unwrap().as_u128(),
        !EXAMPLE.as_u128()
    );
}
