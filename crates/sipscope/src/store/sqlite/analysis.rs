//! Reads of the analysis tables about what attackers did and were after: stages (per node
//! and overall), numbers dialled, user-agent classes, and the honeypot's `auth_attempts`.

use super::clause::Clause;
use super::{count, opt_text, rows, text, Result};
use crate::analysis::stages::Stage;
use crate::store::rows::*;
use crate::store::Filter;
use rusqlite::types::Value;
use rusqlite::Connection;

pub(super) fn agent_classes(conn: &Connection) -> Result<Vec<AgentClass>> {
    let sql = "SELECT class, sum(messages) AS m, count(DISTINCT coalesce(user_agent, '')) FROM user_agents
               GROUP BY class ORDER BY m DESC, class";
    rows(conn, sql, &Clause::default(), |r| {
        Ok(AgentClass { class: text(r, 0)?, messages: r.get(1)?, agents: r.get(2)? })
    })
}

pub(super) fn unified_number_count(conn: &Connection, f: &Filter) -> Result<i64> {
    count(conn, "SELECT count(DISTINCT number) FROM numbers {where}", &Clause::new(f, "last_ns", None, &[], vec![]))
}

pub(super) fn top_numbers(conn: &Connection, f: &Filter, limit: u32) -> Result<Vec<NumberAttempts>> {
    numbers_where(conn, Clause::new(f, "last_ns", None, &[], vec![]), limit)
}

/// One unified number, `None` when it was never dialled in the range.
pub(super) fn number(conn: &Connection, f: &Filter, number: &str) -> Result<Option<NumberAttempts>> {
    let clause = Clause::new(f, "last_ns", None, &["number = ?"], vec![Value::Text(number.to_owned())]);
    Ok(numbers_where(conn, clause, 1)?.into_iter().next())
}

fn numbers_where(conn: &Connection, clause: Clause, limit: u32) -> Result<Vec<NumberAttempts>> {
    // Each run's spellings are a JSON array; the runs' arrays come joined by newlines (JSON
    // text holds none) and are merged here.
    let sql = "SELECT number, max(country), max(country_inferred), max(number_type), sum(attempts) AS a, sum(invites),
                      max(variants), max(sources), group_concat(variant_samples, char(10) ORDER BY run_id)
               FROM numbers {where} GROUP BY number ORDER BY a DESC, number LIMIT ?";
    rows(conn, sql, &clause.then(limit), |r| {
        Ok(NumberAttempts {
            number: text(r, 0)?,
            country: opt_text(r, 1)?,
            country_inferred: r.get(2)?,
            number_type: text(r, 3)?,
            attempts: r.get(4)?,
            invites: r.get(5)?,
            variants: r.get(6)?,
            sources: r.get(7)?,
            variant_samples: merge_samples(opt_text(r, 8)?.as_deref().unwrap_or_default()),
        })
    })
}

/// The distinct spellings of newline-separated JSON arrays, in order of first appearance; what
/// does not parse is skipped.
fn merge_samples(arrays: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for spelling in arrays.lines().filter_map(|a| serde_json::from_str::<Vec<String>>(a).ok()).flatten() {
        if !out.contains(&spelling) {
            out.push(spelling);
        }
    }
    out
}

pub(super) fn number_countries(conn: &Connection, f: &Filter) -> Result<Vec<CountryAttempts>> {
    let sql = "SELECT country, count(DISTINCT number), sum(attempts) AS a, sum(invites) FROM numbers {where}
               GROUP BY country ORDER BY a DESC, country";
    rows(conn, sql, &Clause::new(f, "last_ns", None, &[], vec![]), |r| {
        Ok(CountryAttempts { country: opt_text(r, 0)?, numbers: r.get(1)?, attempts: r.get(2)?, invites: r.get(3)? })
    })
}

pub(super) fn top_passwords(conn: &Connection, f: &Filter, limit: u32) -> Result<Vec<PasswordAttempts>> {
    let sql =
        "SELECT password, count(*) AS n, count(DISTINCT username), count(DISTINCT src_ip), sum(outcome = 'accepted')
               FROM auth_attempts {where} GROUP BY password ORDER BY n DESC, password LIMIT ?";
    let c = Clause::new(f, "ts_ns", Some("node"), &["password IS NOT NULL"], vec![]).then(limit);
    rows(conn, sql, &c, |r| {
        Ok(PasswordAttempts {
            password: text(r, 0)?,
            attempts: r.get(1)?,
            extensions: r.get(2)?,
            sources: r.get(3)?,
            accepted: r.get(4)?,
        })
    })
}

pub(super) fn top_extensions(conn: &Connection, f: &Filter, limit: u32) -> Result<Vec<ExtensionAttempts>> {
    let sql = "SELECT username, count(*) AS n, count(password), count(DISTINCT src_ip), sum(outcome = 'accepted')
               FROM auth_attempts {where} GROUP BY username ORDER BY n DESC, username LIMIT ?";
    // A call to an extension the PBX does not have (read from its log) is no authentication.
    let c = Clause::new(f, "ts_ns", Some("node"), &["outcome <> 'extension_not_found'"], vec![]).then(limit);
    rows(conn, sql, &c, |r| {
        Ok(ExtensionAttempts {
            extension: text(r, 0)?,
            attempts: r.get(1)?,
            passwords_recovered: r.get(2)?,
            sources: r.get(3)?,
            accepted: r.get(4)?,
        })
    })
}

pub(super) fn node_stages(conn: &Connection, f: &Filter) -> Result<Vec<NodeStages>> {
    // The stage names are bound: the `?`s of the select list come before the clause's.
    let sql = "SELECT node, count(DISTINCT src_ip),
                      count(DISTINCT CASE WHEN stage = ? THEN src_ip END),
                      count(DISTINCT CASE WHEN stage = ? THEN src_ip END),
                      count(DISTINCT CASE WHEN stage = ? THEN src_ip END),
                      count(DISTINCT CASE WHEN stage = ? AND detail LIKE '%\"succeeded\":1%' THEN src_ip END),
                      count(DISTINCT CASE WHEN stage = ? THEN src_ip END)
               FROM stages {where} GROUP BY node ORDER BY node";
    let names = [
        Stage::ServerScan,
        Stage::ExtensionScan,
        Stage::RegistrationHijacking,
        Stage::RegistrationHijacking,
        Stage::TollFraud,
    ]
    .map(|s| Value::Text(s.as_str().into()));
    let c = Clause::new(f, "first_ns", Some("node"), &["node <> ''"], names.into());
    rows(conn, sql, &c, |r| {
        Ok(NodeStages {
            node: text(r, 0)?,
            attackers: r.get(1)?,
            server_scan: r.get(2)?,
            extension_scan: r.get(3)?,
            registration_hijacking: r.get(4)?,
            hijack_succeeded: r.get(5)?,
            toll_fraud: r.get(6)?,
        })
    })
}

pub(super) fn stage_totals(conn: &Connection, f: &Filter) -> Result<Vec<StageTotals>> {
    let sql = "SELECT stage, count(DISTINCT src_ip), sum(count) FROM stages {where} GROUP BY stage ORDER BY stage";
    rows(conn, sql, &Clause::new(f, "first_ns", None, &["node = ''"], vec![]), |r| {
        Ok(StageTotals { stage: text(r, 0)?, sources: r.get(1)?, messages: r.get(2)? })
    })
}

pub(super) fn stage_sources(conn: &Connection, f: &Filter, stage: Stage) -> Result<i64> {
    // Per-node rows when nodes are named; the overall rows otherwise.
    let stage = vec![Value::Text(stage.as_str().into())];
    let c = if f.nodes.is_empty() {
        Clause::new(f, "first_ns", None, &["node = ''", "stage = ?"], stage)
    } else {
        Clause::new(f, "first_ns", Some("node"), &["node <> ''", "stage = ?"], stage)
    };
    count(conn, "SELECT count(DISTINCT src_ip) FROM stages {where}", &c)
}
