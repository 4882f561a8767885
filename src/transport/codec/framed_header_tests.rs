//! THeader inside TFramedTransport: what Apache's test programs send for `--protocol header
//! --transport framed`.

use super::*;
use crate::transport::detect::{detect, Deframer};
use crate::transport::test_messages::{framed, message};

fn encoded(codec: Codec, envelope: &Envelope<'_>, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let start = codec.begin_message(&mut out, envelope);
    out.extend_from_slice(body);
    codec.finish_message(&mut out, start);
    out
}

fn found(codec: Codec, buf: &[u8]) -> (std::ops::Range<usize>, usize) {
    match codec.parse(buf, &Limits::default()) {
        Ok(FrameStatus::Complete { message, consumed }) => (message, consumed),
        other => panic!("not complete: {other:?}"),
    }
}

#[test]
fn the_theader_frame_goes_inside_a_frame_four_longer() {
    let body = message("echo");
    let envelope = Envelope {
        seqid: 7,
        ..Envelope::default()
    };
    let plain = encoded(Codec::HEADER, &envelope, &body);
    let wrapped = encoded(Codec::FRAMED_HEADER, &envelope, &body);
    // Exactly TFramedTransport's frame around THeaderTransport's frame, as Python writes it.
    assert_eq!(wrapped, framed(&plain));
    let (message, consumed) = found(Codec::FRAMED_HEADER, &wrapped);
    assert_eq!(consumed, wrapped.len());
    assert_eq!(message, 8..wrapped.len(), "after both lengths");
    let opened = Codec::FRAMED_HEADER
        .open(&wrapped[message], &Limits::default())
        .unwrap();
    assert_eq!(opened.header().unwrap().seqid, 7);
    assert_eq!(opened.payload(), body);
}

#[test]
fn compressed_frames_and_info_headers_are_wrapped_after_compression() {
    let body = vec![b'z'; 4096];
    let info: &[(&[u8], &[u8])] = &[(b":drain", b"true")];
    let envelope = Envelope {
        seqid: 3,
        zlib: true,
        info,
        ..Envelope::default()
    };
    let wrapped = encoded(
        Codec::FRAMED_HEADER.with_protocol(Protocol::Compact),
        &envelope,
        &body,
    );
    assert!(wrapped.len() < 1000, "compressed: {} bytes", wrapped.len());
    let outer = u32::from_be_bytes(wrapped[..4].try_into().unwrap()) as usize;
    let inner = u32::from_be_bytes(wrapped[4..8].try_into().unwrap()) as usize;
    assert_eq!((outer, inner + 4), (wrapped.len() - 4, outer));
    let (message, _) = found(Codec::FRAMED_HEADER, &wrapped);
    let opened = Codec::FRAMED_HEADER
        .open(&wrapped[message], &Limits::default())
        .unwrap();
    let frame = opened.header().unwrap();
    assert!(frame.zlib);
    assert_eq!(frame.protocol, Protocol::Compact);
    assert_eq!(opened.info_header(b":drain"), Some(&b"true"[..]));
    assert_eq!(opened.payload(), body);
}

#[test]
fn an_empty_message_leaves_nothing() {
    let mut out = b"queued".to_vec();
    let start = Codec::FRAMED_HEADER.begin_message(&mut out, &Envelope::default());
    Codec::FRAMED_HEADER.finish_message(&mut out, start);
    assert_eq!(out, b"queued");
}

#[test]
fn an_error_reply_goes_back_in_a_frame_under_the_frames_seqid() {
    let envelope = Envelope {
        seqid: 41,
        ..Envelope::default()
    };
    let codec = Codec::FRAMED_HEADER.with_protocol(Protocol::Compact);
    let wrapped = encoded(codec, &envelope, &message("echo"));
    let (message, _) = found(Codec::FRAMED_HEADER, &wrapped);
    let (reply, reply_codec) = Codec::FRAMED_HEADER.error_reply(&wrapped[message]);
    assert_eq!(reply.seqid, 41);
    assert_eq!(reply_codec, codec);
}

#[test]
fn a_frame_must_hold_exactly_one_theader_frame() {
    let plain = encoded(Codec::HEADER, &Envelope::default(), &message("echo"));
    // One byte more in the outer frame than the THeader frame, one less, a plain message.
    let mut longer = plain.clone();
    longer.push(0);
    let shorter = &plain[..plain.len() - 1];
    for bad in [
        framed(&longer),
        framed(shorter),
        framed(&framed(&message("echo"))[..3]),
    ] {
        assert!(
            matches!(
                Codec::FRAMED_HEADER.parse(&bad, &Limits::default()),
                Err(ProtocolError::InvalidData { .. })
            ),
            "{bad:?}"
        );
    }
    let mut negative = framed(&plain);
    negative[4] = 0xff;
    assert!(Codec::FRAMED_HEADER
        .parse(&negative, &Limits::default())
        .is_err());
}

#[test]
fn lengths_are_bounded_before_the_frame_arrives() {
    let limits = Limits {
        max_frame: 1000,
        ..Limits::default()
    };
    assert!(matches!(
        Codec::FRAMED_HEADER.parse(&1001u32.to_be_bytes(), &limits),
        Err(ProtocolError::SizeLimit { .. })
    ));
    let wrapped = encoded(Codec::FRAMED_HEADER, &Envelope::default(), &message("echo"));
    for cut in 0..wrapped.len() {
        assert!(
            matches!(
                Codec::FRAMED_HEADER.parse(&wrapped[..cut], &limits),
                Ok(FrameStatus::Incomplete { .. })
            ),
            "{cut}"
        );
    }
}

#[test]
fn detection_tells_it_by_the_magic_at_byte_eight() {
    let wrapped = encoded(Codec::FRAMED_HEADER, &Envelope::default(), &message("echo"));
    for cut in 0..10 {
        assert_eq!(detect(&wrapped[..cut]), None, "{cut}");
    }
    assert_eq!(detect(&wrapped[..10]), Some(Codec::FRAMED_HEADER));
    // A non-strict framed message (name length first) is still framed once ten bytes are in.
    let non_strict = [0, 0, 0, 4, b'e', b'c', b'h', b'o', 1, 0, 0, 0, 1, 0];
    assert_eq!(detect(&framed(&non_strict)[..9]), None);
    assert_eq!(detect(&framed(&non_strict)), Some(Codec::FRAMED));
    assert_eq!(detect(&framed(&message("echo"))), Some(Codec::FRAMED));
    assert_eq!(
        detect(&encoded(Codec::HEADER, &Envelope::default(), b"x")),
        Some(Codec::HEADER)
    );
}

#[test]
fn a_detecting_deframer_finds_each_message_of_a_stream() {
    let mut stream = Vec::new();
    for seqid in 1..=3 {
        let envelope = Envelope {
            seqid,
            ..Envelope::default()
        };
        stream.extend(encoded(Codec::FRAMED_HEADER, &envelope, &message("echo")));
    }
    let mut deframer = Deframer::new(None, Limits::default());
    let mut rest = &stream[..];
    for seqid in 1..=3 {
        // Byte by byte up to the first message: detection and parsing wait, never misread.
        let mut have = 1;
        let (message, consumed) = loop {
            match deframer.next(&rest[..have]).unwrap() {
                FrameStatus::Complete { message, consumed } => break (message, consumed),
                FrameStatus::Incomplete { .. } => have += 1,
            }
        };
        assert_eq!(deframer.codec(), Some(Codec::FRAMED_HEADER));
        let opened = Codec::FRAMED_HEADER
            .open(&rest[message], &Limits::default())
            .unwrap();
        assert_eq!(opened.header().unwrap().seqid, seqid);
        rest = &rest[consumed..];
    }
    assert!(rest.is_empty());
}

proptest::proptest! {
    /// Any bytes: an error or a message inside the buffer, never a panic or a claim past it.
    #[test]
    fn arbitrary_input_is_bounded(buf in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
        let limits = Limits { max_frame: 48, ..Limits::default() };
        if let Ok(FrameStatus::Complete { message, consumed }) =
            Codec::FRAMED_HEADER.parse(&buf, &limits)
        {
            proptest::prop_assert!(message.end <= consumed && consumed <= buf.len());
            let _ = Codec::FRAMED_HEADER.open(&buf[message], &limits);
        }
        let mut deframer = Deframer::new(None, limits);
        if let Ok(FrameStatus::Complete { consumed, .. }) = deframer.next(&buf) {
            proptest::prop_assert!(consumed <= buf.len());
        }
    }

    /// A THeader frame of any payload survives the outer frame.
    #[test]
    fn any_payload_round_trips(payload in proptest::collection::vec(proptest::num::u8::ANY, 1..300)) {
        let wrapped = encoded(Codec::FRAMED_HEADER, &Envelope::default(), &payload);
        let (message, consumed) = found(Codec::FRAMED_HEADER, &wrapped);
        proptest::prop_assert_eq!(consumed, wrapped.len());
        let opened = Codec::FRAMED_HEADER.open(&wrapped[message], &Limits::default()).unwrap();
        proptest::prop_assert_eq!(opened.payload(), &payload[..]);
    }
}
