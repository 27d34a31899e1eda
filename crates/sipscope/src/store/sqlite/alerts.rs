//! Reads of `alerts` and `alert_evidence`: alerts per rule and the latest alerts, by the time
//! of their first match and their node.

use super::merge::{integer_of, text_of};
use super::{opt_text, rows, text, Clause, Result};
use crate::store::fold::{AlertFoldRow, AlertRulesFold};
use crate::store::rows::{address_text as address, AlertEvidenceRow, AlertRow, AlertRuleRow};
use crate::store::Filter;
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, OptionalExtension};

pub(super) fn alert_rules(conn: &Connection, f: &Filter) -> Result<Vec<AlertRuleRow>> {
    let mut out = match merged_rules(conn, f)? {
        Some(merged) => merged,
        None => rules_in_sqlite(conn, f)?,
    };
    for row in &mut out {
        // The first alert of the rule starts at the rule's earliest time (found above): looked
        // up there through `alerts_first`, not by sorting every alert of the rule (6 rules ×
        // 44 k alerts over 10 M events). Only when none of those alerts kept evidence does the
        // search go on past them, in the same order.
        let rule = Value::Text(row.rule_id.clone());
        let earliest = vec![rule.clone(), Value::Integer(row.first_ns)];
        row.first_evidence = match first_evidence(conn, f, &["a.rule_id = ?", "a.first_ns = ?"], earliest)? {
            Some(found) => Some(found),
            None => first_evidence(conn, f, &["a.rule_id = ?"], vec![rule])?,
        };
    }
    Ok(out)
}

/// Alerts per rule as SQLite groups them: its `count(DISTINCT src_ip)` went through a
/// temporary B-tree per rule (130 ms over 262,500 alerts).
pub(super) fn rules_in_sqlite(conn: &Connection, f: &Filter) -> Result<Vec<AlertRuleRow>> {
    let clause = Clause::new(f, "first_ns", Some("node"), &[], vec![]);
    rows(
        conn,
        "SELECT rule_id, max(name), max(severity), count(*), sum(count), count(DISTINCT src_ip),
         count(DISTINCT CASE WHEN proven = 0 THEN src_ip END), min(first_ns), max(last_ns), max(actions)
         FROM alerts {where} GROUP BY rule_id ORDER BY count(*) DESC, rule_id",
        &clause,
        |r| {
            Ok(AlertRuleRow {
                rule_id: text(r, 0)?,
                name: text(r, 1)?,
                severity: text(r, 2)?,
                alerts: r.get(3)?,
                matches: r.get(4)?,
                sources: r.get(5)?,
                unproven_sources: r.get(6)?,
                first_ns: r.get(7)?,
                last_ns: r.get(8)?,
                actions: text(r, 9)?,
                first_evidence: None,
            })
        },
    )
}

/// `rules_in_sqlite`'s answer from one ordered pass over the covering index `alerts_rule`
/// (rule, then source): a rule's alerts are neighbours, and so are a source's alerts within
/// it, so distinct sources are counted where the source changes, with no temporary B-tree.
/// The time and node conditions are written `+first_ns`, `+node` so that SQLite does not read
/// through `alerts_first` and sort. `None` when a row is not as the writers store them (text
/// compared as bytes, integers) or a sum overflows: then SQLite answers.
pub(super) fn merged_rules(conn: &Connection, f: &Filter) -> Result<Option<Vec<AlertRuleRow>>> {
    let clause = Clause::new(f, "+first_ns", Some("+node"), &[], vec![]);
    let mut stmt = conn.prepare(&clause.within(
        "SELECT rule_id, src_ip, proven, first_ns, last_ns, count, name, severity, actions
         FROM alerts {where} ORDER BY rule_id, src_ip",
    ))?;
    let mut found = stmt.query(rusqlite::params_from_iter(clause.params.iter()))?;
    let mut fold = AlertRulesFold::default();
    while let Some(r) = found.next()? {
        let (Some(rule), Some(proven), Some(first_ns), Some(last_ns), Some(count)) = (
            text_of(r.get_ref(0)?),
            integer_of(r.get_ref(2)?),
            integer_of(r.get_ref(3)?),
            integer_of(r.get_ref(4)?),
            integer_of(r.get_ref(5)?),
        ) else {
            return Ok(None);
        };
        let (Some(name), Some(severity), Some(actions)) =
            (text_of(r.get_ref(6)?), text_of(r.get_ref(7)?), text_of(r.get_ref(8)?))
        else {
            return Ok(None);
        };
        let source = match r.get_ref(1)? {
            ValueRef::Null => None,
            ValueRef::Text(t) => Some(t),
            _ => return Ok(None),
        };
        let row = AlertFoldRow { rule, source, proven: proven != 0, first_ns, last_ns, count, name, severity, actions };
        if fold.add(row).is_none() {
            return Ok(None);
        }
    }
    Ok(Some(fold.finish()))
}

/// The first evidence of the alerts that match `extra` (and the filter), in the order of the
/// alerts' first match, group and id, then the evidence's position.
fn first_evidence(
    conn: &Connection,
    f: &Filter,
    extra: &[&str],
    params: Vec<Value>,
) -> Result<Option<AlertEvidenceRow>> {
    let clause = Clause::new(f, "a.first_ns", Some("a.node"), extra, params);
    let sql = clause.within(
        "SELECT e.ts_ns, e.src_ip, e.src_port, e.dst_ip, e.dst_port, e.event_id FROM alerts a
         JOIN alert_evidence e ON e.alert_id = a.id {where} ORDER BY a.first_ns, a.group_key, a.id, e.position LIMIT 1",
    );
    let found = conn
        .query_row(&sql, rusqlite::params_from_iter(clause.params.iter()), |r| {
            Ok(AlertEvidenceRow {
                ts_ns: r.get(0)?,
                src: address(opt_text(r, 1)?, r.get(2)?).unwrap_or_default(),
                dst: address(opt_text(r, 3)?, r.get(4)?).unwrap_or_default(),
                event_id: r.get(5)?,
            })
        })
        .optional()?;
    Ok(found)
}

pub(super) fn recent_alerts(conn: &Connection, f: &Filter, limit: u32) -> Result<Vec<AlertRow>> {
    let clause = Clause::new(f, "first_ns", Some("node"), &[], vec![]).then(i64::from(limit));
    rows(
        conn,
        "SELECT first_ns, last_ns, rule_id, severity, group_key, count, src_ip, src_port, proven, node, method,
         user_agent FROM alerts {where} ORDER BY first_ns DESC, rule_id, group_key, id LIMIT ?",
        &clause,
        |r| {
            Ok(AlertRow {
                first_ns: r.get(0)?,
                last_ns: r.get(1)?,
                rule_id: text(r, 2)?,
                severity: text(r, 3)?,
                group_key: text(r, 4)?,
                count: r.get(5)?,
                src: address(opt_text(r, 6)?, r.get(7)?),
                proven: r.get(8)?,
                node: opt_text(r, 9)?,
                method: opt_text(r, 10)?,
                user_agent: opt_text(r, 11)?,
            })
        },
    )
}
