//! A map bounded by entries that forgets the least recently written half when full: two
//! generations, the current one written, the previous one only read. Lookups try both; when
//! the current generation holds half the limit it becomes the previous one and the old
//! previous one is dropped. Memory stays within the limit whatever an attacker sends, and what
//! is written often stays (it is written again into the current generation). The trackers and
//! caches of the rules engine keep their attacker-keyed state here.

use crate::analysis::FastMap;
use std::hash::Hash;

/// A bounded map of at most `limit` entries (see the module comment).
#[derive(Debug, Clone)]
pub struct GenMap<K, V> {
    current: FastMap<K, V>,
    previous: FastMap<K, V>,
    half: usize,
    /// Entries forgotten so far.
    pub forgotten: u64,
}

impl<K: Hash + Eq, V> GenMap<K, V> {
    /// A map of at most `limit` entries (at least 2).
    pub fn new(limit: usize) -> GenMap<K, V> {
        GenMap { current: FastMap::default(), previous: FastMap::default(), half: (limit / 2).max(1), forgotten: 0 }
    }

    /// The value of `key`, from either generation.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.current.get(key).or_else(|| self.previous.get(key))
    }

    /// Whether `key` is known.
    pub fn contains(&self, key: &K) -> bool {
        self.get(key).is_some()
    }

    /// Writes `value` under `key` (in the current generation).
    pub fn insert(&mut self, key: K, value: V) {
        self.rotate_if_full();
        self.previous.remove(&key);
        self.current.insert(key, value);
    }

    /// The value of `key` for updating, moved into the current generation; `make` builds it
    /// when the key is unknown.
    pub fn entry(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        if !self.current.contains_key(&key) {
            self.rotate_if_full();
            let value = self.previous.remove(&key).unwrap_or_else(make);
            return self.current.entry(key).or_insert(value);
        }
        self.current.entry(key).or_insert_with(make)
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The current generation becomes the previous one; the old previous one is emptied and
    /// written next, keeping its allocation: no table is freed, allocated again and regrown
    /// (rehashing at every doubling, fresh pages faulted in) at each turn.
    fn rotate_if_full(&mut self) {
        if self.current.len() >= self.half {
            self.forgotten += self.previous.len() as u64;
            std::mem::swap(&mut self.current, &mut self.previous);
            self.current.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_at_most_its_limit_and_keeps_what_is_written_again() {
        let mut m: GenMap<u32, u32> = GenMap::new(10);
        for i in 0..1_000 {
            m.insert(i, i);
            m.insert(7, 7);
            assert!(m.len() <= 10, "{}", m.len());
        }
        assert_eq!(m.get(&7), Some(&7));
        assert_eq!(m.get(&999), Some(&999));
        assert_eq!(m.get(&3), None);
        assert!(m.forgotten > 900);
        *m.entry(7, || 0) += 1;
        assert_eq!(m.get(&7), Some(&8));
        *m.entry(5_000, || 40) += 2;
        assert_eq!(m.get(&5_000), Some(&42));
    }
}
