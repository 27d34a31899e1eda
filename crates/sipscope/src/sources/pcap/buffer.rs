//! A refillable read buffer over any `Read`: records are parsed in place (no copy per packet)
//! and the unread tail is moved to the front when more bytes are needed.

use std::io::Read;

/// Initial capacity: large reads keep system calls and decompression efficient.
const CAPACITY: usize = 4 << 20;

pub(crate) struct ReadBuffer<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    /// Bytes consumed before `buf[start]`, for error offsets.
    consumed: u64,
}

impl<R: Read> ReadBuffer<R> {
    pub(crate) fn new(inner: R) -> Self {
        ReadBuffer { inner, buf: vec![0; CAPACITY], start: 0, end: 0, eof: false, consumed: 0 }
    }

    /// The unread bytes.
    pub(crate) fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Offset in the input of the first unread byte.
    pub(crate) fn offset(&self) -> u64 {
        self.consumed
    }

    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.consumed += n as u64;
    }

    /// Makes at least `n` bytes available if the input has them; returns how many are.
    pub(crate) fn fill(&mut self, n: usize) -> std::io::Result<usize> {
        while self.end - self.start < n && !self.eof {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.buf.len() < n {
                self.buf.resize(n.next_power_of_two(), 0);
            }
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(read) => self.end += read,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.end - self.start)
    }
}

impl<R> ReadBuffer<R> {
    /// The last `len` bytes consumed; valid until the next `fill`, which may move them.
    pub(crate) fn consumed_tail(&self, len: usize) -> &[u8] {
        &self.buf[self.start - len.min(self.start)..self.start]
    }
}
