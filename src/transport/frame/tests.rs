use super::*;
use crate::protocol::{MessageHeader, MessageType, DEFAULT_MAX_FRAME};
use crate::transport::test_messages::{framed, message};

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
fn frame_length_i32_max_without_body_is_refused_on_its_header() {
    let header = i32::MAX.to_be_bytes();
    assert_eq!(
        parse_framed(&header, DEFAULT_MAX_FRAME).unwrap_err(),
        ProtocolError::SizeLimit {
            size: i32::MAX as u64,
            limit: DEFAULT_MAX_FRAME as u64
        }
    );
    // Even with no frame cap at all the answer is a number, never a buffer.
    assert_eq!(
        parse_framed(&header, usize::MAX).unwrap(),
        FrameStatus::Incomplete {
            needed: i32::MAX as usize
        }
    );
    assert!(matches!(
        parse_framed(&i32::MIN.to_be_bytes(), DEFAULT_MAX_FRAME),
        Err(ProtocolError::NegativeSize { .. })
    ));
}

#[test]
fn frame_of_exactly_max_frame_is_accepted() {
    let max = 64;
    let mut buf = (max as u32).to_be_bytes().to_vec();
    buf.resize(4 + max, 0);
    assert_eq!(
        parse_framed(&buf, max).unwrap(),
        FrameStatus::Complete {
            message: 4..4 + max,
            consumed: 4 + max
        }
    );
    buf[3] += 1;
    assert!(parse_framed(&buf, max).is_err());
}

#[test]
fn http_request_on_the_framed_path_is_refused_at_once() {
    // "GET " is 0x47455420: about 1.2 GB, far past the default frame limit.
    for request in [
        &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        b"GET ",
        b"POST / HTTP/1.1",
    ] {
        assert!(
            matches!(
                parse_framed(request, DEFAULT_MAX_FRAME),
                Err(ProtocolError::SizeLimit { .. })
            ),
            "{request:?}"
        );
    }
}

#[test]
fn unframed_reads_old_non_strict_messages() {
    let mut buf = vec![0, 0, 0, 2, b'h', b'i', 1, 0, 0, 0, 9];
    buf.extend_from_slice(&[8, 0, 1, 0, 0, 0, 5, 0]);
    let len = buf.len();
    buf.extend_from_slice(&[0x80, 1]);
    assert_eq!(
        parse_unframed(&buf, &Limits::default()).unwrap(),
        FrameStatus::Complete {
            message: 0..len,
            consumed: len
        }
    );
}

#[test]
fn unframed_hostile_messages_are_errors_not_waits() {
    let limits = Limits::default();
    // Wrong version.
    let mut bad_version = message("echo");
    bad_version[1] = 2;
    assert!(matches!(
        parse_unframed(&bad_version, &limits),
        Err(ProtocolError::BadVersion { .. })
    ));
    // An invalid type id in the body.
    let mut bad_type = message("echo");
    let at = bad_type.len() - 10;
    bad_type[at] = 7;
    assert_eq!(
        parse_unframed(&bad_type, &limits).unwrap_err(),
        ProtocolError::InvalidType { id: 7 }
    );
    // A string of 100 MiB with nothing behind it.
    let mut huge = message("echo");
    huge.truncate(huge.len() - 10);
    huge.extend_from_slice(&[11, 0, 1]);
    huge.extend_from_slice(&(100i32 << 20).to_be_bytes());
    assert!(matches!(
        parse_unframed(&huge, &limits),
        Err(ProtocolError::SizeLimit { .. })
    ));
    // Negative sizes.
    let mut negative = message("echo");
    negative.truncate(negative.len() - 10);
    negative.extend_from_slice(&[15, 0, 1, 8, 0xff, 0xff, 0xff, 0xff]);
    assert!(matches!(
        parse_unframed(&negative, &limits),
        Err(ProtocolError::NegativeSize { size: -1 })
    ));
    // Nesting 10,000 deep.
    let mut deep = message("echo");
    deep.truncate(deep.len() - 10);
    for _ in 0..10_000 {
        deep.extend_from_slice(&[12, 0, 1]);
    }
    assert_eq!(
        parse_unframed(&deep, &limits).unwrap_err(),
        ProtocolError::DepthLimit { limit: 64 }
    );
}

#[test]
fn unframed_incomplete_grows_toward_the_message() {
    // Feeding exactly the bytes asked for always makes progress and ends complete.
    let body = message("echo");
    let limits = Limits::default();
    let mut have = 0;
    let mut rounds = 0;
    loop {
        rounds += 1;
        assert!(rounds <= body.len(), "no progress");
        match parse_unframed(&body[..have], &limits).unwrap() {
            FrameStatus::Incomplete { needed } => {
                assert!(needed > 0);
                have = (have + needed).min(body.len());
            }
            FrameStatus::Complete { consumed, .. } => {
                assert_eq!(consumed, body.len());
                break;
            }
        }
    }
}

/// A call whose argument struct holds `fields` byte fields (4 bytes each on the wire).
fn many_fields(fields: usize) -> Vec<u8> {
    use crate::protocol::{TType, Writer};
    let mut out = Vec::new();
    let header = MessageHeader {
        name: "echo",
        kind: MessageType::Call,
        seqid: 7,
    };
    Writer::binary(&mut out).write_message_begin(&header);
    for i in 0..fields {
        Writer::binary(&mut out).write_field_begin(TType::Byte, 100 + (i % 1000) as i16);
        out.push(i as u8);
    }
    Writer::binary(&mut out).write_field_stop();
    out
}

#[test]
fn unframed_scan_resumes_and_walks_each_byte_about_once() {
    let message = many_fields(200_000);
    let mut scanner = UnframedScanner::new();
    let limits = Limits::default();
    let mut end = 0;
    let status = loop {
        end = (end + 4096).min(message.len());
        match scanner.scan(&message[..end], &limits).unwrap() {
            FrameStatus::Incomplete { .. } => assert!(end < message.len()),
            complete => break complete,
        }
    };
    assert_eq!(
        status,
        FrameStatus::Complete {
            message: 0..message.len(),
            consumed: message.len()
        }
    );
    // Each read re-examines at most the one value it cut in two.
    let reads = message.len().div_ceil(4096) as u64;
    assert!(
        scanner.walked() <= message.len() as u64 + 4 * reads,
        "walked {} of {} bytes",
        scanner.walked(),
        message.len()
    );
}

#[test]
fn unframed_scan_in_one_byte_pieces_agrees_with_a_whole_parse() {
    let mut message = message("pieces");
    message.extend([0x80]); // the next message's first byte
    let whole = parse_unframed(&message, &Limits::default()).unwrap();
    let mut scanner = UnframedScanner::new();
    for end in 1..message.len() {
        match scanner.scan(&message[..end], &Limits::default()).unwrap() {
            FrameStatus::Incomplete { needed } => assert!(needed >= 1),
            complete => {
                assert_eq!(complete, whole);
                return;
            }
        }
    }
    panic!("never complete");
}

#[test]
fn unframed_max_frame_holds_exactly_in_one_read_or_many() {
    let message = many_fields(1000);
    let exact = Limits::default().max_frame(message.len());
    assert!(matches!(
        parse_unframed(&message, &exact),
        Ok(FrameStatus::Complete { .. })
    ));
    let short = Limits::default().max_frame(message.len() - 1);
    assert!(matches!(
        parse_unframed(&message, &short),
        Err(ProtocolError::SizeLimit { .. })
    ));
    let mut scanner = UnframedScanner::new();
    let failed = (1..=message.len()).find_map(|end| scanner.scan(&message[..end], &short).err());
    assert!(matches!(failed, Some(ProtocolError::SizeLimit { .. })));
}

#[test]
fn unframed_scan_keeps_the_depth_limit() {
    use crate::protocol::{TType, Writer};
    let mut message = Vec::new();
    let header = MessageHeader {
        name: "deep",
        kind: MessageType::Call,
        seqid: 1,
    };
    Writer::binary(&mut message).write_message_begin(&header);
    for _ in 0..70 {
        Writer::binary(&mut message).write_field_begin(TType::Struct, 1);
    }
    let limits = Limits::default().max_depth(64);
    assert!(matches!(
        parse_unframed(&message, &limits),
        Err(ProtocolError::DepthLimit { limit: 64 })
    ));
}

#[test]
fn scanner_and_whole_parse_agree_on_hostile_prefixes() {
    let mut inputs = vec![message("x"), many_fields(50)];
    inputs.push(vec![
        0x80, 1, 0, 1, 0, 0, 0, 1, b'a', 0, 0, 0, 1, 15, 12, 0x7f, 0xff, 0xff, 0xff,
    ]);
    inputs.push(vec![
        0x80, 1, 0, 1, 0, 0, 0, 1, b'a', 0, 0, 0, 1, 13, 8, 8, 0, 0, 0, 2, 0, 0,
    ]);
    inputs.push(vec![0x80, 1, 0, 1, 0, 0, 0, 1, b'a', 0, 0, 0, 1, 9, 0, 1]);
    let limits = Limits::default();
    for input in &inputs {
        for end in 0..=input.len() {
            let whole = parse_unframed(&input[..end], &limits);
            let mut scanner = UnframedScanner::new();
            let resumed = scanner.scan(&input[..end], &limits);
            assert_eq!(
                whole.is_ok(),
                resumed.is_ok(),
                "{:?}: {whole:?} vs {resumed:?}",
                &input[..end]
            );
            if let (Ok(FrameStatus::Complete { .. }), Ok(status)) = (&whole, &resumed) {
                assert_eq!(whole.as_ref().unwrap(), status);
            }
        }
    }
}

#[test]
fn compact_scanner_in_one_byte_pieces_agrees_with_a_whole_parse() {
    use crate::protocol::{Protocol, TType, Writer};
    // Folded bools, a nested struct, a list of bools and a map: what compact writes
    // differently from binary.
    let mut message = Vec::new();
    let mut w = Writer::new(&mut message, Protocol::Compact);
    let header = MessageHeader {
        name: "x",
        kind: MessageType::Call,
        seqid: 7,
    };
    w.write_message_begin(&header);
    w.write_struct_begin();
    w.write_field_begin(TType::Bool, 1);
    w.write_bool(true);
    w.write_field_begin(TType::Struct, 20);
    w.write_struct_begin();
    w.write_field_begin(TType::Bool, 3);
    w.write_bool(false);
    w.write_field_begin(TType::I64, 400);
    w.write_i64(-1 << 40);
    w.write_field_stop();
    w.write_struct_end();
    w.write_field_begin(TType::List, 21);
    w.write_list_begin(TType::Bool, 3);
    for v in [true, false, true] {
        w.write_bool(v);
    }
    w.write_field_begin(TType::Map, 22);
    w.write_map_begin(TType::String, TType::I32, 2);
    for (k, v) in [("a", 1), ("b", -2)] {
        w.write_string(k);
        w.write_i32(v);
    }
    w.write_field_stop();
    w.write_struct_end();
    let limits = Limits::default();
    let whole = super::parse_unframed_in(&message, Protocol::Compact, &limits).unwrap();
    assert_eq!(
        whole,
        FrameStatus::Complete {
            message: 0..message.len(),
            consumed: message.len()
        }
    );
    let mut scanner = UnframedScanner::with_protocol(Protocol::Compact);
    for end in 1..message.len() {
        assert!(
            matches!(
                scanner.scan(&message[..end], &limits),
                Ok(FrameStatus::Incomplete { .. })
            ),
            "{end}"
        );
    }
    assert_eq!(scanner.scan(&message, &limits).unwrap(), whole);
}
