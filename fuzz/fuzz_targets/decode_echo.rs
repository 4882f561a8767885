//! The generated decoders of idl/echo.thrift (src/services/echo.rs) on a request or reply, as a
//! server or client meets them: header, then the args or result struct the name selects. Whatever
//! decodes re-encodes to a value that decodes the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tether::protocol::{encode_to_vec, Decode, Encode, MessageType, Reader, TType};
use tether::services::echo::{
    EchoEchoArgs, EchoEchoResult, EchoFailArgs, EchoFailResult, EchoFireArgs, EchoPingArgs,
    EchoPingResult, EchoSleepArgs, EchoSleepResult,
};

fn check<T: Decode + Encode + PartialEq + std::fmt::Debug>(body: &[u8]) {
    let mut skipper = Reader::new(body);
    let skipped = skipper.skip(TType::Struct).map(|()| skipper.position());
    let mut r = Reader::new(body);
    let Ok(value) = T::decode(&mut r) else {
        return;
    };
    assert_eq!(skipped, Ok(r.position()));
    let again = encode_to_vec(&value);
    assert_eq!(T::decode(&mut Reader::new(&again)).unwrap(), value);
}

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    let Ok(header) = r.read_message_begin() else {
        return;
    };
    let body = &data[r.position()..];
    let reply = header.kind == MessageType::Reply;
    match (header.name, reply) {
        ("echo", false) => check::<EchoEchoArgs>(body),
        ("echo", true) => check::<EchoEchoResult>(body),
        ("ping", false) => check::<EchoPingArgs>(body),
        ("ping", true) => check::<EchoPingResult>(body),
        ("sleep", false) => check::<EchoSleepArgs>(body),
        ("sleep", true) => check::<EchoSleepResult>(body),
        ("fire", _) => check::<EchoFireArgs>(body),
        ("fail", false) => check::<EchoFailArgs>(body),
        ("fail", true) => check::<EchoFailResult>(body),
        _ => {
            let _ = r.skip(TType::Struct);
        }
    }
});
