//! The position, depth and limits a [`Reader`](super::Reader) shares between protocols.

use super::error::ProtocolError;
use super::limits::Limits;

/// Bytes of one message and how far decoding got; every protocol's reads go through
/// [`Cursor::take`], so none can read past the input.
#[derive(Debug, Clone)]
pub(super) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    depth: u32,
    pub(super) limits: Limits,
}

impl<'a> Cursor<'a> {
    #[inline]
    pub(super) fn new(buf: &'a [u8], limits: Limits) -> Self {
        Cursor {
            buf,
            pos: 0,
            depth: 0,
            limits,
        }
    }

    #[inline]
    pub(super) fn position(&self) -> usize {
        self.pos
    }

    #[inline]
    pub(super) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    #[inline]
    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], ProtocolError> {
        let remaining = self.remaining();
        if n > remaining {
            return Err(ProtocolError::UnexpectedEnd {
                needed: n - remaining,
            });
        }
        let bytes = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    #[inline]
    pub(super) fn read_u8(&mut self) -> Result<u8, ProtocolError> {
        Ok(self.take(1)?[0])
    }

    #[inline]
    pub(super) fn take_array<const N: usize>(&mut self) -> Result<[u8; N], ProtocolError> {
        let mut bytes = [0; N];
        bytes.copy_from_slice(self.take(N)?);
        Ok(bytes)
    }

    #[inline]
    pub(super) fn enter(&mut self) -> Result<(), ProtocolError> {
        if self.depth >= self.limits.max_depth {
            return Err(ProtocolError::DepthLimit {
                limit: self.limits.max_depth,
            });
        }
        self.depth += 1;
        Ok(())
    }

    #[inline]
    pub(super) fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// A size of `unit`-byte items, bounded by the frame limit and then by the remaining input.
    /// Past the frame limit is a hard error; within it but past the input is `UnexpectedEnd`,
    /// which an unframed reader treats as "wait for more bytes".
    #[inline]
    pub(super) fn checked_len(&self, size: u32, unit: usize) -> Result<usize, ProtocolError> {
        let total = u64::from(size).saturating_mul(unit as u64);
        let max = self.limits.max_frame as u64;
        if total > max {
            return Err(ProtocolError::SizeLimit {
                size: total,
                limit: max,
            });
        }
        let remaining = self.remaining() as u64;
        if total > remaining {
            return Err(ProtocolError::UnexpectedEnd {
                needed: (total - remaining) as usize,
            });
        }
        Ok(size as usize)
    }

    /// A container's element count: within `max_container`, then as [`Cursor::checked_len`].
    #[inline]
    pub(super) fn checked_container_len(
        &self,
        size: u32,
        unit: usize,
    ) -> Result<usize, ProtocolError> {
        if let Some(max) = self.limits.max_container {
            if size as usize > max {
                return Err(ProtocolError::SizeLimit {
                    size: size.into(),
                    limit: max as u64,
                });
            }
        }
        self.checked_len(size, unit)
    }

    /// Takes a string's or binary's bytes. The cap is checked before the remaining input, so
    /// an unframed reader rejects an oversized string at once instead of waiting for bytes it
    /// will refuse anyway.
    #[inline]
    pub(super) fn take_string(&mut self, size: u32) -> Result<&'a [u8], ProtocolError> {
        if let Some(max) = self.limits.max_string {
            if u64::from(size) > max as u64 {
                return Err(ProtocolError::SizeLimit {
                    size: size.into(),
                    limit: max as u64,
                });
            }
        }
        let len = self.checked_len(size, 1)?;
        self.take(len)
    }
}
