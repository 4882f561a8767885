//! The cross-test flags of examples/cross_server.rs and cross_client.rs: Apache's test runner
//! passes `--flag=value`, people type `--flag value`, a combination tether does not speak
//! must be refused with a reason rather than served wrongly (none is left), and each names the
//! codec Apache's own programs speak for it.

#[allow(dead_code)]
#[path = "../examples/cross/flags.rs"]
mod flags;

use flags::{parse, unsupported, Protocol, Side, Transport};
use tether::transport::Codec;

fn args(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}

#[test]
fn both_spellings_parse_to_the_same_flags() {
    for line in [
        "--port=9091 --protocol=multi --transport=framed --host=127.0.0.1 --testloops=3",
        "--port 9091 --protocol multi --transport framed --host 127.0.0.1 -n 3",
    ] {
        let flags = parse(Side::Client, args(line)).unwrap();
        assert_eq!(flags.port, 9091, "{line}");
        assert_eq!(flags.protocol, Protocol::Multi, "{line}");
        assert_eq!(flags.transport, Transport::Framed, "{line}");
        assert_eq!(flags.host, "127.0.0.1", "{line}");
        assert_eq!(flags.test_loops, 3, "{line}");
    }
}

#[test]
fn absent_flags_take_apaches_defaults() {
    let flags = parse(Side::Server, args("")).unwrap();
    assert_eq!(flags.port, 9090);
    assert_eq!(flags.protocol, Protocol::Binary);
    assert_eq!(flags.transport, Transport::Buffered);
}

#[test]
fn every_protocol_name_of_apaches_runner_parses() {
    for name in ["binary", "compact", "header", "multi", "multic", "multih"] {
        let flags = parse(Side::Server, args(&format!("--protocol={name}"))).unwrap();
        assert_eq!(flags.protocol.to_string(), name);
        assert_eq!(flags.protocol.multiplexed(), name.starts_with("multi"));
    }
}

#[test]
fn bad_and_foreign_flags_are_refused_with_a_reason() {
    let cases = [
        (Side::Server, "--ssl", "--ssl is not supported"),
        (
            Side::Server,
            "--domain-socket=/tmp/x",
            "--domain-socket is not supported",
        ),
        (Side::Server, "--host localhost", "unknown flag --host"),
        (Side::Server, "--bogus 1", "unknown flag --bogus"),
        (Side::Server, "--protocol json", "unknown protocol \"json\""),
        (
            Side::Server,
            "--transport http",
            "unknown transport \"http\"",
        ),
        (Side::Server, "--port 70000", "--port takes a port number"),
        (Side::Client, "--port", "--port needs a value"),
        (
            Side::Client,
            "--testloops many",
            "--testloops takes a count",
        ),
    ];
    for (side, line, expected) in cases {
        let error = parse(side, args(line)).unwrap_err();
        assert!(error.contains(expected), "{line}: {error}");
    }
}

#[test]
fn every_combination_of_apaches_matrix_is_spoken() {
    use Protocol::*;
    use Transport::*;
    for side in [Side::Server, Side::Client] {
        for protocol in [Binary, Compact, Header, Multi, MultiCompact, MultiHeader] {
            for transport in [Buffered, Framed] {
                assert_eq!(unsupported(side, protocol, transport), None);
            }
        }
    }
}

#[test]
fn each_combination_maps_to_the_codec_apaches_programs_speak() {
    use tether::protocol::Protocol::{Binary, Compact};
    let cases = [
        ("binary", "buffered", Codec::UNFRAMED),
        ("multi", "framed", Codec::FRAMED),
        (
            "compact",
            "buffered",
            Codec::UNFRAMED.with_protocol(Compact),
        ),
        ("multic", "framed", Codec::FRAMED.with_protocol(Compact)),
        ("header", "buffered", Codec::HEADER),
        // THeaderProtocol over TFramedTransport: a frame around each THeader frame.
        ("header", "framed", Codec::FRAMED_HEADER),
        (
            "multih",
            "framed",
            Codec::FRAMED_HEADER.with_protocol(Binary),
        ),
    ];
    for (protocol, transport, codec) in cases {
        let line = format!("--protocol {protocol} --transport {transport}");
        let flags = parse(Side::Server, args(&line)).unwrap();
        assert_eq!(flags::codec(&flags), codec, "{line}");
    }
}
