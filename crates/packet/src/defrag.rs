//! IPv4 and IPv6 fragment reassembly with bounded memory.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use crate::ip::IpInfo;
use crate::pieces::{Overlap, Pieces};

/// Bounds on a [`Defragmenter`]'s state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DefragLimits {
    /// Datagrams being reassembled at once; a new one evicts the oldest.
    pub max_datagrams: usize,
    /// Fragment bytes held over all datagrams; going over evicts the oldest datagrams.
    pub max_buffered_bytes: usize,
    /// Largest reassembled payload; a fragment reaching past it drops its datagram.
    pub max_datagram_size: usize,
    /// Fragments accepted per datagram (duplicates included); one more drops the datagram.
    pub max_fragments: usize,
    /// A datagram not complete this long after its first fragment is dropped.
    pub timeout_ns: i64,
}

impl Default for DefragLimits {
    /// 1024 datagrams, 8 MiB, 65535-byte datagrams, 128 fragments each, 30 s (as Linux).
    fn default() -> Self {
        DefragLimits {
            max_datagrams: 1024,
            max_buffered_bytes: 8 << 20,
            max_datagram_size: 65535,
            max_fragments: 128,
            timeout_ns: 30_000_000_000,
        }
    }
}

/// Fragments of one datagram share this key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FragKey {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// IPv4 identification or IPv6 fragment identification.
    pub id: u32,
    /// Protocol of the datagram.
    pub proto: u8,
}

impl FragKey {
    /// The key of the datagram this packet belongs to.
    pub fn of(ip: &IpInfo) -> FragKey {
        FragKey { src: ip.src, dst: ip.dst, id: ip.id, proto: ip.proto }
    }
}

/// A reassembled datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reassembled {
    /// The first fragment's IP header, with `fragment` cleared. Decode `payload` with
    /// [`crate::decode_ip_payload`].
    pub ip: IpInfo,
    /// The datagram's IP payload.
    pub payload: Vec<u8>,
    /// Fragments received for it, duplicates included.
    pub fragments: usize,
    /// Some fragment overlapped bytes already received (those were kept: first wins).
    pub overlapped: bool,
    /// When its first fragment was seen.
    pub first_seen_ns: i64,
}

/// Counters of a [`Defragmenter`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DefragStats {
    /// Fragments pushed.
    pub fragments: u64,
    /// Datagrams reassembled.
    pub reassembled: u64,
    /// Datagrams dropped incomplete after the timeout.
    pub timed_out: u64,
    /// Datagrams evicted because fragment bytes went over `max_buffered_bytes`.
    pub evicted_memory: u64,
    /// Datagrams evicted because `max_datagrams` were pending.
    pub evicted_capacity: u64,
    /// Fragments that partly overlapped data already held.
    pub overlapping: u64,
    /// Fragments whose every byte was already held.
    pub duplicates: u64,
    /// Fragments ignored or datagrams dropped as impossible: past `max_datagram_size`, past the
    /// end set by the last fragment, a second different end, empty non-last fragments, more
    /// than `max_fragments`.
    pub invalid: u64,
}

#[derive(Debug)]
struct Pending {
    ip: IpInfo,
    have_first: bool,
    since: (i64, u64),
    pieces: Pieces,
    total: Option<u64>,
    fragments: usize,
    overlapped: bool,
}

/// Reassembles IPv4 and IPv6 datagrams from fragments, first-wins on overlaps.
///
/// Time is the caller's (`now` in nanoseconds, usually the capture timestamp); expiry also
/// runs on every [`Defragmenter::push`].
#[derive(Debug)]
pub struct Defragmenter {
    limits: DefragLimits,
    table: HashMap<FragKey, Pending>,
    order: BTreeMap<(i64, u64), FragKey>,
    serial: u64,
    bytes: usize,
    stats: DefragStats,
}

impl Defragmenter {
    /// An empty defragmenter.
    pub fn new(limits: DefragLimits) -> Defragmenter {
        Defragmenter {
            limits,
            table: HashMap::new(),
            order: BTreeMap::new(),
            serial: 0,
            bytes: 0,
            stats: DefragStats::default(),
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> DefragStats {
        self.stats
    }

    /// Datagrams being reassembled.
    pub fn pending(&self) -> usize {
        self.table.len()
    }

    /// Fragment bytes held.
    pub fn buffered_bytes(&self) -> usize {
        self.bytes
    }

    /// Adds a fragment: `ip` and `payload` are a [`crate::Decoded`]'s `ip` and `ip_payload`.
    /// Returns the datagram when this fragment completes it; `None` otherwise, and for a
    /// packet that is not a fragment.
    pub fn push(&mut self, now: i64, ip: &IpInfo, payload: &[u8]) -> Option<Reassembled> {
        let frag = ip.fragment?;
        self.stats.fragments += 1;
        self.expire(now);
        let key = FragKey::of(ip);
        let start = u64::from(frag.offset);
        let end = start + payload.len() as u64;
        if end > self.limits.max_datagram_size as u64 {
            self.stats.invalid += 1;
            self.remove(&key);
            return None;
        }
        if frag.more && payload.is_empty() {
            self.stats.invalid += 1;
            return None;
        }
        if !self.table.contains_key(&key) {
            while self.table.len() >= self.limits.max_datagrams && self.evict_oldest(None) {
                self.stats.evicted_capacity += 1;
            }
            if self.table.len() >= self.limits.max_datagrams {
                self.stats.evicted_capacity += 1;
                return None;
            }
            let since = (now, self.serial);
            self.serial += 1;
            self.order.insert(since, key);
            let pending = Pending {
                ip: *ip,
                have_first: false,
                since,
                pieces: Pieces::default(),
                total: None,
                fragments: 0,
                overlapped: false,
            };
            self.table.insert(key, pending);
        }
        let p = self.table.get_mut(&key)?;
        p.fragments += 1;
        if p.fragments > self.limits.max_fragments {
            self.stats.invalid += 1;
            self.remove(&key);
            return None;
        }
        let consistent = match (frag.more, p.total) {
            (false, Some(total)) => total == end,
            (false, None) => p.pieces.last_end().unwrap_or(0) <= end,
            (true, Some(total)) => end <= total,
            (true, None) => true,
        };
        if !consistent {
            self.stats.invalid += 1;
            return None;
        }
        if !frag.more {
            p.total = Some(end);
        }
        let (holes, _) = p.pieces.missing(start, payload.len());
        let added: usize = holes.iter().map(|(s, e)| (e - s) as usize).sum();
        if self.bytes + added > self.limits.max_buffered_bytes {
            while self.bytes + added > self.limits.max_buffered_bytes && self.evict_oldest(Some(&key)) {
                self.stats.evicted_memory += 1;
            }
            if self.bytes + added > self.limits.max_buffered_bytes {
                self.stats.evicted_memory += 1;
                self.remove(&key);
                return None;
            }
        }
        let p = self.table.get_mut(&key)?;
        let (added, overlap) = p.pieces.insert(start, payload);
        self.bytes += added;
        match overlap {
            Overlap::None => {}
            Overlap::Partial => self.stats.overlapping += 1,
            Overlap::Full => self.stats.duplicates += 1,
        }
        p.overlapped |= overlap != Overlap::None;
        if frag.offset == 0 && !p.have_first {
            p.ip = *ip;
            p.have_first = true;
        }
        if !p.total.is_some_and(|total| p.pieces.complete(total)) {
            return None;
        }
        let p = self.remove(&key)?;
        self.stats.reassembled += 1;
        let mut ip = p.ip;
        ip.fragment = None;
        ip.proto = key.proto;
        Some(Reassembled {
            ip,
            payload: p.pieces.concat(),
            fragments: p.fragments,
            overlapped: p.overlapped,
            first_seen_ns: p.since.0,
        })
    }

    /// Drops datagrams whose first fragment is older than the timeout; returns how many.
    pub fn expire(&mut self, now: i64) -> usize {
        let mut n = 0;
        while let Some((&(since, _), &key)) = self.order.first_key_value() {
            if since.saturating_add(self.limits.timeout_ns) > now {
                break;
            }
            self.remove(&key);
            self.stats.timed_out += 1;
            n += 1;
        }
        n
    }

    fn evict_oldest(&mut self, except: Option<&FragKey>) -> bool {
        let Some(&key) = self.order.values().find(|k| Some(*k) != except) else {
            return false;
        };
        self.remove(&key).is_some()
    }

    fn remove(&mut self, key: &FragKey) -> Option<Pending> {
        let p = self.table.remove(key)?;
        self.order.remove(&p.since);
        self.bytes -= p.pieces.bytes();
        Some(p)
    }
}

#[cfg(test)]
mod tests;
