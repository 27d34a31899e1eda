//! Reads of the engine's hourly rollups, `traffic` (messages per hour, node, source, kind,
//! method, direction and agent) and `dialled` (INVITEs per hour, node, source and Request-URI
//! user): every message count of a report comes from here, never from `events`. Questions over
//! every source or user of a range read the rollups of those rollups (`rollup_*`, schema 15:
//! one row per hour, node and source, user or country), sized by what the range reaches;
//! questions about one source read `traffic`/`dialled` through their source index.

use super::clause::Clause;
use super::merge::{integer_of, lossy, nullable_text_of, text_of};
use super::{count, opt_text, rows, text, Result};
use crate::store::rows::*;
use crate::store::Filter;
use ahash::{AHashMap, AHashSet};
use rusqlite::types::Value;
use rusqlite::Row;
use rusqlite::{Connection, OptionalExtension};

/// Requests received (the honeypot's own answers are `out`).
const REQUESTS: &str = "kind = 'request' AND direction <> 'out'";

pub(super) fn contents(conn: &Connection) -> Result<StoreContents> {
    let sql = "SELECT EXISTS (SELECT 1 FROM events), EXISTS (SELECT 1 FROM traffic)";
    Ok(conn.query_row(sql, [], |r| Ok(StoreContents { events: r.get(0)?, traffic: r.get(1)? }))?)
}

pub(super) fn summary(conn: &Connection, f: &Filter) -> Result<TrafficSummary> {
    // Every row of `traffic` has its kind, method, direction and hour in `rollup_traffic`,
    // and every source of a request its row in `rollup_sources`.
    let sql = format!(
        "SELECT
           sum(CASE WHEN method = 'REGISTER' AND {REQUESTS} THEN messages END),
           sum(CASE WHEN method = 'INVITE' AND {REQUESTS} THEN messages END),
           (SELECT count(DISTINCT src_ip) FROM rollup_sources {{where}}),
           count(DISTINCT hour / 24),
           sum(CASE WHEN kind = 'invalid' THEN messages END),
           sum(messages)
         FROM rollup_traffic {{where}}"
    );
    let once = Clause::hours(f, &[], vec![]);
    let c = Clause { sql: once.sql.clone(), params: once.params.iter().chain(&once.params).cloned().collect() };
    let found = rows(conn, &sql, &c, |r| {
        Ok(TrafficSummary {
            register_messages: n(r, 0)?,
            invite_messages: n(r, 1)?,
            request_sources: n(r, 2)?,
            days: n(r, 3)?,
            invalid_messages: n(r, 4)?,
            all_messages: n(r, 5)?,
        })
    })?;
    Ok(found.into_iter().next().unwrap_or_default())
}

pub(super) fn daily(conn: &Connection, f: &Filter) -> Result<Vec<DailyRequests>> {
    let sql = "SELECT hour / 24 AS day, method, sum(messages) FROM rollup_traffic {where}
               GROUP BY day, method ORDER BY day, method";
    rows(conn, sql, &Clause::hours(f, &[REQUESTS], vec![]), |r| {
        Ok(DailyRequests { day: r.get(0)?, method: opt_text(r, 1)?, messages: r.get(2)? })
    })
}

pub(super) fn top_sources(conn: &Connection, f: &Filter, limit: u32) -> Result<Vec<SourceRequests>> {
    match merged_sources(conn, f, limit)? {
        Some(merged) => Ok(merged),
        None => top_sources_in_sqlite(conn, f, limit),
    }
}

/// A source's requests, first and last time.
type SourceTotals = (i64, i64, i64);

/// `top_sources` from one pass over the range's `rollup_sources` rows, merged per source in a
/// hash map and only the top ones sorted (the SQL sorted every source twice: 216 M
/// instructions over 43,750 sources); `None` when SQLite must answer (`merge.rs`).
pub(super) fn merged_sources(conn: &Connection, f: &Filter, limit: u32) -> Result<Option<Vec<SourceRequests>>> {
    let c = Clause::hours(f, &[], vec![]);
    let mut merged: AHashMap<Box<[u8]>, SourceTotals> = AHashMap::new();
    let mut stmt = conn.prepare(&c.within("SELECT src_ip, messages, first_ns, last_ns FROM rollup_sources {where}"))?;
    let mut found = stmt.query(rusqlite::params_from_iter(c.params.iter()))?;
    while let Some(r) = found.next()? {
        let (Some(source), Some(messages), Some(first_ns), Some(last_ns)) =
            (text_of(r.get_ref(0)?), integer_of(r.get_ref(1)?), integer_of(r.get_ref(2)?), integer_of(r.get_ref(3)?))
        else {
            return Ok(None);
        };
        match merged.get_mut(source) {
            Some((n, first, last)) => {
                let Some(sum) = n.checked_add(messages) else { return Ok(None) };
                (*n, *first, *last) = (sum, (*first).min(first_ns), (*last).max(last_ns));
            }
            None => {
                merged.insert(source.into(), (messages, first_ns, last_ns));
            }
        }
    }
    let ranked: Vec<(Box<[u8]>, SourceTotals)> = merged.into_iter().collect();
    // The SQL's order: requests, most first, then the source.
    let order =
        |a: &(Box<[u8]>, SourceTotals), b: &(Box<[u8]>, SourceTotals)| b.1 .0.cmp(&a.1 .0).then_with(|| a.0.cmp(&b.0));
    let ranked = crate::store::rank::first_in_order(ranked, limit, order);
    Ok(Some(
        ranked
            .into_iter()
            .map(|(source, (requests, first_ns, last_ns))| SourceRequests {
                source: lossy(&source),
                requests,
                first_ns,
                last_ns,
            })
            .collect(),
    ))
}

/// `top_sources` as SQLite answers it.
pub(super) fn top_sources_in_sqlite(conn: &Connection, f: &Filter, limit: u32) -> Result<Vec<SourceRequests>> {
    let sql = "SELECT src_ip, sum(messages) AS n, min(first_ns), max(last_ns) FROM rollup_sources {where}
               GROUP BY src_ip ORDER BY n DESC, src_ip LIMIT ?";
    rows(conn, sql, &Clause::hours(f, &[], vec![]).then(limit), |r| {
        Ok(SourceRequests { source: text(r, 0)?, requests: r.get(1)?, first_ns: r.get(2)?, last_ns: r.get(3)? })
    })
}

pub(super) fn dialled_users(conn: &Connection, f: &Filter, source: Option<&str>) -> Result<i64> {
    // Per source through the (src_ip, hour) index.
    match source {
        Some(ip) => {
            let c = Clause::hours(f, &["src_ip = ?"], vec![Value::Text(ip.into())]);
            count(conn, "SELECT count(DISTINCT ruri_user) FROM dialled {where}", &c)
        }
        None => distinct_users(conn, f),
    }
}

/// `dialled_users` of every source as SQLite answers it.
pub(super) fn distinct_users_in_sqlite(conn: &Connection, f: &Filter) -> Result<i64> {
    count(conn, "SELECT count(DISTINCT ruri_user) FROM rollup_users {where}", &Clause::hours(f, &[], vec![]))
}

/// `count(DISTINCT ruri_user)` of `rollup_users` in the clause, counted here: SQLite's
/// temporary B-tree for the distinct values cost 24 ms of a whole report over 100,000 rows
/// (docs/benchmarks.md). A scan gives the rows in key order, where a user's rows of one hour
/// and node (one per run) are neighbours: only the first of them is looked up. A value that is not text (the writers store
/// none) sends the count back to SQLite.
pub(super) fn distinct_users(conn: &Connection, f: &Filter) -> Result<i64> {
    let c = Clause::hours(f, &[], vec![]);
    let mut seen: AHashSet<Box<[u8]>> = AHashSet::new();
    let mut previous: Vec<u8> = Vec::new();
    let mut stmt = conn.prepare(&c.within("SELECT ruri_user FROM rollup_users {where}"))?;
    let mut found = stmt.query(rusqlite::params_from_iter(c.params.iter()))?;
    while let Some(r) = found.next()? {
        let Some(user) = text_of(r.get_ref(0)?) else {
            return distinct_users_in_sqlite(conn, f);
        };
        if user != previous.as_slice() {
            if !seen.contains(user) {
                seen.insert(user.into());
            }
            previous.clear();
            previous.extend_from_slice(user);
        }
    }
    Ok(seen.len() as i64)
}

pub(super) fn dialled_numbers(conn: &Connection, f: &Filter, source: Option<&str>) -> Result<i64> {
    let c = match source {
        Some(ip) => Clause::hours(f, &["src_ip = ?", "number IS NOT NULL"], vec![Value::Text(ip.into())]),
        None => Clause::hours(f, &["number IS NOT NULL"], vec![]),
    };
    count(conn, "SELECT count(DISTINCT number) FROM dialled {where}", &c)
}

pub(super) fn main_agent(conn: &Connection, f: &Filter, source: &str) -> Result<Option<String>> {
    let c = Clause::hours(f, &["src_ip = ?", REQUESTS], vec![Value::Text(source.into())]);
    let sql = c.within(
        "SELECT user_agent FROM traffic {where} GROUP BY user_agent
         ORDER BY sum(messages) DESC, user_agent IS NULL, user_agent LIMIT 1",
    );
    let agent = conn.query_row(&sql, rusqlite::params_from_iter(c.params.iter()), |r| opt_text(r, 0)).optional()?;
    Ok(agent.flatten())
}

pub(super) fn top_user_agents(conn: &Connection, f: &Filter, limit: u32) -> Result<Vec<AgentRequests>> {
    match merged_agents(conn, f, limit)? {
        Some(merged) => Ok(merged),
        None => top_user_agents_in_sqlite(conn, f, limit),
    }
}

/// `top_user_agents` as SQLite answers it.
pub(super) fn top_user_agents_in_sqlite(conn: &Connection, f: &Filter, limit: u32) -> Result<Vec<AgentRequests>> {
    let sql = "SELECT user_agent, sum(messages) AS n, count(DISTINCT src_ip) FROM rollup_agents {where}
               GROUP BY user_agent ORDER BY n DESC, user_agent LIMIT ?";
    rows(conn, sql, &Clause::hours(f, &[], vec![]).then(limit), |r| {
        Ok(AgentRequests { user_agent: opt_text(r, 0)?, requests: r.get(1)?, sources: r.get(2)? })
    })
}

/// One User-Agent's rows of `rollup_agents` in the range.
#[derive(Default)]
struct AgentMerge {
    requests: i64,
    sources: AHashSet<Box<[u8]>>,
}

/// `top_user_agents` from one pass over the range's `rollup_agents` rows, merged per
/// User-Agent in a hash map (the SQL's GROUP BY and `count(DISTINCT src_ip)` went through
/// temporary B-trees: 700 M instructions over 87,500 rows); `None` when SQLite must answer
/// (`merge.rs`).
pub(super) fn merged_agents(conn: &Connection, f: &Filter, limit: u32) -> Result<Option<Vec<AgentRequests>>> {
    let c = Clause::hours(f, &[], vec![]);
    let mut none: Option<AgentMerge> = None;
    let mut named: AHashMap<Box<[u8]>, AgentMerge> = AHashMap::new();
    let mut stmt = conn.prepare(&c.within("SELECT user_agent, src_ip, messages FROM rollup_agents {where}"))?;
    let mut found = stmt.query(rusqlite::params_from_iter(c.params.iter()))?;
    while let Some(r) = found.next()? {
        let (Some(agent), Some(source), Some(messages)) =
            (nullable_text_of(r.get_ref(0)?), text_of(r.get_ref(1)?), integer_of(r.get_ref(2)?))
        else {
            return Ok(None);
        };
        let merged = match agent {
            None => none.get_or_insert_with(AgentMerge::default),
            Some(agent) => {
                if !named.contains_key(agent) {
                    named.insert(agent.into(), AgentMerge::default());
                }
                match named.get_mut(agent) {
                    Some(m) => m,
                    None => return Ok(None),
                }
            }
        };
        let Some(requests) = merged.requests.checked_add(messages) else { return Ok(None) };
        merged.requests = requests;
        if !merged.sources.contains(source) {
            merged.sources.insert(source.into());
        }
    }
    let mut all: Vec<(Option<Box<[u8]>>, AgentMerge)> = named.into_iter().map(|(a, m)| (Some(a), m)).collect();
    all.extend(none.map(|m| (None, m)));
    // The SQL's order: requests, most first, then the User-Agent (none first).
    all.sort_unstable_by(|a, b| b.1.requests.cmp(&a.1.requests).then_with(|| a.0.cmp(&b.0)));
    all.truncate(limit as usize);
    Ok(Some(
        all.into_iter()
            .map(|(agent, m)| AgentRequests {
                user_agent: agent.map(|a| lossy(&a)),
                requests: m.requests,
                sources: m.sources.len() as i64,
            })
            .collect(),
    ))
}

pub(super) fn request_sources(conn: &Connection, f: &Filter) -> Result<Vec<String>> {
    rows(
        conn,
        "SELECT DISTINCT src_ip FROM rollup_sources {where} ORDER BY src_ip",
        &Clause::hours(f, &[], vec![]),
        |r| text(r, 0),
    )
}

pub(super) fn source_nodes(conn: &Connection, f: &Filter) -> Result<Vec<SourceNode>> {
    let sql =
        "SELECT src_ip, node, min(first_ns) FROM rollup_sources {where} GROUP BY src_ip, node ORDER BY src_ip, node";
    rows(conn, sql, &Clause::hours(f, &["node <> ''"], vec![]), |r| {
        Ok(SourceNode { source: text(r, 0)?, node: text(r, 1)?, first_ns: r.get(2)? })
    })
}

pub(super) fn each_dialled_country(
    conn: &Connection,
    f: &Filter,
    visit: &mut dyn FnMut(DialledCountry<'_>),
) -> Result<()> {
    let c = Clause::hours(f, &[], vec![]);
    // Rows as stored (already summed per hour, node, source and country), summed by the caller.
    let mut stmt = conn.prepare(&c.within("SELECT src_ip, number_country, invites FROM rollup_countries {where}"))?;
    let mut rows = stmt.query(rusqlite::params_from_iter(c.params.iter()))?;
    while let Some(r) = rows.next()? {
        let (source, country) = (borrowed_text(r.get_ref(0)?), borrowed_text(r.get_ref(1)?));
        visit(DialledCountry { source, country, invites: r.get(2)? });
    }
    Ok(())
}

/// Text borrowed from the row ("" when not valid text): no allocation per row.
fn borrowed_text(v: rusqlite::types::ValueRef<'_>) -> &str {
    v.as_str().unwrap_or_default()
}

/// Column `i` as a number, 0 when NULL (a sum over no rows).
fn n(r: &Row<'_>, i: usize) -> rusqlite::Result<i64> {
    Ok(r.get::<_, Option<i64>>(i)?.unwrap_or(0))
}
