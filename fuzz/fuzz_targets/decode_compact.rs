//! The compact reader on arbitrary bytes: a message header and body, and any value read as a
//! tree. Every outcome is an error or a value; skip accepts exactly what the typed reads
//! accept, over the same bytes; and a value written back reads back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tether::protocol::{Limits, Protocol, ProtocolError, Reader, TType, Writer};

fn compact_reader(data: &[u8], limits: Limits) -> Reader<'_> {
    Reader::with_protocol(data, Protocol::Compact, limits)
}

/// A value of any type; doubles as bits so NaN compares equal to itself.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Bool(bool),
    Byte(i8),
    I16(i16),
    I32(i32),
    I64(i64),
    Double(u64),
    Binary(Vec<u8>),
    Uuid([u8; 16]),
    List(TType, Vec<Value>),
    Map(TType, TType, Vec<(Value, Value)>),
    Struct(Vec<(i16, Value)>),
}

fn ttype(v: &Value) -> TType {
    match v {
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

fn read(r: &mut Reader<'_>, t: TType) -> Result<Value, ProtocolError> {
    Ok(match t {
        TType::Bool => Value::Bool(r.read_bool()?),
        TType::Byte => Value::Byte(r.read_i8()?),
        TType::I16 => Value::I16(r.read_i16()?),
        TType::I32 => Value::I32(r.read_i32()?),
        TType::I64 => Value::I64(r.read_i64()?),
        TType::Double => Value::Double(r.read_double()?.to_bits()),
        TType::String => Value::Binary(r.read_bytes()?.to_vec()),
        TType::Uuid => Value::Uuid(r.read_uuid()?),
        TType::List | TType::Set => {
            r.enter()?;
            let (element, len) = r.read_list_begin()?;
            let mut items = Vec::new();
            for _ in 0..len {
                items.push(read(r, element)?);
            }
            r.leave();
            Value::List(element, items)
        }
        TType::Map => {
            r.enter()?;
            let (key, value, len) = r.read_map_begin()?;
            let mut pairs = Vec::new();
            for _ in 0..len {
                pairs.push((read(r, key)?, read(r, value)?));
            }
            r.leave();
            Value::Map(key, value, pairs)
        }
        TType::Struct => {
            r.enter()?;
            let mut fields = Vec::new();
            while let Some((field, id)) = r.read_field_begin()? {
                fields.push((id, read(r, field)?));
            }
            r.leave();
            Value::Struct(fields)
        }
        _ => return Err(ProtocolError::InvalidType { id: t.id() }),
    })
}

fn write(w: &mut Writer<'_>, v: &Value) {
    match v {
        Value::Bool(b) => w.write_bool(*b),
        Value::Byte(b) => w.write_i8(*b),
        Value::I16(i) => w.write_i16(*i),
        Value::I32(i) => w.write_i32(*i),
        Value::I64(i) => w.write_i64(*i),
        Value::Double(bits) => w.write_double(f64::from_bits(*bits)),
        Value::Binary(b) => w.write_binary(b),
        Value::Uuid(u) => w.write_uuid(u),
        Value::List(element, items) => {
            w.write_list_begin(*element, items.len());
            items.iter().for_each(|item| write(w, item));
        }
        Value::Map(key, value, pairs) => {
            w.write_map_begin(*key, *value, pairs.len());
            for (k, v) in pairs {
                write(w, k);
                write(w, v);
            }
        }
        Value::Struct(fields) => {
            w.write_struct_begin();
            for (id, value) in fields {
                w.write_field_begin(ttype(value), *id);
                write(w, value);
            }
            w.write_field_stop();
            w.write_struct_end();
        }
    }
}

fn check(data: &[u8], t: TType, limits: Limits) {
    let mut skipper = compact_reader(data, limits);
    let skipped = skipper.skip(t).map(|()| skipper.position());
    let mut r = compact_reader(data, limits);
    let Ok(value) = read(&mut r, t) else {
        assert!(skipped.is_err());
        return;
    };
    assert_eq!(skipped, Ok(r.position()));
    // Padded varints, long-form field ids and the spec's false (0) read fine but are never
    // written: the value written back must read back the same, its bytes not.
    let mut again = Vec::new();
    write(&mut Writer::new(&mut again, Protocol::Compact), &value);
    let mut r = compact_reader(&again, Limits::default());
    assert_eq!(read(&mut r, t), Ok(value));
    assert_eq!(r.remaining(), 0);
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, data)) = data.split_first() else {
        return;
    };
    let limits = Limits::default().max_depth(16);
    match selector % 5 {
        0 => {
            let mut r = compact_reader(data, limits);
            if let Ok(header) = r.read_message_begin() {
                let start = r.position();
                let mut again = Vec::new();
                Writer::new(&mut again, Protocol::Compact).write_message_begin(&header);
                let mut back = compact_reader(&again, Limits::default());
                assert_eq!(back.read_message_begin(), Ok(header));
                check(&data[start..], TType::Struct, limits);
            }
        }
        1 => check(data, TType::Struct, limits),
        2 => check(data, TType::List, limits),
        3 => check(data, TType::Map, limits),
        _ => check(data, TType::String, limits),
    }
});
