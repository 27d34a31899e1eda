//! Per-number counters: how many calls were made to each unified number (a call is a dialog:
//! an INVITE challenged and sent again with credentials, or retransmitted, is one call of two
//! INVITEs), with how many INVITEs, in how many spellings, from how many sources, when.
//! Everything is bounded: numbers tracked, variants, sources and recent calls per number, and
//! the bytes of a variant (classification refuses users over 128 bytes). Attackers choose the
//! numbers, so a flood of distinct ones evicts the least-called, never grows memory.

use std::collections::HashMap;
use std::net::IpAddr;

use super::{classify_with, Dialled, DialledNumber, Region};

/// Caps on what [`NumberStats`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsLimits {
    /// Unified numbers tracked; when full, the least-tried tenth is evicted (counted).
    pub max_numbers: usize,
    /// Distinct raw spellings kept per number; later ones only set `more_variants`.
    pub max_variants: usize,
    /// Distinct source addresses kept per number; later ones only set `more_sources`.
    pub max_sources: usize,
    /// Calls remembered per number (their Call-ID hashes) to recognise a call's later INVITEs
    /// (the authenticated retry after a challenge, retransmissions): an INVITE of a call
    /// forgotten since counts as a new call.
    pub recent_calls: usize,
}

impl Default for StatsLimits {
    /// About 1 KiB per number at worst, so 50 000 numbers stay under ~60 MB.
    fn default() -> Self {
        StatsLimits { max_numbers: 50_000, max_variants: 8, max_sources: 32, recent_calls: 8 }
    }
}

/// One unified number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberEntry {
    /// The reading of the first attempt seen (country, type, E.164 for every variant).
    pub number: DialledNumber,
    /// Calls: distinct Call-IDs (an INVITE without one is a call of its own).
    pub calls: u64,
    /// INVITEs, retransmissions and authenticated retries included.
    pub invites: u64,
    /// The last `recent_calls` calls, as the hashes the caller gave.
    recent: Vec<u64>,
    /// Distinct raw users, in order of first appearance, at most `max_variants`.
    pub variants: Vec<String>,
    /// Some spelling was not kept because `variants` was full.
    pub more_variants: bool,
    /// Distinct sources, in order of first appearance, at most `max_sources`.
    pub sources: Vec<IpAddr>,
    /// Some source was not kept because `sources` was full: `sources.len()` is a lower bound.
    pub more_sources: bool,
    /// Earliest and latest attempt times (ns), whatever order the attempts came in.
    pub first_ns: i64,
    pub last_ns: i64,
}

/// Attempts at things that are not numbers, counted only (their values are attacker-chosen and
/// belong to other analyses: extension enumeration, names).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OtherCounts {
    pub extensions: u64,
    pub service_codes: u64,
    pub non_numeric: u64,
    pub invalid: u64,
}

/// Attempts per unified number. Time is passed in with each attempt, never read.
#[derive(Debug, Clone)]
pub struct NumberStats {
    home: Option<Region>,
    limits: StatsLimits,
    /// Boxed: the table then holds a pointer per number, so growing it copies and touches
    /// little memory.
    numbers: HashMap<String, Box<NumberEntry>>,
    evicted: u64,
    others: OtherCounts,
}

/// Adds `item` to a bounded list of distinct values; `overflow` records what did not fit.
fn push_bounded<T: PartialEq>(list: &mut Vec<T>, item: T, cap: usize, overflow: &mut bool) {
    if !list.contains(&item) {
        if list.len() < cap {
            list.push(item);
        } else {
            *overflow = true;
        }
    }
}

impl NumberStats {
    /// `home` is passed to [`classify_with`] for every attempt.
    pub fn new(home: Option<Region>, limits: StatsLimits) -> Self {
        NumberStats { home, limits, numbers: HashMap::new(), evicted: 0, others: OtherCounts::default() }
    }

    /// Classifies `user` (a Request-URI user) and counts the INVITE; `call` identifies its call
    /// (a hash of its Call-ID), `None` when it has none.
    pub fn observe(&mut self, ts_ns: i64, source: IpAddr, user: &str, call: Option<u64>) {
        let dialled = classify_with(user, self.home);
        self.record(ts_ns, source, &dialled, call);
    }

    /// Counts an INVITE already classified (with the same home region, for consistency).
    pub fn record(&mut self, ts_ns: i64, source: IpAddr, dialled: &Dialled, call: Option<u64>) {
        let number = match dialled {
            Dialled::Number(number) => number,
            Dialled::Extension(_) => {
                self.others.extensions += 1;
                return;
            }
            Dialled::ServiceCode(_) => {
                self.others.service_codes += 1;
                return;
            }
            Dialled::NonNumeric(_) => {
                self.others.non_numeric += 1;
                return;
            }
            Dialled::Invalid => {
                self.others.invalid += 1;
                return;
            }
        };
        let key = self.key_for(number);
        if !self.numbers.contains_key(key) && self.numbers.len() >= self.limits.max_numbers.max(1) {
            self.evict();
        }
        let entry = self.numbers.entry(key.to_string()).or_insert_with(|| {
            Box::new(NumberEntry {
                number: number.clone(),
                calls: 0,
                invites: 0,
                recent: Vec::new(),
                variants: Vec::new(),
                more_variants: false,
                sources: Vec::new(),
                more_sources: false,
                first_ns: ts_ns,
                last_ns: ts_ns,
            })
        });
        entry.invites += 1;
        let known = call.is_some_and(|c| entry.recent.contains(&c));
        if !known {
            entry.calls += 1;
            if let Some(c) = call {
                if entry.recent.len() >= self.limits.recent_calls.max(1) {
                    entry.recent.remove(0);
                }
                entry.recent.push(c);
            }
        }
        entry.first_ns = entry.first_ns.min(ts_ns);
        entry.last_ns = entry.last_ns.max(ts_ns);
        push_bounded(&mut entry.variants, number.raw.clone(), self.limits.max_variants, &mut entry.more_variants);
        push_bounded(&mut entry.sources, source, self.limits.max_sources, &mut entry.more_sources);
    }

    /// The key an attempt is counted under. An ambiguous number joins an equally good reading
    /// already tracked (`918004321000` joins `+18004321000` once `0018004321000` was seen),
    /// which is how variants of one session settle the choice; the first one tracked wins.
    pub fn key_for<'a>(&self, number: &'a DialledNumber) -> &'a str {
        let key = number.key();
        if self.numbers.contains_key(key) {
            return key;
        }
        number.alternatives.iter().map(String::as_str).find(|alt| self.numbers.contains_key(*alt)).unwrap_or(key)
    }

    /// Drops the least-called tenth of the numbers (oldest last attempt first among equals, then
    /// by key, so the result does not depend on hash order). Sorting a tenth away at a time
    /// keeps insertion amortised O(log n) under a flood of new numbers.
    fn evict(&mut self) {
        let mut order: Vec<(u64, i64, &String)> = self.numbers.iter().map(|(k, e)| (e.calls, e.last_ns, k)).collect();
        order.sort_unstable();
        let drop = (self.numbers.len() / 10).max(1);
        let victims: Vec<String> = order.into_iter().take(drop).map(|(_, _, k)| k.clone()).collect();
        for key in &victims {
            self.numbers.remove(key);
        }
        self.evicted += victims.len() as u64;
    }

    /// The entry for a unified key (an E.164 string such as `"+4915123456789"`).
    pub fn get(&self, key: &str) -> Option<&NumberEntry> {
        self.numbers.get(key).map(|e| &**e)
    }

    /// Every tracked number, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &NumberEntry)> {
        self.numbers.iter().map(|(k, e)| (k.as_str(), &**e))
    }

    /// The `n` most-called numbers, most calls first, ties by key.
    pub fn top(&self, n: usize) -> Vec<(&str, &NumberEntry)> {
        let mut all: Vec<_> = self.iter().collect();
        all.sort_unstable_by(|a, b| b.1.calls.cmp(&a.1.calls).then_with(|| a.0.cmp(b.0)));
        all.truncate(n);
        all
    }

    /// Heap bytes held, about.
    pub fn heap_bytes(&self) -> usize {
        let entry = |(k, e): (&String, &NumberEntry)| {
            k.capacity()
                + std::mem::size_of::<NumberEntry>()
                + e.number.heap_bytes()
                + e.variants.capacity() * std::mem::size_of::<String>()
                + e.variants.iter().map(String::capacity).sum::<usize>()
                + e.sources.capacity() * std::mem::size_of::<IpAddr>()
                + e.recent.capacity() * std::mem::size_of::<u64>()
        };
        self.numbers.capacity() * (std::mem::size_of::<(String, Box<NumberEntry>)>() + 1)
            + self.numbers.iter().map(|(k, e)| entry((k, &**e))).sum::<usize>()
    }

    /// Numbers tracked now.
    pub fn len(&self) -> usize {
        self.numbers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.numbers.is_empty()
    }

    /// Numbers dropped to stay within `max_numbers`.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Attempts that were not numbers.
    pub fn others(&self) -> OtherCounts {
        self.others
    }
}
