//! THeader framing (Apache's doc/specs/HeaderFormat.md), without I/O: parse one frame from a
//! byte buffer, encode one into a `Vec<u8>`.
//!
//! ```text
//! length: i32 | magic 0x0FFF: u16 | flags: u16 | seqid: i32 | header size / 4: u16 |
//! protocol id: varint | transform count: varint | transform ids: varint... |
//! info blocks: (id: varint, data)... | 0x00 padding to 4 bytes | payload
//! ```
//!
//! The payload is one message in the binary or compact protocol, possibly zlib-compressed.
//! Info headers (block id 1: a varint count of varint-length key and value byte strings) carry
//! metadata such as Envoy's `:drain`. Parsing borrows everything from the input except an
//! inflated payload, which is capped at the frame limit, so memory grows with the bytes received
//! (or, for zlib, at most to `max_frame` plus the inflater's 32 KiB window and tables), never
//! with a size a peer declared.

use std::borrow::Cow;
use std::fmt;

use std::thread;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use parking_lot::Mutex;

use super::frame::{parse_framed, FrameStatus, FRAME_HEADER_LEN};
use crate::protocol::{ApplicationExceptionKind, Protocol, ProtocolError};

/// The info header a draining server sets on its replies (Envoy's thrift_proxy key): the
/// client sends nothing new on that connection and retires it once its replies are in.
pub const DRAIN_HEADER: &[u8] = b":drain";

/// The high half of a THeader frame's second word.
pub const HEADER_MAGIC: u16 = 0x0fff;

/// Magic, flags, seqid and header size: the fixed bytes between the length and the headers.
const FIXED_LEN: usize = 10;

/// The spec's largest frame: below 0x40000000 so a THeader length is never taken for
/// another transport's first word.
const SPEC_MAX_FRAME: usize = 0x3fff_ffff;

/// The largest frame, as the spec bounds it and `max_frame` may bound it further.
pub(super) fn max_header_frame(max_frame: usize) -> usize {
    max_frame.min(SPEC_MAX_FRAME)
}

/// The sequence id and protocol of a frame body that [`parse_body`] refused, as far as they
/// can be read, so the error answer goes back under them: seqid 0 and binary when the body is
/// too short or names no known protocol.
pub(super) fn error_reply_meta(body: &[u8]) -> (i32, Protocol) {
    let seqid = body
        .get(4..8)
        .map_or(0, |b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    let protocol = match body.get(FIXED_LEN).map(|&id| u64::from(id)) {
        Some(PROTOCOL_COMPACT) => Protocol::Compact,
        _ => Protocol::Binary,
    };
    (seqid, protocol)
}

/// The header size field counts 4-byte words in a u16.
const MAX_HEADER_LEN: usize = u16::MAX as usize * 4;

const TRANSFORM_ZLIB: u64 = 1;
const INFO_KEY_VALUE: u64 = 1;
const PROTOCOL_BINARY: u64 = 0;
const PROTOCOL_COMPACT: u64 = 2;

/// A varint in the header is at most 10 bytes (a u64).
const MAX_VARINT_LEN: usize = 10;

/// THeader's id for the protocol of a payload: binary 0, compact 2.
fn protocol_id(protocol: Protocol) -> u64 {
    match protocol {
        Protocol::Binary => PROTOCOL_BINARY,
        Protocol::Compact => PROTOCOL_COMPACT,
    }
}

/// Why a THeader frame could not be parsed or encoded.
#[derive(Debug)]
#[non_exhaustive]
pub enum HeaderError {
    /// The frame broke the format: a bad length, magic, varint or size.
    Protocol(ProtocolError),
    /// A transform this side does not implement; the spec requires an error answer.
    UnknownTransform {
        /// The transform id that was read.
        id: u64,
    },
    /// A protocol id other than binary (0) or compact (2).
    UnknownProtocol {
        /// The protocol id that was read.
        id: u64,
    },
    /// The zlib payload is corrupt.
    Inflate(flate2::DecompressError),
    /// Info headers to encode do not fit the 16-bit header size (262,140 bytes).
    HeadersTooLarge {
        /// The encoded size of the headers in bytes.
        size: usize,
    },
}

impl HeaderError {
    /// The exception kind a server answers with: `InvalidTransform` for an unknown transform
    /// (the spec's "MUST"), `InvalidProtocol` for an unknown protocol, else `ProtocolError`.
    pub fn exception_kind(&self) -> ApplicationExceptionKind {
        match self {
            HeaderError::UnknownTransform { .. } => ApplicationExceptionKind::InvalidTransform,
            HeaderError::UnknownProtocol { .. } => ApplicationExceptionKind::InvalidProtocol,
            HeaderError::Protocol(e) => e.exception_kind(),
            _ => ApplicationExceptionKind::ProtocolError,
        }
    }
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::Protocol(_) => f.write_str("malformed theader frame"),
            HeaderError::UnknownTransform { id } => write!(f, "unknown theader transform {id}"),
            HeaderError::UnknownProtocol { id } => write!(f, "unknown theader protocol id {id}"),
            HeaderError::Inflate(_) => f.write_str("corrupt zlib payload"),
            HeaderError::HeadersTooLarge { size } => {
                write!(f, "theader info headers of {size} bytes exceed 262140")
            }
        }
    }
}

impl std::error::Error for HeaderError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HeaderError::Protocol(e) => Some(e),
            HeaderError::Inflate(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ProtocolError> for HeaderError {
    fn from(e: ProtocolError) -> Self {
        HeaderError::Protocol(e)
    }
}

fn invalid(reason: &'static str) -> HeaderError {
    HeaderError::Protocol(ProtocolError::InvalidData { reason })
}

/// Whether the framed bytes at the start of `buf` are a THeader frame (magic at bytes 4..6).
/// `None` until six bytes are buffered.
pub fn is_header_frame(buf: &[u8]) -> Option<bool> {
    let magic = buf.get(FRAME_HEADER_LEN..FRAME_HEADER_LEN + 2)?;
    Some(u16::from_be_bytes([magic[0], magic[1]]) == HEADER_MAGIC)
}

/// What [`parse_header_frame`] found at the start of a buffer.
#[derive(Debug)]
pub enum HeaderStatus<'a> {
    /// One whole frame.
    Complete {
        /// The frame, borrowing from the buffer.
        frame: HeaderFrame<'a>,
        /// How many bytes to drop from the buffer's start once the frame is handled.
        consumed: usize,
    },
    /// The frame has started but is not whole yet.
    Incomplete {
        /// At least this many more bytes are needed.
        needed: usize,
    },
}

/// One parsed THeader frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderFrame<'a> {
    /// The flags word, passed through as received.
    pub flags: u16,
    /// The frame's sequence id (THeader's own, beside the message's).
    pub seqid: i32,
    /// The protocol of the payload.
    pub protocol: Protocol,
    /// Whether the payload arrived zlib-compressed (and a reply should be too).
    pub zlib: bool,
    info: &'a [u8],
    payload: Cow<'a, [u8]>,
}

impl<'a> HeaderFrame<'a> {
    /// The message: borrowed from the input, or inflated when the frame was compressed.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The message, owned or borrowed.
    pub fn into_payload(self) -> Cow<'a, [u8]> {
        self.payload
    }

    /// Every key/value info header in wire order, duplicates included.
    pub fn info_headers(&self) -> InfoHeaders<'a> {
        InfoHeaders {
            rest: self.info,
            left_in_block: 0,
        }
    }

    /// The value of the last info header named `key`, as a later one overrides an earlier one
    /// in Apache's libraries.
    pub fn info_header(&self, key: &[u8]) -> Option<&'a [u8]> {
        self.info_headers()
            .filter(|(k, _)| *k == key)
            .last()
            .map(|(_, v)| v)
    }
}

/// The key/value info headers of a frame, as `(key, value)` byte strings.
#[derive(Debug, Clone)]
pub struct InfoHeaders<'a> {
    rest: &'a [u8],
    left_in_block: u64,
}

impl<'a> Iterator for InfoHeaders<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        // The section was validated by the parser, so every read here succeeds; a failure
        // would only end the iteration early.
        let mut cursor = Cursor {
            buf: self.rest,
            pos: 0,
        };
        while self.left_in_block == 0 {
            if cursor.varint().ok()? != INFO_KEY_VALUE {
                return None;
            }
            self.left_in_block = cursor.varint().ok()?;
        }
        let key = cursor.string().ok()?;
        let value = cursor.string().ok()?;
        self.left_in_block -= 1;
        self.rest = &self.rest[cursor.pos..];
        Some((key, value))
    }
}

/// Reads varints and strings from the header section, which ends where the header size says.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn byte(&mut self) -> Result<u8, HeaderError> {
        let byte = *self
            .buf
            .get(self.pos)
            .ok_or(invalid("theader headers end early"))?;
        self.pos += 1;
        Ok(byte)
    }

    fn varint(&mut self) -> Result<u64, HeaderError> {
        let mut value = 0u64;
        for i in 0..MAX_VARINT_LEN {
            let byte = self.byte()?;
            if i == MAX_VARINT_LEN - 1 && byte > 1 {
                return Err(invalid("theader varint overflows 64 bits"));
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        unreachable!("the 10th byte either ends the varint or is an error")
    }

    fn string(&mut self) -> Result<&'a [u8], HeaderError> {
        let len = self.varint()?;
        let left = (self.buf.len() - self.pos) as u64;
        if len > left {
            return Err(HeaderError::Protocol(ProtocolError::SizeLimit {
                size: len,
                limit: left,
            }));
        }
        let bytes = &self.buf[self.pos..self.pos + len as usize];
        self.pos += len as usize;
        Ok(bytes)
    }
}

/// Parses the THeader frame at the start of `buf`, length word included.
///
/// The frame must fit `max_frame` (and the spec's 0x3FFFFFFF); an incomplete frame is reported
/// as soon as its length is known, an oversized one as an error before its body is awaited.
/// Unknown transforms are [`HeaderError::UnknownTransform`]; info blocks of unknown id end the
/// info section, as the spec allows (the header size says where the payload starts). A zlib
/// payload is inflated up to `max_frame` bytes; more is a [`ProtocolError::SizeLimit`].
pub fn parse_header_frame(buf: &[u8], max_frame: usize) -> Result<HeaderStatus<'_>, HeaderError> {
    let max_frame = max_frame.min(SPEC_MAX_FRAME);
    let (body, consumed) = match parse_framed(buf, max_frame)? {
        FrameStatus::Incomplete { needed } => return Ok(HeaderStatus::Incomplete { needed }),
        FrameStatus::Complete { message, consumed } => (&buf[message], consumed),
    };
    let frame = parse_body(body, max_frame)?;
    Ok(HeaderStatus::Complete { frame, consumed })
}

/// Parses a THeader frame's body: `body` starts at the magic, after the length word, which
/// the caller checked against `max_frame`.
pub(super) fn parse_body(body: &[u8], max_frame: usize) -> Result<HeaderFrame<'_>, HeaderError> {
    let max_frame = max_frame.min(SPEC_MAX_FRAME);
    if body.len() < FIXED_LEN {
        return Err(invalid("theader frame shorter than its fixed header"));
    }
    let word = |at: usize| u16::from_be_bytes([body[at], body[at + 1]]);
    if word(0) != HEADER_MAGIC {
        return Err(invalid("no theader magic"));
    }
    let flags = word(2);
    let seqid = i32::from_be_bytes([body[4], body[5], body[6], body[7]]);
    let header_len = usize::from(word(8)) * 4;
    let rest = &body[FIXED_LEN..];
    if header_len > rest.len() {
        return Err(HeaderError::Protocol(ProtocolError::SizeLimit {
            size: header_len as u64,
            limit: rest.len() as u64,
        }));
    }
    let (headers, payload) = rest.split_at(header_len);
    let mut cursor = Cursor {
        buf: headers,
        pos: 0,
    };
    let protocol = match cursor.varint()? {
        PROTOCOL_BINARY => Protocol::Binary,
        PROTOCOL_COMPACT => Protocol::Compact,
        id => return Err(HeaderError::UnknownProtocol { id }),
    };
    let mut zlib = false;
    // Each transform id takes at least one byte, so the count is bounded by the section.
    let transforms = cursor.varint()?;
    for _ in 0..transforms {
        match cursor.varint()? {
            TRANSFORM_ZLIB if !zlib => zlib = true,
            TRANSFORM_ZLIB => return Err(invalid("theader zlib transform listed twice")),
            id => return Err(HeaderError::UnknownTransform { id }),
        }
    }
    let info_start = cursor.pos;
    let mut info_end = info_start;
    while !cursor.at_end() {
        if cursor.varint()? != INFO_KEY_VALUE {
            // Padding (id 0) or an info id newer than this side: the rest is skippable.
            break;
        }
        let count = cursor.varint()?;
        for _ in 0..count {
            cursor.string()?;
            cursor.string()?;
        }
        info_end = cursor.pos;
    }
    let payload = if zlib {
        Cow::Owned(inflate(payload, max_frame)?)
    } else {
        Cow::Borrowed(payload)
    };
    Ok(HeaderFrame {
        flags,
        seqid,
        protocol,
        zlib,
        info: &headers[info_start..info_end],
        payload,
    })
}

/// Inflates a zlib stream to at most `max` bytes. The output grows with what actually
/// inflates, so a short bomb costs at most `max` bytes before it is refused.
fn inflate(input: &[u8], max: usize) -> Result<Vec<u8>, HeaderError> {
    let mut inflater = Decompress::new(true);
    // One byte past the cap, so a payload of exactly `max` bytes can end with room to spare.
    let cap = max.saturating_add(1);
    // A first guess of twice the input, grown by doubling.
    let mut out = Vec::with_capacity(input.len().saturating_mul(2).clamp(64, cap));
    loop {
        let (before_in, before_out) = (inflater.total_in(), inflater.total_out());
        let status = inflater
            .decompress_vec(
                &input[before_in as usize..],
                &mut out,
                FlushDecompress::None,
            )
            .map_err(HeaderError::Inflate)?;
        if out.len() > max {
            return Err(too_large(out.len(), max));
        }
        if status == Status::StreamEnd {
            if (inflater.total_in() as usize) < input.len() {
                return Err(invalid("bytes after the zlib stream"));
            }
            return Ok(out);
        }
        if out.len() == out.capacity() {
            let grown = out.capacity().saturating_mul(2).min(cap);
            out.reserve_exact(grown - out.len());
        } else if (inflater.total_in(), inflater.total_out()) == (before_in, before_out) {
            // Room to write, yet no progress: the input ended inside the stream.
            return Err(invalid("zlib stream ends early"));
        }
    }
}

fn too_large(size: usize, max: usize) -> HeaderError {
    HeaderError::Protocol(ProtocolError::SizeLimit {
        size: size as u64,
        limit: max as u64,
    })
}

/// What to put in front of a payload when encoding a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderMeta<'h> {
    /// The flags word. Defaults to 0.
    pub flags: u16,
    /// The frame's sequence id; a reply echoes the request's.
    pub seqid: i32,
    /// The payload's protocol.
    pub protocol: Protocol,
    /// Compress the payload with zlib.
    pub zlib: bool,
    /// Key/value info headers, written in order as one block (e.g. `(b":drain", b"true")`).
    pub info: &'h [(&'h [u8], &'h [u8])],
}

/// Where [`begin_header_frame`] left a frame, for [`finish_header_frame`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a THeader frame is not valid until finish_header_frame patches its length"]
pub struct HeaderFrameStart {
    at: usize,
    payload_at: usize,
    zlib: bool,
}

/// Appends a frame's length placeholder and headers; the caller then appends the payload and
/// calls [`finish_header_frame`]. So a reply is encoded in place, with no copy unless it is
/// compressed.
pub fn begin_header_frame(
    out: &mut Vec<u8>,
    meta: &HeaderMeta<'_>,
) -> Result<HeaderFrameStart, HeaderError> {
    let mut headers = Vec::new();
    put_varint(&mut headers, protocol_id(meta.protocol));
    if meta.zlib {
        put_varint(&mut headers, 1);
        put_varint(&mut headers, TRANSFORM_ZLIB);
    } else {
        put_varint(&mut headers, 0);
    }
    if !meta.info.is_empty() {
        put_varint(&mut headers, INFO_KEY_VALUE);
        put_varint(&mut headers, meta.info.len() as u64);
        for (key, value) in meta.info {
            put_varint(&mut headers, key.len() as u64);
            headers.extend_from_slice(key);
            put_varint(&mut headers, value.len() as u64);
            headers.extend_from_slice(value);
        }
    }
    let padded = headers.len().next_multiple_of(4);
    if padded > MAX_HEADER_LEN {
        return Err(HeaderError::HeadersTooLarge { size: padded });
    }
    headers.resize(padded, 0);
    let at = out.len();
    out.extend_from_slice(&[0; FRAME_HEADER_LEN]);
    out.extend_from_slice(&HEADER_MAGIC.to_be_bytes());
    out.extend_from_slice(&meta.flags.to_be_bytes());
    out.extend_from_slice(&meta.seqid.to_be_bytes());
    out.extend_from_slice(&((padded / 4) as u16).to_be_bytes());
    out.extend_from_slice(&headers);
    Ok(HeaderFrameStart {
        at,
        payload_at: out.len(),
        zlib: meta.zlib,
    })
}

/// Compresses the payload appended since [`begin_header_frame`] if asked to, then patches the
/// frame's length.
///
/// # Panics
/// If the frame exceeds the spec's 0x3FFFFFFF bytes: a bug in the caller, never peer input.
pub fn finish_header_frame(out: &mut Vec<u8>, start: HeaderFrameStart) {
    if start.zlib {
        let compressed = deflate(&out[start.payload_at..]);
        out.truncate(start.payload_at);
        out.extend_from_slice(&compressed);
    }
    let len = out.len() - start.at - FRAME_HEADER_LEN;
    assert!(
        len <= SPEC_MAX_FRAME,
        "a THeader frame must not exceed 0x3FFFFFFF bytes"
    );
    out[start.at..start.at + FRAME_HEADER_LEN].copy_from_slice(&(len as u32).to_be_bytes());
}

/// Appends a whole frame around `payload`.
pub fn encode_header_frame(
    out: &mut Vec<u8>,
    meta: &HeaderMeta<'_>,
    payload: &[u8],
) -> Result<(), HeaderError> {
    let start = begin_header_frame(out, meta)?;
    out.extend_from_slice(payload);
    finish_header_frame(out, start);
    Ok(())
}

/// Compressors kept for reuse. miniz_oxide builds a compressor's tables (about 300 KiB) on the
/// stack before boxing them, at least in unoptimised builds: more than a server worker's
/// 256 KiB stack holds. So a compressor is made on a short-lived thread with a larger stack and
/// kept, reset, for the next reply; at most [`SPARE_COMPRESSORS`] wait (8: about 2.5 MB).
static COMPRESSORS: Mutex<Vec<Compress>> = Mutex::new(Vec::new());
const SPARE_COMPRESSORS: usize = 8;
/// 4 MiB: ample for the tables; the thread lives only while one is made.
const MAKER_STACK: usize = 4 << 20;

fn new_compressor() -> Compress {
    let made = thread::Builder::new()
        .name("tether-zlib".into())
        .stack_size(MAKER_STACK)
        .spawn(|| Compress::new(Compression::default(), true))
        .ok()
        .and_then(|maker| maker.join().ok());
    // Without a thread to spare, the caller's own stack has to do.
    made.unwrap_or_else(|| Compress::new(Compression::default(), true))
}

/// zlib at the default level (6), as Python's `zlib.compress` writes it.
fn deflate(input: &[u8]) -> Vec<u8> {
    let spare = COMPRESSORS.lock().pop();
    let mut deflater = spare.unwrap_or_else(new_compressor);
    let out = deflate_with(&mut deflater, input);
    deflater.reset();
    let mut spares = COMPRESSORS.lock();
    if spares.len() < SPARE_COMPRESSORS {
        spares.push(deflater);
    }
    out
}

fn deflate_with(deflater: &mut Compress, input: &[u8]) -> Vec<u8> {
    // zlib's own worst case: input plus 0.1% plus 12 bytes, and a little for the header.
    let mut out = Vec::with_capacity(input.len() + input.len() / 1000 + 64);
    loop {
        let consumed = deflater.total_in() as usize;
        let status = deflater
            .compress_vec(&input[consumed..], &mut out, FlushCompress::Finish)
            .expect("zlib compression of an in-memory buffer cannot fail");
        if status == Status::StreamEnd {
            return out;
        }
        out.reserve(out.capacity().max(64));
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[cfg(test)]
mod tests;
