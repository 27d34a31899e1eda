//! Reads of `alerts` and `alert_evidence`: alerts per rule and the latest alerts, by the time
//! of their first match and their node; see the SQLite reader's `alerts.rs`.

use super::clause::{Clause, Value};
use super::{get, n, rows, Result};
use crate::store::rows::{address_text, AlertEvidenceRow, AlertRow, AlertRuleRow};
use crate::store::Filter;
use postgres::Client;

/// [`address_text`] of a PostgreSQL `integer` port.
fn address(ip: Option<String>, port: Option<i32>) -> Option<String> {
    address_text(ip, port.map(i64::from))
}

pub(super) fn alert_rules(client: &mut Client, f: &Filter) -> Result<Vec<AlertRuleRow>> {
    let clause = Clause::new(f, "first_ns", Some("node"), &[], vec![]);
    // One level of groups, read from the covering index `alerts_rule` in its order, text
    // compared as bytes: 138 ms over a 10 M-event store's 262,500 alerts, where grouping per
    // rule and source first and then per rule took 235 ms (every source is alone in its pair
    // there, so the first level grouped nothing and cost eight aggregates a row;
    // docs/benchmarks.md).
    let mut out = rows(
        client,
        "SELECT rule_id, max(name COLLATE \"C\"), max(severity COLLATE \"C\"), count(*), sum(count)::bigint,
                count(DISTINCT src_ip COLLATE \"C\"),
                count(DISTINCT src_ip COLLATE \"C\") FILTER (WHERE NOT proven), min(first_ns),
                max(last_ns), max(actions COLLATE \"C\")
         FROM alerts {where} GROUP BY rule_id ORDER BY count(*) DESC, rule_id COLLATE \"C\"",
        &clause,
        |r| {
            Ok(AlertRuleRow {
                rule_id: get(r, 0)?,
                name: get::<Option<String>>(r, 1)?.unwrap_or_default(),
                severity: get::<Option<String>>(r, 2)?.unwrap_or_default(),
                alerts: n(r, 3)?,
                matches: n(r, 4)?,
                sources: get(r, 5)?,
                unproven_sources: get(r, 6)?,
                first_ns: get(r, 7)?,
                last_ns: get(r, 8)?,
                actions: get::<Option<String>>(r, 9)?.unwrap_or_default(),
                first_evidence: None,
            })
        },
    )?;
    for row in &mut out {
        // As in the SQLite reader: the first alert of the rule starts at the rule's earliest
        // time, looked up there through `alerts_first`; only when none of those alerts kept
        // evidence does the search go on past them, in the same order.
        let earliest: Vec<Value> = vec![Box::new(row.rule_id.clone()), Box::new(row.first_ns)];
        row.first_evidence = match first_evidence(client, f, &["a.rule_id = ?", "a.first_ns = ?"], earliest)? {
            Some(found) => Some(found),
            None => first_evidence(client, f, &["a.rule_id = ?"], vec![Box::new(row.rule_id.clone())])?,
        };
    }
    Ok(out)
}

/// The first evidence of the alerts that match `extra` (and the filter), in the order of the
/// alerts' first match, group and id, then the evidence's position.
fn first_evidence(
    client: &mut Client,
    f: &Filter,
    extra: &[&str],
    own: Vec<Value>,
) -> Result<Option<AlertEvidenceRow>> {
    let clause = Clause::new(f, "a.first_ns", Some("a.node"), extra, own);
    let found = rows(
        client,
        "SELECT e.ts_ns, e.src_ip, e.src_port, e.dst_ip, e.dst_port, e.event_id FROM alerts a
         JOIN alert_evidence e ON e.alert_id = a.id {where}
         ORDER BY a.first_ns, a.group_key COLLATE \"C\", a.id, e.position LIMIT 1",
        &clause,
        |r| {
            Ok(AlertEvidenceRow {
                ts_ns: get(r, 0)?,
                src: address(get(r, 1)?, get::<Option<i32>>(r, 2)?).unwrap_or_default(),
                dst: address(get(r, 3)?, get::<Option<i32>>(r, 4)?).unwrap_or_default(),
                event_id: get(r, 5)?,
            })
        },
    )?;
    Ok(found.into_iter().next())
}

pub(super) fn recent_alerts(client: &mut Client, f: &Filter, limit: u32) -> Result<Vec<AlertRow>> {
    let clause = Clause::new(f, "first_ns", Some("node"), &[], vec![]).then(i64::from(limit));
    rows(
        client,
        "SELECT first_ns, last_ns, rule_id, severity, group_key, count, src_ip, src_port, proven, node, method,
         user_agent FROM alerts {where}
         ORDER BY first_ns DESC, rule_id COLLATE \"C\", group_key COLLATE \"C\", id LIMIT ?",
        &clause,
        |r| {
            Ok(AlertRow {
                first_ns: get(r, 0)?,
                last_ns: get(r, 1)?,
                rule_id: get(r, 2)?,
                severity: get(r, 3)?,
                group_key: get(r, 4)?,
                count: get(r, 5)?,
                src: address(get(r, 6)?, get::<Option<i32>>(r, 7)?),
                proven: get(r, 8)?,
                node: get(r, 9)?,
                method: get(r, 10)?,
                user_agent: get(r, 11)?,
            })
        },
    )
}
