//! Sections about the traffic itself: summary, daily, sources, user agents.

use super::{day_text, query_table, title, Result};
use crate::enrich::Enricher;
use crate::reports::model::{Cell, Chart, Section, Table};
use crate::reports::query::Filter;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension};
use std::collections::BTreeMap;

/// Requests received (the honeypot's own answers are `out`).
pub(crate) const REQUESTS: &str = "kind = 'request' AND direction <> 'out'";

pub fn summary(conn: &Connection, f: &Filter, geo: &Enricher) -> Result<Section> {
    let mut s = Section::new("summary", title("summary"));
    let c = f.hour_clause(&[]);
    let sql = format!(
        "SELECT
           sum(CASE WHEN method = 'REGISTER' AND {REQUESTS} THEN messages END),
           sum(CASE WHEN method = 'INVITE' AND {REQUESTS} THEN messages END),
           count(DISTINCT CASE WHEN {REQUESTS} THEN src_ip END),
           count(DISTINCT hour / 24),
           sum(CASE WHEN kind = 'invalid' THEN messages END),
           sum(messages)
         FROM traffic {{where}}"
    );
    let raw = query_table(conn, "summary", "", &["a", "b", "c", "d", "e", "f"], &sql, &c)?;
    let row = raw.rows.into_iter().next().unwrap_or_default();
    let get = |i: usize| row.get(i).cloned().unwrap_or(Cell::Int(0));
    let c = f.hour_clause(&[]);
    let dialled: i64 = conn.query_row(
        &format!("SELECT count(DISTINCT ruri_user) FROM dialled {}", c.sql),
        rusqlite::params_from_iter(c.params.iter()),
        |r| r.get(0),
    )?;
    let numbers = unified_numbers(conn, f)?;
    let mut t = Table::new("summary", "Summary", &["measure", "value"]);
    for (label, cell) in [
        ("REGISTER messages", get(0)),
        ("INVITE messages", get(1)),
        ("distinct dialled users (INVITE Request-URI)", Cell::Int(dialled)),
        ("unified numbers dialled (prefixes removed)", Cell::Int(numbers)),
        ("unique source addresses", get(2)),
        ("days with traffic", get(3)),
        ("invalid (unparseable) messages", get(4)),
        ("all messages (received and sent)", get(5)),
    ] {
        t.push(vec![label.into(), if cell == Cell::Null { Cell::Int(0) } else { cell }]);
    }
    let (countries, asns) = super::geo::source_countries_and_asns(conn, f, geo)?;
    t.push(vec!["source countries".into(), countries.map_or(Cell::from("unknown"), Cell::Int)]);
    t.push(vec!["source ASNs".into(), asns.map_or(Cell::from("unknown"), Cell::Int)]);
    s.tables.push(t);
    if countries.is_none() || asns.is_none() {
        s.notes.push("Countries and ASNs need GeoIP databases (--country-db, --asn-db, or [geo] in --config; docs/enrichment.md).".into());
    }
    traffic_notes(conn, f, &mut s)?;
    Ok(s)
}

fn unified_numbers(conn: &Connection, f: &Filter) -> Result<i64> {
    let c = f.clause("last_ns", None, &[]);
    conn.query_row(
        &format!("SELECT count(DISTINCT number) FROM numbers {}", c.sql),
        rusqlite::params_from_iter(c.params.iter()),
        |r| r.get(0),
    )
}

/// What a reader of message counts must know: counts come in whole hours, and a store whose
/// events were never analysed has none.
pub(crate) fn traffic_notes(conn: &Connection, f: &Filter, s: &mut Section) -> Result<()> {
    if !f.hour_aligned() {
        s.notes.push(
            "Message counts come from hourly totals: they cover every whole UTC hour the time range touches.".into(),
        );
    }
    let exists = |table: &str| -> Result<bool> {
        conn.query_row(&format!("SELECT EXISTS (SELECT 1 FROM {table})"), [], |r| r.get(0))
    };
    if !exists("traffic")? && exists("events")? {
        s.notes.push(
            "The store has events but no traffic totals (stored by an older sipscope, or with --no-analysis): \
             run `sipscope analyze`."
                .into(),
        );
    }
    Ok(())
}

pub fn daily(conn: &Connection, f: &Filter) -> Result<Section> {
    let mut s = Section::new("daily", title("daily"));
    let c = f.hour_clause(&[REQUESTS]);
    let raw = query_table(
        conn,
        "daily",
        "",
        &["day", "method", "messages"],
        "SELECT hour / 24 AS day, method, sum(messages) FROM traffic {where} GROUP BY day, method ORDER BY day, method",
        &c,
    )?;
    let mut by_day: BTreeMap<i64, BTreeMap<String, i64>> = BTreeMap::new();
    let mut methods: BTreeMap<String, i64> = BTreeMap::new();
    for r in &raw.rows {
        if let (Cell::Int(day), Cell::Text(m), Cell::Int(n)) = (&r[0], &r[1], &r[2]) {
            *by_day.entry(*day).or_default().entry(m.clone()).or_insert(0) += n;
            *methods.entry(m.clone()).or_insert(0) += n;
        }
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
    traffic_notes(conn, f, &mut s)?;
    Ok(s)
}

pub fn sources(conn: &Connection, f: &Filter, geo: &Enricher) -> Result<Section> {
    let mut s = Section::new("sources", title("sources"));
    let t = query_table(
        conn,
        "sources",
        "Top 20 sources by requests",
        &["source", "requests", "first seen", "last seen"],
        "SELECT src_ip, sum(messages) AS n, min(first_ns), max(last_ns) FROM traffic {where}
         GROUP BY src_ip ORDER BY n DESC, src_ip LIMIT 20",
        &f.hour_clause(&[REQUESTS]),
    )?;
    let mut t = times_as_text(t, &[2, 3]);
    t.columns.insert(1, "country".into());
    t.columns.insert(2, "ASN".into());
    t.columns.extend(["dialled numbers".into(), "user agent".into()]);
    for row in &mut t.rows {
        let Cell::Text(ip) = row[0].clone() else { continue };
        let g = ip.parse().map(|ip| geo.lookup(ip)).unwrap_or_default();
        row.insert(1, g.country_or_unknown().into());
        row.insert(2, g.asn_or_unknown().into());
        // Per source, through the (src_ip, hour) indexes: twenty small lookups.
        let mut c = f.hour_clause(&["src_ip = ?"]);
        c.params.insert(0, Value::Text(ip.clone()));
        let dialled: i64 = conn.query_row(
            &format!("SELECT count(DISTINCT ruri_user) FROM dialled {}", c.sql),
            rusqlite::params_from_iter(c.params.iter()),
            |r| r.get(0),
        )?;
        let mut c = f.hour_clause(&["src_ip = ?", REQUESTS]);
        c.params.insert(0, Value::Text(ip));
        let agent: Option<String> = conn
            .query_row(
                &format!(
                    "SELECT user_agent FROM traffic {} GROUP BY user_agent ORDER BY sum(messages) DESC, user_agent IS NULL, user_agent LIMIT 1",
                    c.sql
                ),
                rusqlite::params_from_iter(c.params.iter()),
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        row.extend([Cell::Int(dialled), agent.into()]);
    }
    s.tables.push(t);
    traffic_notes(conn, f, &mut s)?;
    Ok(s)
}

pub fn user_agents(conn: &Connection, f: &Filter) -> Result<Section> {
    let mut s = Section::new("user-agents", title("user-agents"));
    let t = query_table(
        conn,
        "user_agents",
        "Top 20 user agents",
        &["user agent", "requests", "sources"],
        "SELECT coalesce(user_agent, '(none)'), sum(messages) AS n, count(DISTINCT src_ip) FROM traffic {where}
         GROUP BY user_agent ORDER BY n DESC, user_agent LIMIT 20",
        &f.hour_clause(&[REQUESTS]),
    )?;
    s.tables.push(t);
    let classes = query_table(
        conn,
        "user_agent_classes",
        "Agents by class (analysis)",
        &["class", "messages", "agents"],
        "SELECT class, sum(messages) AS m, count(DISTINCT coalesce(user_agent, '')) FROM user_agents GROUP BY class ORDER BY m DESC",
        &Default::default(),
    )?;
    s.tables.push(classes);
    traffic_notes(conn, f, &mut s)?;
    Ok(s)
}

/// Replaces ns times in `columns` by ISO text.
pub(crate) fn times_as_text(mut t: Table, columns: &[usize]) -> Table {
    for row in &mut t.rows {
        for &i in columns {
            if let Some(Cell::Int(ns)) = row.get(i) {
                row[i] = Cell::Text(crate::time::iso_time(*ns));
            }
        }
    }
    t
}

#[cfg(test)]
#[path = "traffic_tests.rs"]
mod tests;
