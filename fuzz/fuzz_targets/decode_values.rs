//! Generic decoders of nested containers and of TApplicationException, and skip over the same
//! bytes: every outcome is an error or a value, and a value re-encodes to the bytes it came from
//! (for types whose encoding is canonical).
#![no_main]

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use libfuzzer_sys::fuzz_target;
use tether::protocol::{encode_to_vec, ApplicationException, Decode, Reader, TType};

fn check<T: Decode>(data: &[u8], ttype: TType) -> Option<(T, usize)> {
    let mut skipper = Reader::new(data);
    let skipped = skipper.skip(ttype).map(|()| skipper.position());
    let mut r = Reader::new(data);
    let value = T::decode(&mut r).ok()?;
    // Whatever decodes, skip accepts too, and both consume the same bytes.
    assert_eq!(skipped, Ok(r.position()));
    Some((value, r.position()))
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, data)) = data.split_first() else {
        return;
    };
    match selector % 6 {
        0 => {
            if let Some((v, used)) = check::<BTreeMap<String, Vec<BTreeSet<i64>>>>(data, TType::Map)
            {
                // Sorted keys and sets: the encoding is canonical when the input was sorted.
                let again = encode_to_vec(&v);
                assert_eq!(
                    check::<BTreeMap<String, Vec<BTreeSet<i64>>>>(&again, TType::Map).map(|x| x.0),
                    Some(v)
                );
                let _ = used;
            }
        }
        1 => {
            if let Some((v, used)) = check::<Vec<Vec<u8>>>(data, TType::List) {
                // A non-empty list of binaries has exactly one encoding (an empty one may carry
                // any element type).
                if !v.is_empty() {
                    assert_eq!(encode_to_vec(&v), &data[..used]);
                }
            }
        }
        2 => {
            let _ = check::<HashMap<i32, HashSet<String>>>(data, TType::Map);
        }
        3 => {
            let _ = check::<Vec<Vec<Vec<bool>>>>(data, TType::List);
        }
        4 => {
            if let Some((v, _)) = check::<ApplicationException>(data, TType::Struct) {
                let again = encode_to_vec(&v);
                assert_eq!(
                    check::<ApplicationException>(&again, TType::Struct).map(|x| x.0),
                    Some(v)
                );
            }
        }
        _ => {
            let _ = check::<BTreeMap<i16, Vec<f64>>>(data, TType::Map);
        }
    }
});
