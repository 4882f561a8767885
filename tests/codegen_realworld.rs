//! Apache Thrift's own test IDLs (tests/codegen/realworld/, Apache-2.0, headers kept) compile
//! to code that is checked in beside them, kept fresh here, compiled into this test and
//! exercised a little. `TETHER_BLESS=1 cargo test --test codegen_realworld` regenerates; if the
//! checked-in code no longer compiles, `tether gen FILE --out tests/codegen/realworld` does
//! (then delete the mod.rs it writes).

#[allow(dead_code)]
#[path = "codegen/realworld/debug_proto_test.rs"]
mod debug_proto_test;
#[allow(dead_code)]
#[path = "codegen/realworld/name_conflict_test.rs"]
mod name_conflict_test;
// Apache's ThriftTest is also tether's conformance IDL: it lives in idl/ and its generated code
// beside the cross-test examples (kept fresh by tests/codegen_services.rs).
#[allow(dead_code)]
#[path = "../examples/cross/thrift_test.rs"]
mod thrift_test;

use std::path::Path;

use tether::protocol::{decode_from, encode_to_vec, Decode, Encode};

fn round_trip<T: Encode + Decode + PartialEq + std::fmt::Debug>(value: &T) {
    let bytes = encode_to_vec(value);
    assert_eq!(&decode_from::<T>(&bytes).unwrap(), value);
}

#[test]
fn checked_in_code_is_fresh() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/codegen/realworld");
    let bless = std::env::var_os("TETHER_BLESS").is_some();
    for idl in ["DebugProtoTest", "NameConflictTest"] {
        let generated = tether::codegen::Builder::new()
            .file(dir.join(format!("{idl}.thrift")))
            .generate()
            .unwrap_or_else(|e| panic!("{idl}: {e}"));
        for file in generated.files {
            let path = dir.join(&file.path);
            if bless {
                std::fs::write(&path, &file.source).unwrap();
            } else {
                assert!(
                    std::fs::read_to_string(&path).unwrap_or_default() == file.source,
                    "{} is stale; regenerate with TETHER_BLESS=1 cargo test --test codegen_realworld",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn thrift_test_types_round_trip() {
    use thrift_test::*;
    let xtruct = Xtruct {
        string_thing: "Zero".into(),
        byte_thing: 1,
        i32_thing: -3,
        i64_thing: -5,
    };
    round_trip(&Insanity {
        user_map: [(Numberz::FIVE, 5), (Numberz::EIGHT, 8)].into(),
        xtructs: vec![xtruct.clone()],
    });
    round_trip(&SomeUnion::XtructThing(Xtruct3::default()));
    round_trip(&Xtruct2 {
        byte_thing: 1,
        struct_thing: xtruct,
        i32_thing: 2,
    });
    assert_eq!(myNumberz, Numberz::ONE);
    assert_eq!(OptionalEnum::default().e, Some(Numberz::FIVE));
}

#[test]
fn debug_proto_test_constant_round_trips() {
    use debug_proto_test::*;
    let compact = &*COMPACT_TEST;
    assert_eq!(compact.a_i16, 32000);
    assert_eq!(compact.i64_list.last(), Some(&i64::MAX));
    assert_eq!(compact.double_set.len(), 3);
    round_trip(compact);
    round_trip(&OneOfEach::default());
    assert_eq!(OneOfEach::default().integer64, 10_000_000_000);
    assert_eq!(MY_ENUM_MAP[&SomeEnum::ONE], SomeEnum::TWO);
}
