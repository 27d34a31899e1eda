//! The little state a PBX keeps between requests: INVITE transactions (so CANCEL is answered by
//! whether its INVITE exists) and registrations (the bindings an attacker created: the
//! evidence of a hijacked account). Both are bounded tables that forget the oldest entry
//! first; nothing is keyed without a bound (attackers choose Call-IDs).

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
/// repeats).
pub type InviteKey = (std::net::IpAddr, Vec<u8>, u64);

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

/// Registrations in force, by (user, contact).
pub struct Registrar {
    bindings: Bounded<(String, String), (i64, SocketAddr)>,
}

impl Registrar {
    /// At most `cap` bindings.
    pub fn new(cap: usize) -> Registrar {
        Registrar { bindings: Bounded::new(cap) }
    }

    /// Applies a successful REGISTER at `now_ns`: expires 0 removes, else adds or refreshes.
    pub fn apply(&mut self, binding: &Binding, now_ns: i64) {
        let key = (binding.user.clone(), binding.contact.clone());
        if binding.expires == 0 {
            self.bindings.remove(&key);
        } else {
            let until = now_ns.saturating_add((binding.expires as i64).saturating_mul(1_000_000_000));
            self.bindings.insert(key, (until, binding.source));
        }
    }

    /// Removes every binding of `user` (`Contact: *` with expires 0).
    pub fn remove_all(&mut self, user: &str) {
        self.bindings.retain(|(u, _), _| u != user);
    }

    /// Bindings of `user` still in force at `now_ns`, with seconds left.
    pub fn active(&self, user: &str, now_ns: i64) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = self
            .bindings
            .iter()
            .filter(|((u, _), (until, _))| u == user && *until > now_ns)
            .map(|((_, c), (until, _))| (c.clone(), ((until - now_ns) / 1_000_000_000) as u64))
            .collect();
        out.sort();
        out
    }
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
    fn registrations_expire_refresh_and_unregister() {
        let src: SocketAddr = "192.0.2.1:5060".parse().unwrap();
        let mut r = Registrar::new(10);
        let b = |contact: &str, expires| Binding { user: "100".into(), contact: contact.into(), expires, source: src };
        r.apply(&b("sip:100@192.0.2.1", 60), 0);
        r.apply(&b("sip:100@192.0.2.2", 120), 0);
        assert_eq!(r.active("100", 30_000_000_000).len(), 2);
        assert_eq!(r.active("100", 61_000_000_000), vec![("sip:100@192.0.2.2".into(), 59)]);
        r.apply(&b("sip:100@192.0.2.2", 0), 62_000_000_000);
        assert!(r.active("100", 62_000_000_000).is_empty());
        r.apply(&b("sip:100@192.0.2.3", 60), 0);
        r.remove_all("100");
        assert!(r.active("100", 0).is_empty());
    }
}
