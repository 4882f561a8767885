//! The THeader parser on arbitrary bytes: every outcome is an error, an incomplete frame or a
//! frame within the buffer and the limit, and a parsed frame encodes and parses back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tether::transport::{encode_header_frame, parse_header_frame, HeaderMeta, HeaderStatus};

fuzz_target!(|data: &[u8]| {
    for max_frame in [64 * 1024, 512] {
        let frame = match parse_header_frame(data, max_frame) {
            Ok(HeaderStatus::Complete { frame, consumed }) => {
                assert!(consumed <= data.len() && consumed <= max_frame + 4);
                frame
            }
            Ok(HeaderStatus::Incomplete { needed }) => {
                assert!(needed > 0 && data.len() + needed <= max_frame + 4);
                continue;
            }
            Err(_) => continue,
        };
        assert!(frame.payload().len() <= max_frame);
        let info: Vec<(&[u8], &[u8])> = frame.info_headers().collect();
        let meta = HeaderMeta {
            flags: frame.flags,
            seqid: frame.seqid,
            protocol: frame.protocol,
            zlib: frame.zlib,
            info: &info,
        };
        let mut out = Vec::new();
        if encode_header_frame(&mut out, &meta, frame.payload()).is_err() {
            continue;
        }
        let Ok(HeaderStatus::Complete { frame: back, consumed }) =
            parse_header_frame(&out, usize::MAX)
        else {
            panic!("a frame we encoded does not parse");
        };
        assert_eq!(consumed, out.len());
        assert_eq!(back.payload(), frame.payload());
        assert_eq!(back.info_headers().collect::<Vec<_>>(), info);
        assert_eq!(
            (back.flags, back.seqid, back.protocol, back.zlib),
            (frame.flags, frame.seqid, frame.protocol, frame.zlib)
        );
    }
});
