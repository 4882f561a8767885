//! raw_echo: the floor tether is measured against.
//!
//! One thread per connection; each reads a frame (a 4-byte big-endian length and the body) and
//! writes the same bytes back, with no Thrift decoding. Two bytes are patched in place so that
//! any Thrift client accepts the echo as the reply to `echo` or `ping` of idl/echo.thrift: a
//! call's arguments `{1: binary payload}` and its result `{0: binary success}` have the same
//! length, and differ only in the message type (CALL 1 -> REPLY 2) and the field id (1 -> 0).
//!
//! Usage: `raw_echo [ADDR]` (default 127.0.0.1:0). Prints `listening on ADDR` first on stdout.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

/// Apache Thrift's default maximum frame: anything larger is refused, as the others do.
const MAX_FRAME: usize = 16_384_000;

/// Initial read buffer: one syscall takes a whole 64 B or 1 KiB echo frame, and an idle
/// connection costs little more than this. Larger frames grow the buffer to fit.
const READ_CHUNK: usize = 4 * 1024;

fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = match TcpListener::bind(&addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("raw_echo: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    let local = listener.local_addr().expect("bound listener has an address");
    println!("listening on {local}");
    io::stdout().flush().ok();
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                let spawned = thread::Builder::new()
                    .name("raw-echo-conn".into())
                    // Small stacks so 1,000 idle connections cost what they would in a lean server.
                    .stack_size(64 * 1024)
                    .spawn(move || {
                        let _ = serve(stream);
                    });
                if let Err(e) = spawned {
                    eprintln!("raw_echo: cannot spawn a worker: {e}");
                }
            }
            Err(e) => eprintln!("raw_echo: accept failed: {e}"),
        }
    }
}

/// Echoes whole frames until the peer closes or breaks the framing. Every complete frame in the
/// buffer is echoed with one write, so pipelined requests cost one write per read.
fn serve(mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf: Vec<u8> = vec![0; READ_CHUNK];
    let mut filled = 0usize;
    loop {
        let wanted = filled + pending_frame_bytes(&buf[..filled]).max(1);
        if buf.len() < wanted {
            buf.resize(wanted, 0);
        }
        let n = stream.read(&mut buf[filled..])?;
        if n == 0 {
            return Ok(());
        }
        filled += n;
        let complete = complete_frames(&mut buf[..filled])?;
        if complete > 0 {
            stream.write_all(&buf[..complete])?;
            buf.copy_within(complete..filled, 0);
            filled -= complete;
        }
    }
}

/// Bytes still missing from the frame at the start of `buf` (already bounded by MAX_FRAME once
/// its length was checked), or 0 when unknown.
fn pending_frame_bytes(buf: &[u8]) -> usize {
    if buf.len() < 4 {
        return 0;
    }
    let len = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    (4 + len.max(0) as usize).saturating_sub(buf.len())
}

/// How many leading bytes of `buf` are whole frames (each turned into a reply); an invalid
/// length is an error.
fn complete_frames(buf: &mut [u8]) -> io::Result<usize> {
    let mut at = 0;
    while buf.len() - at >= 4 {
        let len = i32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]);
        if len <= 0 || len as usize > MAX_FRAME {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "bad frame length"));
        }
        let end = at + 4 + len as usize;
        if end > buf.len() {
            break;
        }
        turn_call_into_reply(&mut buf[at + 4..end]);
        at = end;
    }
    Ok(at)
}

/// Patches a strict CALL message in place into the REPLY that echoes it: message type 1 -> 2, and
/// a leading binary field 1 -> field 0 (`success`). Fixed offsets, no parsing of the body; any
/// other message is echoed untouched.
fn turn_call_into_reply(message: &mut [u8]) {
    // Strict header: 0x80 0x01 0x00 TYPE, name length (i32), name, seqid (i32).
    if message.len() < 8 || message[0..3] != [0x80, 0x01, 0x00] || message[3] != 1 {
        return;
    }
    message[3] = 2;
    let name_len = i32::from_be_bytes([message[4], message[5], message[6], message[7]]);
    let Ok(name_len) = usize::try_from(name_len) else {
        return;
    };
    let field = 8 + name_len + 4;
    // A binary (type 11) field with id 1.
    if message.len() >= field + 3 && message[field..field + 3] == [11, 0, 1] {
        message[field + 2] = 0;
    }
}
