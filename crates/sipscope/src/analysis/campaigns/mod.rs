//! Scanning campaigns (004 §VI): sources grouped by when they were active. Each source gets a
//! binary vector over the days of a span (1 on a day it was seen); HDBSCAN on the Euclidean
//! distance between the vectors groups the sources that came and went together; clusters of at
//! least `min_cluster_size` sources are campaigns, the rest is noise. Sources active on every
//! day of the span are left out first: they carry no pattern and would otherwise make one
//! large campaign of everything that scans daily. A pure function of its input: the same
//! sources give the same campaigns, in the same order. See docs/campaigns.md.

mod hdbscan;
mod recurrence;
#[cfg(test)]
mod tests;

pub use recurrence::Recurrence;

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

/// What clustering needs to know of one source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceActivity {
    /// The address.
    pub source: IpAddr,
    /// UTC day numbers (days since 1970-01-01) it was active, sorted.
    pub days: Vec<i64>,
    /// Messages it sent (packets of its flows).
    pub packets: u64,
    /// Mean packets per second over its flows.
    pub packets_per_second: f64,
    /// Tools its flows matched (`custom` for unknown fingerprints), sorted.
    pub tools: Vec<String>,
}

/// Campaign settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CampaignConfig {
    /// Smallest campaign, in sources (004: 5). Also HDBSCAN's `min_samples`. At least 2.
    pub min_cluster_size: usize,
    /// Leave out sources active on every day of the span (004: yes).
    pub exclude_always_active: bool,
    /// Sources clustered at most (time grows with the square); beyond, the most active are
    /// kept and the rest counted in `truncated`.
    pub max_sources: usize,
}

impl Default for CampaignConfig {
    fn default() -> Self {
        CampaignConfig { min_cluster_size: 5, exclude_always_active: true, max_sources: 20_000 }
    }
}

/// One campaign.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Campaign {
    /// 1-based, in output order.
    pub id: usize,
    /// Its sources, sorted.
    pub sources: Vec<IpAddr>,
    /// Sources per tool (a source that used two tools counts for both).
    pub tools: BTreeMap<String, usize>,
    /// Mean packets per source.
    pub packets_per_source: f64,
    /// Mean of the sources' packets per second.
    pub mean_speed: f64,
    /// Days of the span on which any source was active, sorted.
    pub active_days: Vec<i64>,
    /// How it comes back.
    pub recurrence: Recurrence,
}

/// Campaigns and what was left out.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CampaignResult {
    /// Largest first, then by first active day, then by first source.
    pub campaigns: Vec<Campaign>,
    /// Sources active on every day of the span, not clustered.
    pub excluded_always_active: usize,
    /// Clustered sources in no campaign.
    pub noise: usize,
    /// Sources beyond `max_sources`, not clustered (the least active).
    pub truncated: usize,
}

/// Finds campaigns among `sources` (one entry per source) over the days `from_day..=to_day`.
/// Days outside the span are ignored, and so are sources with no day in it.
pub fn find_campaigns(
    sources: &[SourceActivity],
    from_day: i64,
    to_day: i64,
    config: &CampaignConfig,
) -> CampaignResult {
    let mut result = CampaignResult::default();
    if to_day < from_day {
        return result;
    }
    let span = to_day.saturating_sub(from_day).saturating_add(1);
    let mut kept: Vec<(&SourceActivity, Vec<i64>)> = Vec::new();
    for s in sources {
        let days: Vec<i64> = s
            .days
            .iter()
            .copied()
            .filter(|d| (from_day..=to_day).contains(d))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if days.is_empty() {
            continue;
        }
        if config.exclude_always_active && days.len() as i64 == span {
            result.excluded_always_active += 1;
            continue;
        }
        kept.push((s, days));
    }
    if kept.len() > config.max_sources {
        kept.sort_by(|a, b| {
            b.1.len().cmp(&a.1.len()).then(b.0.packets.cmp(&a.0.packets)).then(a.0.source.cmp(&b.0.source))
        });
        result.truncated = kept.len() - config.max_sources;
        kept.truncate(config.max_sources);
    }
    kept.sort_by(|a, b| a.0.source.cmp(&b.0.source).then(a.1.cmp(&b.1)));
    // Only days on which someone was active make a column: the others add nothing to any distance.
    let columns: HashMap<i64, usize> =
        kept.iter().flat_map(|k| k.1.iter().copied()).collect::<BTreeSet<_>>().into_iter().zip(0..).collect();
    let words = columns.len().div_ceil(64).max(1);
    let mut data = vec![0u64; kept.len() * words];
    for (i, (_, days)) in kept.iter().enumerate() {
        for d in days {
            let c = columns[d];
            data[i * words + c / 64] |= 1 << (c % 64);
        }
    }
    let mcs = config.min_cluster_size.max(2);
    let labels = hdbscan::cluster(&hdbscan::BitRows { words, data }, mcs, mcs);
    let mut members: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, label) in labels.iter().enumerate() {
        match label {
            Some(l) => members.entry(*l).or_default().push(i),
            None => result.noise += 1,
        }
    }
    let mut campaigns: Vec<Campaign> = members.into_values().map(|m| campaign(&kept, &m)).collect();
    campaigns.sort_by(|a, b| {
        b.sources
            .len()
            .cmp(&a.sources.len())
            .then(a.active_days.first().cmp(&b.active_days.first()))
            .then(a.sources.cmp(&b.sources))
    });
    for (i, c) in campaigns.iter_mut().enumerate() {
        c.id = i + 1;
    }
    result.campaigns = campaigns;
    result
}

fn campaign(kept: &[(&SourceActivity, Vec<i64>)], members: &[usize]) -> Campaign {
    let mut tools: BTreeMap<String, usize> = BTreeMap::new();
    let mut days = BTreeSet::new();
    let (mut packets, mut speed) = (0.0, 0.0);
    for &i in members {
        let (s, d) = &kept[i];
        for t in s.tools.iter().collect::<BTreeSet<_>>() {
            *tools.entry(t.clone()).or_insert(0) += 1;
        }
        days.extend(d.iter().copied());
        packets += s.packets as f64;
        speed += s.packets_per_second;
    }
    let n = members.len().max(1) as f64;
    let active_days: Vec<i64> = days.into_iter().collect();
    let mut sources: Vec<IpAddr> = members.iter().map(|&i| kept[i].0.source).collect();
    sources.sort();
    Campaign {
        id: 0,
        sources,
        tools,
        packets_per_source: packets / n,
        mean_speed: speed / n,
        recurrence: recurrence::recurrence(&active_days),
        active_days,
    }
}
