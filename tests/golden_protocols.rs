//! tether's compact, uuid and THeader bytes against Apache Thrift's: tests/golden_protocols/ was
//! written by scripts/golden_protocols.py with the Python `thrift` package (TCompactProtocol,
//! THeaderTransport, writeUuid), over the values and messages of scripts/golden.py. Every vector
//! is encoded again here and compared byte for byte (zlib frames: headers byte for byte, payload
//! after inflating, as zlib builds may compress differently), then decoded back.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

mod golden_struct;
use golden_struct::*;

use tether::protocol::{
    ApplicationException, ApplicationExceptionKind, Decode, Encode, Limits, MessageHeader,
    MessageType, Protocol, ProtocolError, Reader, TType, Uuid, WireType, Writer,
};
use tether::transport::{
    encode_header_frame, is_header_frame, parse_framed, parse_header_frame, Codec, Envelope,
    FrameStatus, HeaderMeta, HeaderStatus,
};

fn golden(file: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden_protocols")
        .join(file);
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run scripts/golden_protocols.py", path.display()))
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

/// Encodes the values in order into one buffer.
fn compact_bytes(write: impl FnOnce(&mut Writer<'_>)) -> Vec<u8> {
    let mut out = Vec::new();
    write(&mut Writer::new(&mut out, Protocol::Compact));
    out
}

fn compact_reader(bytes: &[u8]) -> Reader<'_> {
    Reader::with_protocol(bytes, Protocol::Compact, Limits::default())
}

fn ttype_like<T: WireType>(_like: &T) -> TType {
    T::TTYPE
}

fn decode_like<T: Decode>(r: &mut Reader<'_>, _like: &T) -> T {
    T::decode(r).unwrap()
}

/// Encodes the values in order, compares with the vector, then decodes them back from it.
macro_rules! golden_sequence {
    ($file:expr, $($value:expr),+ $(,)?) => {{
        let file = $file;
        let theirs = golden(file);
        let ours = compact_bytes(|w| { $( Encode::encode(&$value, w); )+ });
        assert_same_bytes(file, &ours, &theirs);
        let mut r = compact_reader(&theirs);
        $( assert_eq!(decode_like(&mut r, &$value), $value, "{}", file); )+
        assert_eq!(r.remaining(), 0, "{file}");
        // Skip walks exactly the same bytes.
        let mut s = compact_reader(&theirs);
        $( s.skip(ttype_like(&$value)).unwrap(); )+
        assert_eq!(s.remaining(), 0, "{file}");
    }};
}

#[test]
fn compact_scalars_match() {
    golden_sequence!("compact_value_bool.bin", true, false);
    golden_sequence!("compact_value_byte.bin", -128i8, -1i8, 0i8, 1i8, 127i8);
    golden_sequence!(
        "compact_value_i16.bin",
        i16::MIN,
        -1i16,
        0i16,
        1i16,
        255i16,
        i16::MAX
    );
    golden_sequence!(
        "compact_value_i32.bin",
        i32::MIN,
        -1i32,
        0i32,
        1i32,
        0x1234_5678i32,
        i32::MAX
    );
    golden_sequence!(
        "compact_value_i64.bin",
        i64::MIN,
        -1i64,
        0i64,
        1i64,
        (1i64 << 53) + 1,
        i64::MAX
    );
}

#[test]
fn compact_doubles_match_bit_for_bit() {
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
    let theirs = golden("compact_value_double.bin");
    let ours = compact_bytes(|w| doubles.iter().for_each(|d| w.write_double(*d)));
    assert_same_bytes("compact_value_double.bin", &ours, &theirs);
    let mut r = compact_reader(&theirs);
    for d in doubles {
        assert_eq!(r.read_double().unwrap().to_bits(), d.to_bits(), "{d}");
    }
}

#[test]
fn compact_strings_and_binaries_match() {
    golden_sequence!(
        "compact_value_string.bin",
        String::new(),
        "hello".to_string(),
        "héllo wörld".to_string(),
        "日本語".to_string(),
        "crab \u{1f980}".to_string(),
        "nul\0inside".to_string(),
    );
    golden_sequence!(
        "compact_value_binary.bin",
        Vec::<u8>::new(),
        vec![0x00u8, 0xff, 0x80],
        (0..=255u8).collect::<Vec<u8>>(),
    );
}

#[test]
fn compact_containers_match() {
    golden_sequence!(
        "compact_value_list.bin",
        vec![1i32, 2, 3],
        vec!["a".to_string(), "é".to_string()],
        vec![vec![1i8], vec![], vec![-1i8, 2]],
        Vec::<f64>::new(),
        vec![true, false],
    );
    golden_sequence!(
        "compact_value_set.bin",
        BTreeSet::from([-5i64, 0, 9]),
        BTreeSet::from(["a".to_string(), "b".to_string(), "c".to_string()]),
        BTreeSet::<i16>::new(),
    );
    golden_sequence!(
        "compact_value_map.bin",
        BTreeMap::from([("a".to_string(), 1i32), ("b".to_string(), -2)]),
        BTreeMap::from([
            (1i32, BTreeMap::from([("t".to_string(), true)])),
            (2, BTreeMap::new()),
        ]),
        BTreeMap::<i64, f64>::new(),
    );
    let nested: Vec<BTreeMap<String, Vec<BTreeSet<i16>>>> = vec![
        BTreeMap::from([
            ("j".to_string(), vec![]),
            (
                "k".to_string(),
                vec![BTreeSet::from([1, 2]), BTreeSet::new()],
            ),
        ]),
        BTreeMap::new(),
    ];
    golden_sequence!("compact_value_nested.bin", nested);
}

#[test]
fn compact_struct_with_every_type_matches() {
    golden_sequence!("compact_value_struct.bin", everything());
}

#[test]
fn compact_application_exceptions_of_every_kind_match() {
    let exceptions: Vec<ApplicationException> = (0..=10)
        .map(|k| {
            ApplicationException::new(ApplicationExceptionKind::from_value(k), format!("kind {k}"))
        })
        .collect();
    let file = "compact_value_application_exceptions.bin";
    let theirs = golden(file);
    let ours = compact_bytes(|w| exceptions.iter().for_each(|e| e.encode(w)));
    assert_same_bytes(file, &ours, &theirs);
    let mut r = compact_reader(&theirs);
    for e in &exceptions {
        assert_eq!(&ApplicationException::decode(&mut r).unwrap(), e);
    }
    assert_eq!(r.remaining(), 0);
}

fn uuids() -> [Uuid; 3] {
    [
        Uuid::nil(),
        Uuid::from_u128(0x0011_2233_4455_6677_8899_aabb_ccdd_eeff),
        Uuid::from_u128(u128::MAX),
    ]
}

#[test]
fn compact_uuids_match() {
    let [a, b, c] = uuids();
    let file = "compact_value_uuid.bin";
    let theirs = golden(file);
    let ours = compact_bytes(|w| {
        for u in uuids() {
            u.encode(w);
        }
        uuids().to_vec().encode(w);
        w.write_struct_begin();
        w.write_field(1, &b);
        w.write_field(2, &true);
        w.write_field(20, &c);
        w.write_field_stop();
        w.write_struct_end();
    });
    assert_same_bytes(file, &ours, &theirs);
    let mut r = compact_reader(&theirs);
    for u in uuids() {
        assert_eq!(Uuid::decode(&mut r).unwrap(), u);
    }
    assert_eq!(Vec::<Uuid>::decode(&mut r).unwrap(), vec![a, b, c]);
    r.skip(TType::Struct).unwrap();
    assert_eq!(r.remaining(), 0);
}

#[test]
fn binary_uuids_match() {
    let [a, b, c] = uuids();
    let file = "binary_value_uuid.bin";
    let theirs = golden(file);
    let mut ours = Vec::new();
    let mut w = Writer::binary(&mut ours);
    for u in uuids() {
        u.encode(&mut w);
    }
    vec![a, b, c].encode(&mut w);
    w.write_field_begin(TType::Uuid, 1);
    w.write_uuid(b.as_bytes());
    w.write_field_begin(TType::Bool, 2);
    true.encode(&mut w);
    w.write_field_begin(TType::Uuid, 20);
    c.encode(&mut w);
    w.write_field_stop();
    assert_same_bytes(file, &ours, &theirs);
    let mut r = Reader::new(&theirs);
    for u in uuids() {
        assert_eq!(Uuid::decode(&mut r).unwrap(), u);
    }
    assert_eq!(Vec::<Uuid>::decode(&mut r).unwrap(), vec![a, b, c]);
    r.skip(TType::Struct).unwrap();
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

/// The same bytes in binary as Apache writes (struct brackets are compact-only state).
impl Encode for Body {
    fn encode(&self, w: &mut Writer<'_>) {
        match self {
            Body::Exception(e) => return e.encode(w),
            Body::Binary(id, value) => {
                w.write_struct_begin();
                w.write_field(*id, value);
            }
            Body::Empty => w.write_struct_begin(),
            Body::DeclaredError(message) => {
                w.write_struct_begin();
                w.write_field_begin(TType::Struct, 1);
                w.write_struct_begin();
                w.write_field(1, message);
                w.write_field_stop();
                w.write_struct_end();
            }
        }
        w.write_field_stop();
        w.write_struct_end();
    }
}

impl Body {
    /// Reads a body of the same shape as `self` with the compact reader.
    fn read_like(&self, r: &mut Reader<'_>) -> Result<Body, ProtocolError> {
        if let Body::Exception(_) = self {
            return ApplicationException::decode(r).map(Body::Exception);
        }
        r.enter()?;
        let mut body = Body::Empty;
        while let Some((ttype, id)) = r.read_field_begin()? {
            match (self, ttype) {
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
}

struct Message {
    file: &'static str,
    name: &'static str,
    kind: MessageType,
    seqid: i32,
    body: Body,
}

impl Message {
    fn header(&self) -> MessageHeader<'static> {
        MessageHeader {
            name: self.name,
            kind: self.kind,
            seqid: self.seqid,
        }
    }

    fn compact(&self) -> Vec<u8> {
        compact_bytes(|w| {
            w.write_message_begin(&self.header());
            self.body.encode(w);
        })
    }

    fn binary(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = Writer::binary(&mut out);
        w.write_message_begin(&self.header());
        self.body.encode(&mut w);
        out
    }

    /// Decodes a compact message and checks it is this one.
    fn check_compact(&self, what: &str, bytes: &[u8]) {
        let mut r = compact_reader(bytes);
        assert_eq!(r.read_message_begin().unwrap(), self.header(), "{what}");
        assert_eq!(self.body.read_like(&mut r).unwrap(), self.body, "{what}");
        assert_eq!(r.remaining(), 0, "{what}");
    }

    /// Decodes a binary message and checks it is this one (by re-encoding: the binary
    /// encoding is canonical for these bodies).
    fn check_binary(&self, what: &str, bytes: &[u8]) {
        let mut r = Reader::new(bytes);
        assert_eq!(r.read_message_begin().unwrap(), self.header(), "{what}");
        r.skip(TType::Struct).unwrap();
        assert_eq!(r.remaining(), 0, "{what}");
        assert_same_bytes(what, &self.binary(), bytes);
    }
}

fn messages() -> Vec<Message> {
    let payload: Vec<u8> = (0..64).collect();
    let m = |file, name, kind, seqid, body| Message {
        file,
        name,
        kind,
        seqid,
        body,
    };
    let unknown_method = ApplicationException::new(
        ApplicationExceptionKind::UnknownMethod,
        "unknown method echo2",
    );
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

#[test]
fn compact_messages_match_framed_and_unframed() {
    for message in messages() {
        let file = format!("compact_msg_{}_unframed.bin", message.file);
        let unframed = golden(&file);
        assert_same_bytes(&file, &message.compact(), &unframed);
        message.check_compact(&file, &unframed);

        let file = format!("compact_msg_{}_framed.bin", message.file);
        let framed = golden(&file);
        let mut out = Vec::new();
        let at = Codec::FRAMED.begin_message(&mut out, &Envelope::default());
        let mut w = Writer::new(&mut out, Protocol::Compact);
        w.write_message_begin(&message.header());
        message.body.encode(&mut w);
        Codec::FRAMED.finish_message(&mut out, at);
        assert_same_bytes(&file, &out, &framed);
        let Ok(FrameStatus::Complete { message: range, .. }) = parse_framed(&framed, 1 << 20)
        else {
            panic!("{file}: not one frame");
        };
        message.check_compact(&file, &framed[range]);
    }
}

#[test]
fn compact_messages_cut_short_are_unexpected_end() {
    for message in messages() {
        let bytes = message.compact();
        for cut in 0..bytes.len() {
            let mut r = compact_reader(&bytes[..cut]);
            let outcome = r.read_message_begin().and_then(|_| r.skip(TType::Struct));
            assert!(
                matches!(outcome, Err(ProtocolError::UnexpectedEnd { .. })),
                "{} cut at {cut}: {outcome:?}",
                message.file
            );
        }
    }
}

/// scripts/golden_protocols.py's HEADER_FRAMES.
struct Frame {
    file: &'static str,
    message: &'static str,
    protocol: Protocol,
    zlib: bool,
    info: &'static [(&'static [u8], &'static [u8])],
    seqid: i32,
}

const FRAMES: [Frame; 4] = [
    Frame {
        file: "header_echo_call_binary.bin",
        message: "echo_call",
        protocol: Protocol::Binary,
        zlib: false,
        info: &[(b":drain", b"1"), (b"trace", b"abc")],
        seqid: 1,
    },
    Frame {
        file: "header_echo_call_compact.bin",
        message: "echo_call",
        protocol: Protocol::Compact,
        zlib: false,
        info: &[],
        seqid: 2,
    },
    Frame {
        file: "header_echo_reply_binary_zlib.bin",
        message: "echo_reply",
        protocol: Protocol::Binary,
        zlib: true,
        info: &[(b":drain", b"")],
        seqid: 3,
    },
    Frame {
        file: "header_exception_compact_zlib.bin",
        message: "exception",
        protocol: Protocol::Compact,
        zlib: true,
        info: &[(b"k\0", b"\xff\xfe")],
        seqid: -4,
    },
];

#[test]
fn header_frames_match_and_decode() {
    let messages = messages();
    for frame in &FRAMES {
        let message = messages.iter().find(|m| m.file == frame.message).unwrap();
        let theirs = golden(frame.file);
        assert_eq!(is_header_frame(&theirs), Some(true), "{}", frame.file);
        let Ok(HeaderStatus::Complete {
            frame: parsed,
            consumed,
        }) = parse_header_frame(&theirs, 1 << 20)
        else {
            panic!("{}: not one frame", frame.file);
        };
        assert_eq!(consumed, theirs.len(), "{}", frame.file);
        assert_eq!(parsed.seqid, frame.seqid, "{}", frame.file);
        assert_eq!(parsed.protocol, frame.protocol, "{}", frame.file);
        assert_eq!(parsed.zlib, frame.zlib, "{}", frame.file);
        assert_eq!(parsed.flags, 0, "{}", frame.file);
        assert_eq!(
            parsed.info_headers().collect::<Vec<_>>(),
            frame.info.to_vec(),
            "{}",
            frame.file
        );
        let payload = match frame.protocol {
            Protocol::Binary => {
                message.check_binary(frame.file, parsed.payload());
                message.binary()
            }
            Protocol::Compact => {
                message.check_compact(frame.file, parsed.payload());
                message.compact()
            }
        };
        let meta = HeaderMeta {
            flags: 0,
            seqid: frame.seqid,
            protocol: frame.protocol,
            zlib: frame.zlib,
            info: frame.info,
        };
        let mut ours = Vec::new();
        encode_header_frame(&mut ours, &meta, &payload).unwrap();
        if !frame.zlib {
            assert_same_bytes(frame.file, &ours, &theirs);
            continue;
        }
        // zlib: the same headers byte for byte, the same payload once inflated.
        let headers_end = 14 + 4 * usize::from(u16::from_be_bytes([theirs[12], theirs[13]]));
        assert_same_bytes(frame.file, &ours[4..headers_end], &theirs[4..headers_end]);
        let Ok(HeaderStatus::Complete { frame: back, .. }) = parse_header_frame(&ours, 1 << 20)
        else {
            panic!("{}: our frame does not parse", frame.file);
        };
        assert_eq!(back.payload(), parsed.payload(), "{}", frame.file);
    }
}

#[test]
fn header_frames_cut_short_are_incomplete() {
    for frame in &FRAMES {
        let theirs = golden(frame.file);
        for cut in 0..theirs.len() {
            assert!(
                matches!(
                    parse_header_frame(&theirs[..cut], 1 << 20),
                    Ok(HeaderStatus::Incomplete { needed }) if needed > 0
                ),
                "{} cut at {cut}",
                frame.file
            );
        }
    }
}

#[test]
fn manifest_lists_exactly_the_vectors_checked_here() {
    let values = [
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
        "uuid",
    ];
    let mut expected: BTreeSet<String> = values
        .iter()
        .map(|v| format!("compact_value_{v}.bin"))
        .collect();
    expected.insert("binary_value_uuid.bin".to_string());
    for message in messages() {
        for framing in ["framed", "unframed"] {
            expected.insert(format!("compact_msg_{}_{framing}.bin", message.file));
        }
    }
    for frame in &FRAMES {
        expected.insert(frame.file.to_string());
    }
    let manifest = String::from_utf8(golden("MANIFEST")).unwrap();
    let listed: BTreeSet<String> = manifest
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| line.split_whitespace().next().unwrap().to_string())
        .collect();
    assert_eq!(
        listed, expected,
        "scripts/golden_protocols.py and tests/golden_protocols.rs are out of step"
    );
    for line in manifest.lines().filter(|l| !l.starts_with('#')) {
        let mut parts = line.split_whitespace();
        let (file, size) = (parts.next().unwrap(), parts.next().unwrap());
        assert_eq!(golden(file).len().to_string(), size, "{file}");
    }
}
