//! Messages over byte streams: framing (pure, in [`frame`]) and, over sockets, buffers and
//! deadlines.

pub mod frame;

pub use frame::{detect, parse, parse_framed, parse_unframed, FrameStatus, Framing};
