//! The REST API's reads on PostgreSQL: the SQLite reader's `api.rs` (pages of events, one
//! source's story, alerts with every field) in PostgreSQL's SQL, giving the same answers on the
//! same data. Event and authentication addresses are `inet` here (a source that is no address
//! has none of them); the analysis tables keep addresses as text, as SQLite does. Every value
//! is bound; every ORDER BY is total.

use super::clause::{Clause, Value};
use super::{get, n, rows, Result};
use crate::store::query::*;
use crate::store::Filter;
use postgres::{Client, Row};
use std::net::IpAddr;

/// The tool of the source's flow that spans the event, when one was recognised (flows keep
/// the address as text: `host()` of the event's `inet`, IpAddr's text as SQLite stores it).
const EVENT_TOOL: &str = "(SELECT fl.tool FROM flows fl WHERE fl.src_ip = host(e.src_ip) AND fl.first_ns <= e.ts_ns
    AND fl.last_ns >= e.ts_ns AND fl.tool IS NOT NULL ORDER BY fl.first_ns DESC, fl.id DESC LIMIT 1)";

/// `source` as the `inet` value events and attempts hold; `None` when it is no address, or not
/// in the text the store writes (SQLite compares that text: `2001:DB8::1` finds nothing there,
/// so it finds nothing here either).
fn inet(source: &str) -> Option<IpAddr> {
    source.parse::<IpAddr>().ok().filter(|ip| ip.to_string() == source)
}

pub(super) fn events(client: &mut Client, q: &EventQuery) -> Result<Vec<EventRecord>> {
    let mut extra: Vec<String> = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    if let Some(s) = &q.source {
        let Some(ip) = inet(s) else { return Ok(Vec::new()) };
        extra.push("e.src_ip = ?".into());
        values.push(Box::new(ip));
    }
    if let Some(m) = &q.method {
        extra.push("e.method = ?".into());
        values.push(Box::new(m.clone()));
    }
    if let Some(s) = q.status {
        extra.push("e.status = ?".into());
        values.push(Box::new(s));
    }
    if let Some(u) = &q.user {
        extra.push("(e.from_user = ? OR e.to_user = ? OR e.ruri_user = ? OR e.auth_username = ?)".into());
        for _ in 0..4 {
            values.push(Box::new(u.clone()));
        }
    }
    if !q.ruri_users.is_empty() {
        extra.push("e.ruri_user = ANY(?)".into());
        values.push(Box::new(q.ruri_users.clone()));
    }
    if !q.ids.is_empty() {
        extra.push("e.id = ANY(?)".into());
        values.push(Box::new(q.ids.clone()));
    }
    if let Some(t) = &q.tool {
        extra.push(
            "EXISTS (SELECT 1 FROM flows fl WHERE fl.src_ip = host(e.src_ip) AND fl.tool = ?
             AND fl.first_ns <= e.ts_ns AND fl.last_ns >= e.ts_ns)"
                .into(),
        );
        values.push(Box::new(t.clone()));
    }
    let order = match (q.after_id, q.before) {
        (Some(after), _) => {
            extra.push("e.id > ?".into());
            values.push(Box::new(after));
            "e.id"
        }
        (None, Some((ts, id))) => {
            extra.push("(e.ts_ns < ? OR (e.ts_ns = ? AND e.id < ?))".into());
            values.extend([Box::new(ts) as Value, Box::new(ts), Box::new(id)]);
            "e.ts_ns DESC, e.id DESC"
        }
        (None, None) => "e.ts_ns DESC, e.id DESC",
    };
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let clause = Clause::new(&q.filter, "e.ts_ns", Some("e.node"), &extra, values).then(i64::from(q.limit));
    let raw = if q.raw { "e.raw" } else { "NULL::bytea" };
    let sql = format!(
        "SELECT e.id, e.ts_ns, e.sensor, e.node, e.transport, e.src_ip, e.src_port, e.dst_ip, e.dst_port,
         e.direction, e.kind, e.method, e.status, e.call_id, e.from_user, e.to_user, e.ruri_user, e.user_agent,
         {EVENT_TOOL}, e.anomalies, {raw} FROM events e {{where}} ORDER BY {order} LIMIT ?"
    );
    rows(client, &sql, &clause, event_row)
}

fn event_row(r: &Row) -> Result<EventRecord> {
    Ok(EventRecord {
        id: get(r, 0)?,
        ts_ns: get(r, 1)?,
        sensor: get(r, 2)?,
        node: get(r, 3)?,
        transport: get(r, 4)?,
        src: (get::<IpAddr>(r, 5)?.to_string(), i64::from(get::<i32>(r, 6)?)),
        dst: (get::<IpAddr>(r, 7)?.to_string(), i64::from(get::<i32>(r, 8)?)),
        direction: get(r, 9)?,
        kind: get(r, 10)?,
        method: get(r, 11)?,
        status: get(r, 12)?,
        call_id: get(r, 13)?,
        from_user: get(r, 14)?,
        to_user: get(r, 15)?,
        ruri_user: get(r, 16)?,
        user_agent: get(r, 17)?,
        tool: get(r, 18)?,
        anomalies: get(r, 19)?,
        raw: get(r, 20)?,
    })
}

/// `(name, count)` rows of `sql` (which selects exactly those) for one source.
fn counts(client: &mut Client, sql: &str, clause: Clause, limit: u32) -> Result<Vec<NamedCount>> {
    rows(client, sql, &clause.then(i64::from(limit)), |r| Ok(NamedCount { name: get(r, 0)?, count: n(r, 1)? }))
}

pub(super) fn source_profile(client: &mut Client, f: &Filter, source: &str, limit: u32) -> Result<SourceProfile> {
    let src = || vec![Box::new(source.to_owned()) as Value];
    let totals = Clause::hours(f, &["src_ip = ?"], src());
    let found = client.query_one(
        &totals.within("SELECT min(first_ns), max(last_ns), sum(messages)::bigint FROM traffic {where}"),
        &totals.params(),
    )?;
    let (first_ns, last_ns, messages): (Option<i64>, Option<i64>, i64) =
        (get(&found, 0)?, get(&found, 1)?, n(&found, 2)?);
    let stage_clause = Clause::new(&f.with_nodes(&[]), "first_ns", None, &["src_ip = ?"], src());
    let stages = rows(
        client,
        "SELECT node, stage, min(first_ns), max(last_ns), sum(count)::bigint FROM stages {where}
         GROUP BY node, stage ORDER BY node COLLATE \"C\", stage COLLATE \"C\"",
        &stage_clause,
        |r| {
            Ok(SourceStage {
                node: get(r, 0)?,
                stage: get(r, 1)?,
                first_ns: get(r, 2)?,
                last_ns: get(r, 3)?,
                count: n(r, 4)?,
            })
        },
    )?;
    let tools = counts(
        client,
        "SELECT tool, sum(packets)::bigint AS n FROM flows {where} GROUP BY tool
         ORDER BY n DESC, tool COLLATE \"C\" NULLS FIRST LIMIT ?",
        Clause::new(f, "first_ns", None, &["src_ip = ?"], src()),
        limit,
    )?;
    let agents = counts(
        client,
        "SELECT user_agent, sum(messages)::bigint AS n FROM traffic {where} GROUP BY user_agent
         ORDER BY n DESC, user_agent COLLATE \"C\" NULLS FIRST LIMIT ?",
        Clause::hours(f, &["src_ip = ?", "kind = 'request'", "direction <> 'out'"], src()),
        limit,
    )?;
    let numbers = counts(
        client,
        "SELECT number, sum(invites)::bigint AS n FROM dialled {where} GROUP BY number
         ORDER BY n DESC, number COLLATE \"C\" LIMIT ?",
        Clause::hours(f, &["src_ip = ?", "number IS NOT NULL"], src()),
        limit,
    )?;
    // Attempts keep the address as `inet`: a source that is no address tried nothing.
    let (passwords, users) = match inet(source) {
        None => (Vec::new(), Vec::new()),
        Some(ip) => {
            let auth = |extra: &[&str]| Clause::new(f, "ts_ns", Some("node"), extra, vec![Box::new(ip) as Value]);
            let passwords = counts(
                client,
                "SELECT password, count(*) AS n FROM auth_attempts {where} GROUP BY password
                 ORDER BY n DESC, password COLLATE \"C\" LIMIT ?",
                auth(&["src_ip = ?", "password IS NOT NULL"]),
                limit,
            )?;
            let users = counts(
                client,
                "SELECT username, count(*) AS n FROM auth_attempts {where} GROUP BY username
                 ORDER BY n DESC, username COLLATE \"C\" LIMIT ?",
                auth(&["src_ip = ?"]),
                limit,
            )?;
            (passwords, users)
        }
    };
    Ok(SourceProfile { first_ns, last_ns, messages, stages, tools, agents, numbers, passwords, users })
}

pub(super) fn alerts(client: &mut Client, q: &AlertQuery) -> Result<Vec<StoredAlert>> {
    let mut extra = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    if let Some(s) = &q.source {
        extra.push("src_ip = ?");
        values.push(Box::new(s.clone()));
    }
    let order = match q.after_id {
        Some(after) => {
            extra.push("id > ?");
            values.push(Box::new(after));
            "id"
        }
        None => "first_ns DESC, id DESC",
    };
    let clause = Clause::new(&q.filter, "first_ns", Some("node"), &extra, values).then(i64::from(q.limit));
    let sql = format!(
        "SELECT id, sensor, rule_id, sid, name, severity, labels, group_key, first_ns, last_ns, count, node, src_ip,
         src_port, dst_ip, dst_port, proven, transport, method, status, user_agent, from_user, to_user, ruri_user,
         call_id FROM alerts {{where}} ORDER BY {order} LIMIT ?"
    );
    rows(client, &sql, &clause, |r| {
        let endpoint = |ip: usize| -> Result<Option<(String, i64)>> {
            Ok(get::<Option<String>>(r, ip)?
                .map(|a| (a, get::<Option<i32>>(r, ip + 1).ok().flatten().map_or(0, i64::from))))
        };
        Ok(StoredAlert {
            id: get(r, 0)?,
            sensor: get(r, 1)?,
            rule_id: get(r, 2)?,
            signature_id: get(r, 3)?,
            name: get(r, 4)?,
            severity: get(r, 5)?,
            labels: serde_json::from_str(&get::<String>(r, 6)?).unwrap_or_default(),
            group: get(r, 7)?,
            first_ns: get(r, 8)?,
            last_ns: get(r, 9)?,
            count: get(r, 10)?,
            node: get(r, 11)?,
            src: endpoint(12)?,
            dst: endpoint(14)?,
            proven: get(r, 16)?,
            transport: get(r, 17)?,
            method: get(r, 18)?,
            status: get(r, 19)?,
            user_agent: get(r, 20)?,
            from_user: get(r, 21)?,
            to_user: get(r, 22)?,
            ruri_user: get(r, 23)?,
            call_id: get(r, 24)?,
        })
    })
}

pub(super) fn alert_evidence(client: &mut Client, alert_ids: &[i64]) -> Result<Vec<AlertEvidence>> {
    if alert_ids.is_empty() {
        return Ok(Vec::new());
    }
    let values: Vec<Value> = vec![Box::new(alert_ids.to_vec())];
    let clause = Clause::new(&Filter::default(), "ts_ns", None, &["alert_id = ANY(?)"], values);
    rows(
        client,
        "SELECT alert_id, position, ts_ns, src_ip, src_port, dst_ip, dst_port, event_id FROM alert_evidence {where}
         ORDER BY alert_id, position",
        &clause,
        |r| {
            Ok(AlertEvidence {
                alert_id: get(r, 0)?,
                position: get(r, 1)?,
                ts_ns: get(r, 2)?,
                src: (get(r, 3)?, i64::from(get::<i32>(r, 4)?)),
                dst: (get(r, 5)?, i64::from(get::<i32>(r, 6)?)),
                event_id: get(r, 7)?,
            })
        },
    )
}
