use std::net::{IpAddr, Ipv4Addr};

use super::super::{NumberStats, OtherCounts, StatsLimits};

const SEC: i64 = 1_000_000_000;

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(198, 51, 100, last))
}

fn stats(limits: StatsLimits) -> NumberStats {
    NumberStats::new(None, limits)
}

#[test]
fn figure_2_session_is_one_number() {
    // The ten lines of 003's Figure 2 (same second, same source), real-shaped number.
    let lines = [
        "0014972526123586",
        "00014972526123586",
        "0015972526123586",
        "0021972526123586",
        "0021972526123586",
        "0031972526123586",
        "972526123586",
        "0021972526123586",
        "0021972526123586",
        "0021972526123586",
    ];
    let mut s = stats(StatsLimits::default());
    for user in lines {
        s.observe(1_317_075_715 * SEC, ip(19), user, None);
    }
    assert_eq!(s.len(), 1);
    let e = s.get("+972526123586").expect("unified");
    assert_eq!((e.calls, e.variants.len(), e.sources.as_slice()), (10, 6, &[ip(19)][..]));
    assert_eq!(e.variants[0], "0014972526123586");
    assert_eq!(e.number.country.as_deref(), Some("IL"));
    assert!(!e.more_variants && !e.more_sources);
}

#[test]
fn sources_variants_and_times_are_bounded() {
    let mut s = stats(StatsLimits { max_numbers: 10, max_variants: 2, max_sources: 3, ..StatsLimits::default() });
    let spellings = ["004915123456789", "+4915123456789", "01149 1512 3456789", "4915123456789"];
    // Out of order on purpose: first/last are the extremes, not the first/last observed.
    for (i, t) in [50, 10, 90, 30, 70].into_iter().enumerate() {
        s.observe(t * SEC, ip(i as u8), spellings[i % spellings.len()], None);
    }
    let e = s.get("+4915123456789").unwrap();
    assert_eq!((e.calls, e.first_ns, e.last_ns), (5, 10 * SEC, 90 * SEC));
    assert_eq!((e.variants.len(), e.more_variants), (2, true));
    assert_eq!((e.sources.len(), e.more_sources), (3, true));
    // A repeated spelling or source is not "more".
    let mut s = stats(StatsLimits { max_numbers: 10, max_variants: 1, max_sources: 1, ..StatsLimits::default() });
    for _ in 0..3 {
        s.observe(0, ip(1), "004915123456789", None);
    }
    let e = s.get("+4915123456789").unwrap();
    assert!(!e.more_variants && !e.more_sources);
}

#[test]
fn non_numbers_are_counted_apart() {
    let mut s = stats(StatsLimits::default());
    for user in ["admin", "100", "2001", "*97", "", "s", "\u{1b}[31m"] {
        s.observe(0, ip(1), user, None);
    }
    assert!(s.is_empty());
    assert_eq!(s.others(), OtherCounts { extensions: 2, service_codes: 1, non_numeric: 2, invalid: 2 });
}

#[test]
fn a_flood_of_numbers_evicts_the_least_tried() {
    let mut s = stats(StatsLimits { max_numbers: 10, ..StatsLimits::default() });
    for t in 0..5 {
        s.observe(t * SEC, ip(1), "0018004321000", None);
    }
    for i in 0..100 {
        s.observe((10 + i) * SEC, ip(2), &format!("00491512345{i:04}"), None);
    }
    assert!(s.len() <= 10);
    assert_eq!(s.evicted() as usize + s.len(), 101);
    assert_eq!(s.get("+18004321000").map(|e| e.calls), Some(5));
    let top = s.top(2);
    assert_eq!(top[0].0, "+18004321000");
    assert_eq!(top.len(), 2);
    // max_numbers 0 still tracks one number rather than panicking or growing.
    let mut s = stats(StatsLimits { max_numbers: 0, ..StatsLimits::default() });
    s.observe(0, ip(1), "0018004321000", None);
    s.observe(0, ip(1), "004915123456789", None);
    assert_eq!((s.len(), s.evicted()), (1, 1));
}

#[test]
fn an_ambiguous_variant_joins_the_number_already_seen() {
    // 0018004321000 is only the US number; 918004321000 reads as India or 9 + US.
    let mut s = stats(StatsLimits::default());
    s.observe(0, ip(1), "0018004321000", None);
    s.observe(SEC, ip(1), "918004321000", None);
    assert_eq!(s.len(), 1);
    assert_eq!(s.get("+18004321000").map(|e| e.variants.len()), Some(2));
    // The other order keeps them apart: the ambiguous spelling came first (documented limit).
    let mut s = stats(StatsLimits::default());
    s.observe(0, ip(1), "918004321000", None);
    s.observe(SEC, ip(1), "0018004321000", None);
    assert_eq!(s.len(), 2);
}

#[test]
fn calls_are_counted_by_call_id_and_invites_apart() {
    // SIPp's call to a number: INVITE, 407, INVITE with credentials (same Call-ID), and a
    // retransmission of the first; then a second call. Two calls, four INVITEs.
    let mut s = stats(StatsLimits::default());
    for (t, call) in [(0, 1), (1, 1), (2, 1), (5, 2)] {
        s.observe(t * SEC, ip(7), "0046701234567", Some(call));
    }
    let e = s.get("+46701234567").unwrap();
    assert_eq!((e.calls, e.invites), (2, 4));
    // INVITEs without a Call-ID are a call each.
    s.observe(6 * SEC, ip(7), "+46701234567", None);
    s.observe(7 * SEC, ip(7), "+46701234567", None);
    assert_eq!(s.get("+46701234567").map(|e| (e.calls, e.invites)), Some((4, 6)));
    // Only `recent_calls` calls are remembered: a call forgotten since counts again.
    let mut s = stats(StatsLimits { recent_calls: 2, ..StatsLimits::default() });
    for call in [1, 2, 3, 1] {
        s.observe(0, ip(7), "0046701234567", Some(call));
    }
    assert_eq!(s.get("+46701234567").map(|e| (e.calls, e.invites)), Some((4, 4)));
}

#[test]
fn the_israeli_number_of_issue_13_is_one_number_with_six_variants() {
    let variants = [
        "011972526123586",
        "9011972526123586",
        "1010222011972526123586",
        "1010333011972526123586",
        "1010432011972526123586",
        "1010555011972526123586",
    ];
    let mut s = stats(StatsLimits::default());
    for (i, user) in variants.iter().enumerate() {
        s.observe(i as i64 * SEC, ip(3), user, Some(i as u64));
    }
    assert_eq!(s.len(), 1);
    let e = s.get("+972526123586").unwrap();
    assert_eq!((e.calls, e.variants.as_slice()), (6, &variants.map(String::from)[..]));
    assert_eq!(e.number.country.as_deref(), Some("IL"));
}
