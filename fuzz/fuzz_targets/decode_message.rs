//! A server's first look at a request: the message header, then skipping the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tether::protocol::{ApplicationException, Decode, Limits, MessageType, Reader, TType};

fuzz_target!(|data: &[u8]| {
    // Small limits too, so the limit paths get exercised by short inputs.
    for limits in [
        Limits::default(),
        Limits::default()
            .max_depth(4)
            .max_string(Some(8))
            .max_container(Some(4)),
    ] {
        let mut r = Reader::with_limits(data, limits);
        let Ok(header) = r.read_message_begin() else {
            continue;
        };
        let body = r.clone();
        let skipped = r.skip(TType::Struct);
        if let Ok(()) = skipped {
            assert!(r.position() <= data.len());
        }
        if header.kind == MessageType::Exception {
            let mut r = body;
            let _ = ApplicationException::decode(&mut r);
        }
    }
});
