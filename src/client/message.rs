//! Encoding a call and checking its reply: shared by every kind of connection. No I/O.

use crate::protocol::{
    begin_frame, finish_frame, ApplicationException, Decode, Encode, Limits, MessageHeader,
    MessageType, ProtocolError, Reader, Writer,
};
use crate::transport::Framing;

use super::ClientError;

/// Replaces `out` with a whole message (frame prefix included when framed).
pub(crate) fn encode_message(
    out: &mut Vec<u8>,
    framing: Framing,
    method: &str,
    kind: MessageType,
    seqid: i32,
    args: &dyn Encode,
) {
    out.clear();
    let frame = (framing == Framing::Framed).then(|| begin_frame(out));
    let header = MessageHeader {
        name: method,
        kind,
        seqid,
    };
    let mut writer = Writer::binary(out);
    writer.write_message_begin(&header);
    args.encode(&mut writer);
    if let Some(at) = frame {
        finish_frame(out, at);
    }
}

/// Reads a reply's header; its sequence id and where its body starts.
pub(crate) fn reply_seqid(message: &[u8], limits: &Limits) -> Result<i32, ProtocolError> {
    Reader::with_limits(message, *limits)
        .read_message_begin()
        .map(|h| h.seqid)
}

/// Checks a reply message against its call and returns the result struct's bytes.
pub(crate) fn decode_reply(
    message: &[u8],
    method: &str,
    seqid: i32,
    limits: &Limits,
) -> Result<Vec<u8>, ClientError> {
    let mut reader = Reader::with_limits(message, *limits);
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
        encode_message(&mut out, Framing::Unframed, name, kind, seqid, &Empty);
        out
    }

    #[test]
    fn framed_message_carries_its_length() {
        let mut out = Vec::new();
        encode_message(
            &mut out,
            Framing::Framed,
            "ping",
            MessageType::Call,
            7,
            &Empty,
        );
        let len = i32::from_be_bytes([out[0], out[1], out[2], out[3]]) as usize;
        assert_eq!(len, out.len() - 4);
        assert_eq!(reply_seqid(&out[4..], &Limits::default()).unwrap(), 7);
    }

    #[test]
    fn reply_body_follows_header() {
        let body = decode_reply(
            &reply(MessageType::Reply, "ping", 3),
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
        let r = decode_reply(&reply(MessageType::Reply, "ping", 4), "ping", 3, &limits);
        assert!(matches!(
            r,
            Err(ClientError::SeqidMismatch {
                expected: 3,
                received: 4
            })
        ));
        let r = decode_reply(&reply(MessageType::Reply, "echo", 3), "ping", 3, &limits);
        assert!(matches!(r, Err(ClientError::Protocol(_))));
        let r = decode_reply(&reply(MessageType::Call, "ping", 3), "ping", 3, &limits);
        assert!(matches!(r, Err(ClientError::Protocol(_))));
        let r = decode_reply(
            &reply(MessageType::Reply, "ping", 3),
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
        match decode_reply(&out, "nope", 9, &Limits::default()) {
            Err(ClientError::Application(e)) => {
                assert_eq!(e.kind, ApplicationExceptionKind::UnknownMethod);
                assert_eq!(e.message, "no such method");
            }
            other => panic!("expected an application exception, got {other:?}"),
        }
    }
}
