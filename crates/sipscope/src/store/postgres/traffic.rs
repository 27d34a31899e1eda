//! Reads of the hourly rollups `traffic` and `dialled` (see the SQLite reader's `traffic.rs`).
//! Text compared for DISTINCT and GROUP BY says `COLLATE "C"`: the same groups (equal text is
//! equal bytes under any deterministic collation), found by byte comparison instead of the
//! locale's, which halves the cost of the sorts over a million rows. Distinct counts over
//! `dialled` are a hashed GROUP BY counted, not `count(DISTINCT)`, which always sorts.
//! Questions over every source or user of a range read the rollups (`rollup_*`, migration 4),
//! questions about one source `traffic`/`dialled` by their source index.

use super::clause::{Clause, Value};
use super::{count, get, n, rows, Result};
use crate::store::rows::*;
use crate::store::Filter;
use postgres::fallible_iterator::FallibleIterator;
use postgres::Client;

/// Requests received (the honeypot's own answers are `out`).
const REQUESTS: &str = "kind = 'request' AND direction <> 'out'";

fn text(s: &str) -> Vec<Value> {
    vec![Box::new(s.to_owned())]
}

pub(super) fn contents(client: &mut Client) -> Result<StoreContents> {
    let r = client.query_one("SELECT EXISTS (SELECT 1 FROM events), EXISTS (SELECT 1 FROM traffic)", &[])?;
    Ok(StoreContents { events: get(&r, 0)?, traffic: get(&r, 1)? })
}

pub(super) fn summary(client: &mut Client, f: &Filter) -> Result<TrafficSummary> {
    let sql = format!(
        "SELECT
           sum(CASE WHEN method = 'REGISTER' AND {REQUESTS} THEN messages END)::bigint,
           sum(CASE WHEN method = 'INVITE' AND {REQUESTS} THEN messages END)::bigint,
           (SELECT count(*) FROM (SELECT src_ip COLLATE \"C\" FROM rollup_sources {{where}} GROUP BY 1) s),
           count(DISTINCT hour / 24),
           sum(CASE WHEN kind = 'invalid' THEN messages END)::bigint,
           sum(messages)::bigint
         FROM rollup_traffic {{where}}"
    );
    // The same clause twice: the sources' subquery's, then the totals'.
    let mut c = Clause::hours(f, &[], vec![]);
    c.values.extend(Clause::hours(f, &[], vec![]).values);
    let found = rows(client, &sql, &c, |r| {
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

pub(super) fn daily(client: &mut Client, f: &Filter) -> Result<Vec<DailyRequests>> {
    let sql = "SELECT hour / 24 AS day, method, sum(messages)::bigint FROM rollup_traffic {where}
               GROUP BY day, method ORDER BY day, method COLLATE \"C\" NULLS FIRST";
    rows(client, sql, &Clause::hours(f, &[REQUESTS], vec![]), |r| {
        Ok(DailyRequests { day: get(r, 0)?, method: get(r, 1)?, messages: n(r, 2)? })
    })
}

pub(super) fn top_sources(client: &mut Client, f: &Filter, limit: u32) -> Result<Vec<SourceRequests>> {
    let sql = "SELECT src_ip COLLATE \"C\" AS s, sum(messages)::bigint AS n, min(first_ns), max(last_ns)
               FROM rollup_sources {where} GROUP BY s ORDER BY n DESC, s LIMIT ?";
    rows(client, sql, &Clause::hours(f, &[], vec![]).then(i64::from(limit)), |r| {
        Ok(SourceRequests { source: get(r, 0)?, requests: n(r, 1)?, first_ns: get(r, 2)?, last_ns: get(r, 3)? })
    })
}

pub(super) fn dialled_users(client: &mut Client, f: &Filter, source: Option<&str>) -> Result<i64> {
    let (table, c) = match source {
        Some(ip) => ("dialled", Clause::hours(f, &["src_ip = ?"], text(ip))),
        None => ("rollup_users", Clause::hours(f, &[], vec![])),
    };
    let sql = format!("SELECT count(*) FROM (SELECT ruri_user COLLATE \"C\" FROM {table} {{where}} GROUP BY 1) u");
    count(client, &sql, &c)
}

pub(super) fn dialled_numbers(client: &mut Client, f: &Filter, source: Option<&str>) -> Result<i64> {
    let c = match source {
        Some(ip) => Clause::hours(f, &["src_ip = ?", "number IS NOT NULL"], text(ip)),
        None => Clause::hours(f, &["number IS NOT NULL"], vec![]),
    };
    count(client, "SELECT count(*) FROM (SELECT number COLLATE \"C\" FROM dialled {where} GROUP BY 1) u", &c)
}

pub(super) fn main_agent(client: &mut Client, f: &Filter, source: &str) -> Result<Option<String>> {
    let c = Clause::hours(f, &["src_ip = ?", REQUESTS], text(source));
    let sql = "SELECT user_agent COLLATE \"C\" AS a FROM traffic {where} GROUP BY a
               ORDER BY sum(messages) DESC, a NULLS LAST LIMIT 1";
    let found = rows(client, sql, &c, |r| get::<Option<String>>(r, 0))?;
    Ok(found.into_iter().next().flatten())
}

pub(super) fn top_user_agents(client: &mut Client, f: &Filter, limit: u32) -> Result<Vec<AgentRequests>> {
    let sql = "SELECT user_agent COLLATE \"C\" AS a, sum(messages)::bigint AS n, count(DISTINCT src_ip COLLATE \"C\")
               FROM rollup_agents {where} GROUP BY a ORDER BY n DESC, a NULLS FIRST LIMIT ?";
    rows(client, sql, &Clause::hours(f, &[], vec![]).then(i64::from(limit)), |r| {
        Ok(AgentRequests { user_agent: get(r, 0)?, requests: n(r, 1)?, sources: get(r, 2)? })
    })
}

pub(super) fn request_sources(client: &mut Client, f: &Filter) -> Result<Vec<String>> {
    let sql = "SELECT DISTINCT src_ip COLLATE \"C\" AS s FROM rollup_sources {where} ORDER BY s";
    rows(client, sql, &Clause::hours(f, &[], vec![]), |r| get(r, 0))
}

pub(super) fn source_nodes(client: &mut Client, f: &Filter) -> Result<Vec<SourceNode>> {
    let sql = "SELECT src_ip COLLATE \"C\" AS s, node COLLATE \"C\" AS n, min(first_ns) FROM rollup_sources {where}
               GROUP BY s, n ORDER BY s, n";
    rows(client, sql, &Clause::hours(f, &["node <> ''"], vec![]), |r| {
        Ok(SourceNode { source: get(r, 0)?, node: get(r, 1)?, first_ns: get(r, 2)? })
    })
}

pub(super) fn each_dialled_country(
    client: &mut Client,
    f: &Filter,
    visit: &mut dyn FnMut(DialledCountry<'_>),
) -> Result<()> {
    let c = Clause::hours(f, &[], vec![]);
    // Summed per source and country here (what the caller does with them): a few tens of
    // thousands of rows cross the connection; still streamed.
    let sql = c.within(
        "SELECT src_ip COLLATE \"C\", number_country COLLATE \"C\", sum(invites)::bigint FROM rollup_countries
         {where} GROUP BY 1, 2",
    );
    let mut found = client.query_raw(&sql, c.params())?;
    while let Some(r) = found.next()? {
        let (source, country): (&str, &str) = (get(&r, 0)?, get(&r, 1)?);
        visit(DialledCountry { source, country, invites: n(&r, 2)? });
    }
    Ok(())
}
