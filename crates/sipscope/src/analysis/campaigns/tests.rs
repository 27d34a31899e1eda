use super::hdbscan::{cluster, BitRows};
use super::*;
use std::net::Ipv4Addr;

use crate::analysis::test_rng::Rng;

const D0: i64 = 19_000; // 2022-01-08

fn ip(group: u8, i: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(198, 51, group, i))
}

fn source(source: IpAddr, days: impl IntoIterator<Item = i64>, tool: &str, packets: u64, pps: f64) -> SourceActivity {
    let mut days: Vec<i64> = days.into_iter().collect();
    days.sort_unstable();
    days.dedup();
    SourceActivity { source, days, packets, packets_per_second: pps, tools: vec![tool.to_owned()] }
}

/// Members of a group share a pattern; about half of them miss one of its days.
fn group(rng: &mut Rng, g: u8, n: u8, pattern: &[i64], tool: &str) -> Vec<SourceActivity> {
    (0..n)
        .map(|i| {
            let skip = if rng.below(2) == 0 { rng.below(pattern.len() as u64) as usize } else { usize::MAX };
            let days = pattern.iter().enumerate().filter(|(k, _)| *k != skip).map(|(_, d)| D0 + d);
            source(ip(g, i), days, tool, 1000 * (u64::from(i) + 1), f64::from(i) + 1.0)
        })
        .collect()
}

/// Three campaigns (weekly, monthly, one burst), a group too small, scattered sources and
/// sources active every day, over 120 days.
fn population(seed: u64) -> Vec<SourceActivity> {
    let mut rng = Rng(seed);
    let weekly: Vec<i64> = (0..120).filter(|d| d % 7 == 2).collect();
    let monthly: Vec<i64> = [5, 35, 65, 95].iter().flat_map(|&d| [d, d + 1]).collect();
    let mut all = group(&mut rng, 1, 8, &weekly, "SIPVicious");
    all.extend(group(&mut rng, 2, 7, &monthly, "custom"));
    let mut burst = group(&mut rng, 3, 10, &[50, 51, 52, 53], "NMap");
    burst[0].tools.push("SIPVicious".into());
    all.extend(burst);
    all.extend(group(&mut rng, 4, 4, &(60..90).collect::<Vec<_>>(), "sipsak"));
    for i in 0..12 {
        let p = 30 + rng.below(30);
        let days: Vec<i64> = (0..120).filter(|_| rng.below(100) < p).map(|d| D0 + d).collect();
        all.push(source(ip(5, i), days, "custom", 10, 1.0));
    }
    for i in 0..3 {
        all.push(source(ip(6, i), D0..D0 + 120, "SIPVicious", 10, 1.0));
    }
    all
}

#[test]
fn finds_the_three_campaigns() {
    let r = find_campaigns(&population(7), D0, D0 + 119, &CampaignConfig::default());
    let members: Vec<Vec<IpAddr>> = r.campaigns.iter().map(|c| c.sources.clone()).collect();
    let expected = [(3u8, 10u8), (1, 8), (2, 7)].map(|(g, n)| (0..n).map(|i| ip(g, i)).collect::<Vec<_>>());
    assert_eq!(members, expected);
    assert_eq!((r.excluded_always_active, r.noise, r.truncated), (3, 4 + 12, 0));
    assert_eq!(r.campaigns.iter().map(|c| c.id).collect::<Vec<_>>(), [1, 2, 3]);
    let [burst, weekly, monthly] = &r.campaigns[..] else { panic!("three campaigns") };
    assert_eq!(burst.tools, BTreeMap::from([("NMap".into(), 10), ("SIPVicious".into(), 1)]));
    assert_eq!(burst.active_days, (D0 + 50..=D0 + 53).collect::<Vec<_>>());
    assert_eq!((burst.recurrence.bursts, burst.recurrence.pattern), (1, "once"));
    assert_eq!(burst.packets_per_source, 5500.0);
    assert_eq!(burst.mean_speed, 5.5);
    assert_eq!(weekly.tools, BTreeMap::from([("SIPVicious".into(), 8)]));
    assert_eq!((weekly.recurrence.median_gap_days, weekly.recurrence.pattern), (Some(7.0), "periodic"));
    assert_eq!((monthly.recurrence.bursts, monthly.recurrence.median_gap_days), (4, Some(30.0)));
    assert_eq!(monthly.recurrence.pattern, "periodic");
}

#[test]
fn other_seeds_give_the_same_campaigns() {
    for seed in 1..20 {
        let r = find_campaigns(&population(seed), D0, D0 + 119, &CampaignConfig::default());
        let sizes: Vec<usize> = r.campaigns.iter().map(|c| c.sources.len()).collect();
        assert_eq!(sizes, [10, 8, 7], "seed {seed}");
    }
}

#[test]
fn minimum_cluster_size_is_respected() {
    let mut rng = Rng(3);
    let mut all = group(&mut rng, 1, 5, &[10, 11, 40, 41], "a");
    all.extend(group(&mut rng, 2, 4, &(50..80).collect::<Vec<_>>(), "b"));
    all.extend(group(&mut rng, 3, 6, &[90, 91], "c"));
    let r = find_campaigns(&all, D0, D0 + 99, &CampaignConfig::default());
    let sizes: Vec<usize> = r.campaigns.iter().map(|c| c.sources.len()).collect();
    assert_eq!((sizes, r.noise), (vec![6, 5], 4));
    let bigger = CampaignConfig { min_cluster_size: 6, ..CampaignConfig::default() };
    let r = find_campaigns(&all, D0, D0 + 99, &bigger);
    assert!(r.campaigns.is_empty(), "one group of 6 has no sibling: nothing to select");
    assert_eq!(r.noise, 15);
}

#[test]
fn always_active_sources_are_excluded_or_not() {
    let all = population(7);
    let keep = CampaignConfig { exclude_always_active: false, ..CampaignConfig::default() };
    let r = find_campaigns(&all, D0, D0 + 119, &keep);
    assert_eq!(r.excluded_always_active, 0);
    let members: usize = r.campaigns.iter().map(|c| c.sources.len()).sum();
    assert_eq!(members + r.noise, all.len());
    // Outside the span the same sources are not always active.
    let r = find_campaigns(&all, D0 - 1, D0 + 119, &CampaignConfig::default());
    assert_eq!(r.excluded_always_active, 0);
}

#[test]
fn empty_and_degenerate_spans() {
    let config = CampaignConfig::default();
    assert_eq!(find_campaigns(&[], D0, D0 + 30, &config), CampaignResult::default());
    let all = population(7);
    assert_eq!(find_campaigns(&all, D0 + 10, D0, &config), CampaignResult::default());
    // Nobody active in the span.
    assert_eq!(find_campaigns(&all, D0 + 500, D0 + 600, &config), CampaignResult::default());
    // One day: whoever was active then was active every day of it.
    let active = all.iter().filter(|s| s.days.contains(&(D0 + 51))).count();
    let r = find_campaigns(&all, D0 + 51, D0 + 51, &config);
    assert!(r.campaigns.is_empty());
    assert_eq!((r.excluded_always_active, r.noise), (active, 0));
    let keep = CampaignConfig { exclude_always_active: false, ..config };
    let r = find_campaigns(&all, D0 + 51, D0 + 51, &keep);
    assert!(r.campaigns.is_empty(), "identical vectors only: a single cluster, never selected");
    assert_eq!(r.noise, active);
}

#[test]
fn output_does_not_depend_on_input_order() {
    let all = population(11);
    let first = find_campaigns(&all, D0, D0 + 119, &CampaignConfig::default());
    let mut rng = Rng(5);
    for _ in 0..5 {
        let mut shuffled = all.clone();
        for i in (1..shuffled.len()).rev() {
            shuffled.swap(i, rng.below(i as u64 + 1) as usize);
        }
        assert_eq!(find_campaigns(&shuffled, D0, D0 + 119, &CampaignConfig::default()), first);
    }
}

#[test]
fn beyond_the_cap_the_most_active_are_kept() {
    let all = population(7);
    let config = CampaignConfig { max_sources: 20, ..CampaignConfig::default() };
    let r = find_campaigns(&all, D0, D0 + 119, &config);
    let clustered = all.len() - 3;
    assert_eq!(r.truncated, clustered - 20);
    let members: usize = r.campaigns.iter().map(|c| c.sources.len()).sum();
    assert_eq!(members + r.noise, 20);
    // The scattered sources, the 30-day group and part of the weekly one are the most active.
    assert!(r.campaigns.iter().all(|c| c.sources.iter().all(|s| matches!(s, IpAddr::V4(a) if a.octets()[2] != 3))));
}

/// scikit-learn 1.9 `HDBSCAN(min_cluster_size=5)` on these rows gives these clusters, and the
/// same for every order of the rows tried (with many tied distances its result can depend on
/// the order; this implementation's does not).
#[test]
fn matches_scikit_learn_where_it_is_order_independent() {
    let rows = "011000011000100100100001010001 011000011000100100100001110001 011001011000100100110001110010
        011000011000100100100101010001 011000011010100100000001010001 011000011000100100101001110101
        011000011010100100100001111001 001101010000000101011100100001 001000011100010001011000100011
        001100010000000001011100100011 001100010000000101011000100011 001101010000000001011000100011
        101100010001010001011000100011 001100110010001001011000100011 000010000000000011010010000000
        001011000000000000010000000000 000010000000000000010000000001 000010000000000010010000000000
        000010000000000000010000000000 001011010010100000101000011000 001011010000101000101000011010
        001011010011100000101100011010 001011110000110000101000011001 001010010010100000101100011100
        011000011100000010011111011010 010101001100100101000100100110 101110101111110110100010000101
        100111110101000000000111011001 010101000010001110100101010000 110111011100101011101011111100
        000000000000010010010100000000";
    let data: Vec<u64> = rows
        .split_whitespace()
        .map(|r| r.bytes().enumerate().filter(|(_, b)| *b == b'1').fold(0u64, |w, (i, _)| w | 1 << i))
        .collect();
    let labels = cluster(&BitRows { words: 1, data }, 5, 5);
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, l) in labels.iter().enumerate() {
        if let Some(l) = l {
            groups.entry(*l).or_default().push(i);
        }
    }
    let mut groups: Vec<Vec<usize>> = groups.into_values().collect();
    groups.sort();
    let expected: [&[usize]; 4] =
        [&[0, 1, 2, 3, 4, 5, 6], &[7, 8, 9, 10, 11, 12, 13], &[14, 15, 16, 17, 18, 30], &[19, 20, 21, 22, 23]];
    assert_eq!(groups, expected);
}

#[test]
fn five_thousand_sources_over_a_year() {
    let mut rng = Rng(42);
    let mut all = Vec::new();
    for i in 0..5000u32 {
        let pattern = u64::from(i % 100);
        let days: Vec<i64> = if i % 2 == 0 {
            (0..365).filter(|d| (d + pattern as i64) % (7 + pattern as i64 % 30) == 0 && rng.below(10) > 0).collect()
        } else {
            let p = 1 + rng.below(40);
            (0..365).filter(|_| rng.below(100) < p).collect()
        };
        let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
        all.push(source(ip, days.into_iter().map(|d| D0 + d), "custom", 1, 1.0));
    }
    let r = find_campaigns(&all, D0, D0 + 364, &CampaignConfig::default());
    let members: usize = r.campaigns.iter().map(|c| c.sources.len()).sum();
    assert_eq!(members + r.noise + r.excluded_always_active, all.iter().filter(|s| !s.days.is_empty()).count());
    assert!(!r.campaigns.is_empty());
}
