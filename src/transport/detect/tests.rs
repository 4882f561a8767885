use super::*;
use crate::protocol::{MessageHeader, MessageType, DEFAULT_MAX_FRAME};
use crate::transport::test_messages::{framed, message};

#[test]
fn detection_tells_the_transports_apart() {
    let body = message("echo");
    assert_eq!(detect(&body), Some(Codec::UNFRAMED));
    assert_eq!(detect(&framed(&body)), Some(Codec::FRAMED));
    let non_strict = [0, 0, 0, 4, b'e', b'c', b'h', b'o', 1, 0, 0, 0, 1, 0];
    assert_eq!(detect(&non_strict), Some(Codec::UNFRAMED));
    assert_eq!(detect(&framed(&non_strict)), Some(Codec::FRAMED));
    assert_eq!(detect(&[0, 0, 0]), None);
    assert_eq!(detect(&[0x80]), Some(Codec::UNFRAMED));
    assert_eq!(detect(b"GET / HTTP/1.1"), Some(Codec::UNFRAMED));
}

#[test]
fn detect_waits_for_five_bytes_unless_strict() {
    let body = message("echo");
    let framed = framed(&body);
    for cut in 0..DETECT_LEN {
        assert_eq!(detect(&framed[..cut]), None, "{cut}");
    }
    for cut in 1..DETECT_LEN {
        assert_eq!(detect(&body[..cut]), Some(Codec::UNFRAMED), "{cut}");
    }
    assert_eq!(detect(&framed[..DETECT_LEN]), Some(Codec::FRAMED));
}

#[test]
fn first_bytes_no_framing_accepts_are_refused_before_detection() {
    let max = DEFAULT_MAX_FRAME;
    assert!(check_first_bytes(&[0x7f, 0xff, 0xff, 0xff], max).is_err());
    assert!(check_first_bytes(&[0x81], max).is_err());
    assert!(check_first_bytes(&[0xff, 0xff], max).is_err());
    assert!(check_first_bytes(&[0x80, 1, 0, 1], max).is_ok());
    assert!(check_first_bytes(&[0, 0, 0, 20], max).is_ok());
    assert!(
        check_first_bytes(&[0x7f, 0xff], max).is_ok(),
        "not decided yet"
    );
    let mut deframer = Deframer::new(None, Limits::default());
    assert!(deframer.next(&[0x7f, 0xff, 0xff, 0xff]).is_err());
    let mut deframer = Deframer::new(None, Limits::default());
    let body = message("echo");
    assert_eq!(
        deframer.next(&framed(&body)).unwrap(),
        FrameStatus::Complete {
            message: 4..4 + body.len(),
            consumed: 4 + body.len()
        }
    );
    assert_eq!(deframer.codec(), Some(Codec::FRAMED));
}

#[test]
fn theader_is_told_by_its_magic_at_byte_four() {
    let mut frame = Vec::new();
    let start = Codec::HEADER.begin_message(&mut frame, &crate::transport::Envelope::default());
    frame.extend_from_slice(&message("echo"));
    Codec::HEADER.finish_message(&mut frame, start);
    assert_eq!(detect(&frame[..5]), None, "0x0f at byte 4 waits for byte 5");
    assert_eq!(detect(&frame), Some(Codec::HEADER));
    let mut deframer = Deframer::new(None, Limits::default());
    assert_eq!(
        deframer.next(&frame[..5]).unwrap(),
        FrameStatus::Incomplete { needed: 1 }
    );
    assert_eq!(
        deframer.next(&frame).unwrap(),
        FrameStatus::Complete {
            message: 4..frame.len(),
            consumed: frame.len()
        }
    );
    assert_eq!(deframer.codec(), Some(Codec::HEADER));
    // A non-strict unframed name starting with 0x0f but not 0x0fff stays unframed.
    assert_eq!(detect(&[0, 0, 0, 2, 0x0f, 0x01]), Some(Codec::UNFRAMED));
}

fn compact_message() -> Vec<u8> {
    let mut out = Vec::new();
    let header = MessageHeader {
        name: "echo",
        kind: MessageType::Call,
        seqid: 1,
    };
    let mut w = crate::protocol::Writer::new(&mut out, crate::protocol::Protocol::Compact);
    w.write_message_begin(&header);
    w.write_struct_begin();
    w.write_field_begin(crate::protocol::TType::Bool, 1);
    w.write_bool(true);
    w.write_field_begin(crate::protocol::TType::String, 2);
    w.write_binary(b"hi");
    w.write_field_stop();
    w.write_struct_end();
    out
}

#[test]
fn compact_is_told_framed_or_unframed_and_found_in_pieces() {
    use crate::protocol::Protocol;
    let body = compact_message();
    let compact_unframed = Codec::UNFRAMED.with_protocol(Protocol::Compact);
    let compact_framed = Codec::FRAMED.with_protocol(Protocol::Compact);
    assert_eq!(detect(&body), Some(compact_unframed));
    assert_eq!(detect(&framed(&body)), Some(compact_framed));
    assert!(check_first_bytes(&body[..1], DEFAULT_MAX_FRAME).is_ok());
    assert!(check_first_bytes(&[0x83], DEFAULT_MAX_FRAME).is_err());
    for input in [body.clone(), framed(&body)] {
        let mut deframer = Deframer::new(None, Limits::default());
        for end in 1..input.len() {
            assert!(
                matches!(
                    deframer.next(&input[..end]),
                    Ok(FrameStatus::Incomplete { .. })
                ),
                "{end}"
            );
        }
        let Ok(FrameStatus::Complete { consumed, .. }) = deframer.next(&input) else {
            panic!("whole message");
        };
        assert_eq!(consumed, input.len());
    }
}
