//! Sections about tools (004): Table I for this data, tools per year, scan strategies.

use super::{query_table, title, Result};
use crate::reports::model::{Cell, Chart, Section};
use crate::reports::query::Filter;
use rusqlite::Connection;
use std::collections::BTreeMap;

pub fn tools(conn: &Connection, f: &Filter) -> Result<Section> {
    let mut s = Section::new("tools", title("tools"));
    let c = f.clause("first_ns", None, &[]);
    let t = query_table(
        conn,
        "tools",
        "Tools (fingerprint matches)",
        &["tool", "variant", "verdict", "first seen", "packets", "sources", "flows", "strategy"],
        "SELECT coalesce(tool, '(custom)'), coalesce(variant, ''), tool_verdict, min(first_ns), sum(packets),
                count(DISTINCT src_ip), count(*),
                (SELECT strategy FROM flows f2 WHERE coalesce(f2.tool, '') = coalesce(flows.tool, '')
                 AND coalesce(f2.variant, '') = coalesce(flows.variant, '') AND strategy <> 'undecided'
                 GROUP BY strategy ORDER BY count(*) DESC LIMIT 1)
         FROM flows {where} GROUP BY tool, variant, tool_verdict ORDER BY sum(packets) DESC, tool, variant",
        &c,
    )?;
    s.tables.push(super::traffic::times_as_text(t, &[3]));
    let unknown = query_table(
        conn,
        "unknown_fingerprints",
        "Custom fingerprints (no tool matched)",
        &["fingerprint", "flows", "packets", "sources"],
        "SELECT fingerprint, count(*), sum(packets), count(DISTINCT src_ip) FROM flows {where}
         GROUP BY fingerprint ORDER BY sum(packets) DESC LIMIT 20",
        &f.clause("first_ns", None, &["tool_verdict = 'custom'"]),
    )?;
    s.tables.push(unknown);
    Ok(s)
}

pub fn tools_by_year(conn: &Connection, f: &Filter) -> Result<Section> {
    let mut s = Section::new("tools-by-year", title("tools-by-year"));
    let t = query_table(
        conn,
        "tools_by_year",
        "Sources per tool and year",
        &["year", "tool", "sources", "packets"],
        "SELECT strftime('%Y', first_ns / 1000000000, 'unixepoch') AS year, coalesce(tool, '(custom)'),
                count(DISTINCT src_ip), sum(packets)
         FROM flows {where} GROUP BY year, tool ORDER BY year, sum(packets) DESC",
        &f.clause("first_ns", None, &[]),
    )?;
    let mut years: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for r in &t.rows {
        if let (Cell::Text(y), Cell::Text(tool), Cell::Int(n)) = (&r[0], &r[1], &r[2]) {
            years.entry(y.clone()).or_default().insert(tool.clone(), *n as f64);
        }
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
    conn: &Connection,
    f: &Filter,
    choice: &crate::reports::scan_choice::HilbertChoice,
) -> Result<Section> {
    let mut s = Section::new("strategies", title("strategies"));
    let t = query_table(
        conn,
        "strategies",
        "Flows per scan strategy",
        &["strategy", "flows", "sources", "packets", "mean destinations"],
        "SELECT strategy, count(*), count(DISTINCT src_ip), sum(packets), avg(destinations) FROM flows {where}
         GROUP BY strategy ORDER BY count(*) DESC",
        &f.clause("first_ns", None, &[]),
    )?;
    s.tables.push(t);
    s.notes
        .push("A flow needs 8 distinct destinations before its strategy is decided (docs/scan-strategies.md).".into());
    match super::hilbert::picture(conn, f, choice)? {
        super::hilbert::Picture::Chart(chart) => s.charts.push(chart),
        super::hilbert::Picture::Note(note) => s.notes.push(note),
        super::hilbert::Picture::Nothing => {}
    }
    Ok(s)
}

pub fn campaigns(conn: &Connection, f: &Filter) -> Result<Section> {
    use crate::analysis::campaigns::{find_campaigns, load_activity, CampaignConfig};
    let mut s = Section::new("campaigns", title("campaigns"));
    let activity = load_activity(conn, f.from_ns, f.to_ns)?;
    let day = |ns: i64| ns.div_euclid(86_400_000_000_000);
    let days = activity.iter().flat_map(|a| a.days.iter().copied());
    let (lo, hi) = days.fold((i64::MAX, i64::MIN), |(lo, hi), d| (lo.min(d), hi.max(d)));
    let from = f.from_ns.map(day).unwrap_or(lo);
    let to = f.to_ns.map(|t| day(t - 1)).unwrap_or(hi);
    let result = find_campaigns(&activity, from, to, &CampaignConfig::default());
    let mut t = crate::reports::model::Table::new(
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

pub fn tools_by_country(conn: &Connection, f: &Filter, geo: &crate::enrich::Enricher) -> Result<Section> {
    let mut s = Section::new("tools-by-country", title("tools-by-country"));
    let c = f.clause("first_ns", None, &[]);
    let sql =
        format!("SELECT src_ip, coalesce(tool, '(custom)'), sum(packets) FROM flows {} GROUP BY src_ip, tool", c.sql);
    let mut stmt = conn.prepare(&sql)?;
    let rows: Vec<(String, String, i64)> = stmt
        .query_map(rusqlite::params_from_iter(c.params.iter()), |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_>>()?;
    let mut agg: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    for (src, tool, packets) in rows {
        let country =
            src.parse().ok().and_then(|ip| geo.lookup(ip).country).unwrap_or_else(|| crate::enrich::UNKNOWN.into());
        let e = agg.entry((tool, country)).or_insert((0, 0));
        e.0 += 1;
        e.1 += packets;
    }
    let mut t = crate::reports::model::Table::new(
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
