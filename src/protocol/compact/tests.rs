use proptest::prelude::*;

use super::super::{
    Limits, MessageHeader, MessageType, Protocol, ProtocolError, Reader, TType, Writer,
};

fn written(f: impl FnOnce(&mut Writer<'_>)) -> Vec<u8> {
    let mut out = Vec::new();
    f(&mut Writer::new(&mut out, Protocol::Compact));
    out
}

fn compact_reader(buf: &[u8]) -> Reader<'_> {
    compact_reader_with(buf, Limits::default())
}

fn compact_reader_with(buf: &[u8], limits: Limits) -> Reader<'_> {
    Reader::with_protocol(buf, Protocol::Compact, limits)
}

fn header(name: &str, kind: MessageType, seqid: i32) -> MessageHeader<'_> {
    MessageHeader { name, kind, seqid }
}

#[test]
fn scalars_have_the_spec_encodings() {
    assert_eq!(written(|w| w.write_i8(-2)), [0xfe]);
    // Zigzag: 0, -1, 1, -2 are 0, 1, 2, 3.
    assert_eq!(written(|w| w.write_i32(0)), [0]);
    assert_eq!(written(|w| w.write_i32(-1)), [1]);
    assert_eq!(written(|w| w.write_i32(1)), [2]);
    assert_eq!(written(|w| w.write_i16(-2)), [3]);
    // The spec's varint example: 50399 is df 89 03 (here as the zigzag of -25200).
    assert_eq!(written(|w| w.write_i32(-25200)), [0xdf, 0x89, 0x03]);
    assert_eq!(
        written(|w| w.write_i32(i32::MIN)),
        [0xff, 0xff, 0xff, 0xff, 0x0f]
    );
    assert_eq!(
        written(|w| w.write_i64(i64::MIN)),
        [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]
    );
    assert_eq!(
        written(|w| w.write_double(1.0)),
        [0, 0, 0, 0, 0, 0, 0xf0, 0x3f]
    );
    assert_eq!(written(|w| w.write_string("hé")), [3, b'h', 0xc3, 0xa9]);
    assert_eq!(written(|w| w.write_binary(&[])), [0]);
    assert_eq!(written(|w| w.write_uuid(&[7; 16])), [7; 16]);
}

#[test]
fn message_header_carries_id_version_type_seqid_and_name() {
    let bytes = written(|w| w.write_message_begin(&header("echo", MessageType::Reply, 7)));
    assert_eq!(bytes, [0x82, 0x41, 7, 4, b'e', b'c', b'h', b'o']);
    let h = compact_reader(&bytes).read_message_begin().unwrap();
    assert_eq!(h, header("echo", MessageType::Reply, 7));
    // A negative seqid is its 32 bits as an unsigned varint: five bytes.
    let bytes = written(|w| w.write_message_begin(&header("", MessageType::Oneway, -1)));
    assert_eq!(bytes, [0x82, 0x81, 0xff, 0xff, 0xff, 0xff, 0x0f, 0]);
    let h = compact_reader(&bytes).read_message_begin().unwrap();
    assert_eq!(h.seqid, -1);
}

#[test]
fn wrong_protocol_id_or_version_is_bad_version() {
    for (bytes, word) in [
        ([0x80, 0x01, 0, 0], 0x8001),
        ([0x82, 0x22, 0, 0], 0x8222),
        ([0x82, 0x20, 0, 0], 0x8220),
    ] {
        let err = compact_reader(&bytes).read_message_begin().unwrap_err();
        assert_eq!(err, ProtocolError::BadVersion { word }, "{bytes:02x?}");
    }
    let err = compact_reader(&[0x82, 0xa1, 0, 0])
        .read_message_begin()
        .unwrap_err();
    assert!(matches!(err, ProtocolError::InvalidData { .. }), "{err:?}");
}

#[test]
fn field_ids_are_deltas_within_a_struct_and_long_form_otherwise() {
    let bytes = written(|w| {
        w.write_struct_begin();
        w.write_field_begin(TType::I32, 1);
        w.write_i32(5);
        w.write_field_begin(TType::I32, 16);
        w.write_i32(5);
        w.write_field_begin(TType::Struct, 40);
        w.write_struct_begin();
        w.write_field_begin(TType::Byte, 2);
        w.write_i8(9);
        w.write_field_stop();
        w.write_struct_end();
        // Back in the outer struct, the delta counts from 40, not from the inner 2.
        w.write_field_begin(TType::I64, 41);
        w.write_i64(1);
        w.write_field_begin(TType::I16, -3);
        w.write_i16(0);
        w.write_field_stop();
        w.write_struct_end();
    });
    assert_eq!(
        bytes,
        [0x15, 10, 0xf5, 10, 0x0c, 80, 0x23, 9, 0, 0x16, 2, 0x04, 5, 0, 0]
    );
    let mut r = compact_reader(&bytes);
    r.enter().unwrap();
    assert_eq!(r.read_field_begin().unwrap(), Some((TType::I32, 1)));
    assert_eq!(r.read_i32().unwrap(), 5);
    assert_eq!(r.read_field_begin().unwrap(), Some((TType::I32, 16)));
    assert_eq!(r.read_i32().unwrap(), 5);
    assert_eq!(r.read_field_begin().unwrap(), Some((TType::Struct, 40)));
    r.skip(TType::Struct).unwrap();
    assert_eq!(r.read_field_begin().unwrap(), Some((TType::I64, 41)));
    assert_eq!(r.read_i64().unwrap(), 1);
    assert_eq!(r.read_field_begin().unwrap(), Some((TType::I16, -3)));
    assert_eq!(r.read_i16().unwrap(), 0);
    assert_eq!(r.read_field_begin().unwrap(), None);
    r.leave();
    assert_eq!(r.remaining(), 0);
}

#[test]
fn bool_fields_live_in_the_header_and_elements_in_a_byte() {
    let bytes = written(|w| {
        w.write_struct_begin();
        w.write_field_begin(TType::Bool, 1);
        w.write_bool(true);
        w.write_field_begin(TType::Bool, 2);
        w.write_bool(false);
        w.write_field_begin(TType::List, 3);
        w.write_list_begin(TType::Bool, 2);
        w.write_bool(true);
        w.write_bool(false);
        w.write_field_stop();
        w.write_struct_end();
    });
    assert_eq!(bytes, [0x11, 0x12, 0x19, 0x21, 1, 2, 0]);
    let mut r = compact_reader(&bytes);
    r.enter().unwrap();
    assert_eq!(r.read_field_begin().unwrap(), Some((TType::Bool, 1)));
    assert!(r.read_bool().unwrap());
    assert_eq!(r.read_field_begin().unwrap(), Some((TType::Bool, 2)));
    assert!(!r.read_bool().unwrap());
    assert_eq!(r.read_field_begin().unwrap(), Some((TType::List, 3)));
    assert_eq!(r.read_list_begin().unwrap(), (TType::Bool, 2));
    assert!(r.read_bool().unwrap());
    assert!(!r.read_bool().unwrap());
    assert_eq!(r.read_field_begin().unwrap(), None);
    // The spec's false element (0) reads too; anything else is an error.
    assert!(!compact_reader(&[0]).read_bool().unwrap());
    assert!(compact_reader(&[3]).read_bool().is_err());
}

#[test]
fn container_headers_switch_to_the_long_form_at_15() {
    assert_eq!(written(|w| w.write_list_begin(TType::I32, 14)), [0xe5]);
    assert_eq!(written(|w| w.write_list_begin(TType::I32, 15)), [0xf5, 15]);
    assert_eq!(written(|w| w.write_set_begin(TType::String, 0)), [0x08]);
    assert_eq!(
        written(|w| w.write_map_begin(TType::Byte, TType::Bool, 0)),
        [0]
    );
    assert_eq!(
        written(|w| w.write_map_begin(TType::String, TType::Struct, 300)),
        [0xac, 0x02, 0x8c]
    );
    let long = [0xf5, 15]
        .iter()
        .copied()
        .chain([0; 15])
        .collect::<Vec<_>>();
    assert_eq!(
        compact_reader(&long).read_list_begin().unwrap(),
        (TType::I32, 15)
    );
    assert_eq!(
        compact_reader(&[0]).read_map_begin().unwrap(),
        (TType::Stop, TType::Stop, 0)
    );
}

#[test]
fn sizes_are_checked_before_use() {
    // A list of 2^31-1 i32 with no elements behind it.
    let bytes = [0xf5, 0xff, 0xff, 0xff, 0xff, 0x07];
    assert!(matches!(
        compact_reader(&bytes).read_list_begin(),
        Err(ProtocolError::SizeLimit { .. })
    ));
    // Within the frame limit but past the input: wait for more.
    let bytes = [0xf5, 100, 0];
    assert_eq!(
        compact_reader(&bytes).read_list_begin(),
        Err(ProtocolError::UnexpectedEnd { needed: 99 })
    );
    // The sign bit set: negative.
    let bytes = [0xff, 0xff, 0xff, 0xff, 0x0f];
    assert_eq!(
        compact_reader(&bytes).read_bytes(),
        Err(ProtocolError::NegativeSize { size: -1 })
    );
    // Doubles need eight bytes each: 2 doubles in 9 bytes is short.
    let bytes = [0x27, 0, 0, 0, 0, 0, 0, 0, 0];
    assert!(matches!(
        compact_reader(&bytes).read_list_begin(),
        Err(ProtocolError::UnexpectedEnd { .. })
    ));
    let capped = Limits::default().max_string(Some(3)).max_container(Some(2));
    assert!(matches!(
        compact_reader_with(&[4, 1, 2, 3, 4], capped).read_bytes(),
        Err(ProtocolError::SizeLimit { size: 4, limit: 3 })
    ));
    assert!(matches!(
        compact_reader_with(&[0x33, 1, 2, 3], capped).read_list_begin(),
        Err(ProtocolError::SizeLimit { size: 3, limit: 2 })
    ));
}

#[test]
fn varints_are_bounded() {
    let eleven = [0x80; 10].iter().copied().chain([0]).collect::<Vec<_>>();
    assert!(matches!(
        compact_reader(&eleven).read_i64(),
        Err(ProtocolError::InvalidData { .. })
    ));
    let overflow = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
    assert!(matches!(
        compact_reader(&overflow).read_i64(),
        Err(ProtocolError::InvalidData { .. })
    ));
    // Wider than the type: an i32 from 2^32, an i16 from 2^15.
    assert!(compact_reader(&[0x80, 0x80, 0x80, 0x80, 0x10])
        .read_i32()
        .is_err());
    assert!(compact_reader(&[0x80, 0x80, 0x04]).read_i16().is_err());
    // A padded but in-range varint reads.
    assert_eq!(compact_reader(&[0x82, 0x80, 0]).read_i32(), Ok(1));
    assert_eq!(
        compact_reader(&[0x80]).read_i32(),
        Err(ProtocolError::UnexpectedEnd { needed: 1 })
    );
}

#[test]
fn invalid_type_ids_are_errors() {
    for byte in [0x1e, 0x1f, 0x10] {
        let bytes = [byte, 0];
        let mut r = compact_reader(&bytes);
        assert!(
            matches!(r.read_field_begin(), Err(ProtocolError::InvalidType { .. })),
            "{byte:#x}"
        );
    }
    assert!(compact_reader(&[0x10]).read_list_begin().is_err());
    assert!(compact_reader(&[1, 0xe3]).read_map_begin().is_err());
    assert!(compact_reader(&[1, 0x30]).read_map_begin().is_err());
    assert!(compact_reader(&[]).skip(TType::Stop).is_err());
}

#[test]
fn field_id_delta_overflow_is_an_error() {
    // Field 32767 in long form, then a delta of 1.
    let bytes = [0x05, 0xfe, 0xff, 0x03, 0, 0x15, 0];
    let mut r = compact_reader(&bytes);
    r.enter().unwrap();
    assert_eq!(r.read_field_begin().unwrap(), Some((TType::I32, i16::MAX)));
    r.read_i32().unwrap();
    assert!(matches!(
        r.read_field_begin(),
        Err(ProtocolError::InvalidData { .. })
    ));
}

#[test]
fn skip_stops_at_the_depth_limit() {
    let deep = [0x1c].repeat(100);
    let mut r = compact_reader(&deep);
    assert_eq!(
        r.skip(TType::Struct),
        Err(ProtocolError::DepthLimit { limit: 64 })
    );
    let deep = [0x19].repeat(100);
    let mut r = compact_reader_with(&deep, Limits::default().max_depth(5));
    assert_eq!(
        r.skip(TType::List),
        Err(ProtocolError::DepthLimit { limit: 5 })
    );
}

#[test]
fn a_raised_depth_limit_nests_past_the_inline_stack() {
    let mut bytes = Vec::new();
    let mut w = Writer::new(&mut bytes, Protocol::Compact);
    for id in 1..=100 {
        w.write_struct_begin();
        w.write_field_begin(TType::Struct, id);
    }
    w.write_struct_begin();
    w.write_field_stop();
    w.write_struct_end();
    for _ in 0..100 {
        w.write_field_stop();
        w.write_struct_end();
    }
    let limits = Limits::default().max_depth(200);
    let mut r = compact_reader_with(&bytes, limits);
    r.skip(TType::Struct).unwrap();
    assert_eq!(r.remaining(), 0);
}

#[test]
fn a_new_writer_on_a_reused_buffer_starts_fresh() {
    let mut out = Vec::new();
    let mut w = Writer::new(&mut out, Protocol::Compact);
    w.write_struct_begin();
    w.write_field_begin(TType::I32, 9);
    out.clear();
    let mut w = Writer::new(&mut out, Protocol::Compact);
    w.write_struct_begin();
    w.write_field_begin(TType::I32, 1);
    assert_eq!(w.buffer(), [0x15]);
}

/// A value of any Thrift type, to write and read back through the compact protocol.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Bool(bool),
    Byte(i8),
    I16(i16),
    I32(i32),
    I64(i64),
    Double(f64),
    Binary(Vec<u8>),
    Uuid([u8; 16]),
    List(TType, Vec<Value>),
    Map(TType, TType, Vec<(Value, Value)>),
    Struct(Vec<(i16, Value)>),
}

impl Value {
    fn ttype(&self) -> TType {
        match self {
            Value::Bool(_) => TType::Bool,
            Value::Byte(_) => TType::Byte,
            Value::I16(_) => TType::I16,
            Value::I32(_) => TType::I32,
            Value::I64(_) => TType::I64,
            Value::Double(_) => TType::Double,
            Value::Binary(_) => TType::String,
            Value::Uuid(_) => TType::Uuid,
            Value::List(..) => TType::List,
            Value::Map(..) => TType::Map,
            Value::Struct(_) => TType::Struct,
        }
    }

    fn write(&self, w: &mut Writer<'_>) {
        match self {
            Value::Bool(v) => w.write_bool(*v),
            Value::Byte(v) => w.write_i8(*v),
            Value::I16(v) => w.write_i16(*v),
            Value::I32(v) => w.write_i32(*v),
            Value::I64(v) => w.write_i64(*v),
            Value::Double(v) => w.write_double(*v),
            Value::Binary(v) => w.write_binary(v),
            Value::Uuid(v) => w.write_uuid(v),
            Value::List(element, items) => {
                w.write_list_begin(*element, items.len());
                items.iter().for_each(|item| item.write(w));
            }
            Value::Map(key, value, pairs) => {
                w.write_map_begin(*key, *value, pairs.len());
                for (k, v) in pairs {
                    k.write(w);
                    v.write(w);
                }
            }
            Value::Struct(fields) => {
                w.write_struct_begin();
                for (id, value) in fields {
                    w.write_field_begin(value.ttype(), *id);
                    value.write(w);
                }
                w.write_field_stop();
                w.write_struct_end();
            }
        }
    }

    fn read(r: &mut Reader<'_>, ttype: TType) -> Result<Value, ProtocolError> {
        Ok(match ttype {
            TType::Bool => Value::Bool(r.read_bool()?),
            TType::Byte => Value::Byte(r.read_i8()?),
            TType::I16 => Value::I16(r.read_i16()?),
            TType::I32 => Value::I32(r.read_i32()?),
            TType::I64 => Value::I64(r.read_i64()?),
            TType::Double => Value::Double(r.read_double()?),
            TType::String => Value::Binary(r.read_bytes()?.to_vec()),
            TType::Uuid => Value::Uuid(r.read_uuid()?),
            TType::List => {
                r.enter()?;
                let (element, len) = r.read_list_begin()?;
                let items = (0..len)
                    .map(|_| Value::read(r, element))
                    .collect::<Result<_, _>>()?;
                r.leave();
                Value::List(element, items)
            }
            TType::Map => {
                r.enter()?;
                let (key, value, len) = r.read_map_begin()?;
                let pairs = (0..len)
                    .map(|_| Ok((Value::read(r, key)?, Value::read(r, value)?)))
                    .collect::<Result<_, ProtocolError>>()?;
                r.leave();
                Value::Map(key, value, pairs)
            }
            TType::Struct => {
                r.enter()?;
                let mut fields = Vec::new();
                while let Some((ttype, id)) = r.read_field_begin()? {
                    fields.push((id, Value::read(r, ttype)?));
                }
                r.leave();
                Value::Struct(fields)
            }
            _ => return Err(ProtocolError::InvalidType { id: ttype.id() }),
        })
    }
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        any::<i8>().prop_map(Value::Byte),
        any::<i16>().prop_map(Value::I16),
        any::<i32>().prop_map(Value::I32),
        any::<i64>().prop_map(Value::I64),
        // NaN != NaN; the bits round-trip, checked in doubles_round_trip_bit_for_bit.
        any::<f64>()
            .prop_filter("not NaN", |v| !v.is_nan())
            .prop_map(Value::Double),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::Binary),
        any::<[u8; 16]>().prop_map(Value::Uuid),
    ]
}

/// Values of one type (its shape fixed by a template), so containers are homogeneous.
fn like(template: &Value) -> BoxedStrategy<Value> {
    match template {
        Value::Bool(_) => any::<bool>().prop_map(Value::Bool).boxed(),
        Value::Byte(_) => any::<i8>().prop_map(Value::Byte).boxed(),
        Value::I16(_) => any::<i16>().prop_map(Value::I16).boxed(),
        Value::I32(_) => any::<i32>().prop_map(Value::I32).boxed(),
        Value::I64(_) => any::<i64>().prop_map(Value::I64).boxed(),
        Value::Double(_) => any::<i32>()
            .prop_map(|v| Value::Double(f64::from(v) / 7.0))
            .boxed(),
        Value::Binary(_) => proptest::collection::vec(any::<u8>(), 0..8)
            .prop_map(Value::Binary)
            .boxed(),
        Value::Uuid(_) => any::<[u8; 16]>().prop_map(Value::Uuid).boxed(),
        other => Just(other.clone()).boxed(),
    }
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 64, 20, |inner| {
        prop_oneof![
            inner.clone().prop_flat_map(|template| {
                let element = template.ttype();
                proptest::collection::vec(like(&template), 0..20)
                    .prop_map(move |items| Value::List(element, items))
            }),
            (inner.clone(), inner.clone()).prop_flat_map(|(k, v)| {
                let (key, value) = (k.ttype(), v.ttype());
                proptest::collection::vec((like(&k), like(&v)), 1..18)
                    .prop_map(move |pairs| Value::Map(key, value, pairs))
            }),
            proptest::collection::vec((any::<i16>(), inner), 0..20).prop_map(|fields| {
                // Sorted and distinct ids exercise short and long forms and negative ids.
                let mut fields = fields;
                fields.sort_by_key(|(id, _)| *id);
                fields.dedup_by_key(|(id, _)| *id);
                Value::Struct(fields)
            }),
        ]
    })
}

proptest! {
    #[test]
    fn every_type_round_trips(v in value()) {
        let bytes = written(|w| v.write(w));
        let mut r = compact_reader(&bytes);
        prop_assert_eq!(&Value::read(&mut r, v.ttype()).unwrap(), &v);
        prop_assert_eq!(r.remaining(), 0);
        let mut s = compact_reader(&bytes);
        s.skip(v.ttype()).unwrap();
        prop_assert_eq!(s.remaining(), 0);
        // Every strict prefix is short, never misread as something whole.
        for cut in 0..bytes.len() {
            let mut r = compact_reader(&bytes[..cut]);
            prop_assert!(r.skip(v.ttype()).is_err());
        }
    }

    #[test]
    fn integers_round_trip(a in any::<i16>(), b in any::<i32>(), c in any::<i64>()) {
        let bytes = written(|w| { w.write_i16(a); w.write_i32(b); w.write_i64(c); });
        let mut r = compact_reader(&bytes);
        prop_assert_eq!(r.read_i16().unwrap(), a);
        prop_assert_eq!(r.read_i32().unwrap(), b);
        prop_assert_eq!(r.read_i64().unwrap(), c);
        prop_assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn doubles_round_trip_bit_for_bit(bits in any::<u64>()) {
        let bytes = written(|w| w.write_double(f64::from_bits(bits)));
        prop_assert_eq!(compact_reader(&bytes).read_double().unwrap().to_bits(), bits);
    }

    #[test]
    fn message_headers_round_trip(name in "[a-zA-Z:_]{0,30}", kind in 1u8..=4, seqid in any::<i32>()) {
        let kind = MessageType::from_id(kind).unwrap();
        let bytes = written(|w| w.write_message_begin(&header(&name, kind, seqid)));
        let mut r = compact_reader(&bytes);
        prop_assert_eq!(r.read_message_begin().unwrap(), header(&name, kind, seqid));
        prop_assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        for ttype in [TType::Struct, TType::List, TType::Map, TType::String, TType::Bool] {
            let _ = compact_reader(&bytes).skip(ttype);
        }
        let mut r = compact_reader(&bytes);
        if r.read_message_begin().is_ok() {
            let _ = r.skip(TType::Struct);
        }
    }
}
