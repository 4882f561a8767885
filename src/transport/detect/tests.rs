use super::*;
use crate::protocol::DEFAULT_MAX_FRAME;
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
