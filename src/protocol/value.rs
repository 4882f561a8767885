//! The traits generated code implements, and their impls for Rust's own types.
//!
//! Thrift `binary` is `Vec<u8>`, `list<byte>` is `Vec<i8>`; `set` is `HashSet` or `BTreeSet`,
//! `map` is `HashMap` or `BTreeMap`; `uuid` is [`uuid::Uuid`].

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::Hash;

use super::detect::Protocol;
use super::encoder::Writer;
use super::error::ProtocolError;
use super::limits::Limits;
use super::reader::Reader;
use super::ttype::TType;

/// A Rust type with a fixed Thrift wire type.
pub trait WireType {
    /// The type id written in field, list, set and map headers.
    const TTYPE: TType;
}

/// A value that can be written in any protocol: the [`Writer`] knows which.
pub trait Encode {
    /// Appends the value's encoding to the writer's buffer.
    fn encode(&self, w: &mut Writer<'_>);
}

/// A value that can be read in any protocol: the [`Reader`] knows which.
pub trait Decode: Sized {
    /// Reads one value, consuming exactly its bytes.
    fn decode(r: &mut Reader<'_>) -> Result<Self, ProtocolError>;
}

/// Decodes one binary-encoded value of type `T` from the start of `bytes` with the default
/// limits.
pub fn decode_from<T: Decode>(bytes: &[u8]) -> Result<T, ProtocolError> {
    T::decode(&mut Reader::new(bytes))
}

/// Decodes one binary-encoded value of type `T` from the start of `bytes` within `limits` (a
/// client decodes a reply with its channel's configured limits this way).
pub fn decode_with_limits<T: Decode>(bytes: &[u8], limits: Limits) -> Result<T, ProtocolError> {
    decode_with_protocol(bytes, Protocol::Binary, limits)
}

/// Decodes one value of type `T` encoded in `protocol` from the start of `bytes` within
/// `limits`.
pub fn decode_with_protocol<T: Decode>(
    bytes: &[u8],
    protocol: Protocol,
    limits: Limits,
) -> Result<T, ProtocolError> {
    T::decode(&mut Reader::with_protocol(bytes, protocol, limits))
}

/// Encodes one value in the binary protocol into a new buffer.
pub fn encode_to_vec<T: Encode + ?Sized>(value: &T) -> Vec<u8> {
    encode_with_protocol(value, Protocol::Binary)
}

/// Encodes one value in `protocol` into a new buffer.
pub fn encode_with_protocol<T: Encode + ?Sized>(value: &T, protocol: Protocol) -> Vec<u8> {
    let mut out = Vec::new();
    value.encode(&mut Writer::new(&mut out, protocol));
    out
}

macro_rules! primitive {
    ($ty:ty, $ttype:expr, $write:ident, $read:ident) => {
        impl WireType for $ty {
            const TTYPE: TType = $ttype;
        }
        impl Encode for $ty {
            #[inline]
            fn encode(&self, w: &mut Writer<'_>) {
                w.$write(*self);
            }
        }
        impl Decode for $ty {
            fn decode(r: &mut Reader<'_>) -> Result<Self, ProtocolError> {
                r.$read()
            }
        }
    };
}

primitive!(bool, TType::Bool, write_bool, read_bool);
primitive!(i8, TType::Byte, write_i8, read_i8);
primitive!(i16, TType::I16, write_i16, read_i16);
primitive!(i32, TType::I32, write_i32, read_i32);
primitive!(i64, TType::I64, write_i64, read_i64);
primitive!(f64, TType::Double, write_double, read_double);

impl WireType for String {
    const TTYPE: TType = TType::String;
}
impl Encode for String {
    #[inline]
    fn encode(&self, w: &mut Writer<'_>) {
        w.write_string(self);
    }
}
impl Encode for str {
    #[inline]
    fn encode(&self, w: &mut Writer<'_>) {
        w.write_string(self);
    }
}
impl Decode for String {
    fn decode(r: &mut Reader<'_>) -> Result<Self, ProtocolError> {
        r.read_str().map(str::to_owned)
    }
}

/// `Vec<u8>` is Thrift `binary`.
impl WireType for Vec<u8> {
    const TTYPE: TType = TType::String;
}
impl Encode for Vec<u8> {
    #[inline]
    fn encode(&self, w: &mut Writer<'_>) {
        w.write_binary(self);
    }
}
impl Encode for [u8] {
    #[inline]
    fn encode(&self, w: &mut Writer<'_>) {
        w.write_binary(self);
    }
}
impl Decode for Vec<u8> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, ProtocolError> {
        r.read_bytes().map(<[u8]>::to_vec)
    }
}

/// Thrift `uuid`: the `uuid` crate's type, 16 bytes in RFC 4122 order on the wire.
impl WireType for uuid::Uuid {
    const TTYPE: TType = TType::Uuid;
}
impl Encode for uuid::Uuid {
    #[inline]
    fn encode(&self, w: &mut Writer<'_>) {
        w.write_uuid(self.as_bytes());
    }
}
impl Decode for uuid::Uuid {
    fn decode(r: &mut Reader<'_>) -> Result<Self, ProtocolError> {
        r.read_uuid().map(uuid::Uuid::from_bytes)
    }
}

impl<T: WireType + ?Sized> WireType for &T {
    const TTYPE: TType = T::TTYPE;
}
impl<T: Encode + ?Sized> Encode for &T {
    #[inline]
    fn encode(&self, w: &mut Writer<'_>) {
        (**self).encode(w);
    }
}

impl<T: WireType> WireType for Box<T> {
    const TTYPE: TType = T::TTYPE;
}
impl<T: Encode> Encode for Box<T> {
    #[inline]
    fn encode(&self, w: &mut Writer<'_>) {
        (**self).encode(w);
    }
}
impl<T: Decode> Decode for Box<T> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, ProtocolError> {
        T::decode(r).map(Box::new)
    }
}

/// Checks that a container's element type on the wire is the one the schema expects.
fn expect_element(found: TType, expected: TType) -> Result<(), ProtocolError> {
    if found == expected {
        Ok(())
    } else {
        Err(ProtocolError::InvalidData {
            reason: "container element type does not match the schema",
        })
    }
}

/// Preallocation is capped so a container's first allocation stays small even when its
/// declared length is large; the vector grows only as elements actually decode.
const MAX_PREALLOCATED: usize = 4096;

fn decode_list<T: Decode + WireType, C>(
    r: &mut Reader<'_>,
    with_capacity: fn(usize) -> C,
    mut insert: impl FnMut(&mut C, T),
) -> Result<C, ProtocolError> {
    r.enter()?;
    let (element, len) = r.read_list_begin()?;
    if len > 0 {
        expect_element(element, T::TTYPE)?;
    }
    let mut items = with_capacity(len.min(MAX_PREALLOCATED));
    for _ in 0..len {
        insert(&mut items, T::decode(r)?);
    }
    r.leave();
    Ok(items)
}

fn encode_list<'t, T: Encode + WireType + 't>(
    w: &mut Writer<'_>,
    len: usize,
    items: impl Iterator<Item = &'t T>,
) {
    w.write_list_begin(T::TTYPE, len);
    for item in items {
        item.encode(w);
    }
}

macro_rules! list_like {
    ($coll:ident, [$($bound:ident),*], $with_capacity:expr, $insert:expr) => {
        impl<T: WireType $(+ $bound)*> WireType for $coll<T> {
            const TTYPE: TType = TType::Set;
        }
        impl<T: Encode + WireType $(+ $bound)*> Encode for $coll<T> {
            #[inline]
            fn encode(&self, w: &mut Writer<'_>) {
                encode_list(w, self.len(), self.iter());
            }
        }
        impl<T: Decode + WireType $(+ $bound)*> Decode for $coll<T> {
            fn decode(r: &mut Reader<'_>) -> Result<Self, ProtocolError> {
                decode_list(r, $with_capacity, $insert)
            }
        }
    };
}

list_like!(
    HashSet,
    [Eq, Hash],
    HashSet::with_capacity,
    |s: &mut HashSet<T>, v| {
        s.insert(v);
    }
);
list_like!(
    BTreeSet,
    [Ord],
    |_| BTreeSet::new(),
    |s: &mut BTreeSet<T>, v| {
        s.insert(v);
    }
);

impl<T: WireType> WireType for Vec<T> {
    const TTYPE: TType = TType::List;
}
impl<T: Encode + WireType> Encode for Vec<T> {
    #[inline]
    fn encode(&self, w: &mut Writer<'_>) {
        encode_list(w, self.len(), self.iter());
    }
}
impl<T: Decode + WireType> Decode for Vec<T> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, ProtocolError> {
        decode_list(r, Vec::with_capacity, Vec::push)
    }
}

fn decode_map<K, V, M>(
    r: &mut Reader<'_>,
    with_capacity: fn(usize) -> M,
    insert: fn(&mut M, K, V),
) -> Result<M, ProtocolError>
where
    K: Decode + WireType,
    V: Decode + WireType,
{
    r.enter()?;
    let (key, value, len) = r.read_map_begin()?;
    // Empty containers may carry any element types (some peers write 0, 0); only a non-empty
    // one has to match the schema.
    if len > 0 {
        expect_element(key, K::TTYPE)?;
        expect_element(value, V::TTYPE)?;
    }
    let mut map = with_capacity(len.min(MAX_PREALLOCATED));
    for _ in 0..len {
        let k = K::decode(r)?;
        let v = V::decode(r)?;
        insert(&mut map, k, v);
    }
    r.leave();
    Ok(map)
}

macro_rules! map_like {
    ($coll:ident, [$($bound:ident),*], $with_capacity:expr) => {
        impl<K: WireType, V: WireType> WireType for $coll<K, V> {
            const TTYPE: TType = TType::Map;
        }
        impl<K: Encode + WireType $(+ $bound)*, V: Encode + WireType> Encode for $coll<K, V> {
            #[inline]
            fn encode(&self, w: &mut Writer<'_>) {
                w.write_map_begin(K::TTYPE, V::TTYPE, self.len());
                for (k, v) in self {
                    k.encode(w);
                    v.encode(w);
                }
            }
        }
        impl<K: Decode + WireType $(+ $bound)*, V: Decode + WireType> Decode for $coll<K, V> {
            fn decode(r: &mut Reader<'_>) -> Result<Self, ProtocolError> {
                decode_map(r, $with_capacity, |m, k, v| {
                    m.insert(k, v);
                })
            }
        }
    };
}

map_like!(HashMap, [Eq, Hash], HashMap::with_capacity);
map_like!(BTreeMap, [Ord], |_| BTreeMap::new());
