//! Apache Thrift's compact protocol, without I/O: what [`super::Writer`] and [`super::Reader`]
//! call when they speak [`Protocol::Compact`](super::Protocol::Compact).
//!
//! Compact differs from binary in three ways that need state (kept in [`WriteState`] and
//! [`ReadState`]): field ids are written as deltas from the previous field of the same struct (so
//! each struct level remembers its last id), a bool field's value lives in its field header
//! (so the writer holds the field id until the value arrives), and every integer but `byte` is a
//! zigzag varint.
//!
//! Decoding follows the binary reader's rules: every size is checked against the bytes that
//! remain and the [`super::Limits`] before it is used, a varint longer than 10 bytes or wider
//! than its type is an error, and nesting stops at `max_depth`.

mod reader;
mod writer;

#[cfg(test)]
mod tests;

pub(super) use reader::ReadState;
pub(super) use writer::WriteState;
pub(super) use {reader::*, writer::*};

use super::error::ProtocolError;
use super::ttype::TType;

/// The first byte of every compact message.
pub const COMPACT_PROTOCOL_ID: u8 = 0x82;

/// The compact protocol version in the low five bits of a message's second byte.
pub const COMPACT_VERSION: u8 = 1;

const VERSION_MASK: u8 = 0x1f;
const TYPE_SHIFT: u8 = 5;

/// Compact type ids (the low nibble of field and container headers). Bool fields carry their
/// value as the type (true 1, false 2); bool elements are written with type 1, as Apache's
/// Java, C++ and Python libraries do, and read with 1 or 2 (the spec's choice).
const CT_TRUE: u8 = 1;
const CT_FALSE: u8 = 2;

/// Nesting the field id stacks hold without a heap allocation: the default depth limit, so a
/// reader with default limits never allocates for nesting.
const INLINE_DEPTH: usize = super::limits::DEFAULT_MAX_DEPTH as usize;

/// The compact type id written for `ttype` in field and container headers.
///
/// # Panics
/// On `Stop` and `Void`, which have no compact encoding as a value: a bug in the caller, never
/// something a peer can cause.
#[inline]
fn compact_id(ttype: TType) -> u8 {
    match ttype {
        TType::Bool => CT_TRUE,
        TType::Byte => 3,
        TType::I16 => 4,
        TType::I32 => 5,
        TType::I64 => 6,
        TType::Double => 7,
        TType::String => 8,
        TType::List => 9,
        TType::Set => 10,
        TType::Map => 11,
        TType::Struct => 12,
        TType::Uuid => 13,
        TType::Stop | TType::Void => panic!("{ttype:?} has no compact type id"),
    }
}

/// The type a compact type id stands for; ids outside 1..=13 are an error.
#[inline]
fn ttype_of(id: u8) -> Result<TType, ProtocolError> {
    Ok(match id {
        CT_TRUE | CT_FALSE => TType::Bool,
        3 => TType::Byte,
        4 => TType::I16,
        5 => TType::I32,
        6 => TType::I64,
        7 => TType::Double,
        8 => TType::String,
        9 => TType::List,
        10 => TType::Set,
        11 => TType::Map,
        12 => TType::Struct,
        13 => TType::Uuid,
        _ => return Err(ProtocolError::InvalidType { id }),
    })
}

/// The fewest bytes one value of `ttype` takes in compact, to reject container sizes the
/// remaining input cannot hold before anything is allocated. Varints, an empty binary, an empty
/// struct (its stop byte) and an empty container all take one byte.
#[inline]
const fn min_encoded_size(ttype: TType) -> usize {
    match ttype {
        TType::Stop | TType::Void => 0,
        TType::Double => 8,
        TType::Uuid => 16,
        _ => 1,
    }
}

#[inline]
fn zigzag_32(v: i32) -> u32 {
    ((v << 1) ^ (v >> 31)) as u32
}

#[inline]
fn zigzag_64(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

#[inline]
fn unzigzag_32(v: u32) -> i32 {
    ((v >> 1) as i32) ^ -((v & 1) as i32)
}

#[inline]
fn unzigzag_64(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// The last field id of every struct being written or read, innermost last.
///
/// The first [`INLINE_DEPTH`] levels live inline; deeper ones (a writer nesting deeper, or a
/// reader whose depth limit was raised) spill to the heap, one entry per level actually entered.
#[derive(Debug, Clone)]
struct FieldIds {
    inline: [i16; INLINE_DEPTH],
    spill: Vec<i16>,
    len: usize,
}

impl FieldIds {
    #[inline]
    fn new() -> Self {
        FieldIds {
            inline: [0; INLINE_DEPTH],
            spill: Vec::new(),
            len: 0,
        }
    }

    #[inline]
    fn push(&mut self, id: i16) {
        if self.len < INLINE_DEPTH {
            self.inline[self.len] = id;
        } else {
            self.spill.push(id);
        }
        self.len += 1;
    }

    /// The id saved by the matching push; 0 (a struct's start) if there is none.
    #[inline]
    fn pop(&mut self) -> i16 {
        if self.len == 0 {
            return 0;
        }
        self.len -= 1;
        if self.len < INLINE_DEPTH {
            self.inline[self.len]
        } else {
            self.spill.pop().unwrap_or(0)
        }
    }
}
