//! Messages over byte streams: framing (pure, in [`frame`]), THeader frames (pure), socket
//! options, read buffers and deadline-bounded socket I/O.

mod buffer;
mod deadline;
pub mod frame;
mod header;
mod socket;

pub use buffer::ReadBuffer;
pub use deadline::{deadline_after, DeadlineError, SocketDeadlines};
pub use frame::{
    check_first_bytes, detect, parse, parse_framed, parse_unframed, Deframer, FrameStatus, Framing,
    UnframedScanner,
};
pub use header::{
    begin_header_frame, encode_header_frame, finish_header_frame, is_header_frame,
    parse_header_frame, HeaderError, HeaderFrame, HeaderFrameStart, HeaderMeta, HeaderProtocol,
    HeaderStatus, InfoHeaders, HEADER_MAGIC,
};
pub use socket::{configure, Keepalive};
