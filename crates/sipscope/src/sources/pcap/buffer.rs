//! A refillable read buffer over any `Read`: records are parsed in place (no copy per packet)
//! and the unread tail is moved to the front when more bytes are needed and what was consumed
//! before it is at least as long (else the buffer grows), so every byte is moved a bounded
//! number of times however the reader steps through it: a resynchronising reader that asks for
//! a whole large block at every few bytes must not copy that block at every step.

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
    /// Bytes moved to the front so far (for the tests of the bound above).
    moved: u64,
}

impl<R: Read> ReadBuffer<R> {
    pub(crate) fn new(inner: R) -> Self {
        ReadBuffer { inner, buf: vec![0; CAPACITY], start: 0, end: 0, eof: false, consumed: 0, moved: 0 }
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
    ///
    /// The buffer holds at most `2n` rounded up to a power of two (or its initial capacity).
    pub(crate) fn fill(&mut self, n: usize) -> std::io::Result<usize> {
        while self.end - self.start < n && !self.eof {
            let missing = n - (self.end - self.start);
            if self.end + missing > self.buf.len() {
                // Move the unread bytes only when they are no more than the consumed bytes
                // before them: each move is paid for by consumption, so the total moved stays
                // within the bytes read. Otherwise grow (then `start + n < 2n`).
                if self.start > 0 && self.start >= self.end - self.start {
                    self.buf.copy_within(self.start..self.end, 0);
                    self.moved += (self.end - self.start) as u64;
                    self.end -= self.start;
                    self.start = 0;
                }
                if self.end + missing > self.buf.len() {
                    self.buf.resize((self.end + missing).next_power_of_two(), 0);
                }
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

    /// Bytes moved to the front so far.
    #[cfg(test)]
    pub(crate) fn moved(&self) -> u64 {
        self.moved
    }
}

#[cfg(test)]
mod tests {
    use super::ReadBuffer;

    /// A resynchronising reader's steps: a whole 16 MiB block asked for, then a few bytes
    /// consumed, over and over. Moving the unread bytes at every step copied 16 MiB per step
    /// (terabytes over a 4 MiB search); now the bytes moved stay within the bytes read.
    #[test]
    fn asking_for_a_large_block_at_every_step_moves_each_byte_a_bounded_number_of_times() {
        let input = vec![7u8; 40 << 20];
        let mut b = ReadBuffer::new(&input[..]);
        let block = 16 << 20;
        let mut steps = 0u64;
        while b.fill(block).unwrap() >= block {
            b.consume(12);
            steps += 1;
        }
        assert!(steps > 2_000_000, "{steps} steps");
        assert!(b.moved() <= input.len() as u64, "{} bytes moved for {} read", b.moved(), input.len());
        assert!(b.buf.len() <= 2 * block, "buffer of {} bytes", b.buf.len());
    }

    #[test]
    fn bytes_survive_every_refill_in_order() {
        let input: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut b = ReadBuffer::new(&input[..]);
        let mut at = 0usize;
        for step in [1usize, 7, 4096, 5 << 20, 3, 1 << 20].iter().cycle() {
            let have = b.fill(*step).unwrap();
            if have == 0 {
                break;
            }
            assert_eq!(b.data()[..have.min(*step)], input[at..at + have.min(*step)]);
            b.consume(have.min(*step));
            at += have.min(*step);
        }
        assert_eq!(at, input.len());
    }
}
