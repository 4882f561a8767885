//! Messages for the transport's unit tests.

use crate::protocol::{MessageHeader, MessageType, Writer};

/// A strict binary call named `name` whose arguments hold one string field.
pub(super) fn message(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let header = MessageHeader {
        name,
        kind: MessageType::Call,
        seqid: 1,
    };
    Writer::binary(&mut out).write_message_begin(&header);
    out.extend_from_slice(&[11, 0, 1, 0, 0, 0, 2, b'h', b'i', 0]);
    out
}

/// `body` after its frame length.
pub(super) fn framed(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}
