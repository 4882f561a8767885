//! Frame prefixes around an encoded message (values are written by [`super::Writer`]).
//!
//! Lengths above `i32::MAX` cannot be expressed in a frame; framing such a message panics, as
//! it is a bug in the caller, never something a peer can cause.

use byteorder::{BigEndian, ByteOrder};

fn len_i32(len: usize) -> i32 {
    i32::try_from(len).expect("thrift binary protocol lengths must fit in an i32")
}

/// Reserves four bytes for a frame length and returns where they are, for
/// [`finish_frame`] to patch once the body is written (no copy of the body).
pub fn begin_frame(out: &mut Vec<u8>) -> usize {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    at
}

/// Patches the length reserved by [`begin_frame`] at `at` with the size of what follows it.
pub fn finish_frame(out: &mut [u8], at: usize) {
    let len = len_i32(out.len() - at - 4);
    BigEndian::write_i32(&mut out[at..at + 4], len);
}
