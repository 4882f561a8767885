//! The server's request path without sockets: a framed echo request as it sits in a
//! connection's read buffer -> frame found -> header decoded -> routed -> generated Echo
//! processor decodes the args, calls the handler, encodes the reply -> frame length patched.
//! It follows the steps of the server's dispatcher (crate-private) through the public API:
//! `parse_framed`, `Reader`, `Router::route`, `Processor::process`, `Codec::begin_message`/`finish_message`,
//! with the handler call under `catch_unwind` as the server runs it, and the handler
//! `tether serve` runs (`EchoService`).
//!
//! `cargo bench --bench request_path` (add `-- --warm-up-time 1 --measurement-time 3` for a
//! quick run). Throughput is one request per iteration, so criterion reports requests/s.

use std::hint::black_box;
use std::panic::{self, AssertUnwindSafe};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tether::protocol::{Encode, Limits, MessageHeader, MessageType, Reader, Writer};
use tether::server::{CallContext, Router};
use tether::services::echo::{EchoEchoArgs, EchoPingArgs, EchoProcessor};
use tether::transport::{parse_framed, Codec, Envelope, FrameStatus};
use tether::EchoService;

/// A framed call message, as a client puts it on the wire.
fn framed_call(name: &str, args: &dyn Encode) -> Vec<u8> {
    let mut out = Vec::new();
    let at = Codec::FRAMED.begin_message(&mut out, &Envelope::default());
    let header = MessageHeader {
        name,
        kind: MessageType::Call,
        seqid: 42,
    };
    let mut w = Writer::binary(&mut out);
    w.write_message_begin(&header);
    args.encode(&mut w);
    Codec::FRAMED.finish_message(&mut out, at);
    out
}

/// One request through the path; the framed reply is appended to `out`.
fn handle(router: &Router, ctx: &CallContext, buffered: &[u8], out: &mut Vec<u8>) {
    let FrameStatus::Complete { message, .. } =
        parse_framed(buffered, Limits::default().max_frame).expect("valid frame")
    else {
        panic!("whole frame buffered");
    };
    let mut reader = Reader::with_limits(&buffered[message], Limits::default());
    let header = reader.read_message_begin().expect("valid header");
    let (processor, method) = router.route(header.name).expect("known method");
    let routed = MessageHeader {
        name: method,
        ..header
    };
    let at = Codec::FRAMED.begin_message(out, &Envelope::default());
    panic::catch_unwind(AssertUnwindSafe(|| {
        processor.process(ctx, &routed, &mut reader, &mut Writer::binary(out))
    }))
    .expect("handler does not panic")
    .expect("args decode");
    Codec::FRAMED.finish_message(out, at);
}

fn request_path(c: &mut Criterion) {
    let router = Router::new().service(EchoProcessor::new(EchoService));
    let ctx = CallContext::new(None, 1, 42);
    let mut group = c.benchmark_group("request_path");
    group.throughput(Throughput::Elements(1));
    for size in [64usize, 1024] {
        let request = framed_call(
            "echo",
            &EchoEchoArgs {
                payload: vec![7; size],
            },
        );
        let mut out = Vec::with_capacity(2 * size + 64);
        group.bench_function(BenchmarkId::new("echo", size), |b| {
            b.iter(|| {
                out.clear();
                handle(&router, &ctx, black_box(&request), &mut out);
                black_box(out.len())
            })
        });
    }
    let request = framed_call("ping", &EchoPingArgs {});
    let mut out = Vec::with_capacity(64);
    group.bench_function("ping", |b| {
        b.iter(|| {
            out.clear();
            handle(&router, &ctx, black_box(&request), &mut out);
            black_box(out.len())
        })
    });
    group.finish();
}

criterion_group!(benches, request_path);
criterion_main!(benches);
