//! The kitchen-sink IDL's generated code (checked in beside the IDL, kept fresh by
//! tests/codegen_golden.rs) compiles, and every type round-trips.

#[allow(dead_code)]
#[path = "codegen/kitchen_sink.rs"]
mod kitchen_sink;
#[allow(dead_code)]
#[path = "codegen/shared.rs"]
mod shared;

use std::collections::{BTreeMap, BTreeSet};

use kitchen_sink::*;
use shared::{Color, Point};
use tether::codegen::OrderedF64;
use tether::protocol::{decode_from, encode_to_vec, Decode, Encode, Writer};

fn round_trip<T: Encode + Decode + PartialEq + std::fmt::Debug>(value: &T) {
    let bytes = encode_to_vec(value);
    let back: T = decode_from(&bytes).unwrap_or_else(|e| panic!("{value:?}: {e}"));
    assert_eq!(&back, value);
    assert_eq!(encode_to_vec(&back), bytes);
}

#[test]
fn constants_have_their_values() {
    const { assert!(FLAG) };
    assert_eq!(SMALL, -8);
    assert_eq!(SHORT, 1000);
    assert_eq!(ANSWER, 42);
    assert_eq!(BIG, i64::MAX);
    assert_eq!(NEGATIVE, i64::MIN);
    assert_eq!(RATIO, 1.25);
    assert_eq!(TINY, 1e-10);
    assert_eq!(GREETING, "hello \"world\"");
    assert_eq!(SINGLE, "single quoted");
    assert_eq!(MAGIC, b"magic");
    assert_eq!(DEFAULT_STATUS, Status::ACTIVE);
    assert_eq!(FAVOURITE, Color::BLUE);
    assert_eq!(LIMIT_COPY, shared::SHARED_LIMIT);
    assert_eq!(*PRIMES, vec![2, 3, 5, 7]);
    assert_eq!(*TAGS, BTreeSet::from(["a".into(), "b".into(), "c".into()]));
    assert_eq!(
        *LIMITS,
        BTreeMap::from([("low".into(), 1), ("high".into(), 100)])
    );
    assert_eq!(*ORIGIN, Point { x: 0, y: 0 });
    assert_eq!(NAMES[&2], vec!["two".to_string(), "deux".into()]);
    assert_eq!(*STATUSES, vec![Status::ACTIVE, Status::DELETED]);
    assert_eq!(
        HALVES.iter().map(|h| h.0).collect::<Vec<_>>(),
        vec![-0.5, 0.5, 1.5]
    );
    assert_eq!(ROUNDED[&OrderedF64(0.75)], "three quarters");
}

#[test]
fn enums_keep_unknown_values() {
    assert_eq!(
        (
            Status::UNKNOWN.0,
            Status::ACTIVE.0,
            Status::INACTIVE.0,
            Status::DELETED.0
        ),
        (0, 1, 10, 11)
    );
    let unknown = Status(99);
    round_trip(&unknown);
    assert_eq!(unknown.name(), None);
    assert_eq!(format!("{unknown:?}"), "Status(99)");
    assert_eq!(format!("{:?}", Status::DELETED), "DELETED");
    assert_eq!(Status::all().len(), 4);
    assert_eq!(Status::default(), Status::UNKNOWN);
}

#[test]
fn defaults_apply_to_absent_fields() {
    let d = Defaults::default();
    assert_eq!(d.count, 7);
    assert_eq!(d.name, "unnamed");
    assert_eq!(d.status, Status::ACTIVE);
    assert_eq!(d.primes, vec![2, 3, 5, 7]);
    assert_eq!(d.nickname, None);
    assert_eq!(d.origin, Point { x: 1, y: -1 });
    assert_eq!(d.ratio, Some(0.5));
    assert_eq!(d.color, Color::GREEN);
    // Only the required field on the wire: everything else takes its default.
    let when_only = {
        let mut out = Vec::new();
        let mut w = Writer::binary(&mut out);
        w.write_field(6, &5i64);
        w.write_field_stop();
        out
    };
    let decoded: Defaults = decode_from(&when_only).unwrap();
    assert_eq!(
        decoded,
        Defaults {
            when: 5,
            ratio: None,
            ..Defaults::default()
        }
    );
}

#[test]
fn missing_required_field_is_an_error() {
    let err = decode_from::<Defaults>(&[0]).unwrap_err();
    assert_eq!(
        err,
        tether::protocol::ProtocolError::MissingField {
            strukt: "Defaults",
            field: "when"
        }
    );
    assert!(decode_from::<Point>(&[0]).is_err());
}

fn point(x: i32, y: i32) -> Point {
    Point { x, y }
}

/// One value of every type, with every container non-empty; shared with the Python
/// cross-check (scripts/interop/codegen_python.py builds the same value).
fn sample_everything() -> Everything {
    Everything {
        primitives: Primitives {
            flag: true,
            small: -5,
            short_value: -300,
            int_value: 70_000,
            long_value: -(1 << 40),
            ratio: 0.25,
            text: "héllo".into(),
            blob: vec![0, 1, 254, 255],
            r#type: "kind".into(),
            tiny: 7,
        },
        containers: Containers {
            ints: vec![1, -2, 3],
            nested: vec![vec!["a".into()], vec![], vec!["b".into(), "c".into()]],
            statuses: BTreeSet::from([Status::ACTIVE, Status::DELETED]),
            points: BTreeMap::from([("p".into(), point(1, 2)), ("q".into(), point(-3, 4))]),
            deep: vec![BTreeMap::from([(
                5,
                BTreeSet::from(["x".into(), "y".into()]),
            )])],
            by_status: BTreeMap::from([(Status::INACTIVE, vec![point(0, 0), point(9, 9)])]),
            path: vec![point(1, 1), point(2, 2)],
            named: BTreeMap::from([("home".into(), point(10, 20))]),
            blobs: vec![vec![], vec![0xff]],
            point_set: BTreeSet::from([point(1, 2), point(3, 4)]),
            ratios: BTreeSet::from([OrderedF64(0.5)]),
            by_ratio: BTreeMap::from([(OrderedF64(-1.0), "minus one".into())]),
        },
        defaults: Defaults {
            count: 3,
            name: "named".into(),
            status: Status::INACTIVE,
            primes: vec![11, 13],
            nickname: Some("nick".into()),
            when: 1_700_000_000_000,
            origin: point(5, 6),
            ratio: Some(1.5),
            color: Color::RED,
            tags: BTreeSet::from(["t".into()]),
        },
        value: Some(Value::Items(vec![
            Value::IntValue(1),
            Value::FloatValue(2.5),
            Value::Text("three".into()),
            Value::Point(point(4, 4)),
        ])),
        when: -1,
        color: Color::BLUE,
        tree: Some(Tree {
            label: "root".into(),
            children: vec![Tree {
                label: "child".into(),
                children: vec![],
                left: None,
            }],
            left: Some(Box::new(Tree {
                label: "left".into(),
                children: vec![],
                left: None,
            })),
        }),
        values: BTreeMap::from([
            ("i".into(), Value::IntValue(-9)),
            ("t".into(), Value::Text("".into())),
        ]),
        status: Some(Status(42)),
        error: Some(shared::SharedError {
            message: "shared".into(),
            code: 7,
        }),
    }
}

#[test]
fn every_type_round_trips() {
    let everything = sample_everything();
    round_trip(&everything);
    round_trip(&everything.primitives);
    round_trip(&everything.containers);
    round_trip(&everything.defaults);
    round_trip(everything.value.as_ref().unwrap());
    round_trip(everything.tree.as_ref().unwrap());
    round_trip(&NotFound {
        message: "gone".into(),
        key: Some("k".into()),
    });
    round_trip(&Invalid {
        code: 3,
        reasons: vec!["bad".into()],
    });
    round_trip(&Everything {
        primitives: Primitives::default(),
        containers: Containers::default(),
        defaults: Defaults::default(),
        value: None,
        when: 0,
        color: Color::default(),
        tree: None,
        values: BTreeMap::new(),
        status: None,
        error: None,
    });
}

#[test]
fn exceptions_are_errors() {
    let e = NotFound {
        message: "no such key".into(),
        key: None,
    };
    let as_error: &dyn std::error::Error = &e;
    assert_eq!(as_error.to_string(), "NotFound: no such key");
    let invalid: Box<dyn std::error::Error> = Box::new(Invalid {
        code: 1,
        reasons: vec![],
    });
    assert!(invalid.to_string().contains("code: 1"));
}

#[test]
fn unions_reject_empty_and_take_the_known_field() {
    assert!(decode_from::<Value>(&[0]).is_err());
    // field 9 is unknown to Value and skipped; field 3 is the text
    let mut bytes = Vec::new();
    let mut w = Writer::binary(&mut bytes);
    w.write_field(9, &1i32);
    w.write_field(3, &"t".to_string());
    w.write_field_stop();
    assert_eq!(
        decode_from::<Value>(&bytes).unwrap(),
        Value::Text("t".into())
    );
}

#[test]
fn decoding_stops_at_the_depth_limit() {
    let mut tree = Tree::default();
    for i in 0..200 {
        tree = Tree {
            label: i.to_string(),
            children: vec![],
            left: Some(Box::new(tree)),
        };
    }
    let bytes = encode_to_vec(&tree);
    assert!(matches!(
        decode_from::<Tree>(&bytes),
        Err(tether::protocol::ProtocolError::DepthLimit { .. })
    ));
}

#[test]
fn hostile_bytes_never_panic() {
    let bytes = encode_to_vec(&sample_everything());
    for cut in 0..bytes.len() {
        assert!(decode_from::<Everything>(&bytes[..cut]).is_err());
    }
    for i in 0..bytes.len() {
        let mut flipped = bytes.clone();
        flipped[i] ^= 0xa5;
        let _ = decode_from::<Everything>(&flipped);
    }
}

mod services {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tether::client::{Channel, ClientError};
    use tether::protocol::{
        ApplicationException, ApplicationExceptionKind, MessageHeader, MessageType, Reader,
    };
    use tether::server::{CallContext, Processor};

    #[derive(Default)]
    struct Shop {
        pokes: AtomicUsize,
        forgets: AtomicUsize,
    }

    impl shared::BaseHandler for Shop {
        fn hello(&self, _: &CallContext, name: String) -> Result<String, ApplicationException> {
            Ok(format!("hello {name}"))
        }
        fn poke(&self, _: &CallContext) -> Result<(), ApplicationException> {
            self.pokes.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
    }

    impl StoreHandler for Shop {
        fn get(&self, _: &CallContext, key: String) -> Result<Everything, StoreGetError> {
            match key.as_str() {
                "all" => Ok(sample_everything()),
                "bad" => Err(Invalid {
                    code: 400,
                    reasons: vec!["bad key".into()],
                }
                .into()),
                _ => Err(StoreGetError::NotFound(NotFound {
                    message: "no such key".into(),
                    key: Some(key),
                })),
            }
        }
        fn put(&self, _: &CallContext, _: String, _: Everything) -> Result<(), StorePutError> {
            Err(StorePutError::Invalid(Invalid {
                code: 1,
                reasons: vec![],
            }))
        }
        fn forget(&self, _: &CallContext, _: String) -> Result<(), ApplicationException> {
            self.forgets.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        fn route(
            &self,
            _: &CallContext,
            start: Point,
            end: Point,
            steps: Option<i32>,
        ) -> Result<Vec<Point>, ApplicationException> {
            Ok(vec![start, point(steps.unwrap_or(-1), 0), end])
        }
        fn counts(&self, _: &CallContext) -> Result<BTreeMap<Status, i32>, ApplicationException> {
            Ok(BTreeMap::from([(Status::ACTIVE, 2), (Status(77), 1)]))
        }
    }

    impl AdminHandler for Shop {
        fn shutdown(&self, _: &CallContext) -> Result<(), ApplicationException> {
            Err(ApplicationException::new(
                ApplicationExceptionKind::InternalError,
                "not now",
            ))
        }
    }

    /// Hands each call to an in-process processor, as a connection to a server would.
    struct InProcess<P>(P);

    impl<P: Processor> InProcess<P> {
        fn run(&self, method: &str, args: &dyn Encode) -> Vec<u8> {
            let body = encode_to_vec(args);
            let header = MessageHeader {
                name: method,
                kind: MessageType::Call,
                seqid: 1,
            };
            let mut reader = Reader::new(&body);
            let mut out = Vec::new();
            self.0
                .process(
                    &CallContext::new(None, 1, 1),
                    &header,
                    &mut reader,
                    &mut Writer::binary(&mut out),
                )
                .expect("args decode");
            assert_eq!(reader.remaining(), 0, "the args struct is consumed");
            out
        }
    }

    impl<P: Processor> Channel for InProcess<P> {
        fn call(&self, method: &str, args: &dyn Encode) -> Result<Vec<u8>, ClientError> {
            let out = self.run(method, args);
            let mut r = Reader::new(&out);
            let header = r.read_message_begin()?;
            match header.kind {
                MessageType::Reply => Ok(out[r.position()..].to_vec()),
                _ => Err(ClientError::Application(ApplicationException::decode(
                    &mut r,
                )?)),
            }
        }

        fn send_oneway(&self, method: &str, args: &dyn Encode) -> Result<(), ClientError> {
            assert!(self.run(method, args).is_empty(), "oneway gets no reply");
            Ok(())
        }
    }

    #[test]
    fn extends_reaches_every_ancestor() {
        // An Arc'd handler serves through the blanket impl; the test keeps a handle on it.
        let shop = std::sync::Arc::new(Shop::default());
        let processor = AdminProcessor::new(std::sync::Arc::clone(&shop));
        assert_eq!(processor.service_name(), "Admin");
        assert_eq!(
            processor.method_names(),
            &["shutdown", "get", "put", "forget", "route", "counts", "hello", "poke"]
        );
        let client = AdminClient::new(InProcess(processor));
        // own, parent's and grandparent's methods, through Deref
        match client.shutdown() {
            Err(ClientError::Application(e)) => assert_eq!(e.message, "not now"),
            other => panic!("expected an application exception, got {other:?}"),
        }
        assert_eq!(client.get("all".into()).unwrap(), sample_everything());
        assert_eq!(client.hello("ada".into()).unwrap(), "hello ada");
        client.poke().unwrap();
        client.forget("k".into()).unwrap();
        assert_eq!(shop.pokes.load(Ordering::Relaxed), 1);
        assert_eq!(shop.forgets.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn declared_exceptions_reach_the_client() {
        let client = StoreClient::new(InProcess(StoreProcessor::new(Shop::default())));
        match client.get("missing".into()) {
            Err(StoreGetError::NotFound(e)) => assert_eq!(e.key.as_deref(), Some("missing")),
            other => panic!("expected NotFound, got {other:?}"),
        }
        match client.get("bad".into()) {
            Err(StoreGetError::Invalid(e)) => assert_eq!(e.code, 400),
            other => panic!("expected Invalid, got {other:?}"),
        }
        assert!(matches!(
            client.put("k".into(), sample_everything()),
            Err(StorePutError::Invalid(_))
        ));
        assert_eq!(
            client.route(point(0, 0), point(1, 1), Some(3)).unwrap(),
            vec![point(0, 0), point(3, 0), point(1, 1)]
        );
        assert_eq!(
            client.route(point(0, 0), point(1, 1), None).unwrap()[1],
            point(-1, 0)
        );
        assert_eq!(client.counts().unwrap()[&Status(77)], 1);
        // an unknown method on the wire
        let out = client.channel().run("nope", &StoreCountsArgs {});
        let mut r = Reader::new(&out);
        assert_eq!(r.read_message_begin().unwrap().kind, MessageType::Exception);
        let e = ApplicationException::decode(&mut r).unwrap();
        assert_eq!(e.kind, ApplicationExceptionKind::UnknownMethod);
    }
}

mod properties {
    use super::*;
    use proptest::collection::{btree_map, btree_set, vec};
    use proptest::prelude::*;

    fn status() -> impl Strategy<Value = Status> {
        prop_oneof![
            Just(Status::UNKNOWN),
            Just(Status::ACTIVE),
            Just(Status::DELETED),
            any::<i32>().prop_map(Status),
        ]
    }

    fn point_strategy() -> impl Strategy<Value = Point> {
        (any::<i32>(), any::<i32>()).prop_map(|(x, y)| Point { x, y })
    }

    fn primitives() -> impl Strategy<Value = Primitives> {
        (
            (
                any::<bool>(),
                any::<i8>(),
                any::<i16>(),
                any::<i32>(),
                any::<i64>(),
            ),
            (
                any::<f64>().prop_filter("NaN is not equal to itself", |f| !f.is_nan()),
                ".{0,8}",
                vec(any::<u8>(), 0..8),
                ".{0,4}",
                any::<i8>(),
            ),
        )
            .prop_map(
                |(
                    (flag, small, short_value, int_value, long_value),
                    (ratio, text, blob, t, tiny),
                )| {
                    Primitives {
                        flag,
                        small,
                        short_value,
                        int_value,
                        long_value,
                        ratio,
                        text,
                        blob,
                        r#type: t,
                        tiny,
                    }
                },
            )
    }

    fn containers() -> impl Strategy<Value = Containers> {
        (
            vec(any::<i32>(), 0..4),
            vec(vec(".{0,3}", 0..3), 0..3),
            btree_set(status(), 0..4),
            btree_map(".{0,3}", point_strategy(), 0..3),
            vec(
                btree_map(any::<i32>(), btree_set(".{0,3}", 0..3), 0..3),
                0..3,
            ),
            btree_map(status(), vec(point_strategy(), 0..3), 0..3),
            (
                vec(point_strategy(), 0..3),
                btree_map(".{0,3}", point_strategy(), 0..3),
                vec(vec(any::<u8>(), 0..4), 0..3),
                btree_set(point_strategy(), 0..3),
                btree_set(any::<f64>().prop_map(OrderedF64), 0..3),
                btree_map(any::<f64>().prop_map(OrderedF64), ".{0,3}", 0..3),
            ),
        )
            .prop_map(
                |(
                    ints,
                    nested,
                    statuses,
                    points,
                    deep,
                    by_status,
                    (path, named, blobs, point_set, ratios, by_ratio),
                )| {
                    Containers {
                        ints,
                        nested,
                        statuses,
                        points,
                        deep,
                        by_status,
                        path,
                        named,
                        blobs,
                        point_set,
                        ratios,
                        by_ratio,
                    }
                },
            )
    }

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(Value::IntValue),
            any::<f64>()
                .prop_filter("NaN is not equal to itself", |f| !f.is_nan())
                .prop_map(Value::FloatValue),
            ".{0,5}".prop_map(Value::Text),
            point_strategy().prop_map(Value::Point),
        ];
        leaf.prop_recursive(4, 24, 4, |inner| vec(inner, 0..4).prop_map(Value::Items))
    }

    fn tree() -> impl Strategy<Value = Tree> {
        let leaf = ".{0,3}".prop_map(|label| Tree {
            label,
            children: vec![],
            left: None,
        });
        leaf.prop_recursive(4, 16, 3, |inner| {
            (
                ".{0,3}",
                vec(inner.clone(), 0..3),
                proptest::option::of(inner),
            )
                .prop_map(|(label, children, left)| Tree {
                    label,
                    children,
                    left: left.map(Box::new),
                })
        })
    }

    proptest! {
        #[test]
        fn primitives_round_trip(v in primitives()) { round_trip(&v); }

        #[test]
        fn containers_round_trip(v in containers()) { round_trip(&v); }

        #[test]
        fn unions_round_trip(v in value()) { round_trip(&v); }

        #[test]
        fn trees_round_trip(v in tree()) { round_trip(&v); }

        #[test]
        fn everything_round_trips(
            primitives in primitives(),
            containers in containers(),
            value in proptest::option::of(value()),
            tree in proptest::option::of(tree()),
            status in proptest::option::of(status()),
            when in any::<i64>(),
        ) {
            round_trip(&Everything {
                primitives,
                containers,
                defaults: Defaults { when, ..Defaults::default() },
                value,
                when,
                color: Color(when as i32),
                tree,
                values: BTreeMap::new(),
                status,
                error: None,
            });
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..256)) {
            let _ = decode_from::<Everything>(&bytes);
            let _ = decode_from::<Value>(&bytes);
            let _ = decode_from::<Containers>(&bytes);
        }
    }
}

/// The values scripts/interop/codegen_python.py builds, by file name; keep the two in step.
fn interop_values() -> Vec<(&'static str, Vec<u8>)> {
    let mut everything = sample_everything();
    // Python structs are unhashable (no set<Point>) and Python iterates a set of strings in
    // hash order, so the cross-checked value keeps those sets empty or single.
    everything.containers.point_set.clear();
    everything.containers.deep = vec![BTreeMap::from([(5, BTreeSet::from(["x".into()]))])];
    let tree = everything.tree.clone().unwrap();
    vec![
        ("everything", encode_to_vec(&everything)),
        (
            "value",
            encode_to_vec(&Value::Items(vec![
                Value::IntValue(1),
                Value::Items(vec![]),
            ])),
        ),
        ("tree", encode_to_vec(&tree)),
        (
            "get_result_not_found",
            encode_to_vec(&StoreGetResult {
                not_found: Some(NotFound {
                    message: "gone".into(),
                    key: Some("k".into()),
                }),
                ..Default::default()
            }),
        ),
        (
            "get_result_success",
            encode_to_vec(&StoreGetResult {
                success: Some(everything.clone()),
                ..Default::default()
            }),
        ),
        (
            "put_result_invalid",
            encode_to_vec(&StorePutResult {
                invalid: Some(Invalid {
                    code: 3,
                    reasons: vec!["a".into(), "b".into()],
                }),
            }),
        ),
        (
            "route_args",
            encode_to_vec(&StoreRouteArgs {
                start: point(1, 2),
                end: point(3, 4),
                steps: Some(5),
            }),
        ),
    ]
}

/// Decodes `bytes` as the type `name` holds and re-encodes it.
fn decode_reencode(name: &str, bytes: &[u8]) -> Result<Vec<u8>, tether::protocol::ProtocolError> {
    fn again<T: Encode + Decode>(bytes: &[u8]) -> Result<Vec<u8>, tether::protocol::ProtocolError> {
        decode_from::<T>(bytes).map(|v| encode_to_vec(&v))
    }
    match name {
        "everything" => again::<Everything>(bytes),
        "value" => again::<Value>(bytes),
        "tree" => again::<Tree>(bytes),
        "get_result_not_found" | "get_result_success" => again::<StoreGetResult>(bytes),
        "put_result_invalid" => again::<StorePutResult>(bytes),
        "route_args" => again::<StoreRouteArgs>(bytes),
        _ => unreachable!("unknown interop value {name}"),
    }
}

/// Run by scripts/interop/codegen_python.sh with TETHER_CODEGEN_INTEROP_DIR set: checks the
/// bytes Python wrote in `$DIR/py` and writes Rust's own into `$DIR/rust` for Python to check.
#[test]
#[ignore = "driven by scripts/interop/codegen_python.sh"]
fn python_cross_check() {
    let dir = std::path::PathBuf::from(
        std::env::var_os("TETHER_CODEGEN_INTEROP_DIR").expect("TETHER_CODEGEN_INTEROP_DIR"),
    );
    std::fs::create_dir_all(dir.join("rust")).unwrap();
    for (name, ours) in interop_values() {
        let theirs = std::fs::read(dir.join("py").join(format!("{name}.bin")))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        // Same value, same bytes: decoding Python's bytes gives what Rust encodes.
        assert_eq!(
            theirs, ours,
            "{name}: Python's encoding differs from Rust's"
        );
        let again = decode_reencode(name, &theirs).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(again, theirs, "{name}: re-encoding differs");
        std::fs::write(dir.join("rust").join(format!("{name}.bin")), &ours).unwrap();
    }
}
