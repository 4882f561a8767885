//! What ThriftTest's methods return beyond echoing their argument, as Apache's test/ThriftTest.thrift
//! specifies: the server builds its replies from these and the client checks against them.

use std::collections::BTreeMap;

use super::thrift_test::{Insanity, Numberz, UserId, Xception, Xception2, Xtruct};

/// `testException`'s argument that throws Xception (errorCode 1001, message = the argument),
/// and the one that throws a plain TException (a TApplicationException on the wire).
pub const THROW_XCEPTION: &str = "Xception";
pub const THROW_TEXCEPTION: &str = "TException";
/// `testMultiException`'s first argument that throws Xception2 (errorCode 2002).
pub const THROW_XCEPTION2: &str = "Xception2";

/// `testMapMap(hello)`, whatever `hello` is: {-4 => {-4 => -4, ..., -1 => -1}, 4 => {1 => 1, ...,
/// 4 => 4}}.
pub fn map_map() -> BTreeMap<i32, BTreeMap<i32, i32>> {
    BTreeMap::from([
        (-4, (-4..=-1).map(|n| (n, n)).collect()),
        (4, (1..=4).map(|n| (n, n)).collect()),
    ])
}

/// `testInsanity(argument)`: {1 => {TWO => argument, THREE => argument}, 2 => {SIX => an empty
/// Insanity}}.
pub fn insanity(argument: &Insanity) -> BTreeMap<UserId, BTreeMap<Numberz, Insanity>> {
    BTreeMap::from([
        (
            1,
            BTreeMap::from([
                (Numberz::TWO, argument.clone()),
                (Numberz::THREE, argument.clone()),
            ]),
        ),
        (2, BTreeMap::from([(Numberz::SIX, Insanity::default())])),
    ])
}

/// `testMulti(arg0, arg1, arg2, ..)`: an Xtruct of "Hello2" and the first three arguments.
pub fn multi(arg0: i8, arg1: i32, arg2: i64) -> Xtruct {
    Xtruct {
        string_thing: "Hello2".to_string(),
        byte_thing: arg0,
        i32_thing: arg1,
        i64_thing: arg2,
    }
}

/// What `testException(THROW_XCEPTION)` throws.
pub fn xception(arg: &str) -> Xception {
    Xception {
        error_code: 1001,
        message: arg.to_string(),
    }
}

/// What `testMultiException(THROW_XCEPTION, _)` throws.
pub fn multi_xception() -> Xception {
    xception("This is an Xception")
}

/// What `testMultiException(THROW_XCEPTION2, _)` throws.
pub fn multi_xception2() -> Xception2 {
    Xception2 {
        error_code: 2002,
        struct_thing: Xtruct {
            string_thing: "This is an Xception2".to_string(),
            ..Xtruct::default()
        },
    }
}

/// `SecondService.secondtestString(thing)`, as Apache's servers answer it.
pub fn second_test_string(thing: &str) -> String {
    format!("testString(\"{thing}\")")
}
