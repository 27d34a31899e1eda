//! The REST API's reads: pages of events (newest first through the `(ts_ns)` or `(src_ip,
//! ts_ns)` index, or by id for the live feed), one source's story from the rollups and
//! analysis tables by its address, and alerts with every field. Every value is bound.

use super::clause::Clause;
use super::{opt_text, rows, text, Result};
use crate::store::query::*;
use crate::store::Filter;
use rusqlite::types::Value;
use rusqlite::{Connection, Row};

/// The tool of the source's flow that spans the event, when one was recognised.
const EVENT_TOOL: &str = "(SELECT fl.tool FROM flows fl WHERE fl.src_ip = e.src_ip AND fl.first_ns <= e.ts_ns
    AND fl.last_ns >= e.ts_ns AND fl.tool IS NOT NULL ORDER BY fl.first_ns DESC, fl.id DESC LIMIT 1)";

pub(super) fn events(conn: &Connection, q: &EventQuery) -> Result<Vec<EventRecord>> {
    let mut extra: Vec<String> = Vec::new();
    let mut params: Vec<Value> = Vec::new();
    let mut cond = |sql: String, values: &mut dyn Iterator<Item = Value>| {
        extra.push(sql);
        params.extend(values);
    };
    if let Some(s) = &q.source {
        cond("e.src_ip = ?".into(), &mut std::iter::once(Value::Text(s.clone())));
    }
    if let Some(m) = &q.method {
        cond("e.method = ?".into(), &mut std::iter::once(Value::Text(m.clone())));
    }
    if let Some(s) = q.status {
        cond("e.status = ?".into(), &mut std::iter::once(Value::Integer(s)));
    }
    if let Some(u) = &q.user {
        cond(
            "(e.from_user = ? OR e.to_user = ? OR e.ruri_user = ? OR e.auth_username = ?)".into(),
            &mut std::iter::repeat_n(Value::Text(u.clone()), 4),
        );
    }
    if !q.ruri_users.is_empty() {
        let marks = vec!["?"; q.ruri_users.len()].join(", ");
        cond(format!("e.ruri_user IN ({marks})"), &mut q.ruri_users.iter().map(|u| Value::Text(u.clone())));
    }
    if !q.ids.is_empty() {
        let ids = serde_json::to_string(&q.ids).unwrap_or_default();
        cond("e.id IN (SELECT value FROM json_each(?))".into(), &mut std::iter::once(Value::Text(ids)));
    }
    if let Some(t) = &q.tool {
        cond(
            "EXISTS (SELECT 1 FROM flows fl WHERE fl.src_ip = e.src_ip AND fl.tool = ? AND fl.first_ns <= e.ts_ns
             AND fl.last_ns >= e.ts_ns)"
                .into(),
            &mut std::iter::once(Value::Text(t.clone())),
        );
    }
    let order = match (q.after_id, q.before) {
        (Some(after), _) => {
            cond("e.id > ?".into(), &mut std::iter::once(Value::Integer(after)));
            "e.id"
        }
        (None, Some((ts, id))) => {
            cond(
                "(e.ts_ns < ? OR (e.ts_ns = ? AND e.id < ?))".into(),
                &mut [Value::Integer(ts), Value::Integer(ts), Value::Integer(id)].into_iter(),
            );
            "e.ts_ns DESC, e.id DESC"
        }
        (None, None) => "e.ts_ns DESC, e.id DESC",
    };
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let clause = Clause::new(&q.filter, "e.ts_ns", Some("e.node"), &extra, params).then(i64::from(q.limit));
    let raw = if q.raw { "e.raw" } else { "NULL" };
    let sql = format!(
        "SELECT e.id, e.ts_ns, e.sensor, e.node, e.transport, e.src_ip, e.src_port, e.dst_ip, e.dst_port,
         e.direction, e.kind, e.method, e.status, e.call_id, e.from_user, e.to_user, e.ruri_user, e.user_agent,
         {EVENT_TOOL}, e.anomalies, {raw} FROM events e {{where}} ORDER BY {order} LIMIT ?"
    );
    rows(conn, &sql, &clause, event_row)
}

fn event_row(r: &Row<'_>) -> rusqlite::Result<EventRecord> {
    Ok(EventRecord {
        id: r.get(0)?,
        ts_ns: r.get(1)?,
        sensor: text(r, 2)?,
        node: opt_text(r, 3)?,
        transport: text(r, 4)?,
        src: (text(r, 5)?, r.get(6)?),
        dst: (text(r, 7)?, r.get(8)?),
        direction: text(r, 9)?,
        kind: text(r, 10)?,
        method: opt_text(r, 11)?,
        status: r.get(12)?,
        call_id: opt_text(r, 13)?,
        from_user: opt_text(r, 14)?,
        to_user: opt_text(r, 15)?,
        ruri_user: opt_text(r, 16)?,
        user_agent: opt_text(r, 17)?,
        tool: opt_text(r, 18)?,
        anomalies: text(r, 19)?,
        raw: r.get(20)?,
    })
}

/// `(name, count)` rows of `sql` (which selects exactly those) for one source.
fn counts(conn: &Connection, sql: &str, clause: Clause, limit: u32) -> Result<Vec<NamedCount>> {
    rows(conn, sql, &clause.then(i64::from(limit)), |r| Ok(NamedCount { name: opt_text(r, 0)?, count: r.get(1)? }))
}

pub(super) fn source_profile(conn: &Connection, f: &Filter, source: &str, limit: u32) -> Result<SourceProfile> {
    let src = || vec![Value::Text(source.to_owned())];
    let totals = Clause::hours(f, &["src_ip = ?"], src());
    let (first_ns, last_ns, messages) = conn.query_row(
        &totals.within("SELECT min(first_ns), max(last_ns), sum(messages) FROM traffic {where}"),
        rusqlite::params_from_iter(totals.params.iter()),
        |r| Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?, r.get::<_, Option<i64>>(2)?)),
    )?;
    let stage_clause = Clause::new(&f.with_nodes(&[]), "first_ns", None, &["src_ip = ?"], src());
    let stages = rows(
        conn,
        "SELECT node, stage, min(first_ns), max(last_ns), sum(count) FROM stages {where}
         GROUP BY node, stage ORDER BY node, stage",
        &stage_clause,
        |r| {
            Ok(SourceStage {
                node: text(r, 0)?,
                stage: text(r, 1)?,
                first_ns: r.get(2)?,
                last_ns: r.get(3)?,
                count: r.get(4)?,
            })
        },
    )?;
    let flows = Clause::new(f, "first_ns", None, &["src_ip = ?"], src());
    let tools = counts(
        conn,
        "SELECT tool, sum(packets) AS n FROM flows {where} GROUP BY tool ORDER BY n DESC, tool LIMIT ?",
        flows,
        limit,
    )?;
    let agents = counts(
        conn,
        "SELECT user_agent, sum(messages) AS n FROM traffic {where} GROUP BY user_agent
         ORDER BY n DESC, user_agent LIMIT ?",
        Clause::hours(f, &["src_ip = ?", "kind = 'request'", "direction <> 'out'"], src()),
        limit,
    )?;
    let numbers = counts(
        conn,
        "SELECT number, sum(invites) AS n FROM dialled {where} GROUP BY number ORDER BY n DESC, number LIMIT ?",
        Clause::hours(f, &["src_ip = ?", "number IS NOT NULL"], src()),
        limit,
    )?;
    let auth = |extra: &[&str]| Clause::new(f, "ts_ns", Some("node"), extra, src());
    let passwords = counts(
        conn,
        "SELECT password, count(*) AS n FROM auth_attempts {where} GROUP BY password ORDER BY n DESC, password
         LIMIT ?",
        auth(&["src_ip = ?", "password IS NOT NULL"]),
        limit,
    )?;
    let users = counts(
        conn,
        "SELECT username, count(*) AS n FROM auth_attempts {where} GROUP BY username ORDER BY n DESC, username
         LIMIT ?",
        auth(&["src_ip = ?"]),
        limit,
    )?;
    Ok(SourceProfile {
        first_ns,
        last_ns,
        messages: messages.unwrap_or(0),
        stages,
        tools,
        agents,
        numbers,
        passwords,
        users,
    })
}

pub(super) fn alerts(conn: &Connection, q: &AlertQuery) -> Result<Vec<StoredAlert>> {
    let mut extra = Vec::new();
    let mut params = Vec::new();
    if let Some(s) = &q.source {
        extra.push("src_ip = ?");
        params.push(Value::Text(s.clone()));
    }
    let order = match q.after_id {
        Some(after) => {
            extra.push("id > ?");
            params.push(Value::Integer(after));
            "id"
        }
        None => "first_ns DESC, id DESC",
    };
    let clause = Clause::new(&q.filter, "first_ns", Some("node"), &extra, params).then(i64::from(q.limit));
    let sql = format!(
        "SELECT id, sensor, rule_id, sid, name, severity, labels, group_key, first_ns, last_ns, count, node, src_ip,
         src_port, dst_ip, dst_port, proven, transport, method, status, user_agent, from_user, to_user, ruri_user,
         call_id FROM alerts {{where}} ORDER BY {order} LIMIT ?"
    );
    rows(conn, &sql, &clause, |r| {
        let endpoint = |ip: usize| -> rusqlite::Result<Option<(String, i64)>> {
            Ok(opt_text(r, ip)?.map(|a| (a, r.get::<_, Option<i64>>(ip + 1).ok().flatten().unwrap_or(0))))
        };
        Ok(StoredAlert {
            id: r.get(0)?,
            sensor: text(r, 1)?,
            rule_id: text(r, 2)?,
            signature_id: r.get(3)?,
            name: text(r, 4)?,
            severity: text(r, 5)?,
            labels: serde_json::from_str(&text(r, 6)?).unwrap_or_default(),
            group: text(r, 7)?,
            first_ns: r.get(8)?,
            last_ns: r.get(9)?,
            count: r.get(10)?,
            node: opt_text(r, 11)?,
            src: endpoint(12)?,
            dst: endpoint(14)?,
            proven: r.get(16)?,
            transport: opt_text(r, 17)?,
            method: opt_text(r, 18)?,
            status: r.get(19)?,
            user_agent: opt_text(r, 20)?,
            from_user: opt_text(r, 21)?,
            to_user: opt_text(r, 22)?,
            ruri_user: opt_text(r, 23)?,
            call_id: opt_text(r, 24)?,
        })
    })
}

pub(super) fn alert_evidence(conn: &Connection, alert_ids: &[i64]) -> Result<Vec<AlertEvidence>> {
    if alert_ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids = serde_json::to_string(alert_ids).unwrap_or_default();
    let clause = Clause::new(
        &Filter::default(),
        "ts_ns",
        None,
        &["alert_id IN (SELECT value FROM json_each(?))"],
        vec![Value::Text(ids)],
    );
    rows(
        conn,
        "SELECT alert_id, position, ts_ns, src_ip, src_port, dst_ip, dst_port, event_id FROM alert_evidence {where}
         ORDER BY alert_id, position",
        &clause,
        |r| {
            Ok(AlertEvidence {
                alert_id: r.get(0)?,
                position: r.get(1)?,
                ts_ns: r.get(2)?,
                src: (text(r, 3)?, r.get(4)?),
                dst: (text(r, 5)?, r.get(6)?),
                event_id: r.get(7)?,
            })
        },
    )
}
