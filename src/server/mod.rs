//! The server: accept loop, one worker thread per connection, keep-alive lifecycle, drain.

mod processor;

pub use processor::{CallContext, Processor};
