//! Scan strategies: how a flow picks its next destination. The telescope study (§V.B, Fig. 2)
//! saw three: random over the whole IPv4 space (custom tools), sequential (SIPVicious: the next
//! address is the previous one + 1) and random inside successive small netblocks (nmap: every
//! address of a block, shuffled, then the next block). One destination is a fourth. The tracker
//! looks only at the order of destinations it is given, in bounded memory; the rule and its
//! thresholds are in `docs/scan-strategies.md`.

#[cfg(test)]
mod tests;

use serde::Deserialize;
use std::net::IpAddr;

/// How a flow chooses destinations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// One destination only.
    SingleTarget,
    /// Destinations in address order: each new one the previous ± a small step (SIPVicious
    /// over a range), or, with any steps, always up or always down (a sweep of addresses that
    /// are not contiguous, such as a PBX's node addresses).
    Sequential,
    /// New destinations stay inside one block until it is done, in shuffled order (nmap).
    RandomNetblocks,
    /// New destinations jump between blocks with no locality.
    Random,
    /// Too few destinations, or no pattern dominates.
    Undecided,
}

impl Strategy {
    /// Stable snake_case name for the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::SingleTarget => "single_target",
            Strategy::Sequential => "sequential",
            Strategy::RandomNetblocks => "random_netblocks",
            Strategy::Random => "random",
            Strategy::Undecided => "undecided",
        }
    }
}

/// Thresholds; the defaults and their reasons are in `docs/scan-strategies.md`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StrategyConfig {
    /// Distinct destinations needed before deciding anything but `single_target` (8).
    pub min_distinct: u32,
    /// Host bits of a block (8: an IPv4 /24; in IPv6 a /120, the same 256 addresses).
    pub block_bits: u8,
    /// Largest step between a new destination and a recent one that is still "sequential" (4):
    /// lost packets, or sensor addresses that are not contiguous.
    pub max_sequential_gap: u32,
    /// Share of steps that must be sequential for `sequential` (0.6).
    pub min_sequential_share: f64,
    /// Share of steps that must go the same way (up, or down), whatever their size, for
    /// `sequential` as well (0.9): a sweep in address order of addresses that are not
    /// contiguous. Shuffled blocks and random scans go up half of the time.
    pub min_ordered_share: f64,
    /// Share of steps that must stay in their block for `random_netblocks` (0.6); sequential
    /// flows were recognised before this is asked.
    pub min_local_share: f64,
    /// Share of block entries that may return to a block left earlier, for `random_netblocks`
    /// (0.25): nmap finishes a block before it moves on.
    pub max_revisit_share: f64,
    /// Share of steps that must leave the block (and not be sequential) for `random` (0.6).
    pub min_far_share: f64,
    /// Recent distinct destinations remembered (8): a destination among them again is a
    /// retransmission or another request to the same host (svwar), not a step.
    pub recent_destinations: usize,
    /// Recent blocks remembered to notice returns (32).
    pub recent_blocks: usize,
}

impl Default for StrategyConfig {
    fn default() -> Self {
        StrategyConfig {
            min_distinct: 8,
            block_bits: 8,
            max_sequential_gap: 4,
            min_sequential_share: 0.6,
            min_ordered_share: 0.9,
            min_local_share: 0.6,
            max_revisit_share: 0.25,
            min_far_share: 0.6,
            recent_destinations: 8,
            recent_blocks: 32,
        }
    }
}

/// Counts behind a decision, for reports.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StrategyStats {
    /// Destinations observed, repeats included.
    pub observed: u64,
    /// New destinations: not equal to any of the recent ones. Exact while the flow has at most
    /// `recent_destinations` distinct destinations; beyond, a destination that comes back after
    /// being forgotten counts again, so this can exceed the true number.
    pub distinct: u32,
    /// Steps (from one new destination to the next) up by at most `max_sequential_gap`.
    pub sequential_up: u32,
    /// Steps down by at most `max_sequential_gap`.
    pub sequential_down: u32,
    /// Steps to a higher address than the previous new destination, of any size.
    pub ascending: u32,
    /// Steps to a lower address, of any size.
    pub descending: u32,
    /// Other steps that stay in the same block.
    pub local: u32,
    /// Other steps to another block.
    pub far: u32,
    /// Steps that stay in the same block, sequential or not.
    pub in_block: u32,
    /// Times the flow entered a block (the first one included).
    pub blocks_entered: u32,
    /// Entries into a block that is among the recent blocks (a return).
    pub revisits: u32,
    /// Mean absolute distance between consecutive new destinations, in addresses.
    pub mean_gap: f64,
}

/// One flow's destinations, in arrival order, in bounded memory: counters plus at most
/// `recent_destinations` addresses and `recent_blocks` block numbers.
#[derive(Debug, Clone)]
pub struct StrategyTracker {
    cfg: StrategyConfig,
    st: StrategyStats,
    gap_sum: f64,
    /// The last new destination, as a 128-bit number (IPv4 as IPv4-mapped IPv6).
    last: Option<u128>,
    before_last: Option<u128>,
    recent: Ring<u128>,
    blocks: Ring<u128>,
}

impl Default for StrategyTracker {
    fn default() -> Self {
        StrategyTracker::new(StrategyConfig::default())
    }
}

impl StrategyTracker {
    /// A tracker with these thresholds.
    pub fn new(cfg: StrategyConfig) -> StrategyTracker {
        StrategyTracker {
            cfg,
            st: StrategyStats::default(),
            gap_sum: 0.0,
            last: None,
            before_last: None,
            recent: Ring::new(cfg.recent_destinations),
            blocks: Ring::new(cfg.recent_blocks),
        }
    }

    /// Takes the destination of the flow's next request.
    pub fn observe(&mut self, dst: IpAddr) {
        // One number line for both families: IPv4 sits at ::ffff:a.b.c.d, so "+1" and blocks
        // mean the same in both and a family change is simply a far step.
        let v = u128::from(match dst {
            IpAddr::V4(a) => a.to_ipv6_mapped(),
            IpAddr::V6(a) => a,
        });
        self.st.observed += 1;
        if self.last == Some(v) || self.recent.contains(v) {
            return; // a retransmission, or another request to a host already scanned
        }
        bump(&mut self.st.distinct);
        let bits = self.cfg.block_bits.min(127);
        let block = v >> bits;
        let st = &mut self.st;
        if let Some(last) = self.last {
            let gap = self.cfg.max_sequential_gap.max(1) as u128;
            let same_block = last >> bits == block;
            // Measured from the last two new destinations, so that one stray address in a sweep
            // costs one step and not two; not from more, or the dense, shuffled blocks of nmap
            // would often land close to some recent address.
            let near = [Some(last), self.before_last];
            if near.iter().flatten().any(|&r| v > r && v - r <= gap) {
                bump(&mut st.sequential_up);
            } else if near.iter().flatten().any(|&r| r > v && r - v <= gap) {
                bump(&mut st.sequential_down);
            } else if same_block {
                bump(&mut st.local);
            } else {
                bump(&mut st.far);
            }
            if same_block {
                bump(&mut st.in_block);
            }
            bump(if v > last { &mut st.ascending } else { &mut st.descending });
            self.gap_sum += v.abs_diff(last) as f64;
        }
        if self.last.map(|l| l >> bits) != Some(block) {
            bump(&mut st.blocks_entered);
            if self.blocks.contains(block) {
                bump(&mut st.revisits);
            } else {
                self.blocks.push(block);
            }
        }
        self.recent.push(v);
        self.before_last = self.last;
        self.last = Some(v);
    }

    /// The strategy so far.
    pub fn decide(&self) -> Strategy {
        let st = &self.st;
        match st.distinct {
            0 => return Strategy::Undecided,
            1 => return Strategy::SingleTarget,
            n if n < self.cfg.min_distinct.max(2) => return Strategy::Undecided,
            _ => {}
        }
        let steps = [st.sequential_up, st.sequential_down, st.local, st.far].into_iter().map(f64::from).sum::<f64>();
        let share = |n: u32| f64::from(n) / steps;
        let revisits = f64::from(st.revisits) / f64::from(st.blocks_entered.max(1));
        let sequential = share(st.sequential_up.max(st.sequential_down)) >= self.cfg.min_sequential_share;
        let ordered = share(st.ascending.max(st.descending)) >= self.cfg.min_ordered_share;
        if sequential || ordered {
            Strategy::Sequential
        } else if share(st.in_block) >= self.cfg.min_local_share && revisits <= self.cfg.max_revisit_share {
            Strategy::RandomNetblocks
        } else if share(st.far) >= self.cfg.min_far_share {
            Strategy::Random
        } else {
            Strategy::Undecided
        }
    }

    /// The counts behind [`decide`](Self::decide).
    pub fn stats(&self) -> StrategyStats {
        let steps = self.st.distinct.saturating_sub(1);
        StrategyStats { mean_gap: if steps == 0 { 0.0 } else { self.gap_sum / f64::from(steps) }, ..self.st }
    }

    /// Heap bytes held at most; fixed by the configuration (the rings grow up to it: most
    /// flows see one destination).
    pub fn heap_bytes(&self) -> usize {
        (self.recent.cap + self.blocks.cap) * std::mem::size_of::<u128>()
    }
}

/// Counters stop at their maximum instead of wrapping: a flow can run for years.
fn bump(c: &mut u32) {
    *c = c.saturating_add(1);
}

/// A fixed-capacity ring: the newest `cap` items, in a vector that grows up to `cap`.
#[derive(Debug, Clone)]
struct Ring<T> {
    items: Vec<T>,
    cap: usize,
    next: usize,
}

impl<T: Copy + PartialEq> Ring<T> {
    fn new(cap: usize) -> Ring<T> {
        let cap = cap.max(1);
        Ring { items: Vec::new(), cap, next: 0 }
    }

    fn push(&mut self, x: T) {
        if self.items.len() < self.cap {
            if self.items.len() == self.items.capacity() {
                // Doubling, but never past the cap.
                let grow = self.items.len().max(1).min(self.cap - self.items.len());
                self.items.reserve_exact(grow);
            }
            self.items.push(x);
        } else {
            self.items[self.next] = x;
        }
        self.next = (self.next + 1) % self.cap;
    }

    fn contains(&self, x: T) -> bool {
        self.items.contains(&x)
    }
}
