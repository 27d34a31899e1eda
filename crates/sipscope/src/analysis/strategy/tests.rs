use super::*;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::analysis::test_rng::Rng;

fn v4(n: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(n))
}

fn base(s: &str) -> u32 {
    u32::from(s.parse::<Ipv4Addr>().unwrap())
}

fn run(dsts: impl IntoIterator<Item = IpAddr>) -> StrategyTracker {
    let mut t = StrategyTracker::default();
    for d in dsts {
        t.observe(d);
    }
    t
}

fn decide(dsts: impl IntoIterator<Item = IpAddr>) -> Strategy {
    let t = run(dsts);
    let s = t.decide();
    eprintln!("{s:?} {:?}", t.stats());
    s
}

/// nmap-like: `blocks` /24s in random order, each one's addresses shuffled and all sent.
fn netblocks(rng: &mut Rng, blocks: u32, per_block: u32) -> Vec<IpAddr> {
    let mut order: Vec<u32> = (0..blocks).map(|i| base("198.18.0.0") + i * 256 * 3).collect();
    rng.shuffle(&mut order);
    let mut out = Vec::new();
    for b in order {
        let mut hosts: Vec<u32> = (0..per_block).collect();
        rng.shuffle(&mut hosts);
        out.extend(hosts.into_iter().map(|h| v4(b + h)));
    }
    out
}

#[test]
fn names_are_stable() {
    let all = [
        Strategy::SingleTarget,
        Strategy::Sequential,
        Strategy::RandomNetblocks,
        Strategy::Random,
        Strategy::Undecided,
    ];
    let names: Vec<&str> = all.iter().map(|s| s.as_str()).collect();
    assert_eq!(names, ["single_target", "sequential", "random_netblocks", "random", "undecided"]);
}

#[test]
fn svmap_sweep_is_sequential() {
    let lo = base("127.0.0.1");
    assert_eq!(decide((0..20).map(|i| v4(lo + i))), Strategy::Sequential);
    // Downwards too, and across a /24 boundary.
    assert_eq!(decide((0..20).rev().map(|i| v4(base("10.0.0.250") + i))), Strategy::Sequential);
}

#[test]
fn svwar_like_repeats_retransmissions_and_gaps_stay_sequential() {
    let lo = base("127.0.0.1");
    // Seven requests per host (svwar -e100-105 plus its probe).
    assert_eq!(decide((0..20).flat_map(|i| [v4(lo + i); 7])), Strategy::Sequential);
    // A retransmission to the previous host between two new ones.
    let retrans = (1..20).flat_map(|i| [v4(lo + i), v4(lo + i - 1)]);
    assert_eq!(decide(retrans), Strategy::Sequential);
    // Lost packets / sensor addresses with holes: steps of 1 to 3.
    let mut rng = Rng(1);
    let mut a = lo;
    let holes: Vec<IpAddr> = (0..40)
        .map(|_| {
            a += 1 + rng.below(3) as u32;
            v4(a)
        })
        .collect();
    assert_eq!(decide(holes), Strategy::Sequential);
}

#[test]
fn noisy_sequential_and_mixed_sequences() {
    let mut rng = Rng(2);
    let lo = base("192.0.2.0");
    // One address in ten is a stray far away: still sequential.
    let noisy: Vec<IpAddr> =
        (0..60).map(|i| if i % 10 == 9 { v4(rng.next() as u32) } else { v4(lo + i - i / 10) }).collect();
    assert_eq!(decide(noisy), Strategy::Sequential);
    // Half a sweep, then half uniformly random: nothing dominates.
    let mixed = (0..30).map(|i| v4(lo + i)).chain((0..30).map(|_| v4(rng.next() as u32)));
    assert_eq!(decide(mixed.collect::<Vec<_>>()), Strategy::Undecided);
}

#[test]
fn nmap_like_shuffled_blocks_are_random_netblocks() {
    for seed in 0..20 {
        let mut rng = Rng(seed);
        assert_eq!(decide(netblocks(&mut rng, 4, 256)), Strategy::RandomNetblocks, "seed {seed}");
    }
    // Smaller blocks (/26) inside /24s, and a single /24 seen only in part.
    let mut rng = Rng(99);
    let mut small = Vec::new();
    for b in [2u32, 0, 3, 1] {
        let mut hosts: Vec<u32> = (0..64).collect();
        rng.shuffle(&mut hosts);
        small.extend(hosts.into_iter().map(|h| v4(base("203.0.113.0") + b * 64 + h)));
    }
    assert_eq!(decide(small), Strategy::RandomNetblocks);
    assert_eq!(decide(netblocks(&mut rng, 1, 256).into_iter().take(30)), Strategy::RandomNetblocks);
}

#[test]
fn uniform_random_is_random() {
    for seed in 0..20 {
        let mut rng = Rng(seed);
        // Over the whole IPv4 space, and as a /16 telescope sees it.
        assert_eq!(decide((0..50).map(|_| v4(rng.next() as u32))), Strategy::Random, "seed {seed}");
        let tele = base("100.64.0.0");
        assert_eq!(decide((0..50).map(|_| v4(tele + rng.below(65536) as u32))), Strategy::Random, "seed {seed}");
    }
}

#[test]
fn single_target_and_too_few() {
    let one = v4(base("192.0.2.7"));
    assert_eq!(decide([one; 500]), Strategy::SingleTarget);
    assert_eq!(decide([one]), Strategy::SingleTarget);
    assert_eq!(decide([]), Strategy::Undecided);
    let lo = base("127.0.0.1");
    assert_eq!(decide((0..7).map(|i| v4(lo + i))), Strategy::Undecided, "7 distinct < 8");
    assert_eq!(decide((0..8).map(|i| v4(lo + i))), Strategy::Sequential, "8 distinct");
    assert_eq!(decide((0..3).flat_map(|i| [v4(lo + i); 50])), Strategy::Undecided, "many requests, 3 hosts");
}

#[test]
fn ipv6_uses_the_same_rule() {
    let seq = (1..=20u128).map(|i| IpAddr::V6(Ipv6Addr::from(u128::from(Ipv6Addr::LOCALHOST) + i)));
    assert_eq!(decide(seq), Strategy::Sequential);
    let mut rng = Rng(6);
    let prefix = u128::from("2001:db8::".parse::<Ipv6Addr>().unwrap());
    let rand = (0..30).map(|_| IpAddr::V6(Ipv6Addr::from(prefix | u128::from(rng.next()))));
    assert_eq!(decide(rand.collect::<Vec<_>>()), Strategy::Random);
    // A family change is a far step: an IPv4 sweep, then an IPv6 one.
    let both: Vec<IpAddr> = (0..10u32)
        .map(|i| v4(base("192.0.2.0") + i))
        .chain((1..=10u128).map(|i| IpAddr::V6(Ipv6Addr::from(prefix + i))))
        .collect();
    let t = run(both);
    assert_eq!((t.decide(), t.stats().far), (Strategy::Sequential, 1));
}

#[test]
fn memory_is_bounded_and_results_deterministic() {
    let cfg = StrategyConfig::default();
    let mut t = StrategyTracker::new(cfg);
    let bound = t.heap_bytes();
    assert!(bound <= (cfg.recent_destinations + cfg.recent_blocks) * 16, "{bound}");
    let mut rng = Rng(7);
    for _ in 0..1_000_000 {
        t.observe(v4(rng.next() as u32));
    }
    assert_eq!(t.heap_bytes(), bound);
    assert_eq!(t.decide(), Strategy::Random);
    assert_eq!(t.stats().observed, 1_000_000);
    let again = run(std::iter::repeat_with({
        let mut rng = Rng(7);
        move || v4(rng.next() as u32)
    })
    .take(1_000_000));
    assert_eq!(again.stats(), t.stats());
}

#[test]
fn documented_limits() {
    let mut rng = Rng(8);
    let b = base("192.0.2.0");
    // Random inside a single /24 (a sensor with one block) looks like nmap working on it.
    assert_eq!(decide((0..40).map(|_| v4(b + rng.below(256) as u32))), Strategy::RandomNetblocks);
    // Random over two /24s: half the steps stay, half leave, and blocks are re-entered.
    assert_eq!(decide((0..60).map(|_| v4(b + rng.below(512) as u32))), Strategy::Undecided);
    // nmap blocks larger than the configured block look random until block_bits matches them.
    let mut hosts: Vec<u32> = (0..1024).collect();
    rng.shuffle(&mut hosts);
    let big: Vec<IpAddr> = hosts.iter().map(|h| v4(base("198.51.100.0") + h)).collect();
    assert_eq!(decide(big.clone()), Strategy::Random);
    let mut t = StrategyTracker::new(StrategyConfig { block_bits: 10, ..StrategyConfig::default() });
    big.into_iter().for_each(|d| t.observe(d));
    assert_eq!(t.decide(), Strategy::RandomNetblocks);
}

#[test]
fn the_documented_defaults_are_the_real_ones() {
    let doc = include_str!("../../../../../docs/scan-strategies.md");
    let block = doc.split("```toml\n").nth(1).and_then(|b| b.split("```").next()).expect("toml block");
    let cfg: StrategyConfig = toml::from_str(block).unwrap();
    assert_eq!(cfg, StrategyConfig::default(), "docs/scan-strategies.md lists other defaults than the code");
}

/// The lab of issue 13: sixteen node addresses in two sites, two per /24 (a .10 and a .138),
/// four /24s per site; svmap probed them in address order. No step is within
/// `max_sequential_gap`, half stay in their /24 and half leave it.
fn two_sites() -> Vec<IpAddr> {
    let site = |first: &str| {
        let first = base(first);
        (0..4u32).flat_map(move |b| [10, 138].map(|h| v4(first + b * 256 + h)))
    };
    site("198.51.100.0").chain(site("203.0.113.0")).collect()
}

#[test]
fn node_addresses_probed_in_order_are_sequential_from_eight_on() {
    let nodes = two_sites();
    assert_eq!(nodes.len(), 16);
    // The boundary the report's note states: 7 destinations are too few, 8 are enough.
    assert_eq!(decide(nodes.iter().copied().take(7)), Strategy::Undecided, "7 distinct < 8");
    assert_eq!(decide(nodes.iter().copied().take(8)), Strategy::Sequential, "8 distinct");
    assert_eq!(decide(nodes.iter().copied()), Strategy::Sequential, "16 distinct");
    // Downwards too, and with svmap-like repeats (several requests per host).
    assert_eq!(decide(nodes.iter().rev().copied()), Strategy::Sequential);
    assert_eq!(decide(nodes.iter().flat_map(|&a| [a; 3])), Strategy::Sequential);
    let t = run(nodes.iter().copied());
    let st = t.stats();
    assert_eq!((st.ascending, st.descending, st.sequential_up, st.distinct), (15, 0, 0, 16));
    // Without the ordered rule (before issue 13) nothing dominated: half the steps stay in
    // their /24, half leave it.
    let mut old = StrategyTracker::new(StrategyConfig { min_ordered_share: 2.0, ..StrategyConfig::default() });
    nodes.iter().for_each(|&a| old.observe(a));
    assert_eq!(old.decide(), Strategy::Undecided, "{:?}", old.stats());
}

#[test]
fn a_sweep_needs_nearly_every_step_in_one_direction() {
    let mut nodes = two_sites();
    // Two addresses out of order: 13 of 15 steps up is not enough (0.9).
    nodes.swap(3, 9);
    assert_ne!(decide(nodes), Strategy::Sequential);
    // Shuffled blocks and random scans go up about half of the time: their answers stay.
    for seed in 0..20 {
        let mut rng = Rng(seed);
        let t = run(netblocks(&mut rng, 4, 256));
        let st = t.stats();
        let share = f64::from(st.ascending.max(st.descending)) / f64::from(st.distinct - 1);
        assert!(share < 0.6, "seed {seed}: {share}");
    }
}
