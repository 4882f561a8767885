//! Messages over byte streams: framing (pure, in [`frame`]), socket options, read buffers and
//! deadline-bounded socket I/O.

mod buffer;
mod deadline;
pub mod frame;
mod socket;

pub use buffer::ReadBuffer;
pub use deadline::{deadline_after, DeadlineError, DeadlineStream};
pub use frame::{
    check_first_bytes, detect, parse, parse_framed, parse_unframed, Deframer, FrameStatus, Framing,
    UnframedScanner,
};
pub use socket::{configure, Keepalive};
