//! SCTP user messages from DATA chunks: whole chunks go out as they are (no copy); fragments
//! (B and E flags, consecutive TSNs) are held until the message is complete, in any arrival
//! order. Retransmitted chunks (a TSN seen lately in the same direction) are dropped. Every
//! table is bounded by a named limit, and time is the caller's.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;

use super::{Sctp, SctpDataChunk};
use crate::ip::IpInfo;

/// Bounds on an [`SctpReassembler`]'s state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SctpLimits {
    /// Largest user message rebuilt from fragments; a longer one is dropped
    /// ([`SctpStats::over_limit`]).
    pub max_message_bytes: usize,
    /// Fragments of one user message; a message with more is never completed (its fragments
    /// go at the timeout or to the memory limits).
    pub max_fragments_per_message: usize,
    /// Fragment bytes held over all associations; beyond, the least recently active
    /// direction's fragments are dropped.
    pub max_pending_bytes: usize,
    /// Fragments held over all associations; beyond, as for `max_pending_bytes`.
    pub max_pending_fragments: usize,
    /// Association directions with state (fragments or recent TSNs); a new one evicts the least
    /// recently active.
    pub max_directions: usize,
    /// TSNs remembered per direction to recognise retransmissions.
    pub recent_tsns: usize,
    /// Fragments older than this are dropped, and directions idle this long are forgotten.
    pub timeout_ns: i64,
}

impl Default for SctpLimits {
    /// 256 KiB and 256 fragments per message, 16 MiB and 16384 fragments in all, 4096
    /// directions, 64 recent TSNs each, 30 s.
    fn default() -> Self {
        SctpLimits {
            max_message_bytes: 256 << 10,
            max_fragments_per_message: 256,
            max_pending_bytes: 16 << 20,
            max_pending_fragments: 16384,
            max_directions: 4096,
            recent_tsns: 64,
            timeout_ns: 30_000_000_000,
        }
    }
}

/// One direction of an SCTP association.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SctpKey {
    /// Sender.
    pub src: SocketAddr,
    /// Receiver.
    pub dst: SocketAddr,
    /// Verification tag of the packets (the receiver's tag: one per association direction).
    pub vtag: u32,
}

/// A whole user message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SctpMessage<'a> {
    /// Its direction.
    pub key: SctpKey,
    /// Stream identifier.
    pub stream: u16,
    /// Payload protocol identifier (of the first fragment).
    pub ppid: u32,
    /// The user data.
    pub payload: &'a [u8],
    /// DATA chunks it was rebuilt from (1 for a whole chunk).
    pub chunks: usize,
    /// A chunk of it was cut by the capture ([`SctpDataChunk::cut`]).
    pub cut: bool,
}

/// Counters of an [`SctpReassembler`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SctpStats {
    /// Packets pushed.
    pub packets: u64,
    /// DATA chunks seen.
    pub data_chunks: u64,
    /// Chunks dropped as retransmissions (a TSN seen lately in the same direction).
    pub retransmitted: u64,
    /// User messages handed out.
    pub messages: u64,
    /// Of those, messages rebuilt from several fragments.
    pub reassembled: u64,
    /// Messages dropped because they exceeded `max_message_bytes`.
    pub over_limit: u64,
    /// Fragments dropped without their message being handed out (timeout, memory limits,
    /// eviction, the end of the capture, a message over `max_message_bytes`).
    pub fragments_dropped: u64,
    /// Packets whose chunk walk met an impossible chunk length.
    pub malformed_packets: u64,
}

#[derive(Debug)]
struct Fragment {
    flags: u8,
    stream: u16,
    ssn: u16,
    ppid: u32,
    data: Vec<u8>,
    arrived: i64,
    cut: bool,
}

#[derive(Debug, Default)]
struct Direction {
    recent: VecDeque<u32>,
    fragments: HashMap<u32, Fragment>,
    bytes: usize,
    last_seen: i64,
}

/// Rebuilds SCTP user messages per association direction.
#[derive(Debug)]
pub struct SctpReassembler {
    limits: SctpLimits,
    directions: HashMap<SctpKey, Direction>,
    /// (last seen, key): the least recently active direction first.
    lru: BTreeSet<(i64, SctpKey)>,
    bytes: usize,
    fragments: usize,
    next_expiry: i64,
    stats: SctpStats,
}

impl SctpReassembler {
    /// An empty reassembler (every limit at least 1).
    pub fn new(mut limits: SctpLimits) -> SctpReassembler {
        limits.max_directions = limits.max_directions.max(1);
        limits.max_fragments_per_message = limits.max_fragments_per_message.max(1);
        SctpReassembler {
            limits,
            directions: HashMap::new(),
            lru: BTreeSet::new(),
            bytes: 0,
            fragments: 0,
            next_expiry: i64::MIN,
            stats: SctpStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> SctpStats {
        self.stats
    }

    /// Fragment bytes held.
    pub fn pending_bytes(&self) -> usize {
        self.bytes
    }

    /// Fragments held.
    pub fn pending_fragments(&self) -> usize {
        self.fragments
    }

    /// Takes one SCTP packet seen at `now` under IP header `ip`; every user message it
    /// completes goes to `out`, in chunk order.
    pub fn push(&mut self, now: i64, ip: &IpInfo, sctp: &Sctp<'_>, out: &mut impl FnMut(SctpMessage<'_>)) {
        self.stats.packets += 1;
        if now >= self.next_expiry {
            self.expire(now);
            self.next_expiry = now.saturating_add(self.limits.timeout_ns / 4);
        }
        let key = SctpKey {
            src: SocketAddr::new(ip.src, sctp.sport),
            dst: SocketAddr::new(ip.dst, sctp.dport),
            vtag: sctp.vtag,
        };
        let mut chunks = sctp.data();
        for chunk in chunks.by_ref() {
            self.stats.data_chunks += 1;
            self.chunk(now, key, chunk, out);
        }
        if chunks.malformed() {
            self.stats.malformed_packets += 1;
        }
    }

    fn chunk(&mut self, now: i64, key: SctpKey, chunk: SctpDataChunk<'_>, out: &mut impl FnMut(SctpMessage<'_>)) {
        if self.seen(now, key, chunk.tsn) {
            self.stats.retransmitted += 1;
            return;
        }
        if chunk.is_whole() {
            self.stats.messages += 1;
            let (stream, ppid, payload, cut) = (chunk.stream, chunk.ppid, chunk.payload, chunk.cut);
            return out(SctpMessage { key, stream, ppid, payload, chunks: 1, cut });
        }
        if chunk.payload.len() > self.limits.max_message_bytes {
            self.stats.over_limit += 1;
            self.stats.fragments_dropped += 1;
            return;
        }
        let Some(dir) = self.directions.get_mut(&key) else { return };
        dir.bytes += chunk.payload.len();
        self.bytes += chunk.payload.len();
        self.fragments += 1;
        let fragment = Fragment {
            flags: chunk.flags,
            stream: chunk.stream,
            ssn: chunk.ssn,
            ppid: chunk.ppid,
            data: chunk.payload.to_vec(),
            arrived: now,
            cut: chunk.cut,
        };
        dir.fragments.insert(chunk.tsn, fragment);
        self.try_complete(key, chunk.tsn, out);
        self.enforce_memory(key);
    }

    /// Was `tsn` seen lately in this direction? Records it (and the direction) if not.
    fn seen(&mut self, now: i64, key: SctpKey, tsn: u32) -> bool {
        if !self.directions.contains_key(&key) {
            if self.directions.len() >= self.limits.max_directions {
                if let Some(&(_, oldest)) = self.lru.iter().next() {
                    self.remove(oldest);
                }
            }
            self.directions.insert(key, Direction { last_seen: now, ..Direction::default() });
            self.lru.insert((now, key));
        }
        let Some(dir) = self.directions.get_mut(&key) else { return false };
        if dir.last_seen != now {
            self.lru.remove(&(dir.last_seen, key));
            dir.last_seen = now;
            self.lru.insert((now, key));
        }
        if dir.recent.contains(&tsn) || dir.fragments.contains_key(&tsn) {
            return true;
        }
        if dir.recent.len() >= self.limits.recent_tsns {
            dir.recent.pop_front();
        }
        if self.limits.recent_tsns > 0 {
            dir.recent.push_back(tsn);
        }
        false
    }

    /// If the fragment at `tsn` completes a message (a B fragment, consecutive TSNs, an E
    /// fragment, all of one stream), hands the message out and drops its fragments.
    fn try_complete(&mut self, key: SctpKey, tsn: u32, out: &mut impl FnMut(SctpMessage<'_>)) {
        let max = self.limits.max_fragments_per_message;
        let Some(dir) = self.directions.get(&key) else { return };
        let Some(this) = dir.fragments.get(&tsn) else { return };
        let same =
            |f: &Fragment| f.stream == this.stream && (f.flags & SctpDataChunk::UNORDERED != 0 || f.ssn == this.ssn);
        let mut first = tsn;
        let mut count = 1usize;
        let mut bytes = this.data.len();
        let mut begin = this.flags & SctpDataChunk::BEGIN != 0;
        // Back to the B fragment, forward to the E fragment: an E before or a B after is
        // another message's, and this one is not complete.
        while !begin {
            let Some(f) = dir.fragments.get(&first.wrapping_sub(1)).filter(|f| same(f)) else { return };
            if f.flags & SctpDataChunk::END != 0 || count == max {
                return;
            }
            first = first.wrapping_sub(1);
            (count, bytes, begin) = (count + 1, bytes + f.data.len(), f.flags & SctpDataChunk::BEGIN != 0);
        }
        let mut last = tsn;
        let mut end = this.flags & SctpDataChunk::END != 0;
        while !end {
            let Some(f) = dir.fragments.get(&last.wrapping_add(1)).filter(|f| same(f)) else { return };
            if f.flags & SctpDataChunk::BEGIN != 0 || count == max {
                return;
            }
            last = last.wrapping_add(1);
            (count, bytes, end) = (count + 1, bytes + f.data.len(), f.flags & SctpDataChunk::END != 0);
        }
        let mut message = Vec::with_capacity(bytes.min(self.limits.max_message_bytes));
        let (mut ppid, mut stream, mut cut) = (0, 0, false);
        for i in 0..count {
            let Some(f) = self.take(key, first.wrapping_add(i as u32)) else { continue };
            if i == 0 {
                (ppid, stream) = (f.ppid, f.stream);
            }
            cut |= f.cut;
            if bytes <= self.limits.max_message_bytes {
                message.extend_from_slice(&f.data);
            }
        }
        if bytes > self.limits.max_message_bytes {
            self.stats.over_limit += 1;
            self.stats.fragments_dropped += count as u64;
            return;
        }
        self.stats.messages += 1;
        self.stats.reassembled += 1;
        out(SctpMessage { key, stream, ppid, payload: &message, chunks: count, cut });
    }

    fn take(&mut self, key: SctpKey, tsn: u32) -> Option<Fragment> {
        let dir = self.directions.get_mut(&key)?;
        let f = dir.fragments.remove(&tsn)?;
        dir.bytes -= f.data.len();
        self.bytes -= f.data.len();
        self.fragments -= 1;
        Some(f)
    }

    /// Over the memory limits, drops whole directions' fragments, least recently active first
    /// (`keep`, the one just pushed to, last).
    fn enforce_memory(&mut self, keep: SctpKey) {
        while self.bytes > self.limits.max_pending_bytes || self.fragments > self.limits.max_pending_fragments {
            let victim = self
                .lru
                .iter()
                .map(|&(_, k)| k)
                .find(|k| *k != keep && self.directions.get(k).is_some_and(|d| !d.fragments.is_empty()))
                .unwrap_or(keep);
            let dropped = self.drop_fragments(victim, |_| true);
            if dropped == 0 {
                return;
            }
        }
    }

    /// Drops the fragments of `key` that `which` selects; returns how many.
    fn drop_fragments(&mut self, key: SctpKey, which: impl Fn(&Fragment) -> bool) -> usize {
        let Some(dir) = self.directions.get_mut(&key) else { return 0 };
        let before = dir.fragments.len();
        let mut freed = 0;
        dir.fragments.retain(|_, f| {
            let drop = which(f);
            if drop {
                freed += f.data.len();
            }
            !drop
        });
        let dropped = before - dir.fragments.len();
        dir.bytes -= freed;
        self.bytes -= freed;
        self.fragments -= dropped;
        self.stats.fragments_dropped += dropped as u64;
        dropped
    }

    fn remove(&mut self, key: SctpKey) {
        self.drop_fragments(key, |_| true);
        if let Some(dir) = self.directions.remove(&key) {
            self.lru.remove(&(dir.last_seen, key));
        }
    }

    /// Drops fragments that arrived more than `timeout_ns` before `now`, and forgets directions
    /// idle that long. `expire(i64::MAX)` at the end of a capture drops everything left.
    pub fn expire(&mut self, now: i64) {
        let horizon = now.saturating_sub(self.limits.timeout_ns);
        let keys: Vec<SctpKey> = self.directions.keys().copied().collect();
        for key in keys {
            self.drop_fragments(key, |f| f.arrived < horizon);
            if self.directions.get(&key).is_some_and(|d| d.last_seen < horizon && d.fragments.is_empty()) {
                self.remove(key);
            }
        }
    }
}
