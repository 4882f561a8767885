//! tests/codegen/fixes.thrift compiles (tests/codegen_golden.rs keeps it fresh), and each shape
//! in it behaves as Apache's generated code does on the wire.

#[allow(dead_code)]
#[path = "codegen/fixes.rs"]
mod fixes;

use fixes::*;
use tether::protocol::{
    decode_from, encode_to_vec, MessageHeader, MessageType, ProtocolError, Reader, TType, Writer,
};
use tether::server::{CallContext, Processor};

/// A struct on the wire: `fields` (already encoded, each a field header and value), then stop.
fn struct_bytes(fields: &[Vec<u8>]) -> Vec<u8> {
    let mut out = fields.concat();
    Writer::binary(&mut out).write_field_stop();
    out
}

fn i32_field(id: i16, value: i32) -> Vec<u8> {
    let mut out = Vec::new();
    Writer::binary(&mut out).write_field(id, &value);
    out
}

fn string_field(id: i16, value: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = Writer::binary(&mut out);
    w.write_field_begin(TType::String, id);
    w.write_string(value);
    out
}

/// A field `id` holding a struct made of `fields`.
fn struct_field(id: i16, fields: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    Writer::binary(&mut out).write_field_begin(TType::Struct, id);
    out.extend(struct_bytes(fields));
    out
}

#[test]
fn a_union_with_two_fields_set_is_an_error() {
    let both = struct_bytes(&[i32_field(1, 7), string_field(2, "x")]);
    assert!(matches!(
        decode_from::<Choice>(&both),
        Err(ProtocolError::InvalidData { .. })
    ));
    let one = struct_bytes(&[string_field(2, "x")]);
    assert_eq!(
        decode_from::<Choice>(&one).unwrap(),
        Choice::Text("x".into())
    );
}

#[test]
fn a_union_of_an_unknown_variant_leaves_an_option_field_unset() {
    // Field 9 of Choice is from a newer peer; `must` knows a variant.
    let unknown = struct_bytes(&[i32_field(9, 1)]);
    let known = struct_bytes(&[i32_field(1, 5)]);
    let holder = |plain: &[u8], maybe: &[u8]| {
        let mut fields = Vec::new();
        for (id, inner) in [(1, plain), (2, maybe), (3, known.as_slice())] {
            let mut f = Vec::new();
            Writer::binary(&mut f).write_field_begin(TType::Struct, id);
            f.extend_from_slice(inner);
            fields.push(f);
        }
        fields.push(i32_field(4, 8));
        struct_bytes(&fields)
    };
    let decoded: HoldsChoice = decode_from(&holder(&unknown, &unknown)).unwrap();
    assert_eq!(
        decoded,
        HoldsChoice {
            plain: None,
            maybe: None,
            must: Choice::Number(5),
            after: 8,
        }
    );
    // A required union field still needs a variant this code knows.
    let bad_must = struct_bytes(&[struct_field(3, &[i32_field(9, 1)])]);
    assert!(decode_from::<HoldsChoice>(&bad_must).is_err());
}

#[test]
fn absent_fields_without_a_default_decode_as_none() {
    // Only the required field: Apache's peers leave unset default-requiredness fields out.
    let bytes = struct_bytes(&[struct_field(3, &[i32_field(1, 1)])]);
    let decoded: HoldsChoice = decode_from(&bytes).unwrap();
    assert_eq!(decoded.plain, None);
    assert_eq!(decoded.after, 0);
    // ... and writes them only when set.
    assert_eq!(encode_to_vec(&decoded), {
        let mut expected = struct_field(3, &[i32_field(1, 1)]);
        expected.extend(i32_field(4, 0));
        Writer::binary(&mut expected).write_field_stop();
        expected
    });
    let chain = Chain {
        value: 1,
        next: Some(Box::new(Chain {
            value: 2,
            next: None,
        })),
    };
    let bytes = encode_to_vec(&chain);
    assert_eq!(decode_from::<Chain>(&bytes).unwrap(), chain);
    assert_eq!(
        decode_from::<Chain>(&struct_bytes(&[i32_field(1, 3)])).unwrap(),
        Chain {
            value: 3,
            next: None
        }
    );
}

#[test]
fn an_empty_union_decodes_to_nothing_known() {
    let empty = struct_bytes(&[]);
    let mut reader = Reader::new(&empty);
    assert!(Nothing::decode_variant(&mut reader).unwrap().is_none());
    assert!(decode_from::<Nothing>(&struct_bytes(&[i32_field(1, 2)])).is_err());
}

#[test]
fn field_ids_are_apaches_and_written_in_id_order() {
    // thrift 0.17 --gen py gives first -1, second 3, zero -2, minus_one -3, and writes by id.
    let value = Renumbered {
        first: 1,
        second: 2,
        zero: 3,
        minus_one: 4,
    };
    let expected = struct_bytes(&[
        i32_field(-3, 4),
        i32_field(-2, 3),
        i32_field(-1, 1),
        i32_field(3, 2),
    ]);
    assert_eq!(encode_to_vec(&value), expected);
    assert_eq!(decode_from::<Renumbered>(&expected).unwrap(), value);
    let pair = NegativeThenImplicit { a: 1, b: 2 };
    assert_eq!(
        encode_to_vec(&pair),
        struct_bytes(&[i32_field(-2, 2), i32_field(-1, 1)])
    );
}

#[test]
fn prelude_trait_names_are_kept_apart() {
    let from = From_ {
        send: Send_ { x: 1 },
        sync: Sync_ { y: 2 },
    };
    assert_eq!(decode_from::<From_>(&encode_to_vec(&from)).unwrap(), from);
}

struct Adder;

impl HelpersHandler for Adder {
    fn add(
        &self,
        _: &CallContext,
        write_reply: i32,
        missing_result: i32,
    ) -> Result<i32, tether::protocol::ApplicationException> {
        Ok(write_reply + missing_result)
    }

    fn note(
        &self,
        _: &CallContext,
        _: String,
    ) -> Result<(), tether::protocol::ApplicationException> {
        Ok(())
    }

    fn echo_from(
        &self,
        _: &CallContext,
        value: From_,
    ) -> Result<From_, tether::protocol::ApplicationException> {
        Ok(value)
    }
}

#[test]
fn arguments_named_like_the_modules_helpers_reach_the_handler() {
    let processor = HelpersProcessor::new(Adder);
    let args = encode_to_vec(&HelpersAddArgs {
        write_reply: 2,
        missing_result: 40,
    });
    let header = MessageHeader {
        name: "add",
        kind: MessageType::Call,
        seqid: 1,
    };
    let mut out = Vec::new();
    processor
        .process(
            &CallContext::new(None, 1, 1),
            &header,
            &mut Reader::new(&args),
            &mut Writer::binary(&mut out),
        )
        .unwrap();
    let mut expected = Vec::new();
    let mut w = Writer::binary(&mut expected);
    w.write_field_begin(TType::I32, 0);
    w.write_i32(42);
    w.write_field_stop();
    assert!(
        out.ends_with(&expected),
        "reply {out:?} does not end with the result struct {expected:?}"
    );
}
