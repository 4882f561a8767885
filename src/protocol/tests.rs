use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use proptest::prelude::*;

use super::*;

fn header(name: &str, kind: MessageType, seqid: i32) -> MessageHeader<'_> {
    MessageHeader { name, kind, seqid }
}

fn round_trip<T: Encode + Decode + PartialEq + std::fmt::Debug>(value: T) {
    let bytes = encode_to_vec(&value);
    let mut r = Reader::new(&bytes);
    let back = T::decode(&mut r).unwrap();
    assert_eq!(back, value);
    assert_eq!(r.remaining(), 0, "decode must consume exactly the encoding");
}

#[test]
fn primitives_have_apache_encodings() {
    assert_eq!(encode_to_vec(&true), [1]);
    assert_eq!(encode_to_vec(&false), [0]);
    assert_eq!(encode_to_vec(&-2i8), [0xfe]);
    assert_eq!(encode_to_vec(&0x0102i16), [1, 2]);
    assert_eq!(encode_to_vec(&-1i32), [0xff; 4]);
    assert_eq!(encode_to_vec(&1i64), [0, 0, 0, 0, 0, 0, 0, 1]);
    assert_eq!(encode_to_vec(&1.0f64), [0x3f, 0xf0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(encode_to_vec("hé"), [0, 0, 0, 3, b'h', 0xc3, 0xa9]);
    assert_eq!(encode_to_vec(&vec![7u8, 8]), [0, 0, 0, 2, 7, 8]);
    assert_eq!(encode_to_vec(&vec![1i16]), [6, 0, 0, 0, 1, 0, 1]);
    let map: BTreeMap<i8, bool> = [(1, true)].into();
    assert_eq!(encode_to_vec(&map), [3, 2, 0, 0, 0, 1, 1, 1]);
}

#[test]
fn collections_round_trip() {
    round_trip(vec!["a".to_string(), String::new()]);
    round_trip(HashSet::from([1i32, 2, 3]));
    round_trip(BTreeSet::from([-1i64, 5]));
    round_trip(HashMap::from([("k".to_string(), vec![1.5f64])]));
    round_trip(BTreeMap::from([(1i16, BTreeMap::from([(2i8, true)]))]));
    round_trip(vec![vec![vec![1u8, 2]], vec![]]);
    round_trip(Box::new(42i32));
}

#[test]
fn strict_message_header_round_trips() {
    let mut out = Vec::new();
    Writer::binary(&mut out).write_message_begin(&header("echo", MessageType::Call, 7));
    assert_eq!(
        out,
        [0x80, 1, 0, 1, 0, 0, 0, 4, b'e', b'c', b'h', b'o', 0, 0, 0, 7]
    );
    let h = Reader::new(&out).read_message_begin().unwrap();
    assert_eq!(h, header("echo", MessageType::Call, 7));
}

#[test]
fn non_strict_message_header_is_read() {
    let bytes = [0, 0, 0, 2, b'h', b'i', 4, 0, 0, 0, 9];
    let h = Reader::new(&bytes).read_message_begin().unwrap();
    assert_eq!(h, header("hi", MessageType::Oneway, 9));
}

#[test]
fn wrong_version_is_bad_version() {
    let bytes = [0x80, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
    let err = Reader::new(&bytes).read_message_begin().unwrap_err();
    assert_eq!(err, ProtocolError::BadVersion { word: 0x8002_0001 });
    assert_eq!(
        err.exception_kind(),
        ApplicationExceptionKind::InvalidProtocol
    );
}

#[test]
fn message_type_outside_one_to_four_is_rejected() {
    for kind in [0u8, 5, 0xff] {
        let bytes = [0x80, 1, 0, kind, 0, 0, 0, 0, 0, 0, 0, 1];
        let err = Reader::new(&bytes).read_message_begin().unwrap_err();
        assert!(matches!(err, ProtocolError::InvalidData { .. }), "{kind}");
    }
}

#[test]
fn negative_sizes_are_errors() {
    let string = [0xff, 0xff, 0xff, 0xfe];
    assert_eq!(
        Reader::new(&string).read_str().unwrap_err(),
        ProtocolError::NegativeSize { size: -2 }
    );
    let list = [8, 0x80, 0, 0, 0];
    assert!(matches!(
        Reader::new(&list).read_list_begin(),
        Err(ProtocolError::NegativeSize { .. })
    ));
    let map = [8, 8, 0xff, 0xff, 0xff, 0xff];
    assert!(matches!(
        Reader::new(&map).read_map_begin(),
        Err(ProtocolError::NegativeSize { .. })
    ));
}

#[test]
fn string_of_100_mib_with_nothing_behind_it_fails_without_allocating() {
    let bytes = (100u32 << 20).to_be_bytes();
    let err = decode_from::<String>(&bytes).unwrap_err();
    assert!(matches!(err, ProtocolError::SizeLimit { .. }), "{err:?}");
    // Under the frame limit the same lie is an unexpected end, still before any allocation.
    let bytes = 1_000_000u32.to_be_bytes();
    let err = decode_from::<Vec<u8>>(&bytes).unwrap_err();
    assert_eq!(err, ProtocolError::UnexpectedEnd { needed: 1_000_000 });
}

#[test]
fn list_claiming_i32_max_elements_fails_fast() {
    let mut bytes = vec![TType::Bool.id()];
    bytes.extend_from_slice(&i32::MAX.to_be_bytes());
    bytes.extend_from_slice(&[1; 16]);
    let err = decode_from::<Vec<bool>>(&bytes).unwrap_err();
    assert!(matches!(err, ProtocolError::SizeLimit { .. }), "{err:?}");
    assert!(Reader::new(&bytes).skip(TType::List).is_err());
}

#[test]
fn list_size_times_element_size_overflow_is_an_error() {
    let mut bytes = vec![TType::I32.id()];
    bytes.extend_from_slice(&0x4000_0000i32.to_be_bytes());
    bytes.extend_from_slice(&[0; 64]);
    let err = decode_from::<Vec<i32>>(&bytes).unwrap_err();
    assert!(matches!(err, ProtocolError::SizeLimit { .. }), "{err:?}");
}

#[test]
fn container_sizes_are_checked_against_remaining_bytes() {
    // 3 i64s promised, 16 bytes present.
    let mut bytes = vec![TType::I64.id(), 0, 0, 0, 3];
    bytes.extend_from_slice(&[0; 16]);
    assert_eq!(
        decode_from::<Vec<i64>>(&bytes).unwrap_err(),
        ProtocolError::UnexpectedEnd { needed: 8 }
    );
    // A map of 2 (i32 -> i64) needs 24 bytes.
    let mut bytes = vec![8, 10, 0, 0, 0, 2];
    bytes.extend_from_slice(&[0; 23]);
    assert!(Reader::new(&bytes).read_map_begin().is_err());
}

#[test]
fn container_and_string_caps_apply() {
    let limits = Limits::default().max_container(Some(2)).max_string(Some(3));
    let list = encode_to_vec(&vec![1i8, 2, 3]);
    let mut r = Reader::with_limits(&list, limits);
    assert!(matches!(
        Vec::<i8>::decode(&mut r),
        Err(ProtocolError::SizeLimit { size: 3, limit: 2 })
    ));
    let string = encode_to_vec("abcd");
    let mut r = Reader::with_limits(&string, limits);
    assert!(matches!(
        r.read_str(),
        Err(ProtocolError::SizeLimit { size: 4, limit: 3 })
    ));
}

fn nested_lists(depth: usize) -> Vec<u8> {
    let mut bytes = Vec::new();
    for _ in 0..depth {
        bytes.extend_from_slice(&[TType::List.id(), 0, 0, 0, 1]);
    }
    bytes.extend_from_slice(&[TType::I32.id(), 0, 0, 0, 0]);
    bytes
}

#[test]
fn nesting_ten_thousand_deep_hits_the_depth_limit() {
    let bytes = nested_lists(10_000);
    let err = Reader::new(&bytes).skip(TType::List).unwrap_err();
    assert_eq!(err, ProtocolError::DepthLimit { limit: 64 });
    let mut structs = [TType::Struct.id(), 0, 1].repeat(10_000);
    structs.push(0);
    assert!(matches!(
        Reader::new(&structs).skip(TType::Struct),
        Err(ProtocolError::DepthLimit { .. })
    ));
}

#[test]
fn nesting_at_the_limit_is_accepted() {
    let bytes = nested_lists(63);
    let mut r = Reader::new(&bytes);
    r.skip(TType::List).unwrap();
    assert_eq!(r.remaining(), 0);
    type Deep = Vec<Vec<Vec<i32>>>;
    let value: Deep = vec![vec![vec![1]]];
    let bytes = encode_to_vec(&value);
    let mut r = Reader::with_limits(&bytes, Limits::default().max_depth(2));
    assert!(matches!(
        Deep::decode(&mut r),
        Err(ProtocolError::DepthLimit { limit: 2 })
    ));
}

#[test]
fn invalid_type_ids_are_errors_in_skip() {
    for id in [5u8, 7, 9, 17, 0xff] {
        let bytes = [id, 0, 1, 0];
        assert_eq!(
            Reader::new(&bytes).skip(TType::Struct).unwrap_err(),
            ProtocolError::InvalidType { id },
        );
    }
    // Zero-width element types would let a list loop without consuming input.
    for id in [0u8, 1] {
        let bytes = [id, 0x7f, 0xff, 0xff, 0xff];
        assert_eq!(
            Reader::new(&bytes).skip(TType::List).unwrap_err(),
            ProtocolError::InvalidType { id },
        );
    }
    assert!(TType::from_id(4).is_ok());
}

#[test]
fn uuid_is_type_16_and_sixteen_bytes_as_they_are() {
    assert_eq!(TType::from_id(16), Ok(TType::Uuid));
    assert_eq!(TType::Uuid.id(), 16);
    let id = Uuid::from_u128(0x0011_2233_4455_6677_8899_aabb_ccdd_eeff);
    let bytes = encode_to_vec(&id);
    assert_eq!(bytes, id.as_bytes());
    assert_eq!(bytes[0], 0x00);
    assert_eq!(bytes[15], 0xff);
    round_trip(id);
    round_trip(vec![id, Uuid::nil()]);
    // A struct with a uuid field skips past exactly its 16 bytes.
    let mut s = Vec::new();
    let mut w = Writer::binary(&mut s);
    w.write_field(1, &id);
    w.write_field_stop();
    let mut r = Reader::new(&s);
    r.skip(TType::Struct).unwrap();
    assert_eq!(r.remaining(), 0);
    assert_eq!(
        Reader::new(&bytes[..15]).read_uuid(),
        Err(ProtocolError::UnexpectedEnd { needed: 1 })
    );
    // A list of uuids needs 16 bytes per element before anything is allocated.
    let list = [
        16, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    assert_eq!(
        Reader::new(&list).read_list_begin(),
        Err(ProtocolError::UnexpectedEnd { needed: 16 })
    );
}

#[test]
fn invalid_utf8_is_an_error_with_source() {
    let bytes = [0, 0, 0, 2, 0xc3, 0x28];
    let err = decode_from::<String>(&bytes).unwrap_err();
    assert!(matches!(err, ProtocolError::InvalidUtf8(_)));
    assert!(std::error::Error::source(&err).is_some());
    // The same bytes are a fine binary.
    assert_eq!(decode_from::<Vec<u8>>(&bytes).unwrap(), [0xc3, 0x28]);
}

#[test]
fn element_type_mismatch_is_an_error() {
    let bytes = encode_to_vec(&vec![1i32]);
    assert!(decode_from::<Vec<i64>>(&bytes).is_err());
    // Empty containers may carry any element types.
    assert_eq!(
        decode_from::<Vec<i64>>(&[8, 0, 0, 0, 0]).unwrap(),
        Vec::<i64>::new()
    );
}

#[test]
fn truncated_input_is_unexpected_end_everywhere() {
    let full = encode_to_vec(&BTreeMap::from([("key".to_string(), vec![1i64, 2])]));
    for cut in 0..full.len() {
        let err = decode_from::<BTreeMap<String, Vec<i64>>>(&full[..cut]).unwrap_err();
        assert!(matches!(err, ProtocolError::UnexpectedEnd { .. }), "{cut}");
        assert!(Reader::new(&full[..cut]).skip(TType::Map).is_err());
    }
}

#[test]
fn application_exception_round_trips_every_kind() {
    for value in 0..=10 {
        let kind = ApplicationExceptionKind::from_value(value);
        assert_eq!(kind.value(), value);
        assert!(!matches!(kind, ApplicationExceptionKind::Other(_)));
        round_trip(ApplicationException::new(kind, format!("kind {value}")));
    }
    round_trip(ApplicationException::new(
        ApplicationExceptionKind::Other(99),
        "",
    ));
}

#[test]
fn application_exception_message_has_apache_layout() {
    let exc = ApplicationException::new(ApplicationExceptionKind::UnknownMethod, "no");
    let mut out = Vec::new();
    exc.encode_message(&mut Writer::binary(&mut out), "m", 3);
    let expected = [
        0x80, 1, 0, 3, 0, 0, 0, 1, b'm', 0, 0, 0, 3, // header
        11, 0, 1, 0, 0, 0, 2, b'n', b'o', // message
        8, 0, 2, 0, 0, 0, 1, // type
        0, // stop
    ];
    assert_eq!(out, expected);
    let mut r = Reader::new(&out);
    let h = r.read_message_begin().unwrap();
    assert_eq!(h.kind, MessageType::Exception);
    assert_eq!(ApplicationException::decode(&mut r).unwrap(), exc);
}

#[test]
fn application_exception_skips_unknown_fields() {
    let mut bytes = vec![];
    let mut w = Writer::binary(&mut bytes);
    w.write_field_begin(TType::Double, 9);
    w.write_double(1.0);
    w.write_field_begin(TType::I32, 2);
    w.write_i32(6);
    w.write_field_stop();
    let exc: ApplicationException = decode_from(&bytes).unwrap();
    assert_eq!(exc.kind, ApplicationExceptionKind::InternalError);
    assert_eq!(exc.message, "");
}

#[test]
fn protocol_errors_map_to_exception_kinds() {
    let e = ProtocolError::NegativeSize { size: -1 };
    assert_eq!(e.exception_kind(), ApplicationExceptionKind::ProtocolError);
    let exc = ApplicationException::from(&e);
    assert_eq!(exc.kind, ApplicationExceptionKind::ProtocolError);
    assert_eq!(exc.message, "negative size -1");
}

#[test]
fn integer_and_double_edges_round_trip() {
    for v in [i8::MIN, -1, 0, 1, i8::MAX] {
        round_trip(v);
    }
    for v in [i16::MIN, -1, 0, 1, i16::MAX] {
        round_trip(v);
    }
    for v in [i32::MIN, -1, 0, 1, i32::MAX] {
        round_trip(v);
    }
    for v in [i64::MIN, -1, 0, 1, i64::MAX] {
        round_trip(v);
    }
    assert_eq!(encode_to_vec(&i64::MIN), [0x80, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(encode_to_vec(&i16::MIN), [0x80, 0]);
    for d in [
        0.0f64,
        -0.0,
        -1.5,
        f64::MIN,
        f64::MAX,
        f64::MIN_POSITIVE,
        f64::EPSILON,
        5e-324,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ] {
        let back: f64 = decode_from(&encode_to_vec(&d)).unwrap();
        assert_eq!(back.to_bits(), d.to_bits(), "{d}");
    }
    assert_eq!(encode_to_vec(&-0.0f64), [0x80, 0, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn bool_reads_any_non_zero_byte_as_true() {
    for (byte, expected) in [(0u8, false), (1, true), (2, true), (0xff, true)] {
        assert_eq!(decode_from::<bool>(&[byte]).unwrap(), expected);
    }
}

#[test]
fn empty_input_is_unexpected_end_for_every_type() {
    fn ends<T: Decode + std::fmt::Debug>() {
        assert!(matches!(
            decode_from::<T>(&[]),
            Err(ProtocolError::UnexpectedEnd { .. })
        ));
    }
    ends::<bool>();
    ends::<i8>();
    ends::<i16>();
    ends::<i32>();
    ends::<i64>();
    ends::<f64>();
    ends::<String>();
    ends::<Vec<u8>>();
    ends::<Vec<i32>>();
    ends::<HashSet<i32>>();
    ends::<BTreeMap<i32, i32>>();
    ends::<ApplicationException>();
    let mut r = Reader::new(&[]);
    assert!(matches!(
        r.read_message_begin(),
        Err(ProtocolError::UnexpectedEnd { needed: 4 })
    ));
    for ttype in [
        TType::Bool,
        TType::I64,
        TType::String,
        TType::Struct,
        TType::Map,
    ] {
        assert!(matches!(
            Reader::new(&[]).skip(ttype),
            Err(ProtocolError::UnexpectedEnd { .. })
        ));
    }
}

#[test]
fn message_header_first_word_carries_each_type() {
    for (kind, id) in [
        (MessageType::Call, 1u8),
        (MessageType::Reply, 2),
        (MessageType::Exception, 3),
        (MessageType::Oneway, 4),
    ] {
        let mut out = Vec::new();
        Writer::binary(&mut out).write_message_begin(&header("", kind, -1));
        assert_eq!(out, [0x80, 1, 0, id, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(Reader::new(&out).read_message_begin().unwrap().kind, kind);
    }
}

#[test]
fn other_versions_are_bad_version() {
    for word in [0x8000_0001u32, 0xffff_0001, 0x8101_0001, 0x8002_0000] {
        let mut bytes = word.to_be_bytes().to_vec();
        bytes.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(
            Reader::new(&bytes).read_message_begin().unwrap_err(),
            ProtocolError::BadVersion { word },
        );
    }
}

#[test]
fn non_strict_header_checks_type_and_name() {
    let bad_type = [0, 0, 0, 1, b'a', 9, 0, 0, 0, 1];
    assert!(matches!(
        Reader::new(&bad_type).read_message_begin(),
        Err(ProtocolError::InvalidData { .. })
    ));
    let bad_utf8 = [0, 0, 0, 1, 0xff, 1, 0, 0, 0, 1];
    assert!(matches!(
        Reader::new(&bad_utf8).read_message_begin(),
        Err(ProtocolError::InvalidUtf8(_))
    ));
    // "GET " read as a non-strict name length: 0x47455420 bytes, past the frame limit.
    assert!(matches!(
        Reader::new(b"GET / HTTP/1.1\r\n").read_message_begin(),
        Err(ProtocolError::SizeLimit { .. })
    ));
}

#[test]
fn set_and_map_claiming_i32_max_elements_fail_fast() {
    let mut set = vec![TType::I64.id()];
    set.extend_from_slice(&i32::MAX.to_be_bytes());
    set.extend_from_slice(&[0; 16]);
    assert!(matches!(
        decode_from::<HashSet<i64>>(&set),
        Err(ProtocolError::SizeLimit { .. })
    ));
    assert!(Reader::new(&set).skip(TType::Set).is_err());
    let mut map = vec![TType::String.id(), TType::String.id()];
    map.extend_from_slice(&i32::MAX.to_be_bytes());
    map.extend_from_slice(&[0; 16]);
    assert!(matches!(
        decode_from::<HashMap<String, String>>(&map),
        Err(ProtocolError::SizeLimit { .. })
    ));
    assert!(Reader::new(&map).skip(TType::Map).is_err());
}

#[test]
fn skipping_a_list_of_0x40000000_i32_is_a_size_error() {
    let mut bytes = vec![TType::I32.id()];
    bytes.extend_from_slice(&0x4000_0000i32.to_be_bytes());
    bytes.extend_from_slice(&[0; 64]);
    assert_eq!(
        Reader::new(&bytes).skip(TType::List).unwrap_err(),
        ProtocolError::SizeLimit {
            size: 1 << 32,
            limit: DEFAULT_MAX_FRAME as u64
        }
    );
}

#[test]
fn negative_set_size_is_an_error() {
    let set = [TType::String.id(), 0xff, 0xff, 0xff, 0xff];
    assert_eq!(
        Reader::new(&set).read_set_begin().unwrap_err(),
        ProtocolError::NegativeSize { size: -1 }
    );
    assert_eq!(
        decode_from::<BTreeSet<String>>(&set).unwrap_err(),
        ProtocolError::NegativeSize { size: -1 }
    );
    // i32::MIN, the most negative size, in a struct field being skipped.
    let field = [TType::String.id(), 0, 1, 0x80, 0, 0, 0];
    assert_eq!(
        Reader::new(&field).skip(TType::Struct).unwrap_err(),
        ProtocolError::NegativeSize {
            size: i32::MIN.into()
        }
    );
}

#[test]
fn invalid_type_ids_in_container_headers_are_errors() {
    for id in [5u8, 7, 17, 0x80] {
        let map_key = [id, TType::I32.id(), 0, 0, 0, 1, 0, 0, 0, 0, 0];
        assert_eq!(
            Reader::new(&map_key).skip(TType::Map).unwrap_err(),
            ProtocolError::InvalidType { id }
        );
        let map_value = [TType::I32.id(), id, 0, 0, 0, 1, 0, 0, 0, 0, 0];
        assert_eq!(
            Reader::new(&map_value).skip(TType::Map).unwrap_err(),
            ProtocolError::InvalidType { id }
        );
        let set = [id, 0, 0, 0, 1, 0];
        assert_eq!(
            Reader::new(&set).skip(TType::Set).unwrap_err(),
            ProtocolError::InvalidType { id }
        );
        assert!(decode_from::<Vec<i8>>(&set).is_err());
    }
    // A field of type void inside a struct cannot be skipped.
    assert_eq!(
        Reader::new(&[1, 0, 1, 0]).skip(TType::Struct).unwrap_err(),
        ProtocolError::InvalidType { id: 1 }
    );
    assert!(TType::from_id(0xff).is_err());
}

#[test]
fn deep_unknown_field_in_an_exception_hits_the_depth_limit() {
    let mut bytes = vec![TType::List.id(), 0, 5];
    bytes.extend_from_slice(&nested_lists(10_000));
    assert_eq!(
        decode_from::<ApplicationException>(&bytes).unwrap_err(),
        ProtocolError::DepthLimit { limit: 64 }
    );
    // Maps nest too.
    let mut maps = Vec::new();
    for _ in 0..10_000 {
        maps.extend_from_slice(&[TType::Byte.id(), TType::Map.id(), 0, 0, 0, 1, 0]);
    }
    assert!(matches!(
        Reader::new(&maps).skip(TType::Map),
        Err(ProtocolError::DepthLimit { .. })
    ));
}

#[test]
fn string_cap_is_checked_before_the_bytes_arrive() {
    let limits = Limits::default().max_string(Some(10));
    // 11 bytes declared, none present: the cap, not "wait for more", is the answer.
    let bytes = 11i32.to_be_bytes();
    assert_eq!(
        Reader::with_limits(&bytes, limits)
            .read_bytes()
            .unwrap_err(),
        ProtocolError::SizeLimit {
            size: 11,
            limit: 10
        }
    );
    let bytes = 10i32.to_be_bytes();
    assert_eq!(
        Reader::with_limits(&bytes, limits)
            .read_bytes()
            .unwrap_err(),
        ProtocolError::UnexpectedEnd { needed: 10 }
    );
    let bytes = (-1i32).to_be_bytes();
    assert_eq!(
        Reader::with_limits(&bytes, limits)
            .read_bytes()
            .unwrap_err(),
        ProtocolError::NegativeSize { size: -1 }
    );
    let huge = Limits::default().max_string(Some(usize::MAX));
    assert_eq!(
        Reader::with_limits(&encode_to_vec("ok"), huge)
            .read_str()
            .unwrap(),
        "ok"
    );
}

#[test]
fn frame_limit_applies_to_strings_and_containers() {
    let limits = Limits::default().max_frame(8);
    let bytes = encode_to_vec(&vec![0u8; 9]);
    assert!(matches!(
        Reader::with_limits(&bytes, limits).read_bytes(),
        Err(ProtocolError::SizeLimit { size: 9, limit: 8 })
    ));
    let bytes = encode_to_vec(&vec![0i32; 3]);
    assert!(matches!(
        Vec::<i32>::decode(&mut Reader::with_limits(&bytes, limits)),
        Err(ProtocolError::SizeLimit { size: 12, limit: 8 })
    ));
}

#[test]
fn optional_fields_are_written_only_when_set() {
    let mut out = Vec::new();
    Writer::binary(&mut out).write_optional_field::<i32>(1, &None);
    assert!(out.is_empty());
    Writer::binary(&mut out).write_optional_field(2, &Some("x".to_string()));
    assert_eq!(out, [11, 0, 2, 0, 0, 0, 1, b'x']);
    let mut out = Vec::new();
    Writer::binary(&mut out).write_field(-1, &vec![true]);
    assert_eq!(out, [15, 0xff, 0xff, 2, 0, 0, 0, 1, 1]);
}

#[test]
fn every_error_has_a_kind_and_a_short_lowercase_message() {
    let utf8 = String::from_utf8(vec![0xff]).unwrap_err().utf8_error();
    let errors = [
        ProtocolError::NegativeSize { size: -1 },
        ProtocolError::SizeLimit { size: 2, limit: 1 },
        ProtocolError::DepthLimit { limit: 64 },
        ProtocolError::BadVersion { word: 0x8002_0001 },
        ProtocolError::InvalidData { reason: "x" },
        ProtocolError::InvalidType { id: 5 },
        ProtocolError::UnexpectedEnd { needed: 1 },
        ProtocolError::InvalidUtf8(utf8),
        ProtocolError::MissingField {
            strukt: "S",
            field: "f",
        },
    ];
    for e in &errors {
        let expected = match e {
            ProtocolError::BadVersion { .. } => ApplicationExceptionKind::InvalidProtocol,
            _ => ApplicationExceptionKind::ProtocolError,
        };
        assert_eq!(e.exception_kind(), expected, "{e:?}");
        let message = e.to_string();
        assert!(
            message.starts_with(|c: char| c.is_ascii_lowercase()),
            "{message}"
        );
        assert!(message.len() < 80, "{message}");
        let exc = ApplicationException::from(e);
        assert_eq!(exc.message, message);
        let back: ApplicationException = decode_from(&encode_to_vec(&exc)).unwrap();
        assert_eq!(back, exc);
    }
}

#[test]
fn decode_consumes_only_its_value() {
    let mut bytes = encode_to_vec(&vec![1i16, 2]);
    bytes.extend_from_slice(&[0xaa, 0xbb]);
    let mut r = Reader::new(&bytes);
    assert_eq!(Vec::<i16>::decode(&mut r).unwrap(), [1, 2]);
    assert_eq!(r.remaining(), 2);
    assert_eq!(r.position(), bytes.len() - 2);
}

fn any_string() -> impl Strategy<Value = String> {
    ".{0,16}"
}

proptest! {
    #[test]
    fn primitives_round_trip(b: bool, x8: i8, x16: i16, x32: i32, x64: i64, d: f64) {
        round_trip(b);
        round_trip(x8);
        round_trip(x16);
        round_trip(x32);
        round_trip(x64);
        let bytes = encode_to_vec(&d);
        let back: f64 = decode_from(&bytes).unwrap();
        prop_assert_eq!(back.to_bits(), d.to_bits());
    }

    #[test]
    fn strings_and_binaries_round_trip(s in any_string(), bin in proptest::collection::vec(any::<u8>(), 0..64)) {
        round_trip(s);
        round_trip(bin);
    }

    #[test]
    fn nested_containers_round_trip(
        value in proptest::collection::btree_map(
            any_string(),
            proptest::collection::vec(proptest::collection::btree_set(any::<i32>(), 0..4), 0..4),
            0..4,
        ),
        hashed in proptest::collection::hash_map(any::<i64>(), any::<bool>(), 0..8),
    ) {
        round_trip(value);
        round_trip(hashed);
    }

    #[test]
    fn sets_lists_of_binary_and_exceptions_round_trip(
        set in proptest::collection::hash_set(any_string(), 0..8),
        binaries in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..8), 0..8),
        doubles in proptest::collection::vec(any::<i64>().prop_map(|bits| bits as f64), 0..8),
        kind: i32,
        message in any_string(),
    ) {
        round_trip(set);
        round_trip(binaries);
        round_trip(doubles);
        round_trip(ApplicationException::new(ApplicationExceptionKind::from_value(kind), message));
    }

    #[test]
    fn skip_consumes_exactly_what_decode_does(
        value in proptest::collection::btree_map(
            any::<i16>(),
            proptest::collection::vec(any_string(), 0..4),
            0..6,
        ),
    ) {
        let bytes = encode_to_vec(&value);
        let mut r = Reader::new(&bytes);
        r.skip(TType::Map).unwrap();
        prop_assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn message_headers_round_trip(name in any_string(), kind in 1u8..=4, seqid: i32) {
        let kind = MessageType::from_id(kind).unwrap();
        let mut out = Vec::new();
        Writer::binary(&mut out).write_message_begin(&MessageHeader { name: &name, kind, seqid });
        let h = Reader::new(&out).read_message_begin().unwrap();
        prop_assert_eq!(h, MessageHeader { name: &name, kind, seqid });
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut r = Reader::new(&bytes);
        if r.read_message_begin().is_ok() {
            let _ = r.skip(TType::Struct);
        }
        let _ = decode_from::<BTreeMap<String, Vec<HashSet<i64>>>>(&bytes);
        let _ = decode_from::<ApplicationException>(&bytes);
        for ttype in [TType::Struct, TType::List, TType::Map, TType::Set] {
            let _ = Reader::new(&bytes).skip(ttype);
        }
    }
}

#[test]
fn detect_tells_the_protocol_from_the_first_byte() {
    use super::Protocol;
    assert_eq!(Protocol::detect(&[0x80, 0x01]), Some(Protocol::Binary));
    assert_eq!(Protocol::detect(&[0x82, 0x21]), Some(Protocol::Compact));
    // Old non-strict binary starts with the name's length, a positive i32.
    assert_eq!(Protocol::detect(&[0x00, 0, 0, 4]), Some(Protocol::Binary));
    assert_eq!(Protocol::detect(&[0x81]), None);
    assert_eq!(Protocol::detect(&[0xff]), None);
    assert_eq!(Protocol::detect(&[]), None);
}

#[test]
fn one_encode_impl_writes_either_protocol() {
    use super::{decode_with_protocol, encode_with_protocol, Protocol};
    let exception = ApplicationException::new(ApplicationExceptionKind::InternalError, "x");
    let binary = encode_with_protocol(&exception, Protocol::Binary);
    let compact = encode_with_protocol(&exception, Protocol::Compact);
    assert_eq!(binary, encode_to_vec(&exception));
    // Compact: field 1 string (delta 1, type 8), length 1, "x"; field 2 i32 (delta 1, type 5),
    // zigzag 6 = 12; stop.
    assert_eq!(compact, [0x18, 1, b'x', 0x15, 12, 0]);
    for (bytes, protocol) in [(binary, Protocol::Binary), (compact, Protocol::Compact)] {
        let back: ApplicationException =
            decode_with_protocol(&bytes, protocol, Limits::default()).unwrap();
        assert_eq!(back, exception);
    }
}
