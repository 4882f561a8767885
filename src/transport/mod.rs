//! Messages over byte streams: framing (pure, in [`frame`]), socket options, read buffers and
//! deadline-bounded socket I/O.

mod buffer;
mod deadline;
pub mod frame;
mod socket;

pub use buffer::ReadBuffer;
pub use deadline::{DeadlineError, DeadlineStream};
pub use frame::{detect, parse, parse_framed, parse_unframed, FrameStatus, Framing};
pub use socket::{configure, Keepalive};
