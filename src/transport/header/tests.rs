use std::io::Write;

use proptest::prelude::*;

use super::*;

fn meta<'h>(info: &'h [(&'h [u8], &'h [u8])], zlib: bool) -> HeaderMeta<'h> {
    HeaderMeta {
        flags: 0,
        seqid: 1,
        protocol: Protocol::Binary,
        zlib,
        info,
    }
}

fn encoded(meta: &HeaderMeta<'_>, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_header_frame(&mut out, meta, payload).unwrap();
    out
}

fn complete(buf: &[u8], max_frame: usize) -> (HeaderFrame<'_>, usize) {
    match parse_header_frame(buf, max_frame) {
        Ok(HeaderStatus::Complete { frame, consumed }) => (frame, consumed),
        other => panic!("not a complete frame: {other:?}"),
    }
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A frame around raw header-section bytes and payload, for inputs the encoder never writes.
fn raw_frame(headers: &[u8], payload: &[u8]) -> Vec<u8> {
    assert_eq!(headers.len() % 4, 0);
    let mut body = vec![0x0f, 0xff, 0, 0, 0, 0, 0, 9];
    body.extend_from_slice(&((headers.len() / 4) as u16).to_be_bytes());
    body.extend_from_slice(headers);
    body.extend_from_slice(payload);
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&body);
    out
}

#[test]
fn a_frame_has_the_spec_layout() {
    let info: &[(&[u8], &[u8])] = &[(b":drain", b"1")];
    let bytes = encoded(&meta(info, false), b"msg");
    let mut expected = vec![0, 0, 0, 29, 0x0f, 0xff, 0, 0, 0, 0, 0, 1, 0, 4];
    expected.extend_from_slice(&[0, 0, 1, 1, 6]);
    expected.extend_from_slice(b":drain");
    expected.extend_from_slice(&[1, b'1', 0, 0, 0]);
    expected.extend_from_slice(b"msg");
    assert_eq!(bytes, expected);
    assert_eq!(is_header_frame(&bytes), Some(true));
    let (frame, consumed) = complete(&bytes, 1 << 20);
    assert_eq!(consumed, bytes.len());
    assert_eq!(frame.seqid, 1);
    assert_eq!(frame.protocol, Protocol::Binary);
    assert!(!frame.zlib);
    assert_eq!(frame.payload(), b"msg");
    assert_eq!(frame.info_header(b":drain"), Some(&b"1"[..]));
    assert_eq!(frame.info_header(b"other"), None);
    assert!(matches!(frame.into_payload(), Cow::Borrowed(_)));
}

#[test]
fn is_header_frame_needs_six_bytes_and_the_magic() {
    assert_eq!(is_header_frame(&[0, 0, 0, 9, 0x0f]), None);
    assert_eq!(is_header_frame(&[0, 0, 0, 9, 0x0f, 0xff]), Some(true));
    assert_eq!(is_header_frame(&[0, 0, 0, 9, 0x80, 0x01]), Some(false));
}

#[test]
fn zlib_payloads_round_trip_and_a_second_frame_stays_apart() {
    let payload: Vec<u8> = (0..10_000u32).map(|i| (i % 7) as u8).collect();
    let info: &[(&[u8], &[u8])] = &[(b"a", b""), (b"", b"b"), (b"a", b"2")];
    let m = HeaderMeta {
        protocol: Protocol::Compact,
        flags: 0xbeef,
        seqid: -5,
        ..meta(info, true)
    };
    let mut bytes = encoded(&m, &payload);
    let len = bytes.len();
    assert!(len < payload.len() / 4, "zlib did not compress: {len}");
    bytes.extend_from_slice(&encoded(&meta(&[], false), b"next"));
    let (frame, consumed) = complete(&bytes, 1 << 20);
    assert_eq!(consumed, len);
    assert_eq!(frame.payload(), &payload[..]);
    assert!(frame.zlib);
    assert_eq!(frame.flags, 0xbeef);
    assert_eq!(frame.seqid, -5);
    assert_eq!(frame.protocol, Protocol::Compact);
    let all: Vec<_> = frame.info_headers().collect();
    assert_eq!(all, info.to_vec());
    // The later of two equal keys wins.
    assert_eq!(frame.info_header(b"a"), Some(&b"2"[..]));
}

#[test]
fn every_cut_is_incomplete() {
    let info: &[(&[u8], &[u8])] = &[(b"k", b"v")];
    for zlib in [false, true] {
        let bytes = encoded(&meta(info, zlib), b"payload bytes");
        for cut in 0..bytes.len() {
            assert!(
                matches!(
                    parse_header_frame(&bytes[..cut], 1 << 20),
                    Ok(HeaderStatus::Incomplete { needed }) if needed > 0
                ),
                "cut at {cut}"
            );
        }
    }
}

#[test]
fn unknown_transforms_and_protocols_are_their_own_errors() {
    // Protocol 0, one transform: 3 (snappy), not implemented here.
    let err = parse_header_frame(&raw_frame(&[0, 1, 3, 0], b"x"), 1 << 20).unwrap_err();
    assert!(
        matches!(err, HeaderError::UnknownTransform { id: 3 }),
        "{err:?}"
    );
    assert_eq!(
        err.exception_kind(),
        ApplicationExceptionKind::InvalidTransform
    );
    let err = parse_header_frame(&raw_frame(&[1, 0, 0, 0], b"x"), 1 << 20).unwrap_err();
    assert!(
        matches!(err, HeaderError::UnknownProtocol { id: 1 }),
        "{err:?}"
    );
    assert_eq!(
        err.exception_kind(),
        ApplicationExceptionKind::InvalidProtocol
    );
    let err = parse_header_frame(&raw_frame(&[0, 2, 1, 1], b"x"), 1 << 20).unwrap_err();
    assert!(matches!(err, HeaderError::Protocol(_)), "{err:?}");
}

#[test]
fn unknown_info_ids_end_the_info_section() {
    // A key/value block, then info id 7 with data this side cannot read.
    let headers = [0, 0, 1, 1, 1, b'k', 1, b'v', 7, 0xff, 0xff, 0xff];
    let bytes = raw_frame(&headers, b"body");
    let (frame, _) = complete(&bytes, 1 << 20);
    assert_eq!(frame.payload(), b"body");
    assert_eq!(
        frame.info_headers().collect::<Vec<_>>(),
        vec![(&b"k"[..], &b"v"[..])]
    );
}

#[test]
fn malformed_frames_are_errors() {
    let limit = 1 << 20;
    // Header size says 8 bytes, the frame holds 4.
    let mut bytes = raw_frame(&[0, 0, 0, 0], b"");
    bytes[13] = 2;
    assert!(parse_header_frame(&bytes, limit).is_err());
    // No magic.
    let mut bytes = raw_frame(&[0, 0, 0, 0], b"x");
    bytes[4] = 0x80;
    assert!(parse_header_frame(&bytes, limit).is_err());
    // Shorter than the fixed ten bytes.
    assert!(parse_header_frame(&[0, 0, 0, 4, 0x0f, 0xff, 0, 0], limit).is_err());
    // A key longer than the header section.
    let bytes = raw_frame(&[0, 0, 1, 1, 9, b'k', 0, 0], b"");
    assert!(parse_header_frame(&bytes, limit).is_err());
    // An info count no section could hold: each entry needs two bytes.
    let bytes = raw_frame(&[0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0x0f], b"");
    assert!(parse_header_frame(&bytes, limit).is_err());
    // A varint that never ends.
    let bytes = raw_frame(&[0x80; 12], b"");
    assert!(parse_header_frame(&bytes, limit).is_err());
    // Oversized: refused on the length alone, before the body arrives.
    let err = parse_header_frame(&[0x01, 0, 0, 0], limit).unwrap_err();
    assert!(matches!(
        err,
        HeaderError::Protocol(ProtocolError::SizeLimit { .. })
    ));
}

#[test]
fn inflating_past_the_frame_limit_is_an_error() {
    let max = 64 * 1024;
    let bomb = zlib(&vec![0; 16 << 20]);
    assert!(bomb.len() < 32 * 1024, "{}", bomb.len());
    let err = parse_header_frame(&raw_frame(&[0, 1, 1, 0], &bomb), max).unwrap_err();
    assert!(
        matches!(err, HeaderError::Protocol(ProtocolError::SizeLimit { limit, .. }) if limit == max as u64),
        "{err:?}"
    );
    // Exactly the limit inflates; one byte more does not.
    let exact = raw_frame(&[0, 1, 1, 0], &zlib(&vec![1; max]));
    assert_eq!(complete(&exact, max).0.payload().len(), max);
    let over = raw_frame(&[0, 1, 1, 0], &zlib(&vec![1; max + 1]));
    assert!(parse_header_frame(&over, max).is_err());
}

#[test]
fn corrupt_zlib_is_an_error() {
    let good = zlib(b"hello hello hello");
    let limit = 1 << 20;
    let truncated = raw_frame(&[0, 1, 1, 0], &good[..good.len() - 3]);
    assert!(parse_header_frame(&truncated, limit).is_err());
    let mut trailing = good.clone();
    trailing.push(0);
    assert!(parse_header_frame(&raw_frame(&[0, 1, 1, 0], &trailing), limit).is_err());
    let err = parse_header_frame(&raw_frame(&[0, 1, 1, 0], b"not zlib"), limit).unwrap_err();
    assert!(matches!(err, HeaderError::Inflate(_)), "{err:?}");
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn oversized_info_headers_are_refused_on_encode() {
    let big = vec![b'v'; 300_000];
    let info: &[(&[u8], &[u8])] = &[(b"k", &big)];
    let mut out = Vec::new();
    let err = encode_header_frame(&mut out, &meta(info, false), b"").unwrap_err();
    assert!(
        matches!(err, HeaderError::HeadersTooLarge { .. }),
        "{err:?}"
    );
}

proptest! {
    #[test]
    fn frames_round_trip(
        info in proptest::collection::vec(
            (proptest::collection::vec(any::<u8>(), 0..20), proptest::collection::vec(any::<u8>(), 0..200)),
            0..6,
        ),
        payload in proptest::collection::vec(any::<u8>(), 0..3000),
        zlib in any::<bool>(),
        compact in any::<bool>(),
        seqid in any::<i32>(),
        flags in any::<u16>(),
    ) {
        let pairs: Vec<(&[u8], &[u8])> =
            info.iter().map(|(k, v)| (k.as_slice(), v.as_slice())).collect();
        let protocol = if compact { Protocol::Compact } else { Protocol::Binary };
        let m = HeaderMeta { flags, seqid, protocol, zlib, info: &pairs };
        let bytes = encoded(&m, &payload);
        let (frame, consumed) = complete(&bytes, 1 << 20);
        prop_assert_eq!(consumed, bytes.len());
        prop_assert_eq!(frame.payload(), &payload[..]);
        prop_assert_eq!(frame.info_headers().collect::<Vec<_>>(), pairs.clone());
        prop_assert_eq!((frame.seqid, frame.flags, frame.protocol, frame.zlib), (seqid, flags, protocol, zlib));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        let _ = parse_header_frame(&bytes, 1 << 16);
        let mut framed = (bytes.len() as u32 + 10).to_be_bytes().to_vec();
        framed.extend_from_slice(&[0x0f, 0xff, 0, 0, 0, 0, 0, 1]);
        framed.extend_from_slice(&((bytes.len() / 4) as u16).to_be_bytes());
        framed.extend_from_slice(&bytes);
        if let Ok(HeaderStatus::Complete { frame, .. }) = parse_header_frame(&framed, 1 << 16) {
            let _ = frame.info_headers().count();
        }
    }
}

#[test]
fn zlib_fits_a_server_workers_stack() {
    // 256 KiB: the server's default worker stack (server::Config::worker_stack_size).
    for compress in [true, false] {
        let ran = std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(move || {
                if compress {
                    drop(deflate(b"hello"));
                } else {
                    let _ = inflate(&[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01], 64);
                }
            })
            .unwrap()
            .join();
        assert!(ran.is_ok(), "compress: {compress}");
    }
}
