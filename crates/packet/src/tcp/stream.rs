//! One direction of a TCP connection: sequence bookkeeping, out-of-order pieces, the
//! unconsumed buffer.

use super::{Delivery, Gap, Stream, StreamKey, TcpLimits, TcpStats};
use crate::pieces::Pieces;
use crate::transport::TcpFlags;

/// An emptied buffer with more capacity than this is shrunk, so idle streams stay small.
const SHRINK_ABOVE: usize = 64 << 10;
/// Consumed bytes are moved out of the buffer once they are this many and half of it.
const COMPACT_ABOVE: usize = 4 << 10;

impl Stream {
    pub(super) fn new(key: StreamKey, start_seq: u32, syn: bool, now: i64) -> Stream {
        Stream {
            key,
            start_seq,
            syn,
            next_seq: start_seq,
            next_off: 0,
            fin_off: None,
            finished: false,
            buf: Vec::new(),
            consumed: 0,
            pending: Pieces::default(),
            last_seen: now,
            stalled_since: now,
            stalled_key: None,
        }
    }

    /// Bytes held: unconsumed plus out of order.
    pub(super) fn held(&self) -> usize {
        self.buf.len() - self.consumed + self.pending.bytes()
    }

    pub(super) fn unconsumed(&self) -> &[u8] {
        self.buf.get(self.consumed..).unwrap_or_default()
    }

    /// Consumes up to `n` bytes; returns how many.
    pub(super) fn consume(&mut self, n: usize) -> usize {
        let n = n.min(self.buf.len() - self.consumed);
        self.consumed += n;
        if self.consumed == self.buf.len() {
            self.buf.clear();
            self.consumed = 0;
            if self.buf.capacity() > SHRINK_ABOVE {
                self.buf.shrink_to(SHRINK_ABOVE / 4);
            }
        } else if self.consumed >= COMPACT_ABOVE && self.consumed * 2 >= self.buf.len() {
            self.buf.drain(..self.consumed);
            self.consumed = 0;
        }
        n
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn segment(
        &mut self,
        now: i64,
        seq: u32,
        flags: TcpFlags,
        payload: &[u8],
        limits: &TcpLimits,
        stats: &mut TcpStats,
        d: &mut Delivery,
    ) {
        if self.finished {
            if !payload.is_empty() {
                stats.retransmitted += 1;
            }
            return;
        }
        let data_seq = if flags.contains(TcpFlags::SYN) { seq.wrapping_add(1) } else { seq };
        // Wrapping distance from the next expected byte: within ±2 GiB, as TCP requires.
        let rel = i64::from(data_seq.wrapping_sub(self.next_seq) as i32);
        let start = self.next_off as i64 + rel;
        let end = start + payload.len() as i64;
        if flags.contains(TcpFlags::FIN) && self.fin_off.is_none() && end >= self.next_off as i64 {
            self.set_fin(end as u64, stats);
        }
        // Cut to [next_off, fin_off): earlier bytes were delivered, later ones cannot exist.
        let lo = start.max(self.next_off as i64);
        let hi = self.fin_off.map_or(end, |f| end.min(f as i64));
        if !payload.is_empty() {
            if hi <= lo {
                stats.retransmitted += 1;
            } else {
                if lo > start {
                    stats.overlapping += 1;
                }
                let data = payload.get((lo - start) as usize..(hi - start) as usize).unwrap_or_default();
                let lo = lo as u64;
                if lo == self.next_off && self.pending.is_empty() {
                    self.deliver(now, data, limits, stats, d);
                } else {
                    if lo > self.next_off {
                        stats.out_of_order += 1;
                    }
                    if self.pending.is_empty() {
                        self.stalled_since = now;
                    }
                    self.pending.insert(lo, data).1.count(stats);
                    self.drain(now, limits, stats, d);
                }
            }
        }
        while self.pending.bytes() > limits.max_pending_bytes || self.pending.len() > limits.max_pending_segments {
            self.skip_gap(now, limits, stats, d);
        }
        let stalled = now.saturating_sub(self.stalled_since) >= limits.gap_timeout_ns;
        if flags.contains(TcpFlags::RST) || stalled {
            self.flush(now, limits, stats, d);
        }
        if flags.contains(TcpFlags::RST) {
            self.finish(stats);
        }
    }

    /// Skips every gap, delivering all out-of-order data.
    pub(super) fn flush(&mut self, now: i64, limits: &TcpLimits, stats: &mut TcpStats, d: &mut Delivery) {
        while !self.pending.is_empty() {
            self.skip_gap(now, limits, stats, d);
        }
    }

    fn set_fin(&mut self, fin: u64, stats: &mut TcpStats) {
        self.fin_off = Some(fin);
        // Out-of-order bytes past the FIN cannot be part of the stream.
        while self.pending.last_end().is_some_and(|end| end > fin) {
            let Some((s, mut data)) = self.pending.pop_last() else { break };
            if s < fin {
                data.truncate((fin - s) as usize);
                self.pending.insert(s, &data);
                break;
            }
        }
        if self.next_off >= fin {
            self.finish(stats);
        }
    }

    fn finish(&mut self, stats: &mut TcpStats) {
        if !self.finished {
            self.finished = true;
            stats.streams_finished += 1;
        }
    }

    fn skip_gap(&mut self, now: i64, limits: &TcpLimits, stats: &mut TcpStats, d: &mut Delivery) {
        let Some(first) = self.pending.first_start() else { return };
        if first > self.next_off {
            let missing = first - self.next_off;
            stats.gaps_skipped += 1;
            stats.gap_bytes += missing;
            self.note_gap(missing, d);
            self.advance(missing);
        }
        self.drain(now, limits, stats, d);
    }

    /// Delivers out-of-order pieces that became contiguous.
    fn drain(&mut self, now: i64, limits: &TcpLimits, stats: &mut TcpStats, d: &mut Delivery) {
        while self.pending.first_start().is_some_and(|s| s <= self.next_off) {
            let Some((s, data)) = self.pending.pop_first() else { break };
            let skip = (self.next_off - s) as usize;
            self.deliver(now, data.get(skip..).unwrap_or_default(), limits, stats, d);
        }
    }

    /// Appends in-order bytes (as many as the unconsumed limit allows; the rest is a gap).
    fn deliver(&mut self, now: i64, data: &[u8], limits: &TcpLimits, stats: &mut TcpStats, d: &mut Delivery) {
        let room = limits.max_stream_bytes.saturating_sub(self.buf.len() - self.consumed);
        let (kept, lost) = data.split_at(room.min(data.len()));
        self.buf.extend_from_slice(kept);
        d.new_bytes += kept.len();
        stats.bytes_delivered += kept.len() as u64;
        if !lost.is_empty() {
            stats.overflow_bytes += lost.len() as u64;
            self.note_gap(lost.len() as u64, d);
        }
        self.advance(data.len() as u64);
        self.stalled_since = now;
        if self.fin_off.is_some_and(|f| self.next_off >= f) {
            self.finish(stats);
        }
    }

    fn advance(&mut self, n: u64) {
        self.next_off += n;
        self.next_seq = self.next_seq.wrapping_add(n as u32);
    }

    fn note_gap(&self, bytes: u64, d: &mut Delivery) {
        let at = self.buf.len() - self.consumed;
        d.gap.get_or_insert(Gap { at, bytes: 0 }).bytes += bytes;
    }
}
