//! Encode and decode cost of whole messages: an echo request (header + args struct with one
//! binary field) at 64 B and 1 KiB payloads, and a nested struct with a list and a map, each in
//! the binary protocol (`encode`, `decode`) and the compact protocol (`compact_encode`,
//! `compact_decode`).
//!
//! `cargo bench --bench codec` (add `-- --warm-up-time 1 --measurement-time 3` for a quick run).
//! Throughput is the encoded message size, so criterion reports MB/s next to time per message.

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tether::protocol::{
    write_field, write_field_stop, write_message_begin, CompactReader, CompactWriter, Decode,
    Encode, MessageHeader, MessageType, ProtocolError, Reader, TType, WireType,
};

/// `echo_args { 1: binary payload }`, as generated code would write it.
struct EchoArgs {
    payload: Vec<u8>,
}

impl Encode for EchoArgs {
    fn encode(&self, out: &mut Vec<u8>) {
        write_field(out, 1, &self.payload);
        write_field_stop(out);
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
    fn encode(&self, out: &mut Vec<u8>) {
        write_field(out, 1, &self.sku);
        write_field(out, 2, &self.quantity);
        write_field(out, 3, &self.price);
        write_field_stop(out);
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
    fn encode(&self, out: &mut Vec<u8>) {
        write_field(out, 1, &self.id);
        write_field(out, 2, &self.customer);
        write_field(out, 3, &self.items);
        write_field(out, 4, &self.attributes);
        write_field_stop(out);
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

/// The same types in the compact protocol, written as generated code will once the Writer and
/// Reader types carry the protocol.
trait Compact: Sized {
    fn write(&self, w: &mut CompactWriter);
    fn read(r: &mut CompactReader<'_>) -> Result<Self, ProtocolError>;
}

impl Compact for EchoArgs {
    fn write(&self, w: &mut CompactWriter) {
        w.write_struct_begin();
        w.write_field_begin(TType::String, 1);
        w.write_binary(&self.payload);
        w.write_field_stop();
        w.write_struct_end();
    }

    fn read(r: &mut CompactReader<'_>) -> Result<Self, ProtocolError> {
        r.enter()?;
        let mut payload = None;
        while let Some((ttype, id)) = r.read_field_begin()? {
            match (id, ttype) {
                (1, TType::String) => payload = Some(r.read_bytes()?.to_vec()),
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

impl Compact for Item {
    fn write(&self, w: &mut CompactWriter) {
        w.write_struct_begin();
        w.write_field_begin(TType::String, 1);
        w.write_string(&self.sku);
        w.write_field_begin(TType::I32, 2);
        w.write_i32(self.quantity);
        w.write_field_begin(TType::Double, 3);
        w.write_double(self.price);
        w.write_field_stop();
        w.write_struct_end();
    }

    fn read(r: &mut CompactReader<'_>) -> Result<Self, ProtocolError> {
        r.enter()?;
        let mut item = Item {
            sku: String::new(),
            quantity: 0,
            price: 0.0,
        };
        while let Some((ttype, id)) = r.read_field_begin()? {
            match (id, ttype) {
                (1, TType::String) => item.sku = r.read_str()?.to_owned(),
                (2, TType::I32) => item.quantity = r.read_i32()?,
                (3, TType::Double) => item.price = r.read_double()?,
                _ => r.skip(ttype)?,
            }
        }
        r.leave();
        Ok(item)
    }
}

impl Compact for Order {
    fn write(&self, w: &mut CompactWriter) {
        w.write_struct_begin();
        w.write_field_begin(TType::I64, 1);
        w.write_i64(self.id);
        w.write_field_begin(TType::String, 2);
        w.write_string(&self.customer);
        w.write_field_begin(TType::List, 3);
        w.write_list_begin(TType::Struct, self.items.len());
        for item in &self.items {
            item.write(w);
        }
        w.write_field_begin(TType::Map, 4);
        w.write_map_begin(TType::String, TType::String, self.attributes.len());
        for (k, v) in &self.attributes {
            w.write_string(k);
            w.write_string(v);
        }
        w.write_field_stop();
        w.write_struct_end();
    }

    fn read(r: &mut CompactReader<'_>) -> Result<Self, ProtocolError> {
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
                (2, TType::String) => order.customer = r.read_str()?.to_owned(),
                (3, TType::List) => {
                    r.enter()?;
                    let (_, len) = r.read_list_begin()?;
                    order.items = Vec::with_capacity(len.min(4096));
                    for _ in 0..len {
                        order.items.push(Item::read(r)?);
                    }
                    r.leave();
                }
                (4, TType::Map) => {
                    r.enter()?;
                    let (_, _, len) = r.read_map_begin()?;
                    order.attributes = HashMap::with_capacity(len.min(4096));
                    for _ in 0..len {
                        let k = r.read_str()?.to_owned();
                        let v = r.read_str()?.to_owned();
                        order.attributes.insert(k, v);
                    }
                    r.leave();
                }
                _ => r.skip(ttype)?,
            }
        }
        r.leave();
        Ok(order)
    }
}

fn encode_compact(w: &mut CompactWriter, name: &str, seqid: i32, args: &impl Compact) {
    w.clear();
    let header = MessageHeader {
        name,
        kind: MessageType::Call,
        seqid,
    };
    w.write_message_begin(&header);
    args.write(w);
}

fn encode_message(out: &mut Vec<u8>, name: &str, seqid: i32, args: &impl Encode) {
    out.clear();
    let header = MessageHeader {
        name,
        kind: MessageType::Call,
        seqid,
    };
    write_message_begin(out, &header);
    args.encode(out);
}

fn echo_request(c: &mut Criterion) {
    let mut group = c.benchmark_group("echo_request");
    for size in [64usize, 1024] {
        let args = EchoArgs {
            payload: vec![0xab; size],
        };
        let mut out = Vec::with_capacity(size + 64);
        encode_message(&mut out, "echo", 1, &args);
        let encoded = out.clone();
        group.throughput(Throughput::Bytes(encoded.len() as u64));
        group.bench_with_input(BenchmarkId::new("encode", size), &args, |b, args| {
            b.iter(|| {
                encode_message(&mut out, "echo", black_box(7), black_box(args));
                black_box(out.len())
            })
        });
        group.bench_with_input(BenchmarkId::new("decode", size), &encoded, |b, bytes| {
            b.iter(|| {
                let mut r = Reader::new(black_box(bytes));
                let header = r.read_message_begin().unwrap();
                let args = EchoArgs::decode(&mut r).unwrap();
                black_box((header.seqid, args.payload))
            })
        });
        let mut w = CompactWriter::with_buffer(Vec::with_capacity(size + 64));
        encode_compact(&mut w, "echo", 1, &args);
        let compact = w.buffer().to_vec();
        group.throughput(Throughput::Bytes(compact.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("compact_encode", size),
            &args,
            |b, args| {
                b.iter(|| {
                    encode_compact(&mut w, "echo", black_box(7), black_box(args));
                    black_box(w.buffer().len())
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("compact_decode", size),
            &compact,
            |b, bytes| {
                b.iter(|| {
                    let mut r = CompactReader::new(black_box(bytes));
                    let header = r.read_message_begin().unwrap();
                    let args = EchoArgs::read(&mut r).unwrap();
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
    encode_message(&mut out, "place", 1, &value);
    let encoded = out.clone();
    group.throughput(Throughput::Bytes(encoded.len() as u64));
    group.bench_function(BenchmarkId::new("encode", encoded.len()), |b| {
        b.iter(|| {
            encode_message(&mut out, "place", black_box(7), black_box(&value));
            black_box(out.len())
        })
    });
    group.bench_function(BenchmarkId::new("decode", encoded.len()), |b| {
        b.iter(|| {
            let mut r = Reader::new(black_box(&encoded));
            let header = r.read_message_begin().unwrap();
            let order = Order::decode(&mut r).unwrap();
            black_box((header.seqid, order))
        })
    });
    let mut w = CompactWriter::with_buffer(Vec::with_capacity(1024));
    encode_compact(&mut w, "place", 1, &value);
    let compact = w.buffer().to_vec();
    group.throughput(Throughput::Bytes(compact.len() as u64));
    group.bench_function(BenchmarkId::new("compact_encode", compact.len()), |b| {
        b.iter(|| {
            encode_compact(&mut w, "place", black_box(7), black_box(&value));
            black_box(w.buffer().len())
        })
    });
    group.bench_function(BenchmarkId::new("compact_decode", compact.len()), |b| {
        b.iter(|| {
            let mut r = CompactReader::new(black_box(&compact));
            let header = r.read_message_begin().unwrap();
            let order = Order::read(&mut r).unwrap();
            black_box((header.seqid, order))
        })
    });
    group.finish();
}

criterion_group!(benches, echo_request, nested_struct);
criterion_main!(benches);
