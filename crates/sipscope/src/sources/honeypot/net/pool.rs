//! Connection pools for the stream listeners, as pure functions of (source, time): TCP and TLS
//! each have a pool of their own, capped in total, per source (an IPv4 address, or the /64 an
//! IPv6 host usually has) and optionally per IPv4 /24. When a pool is full, the connection that
//! has gone longest without completing a message makes room for the newcomer (slow clients
//! cannot hold every slot); refused connections are recorded at a bounded rate.

use crate::sources::honeypot::config::HoneypotLimits;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The caps of one pool.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoolLimits {
    /// Open connections in total.
    pub max_total: usize,
    /// Per IPv4 address or IPv6 /64.
    pub max_per_source: usize,
    /// Per IPv4 /24 (0: no cap).
    pub max_per_ipv4_24: usize,
    /// A connection becomes a candidate for eviction after this long without completing a
    /// message (so a client always has this long to send its first message).
    pub evictable_after_ms: u64,
    /// Refused connections recorded per second (the burst is one second's worth).
    pub refused_records_per_second: f64,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The pool is full and no connection may be evicted yet.
    Total(usize),
    /// The source (IPv4 address or IPv6 /64) has its share.
    PerSource(usize),
    /// The IPv4 /24 has its share.
    PerIpv4Block(usize),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Total(n) => write!(f, "connection refused: {n} connections open"),
            Refusal::PerSource(n) => write!(f, "connection refused: {n} connections open from this source"),
            Refusal::PerIpv4Block(n) => write!(f, "connection refused: {n} connections open from this /24"),
        }
    }
}

/// What a connection's thread and the pool share: its progress and whether it must close.
#[derive(Debug, Default)]
pub struct Progress {
    last_ms: AtomicU64,
    evicted: AtomicBool,
}

/// An open connection's place in its pool; released on drop.
pub struct Slot {
    pool: Arc<ConnectionPool>,
    id: u64,
    progress: Arc<Progress>,
}

impl Slot {
    /// A message completed at `now_ms`: the connection is not a slow one.
    pub fn progressed(&self, now_ms: u64) {
        self.progress.last_ms.store(now_ms, Ordering::Relaxed);
    }

    /// Whether the pool asked this connection to close to make room.
    pub fn evicted(&self) -> bool {
        self.progress.evicted.load(Ordering::Relaxed)
    }
}

/// The grouping keys of a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct SourceKey {
    /// An IPv4 address, or an IPv6 /64 (the rest zeroed).
    source: IpAddr,
    /// The IPv4 /24, when IPv4.
    block: Option<[u8; 3]>,
}

impl SourceKey {
    fn of(ip: IpAddr) -> SourceKey {
        match ip.to_canonical() {
            IpAddr::V4(v4) => {
                let o = v4.octets();
                SourceKey { source: IpAddr::V4(v4), block: Some([o[0], o[1], o[2]]) }
            }
            IpAddr::V6(v6) => {
                let mut o = v6.octets();
                o[8..].fill(0);
                SourceKey { source: IpAddr::from(o), block: None }
            }
        }
    }
}

struct Entry {
    key: SourceKey,
    progress: Arc<Progress>,
}

#[derive(Default)]
struct PoolState {
    next_id: u64,
    open: HashMap<u64, Entry>,
    per_source: HashMap<IpAddr, usize>,
    per_block: HashMap<[u8; 3], usize>,
    /// Evicted connections whose thread has not ended yet.
    lingering: usize,
    refusal_tokens: f64,
    refusal_refilled_ms: Option<u64>,
}

/// One pool (TCP's or TLS's).
pub struct ConnectionPool {
    limits: PoolLimits,
    state: Mutex<PoolState>,
}

/// A connection let in: its slot, and whether another connection was evicted for it.
pub struct Admitted {
    /// The slot, held for the connection's life.
    pub slot: Slot,
    /// True when the pool was full and its slowest connection was asked to close.
    pub evicted_another: bool,
}

fn decrement<K: std::hash::Hash + Eq>(map: &mut HashMap<K, usize>, key: K) {
    if let Some(n) = map.get_mut(&key) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            map.remove(&key);
        }
    }
}

impl PoolState {
    fn release(&mut self, key: SourceKey) {
        decrement(&mut self.per_source, key.source);
        if let Some(block) = key.block {
            decrement(&mut self.per_block, block);
        }
    }
}

impl ConnectionPool {
    /// An empty pool.
    pub fn new(limits: PoolLimits) -> Arc<ConnectionPool> {
        // A fresh pool starts with its burst of refusal records.
        let state = PoolState { refusal_tokens: limits.refused_records_per_second.max(1.0), ..PoolState::default() };
        Arc::new(ConnectionPool { limits, state: Mutex::new(state) })
    }

    /// Connection threads alive (open, and evicted but not yet ended).
    pub fn open_total(&self) -> usize {
        self.state.lock().map(|s| s.open.len() + s.lingering).unwrap_or(0)
    }

    /// A slot for a connection from `source` at `now_ms` (any monotonic clock), unless a cap
    /// is reached. A full pool evicts its connection longest without progress when that is
    /// older than `evictable_after_ms`.
    pub fn try_open(self: &Arc<Self>, source: IpAddr, now_ms: u64) -> Result<Admitted, Refusal> {
        let l = self.limits;
        let mut state = self.state.lock().map_err(|_| Refusal::Total(0))?;
        let key = SourceKey::of(source);
        let mine = state.per_source.get(&key.source).copied().unwrap_or(0);
        if mine >= l.max_per_source {
            return Err(Refusal::PerSource(mine));
        }
        if let Some(block) = key.block.filter(|_| l.max_per_ipv4_24 > 0) {
            let in_block = state.per_block.get(&block).copied().unwrap_or(0);
            if in_block >= l.max_per_ipv4_24 {
                return Err(Refusal::PerIpv4Block(in_block));
            }
        }
        let mut evicted_another = false;
        if state.open.len() >= l.max_total {
            // Evicted connections end within a poll interval; while many linger, refuse
            // rather than let a connection flood grow the threads.
            let stalest = state
                .open
                .iter()
                .map(|(id, e)| (e.progress.last_ms.load(Ordering::Relaxed), *id))
                .filter(|(last, _)| now_ms.saturating_sub(*last) >= l.evictable_after_ms)
                .min();
            let (Some((_, id)), true) = (stalest, state.lingering < (l.max_total / 4).max(1)) else {
                return Err(Refusal::Total(state.open.len()));
            };
            if let Some(entry) = state.open.remove(&id) {
                entry.progress.evicted.store(true, Ordering::Relaxed);
                state.release(entry.key);
                state.lingering += 1;
                evicted_another = true;
            }
        }
        let id = state.next_id;
        state.next_id += 1;
        let progress = Arc::new(Progress { last_ms: AtomicU64::new(now_ms), evicted: AtomicBool::new(false) });
        state.open.insert(id, Entry { key, progress: Arc::clone(&progress) });
        *state.per_source.entry(key.source).or_insert(0) += 1;
        if let Some(block) = key.block {
            *state.per_block.entry(block).or_insert(0) += 1;
        }
        Ok(Admitted { slot: Slot { pool: Arc::clone(self), id, progress }, evicted_another })
    }

    /// Whether a refused connection at `now_ms` may be recorded (a token bucket); the caller
    /// counts the ones that may not.
    pub fn may_record_refusal(&self, now_ms: u64) -> bool {
        let Ok(mut state) = self.state.lock() else { return false };
        let rate = self.limits.refused_records_per_second;
        if rate.is_nan() || rate <= 0.0 {
            return false;
        }
        let burst = rate.max(1.0);
        let last = *state.refusal_refilled_ms.get_or_insert(now_ms);
        let elapsed = now_ms.saturating_sub(last) as f64 / 1000.0;
        state.refusal_tokens = (state.refusal_tokens + elapsed * rate).min(burst);
        state.refusal_refilled_ms = Some(now_ms.max(last));
        if state.refusal_tokens < 1.0 {
            return false;
        }
        state.refusal_tokens -= 1.0;
        true
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut state) = self.pool.state.lock() {
            match state.open.remove(&self.id) {
                Some(entry) => state.release(entry.key),
                // Evicted: its counts went when it was asked to close.
                None => state.lingering = state.lingering.saturating_sub(1),
            }
        }
    }
}

/// The TCP and TLS pools of a honeypot, and the monotonic clock their times are read on.
#[derive(Clone)]
pub struct StreamPools {
    /// TCP's pool.
    pub tcp: Arc<ConnectionPool>,
    /// TLS's pool.
    pub tls: Arc<ConnectionPool>,
    epoch: Instant,
}

impl StreamPools {
    /// Both pools, as `limits` say.
    pub fn new(limits: &HoneypotLimits) -> StreamPools {
        let pool = |max_total| PoolLimits {
            max_total,
            max_per_source: limits.max_connections_per_source,
            max_per_ipv4_24: limits.max_connections_per_ipv4_24,
            evictable_after_ms: limits.message_deadline_seconds.saturating_mul(1000).min(1000),
            refused_records_per_second: limits.refused_records_per_second,
        };
        StreamPools {
            tcp: ConnectionPool::new(pool(limits.max_connections)),
            tls: ConnectionPool::new(pool(limits.max_tls_connections)),
            epoch: Instant::now(),
        }
    }

    /// Milliseconds on the pools' monotonic clock (the shell reads it; the pools are told).
    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Connection threads alive in both pools.
    pub fn open_total(&self) -> usize {
        self.tcp.open_total() + self.tls.open_total()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(max_total: usize, max_per_source: usize, max_per_ipv4_24: usize) -> Arc<ConnectionPool> {
        ConnectionPool::new(PoolLimits {
            max_total,
            max_per_source,
            max_per_ipv4_24,
            evictable_after_ms: 1000,
            refused_records_per_second: 2.0,
        })
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn caps_count_total_and_per_source_and_release_on_drop() {
        let p = pool(3, 2, 0);
        let s1 = p.try_open(ip("192.0.2.1"), 0).unwrap();
        let _s2 = p.try_open(ip("192.0.2.1"), 0).unwrap();
        assert_eq!(p.try_open(ip("192.0.2.1"), 0).err(), Some(Refusal::PerSource(2)));
        let _s3 = p.try_open(ip("192.0.2.2"), 0).unwrap();
        assert_eq!(p.try_open(ip("192.0.2.3"), 0).err(), Some(Refusal::Total(3)), "nobody is evictable yet");
        drop(s1);
        assert!(p.try_open(ip("192.0.2.2"), 0).is_ok());
    }

    #[test]
    fn an_ipv6_source_is_its_64_and_an_ipv4_block_its_24() {
        let p = pool(100, 2, 3);
        let _a = p.try_open(ip("2001:db8:1:2::1"), 0).unwrap();
        let _b = p.try_open(ip("2001:db8:1:2:ffff::7"), 0).unwrap();
        assert_eq!(p.try_open(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), 0).err(), Some(Refusal::PerSource(2)));
        assert!(p.try_open(ip("2001:db8:1:3::1"), 0).is_ok(), "another /64");
        let _c = p.try_open(ip("198.51.100.1"), 0).unwrap();
        let _d = p.try_open(ip("198.51.100.2"), 0).unwrap();
        let _e = p.try_open(ip("198.51.100.3"), 0).unwrap();
        assert_eq!(p.try_open(ip("198.51.100.4"), 0).err(), Some(Refusal::PerIpv4Block(3)));
        assert!(p.try_open(ip("198.51.101.4"), 0).is_ok(), "another /24");
        assert!(p.try_open(ip("::ffff:198.51.100.9"), 0).is_err(), "a mapped address is its IPv4 address");
    }

    #[test]
    fn a_full_pool_evicts_the_connection_longest_without_progress() {
        let p = pool(3, 10, 0);
        let slow = p.try_open(ip("192.0.2.1"), 0).unwrap().slot;
        let busy = p.try_open(ip("192.0.2.2"), 100).unwrap().slot;
        let late = p.try_open(ip("192.0.2.3"), 200).unwrap().slot;
        busy.progressed(1_500);
        // At 900 ms nobody has been stuck for a second.
        assert!(p.try_open(ip("192.0.2.9"), 900).is_err());
        let newcomer = p.try_open(ip("192.0.2.9"), 2_000).unwrap();
        assert!(newcomer.evicted_another);
        assert!(slow.evicted() && !busy.evicted() && !late.evicted());
        assert_eq!(p.open_total(), 4, "the evicted thread still runs");
        drop(slow);
        assert_eq!(p.open_total(), 3);
        // Next in line: `late` (200), not `busy` (1500).
        assert!(p.try_open(ip("192.0.2.10"), 2_100).unwrap().evicted_another);
        assert!(late.evicted() && !busy.evicted());
    }

    #[test]
    fn evictions_are_bounded_while_evicted_threads_linger() {
        let p = pool(4, 100, 0);
        let mut held: Vec<Admitted> = (0..4).map(|i| p.try_open(ip(&format!("192.0.2.{i}")), 0).unwrap()).collect();
        // A quarter of the pool (1) may linger: the second eviction waits for the first to end.
        held.push(p.try_open(ip("192.0.2.50"), 5_000).unwrap());
        assert_eq!(p.try_open(ip("192.0.2.51"), 5_000).err(), Some(Refusal::Total(4)));
        let evicted = held.iter().position(|a| a.slot.evicted()).unwrap();
        held.remove(evicted);
        assert!(p.try_open(ip("192.0.2.51"), 5_000).is_ok());
    }

    #[test]
    fn refusals_are_recorded_at_a_bounded_rate() {
        let p = pool(1, 1, 0);
        let recorded = (0..100).filter(|_| p.may_record_refusal(10_000)).count();
        assert_eq!(recorded, 2, "one second's burst");
        assert!(p.may_record_refusal(10_500), "half a second later: one more");
        assert!(!p.may_record_refusal(10_500));
    }
}
