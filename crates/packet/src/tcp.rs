//! TCP stream reassembly with bounded memory: per-direction in-order byte buffers that the
//! caller frames and consumes.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;

use crate::ip::IpInfo;
use crate::pieces::{Overlap, Pieces};
use crate::transport::{Tcp, TcpFlags};

/// Bounds on a [`TcpReassembler`]'s state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpLimits {
    /// Streams (one per direction) held at once; a new one evicts the least recently active.
    pub max_streams: usize,
    /// In-order bytes a stream holds that the caller has not consumed; data beyond is dropped
    /// and reported as a [`Gap`].
    pub max_stream_bytes: usize,
    /// Out-of-order bytes a stream holds waiting for a gap to fill; beyond, the gap is skipped.
    pub max_pending_bytes: usize,
    /// Out-of-order pieces a stream holds; beyond, the gap is skipped.
    pub max_pending_segments: usize,
    /// Bytes held over all streams; beyond, the least recently active streams are evicted.
    pub max_total_bytes: usize,
    /// A stream with no segment for this long is removed by [`TcpReassembler::expire`].
    pub idle_timeout_ns: i64,
    /// A gap with data waiting behind it and no in-order progress for this long is skipped.
    pub gap_timeout_ns: i64,
}

impl Default for TcpLimits {
    /// 4096 streams, 256 KiB unconsumed and 128 KiB / 128 pieces out of order per stream,
    /// 64 MiB in all, 5 min idle, 5 s gap.
    fn default() -> Self {
        TcpLimits {
            max_streams: 4096,
            max_stream_bytes: 256 << 10,
            max_pending_bytes: 128 << 10,
            max_pending_segments: 128,
            max_total_bytes: 64 << 20,
            idle_timeout_ns: 300_000_000_000,
            gap_timeout_ns: 5_000_000_000,
        }
    }
}

/// One direction of a TCP connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamKey {
    /// Sender.
    pub src: SocketAddr,
    /// Receiver.
    pub dst: SocketAddr,
}

impl StreamKey {
    /// The direction of this segment.
    pub fn new(ip: &IpInfo, tcp: &Tcp<'_>) -> StreamKey {
        StreamKey { src: SocketAddr::new(ip.src, tcp.sport), dst: SocketAddr::new(ip.dst, tcp.dport) }
    }

    /// The other direction.
    pub fn reversed(self) -> StreamKey {
        StreamKey { src: self.dst, dst: self.src }
    }
}

/// A stream, unique over the reassembler's life (a new connection on the same ports gets a
/// new ID).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(pub u64);

/// Stream bytes the caller will never see, and where they are missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gap {
    /// Offset in [`TcpReassembler::stream_buffer`] (as it is after the call that reported the
    /// gap) where bytes are missing: bytes before it precede the gap, bytes from it follow.
    pub at: usize,
    /// Bytes missing (summed if there were several gaps).
    pub bytes: u64,
}

/// What [`TcpReassembler::push`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pushed {
    /// The segment's stream; `None` if it neither belongs to one nor starts one (a pure ACK
    /// or RST of an unknown stream).
    pub stream: Option<StreamId>,
    /// Bytes newly appended to the stream's buffer.
    pub new_bytes: usize,
    /// Bytes skipped or dropped in this call.
    pub gap: Option<Gap>,
    /// The stream was created by this segment.
    pub opened: bool,
    /// The stream is finished (FIN reached, or RST): no more data will be appended. Consume
    /// what is left, then [`TcpReassembler::remove`] it.
    pub finished: bool,
    /// Streams removed by this call (evicted for room, or replaced by a new connection); their
    /// buffers are gone.
    pub removed: Vec<StreamId>,
}

/// What [`TcpReassembler::expire`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expired {
    /// Streams whose stalled gaps were skipped: their buffers have new bytes to frame.
    pub flushed: Vec<(StreamId, Gap)>,
    /// Streams removed for idleness; their buffers are gone.
    pub removed: Vec<StreamId>,
}

/// Counters of a [`TcpReassembler`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpStats {
    /// Segments pushed.
    pub segments: u64,
    /// Segments that neither belong to a stream nor start one.
    pub ignored: u64,
    /// Streams created.
    pub streams_opened: u64,
    /// Streams that reached their FIN or were reset.
    pub streams_finished: u64,
    /// Streams removed for idleness.
    pub streams_expired: u64,
    /// Streams evicted for `max_streams` or `max_total_bytes`.
    pub streams_evicted: u64,
    /// Streams replaced by a SYN with another initial sequence number.
    pub streams_replaced: u64,
    /// Bytes appended to stream buffers.
    pub bytes_delivered: u64,
    /// Segments carrying only data already received (retransmissions).
    pub retransmitted: u64,
    /// Segments partly overlapping data already received (the old bytes were kept).
    pub overlapping: u64,
    /// Segments that arrived ahead of missing data.
    pub out_of_order: u64,
    /// Gaps skipped (limits, gap timeout, RST).
    pub gaps_skipped: u64,
    /// Bytes in skipped gaps.
    pub gap_bytes: u64,
    /// Bytes dropped because a stream's unconsumed buffer was full.
    pub overflow_bytes: u64,
    /// Bytes held by streams when they were removed, expired, evicted or replaced.
    pub dropped_bytes: u64,
}

#[derive(Debug)]
struct Stream {
    key: StreamKey,
    /// Sequence number of stream offset 0.
    start_seq: u32,
    syn: bool,
    next_seq: u32,
    next_off: u64,
    fin_off: Option<u64>,
    finished: bool,
    buf: Vec<u8>,
    consumed: usize,
    pending: Pieces,
    last_seen: i64,
    stalled_since: i64,
    stalled_key: Option<(i64, u64)>,
}

/// Bytes delivered and skipped during one call.
#[derive(Default)]
struct Delivery {
    new_bytes: usize,
    gap: Option<Gap>,
}

/// Reassembles TCP streams, one per direction, into in-order byte buffers.
///
/// Sequence numbers wrap; retransmitted and overlapping data is dropped (first wins); a stream
/// whose SYN was not captured starts at the first sequence number seen (earlier data arriving
/// late is then dropped as old). Framing is the caller's: after each [`TcpReassembler::push`],
/// read [`TcpReassembler::stream_buffer`] and [`TcpReassembler::consume`] what was framed.
#[derive(Debug)]
pub struct TcpReassembler {
    limits: TcpLimits,
    streams: HashMap<u64, Stream>,
    by_key: HashMap<StreamKey, u64>,
    lru: BTreeSet<(i64, u64)>,
    stalled: BTreeSet<(i64, u64)>,
    serial: u64,
    total: usize,
    stats: TcpStats,
}

mod stream;

impl TcpReassembler {
    /// An empty reassembler (`max_streams` is at least 1).
    pub fn new(mut limits: TcpLimits) -> TcpReassembler {
        limits.max_streams = limits.max_streams.max(1);
        TcpReassembler {
            limits,
            streams: HashMap::new(),
            by_key: HashMap::new(),
            lru: BTreeSet::new(),
            stalled: BTreeSet::new(),
            serial: 0,
            total: 0,
            stats: TcpStats::default(),
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> TcpStats {
        self.stats
    }

    /// Streams held.
    pub fn streams(&self) -> usize {
        self.streams.len()
    }

    /// Bytes held over all streams (unconsumed and out of order).
    pub fn buffered_bytes(&self) -> usize {
        self.total
    }

    /// Adds a decoded segment: see [`TcpReassembler::push`].
    pub fn push_segment(&mut self, now: i64, ip: &IpInfo, tcp: &Tcp<'_>) -> Pushed {
        self.push(now, StreamKey::new(ip, tcp), tcp.seq, tcp.flags, tcp.payload)
    }

    /// Adds a segment of direction `key` seen at `now` (nanoseconds, the caller's clock).
    pub fn push(&mut self, now: i64, key: StreamKey, seq: u32, flags: TcpFlags, payload: &[u8]) -> Pushed {
        self.stats.segments += 1;
        let mut out = Pushed::default();
        let syn = flags.contains(TcpFlags::SYN);
        let id = match self.by_key.get(&key).copied() {
            Some(id) if syn => match self.streams.get_mut(&id) {
                Some(s) if s.start_seq == seq.wrapping_add(1) => {
                    s.syn = true;
                    id
                }
                _ => {
                    self.stats.streams_replaced += 1;
                    self.drop_stream(id, &mut out.removed);
                    self.open(now, key, seq, syn, &mut out)
                }
            },
            Some(id) => id,
            None if syn || !payload.is_empty() => self.open(now, key, seq, syn, &mut out),
            None => {
                self.stats.ignored += 1;
                return out;
            }
        };
        let Some(s) = self.streams.get_mut(&id) else {
            return out;
        };
        out.stream = Some(StreamId(id));
        if now > s.last_seen {
            self.lru.remove(&(s.last_seen, id));
            s.last_seen = now;
            self.lru.insert((now, id));
        }
        let before = s.held();
        let mut d = Delivery::default();
        s.segment(now, seq, flags, payload, &self.limits, &mut self.stats, &mut d);
        self.total = self.total - before + s.held();
        out.new_bytes = d.new_bytes;
        out.gap = d.gap;
        out.finished = s.finished;
        self.sync_stalled(id);
        while self.total > self.limits.max_total_bytes && self.evict_lru(Some(id), &mut out.removed) {}
        out
    }

    /// The stream's in-order bytes not yet consumed (empty for an unknown stream).
    pub fn stream_buffer(&self, id: StreamId) -> &[u8] {
        self.streams.get(&id.0).map_or(&[], |s| s.unconsumed())
    }

    /// Marks the first `n` bytes of the stream's buffer as consumed (clamped to its length).
    pub fn consume(&mut self, id: StreamId, n: usize) {
        if let Some(s) = self.streams.get_mut(&id.0) {
            self.total -= s.consume(n);
        }
    }

    /// The stream's direction.
    pub fn key(&self, id: StreamId) -> Option<StreamKey> {
        self.streams.get(&id.0).map(|s| s.key)
    }

    /// The stream for this direction, if one is held.
    pub fn stream_id(&self, key: &StreamKey) -> Option<StreamId> {
        self.by_key.get(key).map(|&id| StreamId(id))
    }

    /// Has the stream reached its FIN, or been reset?
    pub fn is_finished(&self, id: StreamId) -> bool {
        self.streams.get(&id.0).is_some_and(|s| s.finished)
    }

    /// Removes a stream; returns its unconsumed bytes.
    pub fn remove(&mut self, id: StreamId) -> Option<Vec<u8>> {
        let s = self.take(id.0)?;
        Some(s.buf.get(s.consumed..).unwrap_or_default().to_vec())
    }

    /// Skips gaps that waited longer than the gap timeout and removes streams idle longer than
    /// the idle timeout.
    pub fn expire(&mut self, now: i64) -> Expired {
        let mut out = Expired::default();
        while let Some(&(since, id)) = self.stalled.first() {
            if since.saturating_add(self.limits.gap_timeout_ns) > now {
                break;
            }
            let Some(s) = self.streams.get_mut(&id) else {
                self.stalled.remove(&(since, id));
                continue;
            };
            let before = s.held();
            let mut d = Delivery::default();
            s.flush(now, &self.limits, &mut self.stats, &mut d);
            self.total = self.total - before + s.held();
            self.sync_stalled(id);
            if let Some(gap) = d.gap {
                out.flushed.push((StreamId(id), gap));
            }
        }
        while let Some(&(seen, id)) = self.lru.first() {
            if seen.saturating_add(self.limits.idle_timeout_ns) > now {
                break;
            }
            self.stats.streams_expired += 1;
            self.drop_stream(id, &mut out.removed);
        }
        out
    }

    fn open(&mut self, now: i64, key: StreamKey, seq: u32, syn: bool, out: &mut Pushed) -> u64 {
        while self.streams.len() >= self.limits.max_streams && self.evict_lru(None, &mut out.removed) {}
        let id = self.serial;
        self.serial += 1;
        let start = if syn { seq.wrapping_add(1) } else { seq };
        self.streams.insert(id, Stream::new(key, start, syn, now));
        self.by_key.insert(key, id);
        self.lru.insert((now, id));
        self.stats.streams_opened += 1;
        out.opened = true;
        id
    }

    fn sync_stalled(&mut self, id: u64) {
        let Some(s) = self.streams.get_mut(&id) else { return };
        let want = (!s.pending.is_empty()).then_some((s.stalled_since, id));
        if s.stalled_key != want {
            if let Some(k) = s.stalled_key {
                self.stalled.remove(&k);
            }
            if let Some(k) = want {
                self.stalled.insert(k);
            }
            s.stalled_key = want;
        }
    }

    fn evict_lru(&mut self, except: Option<u64>, removed: &mut Vec<StreamId>) -> bool {
        let Some(&(_, id)) = self.lru.iter().find(|(_, id)| Some(*id) != except) else {
            return false;
        };
        self.stats.streams_evicted += 1;
        self.drop_stream(id, removed);
        true
    }

    fn drop_stream(&mut self, id: u64, removed: &mut Vec<StreamId>) {
        if let Some(s) = self.take(id) {
            self.stats.dropped_bytes += s.held() as u64;
            removed.push(StreamId(id));
        }
    }

    fn take(&mut self, id: u64) -> Option<Stream> {
        let s = self.streams.remove(&id)?;
        if self.by_key.get(&s.key) == Some(&id) {
            self.by_key.remove(&s.key);
        }
        self.lru.remove(&(s.last_seen, id));
        if let Some(k) = s.stalled_key {
            self.stalled.remove(&k);
        }
        self.total -= s.held();
        Some(s)
    }
}

impl Overlap {
    fn count(self, stats: &mut TcpStats) {
        match self {
            Overlap::None => {}
            Overlap::Partial => stats.overlapping += 1,
            Overlap::Full => stats.retransmitted += 1,
        }
    }
}

#[cfg(test)]
mod tests;
