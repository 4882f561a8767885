//! The frame parser on a connection's raw bytes: framed, unframed, THeader inside a frame and
//! detection.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tether::protocol::{Limits, Reader, TType};
use tether::transport::{detect, parse_framed, parse_unframed, Codec, FrameStatus};

fn check(data: &[u8], status: FrameStatus) {
    match status {
        FrameStatus::Complete { message, consumed } => {
            assert!(message.start <= message.end && message.end <= data.len());
            assert!(consumed >= message.end && consumed <= data.len());
        }
        FrameStatus::Incomplete { needed } => assert!(needed > 0),
    }
}

fuzz_target!(|data: &[u8]| {
    let small = Limits::default().max_frame(256).max_depth(8);
    for limits in [Limits::default(), small] {
        if let Ok(status) = parse_framed(data, limits.max_frame) {
            if let FrameStatus::Incomplete { needed } = status {
                assert!(data.len() + needed <= limits.max_frame + 4);
            }
            check(data, status);
        }
        if let Ok(status) = parse_unframed(data, &limits) {
            if let FrameStatus::Complete { consumed, .. } = status {
                // What the scanner called one message reads back as a header and a body.
                let mut r = Reader::with_limits(&data[..consumed], limits);
                r.read_message_begin().unwrap();
                r.skip(TType::Struct).unwrap();
                assert_eq!(r.remaining(), 0);
            }
            check(data, status);
        }
        if let Ok(status) = Codec::FRAMED_HEADER.parse(data, &limits) {
            check(data, status);
        }
    }
    let _ = detect(data);
});
