//! Messages over byte streams: framing (pure, in [`frame`]) and socket options.

pub mod frame;
mod socket;

pub use frame::{detect, parse, parse_framed, parse_unframed, FrameStatus, Framing};
pub use socket::{configure, Keepalive};
