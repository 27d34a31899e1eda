//! The little state a PBX keeps between requests: INVITE transactions (so CANCEL is answered by
//! whether its INVITE exists) in a bounded table that forgets the oldest entry first (nothing is
//! keyed without a bound: attackers choose Call-IDs), and the [`Binding`]s a REGISTER changes
//! (kept by `registrar.rs`).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::SocketAddr;

/// A bounded map that forgets its oldest insertions first.
pub struct Bounded<K, V> {
    cap: usize,
    map: HashMap<K, V>,
    order: VecDeque<K>,
}

impl<K: Hash + Eq + Clone, V> Bounded<K, V> {
    /// At most `cap` entries.
    pub fn new(cap: usize) -> Self {
        Bounded { cap: cap.max(1), map: HashMap::new(), order: VecDeque::new() }
    }

    /// Inserts or replaces; an insertion beyond the cap forgets the oldest key.
    pub fn insert(&mut self, key: K, value: V) {
        if self.map.insert(key.clone(), value).is_none() {
            self.order.push_back(key);
            while self.map.len() > self.cap {
                match self.order.pop_front() {
                    Some(old) => {
                        self.map.remove(&old);
                    }
                    None => break,
                }
            }
        }
        // Keys removed explicitly leave stale entries in `order`; trim them when it grows.
        if self.order.len() > self.cap * 2 {
            let map = &self.map;
            self.order.retain(|k| map.contains_key(k));
        }
    }

    /// The value under `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key)
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.map.remove(key)
    }

    /// Removes every entry for which `keep` is false.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &V) -> bool) {
        self.map.retain(|k, v| keep(k, v));
    }

    /// Entries now.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Iterates the entries (no particular order).
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.map.iter()
    }
}

/// An INVITE server transaction, by source address, Call-ID and CSeq number (what a CANCEL
/// repeats). The Call-ID is kept as the first 16 bytes of its SHA-256: an attacker chooses
/// it, up to the message size, and 65,536 transactions of 15 kB Call-IDs would hold gigabytes.
pub type InviteKey = (std::net::IpAddr, [u8; 16], u64);

/// The key of the INVITE transaction `call_id`/`cseq` from `source`.
pub fn invite_key(source: std::net::IpAddr, call_id: &[u8], cseq: u64) -> InviteKey {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(call_id);
    let mut short = [0u8; 16];
    short.copy_from_slice(&digest[..16]);
    (source, short, cseq)
}

/// How long an INVITE transaction lingers after its final answer (64 × T1, RFC 3261 §17.2.1).
pub const INVITE_LINGER_NS: i64 = 32_000_000_000;

/// One registration binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The registered extension.
    pub user: String,
    /// The Contact URI registered (text, losslessly escaped).
    pub contact: String,
    /// Granted expiry, seconds; 0 when this removes the binding.
    pub expires: u64,
    /// Where the REGISTER came from.
    pub source: SocketAddr,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_forgets_the_oldest() {
        let mut b = Bounded::new(2);
        b.insert(1, "a");
        b.insert(2, "b");
        b.insert(1, "a2");
        b.insert(3, "c");
        assert_eq!(b.len(), 2);
        assert!(b.get(&1).is_none());
        assert_eq!(b.get(&3), Some(&"c"));
        for i in 10..1000 {
            b.insert(i, "x");
            b.remove(&i);
        }
        assert!(b.order.len() <= 4, "removed keys do not pile up");
    }

    #[test]
    fn invite_keys_are_small_whatever_the_call_id() {
        let ip = std::net::IpAddr::from([192, 0, 2, 1]);
        let long = vec![b'x'; 15_000];
        let key = invite_key(ip, &long, 1);
        assert_eq!(std::mem::size_of_val(&key.1), 16);
        assert_eq!(key, invite_key(ip, &long, 1));
        assert_ne!(key, invite_key(ip, &long[1..], 1));
        assert_ne!(key, invite_key(ip, &long, 2));
    }
}
