//! Which protocol a message speaks, and how to tell from its first byte.

use super::compact::COMPACT_PROTOCOL_ID;

/// The first byte of a strict binary message: the high byte of its version word 0x8001.
const BINARY_STRICT_FIRST: u8 = 0x80;

/// A Thrift protocol: how values are laid out inside a message.
///
/// [`Writer`](super::Writer) and [`Reader`](super::Reader) carry one, so encoders, decoders and
/// generated code never name a protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Protocol {
    /// Apache's binary protocol (TBinaryProtocol): fixed-width big-endian integers.
    #[default]
    Binary,
    /// Apache's compact protocol (TCompactProtocol): varints, field id deltas, packed bools.
    Compact,
}

impl Protocol {
    /// The protocol a message starting with `first_bytes` speaks, from its first byte: 0x80
    /// (strict binary), 0x82 (compact), or 0x00..=0x7f (old non-strict binary, whose first word
    /// is the name's positive length). `None` for anything else or no bytes at all.
    pub fn detect(first_bytes: &[u8]) -> Option<Protocol> {
        match *first_bytes.first()? {
            BINARY_STRICT_FIRST => Some(Protocol::Binary),
            COMPACT_PROTOCOL_ID => Some(Protocol::Compact),
            0x00..=0x7f => Some(Protocol::Binary),
            _ => None,
        }
    }
}
