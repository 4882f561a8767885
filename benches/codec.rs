//! Encode and decode cost of whole messages: an echo request (header + args struct with one
//! binary field) at 64 B and 1 KiB payloads, and a nested struct with a list and a map, each in
//! the binary protocol (`encode`, `decode`) and the compact protocol (`compact_encode`,
//! `compact_decode`), through the same [`Writer`] and [`Reader`] and the same `Encode`/`Decode`
//! impls, written as generated code writes them.
//!
//! `cargo bench --bench codec` (add `-- --warm-up-time 1 --measurement-time 3` for a quick run).
//! Throughput is the encoded message size, so criterion reports MB/s next to time per message.

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tether::protocol::{
    Decode, Encode, Limits, MessageHeader, MessageType, Protocol, ProtocolError, Reader, TType,
    WireType, Writer,
};

/// `echo_args { 1: binary payload }`, as generated code would write it.
struct EchoArgs {
    payload: Vec<u8>,
}

impl Encode for EchoArgs {
    fn encode(&self, w: &mut Writer<'_>) {
        w.write_struct_begin();
        w.write_field(1, &self.payload);
        w.write_field_stop();
        w.write_struct_end();
    }
}

impl Decode for EchoArgs {
    fn decode(r: &mut Reader<'_>) -> Result<Self, ProtocolError> {
        r.enter()?;
        let mut payload = None;
        while let Some((ttype, id)) = r.read_field_begin()? {
            match (id, ttype) {
                (1, TType::String) => payload = Some(Vec::decode(r)?),
                _ => r.skip(ttype)?,
            }
        }
        r.leave();
        Ok(EchoArgs {
            payload: payload.ok_or(ProtocolError::MissingField {
                strukt: "echo_args",
                field: "payload",
            })?,
        })
    }
}

/// `struct Item { 1: string sku, 2: i32 quantity, 3: double price }`
#[derive(Clone)]
struct Item {
    sku: String,
    quantity: i32,
    price: f64,
}

impl WireType for Item {
    const TTYPE: TType = TType::Struct;
}

impl Encode for Item {
    fn encode(&self, w: &mut Writer<'_>) {
        w.write_struct_begin();
        w.write_field(1, &self.sku);
        w.write_field(2, &self.quantity);
        w.write_field(3, &self.price);
        w.write_field_stop();
        w.write_struct_end();
    }
}

impl Decode for Item {
    fn decode(r: &mut Reader<'_>) -> Result<Self, ProtocolError> {
        r.enter()?;
        let mut item = Item {
            sku: String::new(),
            quantity: 0,
            price: 0.0,
        };
        while let Some((ttype, id)) = r.read_field_begin()? {
            match (id, ttype) {
                (1, TType::String) => item.sku = String::decode(r)?,
                (2, TType::I32) => item.quantity = r.read_i32()?,
                (3, TType::Double) => item.price = r.read_double()?,
                _ => r.skip(ttype)?,
            }
        }
        r.leave();
        Ok(item)
    }
}

/// `struct Order { 1: i64 id, 2: string customer, 3: list<Item> items, 4: map<string, string>
/// attributes }`
struct Order {
    id: i64,
    customer: String,
    items: Vec<Item>,
    attributes: HashMap<String, String>,
}

impl Encode for Order {
    fn encode(&self, w: &mut Writer<'_>) {
        w.write_struct_begin();
        w.write_field(1, &self.id);
        w.write_field(2, &self.customer);
        w.write_field(3, &self.items);
        w.write_field(4, &self.attributes);
        w.write_field_stop();
        w.write_struct_end();
    }
}

impl Decode for Order {
    fn decode(r: &mut Reader<'_>) -> Result<Self, ProtocolError> {
        r.enter()?;
        let mut order = Order {
            id: 0,
            customer: String::new(),
            items: Vec::new(),
            attributes: HashMap::new(),
        };
        while let Some((ttype, id)) = r.read_field_begin()? {
            match (id, ttype) {
                (1, TType::I64) => order.id = r.read_i64()?,
                (2, TType::String) => order.customer = String::decode(r)?,
                (3, TType::List) => order.items = Vec::decode(r)?,
                (4, TType::Map) => order.attributes = HashMap::decode(r)?,
                _ => r.skip(ttype)?,
            }
        }
        r.leave();
        Ok(order)
    }
}

fn order() -> Order {
    Order {
        id: 1_234_567_890,
        customer: "customer-00042".to_string(),
        items: (0..16)
            .map(|i| Item {
                sku: format!("sku-{i:05}"),
                quantity: i,
                price: 9.99 + f64::from(i),
            })
            .collect(),
        attributes: (0..8)
            .map(|i| (format!("key-{i}"), format!("value-{i}")))
            .collect(),
    }
}

/// Replaces `out` with a call message in `protocol`, as a client writes it.
fn encode_message(
    out: &mut Vec<u8>,
    protocol: Protocol,
    name: &str,
    seqid: i32,
    args: &impl Encode,
) {
    out.clear();
    let header = MessageHeader {
        name,
        kind: MessageType::Call,
        seqid,
    };
    let mut w = Writer::new(out, protocol);
    w.write_message_begin(&header);
    args.encode(&mut w);
}

fn reader(bytes: &[u8], protocol: Protocol) -> Reader<'_> {
    Reader::with_protocol(bytes, protocol, Limits::default())
}

fn echo_request(c: &mut Criterion) {
    let mut group = c.benchmark_group("echo_request");
    for size in [64usize, 1024] {
        let args = EchoArgs {
            payload: vec![0xab; size],
        };
        let mut out = Vec::with_capacity(size + 64);
        encode_message(&mut out, Protocol::Binary, "echo", 1, &args);
        let encoded = out.clone();
        group.throughput(Throughput::Bytes(encoded.len() as u64));
        group.bench_with_input(BenchmarkId::new("encode", size), &args, |b, args| {
            b.iter(|| {
                encode_message(
                    &mut out,
                    Protocol::Binary,
                    "echo",
                    black_box(7),
                    black_box(args),
                );
                black_box(out.len())
            })
        });
        group.bench_with_input(BenchmarkId::new("decode", size), &encoded, |b, bytes| {
            b.iter(|| {
                let mut r = reader(black_box(bytes), Protocol::Binary);
                let header = r.read_message_begin().unwrap();
                let args = EchoArgs::decode(&mut r).unwrap();
                black_box((header.seqid, args.payload))
            })
        });
        encode_message(&mut out, Protocol::Compact, "echo", 1, &args);
        let compact = out.clone();
        group.throughput(Throughput::Bytes(compact.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("compact_encode", size),
            &args,
            |b, args| {
                b.iter(|| {
                    encode_message(
                        &mut out,
                        Protocol::Compact,
                        "echo",
                        black_box(7),
                        black_box(args),
                    );
                    black_box(out.len())
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("compact_decode", size),
            &compact,
            |b, bytes| {
                b.iter(|| {
                    let mut r = reader(black_box(bytes), Protocol::Compact);
                    let header = r.read_message_begin().unwrap();
                    let args = EchoArgs::decode(&mut r).unwrap();
                    black_box((header.seqid, args.payload))
                })
            },
        );
    }
    group.finish();
}

fn nested_struct(c: &mut Criterion) {
    let mut group = c.benchmark_group("nested_struct");
    let value = order();
    let mut out = Vec::with_capacity(1024);
    encode_message(&mut out, Protocol::Binary, "place", 1, &value);
    let encoded = out.clone();
    group.throughput(Throughput::Bytes(encoded.len() as u64));
    group.bench_function(BenchmarkId::new("encode", encoded.len()), |b| {
        b.iter(|| {
            encode_message(
                &mut out,
                Protocol::Binary,
                "place",
                black_box(7),
                black_box(&value),
            );
            black_box(out.len())
        })
    });
    group.bench_function(BenchmarkId::new("decode", encoded.len()), |b| {
        b.iter(|| {
            let mut r = reader(black_box(&encoded), Protocol::Binary);
            let header = r.read_message_begin().unwrap();
            let order = Order::decode(&mut r).unwrap();
            black_box((header.seqid, order))
        })
    });
    encode_message(&mut out, Protocol::Compact, "place", 1, &value);
    let compact = out.clone();
    group.throughput(Throughput::Bytes(compact.len() as u64));
    group.bench_function(BenchmarkId::new("compact_encode", compact.len()), |b| {
        b.iter(|| {
            encode_message(
                &mut out,
                Protocol::Compact,
                "place",
                black_box(7),
                black_box(&value),
            );
            black_box(out.len())
        })
    });
    group.bench_function(BenchmarkId::new("compact_decode", compact.len()), |b| {
        b.iter(|| {
            let mut r = reader(black_box(&compact), Protocol::Compact);
            let header = r.read_message_begin().unwrap();
            let order = Order::decode(&mut r).unwrap();
            black_box((header.seqid, order))
        })
    });
    group.finish();
}

criterion_group!(benches, echo_request, nested_struct);
criterion_main!(benches);
