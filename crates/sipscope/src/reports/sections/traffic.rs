//! Sections about the traffic itself: summary, daily, sources, user agents.

use super::{day_text, title, Result};
use crate::enrich::Enricher;
use crate::reports::model::{Cell, Chart, Section, Table};
use crate::store::{Filter, StoreReader};
use std::collections::BTreeMap;

pub fn summary(store: &dyn StoreReader, f: &Filter, geo: &Enricher) -> Result<Section> {
    let mut s = Section::new("summary", title("summary"));
    let totals = store.traffic_summary(f)?;
    let dialled = store.dialled_users(f, None)?;
    let numbers = store.unified_number_count(f)?;
    let mut t = Table::new("summary", "Summary", &["measure", "value"]);
    for (label, n) in [
        ("REGISTER messages", totals.register_messages),
        ("INVITE messages", totals.invite_messages),
        ("distinct dialled users (INVITE Request-URI)", dialled),
        ("unified numbers dialled (prefixes removed)", numbers),
        ("unique source addresses", totals.request_sources),
        ("days with traffic", totals.days),
        ("invalid (unparseable) messages", totals.invalid_messages),
        ("all messages (received and sent)", totals.all_messages),
    ] {
        t.push(vec![label.into(), Cell::Int(n)]);
    }
    let (countries, asns) = super::geo::source_countries_and_asns(store, f, geo)?;
    t.push(vec!["source countries".into(), countries.map_or(Cell::from("unknown"), Cell::Int)]);
    t.push(vec!["source ASNs".into(), asns.map_or(Cell::from("unknown"), Cell::Int)]);
    s.tables.push(t);
    if countries.is_none() || asns.is_none() {
        s.notes.push(GEO_NOTE.into());
    }
    traffic_notes(store, f, &mut s)?;
    coverage_notes(store, &mut s)?;
    Ok(s)
}

/// Where the analysis results (every count of a report) do not follow the stored events, and
/// what to do about it.
fn coverage_notes(store: &dyn StoreReader, s: &mut Section) -> Result<()> {
    let c = store.analysis_coverage()?;
    if c.interrupted_runs > 0 {
        s.notes.push(format!(
            "{} analysis run(s) were interrupted (the process was killed): the results of their {} events stop \
             early. The next ingest, capture or honeypot start recovers them from the events, as does `sipscope analyze`.",
            c.interrupted_runs, c.interrupted_events
        ));
    }
    if c.running_runs > 0 {
        s.notes.push(format!(
            "{} analysis run(s) are in progress: the counts of their current segment are stored when it ends.",
            c.running_runs
        ));
    }
    let in_runs = c.interrupted_events;
    if c.events > c.analysed + in_runs && c.running_runs == 0 {
        s.notes.push(format!(
            "{} of {} stored events are in no analysis run (stored with --no-analysis, or by an older sipscope): \
             run `sipscope analyze` to count them.",
            c.events - c.analysed - in_runs,
            c.events
        ));
    } else if c.analysed > c.events {
        s.notes.push(format!(
            "The analysis counts {} events more than are stored (events deleted after it ran, e.g. a capture \
             re-ingested with --force after `sipscope analyze`): run `sipscope analyze` to count them again.",
            c.analysed - c.events
        ));
    }
    Ok(())
}

/// The summary's note when a GeoIP database is missing.
const GEO_NOTE: &str =
    "Countries and ASNs need GeoIP databases (--country-db, --asn-db, or [geo] in --config; docs/enrichment.md).";

/// The sections that say when a range does not start and end on whole hours, and what.
pub(crate) const HOURLY: &[&str] = &["summary", "daily", "sources", "user-agents"];
const HOUR_NOTE: &str =
    "Message counts come from hourly totals: they cover every whole UTC hour the time range touches.";

/// The note a section of [`HOURLY`] has for `f` and not for a range on whole hours, and where
/// it goes among the section's `notes` (first, after the summary's GeoIP note): a section
/// built for another range over the same rows takes it there (the REST API's kept reports).
pub(crate) fn hour_note<'n>(f: &Filter, notes: impl IntoIterator<Item = &'n str>) -> Option<(usize, &'static str)> {
    (!f.hour_aligned()).then(|| (notes.into_iter().take_while(|n| *n == GEO_NOTE).count(), HOUR_NOTE))
}

/// What a reader of message counts must know: counts come in whole hours, and a store whose
/// events were never analysed has none.
pub(crate) fn traffic_notes(store: &dyn StoreReader, f: &Filter, s: &mut Section) -> Result<()> {
    if let Some((at, note)) = hour_note(f, s.notes.iter().map(String::as_str)) {
        s.notes.insert(at, note.into());
    }
    let contents = store.contents()?;
    if !contents.traffic && contents.events {
        s.notes.push(
            "The store has events but no traffic totals (stored by an older sipscope, or with --no-analysis): \
             run `sipscope analyze`."
                .into(),
        );
    }
    Ok(())
}

pub fn daily(store: &dyn StoreReader, f: &Filter) -> Result<Section> {
    let mut s = Section::new("daily", title("daily"));
    let mut by_day: BTreeMap<i64, BTreeMap<String, i64>> = BTreeMap::new();
    let mut methods: BTreeMap<String, i64> = BTreeMap::new();
    for r in store.daily_requests(f)? {
        let Some(m) = r.method else { continue };
        *by_day.entry(r.day).or_default().entry(m.clone()).or_insert(0) += r.messages;
        *methods.entry(m).or_insert(0) += r.messages;
    }
    let names: Vec<String> = methods.keys().cloned().collect();
    let mut cols = vec!["day"];
    cols.extend(names.iter().map(String::as_str));
    cols.push("total");
    let mut t = Table::new("daily", "Requests per day by method", &cols);
    for (day, counts) in &by_day {
        let mut row: Vec<Cell> = vec![day_text(*day).into()];
        row.extend(names.iter().map(|m| Cell::Int(counts.get(m).copied().unwrap_or(0))));
        row.push(Cell::Int(counts.values().sum()));
        t.push(row);
    }
    s.charts.push(Chart::Bars {
        title: "Requests per day".into(),
        labels: by_day.keys().map(|d| day_text(*d)).collect(),
        series: names
            .iter()
            .map(|m| (m.clone(), by_day.values().map(|c| c.get(m).copied().unwrap_or(0) as f64).collect()))
            .collect(),
    });
    s.tables.push(t);
    traffic_notes(store, f, &mut s)?;
    Ok(s)
}

pub fn sources(store: &dyn StoreReader, f: &Filter, geo: &Enricher) -> Result<Section> {
    let mut s = Section::new("sources", title("sources"));
    let mut t = Table::new(
        "sources",
        "Top 20 sources by requests",
        &["source", "country", "ASN", "requests", "first seen", "last seen", "dialled numbers", "user agent"],
    );
    for r in store.top_sources(f, 20)? {
        let g = r.source.parse().map(|ip| geo.lookup(ip)).unwrap_or_default();
        // Per source, through the (src_ip, hour) indexes: twenty small lookups. Unified numbers
        // of call attempts: a number dialled six ways is one, probes and extensions none.
        let dialled = store.dialled_numbers(f, Some(&r.source))?;
        let agent = store.main_agent(f, &r.source)?;
        t.push(vec![
            r.source.into(),
            g.country_or_unknown().into(),
            g.asn_or_unknown().into(),
            Cell::Int(r.requests),
            iso_time(r.first_ns),
            iso_time(r.last_ns),
            Cell::Int(dialled),
            agent.into(),
        ]);
    }
    s.tables.push(t);
    traffic_notes(store, f, &mut s)?;
    Ok(s)
}

pub fn user_agents(store: &dyn StoreReader, f: &Filter) -> Result<Section> {
    let mut s = Section::new("user-agents", title("user-agents"));
    let mut t = Table::new("user_agents", "Top 20 user agents", &["user agent", "requests", "sources"]);
    for r in store.top_user_agents(f, 20)? {
        let agent = r.user_agent.unwrap_or_else(|| "(none)".into());
        t.push(vec![agent.into(), Cell::Int(r.requests), Cell::Int(r.sources)]);
    }
    s.tables.push(t);
    let mut classes = Table::new("user_agent_classes", "Agents by class (analysis)", &["class", "messages", "agents"]);
    for r in store.agent_classes()? {
        classes.push(vec![r.class.into(), Cell::Int(r.messages), Cell::Int(r.agents)]);
    }
    s.tables.push(classes);
    traffic_notes(store, f, &mut s)?;
    Ok(s)
}

/// A time in ns as ISO text.
pub(crate) fn iso_time(ns: i64) -> Cell {
    Cell::Text(crate::time::iso_time(ns))
}

#[cfg(test)]
#[path = "traffic_tests.rs"]
mod tests;
