//! The lock-free primitives behind every metric: counters, gauges and histograms in static
//! arrays of atomics indexed by bounded labels. Incrementing is one relaxed atomic add (no
//! lock, no allocation, no map lookup), so the pipeline's hot path pays nothing measurable;
//! only [`super::render`] reads them.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Defines a bounded label: an enum whose every value has a fixed name, so no label can ever
/// carry attacker text or grow without bound.
macro_rules! label {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in index order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// How many values there are.
            pub const COUNT: usize = Self::ALL.len();

            /// The label value as exposed.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The value's index in [`Self::ALL`].
            pub const fn index(self) -> usize {
                self as usize
            }
        }
    };
}
pub(crate) use label;

/// `N` counters (one per label combination), monotonically increasing.
pub struct Counters<const N: usize>([AtomicU64; N]);

impl<const N: usize> Counters<N> {
    /// All zero.
    pub const fn new() -> Self {
        Counters([const { AtomicU64::new(0) }; N])
    }

    /// Adds `n` to counter `i` (an index past the end is ignored: labels are bounded by type,
    /// this only guards a wrong constant).
    #[inline]
    pub fn add(&self, i: usize, n: u64) {
        if let Some(c) = self.0.get(i) {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Counter `i` now.
    pub fn get(&self, i: usize) -> u64 {
        self.0.get(i).map_or(0, |c| c.load(Ordering::Relaxed))
    }
}

impl<const N: usize> Default for Counters<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// `N` gauges that go up and down (queue depths: every owner adds its own changes, so the
/// value is the sum over every instance of a queue).
pub struct Gauges<const N: usize>([AtomicI64; N]);

impl<const N: usize> Gauges<N> {
    /// All zero.
    pub const fn new() -> Self {
        Gauges([const { AtomicI64::new(0) }; N])
    }

    /// Adds `delta` (negative: takes away) to gauge `i`.
    #[inline]
    pub fn add(&self, i: usize, delta: i64) {
        if let Some(g) = self.0.get(i) {
            g.fetch_add(delta, Ordering::Relaxed);
        }
    }

    /// Sets gauge `i`.
    pub fn set(&self, i: usize, value: i64) {
        if let Some(g) = self.0.get(i) {
            g.store(value, Ordering::Relaxed);
        }
    }

    /// Gauge `i` now.
    pub fn get(&self, i: usize) -> i64 {
        self.0.get(i).map_or(0, |g| g.load(Ordering::Relaxed))
    }
}

impl<const N: usize> Default for Gauges<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// `N` floating-point gauges (their bits in atomics), for values that are not counts: a lag
/// in seconds.
pub struct FloatGauges<const N: usize>([AtomicU64; N]);

impl<const N: usize> FloatGauges<N> {
    /// All zero.
    pub const fn new() -> Self {
        FloatGauges([const { AtomicU64::new(0) }; N])
    }

    /// Sets gauge `i`.
    pub fn set(&self, i: usize, value: f64) {
        if let Some(g) = self.0.get(i) {
            g.store(value.to_bits(), Ordering::Relaxed);
        }
    }

    /// Gauge `i` now.
    pub fn get(&self, i: usize) -> f64 {
        self.0.get(i).map_or(0.0, |g| f64::from_bits(g.load(Ordering::Relaxed)))
    }
}

impl<const N: usize> Default for FloatGauges<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// Upper bounds (seconds) of the latency histograms' buckets: from half a millisecond (a
/// commit to a page cache) to ten seconds (a disk in trouble).
pub const LATENCY_BUCKETS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// A histogram of durations over [`LATENCY_BUCKETS`]: one count per bucket (not cumulative;
/// the exposition adds them up) plus one for what exceeds the last bound, and the sum in
/// nanoseconds.
pub struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_ns: AtomicU64,
}

/// What a histogram held when read.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// Cumulative counts per bucket bound, in [`LATENCY_BUCKETS`] order, then `+Inf`.
    pub cumulative: Vec<u64>,
    /// Sum of the observations, seconds.
    pub sum_seconds: f64,
}

impl HistogramSnapshot {
    /// Observations in all.
    pub fn count(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0)
    }
}

impl Histogram {
    /// Empty.
    pub const fn new() -> Self {
        Histogram { buckets: [const { AtomicU64::new(0) }; LATENCY_BUCKETS.len() + 1], sum_ns: AtomicU64::new(0) }
    }

    /// Records one duration.
    pub fn observe(&self, d: std::time::Duration) {
        let seconds = d.as_secs_f64();
        let i = LATENCY_BUCKETS.iter().position(|&le| seconds <= le).unwrap_or(LATENCY_BUCKETS.len());
        if let Some(b) = self.buckets.get(i) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        self.sum_ns.fetch_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// The counts now. The count is the sum of the buckets, so the two always agree.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut total = 0u64;
        let cumulative = self
            .buckets
            .iter()
            .map(|b| {
                total = total.saturating_add(b.load(Ordering::Relaxed));
                total
            })
            .collect();
        HistogramSnapshot { cumulative, sum_seconds: self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9 }
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn counters_and_gauges() {
        let c = Counters::<3>::new();
        c.add(1, 2);
        c.add(1, 3);
        c.add(7, 1);
        assert_eq!((c.get(0), c.get(1), c.get(7)), (0, 5, 0));
        let g = Gauges::<2>::new();
        g.add(0, 5);
        g.add(0, -2);
        g.set(1, 9);
        assert_eq!((g.get(0), g.get(1)), (3, 9));
        let f = FloatGauges::<1>::new();
        f.set(0, 0.25);
        assert_eq!(f.get(0), 0.25);
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let h = Histogram::new();
        h.observe(Duration::from_micros(100));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(60));
        let s = h.snapshot();
        assert_eq!(s.cumulative.len(), LATENCY_BUCKETS.len() + 1);
        assert_eq!(s.cumulative[0], 1, "0.1 ms is under 0.5 ms");
        assert_eq!(s.cumulative[2], 1, "3 ms is above 2.5 ms");
        assert_eq!(s.cumulative[3], 3, "… and under 5 ms");
        assert_eq!(s.cumulative[LATENCY_BUCKETS.len() - 1], 3, "a minute is beyond the last bound");
        assert_eq!(s.count(), 4);
        assert!((s.sum_seconds - 60.0061).abs() < 1e-9);
    }
}
