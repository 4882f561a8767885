//! tether's bytes against Apache Thrift's: tests/golden/*.bin were written by scripts/golden.py
//! with the Python `thrift` package's TBinaryProtocol. Every vector is encoded again here and
//! compared byte for byte, then decoded back. The values must match scripts/golden.py's.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

mod golden_struct;
use golden_struct::*;

use tether::protocol::{
    ApplicationException, ApplicationExceptionKind, Decode, Encode, Limits, MessageHeader,
    MessageType, Protocol, ProtocolError, Reader, TType, Writer,
};
use tether::transport::{detect, Codec, Envelope, FrameStatus, Framing};

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn golden(file: &str) -> Vec<u8> {
    let path = golden_dir().join(file);
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run scripts/golden.py", path.display()))
}

fn assert_same_bytes(file: &str, ours: &[u8], theirs: &[u8]) {
    if ours != theirs {
        let at = ours.iter().zip(theirs).position(|(a, b)| a != b);
        panic!(
            "{file}: tether wrote {} bytes, Apache Thrift {}; first difference at {at:?}\n\
             tether: {ours:02x?}\napache: {theirs:02x?}",
            ours.len(),
            theirs.len()
        );
    }
}

fn decode_like<T: Decode>(r: &mut Reader<'_>, _like: &T) -> T {
    T::decode(r).unwrap()
}

/// Encodes the values in order, compares with the vector, then decodes them back from it.
macro_rules! golden_sequence {
    ($file:expr, $($value:expr),+ $(,)?) => {{
        let file = $file;
        let theirs = golden(file);
        let mut ours = Vec::new();
        let mut w = Writer::binary(&mut ours);
        $( Encode::encode(&$value, &mut w); )+
        assert_same_bytes(file, &ours, &theirs);
        let mut r = Reader::new(&theirs);
        $( assert_eq!(decode_like(&mut r, &$value), $value, "{}", file); )+
        assert_eq!(r.remaining(), 0, "{file}");
    }};
}

#[test]
fn bool_matches() {
    golden_sequence!("value_bool.bin", true, false);
}

#[test]
fn byte_matches() {
    golden_sequence!("value_byte.bin", -128i8, -1i8, 0i8, 1i8, 127i8);
}

#[test]
fn i16_matches() {
    golden_sequence!(
        "value_i16.bin",
        i16::MIN,
        -1i16,
        0i16,
        1i16,
        255i16,
        i16::MAX
    );
}

#[test]
fn i32_matches() {
    golden_sequence!(
        "value_i32.bin",
        i32::MIN,
        -1i32,
        0i32,
        1i32,
        0x1234_5678i32,
        i32::MAX
    );
}

#[test]
fn i64_matches() {
    golden_sequence!(
        "value_i64.bin",
        i64::MIN,
        -1i64,
        0i64,
        1i64,
        (1i64 << 53) + 1,
        i64::MAX
    );
}

#[test]
fn double_matches_bit_for_bit() {
    let doubles = [
        0.0f64,
        -0.0,
        1.0,
        -1.5,
        std::f64::consts::PI,
        1e308,
        -1e-308,
        5e-324,
        f64::MAX,
        -f64::MAX,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ];
    let theirs = golden("value_double.bin");
    let mut ours = Vec::new();
    for d in doubles {
        d.encode(&mut Writer::binary(&mut ours));
    }
    assert_same_bytes("value_double.bin", &ours, &theirs);
    let mut r = Reader::new(&theirs);
    for d in doubles {
        assert_eq!(r.read_double().unwrap().to_bits(), d.to_bits(), "{d}");
    }
    assert_eq!(r.remaining(), 0);
}

#[test]
fn string_matches() {
    golden_sequence!(
        "value_string.bin",
        String::new(),
        "hello".to_string(),
        "héllo wörld".to_string(),
        "日本語".to_string(),
        "crab \u{1f980}".to_string(),
        "nul\0inside".to_string(),
    );
}

#[test]
fn binary_matches() {
    golden_sequence!(
        "value_binary.bin",
        Vec::<u8>::new(),
        vec![0x00u8, 0xff, 0x80],
        (0..=255u8).collect::<Vec<u8>>(),
    );
}

#[test]
fn list_matches() {
    golden_sequence!(
        "value_list.bin",
        vec![1i32, 2, 3],
        vec!["a".to_string(), "é".to_string()],
        vec![vec![1i8], vec![], vec![-1i8, 2]],
        Vec::<f64>::new(),
        vec![true, false],
    );
}

#[test]
fn set_matches() {
    golden_sequence!(
        "value_set.bin",
        BTreeSet::from([-5i64, 0, 9]),
        BTreeSet::from(["a".to_string(), "b".to_string(), "c".to_string()]),
        BTreeSet::<i16>::new(),
    );
}

#[test]
fn map_matches() {
    golden_sequence!(
        "value_map.bin",
        BTreeMap::from([("a".to_string(), 1i32), ("b".to_string(), -2)]),
        BTreeMap::from([
            (1i32, BTreeMap::from([("t".to_string(), true)])),
            (2, BTreeMap::new()),
        ]),
        BTreeMap::<i64, f64>::new(),
    );
}

#[test]
fn nested_containers_match() {
    let value: Vec<BTreeMap<String, Vec<BTreeSet<i16>>>> = vec![
        BTreeMap::from([
            ("j".to_string(), vec![]),
            (
                "k".to_string(),
                vec![BTreeSet::from([1, 2]), BTreeSet::new()],
            ),
        ]),
        BTreeMap::new(),
    ];
    golden_sequence!("value_nested.bin", value);
}

#[test]
fn struct_with_every_type_matches() {
    golden_sequence!("value_struct.bin", everything());
}

#[test]
fn struct_skips_like_it_decodes() {
    let theirs = golden("value_struct.bin");
    let mut r = Reader::new(&theirs);
    r.skip(TType::Struct).unwrap();
    assert_eq!(r.remaining(), 0);
    // One level less than the struct needs (Everything > Inner > list > map > list) fails.
    let mut r = Reader::with_limits(&theirs, Limits::default().max_depth(4));
    assert_eq!(
        r.skip(TType::Struct).unwrap_err(),
        ProtocolError::DepthLimit { limit: 4 }
    );
}

#[test]
fn application_exceptions_of_every_kind_match() {
    let file = "value_application_exceptions.bin";
    let theirs = golden(file);
    let exceptions: Vec<ApplicationException> = (0..=10)
        .map(|k| {
            ApplicationException::new(ApplicationExceptionKind::from_value(k), format!("kind {k}"))
        })
        .collect();
    let mut ours = Vec::new();
    for e in &exceptions {
        e.encode(&mut Writer::binary(&mut ours));
    }
    assert_same_bytes(file, &ours, &theirs);
    let mut r = Reader::new(&theirs);
    for e in &exceptions {
        let back = ApplicationException::decode(&mut r).unwrap();
        assert_eq!(&back, e);
        assert!(!matches!(back.kind, ApplicationExceptionKind::Other(_)));
    }
    assert_eq!(r.remaining(), 0);
}

/// The message bodies of scripts/golden.py's MESSAGES.
#[derive(Debug, Clone, PartialEq)]
enum Body {
    /// An args or result struct with one binary field.
    Binary(i16, Vec<u8>),
    /// `ping_args`, `ping_result`.
    Empty,
    /// `fail_result { 1: EchoError err }`, `EchoError { 1: string message }`.
    DeclaredError(String),
    /// A TApplicationException.
    Exception(ApplicationException),
}

impl Encode for Body {
    fn encode(&self, w: &mut Writer<'_>) {
        match self {
            Body::Binary(id, value) => {
                w.write_field(*id, value);
                w.write_field_stop();
            }
            Body::Empty => w.write_field_stop(),
            Body::DeclaredError(message) => {
                w.write_field_begin(TType::Struct, 1);
                w.write_field(1, message);
                w.write_field_stop();
                w.write_field_stop();
            }
            Body::Exception(e) => e.encode(w),
        }
    }
}

/// Decodes a body of the same shape as `like`.
fn decode_body(r: &mut Reader<'_>, like: &Body) -> Result<Body, ProtocolError> {
    if let Body::Exception(_) = like {
        return ApplicationException::decode(r).map(Body::Exception);
    }
    r.enter()?;
    let mut body = Body::Empty;
    while let Some((ttype, id)) = r.read_field_begin()? {
        match (like, ttype) {
            (Body::Binary(want, _), TType::String) if id == *want => {
                body = Body::Binary(id, Vec::decode(r)?);
            }
            (Body::DeclaredError(_), TType::Struct) if id == 1 => {
                r.enter()?;
                let mut message = None;
                while let Some((ttype, id)) = r.read_field_begin()? {
                    match (id, ttype) {
                        (1, TType::String) => message = Some(String::decode(r)?),
                        _ => r.skip(ttype)?,
                    }
                }
                r.leave();
                body = Body::DeclaredError(message.ok_or(missing("EchoError", "message"))?);
            }
            _ => r.skip(ttype)?,
        }
    }
    r.leave();
    Ok(body)
}

struct Message {
    file: &'static str,
    name: &'static str,
    kind: MessageType,
    seqid: i32,
    body: Body,
}

fn messages() -> Vec<Message> {
    let payload: Vec<u8> = (0..64).collect();
    let unknown_method = ApplicationException::new(
        ApplicationExceptionKind::UnknownMethod,
        "unknown method echo2",
    );
    let m = |file, name, kind, seqid, body| Message {
        file,
        name,
        kind,
        seqid,
        body,
    };
    vec![
        m(
            "echo_call",
            "echo",
            MessageType::Call,
            1,
            Body::Binary(1, payload.clone()),
        ),
        m(
            "echo_reply",
            "echo",
            MessageType::Reply,
            1,
            Body::Binary(0, payload),
        ),
        m(
            "ping_call",
            "ping",
            MessageType::Call,
            i32::MAX,
            Body::Empty,
        ),
        m(
            "ping_reply",
            "ping",
            MessageType::Reply,
            i32::MIN,
            Body::Empty,
        ),
        m(
            "fire_oneway",
            "fire",
            MessageType::Oneway,
            5,
            Body::Binary(1, b"fire".to_vec()),
        ),
        m(
            "fail_reply",
            "fail",
            MessageType::Reply,
            6,
            Body::DeclaredError("boom".into()),
        ),
        m(
            "multiplexed_call",
            "Echo:ping",
            MessageType::Call,
            3,
            Body::Empty,
        ),
        m(
            "exception",
            "echo2",
            MessageType::Exception,
            42,
            Body::Exception(unknown_method),
        ),
    ]
}

const VARIANTS: [(bool, Framing); 4] = [
    (true, Framing::Unframed),
    (true, Framing::Framed),
    (false, Framing::Unframed),
    (false, Framing::Framed),
];

fn variant_file(message: &Message, strict: bool, framing: Framing) -> String {
    format!(
        "msg_{}_{}_{}.bin",
        message.file,
        if strict { "strict" } else { "nonstrict" },
        if framing == Framing::Framed {
            "framed"
        } else {
            "unframed"
        }
    )
}

/// Writes a message as Apache's TBinaryProtocol does; tether itself only writes strict headers,
/// the old non-strict layout (name, type byte, seqid) is put together here from its parts.
fn encode_message(message: &Message, strict: bool, framing: Framing) -> Vec<u8> {
    let mut out = Vec::new();
    let codec = Codec::new(framing, Protocol::Binary);
    let start = codec.begin_message(&mut out, &Envelope::default());
    if strict {
        let header = MessageHeader {
            name: message.name,
            kind: message.kind,
            seqid: message.seqid,
        };
        Writer::binary(&mut out).write_message_begin(&header);
    } else {
        let mut w = Writer::binary(&mut out);
        w.write_string(message.name);
        w.write_i8(message.kind as i8);
        w.write_i32(message.seqid);
    }
    message.body.encode(&mut Writer::binary(&mut out));
    codec.finish_message(&mut out, start);
    out
}

#[test]
fn messages_match_in_every_variant() {
    for message in messages() {
        for (strict, framing) in VARIANTS {
            let file = variant_file(&message, strict, framing);
            let ours = encode_message(&message, strict, framing);
            assert_same_bytes(&file, &ours, &golden(&file));
        }
    }
}

#[test]
fn messages_are_framed_detected_and_decoded_back() {
    let limits = Limits::default();
    for message in messages() {
        for (strict, framing) in VARIANTS {
            let file = variant_file(&message, strict, framing);
            let mut theirs = golden(&file);
            assert_eq!(
                detect(&theirs),
                Some(Codec::new(framing, Protocol::Binary)),
                "{file}"
            );
            // A second message behind the first must not be taken for part of it.
            let len = theirs.len();
            theirs.extend_from_slice(&golden(&file));
            let status = Codec::new(framing, Protocol::Binary).parse(&theirs, &limits);
            let Ok(FrameStatus::Complete {
                message: range,
                consumed,
            }) = status
            else {
                panic!("{file}: {status:?}");
            };
            assert_eq!(consumed, len, "{file}");
            let mut r = Reader::new(&theirs[range]);
            let header = r.read_message_begin().unwrap();
            assert_eq!(header.name, message.name, "{file}");
            assert_eq!(header.kind, message.kind, "{file}");
            assert_eq!(header.seqid, message.seqid, "{file}");
            assert_eq!(
                decode_body(&mut r, &message.body).unwrap(),
                message.body,
                "{file}"
            );
            assert_eq!(r.remaining(), 0, "{file}");
        }
    }
}

#[test]
fn truncated_vectors_are_incomplete_never_errors() {
    let limits = Limits::default();
    for message in messages() {
        for (strict, framing) in VARIANTS {
            let file = variant_file(&message, strict, framing);
            let theirs = golden(&file);
            for cut in 0..theirs.len() {
                let status = Codec::new(framing, Protocol::Binary).parse(&theirs[..cut], &limits);
                assert!(
                    matches!(status, Ok(FrameStatus::Incomplete { needed }) if needed > 0),
                    "{file} cut at {cut}: {status:?}"
                );
            }
        }
    }
}

const VALUE_FILES: [&str; 14] = [
    "bool",
    "byte",
    "i16",
    "i32",
    "i64",
    "double",
    "string",
    "binary",
    "list",
    "set",
    "map",
    "nested",
    "struct",
    "application_exceptions",
];

#[test]
fn manifest_lists_exactly_the_vectors_checked_here() {
    let mut expected: BTreeSet<String> = VALUE_FILES
        .iter()
        .map(|v| format!("value_{v}.bin"))
        .collect();
    for message in messages() {
        for (strict, framing) in VARIANTS {
            expected.insert(variant_file(&message, strict, framing));
        }
    }
    let manifest = String::from_utf8(golden("MANIFEST")).unwrap();
    let listed: BTreeSet<String> = manifest
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| line.split_whitespace().next().unwrap().to_string())
        .collect();
    assert_eq!(
        listed, expected,
        "scripts/golden.py and tests/golden.rs are out of step"
    );
    for file in &listed {
        let size: usize = manifest
            .lines()
            .find(|line| line.starts_with(&format!("{file} ")))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|size| size.parse().ok())
            .unwrap();
        assert_eq!(golden(file).len(), size, "{file}");
    }
}
