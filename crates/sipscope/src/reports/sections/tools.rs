//! Sections about tools (004): Table I for this data, tools per year, scan strategies.

use super::{title, Result};
use crate::reports::model::{Cell, Chart, Section, Table};
use crate::store::{Filter, StoreReader};
use std::collections::BTreeMap;

/// What reports call flows no tool matched.
const CUSTOM: &str = "(custom)";

pub fn tools(store: &dyn StoreReader, f: &Filter) -> Result<Section> {
    let mut s = Section::new("tools", title("tools"));
    let mut t = Table::new(
        "tools",
        "Tools (fingerprint matches)",
        &["tool", "variant", "verdict", "first seen", "packets", "sources", "flows", "strategy"],
    );
    for r in store.tool_flows(f)? {
        t.push(vec![
            r.tool.unwrap_or_else(|| CUSTOM.into()).into(),
            r.variant.unwrap_or_default().into(),
            r.verdict.into(),
            super::traffic::iso_time(r.first_ns),
            Cell::Int(r.packets),
            Cell::Int(r.sources),
            Cell::Int(r.flows),
            r.strategy.into(),
        ]);
    }
    s.tables.push(t);
    let mut unknown = Table::new(
        "unknown_fingerprints",
        "Custom fingerprints (no tool matched)",
        &["fingerprint", "flows", "packets", "sources"],
    );
    for r in store.custom_fingerprints(f, 20)? {
        unknown.push(vec![r.fingerprint.into(), Cell::Int(r.flows), Cell::Int(r.packets), Cell::Int(r.sources)]);
    }
    s.tables.push(unknown);
    Ok(s)
}

pub fn tools_by_year(store: &dyn StoreReader, f: &Filter) -> Result<Section> {
    let mut s = Section::new("tools-by-year", title("tools-by-year"));
    let mut t = Table::new("tools_by_year", "Sources per tool and year", &["year", "tool", "sources", "packets"]);
    let mut years: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for r in store.tools_by_year(f)? {
        let tool = r.tool.unwrap_or_else(|| CUSTOM.into());
        // Four digits, as `strftime('%Y')` wrote them.
        let year = r.year.map(|y| format!("{y:04}"));
        if let Some(y) = &year {
            years.entry(y.clone()).or_default().insert(tool.clone(), r.sources as f64);
        }
        t.push(vec![year.into(), tool.into(), Cell::Int(r.sources), Cell::Int(r.packets)]);
    }
    let tools: Vec<String> = {
        let mut all: Vec<String> = years.values().flat_map(|m| m.keys().cloned()).collect();
        all.sort();
        all.dedup();
        all
    };
    s.charts.push(Chart::Bars {
        title: "Sources per tool and year".into(),
        labels: years.keys().cloned().collect(),
        series: tools
            .iter()
            .map(|tool| (tool.clone(), years.values().map(|m| m.get(tool).copied().unwrap_or(0.0)).collect()))
            .collect(),
    });
    s.tables.push(t);
    Ok(s)
}

pub fn strategies(
    store: &dyn StoreReader,
    f: &Filter,
    choice: &crate::reports::scan_choice::HilbertChoice,
) -> Result<Section> {
    let mut s = Section::new("strategies", title("strategies"));
    let mut t = Table::new(
        "strategies",
        "Flows per scan strategy",
        &["strategy", "flows", "sources", "packets", "mean destinations"],
    );
    for r in store.strategy_flows(f)? {
        t.push(vec![
            r.strategy.into(),
            Cell::Int(r.flows),
            Cell::Int(r.sources),
            Cell::Int(r.packets),
            Cell::Float(r.mean_destinations),
        ]);
    }
    s.tables.push(t);
    s.notes.push(strategy_note(crate::analysis::strategy::StrategyConfig::default().min_distinct));
    match super::hilbert::picture(store, f, choice)? {
        super::hilbert::Picture::Chart(chart) => s.charts.push(chart),
        super::hilbert::Picture::Note(note) => s.notes.push(note),
        super::hilbert::Picture::Nothing => {}
    }
    Ok(s)
}

/// The note under the strategies table: the rule as the engine applies it (the number comes
/// from the engine's settings, so note and rule cannot disagree).
fn strategy_note(min_distinct: u32) -> String {
    format!(
        "A flow with fewer than {min_distinct} distinct destinations is undecided (one: single_target); from \
         {min_distinct} on, it is undecided only when no pattern dominates (docs/scan-strategies.md)."
    )
}

pub fn campaigns(store: &dyn StoreReader, f: &Filter) -> Result<Section> {
    use super::campaign_activity::load_activity;
    use crate::analysis::campaigns::{find_campaigns, CampaignConfig};
    let mut s = Section::new("campaigns", title("campaigns"));
    let activity = load_activity(store, f.from_ns, f.to_ns)?;
    let day = crate::time::day_of;
    let days = activity.iter().flat_map(|a| a.days.iter().copied());
    let (lo, hi) = days.fold((i64::MAX, i64::MIN), |(lo, hi), d| (lo.min(d), hi.max(d)));
    let from = f.from_ns.map(day).unwrap_or(lo);
    let to = f.to_ns.map(|t| day(t - 1)).unwrap_or(hi);
    let result = find_campaigns(&activity, from, to, &CampaignConfig::default());
    let mut t = Table::new(
        "campaigns",
        "Campaigns: sources active on the same days (HDBSCAN, minimum 5 sources)",
        &[
            "campaign",
            "sources",
            "tools",
            "packets per source",
            "mean packets/s",
            "first day",
            "last day",
            "active days",
            "recurrence",
        ],
    );
    let mut points = Vec::new();
    for c in &result.campaigns {
        let tools: Vec<String> = c.tools.iter().map(|(t, n)| format!("{t} ({n})")).collect();
        let (first, last) = (c.active_days.first().copied().unwrap_or(0), c.active_days.last().copied().unwrap_or(0));
        t.push(vec![
            Cell::Int(c.id as i64),
            Cell::Int(c.sources.len() as i64),
            tools.join(", ").into(),
            Cell::Float(c.packets_per_source),
            Cell::Float(c.mean_speed),
            super::day_text(first).into(),
            super::day_text(last).into(),
            Cell::Int(c.active_days.len() as i64),
            c.recurrence.pattern.into(),
        ]);
        points.push((format!("campaign {}", c.id), first as f64, c.sources.len() as f64, c.packets_per_source));
    }
    s.tables.push(t);
    s.charts.push(Chart::Bubbles {
        title: "Campaigns: first day, sources, packets per source (bubble size)".into(),
        axes: ("first day".into(), "sources".into()),
        points,
    });
    s.notes.push(format!(
        "{} sources active every day excluded, {} sources in no campaign, {} left out over the cap (docs/campaigns.md).",
        result.excluded_always_active, result.noise, result.truncated
    ));
    Ok(s)
}

pub fn tools_by_country(store: &dyn StoreReader, f: &Filter, geo: &crate::enrich::Enricher) -> Result<Section> {
    let mut s = Section::new("tools-by-country", title("tools-by-country"));
    let mut agg: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    for r in store.source_tool_packets(f)? {
        let (src, tool, packets) = (r.source, r.tool.unwrap_or_else(|| CUSTOM.into()), r.packets);
        let country =
            src.parse().ok().and_then(|ip| geo.lookup(ip).country).unwrap_or_else(|| crate::enrich::UNKNOWN.into());
        let e = agg.entry((tool, country)).or_insert((0, 0));
        e.0 += 1;
        e.1 += packets;
    }
    let mut t = Table::new(
        "tools_by_country",
        "Sources per tool and source country",
        &["tool", "country", "sources", "packets"],
    );
    let mut sorted: Vec<_> = agg.into_iter().collect();
    sorted.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then_with(|| a.0.cmp(&b.0)));
    for ((tool, country), (sources, packets)) in sorted {
        t.push(vec![tool.into(), country.into(), Cell::Int(sources), Cell::Int(packets)]);
    }
    s.tables.push(t);
    if !geo.has_country_db() {
        s.notes.push("Countries are unknown without a country database (--country-db).".into());
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use crate::analysis::strategy::{Strategy, StrategyConfig, StrategyTracker};
    use std::net::{IpAddr, Ipv4Addr};

    /// The note states the boundary the engine applies: one destination fewer is undecided,
    /// that many in address order (node addresses 128 apart, no step within the sequential
    /// gap) are decided.
    #[test]
    fn the_strategy_note_states_the_rule() {
        let n = StrategyConfig::default().min_distinct;
        let note = super::strategy_note(n);
        assert!(note.contains(&format!("fewer than {n} distinct")), "{note}");
        let decide = |count: u32| {
            let mut t = StrategyTracker::default();
            (0..count).for_each(|i| t.observe(IpAddr::V4(Ipv4Addr::from(0xc633_640a + 128 * i))));
            t.decide()
        };
        assert_eq!(decide(n - 1), Strategy::Undecided);
        assert_eq!(decide(n), Strategy::Sequential);
        assert_eq!(decide(2 * n), Strategy::Sequential);
    }
}
