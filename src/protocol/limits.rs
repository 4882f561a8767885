//! Bounds on what a peer may make the decoder do.

/// Apache Thrift's default maximum frame size, so frames one accepts the other accepts too.
pub const DEFAULT_MAX_FRAME: usize = 16_384_000;

/// 64 levels: far beyond any real schema, far below what would exhaust a worker's stack.
pub const DEFAULT_MAX_DEPTH: u32 = 64;

/// Limits applied while decoding; checked before any allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest frame (or unframed message) in bytes.
    pub max_frame: usize,
    /// Deepest nesting of structs and containers, for decoders and for skip.
    pub max_depth: u32,
    /// Longest string or binary in bytes, if capped below the frame size.
    pub max_string: Option<usize>,
    /// Most elements in one container, if capped.
    pub max_container: Option<usize>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame: DEFAULT_MAX_FRAME,
            max_depth: DEFAULT_MAX_DEPTH,
            max_string: None,
            max_container: None,
        }
    }
}

impl Limits {
    /// Sets the largest frame in bytes. Defaults to 16,384,000 (Apache Thrift's default).
    pub fn max_frame(mut self, bytes: usize) -> Self {
        self.max_frame = bytes;
        self
    }

    /// Sets the deepest nesting of structs and containers. Defaults to 64.
    pub fn max_depth(mut self, depth: u32) -> Self {
        self.max_depth = depth;
        self
    }

    /// Caps strings and binaries in bytes. Defaults to no cap beyond the frame size.
    pub fn max_string(mut self, bytes: Option<usize>) -> Self {
        self.max_string = bytes;
        self
    }

    /// Caps the element count of one container. Defaults to no cap beyond the frame size.
    pub fn max_container(mut self, elements: Option<usize>) -> Self {
        self.max_container = elements;
        self
    }
}
