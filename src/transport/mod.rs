//! Messages over byte streams: the codec a connection speaks and the one place its framing is
//! written, finding message boundaries (pure), detection, THeader frames (pure), socket options,
//! read buffers and deadline-bounded socket I/O.

mod buffer;
mod codec;
mod deadline;
mod detect;
mod frame;
mod header;
mod socket;
#[cfg(test)]
mod test_messages;

pub use buffer::ReadBuffer;
pub use codec::{Codec, Envelope, Message, MessageStart};
pub use deadline::{deadline_after, DeadlineError, SocketDeadlines};
pub use detect::{check_first_bytes, detect, Deframer};
pub use frame::{
    parse_framed, parse_unframed, FrameStatus, Framing, UnframedScanner, FRAME_HEADER_LEN,
};
pub use header::{
    begin_header_frame, encode_header_frame, finish_header_frame, is_header_frame,
    parse_header_frame, HeaderError, HeaderFrame, HeaderFrameStart, HeaderMeta, HeaderStatus,
    InfoHeaders, DRAIN_HEADER, HEADER_MAGIC,
};
pub use socket::{configure, Keepalive};
