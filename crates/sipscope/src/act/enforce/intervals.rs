//! Overlapping address ranges made disjoint. An nftables interval set refuses overlapping
//! elements, yet bans overlap (a /24 and an address inside it, with different ends). Each
//! address gets the largest value (the latest timeout) among the ranges that cover it, and
//! neighbouring addresses with the same value are joined again, so the set says exactly what
//! the decisions say: when the /24 ends, the address inside it stays banned.

use std::collections::BinaryHeap;

/// An inclusive range of addresses (as numbers) and its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span<V> {
    /// First address.
    pub lo: u128,
    /// Last address (inclusive).
    pub hi: u128,
    /// What it carries (a timeout).
    pub value: V,
}

/// Disjoint spans, in address order, covering exactly what `spans` cover; each address
/// carries the largest value of the spans covering it, and touching spans with equal values
/// are joined. Spans with `lo > hi` are ignored. O(n log n).
pub fn disjoint<V: Ord + Copy>(spans: &[Span<V>]) -> Vec<Span<V>> {
    let mut sorted: Vec<&Span<V>> = spans.iter().filter(|s| s.lo <= s.hi).collect();
    sorted.sort_by_key(|s| s.lo);
    // Where what covers an address can change: every start, and every address after an end.
    let mut bounds: Vec<u128> =
        sorted.iter().map(|s| s.lo).chain(sorted.iter().filter_map(|s| s.hi.checked_add(1))).collect();
    bounds.sort_unstable();
    bounds.dedup();
    let mut out: Vec<Span<V>> = Vec::new();
    // The spans started so far by value; those ended are dropped when they come to the top.
    let mut open: BinaryHeap<(V, u128)> = BinaryHeap::new();
    let mut next = sorted.iter().peekable();
    for (i, &start) in bounds.iter().enumerate() {
        while let Some(s) = next.next_if(|s| s.lo <= start) {
            open.push((s.value, s.hi));
        }
        while open.peek().is_some_and(|&(_, hi)| hi < start) {
            open.pop();
        }
        let Some(&(value, _)) = open.peek() else { continue };
        // No span starts or ends inside [start, end]: the top covers all of it.
        let end = bounds.get(i + 1).map_or(u128::MAX, |b| b - 1);
        match out.last_mut() {
            Some(last) if last.value == value && last.hi.checked_add(1) == Some(start) => last.hi = end,
            _ => out.push(Span { lo: start, hi: end, value }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(lo: u128, hi: u128, value: u32) -> Span<u32> {
        Span { lo, hi, value }
    }

    /// The same question answered address by address.
    fn brute(spans: &[Span<u32>], upto: u128) -> Vec<Option<u32>> {
        (0..=upto).map(|a| spans.iter().filter(|s| s.lo <= a && a <= s.hi).map(|s| s.value).max()).collect()
    }

    fn expand(spans: &[Span<u32>], upto: u128) -> Vec<Option<u32>> {
        (0..=upto).map(|a| spans.iter().find(|s| s.lo <= a && a <= s.hi).map(|s| s.value)).collect()
    }

    #[test]
    fn an_address_inside_a_wider_range_keeps_its_later_end() {
        let out = disjoint(&[span(0, 255, 10), span(5, 5, 30)]);
        assert_eq!(out, [span(0, 4, 10), span(5, 5, 30), span(6, 255, 10)]);
        // An address ending sooner than its range adds nothing.
        assert_eq!(disjoint(&[span(0, 255, 10), span(5, 5, 3)]), [span(0, 255, 10)]);
    }

    #[test]
    fn touching_and_repeated_spans_are_joined_and_the_ends_of_the_space_are_fine() {
        assert_eq!(disjoint(&[span(0, 9, 1), span(10, 19, 1), span(10, 19, 1)]), [span(0, 19, 1)]);
        assert_eq!(disjoint(&[span(0, 9, 1), span(11, 19, 1)]), [span(0, 9, 1), span(11, 19, 1)]);
        let max = u128::MAX;
        assert_eq!(disjoint(&[span(0, max, 1), span(max, max, 2)]), [span(0, max - 1, 1), span(max, max, 2)]);
        assert!(disjoint::<u32>(&[]).is_empty());
        assert!(disjoint(&[span(5, 4, 1)]).is_empty());
    }

    #[test]
    fn every_address_gets_the_largest_value_covering_it() {
        // A small deterministic generator: many random layouts over 0..=63.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rand = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        for _ in 0..2000 {
            let spans: Vec<Span<u32>> = (0..rand(8))
                .map(|_| {
                    let lo = u128::from(rand(64));
                    span(lo, lo + u128::from(rand(16)), rand(5) as u32)
                })
                .collect();
            let out = disjoint(&spans);
            assert_eq!(expand(&out, 90), brute(&spans, 90), "{spans:?} → {out:?}");
            for pair in out.windows(2) {
                assert!(pair[0].hi < pair[1].lo, "disjoint and ordered: {out:?}");
                let touching = pair[0].hi + 1 == pair[1].lo;
                assert!(!(touching && pair[0].value == pair[1].value), "joined: {out:?}");
            }
        }
    }
}
