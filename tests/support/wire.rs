//! Thrift binary messages built by hand, for tests that need exact bytes.

use tether::protocol::{MessageHeader, MessageType, Reader, TType, Writer};

/// A strict message: header (`name`, `kind`, `seqid`) then `args` (a whole struct).
pub fn message(name: &str, kind: MessageType, seqid: i32, args: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Writer::binary(&mut out).write_message_begin(&MessageHeader { name, kind, seqid });
    out.extend_from_slice(args);
    out
}

/// A CALL message.
pub fn call(name: &str, seqid: i32, args: &[u8]) -> Vec<u8> {
    message(name, MessageType::Call, seqid, args)
}

/// `message` with its 4-byte length prefix.
pub fn framed(message: &[u8]) -> Vec<u8> {
    let mut out = (message.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(message);
    out
}

/// An empty argument struct.
pub fn no_args() -> Vec<u8> {
    vec![0]
}

/// An argument struct whose field 1 is a binary/string.
pub fn binary_args(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = Writer::binary(&mut out);
    w.write_field_begin(TType::String, 1);
    w.write_binary(value);
    w.write_field_stop();
    out
}

/// An argument struct whose field 1 is an i32.
pub fn i32_args(value: i32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = Writer::binary(&mut out);
    w.write_field_begin(TType::I32, 1);
    w.write_i32(value);
    w.write_field_stop();
    out
}

/// Echo.echo(payload).
pub fn echo_call(seqid: i32, payload: &[u8]) -> Vec<u8> {
    call("echo", seqid, &binary_args(payload))
}

/// Echo.ping().
pub fn ping_call(seqid: i32) -> Vec<u8> {
    call("ping", seqid, &no_args())
}

/// Echo.sleep(millis).
pub fn sleep_call(seqid: i32, millis: i32) -> Vec<u8> {
    call("sleep", seqid, &i32_args(millis))
}

/// Echo.fail(mode).
pub fn fail_call(seqid: i32, mode: &str) -> Vec<u8> {
    call("fail", seqid, &binary_args(mode.as_bytes()))
}

/// Echo.fire(payload), oneway.
pub fn fire_call(seqid: i32, payload: &[u8]) -> Vec<u8> {
    message("fire", MessageType::Oneway, seqid, &binary_args(payload))
}

/// The bytes of binary field `id` of the struct in `body`, if it has one.
pub fn find_binary_field(body: &[u8], id: i16) -> Option<Vec<u8>> {
    let mut reader = Reader::new(body);
    while let Some((ttype, field)) = reader.read_field_begin().ok()? {
        if field == id && ttype == TType::String {
            return Some(reader.read_bytes().ok()?.to_vec());
        }
        reader.skip(ttype).ok()?;
    }
    None
}
