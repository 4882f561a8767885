//! Encoding a call and checking its reply: shared by every kind of connection. No I/O.

use crate::protocol::{
    ApplicationException, Decode, Encode, Limits, MessageHeader, MessageType, Protocol,
    ProtocolError, Reader, Writer,
};
use std::borrow::Cow;

use crate::transport::{Codec, Envelope, DRAIN_HEADER};

use super::ClientError;

/// Replaces `out` with a whole message (frame prefix or THeader headers included).
pub(crate) fn encode_message(
    out: &mut Vec<u8>,
    codec: Codec,
    method: &str,
    kind: MessageType,
    seqid: i32,
    args: &dyn Encode,
) {
    out.clear();
    // THeader's frame seqid is the message's, as Apache's THeaderProtocol writes it.
    let envelope = Envelope {
        seqid,
        ..Envelope::default()
    };
    let start = codec.begin_message(out, &envelope);
    let header = MessageHeader {
        name: method,
        kind,
        seqid,
    };
    let mut writer = Writer::new(out, codec.protocol());
    writer.write_message_begin(&header);
    args.encode(&mut writer);
    codec.finish_message(out, start);
}

/// Reads a reply's header; its sequence id and where its body starts.
pub(crate) fn reply_seqid(
    message: &[u8],
    protocol: Protocol,
    limits: &Limits,
) -> Result<i32, ProtocolError> {
    Reader::with_protocol(message, protocol, *limits)
        .read_message_begin()
        .map(|h| h.seqid)
}

/// A reply as the codec opened it.
pub(crate) struct OpenReply<'a> {
    /// The message: header and result.
    pub payload: Cow<'a, [u8]>,
    /// Its protocol: the connection's, or the one its THeader frame names.
    pub protocol: Protocol,
    /// The server asked, with THeader's `:drain` info header, that nothing new be sent on the
    /// connection.
    pub drain: bool,
}

/// Opens a reply the codec found (`found`, from [`Codec::parse`]).
pub(crate) fn open_reply<'a>(
    codec: Codec,
    found: &'a [u8],
    limits: &Limits,
) -> Result<OpenReply<'a>, ClientError> {
    let message = codec.open(found, limits).map_err(ClientError::Header)?;
    let drain = message.info_header(DRAIN_HEADER).is_some();
    let protocol = message
        .header()
        .map_or(codec.protocol(), |frame| frame.protocol);
    Ok(OpenReply {
        payload: message.into_payload(),
        protocol,
        drain,
    })
}

/// Checks a reply message against its call and returns the result struct's bytes.
pub(crate) fn decode_reply(
    message: &[u8],
    protocol: Protocol,
    method: &str,
    seqid: i32,
    limits: &Limits,
) -> Result<Vec<u8>, ClientError> {
    let mut reader = Reader::with_protocol(message, protocol, *limits);
    let header = reader.read_message_begin()?;
    if header.seqid != seqid {
        return Err(ClientError::SeqidMismatch {
            expected: seqid,
            received: header.seqid,
        });
    }
    if !same_method(method, header.name) {
        return Err(ClientError::Protocol(ProtocolError::InvalidData {
            reason: "reply names another method",
        }));
    }
    match header.kind {
        MessageType::Reply => Ok(message[reader.position()..].to_vec()),
        MessageType::Exception => Err(ClientError::Application(ApplicationException::decode(
            &mut reader,
        )?)),
        MessageType::Call | MessageType::Oneway => {
            Err(ClientError::Protocol(ProtocolError::InvalidData {
                reason: "reply is not a reply or an exception",
            }))
        }
    }
}

/// A call named `Service:method` (Apache's multiplexed protocol) is answered as `method`.
fn same_method(called: &str, replied: &str) -> bool {
    called == replied
        || called
            .rsplit_once(':')
            .is_some_and(|(_, plain)| plain == replied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ApplicationExceptionKind, Writer};

    struct Empty;
    impl Encode for Empty {
        fn encode(&self, w: &mut Writer<'_>) {
            w.write_struct_begin();
            w.write_field_stop();
            w.write_struct_end();
        }
    }

    fn reply(kind: MessageType, name: &str, seqid: i32) -> Vec<u8> {
        let mut out = Vec::new();
        encode_message(&mut out, Codec::UNFRAMED, name, kind, seqid, &Empty);
        out
    }

    #[test]
    fn framed_message_carries_its_length() {
        let mut out = Vec::new();
        encode_message(
            &mut out,
            Codec::FRAMED,
            "ping",
            MessageType::Call,
            7,
            &Empty,
        );
        let len = i32::from_be_bytes([out[0], out[1], out[2], out[3]]) as usize;
        assert_eq!(len, out.len() - 4);
        assert_eq!(
            reply_seqid(&out[4..], Protocol::Binary, &Limits::default()).unwrap(),
            7
        );
    }

    #[test]
    fn reply_body_follows_header() {
        let body = decode_reply(
            &reply(MessageType::Reply, "ping", 3),
            Protocol::Binary,
            "ping",
            3,
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(body, vec![0]);
    }

    #[test]
    fn wrong_seqid_name_or_type_are_errors() {
        let limits = Limits::default();
        let r = decode_reply(
            &reply(MessageType::Reply, "ping", 4),
            Protocol::Binary,
            "ping",
            3,
            &limits,
        );
        assert!(matches!(
            r,
            Err(ClientError::SeqidMismatch {
                expected: 3,
                received: 4
            })
        ));
        let r = decode_reply(
            &reply(MessageType::Reply, "echo", 3),
            Protocol::Binary,
            "ping",
            3,
            &limits,
        );
        assert!(matches!(r, Err(ClientError::Protocol(_))));
        let r = decode_reply(
            &reply(MessageType::Call, "ping", 3),
            Protocol::Binary,
            "ping",
            3,
            &limits,
        );
        assert!(matches!(r, Err(ClientError::Protocol(_))));
        let r = decode_reply(
            &reply(MessageType::Reply, "ping", 3),
            Protocol::Binary,
            "Echo:ping",
            3,
            &limits,
        );
        assert!(r.is_ok());
    }

    #[test]
    fn exception_reply_is_typed() {
        let mut out = Vec::new();
        ApplicationException::new(ApplicationExceptionKind::UnknownMethod, "no such method")
            .encode_message(&mut Writer::binary(&mut out), "nope", 9);
        match decode_reply(&out, Protocol::Binary, "nope", 9, &Limits::default()) {
            Err(ClientError::Application(e)) => {
                assert_eq!(e.kind, ApplicationExceptionKind::UnknownMethod);
                assert_eq!(e.message, "no such method");
            }
            other => panic!("expected an application exception, got {other:?}"),
        }
    }
}
