//! A rule's window: when the matches of one group add up to an alert. Every window is a pure
//! function of the matches' event times, and bounded in memory whatever the threshold:
//!
//! - **count**: at least `threshold` matches within `seconds`. Kept as [`SLOTS`] counters of
//!   `seconds / SLOTS` each, so the window slides in steps of a sixteenth: it covers between
//!   15/16 of `seconds` and `seconds` of the most recent matches.
//! - **distinct**: at least `threshold` distinct values of a fact within `seconds` (exact:
//!   each value with the time it was last seen, as a hash, at most `threshold` of them).
//! - **bucket**: a leaky bucket of `capacity` drops leaking `leak_per_second`; a match adds a
//!   drop, and the alert is raised when the bucket overflows (CrowdSec's scenarios).

use super::facts::Fact;
use crate::analysis::FastMap;

/// Sub-intervals of a count window.
pub const SLOTS: usize = 16;

/// What a rule's window is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WindowSpec {
    /// `threshold` matches within `window_ns`.
    Count {
        /// Matches needed.
        threshold: u32,
        /// Window length, ns (> 0).
        window_ns: i64,
    },
    /// `threshold` distinct values of `of` within `window_ns`.
    Distinct {
        /// Distinct values needed.
        threshold: u32,
        /// The fact whose values are counted.
        of: Fact,
        /// Window length, ns (> 0).
        window_ns: i64,
    },
    /// A leaky bucket.
    Bucket {
        /// Drops it holds before it overflows.
        capacity: u32,
        /// Drops it loses per second (> 0).
        leak_per_second: f64,
    },
}

impl WindowSpec {
    /// The window's natural length, ns: the default time an alert stays open (deduplicating
    /// further matches of its group). A bucket's is the time it takes to empty.
    pub fn period_ns(&self) -> i64 {
        match *self {
            WindowSpec::Count { window_ns, .. } | WindowSpec::Distinct { window_ns, .. } => window_ns,
            WindowSpec::Bucket { capacity, leak_per_second } => {
                (f64::from(capacity) / leak_per_second * 1e9).clamp(1.0, i64::MAX as f64 / 2.0) as i64
            }
        }
    }

    /// The fact whose values a distinct window counts.
    pub fn distinct_of(&self) -> Option<Fact> {
        match self {
            WindowSpec::Distinct { of, .. } => Some(*of),
            _ => None,
        }
    }
}

/// The window of one group.
#[derive(Debug, Clone)]
pub enum WindowState {
    /// Counters per slot; `newest` is the slot number (time / slot length) of `counts[newest % SLOTS]`.
    Count {
        /// The newest slot's number.
        newest: i64,
        /// The counters.
        counts: [u32; SLOTS],
    },
    /// Values (hashed) and when each was last seen.
    Distinct(FastMap<u64, i64>),
    /// The bucket's level and when it was last updated.
    Bucket {
        /// Drops in the bucket.
        level: f64,
        /// Time of the last drop, ns.
        last_ns: i64,
    },
}

impl WindowState {
    /// An empty window of `spec`.
    pub fn new(spec: &WindowSpec) -> WindowState {
        match spec {
            WindowSpec::Count { .. } => WindowState::Count { newest: i64::MIN, counts: [0; SLOTS] },
            WindowSpec::Distinct { .. } => WindowState::Distinct(FastMap::default()),
            WindowSpec::Bucket { .. } => WindowState::Bucket { level: 0.0, last_ns: i64::MIN },
        }
    }

    /// Counts a match at `ts` (with the hash of its value, for a distinct window); true when
    /// the window reached its threshold.
    pub fn add(&mut self, spec: &WindowSpec, ts: i64, value: Option<u64>) -> bool {
        match (self, *spec) {
            (WindowState::Count { newest, counts }, WindowSpec::Count { threshold, window_ns }) => {
                let slot_ns = (window_ns / SLOTS as i64).max(1);
                let slot = ts.div_euclid(slot_ns);
                if *newest == i64::MIN || slot - *newest >= SLOTS as i64 {
                    *counts = [0; SLOTS];
                    *newest = slot;
                } else {
                    while *newest < slot {
                        *newest += 1;
                        counts[newest.rem_euclid(SLOTS as i64) as usize] = 0;
                    }
                }
                // A match older than the window (times out of order) counts in the oldest slot.
                let at = slot.max(*newest - (SLOTS as i64 - 1));
                let cell = &mut counts[at.rem_euclid(SLOTS as i64) as usize];
                *cell = cell.saturating_add(1);
                counts.iter().map(|c| u64::from(*c)).sum::<u64>() >= u64::from(threshold)
            }
            (WindowState::Distinct(seen), WindowSpec::Distinct { threshold, window_ns, .. }) => {
                let Some(value) = value else { return false };
                let last = seen.entry(value).or_insert(ts);
                *last = (*last).max(ts);
                if seen.len() < threshold as usize {
                    return false;
                }
                // Full: forget what left the window; what stays is the distinct count.
                let since = ts.saturating_sub(window_ns);
                seen.retain(|_, t| *t > since);
                seen.len() >= threshold as usize
            }
            (WindowState::Bucket { level, last_ns }, WindowSpec::Bucket { capacity, leak_per_second }) => {
                if *last_ns != i64::MIN && ts > *last_ns {
                    let leaked = (ts - *last_ns) as f64 / 1e9 * leak_per_second;
                    *level = (*level - leaked).max(0.0);
                }
                *last_ns = (*last_ns).max(ts);
                *level += 1.0;
                *level > f64::from(capacity)
            }
            // A state of another window's kind cannot be made (`new` follows the spec).
            _ => false,
        }
    }

    /// Heap bytes held, about.
    pub fn heap_bytes(&self) -> usize {
        match self {
            WindowState::Distinct(seen) => seen.capacity() * (2 * std::mem::size_of::<u64>() + 1),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn count_windows_slide_with_event_time() {
        let spec = WindowSpec::Count { threshold: 5, window_ns: 16 * S };
        let mut w = WindowState::new(&spec);
        // Four matches, then a long pause: the fifth does not complete the old four.
        for i in 0..4 {
            assert!(!w.add(&spec, i * S, None));
        }
        assert!(!w.add(&spec, 40 * S, None));
        for i in 1..4 {
            assert!(!w.add(&spec, 40 * S + i * S, None));
        }
        assert!(w.add(&spec, 44 * S, None), "five within 16 s");
        // Out of order by more than the window: counted in the oldest slot, no panic.
        w.add(&spec, 0, None);
    }

    #[test]
    fn distinct_windows_count_values_that_are_still_inside() {
        let spec = WindowSpec::Distinct { threshold: 3, of: Fact::Destination, window_ns: 3 * S };
        let mut w = WindowState::new(&spec);
        assert!(!w.add(&spec, 0, Some(1)));
        assert!(!w.add(&spec, S, Some(1)));
        assert!(!w.add(&spec, 2 * S, Some(2)));
        assert!(!w.add(&spec, 5 * S, Some(3)), "value 1 was last seen 4 s ago");
        assert!(!w.add(&spec, 5 * S + 1, Some(4)), "2 is 3 s old: out");
        assert!(w.add(&spec, 5 * S + 2, Some(5)));
        let WindowState::Distinct(seen) = &w else { unreachable!() };
        assert!(seen.len() <= 3, "never more than the threshold kept");
        assert!(!w.add(&spec, 6 * S, None), "no value, not counted");
    }

    #[test]
    fn buckets_overflow_only_faster_than_they_leak() {
        let spec = WindowSpec::Bucket { capacity: 10, leak_per_second: 10.0 };
        let mut w = WindowState::new(&spec);
        // 10 a second for a minute: never overflows.
        for i in 0..600 {
            assert!(!w.add(&spec, i * S / 10, None), "{i}");
        }
        // 100 a second: overflows within a fraction of a second.
        let start = 61 * S;
        let hit = (0..100).find(|i| w.add(&spec, start + i * S / 100, None));
        assert!(matches!(hit, Some(10..=13)), "{hit:?}");
        assert_eq!(spec.period_ns(), S);
    }
}
