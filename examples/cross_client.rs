//! Apache Thrift's cross-test client: calls every ThriftTest method (idl/ThriftTest.thrift) on a
//! server of any language and checks each reply against what Apache's test/ThriftTest.thrift
//! specifies. Takes Apache's flags; exits 0 when every check passed, otherwise with Apache's
//! failure bits (1 base types, 2 structs, 4 containers, 8 exceptions, 64 other), and 2 for a
//! flag or protocol tether does not support, saying why.
//!
//! ```text
//! cargo run --example cross_client -- --host localhost --port 9090 --protocol binary --transport framed
//! ```

#[allow(dead_code)]
#[path = "cross/thrift_test.rs"]
mod thrift_test;

#[allow(dead_code)]
#[path = "cross/flags.rs"]
mod flags;
#[path = "cross/semantics.rs"]
mod semantics;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use tether::client::{Channel, Connection, ConnectionConfig};

use flags::Side;
use thrift_test::*;

const BASE_TYPES: u8 = 1;
const STRUCTS: u8 = 2;
const CONTAINERS: u8 = 4;
const EXCEPTIONS: u8 = 8;
const UNKNOWN: u8 = 64;

/// How long `testOneway(1)` may take on the client: it must not wait for the server's 1 s sleep
/// (Apache's clients allow up to 3 s for a slow machine).
const ONEWAY_LIMIT: Duration = Duration::from_secs(3);

/// The failures so far, as Apache's exit-code bits, and one line each on stderr.
#[derive(Default)]
struct Checks {
    failed: u8,
    count: u32,
}

impl Checks {
    fn expect<T: PartialEq + Debug, E: Debug>(
        &mut self,
        bit: u8,
        call: &str,
        got: Result<T, E>,
        want: T,
    ) {
        self.count += 1;
        match got {
            Ok(value) if value == want => {}
            Ok(value) => self.fail(bit, call, &format!("returned {value:?}, expected {want:?}")),
            Err(e) => self.fail(bit, call, &format!("failed: {e:?}")),
        }
    }

    fn check(&mut self, bit: u8, call: &str, ok: bool, detail: impl FnOnce() -> String) {
        self.count += 1;
        if !ok {
            self.fail(bit, call, &detail());
        }
    }

    fn fail(&mut self, bit: u8, call: &str, detail: &str) {
        eprintln!("cross_client: FAIL {call}: {detail}");
        self.failed |= bit;
    }
}

fn main() -> ExitCode {
    let flags = match flags::from_args(Side::Client) {
        Ok(flags) => flags,
        Err(refused) => return refused,
    };
    let config = ConnectionConfig::default().codec(flags::codec(&flags));
    let addr = format!("{}:{}", flags.host, flags.port);
    let connection = match Connection::connect(&addr, config) {
        Ok(connection) => connection,
        Err(e) => {
            eprintln!("cross_client: cannot connect to {addr}: {e}");
            return ExitCode::from(UNKNOWN);
        }
    };
    let mut checks = Checks::default();
    for _ in 0..flags.test_loops {
        if flags.protocol.multiplexed() {
            // Both services over one connection, each call named "Service:method".
            run_all(&ThriftTestClient::multiplexed(&connection), &mut checks);
            let second = SecondServiceClient::multiplexed(&connection);
            checks.expect(
                UNKNOWN,
                "SecondService.secondtestString",
                second.secondtest_string("foo".to_string()),
                semantics::second_test_string("foo"),
            );
            let after = ThriftTestClient::multiplexed(&connection).test_string("bar".to_string());
            checks.expect(
                UNKNOWN,
                "ThriftTest after SecondService",
                after,
                "bar".to_string(),
            );
        } else {
            run_all(&ThriftTestClient::new(&connection), &mut checks);
        }
    }
    if checks.failed == 0 {
        println!(
            "cross_client: {} checks passed ({} {})",
            checks.count, flags.protocol, flags.transport
        );
    }
    ExitCode::from(checks.failed)
}

fn run_all<C: Channel>(client: &ThriftTestClient<C>, checks: &mut Checks) {
    base_types(client, checks);
    structs(client, checks);
    containers(client, checks);
    exceptions(client, checks);
    oneway_and_multi(client, checks);
}

fn base_types<C: Channel>(client: &ThriftTestClient<C>, checks: &mut Checks) {
    checks.expect(BASE_TYPES, "testVoid()", client.test_void(), ());
    for thing in ["Test", "", "Γειά σου, κόσμε — 世界 🌍"] {
        checks.expect(
            BASE_TYPES,
            &format!("testString({thing:?})"),
            client.test_string(thing.to_string()),
            thing.to_string(),
        );
    }
    for thing in [true, false] {
        checks.expect(
            BASE_TYPES,
            &format!("testBool({thing})"),
            client.test_bool(thing),
            thing,
        );
    }
    for thing in [1, -1, i8::MIN, i8::MAX] {
        checks.expect(
            BASE_TYPES,
            &format!("testByte({thing})"),
            client.test_byte(thing),
            thing,
        );
    }
    for thing in [-1, 0, i32::MIN, i32::MAX] {
        checks.expect(
            BASE_TYPES,
            &format!("testI32({thing})"),
            client.test_i32(thing),
            thing,
        );
    }
    for thing in [-34_359_738_368, 0, i64::MIN, i64::MAX] {
        checks.expect(
            BASE_TYPES,
            &format!("testI64({thing})"),
            client.test_i64(thing),
            thing,
        );
    }
    for thing in [
        -5.2098523,
        -0.000_341_012_439_638_598_3,
        f64::MAX,
        f64::MIN_POSITIVE,
    ] {
        checks.expect(
            BASE_TYPES,
            &format!("testDouble({thing})"),
            client.test_double(thing),
            thing,
        );
    }
    let binary: Vec<u8> = (0..=255).collect();
    checks.expect(
        BASE_TYPES,
        "testBinary(0..=255)",
        client.test_binary(binary.clone()),
        binary,
    );
    checks.expect(
        BASE_TYPES,
        "testBinary(empty)",
        client.test_binary(Vec::new()),
        Vec::new(),
    );
}

fn xtruct() -> Xtruct {
    Xtruct {
        string_thing: "Zero".to_string(),
        byte_thing: 1,
        i32_thing: -3,
        i64_thing: -5,
    }
}

fn structs<C: Channel>(client: &ThriftTestClient<C>, checks: &mut Checks) {
    checks.expect(
        STRUCTS,
        "testStruct",
        client.test_struct(xtruct()),
        xtruct(),
    );
    let nest = Xtruct2 {
        byte_thing: 1,
        struct_thing: xtruct(),
        i32_thing: 5,
    };
    checks.expect(STRUCTS, "testNest", client.test_nest(nest.clone()), nest);
    let argument = Insanity {
        user_map: BTreeMap::from([(Numberz::FIVE, 5), (Numberz::EIGHT, 8)]),
        xtructs: vec![
            Xtruct {
                string_thing: "Goodbye4".to_string(),
                byte_thing: 4,
                i32_thing: 4,
                i64_thing: 4,
            },
            Xtruct {
                string_thing: "Hello2".to_string(),
                byte_thing: 2,
                i32_thing: 2,
                i64_thing: 2,
            },
        ],
    };
    checks.expect(
        STRUCTS,
        "testInsanity",
        client.test_insanity(argument.clone()),
        semantics::insanity(&argument),
    );
}

fn containers<C: Channel>(client: &ThriftTestClient<C>, checks: &mut Checks) {
    let map: BTreeMap<i32, i32> = (0..5).map(|n| (n, n - 10)).collect();
    checks.expect(CONTAINERS, "testMap", client.test_map(map.clone()), map);
    let string_map = BTreeMap::from([
        ("a".to_string(), "2".to_string()),
        ("a b".to_string(), "blah".to_string()),
        ("some".to_string(), "thing".to_string()),
        ("".to_string(), "empty key".to_string()),
    ]);
    checks.expect(
        CONTAINERS,
        "testStringMap",
        client.test_string_map(string_map.clone()),
        string_map,
    );
    let set: BTreeSet<i32> = (-2..3).collect();
    checks.expect(CONTAINERS, "testSet", client.test_set(set.clone()), set);
    let list: Vec<i32> = (-2..3).rev().collect();
    checks.expect(CONTAINERS, "testList", client.test_list(list.clone()), list);
    checks.expect(
        CONTAINERS,
        "testList(empty)",
        client.test_list(Vec::new()),
        Vec::new(),
    );
    for thing in [Numberz::ONE, Numberz::TWO, Numberz::EIGHT] {
        checks.expect(
            CONTAINERS,
            &format!("testEnum({thing:?})"),
            client.test_enum(thing),
            thing,
        );
    }
    checks.expect(
        CONTAINERS,
        "testTypedef",
        client.test_typedef(309_858_235_082_523),
        309_858_235_082_523,
    );
    checks.expect(
        CONTAINERS,
        "testMapMap(1)",
        client.test_map_map(1),
        semantics::map_map(),
    );
}

fn exceptions<C: Channel>(client: &ThriftTestClient<C>, checks: &mut Checks) {
    let got = client.test_exception(semantics::THROW_XCEPTION.to_string());
    checks.check(
        EXCEPTIONS,
        "testException(\"Xception\")",
        matches!(&got, Err(ThriftTestTestExceptionError::Err1(e)) if *e == semantics::xception(semantics::THROW_XCEPTION)),
        || format!("{got:?}"),
    );
    let got = client.test_exception(semantics::THROW_TEXCEPTION.to_string());
    checks.check(
        EXCEPTIONS,
        "testException(\"TException\")",
        matches!(&got, Err(ThriftTestTestExceptionError::Application(_))),
        || format!("{got:?}, expected a TApplicationException"),
    );
    let got = client.test_exception("success".to_string());
    checks.check(
        EXCEPTIONS,
        "testException(\"success\")",
        got.is_ok(),
        || format!("{got:?}"),
    );

    let got =
        client.test_multi_exception(semantics::THROW_XCEPTION.to_string(), "ignored".to_string());
    checks.check(
        EXCEPTIONS,
        "testMultiException(\"Xception\")",
        matches!(&got, Err(ThriftTestTestMultiExceptionError::Err1(e)) if *e == semantics::multi_xception()),
        || format!("{got:?}"),
    );
    let got = client.test_multi_exception(
        semantics::THROW_XCEPTION2.to_string(),
        "ignored".to_string(),
    );
    checks.check(
        EXCEPTIONS,
        "testMultiException(\"Xception2\")",
        matches!(&got, Err(ThriftTestTestMultiExceptionError::Err2(e)) if *e == semantics::multi_xception2()),
        || format!("{got:?}"),
    );
    let got = client.test_multi_exception("success".to_string(), "foobar".to_string());
    checks.check(
        EXCEPTIONS,
        "testMultiException(\"success\")",
        matches!(&got, Ok(x) if x.string_thing == "foobar"),
        || format!("{got:?}"),
    );
}

fn oneway_and_multi<C: Channel>(client: &ThriftTestClient<C>, checks: &mut Checks) {
    let started = Instant::now();
    let sent = client.test_oneway(1);
    let took = started.elapsed();
    checks.check(
        UNKNOWN,
        "testOneway(1)",
        sent.is_ok() && took < ONEWAY_LIMIT,
        || format!("{sent:?} after {took:?} (limit {ONEWAY_LIMIT:?})"),
    );
    // The connection carries on after a oneway call (the reply to this waits for the sleep).
    checks.expect(UNKNOWN, "testI32 after testOneway", client.test_i32(42), 42);
    checks.expect(
        STRUCTS,
        "testMulti",
        client.test_multi(
            9,
            11,
            13,
            BTreeMap::from([(1, "one".to_string())]),
            Numberz::FIVE,
            7,
        ),
        semantics::multi(9, 11, 13),
    );
}
