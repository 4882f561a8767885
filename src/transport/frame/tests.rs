use super::*;
use crate::protocol::{write_message_begin, MessageHeader, MessageType, DEFAULT_MAX_FRAME};

fn message(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let header = MessageHeader {
        name,
        kind: MessageType::Call,
        seqid: 1,
    };
    write_message_begin(&mut out, &header);
    out.extend_from_slice(&[11, 0, 1, 0, 0, 0, 2, b'h', b'i', 0]);
    out
}

fn framed(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

#[test]
fn framed_complete_and_incomplete() {
    let body = message("echo");
    let mut buf = framed(&body);
    assert_eq!(
        parse_framed(&buf, DEFAULT_MAX_FRAME).unwrap(),
        FrameStatus::Complete {
            message: 4..4 + body.len(),
            consumed: 4 + body.len()
        }
    );
    for cut in 0..buf.len() {
        match parse_framed(&buf[..cut], DEFAULT_MAX_FRAME).unwrap() {
            FrameStatus::Incomplete { needed } => {
                let expected = if cut < 4 { 4 - cut } else { buf.len() - cut };
                assert_eq!(needed, expected)
            }
            other => panic!("{cut}: {other:?}"),
        }
    }
    buf.extend_from_slice(&framed(&body));
    let FrameStatus::Complete { consumed, .. } = parse_framed(&buf, DEFAULT_MAX_FRAME).unwrap()
    else {
        panic!()
    };
    assert_eq!(consumed, buf.len() / 2);
}

#[test]
fn framed_bad_lengths_fail_on_the_length_alone() {
    assert!(matches!(
        parse_framed(&[0, 0, 0, 0], DEFAULT_MAX_FRAME),
        Err(ProtocolError::InvalidData { .. })
    ));
    assert!(matches!(
        parse_framed(&[0xff, 0xff, 0xff, 0xff], DEFAULT_MAX_FRAME),
        Err(ProtocolError::NegativeSize { size: -1 })
    ));
    assert!(matches!(
        parse_framed(&[0x7f, 0xff, 0xff, 0xff], DEFAULT_MAX_FRAME),
        Err(ProtocolError::SizeLimit { .. })
    ));
    assert!(matches!(
        parse_framed(b"GET / HTTP/1.1\r\n", DEFAULT_MAX_FRAME),
        Err(ProtocolError::SizeLimit { .. })
    ));
    assert!(parse_framed(&[0, 0, 0, 5], 4).is_err());
    assert!(parse_framed(&[0, 0, 0, 4], 4).is_ok());
}

#[test]
fn unframed_finds_the_message_end() {
    let body = message("echo");
    let mut buf = body.clone();
    buf.extend_from_slice(&body);
    let limits = Limits::default();
    assert_eq!(
        parse_unframed(&buf, &limits).unwrap(),
        FrameStatus::Complete {
            message: 0..body.len(),
            consumed: body.len()
        }
    );
    for cut in 0..body.len() {
        assert!(
            matches!(
                parse_unframed(&body[..cut], &limits),
                Ok(FrameStatus::Incomplete { .. })
            ),
            "{cut}"
        );
    }
}

#[test]
fn unframed_rejects_messages_that_cannot_fit() {
    let limits = Limits::default().max_frame(64);
    let mut buf = message("echo");
    buf.truncate(buf.len() - 10);
    // A binary claiming 1000 bytes in a message capped at 64.
    buf.extend_from_slice(&[11, 0, 1, 0, 0, 3, 0xe8]);
    assert!(matches!(
        parse_unframed(&buf, &limits),
        Err(ProtocolError::SizeLimit { .. })
    ));
    assert!(parse_unframed(b"GET / HTTP/1.1\r\n", &Limits::default()).is_err());
}

#[test]
fn detection_tells_the_transports_apart() {
    let body = message("echo");
    assert_eq!(detect(&body), Some(Framing::Unframed));
    assert_eq!(detect(&framed(&body)), Some(Framing::Framed));
    let non_strict = [0, 0, 0, 4, b'e', b'c', b'h', b'o', 1, 0, 0, 0, 1, 0];
    assert_eq!(detect(&non_strict), Some(Framing::Unframed));
    assert_eq!(detect(&framed(&non_strict)), Some(Framing::Framed));
    assert_eq!(detect(&[0, 0, 0]), None);
    assert_eq!(detect(&[0x80]), Some(Framing::Unframed));
    assert_eq!(detect(b"GET / HTTP/1.1"), Some(Framing::Unframed));
}
