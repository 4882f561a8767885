//! "Memory grows with bytes actually received": a counting global allocator measures the peak
//! heap use of decoding. Hostile inputs (lying lengths, deep nesting, garbage) must never take
//! more heap than their own size; honest inputs at their densest stay within a small multiple.
//!
//! The library forbids unsafe code; this test binary needs one unsafe impl, `GlobalAlloc`, which
//! only forwards to the system allocator and counts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use tether::protocol::{
    decode_from, encode_to_vec, ApplicationException, Decode, Limits, Protocol, ProtocolError,
    Reader, TType,
};
use tether::transport::{
    detect, parse_framed, parse_header_frame, parse_unframed, HeaderError, HeaderStatus,
};

/// Counts per thread, so tests running in parallel do not see each other's allocations.
struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn note_alloc(size: usize) {
    // try_with: allocations during thread teardown happen after the cells are gone.
    let _ = LIVE.try_with(|live| {
        let now = live.get() + size;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

fn note_free(size: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(size)));
}

// SAFETY: every method forwards to `System` with the caller's own arguments, so the allocator
// contract is System's; the counting touches only const-initialised thread-locals, which never
// allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            note_alloc(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `alloc_zeroed`'s contract.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            note_alloc(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by this allocator, i.e. by System, with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        note_free(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` was allocated by System with `layout`; the caller upholds the rest.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            // Count the new block before freeing the old: a moving realloc holds both.
            note_alloc(new_size);
            note_free(layout.size());
        }
        p
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// The most heap `f` held at once beyond what was live before it, on this thread.
fn peak_of(f: impl FnOnce()) -> usize {
    let base = LIVE.with(Cell::get);
    PEAK.with(|peak| peak.set(base));
    f();
    PEAK.with(Cell::get) - base
}

/// Hostile input: never more heap than the input's own size.
fn hostile_bound(input: usize) -> usize {
    input
}

/// Honest input, as dense as it gets: 16x. The widest ratio of a decoded element to its smallest
/// encoding among the types below is a `String` (24 bytes) from an empty string (4 bytes), and a
/// `Vec` that outgrows its capped preallocation doubles, holding old and new blocks at once for
/// a moment. The constant covers a first small allocation on a tiny input.
fn dense_bound(input: usize) -> usize {
    16 * input + 1024
}

fn assert_bounded(what: &str, input: &[u8], bound: fn(usize) -> usize, f: impl FnOnce(&[u8])) {
    let peak = peak_of(|| f(input));
    assert!(
        peak <= bound(input.len()),
        "{what}: peak heap {peak} bytes for {} input bytes",
        input.len()
    );
}

/// Runs every decoder that reads peer bytes over `input`; results are dropped, only the heap
/// they needed on the way matters.
fn decode_everything(input: &[u8]) {
    let limits = Limits::default();
    let _ = parse_framed(input, limits.max_frame);
    let _ = parse_unframed(input, &limits);
    let _ = detect(input);
    let mut r = Reader::new(input);
    if r.read_message_begin().is_ok() {
        let _ = r.skip(TType::Struct);
    }
    for ttype in [
        TType::Struct,
        TType::List,
        TType::Set,
        TType::Map,
        TType::String,
    ] {
        let _ = Reader::new(input).skip(ttype);
    }
    let _ = decode_from::<String>(input);
    let _ = decode_from::<Vec<u8>>(input);
    let _ = decode_from::<Vec<bool>>(input);
    let _ = decode_from::<Vec<i32>>(input);
    let _ = decode_from::<Vec<String>>(input);
    let _ = decode_from::<Vec<Vec<Vec<i64>>>>(input);
    let _ = decode_from::<HashSet<String>>(input);
    let _ = decode_from::<BTreeSet<i64>>(input);
    let _ = decode_from::<HashMap<String, Vec<u8>>>(input);
    let _ = decode_from::<BTreeMap<i32, HashSet<i16>>>(input);
    let _ = decode_from::<ApplicationException>(input);
}

fn with_header(ttype: TType, size: i32, tail: &[u8]) -> Vec<u8> {
    let mut bytes = vec![ttype.id()];
    bytes.extend_from_slice(&size.to_be_bytes());
    bytes.extend_from_slice(tail);
    bytes
}

fn hostile_inputs() -> Vec<(&'static str, Vec<u8>)> {
    let mut deep_lists = Vec::new();
    for _ in 0..10_000 {
        deep_lists.extend_from_slice(&[TType::List.id(), 0, 0, 0, 1]);
    }
    let deep_structs = [TType::Struct.id(), 0, 1].repeat(10_000);
    let mut deep_message = vec![0x80, 1, 0, 1, 0, 0, 0, 1, b'e', 0, 0, 0, 1];
    deep_message.extend_from_slice(&deep_structs);
    vec![
        (
            "frame length 0x7fffffff, no body",
            0x7fff_ffffi32.to_be_bytes().to_vec(),
        ),
        (
            "http request",
            b"GET / HTTP/1.1\r\nHost: tether\r\n\r\n".to_vec(),
        ),
        ("negative string size", (-1i32).to_be_bytes().to_vec()),
        ("i32::MIN string size", i32::MIN.to_be_bytes().to_vec()),
        ("negative list size", with_header(TType::I32, -7, &[0; 8])),
        (
            "negative map size",
            vec![11, 11, 0xff, 0xff, 0xff, 0xf0, 0, 0],
        ),
        (
            "100 MiB string, 0 bytes",
            (100i32 << 20).to_be_bytes().to_vec(),
        ),
        ("1 MB string, 0 bytes", 1_000_000i32.to_be_bytes().to_vec()),
        (
            "list of 2^31-1 bools",
            with_header(TType::Bool, i32::MAX, &[1; 16]),
        ),
        (
            "list of 2^31-1 strings",
            with_header(TType::String, i32::MAX, &[0; 16]),
        ),
        (
            "list of 0x40000000 i32",
            with_header(TType::I32, 0x4000_0000, &[0; 64]),
        ),
        // Under the frame limit: only the remaining-bytes check stands between these and a
        // preallocation sized by the peer.
        (
            "list of 1,000,000 strings",
            with_header(TType::String, 1_000_000, &[0; 16]),
        ),
        (
            "set of 1,000,000 i64",
            with_header(TType::I64, 1_000_000, &[0; 16]),
        ),
        (
            "list of 1,000,000 lists",
            with_header(TType::List, 1_000_000, &[0; 16]),
        ),
        (
            "map of 1,000,000 entries",
            vec![11, 11, 0, 0x0f, 0x42, 0x40, 0, 0, 0, 0],
        ),
        (
            "map of 2^31-1 entries",
            vec![11, 11, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0],
        ),
        ("lists nested 10,000 deep", deep_lists),
        ("structs nested 10,000 deep", deep_structs),
        ("message nested 10,000 deep", deep_message),
        ("invalid type in skip", vec![5, 0, 1, 7, 0, 1, 0]),
        ("empty", Vec::new()),
    ]
}

#[test]
fn hostile_inputs_never_allocate_more_than_their_own_size() {
    for (what, input) in hostile_inputs() {
        assert_bounded(what, &input, hostile_bound, decode_everything);
    }
}

#[test]
fn hostile_inputs_at_every_length_allocate_within_the_bound() {
    // Every prefix too: a reader sees a message grow byte by byte.
    for (what, input) in hostile_inputs() {
        for cut in (0..input.len()).step_by(1 + input.len() / 64) {
            assert_bounded(what, &input[..cut], hostile_bound, decode_everything);
        }
    }
}

#[test]
fn dense_valid_inputs_stay_within_the_bound() {
    // The worst honest ratios: the most elements the bytes allow, each as small as it encodes.
    let empty_strings = encode_to_vec(&vec![String::new(); 10_000]);
    assert_bounded("10,000 empty strings", &empty_strings, dense_bound, |b| {
        let v: Vec<String> = decode_from(b).unwrap();
        assert_eq!(v.len(), 10_000);
    });
    let set = encode_to_vec(
        &(0..5_000)
            .map(|i| i.to_string())
            .collect::<HashSet<String>>(),
    );
    assert_bounded("set of 5,000 short strings", &set, dense_bound, |b| {
        let _: HashSet<String> = decode_from(b).unwrap();
    });
    let bools = encode_to_vec(&vec![true; 100_000]);
    assert_bounded("100,000 bools", &bools, dense_bound, |b| {
        let _: Vec<bool> = decode_from(b).unwrap();
    });
    let empty_lists = encode_to_vec(&vec![Vec::<Vec<i64>>::new(); 5_000]);
    assert_bounded("5,000 empty lists", &empty_lists, dense_bound, |b| {
        let _: Vec<Vec<Vec<i64>>> = decode_from(b).unwrap();
    });
    let map = encode_to_vec(
        &(0..5_000i32)
            .map(|i| (i, HashSet::new()))
            .collect::<BTreeMap<i32, HashSet<i16>>>(),
    );
    assert_bounded("map of 5,000 empty sets", &map, dense_bound, |b| {
        let _: BTreeMap<i32, HashSet<i16>> = decode_from(b).unwrap();
    });
    let blob = encode_to_vec(&vec![7u8; 1 << 20]);
    assert_bounded("1 MiB binary", &blob, dense_bound, |b| {
        let _: Vec<u8> = decode_from(b).unwrap();
    });
}

#[test]
fn a_lying_length_costs_nothing_while_a_true_one_costs_its_bytes() {
    // The counter itself works: decoding a real 1 MiB binary holds about 1 MiB.
    let blob = encode_to_vec(&vec![7u8; 1 << 20]);
    let peak = peak_of(|| {
        let v: Vec<u8> = decode_from(&blob).unwrap();
        assert_eq!(v.len(), 1 << 20);
    });
    assert!(peak >= 1 << 20, "counting allocator saw only {peak} bytes");
    // The same length with the bytes missing allocates nothing at all.
    let peak = peak_of(|| {
        let r = Vec::<u8>::decode(&mut Reader::new(&blob[..4]));
        assert!(r.is_err());
    });
    assert_eq!(peak, 0);
}

// ---- compact protocol and THeader ---------------------------------------------------------------

fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
    out
}

fn compact_reader(input: &[u8], limits: Limits) -> Reader<'_> {
    Reader::with_protocol(input, Protocol::Compact, limits)
}

/// Walks `input` with every compact entry point: header then body, and skip of each type.
fn decode_everything_compact(input: &[u8]) {
    let mut r = compact_reader(input, Limits::default());
    if r.read_message_begin().is_ok() {
        let _ = r.skip(TType::Struct);
    }
    for ttype in [
        TType::Struct,
        TType::List,
        TType::Set,
        TType::Map,
        TType::String,
        TType::Uuid,
    ] {
        let _ = compact_reader(input, Limits::default()).skip(ttype);
    }
    let mut r = compact_reader(input, Limits::default());
    let _ = r.read_bytes();
    let _ = r.read_list_begin();
    let _ = r.read_map_begin();
}

fn compact_hostile_inputs() -> Vec<(&'static str, Vec<u8>)> {
    let with = |head: Vec<u8>, tail: &[u8]| [head, tail.to_vec()].concat();
    let mut deep_message = vec![0x82, 0x21, 1, 1, b'e'];
    deep_message.extend_from_slice(&[0x1c].repeat(10_000));
    vec![
        (
            "list of 2^31-1 strings",
            with([vec![0xf8], varint(i32::MAX as u64)].concat(), &[0; 16]),
        ),
        (
            "list of 1,000,000 i64",
            with([vec![0xf6], varint(1_000_000)].concat(), &[0; 16]),
        ),
        (
            "set of 1,000,000 lists",
            with([vec![0xf9], varint(1_000_000)].concat(), &[0; 16]),
        ),
        (
            "map of 1,000,000 entries",
            with([varint(1_000_000), vec![0x88]].concat(), &[0; 16]),
        ),
        (
            "map of 2^31-1 entries",
            with([varint(i32::MAX as u64), vec![0x55]].concat(), &[0; 16]),
        ),
        ("100 MiB string, 0 bytes", varint(100 << 20)),
        ("negative string size", varint(u32::MAX as u64)),
        ("11-byte varint", with(vec![0x80; 10], &[0])),
        ("structs nested 10,000 deep", [0x1c].repeat(10_000)),
        ("lists nested 10,000 deep", [0x19].repeat(10_000)),
        ("message nested 10,000 deep", deep_message),
        ("invalid field type", vec![0x1e, 0, 0]),
        ("empty", Vec::new()),
    ]
}

#[test]
fn compact_hostile_inputs_never_allocate_more_than_their_own_size() {
    for (what, input) in compact_hostile_inputs() {
        for cut in (0..=input.len()).step_by(1 + input.len() / 64) {
            assert_bounded(
                what,
                &input[..cut],
                hostile_bound,
                decode_everything_compact,
            );
        }
    }
}

#[test]
fn compact_nesting_past_the_default_depth_costs_a_few_bytes_per_level() {
    // Only a depth limit raised above 64 lets the reader's field id stack spill to the heap;
    // each level still needs an input byte, and costs at most a doubling Vec's 4 bytes.
    // 1,000: deep enough to spill; a debug build's skip frames need more than a test thread's
    // 2 MiB of stack for that, so it runs on a thread with 64 MiB.
    let deep = [0x1c].repeat(1_000);
    let limits = Limits::default().max_depth(2_000);
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            assert_bounded("1,000 structs, depth 2,000", &deep, dense_bound, |b| {
                let _ = compact_reader(b, limits).skip(TType::Struct);
            });
        })
        .unwrap()
        .join()
        .unwrap();
}

fn header_raw(headers: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut body = vec![0x0f, 0xff, 0, 0, 0, 0, 0, 1];
    body.extend_from_slice(&((headers.len() / 4) as u16).to_be_bytes());
    body.extend_from_slice(headers);
    body.extend_from_slice(payload);
    [(body.len() as u32).to_be_bytes().to_vec(), body].concat()
}

#[test]
fn header_frames_without_zlib_allocate_nothing() {
    let mut info = vec![0, 0, 1];
    info.extend_from_slice(&varint(1_000_000));
    info.resize(info.len().next_multiple_of(4), 0);
    let inputs = [
        (
            "frame length 0x7fffffff",
            0x7fff_ffffu32.to_be_bytes().to_vec(),
        ),
        ("1,000,000 info headers in 8 bytes", header_raw(&info, b"")),
        (
            "key of 2^32 bytes",
            header_raw(&[0, 0, 1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0], b""),
        ),
        ("header size past the frame", {
            let mut f = header_raw(&[0, 0, 0, 0], b"");
            f[13] = 0xff;
            f
        }),
        ("unknown transform", header_raw(&[0, 1, 9, 0], b"payload")),
        (
            "a frame with info headers",
            header_raw(&[0, 0, 1, 1, 1, b'k', 1, b'v'], &[0x82; 100]),
        ),
    ];
    for (what, input) in inputs {
        for cut in 0..=input.len() {
            assert_bounded(
                what,
                &input[..cut],
                |_| 0,
                |b| {
                    if let Ok(HeaderStatus::Complete { frame, .. }) = parse_header_frame(b, 1 << 20)
                    {
                        let _ = frame.info_headers().count();
                    }
                },
            );
        }
    }
}

#[test]
fn a_zlib_bomb_costs_at_most_the_frame_limit() {
    use std::io::Write;
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(&vec![0; 8 << 20]).unwrap();
    let bomb = header_raw(&[0, 1, 1, 0], &e.finish().unwrap());
    const MAX_FRAME: usize = 256 * 1024;
    let max_frame = MAX_FRAME;
    // The output doubles up to max_frame + 1 bytes and a moving realloc holds old and new;
    // the inflater's own state (a 32 KiB window and its tables) comes on top.
    let bound = |input: usize| 2 * (MAX_FRAME + 1) + input + 64 * 1024;
    assert_bounded("8 MiB of zeros in zlib", &bomb, bound, |b| {
        let err = parse_header_frame(b, max_frame).unwrap_err();
        assert!(matches!(
            err,
            HeaderError::Protocol(ProtocolError::SizeLimit { .. })
        ));
    });
}
