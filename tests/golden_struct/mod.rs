//! scripts/golden.py's `values_struct` as Rust types, shared by the binary (tests/golden.rs) and
//! compact (tests/golden_protocols.rs) golden tests: one Encode/Decode serves both protocols.

use std::collections::{BTreeMap, BTreeSet};

use tether::protocol::{Decode, Encode, ProtocolError, Reader, TType, WireType, Writer};

/// `struct Inner { 1: string label, 2: list<map<i32, list<string>>> rows }`
#[derive(Debug, Clone, PartialEq)]
pub struct Inner {
    pub label: String,
    pub rows: Vec<BTreeMap<i32, Vec<String>>>,
}

impl WireType for Inner {
    const TTYPE: TType = TType::Struct;
}

impl Encode for Inner {
    fn encode(&self, w: &mut Writer<'_>) {
        w.write_struct_begin();
        w.write_field(1, &self.label);
        w.write_field(2, &self.rows);
        w.write_field_stop();
        w.write_struct_end();
    }
}

impl Decode for Inner {
    fn decode(r: &mut Reader<'_>) -> Result<Self, ProtocolError> {
        r.enter()?;
        let (mut label, mut rows) = (None, None);
        while let Some((ttype, id)) = r.read_field_begin()? {
            match (id, ttype) {
                (1, TType::String) => label = Some(String::decode(r)?),
                (2, TType::List) => rows = Some(Vec::decode(r)?),
                _ => r.skip(ttype)?,
            }
        }
        r.leave();
        Ok(Inner {
            label: label.ok_or(missing("Inner", "label"))?,
            rows: rows.ok_or(missing("Inner", "rows"))?,
        })
    }
}

pub fn missing(strukt: &'static str, field: &'static str) -> ProtocolError {
    ProtocolError::MissingField { strukt, field }
}

/// One field of every type, as scripts/golden.py's `values_struct` writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Everything {
    pub flag: bool,
    pub small: i8,
    pub short: i16,
    pub medium: i32,
    pub large: i64,
    pub ratio: f64,
    pub name: String,
    pub blob: Vec<u8>,
    pub numbers: Vec<i32>,
    pub tags: BTreeSet<String>,
    pub counts: BTreeMap<String, i64>,
    pub inner: Inner,
    pub absent: Option<i32>,
    pub last: i16,
    pub negative: i32,
}

impl WireType for Everything {
    const TTYPE: TType = TType::Struct;
}

impl Encode for Everything {
    fn encode(&self, w: &mut Writer<'_>) {
        w.write_struct_begin();
        w.write_field(1, &self.flag);
        w.write_field(2, &self.small);
        w.write_field(3, &self.short);
        w.write_field(4, &self.medium);
        w.write_field(5, &self.large);
        w.write_field(6, &self.ratio);
        w.write_field(7, &self.name);
        w.write_field(8, &self.blob);
        w.write_field(9, &self.numbers);
        w.write_field(10, &self.tags);
        w.write_field(11, &self.counts);
        w.write_field(12, &self.inner);
        w.write_optional_field(13, &self.absent);
        w.write_field(32767, &self.last);
        w.write_field(-1, &self.negative);
        w.write_field_stop();
        w.write_struct_end();
    }
}

impl Decode for Everything {
    fn decode(r: &mut Reader<'_>) -> Result<Self, ProtocolError> {
        r.enter()?;
        let mut v = Everything {
            flag: false,
            small: 0,
            short: 0,
            medium: 0,
            large: 0,
            ratio: 0.0,
            name: String::new(),
            blob: Vec::new(),
            numbers: Vec::new(),
            tags: BTreeSet::new(),
            counts: BTreeMap::new(),
            inner: Inner {
                label: String::new(),
                rows: Vec::new(),
            },
            absent: None,
            last: 0,
            negative: 0,
        };
        let mut seen = 0u32;
        while let Some((ttype, id)) = r.read_field_begin()? {
            match (id, ttype) {
                (1, TType::Bool) => v.flag = r.read_bool()?,
                (2, TType::Byte) => v.small = r.read_i8()?,
                (3, TType::I16) => v.short = r.read_i16()?,
                (4, TType::I32) => v.medium = r.read_i32()?,
                (5, TType::I64) => v.large = r.read_i64()?,
                (6, TType::Double) => v.ratio = r.read_double()?,
                (7, TType::String) => v.name = String::decode(r)?,
                (8, TType::String) => v.blob = Vec::decode(r)?,
                (9, TType::List) => v.numbers = Vec::decode(r)?,
                (10, TType::Set) => v.tags = BTreeSet::decode(r)?,
                (11, TType::Map) => v.counts = BTreeMap::decode(r)?,
                (12, TType::Struct) => v.inner = Inner::decode(r)?,
                (13, TType::I32) => v.absent = Some(r.read_i32()?),
                (32767, TType::I16) => v.last = r.read_i16()?,
                (-1, TType::I32) => v.negative = r.read_i32()?,
                _ => {
                    r.skip(ttype)?;
                    continue;
                }
            }
            seen += 1;
        }
        r.leave();
        if seen < 14 {
            return Err(missing("Everything", "a required field"));
        }
        Ok(v)
    }
}

pub fn everything() -> Everything {
    Everything {
        flag: true,
        small: -128,
        short: -2,
        medium: 0x1234_5678,
        large: i64::MIN,
        ratio: -0.5,
        name: "tëther ✓".to_string(),
        blob: vec![0, 1, 0xfe, 0xff],
        numbers: vec![1, -1, i32::MAX],
        tags: BTreeSet::from(["a".to_string(), "b".to_string()]),
        counts: BTreeMap::from([("x".to_string(), 1), ("y".to_string(), -1)]),
        inner: Inner {
            label: "in".to_string(),
            rows: vec![
                BTreeMap::from([(1, vec!["a".to_string(), "b".to_string()]), (2, vec![])]),
                BTreeMap::new(),
            ],
        },
        absent: None,
        last: 7,
        negative: 99,
    }
}
