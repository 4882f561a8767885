//! A connection's read buffer: grows with bytes actually received, never with declared sizes.

use std::io::{self, Read};

/// Bytes received from a peer and not yet consumed.
///
/// The buffer only grows when it is full, and then doubles, so its size stays below twice the
/// bytes it holds (plus the initial size): a peer that declares a 16 MB frame and sends 10 bytes
/// costs the initial size, not 16 MB. [`ReadBuffer::release`] returns memory after a large
/// request so one big call does not pin megabytes on a connection for its whole life.
#[derive(Debug)]
pub struct ReadBuffer {
    data: Vec<u8>,
    start: usize,
    end: usize,
    initial: usize,
}

impl ReadBuffer {
    /// An empty buffer that allocates `initial` bytes on its first read.
    pub fn new(initial: usize) -> Self {
        ReadBuffer {
            data: Vec::new(),
            start: 0,
            end: 0,
            initial: initial.max(1),
        }
    }

    /// The buffered, unconsumed bytes.
    pub fn filled(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    /// How many bytes are buffered.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether no bytes are buffered.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Bytes allocated, for tests and stats.
    pub fn capacity(&self) -> usize {
        self.data.len()
    }

    /// Drops `n` bytes from the front (a handled message).
    pub fn consume(&mut self, n: usize) {
        assert!(n <= self.len(), "consumed more than is buffered");
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Frees memory beyond the initial size once the buffer is empty.
    pub fn release(&mut self) {
        if self.is_empty() && self.data.len() > self.initial {
            self.data = Vec::new();
        }
    }

    /// Takes the allocation of an empty buffer of the initial size, to be lent to another
    /// buffer; the buffer allocates again on its next read. `None` while bytes are buffered or
    /// when the allocation is not the initial size.
    pub fn take_storage(&mut self) -> Option<Vec<u8>> {
        if !self.is_empty() || self.data.len() != self.initial {
            return None;
        }
        self.start = 0;
        self.end = 0;
        Some(std::mem::take(&mut self.data))
    }

    /// Reads into `storage` (from [`take_storage`](ReadBuffer::take_storage)) instead of
    /// allocating; gives it back when this buffer has an allocation already or `storage` is
    /// not the initial size.
    pub fn lend_storage(&mut self, storage: Vec<u8>) -> Result<(), Vec<u8>> {
        if !self.data.is_empty() || storage.len() != self.initial {
            return Err(storage);
        }
        self.data = storage;
        self.start = 0;
        self.end = 0;
        Ok(())
    }

    /// Makes room at the end: moves buffered bytes to the front, or doubles when full.
    fn spare(&mut self) -> &mut [u8] {
        if self.end == self.data.len() {
            if self.start > 0 {
                self.data.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                let grown = (self.data.len() * 2).max(self.initial);
                self.data.resize(grown, 0);
            }
        }
        &mut self.data[self.end..]
    }

    /// One `read` call into the free space; returns the bytes read (0 at end of stream).
    pub fn read_from<R: Read>(&mut self, reader: &mut R) -> io::Result<usize> {
        let n = reader.read(self.spare())?;
        self.end += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_only_with_received_bytes() {
        let mut buf = ReadBuffer::new(16);
        let mut source: &[u8] = &[7; 100];
        while buf.read_from(&mut source).unwrap() > 0 {}
        assert_eq!(buf.len(), 100);
        assert!(
            buf.capacity() <= 2 * 100 + 16,
            "capacity {}",
            buf.capacity()
        );
        assert_eq!(buf.filled(), &[7; 100][..]);
    }

    #[test]
    fn storage_moves_only_between_empty_buffers_of_the_initial_size() {
        let mut first = ReadBuffer::new(8);
        assert_eq!(first.take_storage(), None, "nothing allocated yet");
        let mut source: &[u8] = b"abc";
        first.read_from(&mut source).unwrap();
        assert_eq!(first.take_storage(), None, "bytes are buffered");
        first.consume(3);
        let storage = first.take_storage().expect("empty, initial size");
        assert_eq!(first.capacity(), 0);

        let mut second = ReadBuffer::new(8);
        second.lend_storage(storage).unwrap();
        assert_eq!(second.capacity(), 8);
        let mut more: &[u8] = b"xyz";
        second.read_from(&mut more).unwrap();
        assert_eq!(second.filled(), b"xyz");
        assert!(second.lend_storage(vec![0; 8]).is_err(), "has its own");
        assert!(
            ReadBuffer::new(16).lend_storage(vec![0; 8]).is_err(),
            "wrong size"
        );
    }

    #[test]
    fn consume_compacts_and_release_shrinks() {
        let mut buf = ReadBuffer::new(8);
        let mut source: &[u8] = b"abcdefgh";
        buf.read_from(&mut source).unwrap();
        buf.consume(6);
        assert_eq!(buf.filled(), b"gh");
        let mut more: &[u8] = b"ij";
        buf.read_from(&mut more).unwrap();
        assert_eq!(buf.filled(), b"ghij");
        assert_eq!(buf.capacity(), 8, "moved to the front instead of growing");
        let mut big: &[u8] = &[1; 64];
        while buf.read_from(&mut big).unwrap() > 0 {}
        buf.consume(buf.len());
        buf.release();
        assert_eq!(buf.capacity(), 0);
    }
}
