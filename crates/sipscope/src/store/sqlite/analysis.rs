//! Reads of the analysis tables about what attackers did and were after: stages (per node
//! and overall), user-agent classes, and the honeypot's `auth_attempts` (the numbers dialled
//! are `numbers.rs`).

use super::clause::Clause;
use super::merge::{integer_of, lossy, text_of};
use super::{count, rows, text, Result};
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
    match merged_stage_totals(conn, f)? {
        Some(merged) => Ok(merged),
        None => stage_totals_in_sqlite(conn, f),
    }
}

/// `stage_totals` as SQLite answers it.
pub(super) fn stage_totals_in_sqlite(conn: &Connection, f: &Filter) -> Result<Vec<StageTotals>> {
    let sql = "SELECT stage, count(DISTINCT src_ip), sum(count) FROM stages {where} GROUP BY stage ORDER BY stage";
    rows(conn, sql, &Clause::new(f, "first_ns", None, &["node = ''"], vec![]), |r| {
        Ok(StageTotals { stage: text(r, 0)?, sources: r.get(1)?, messages: r.get(2)? })
    })
}

/// `stage_totals` from one pass over the covering index `stages_node` in stage and source
/// order: a stage's rows are neighbours, and so are a source's within it, so its distinct
/// sources are counted where the source changes (the SQL's `count(DISTINCT src_ip)` went
/// through a temporary B-tree per stage: 360 M instructions over 131,250 rows). The time
/// condition is written `+first_ns` so that the index is read in its order. `None` when SQLite
/// must answer (`merge.rs`).
pub(super) fn merged_stage_totals(conn: &Connection, f: &Filter) -> Result<Option<Vec<StageTotals>>> {
    let c = Clause::new(f, "+first_ns", None, &["node = ''"], vec![]);
    let mut stmt = conn.prepare(&c.within("SELECT stage, src_ip, count FROM stages {where} ORDER BY stage, src_ip"))?;
    let mut found = stmt.query(rusqlite::params_from_iter(c.params.iter()))?;
    let mut out: Vec<StageTotals> = Vec::new();
    let (mut stage, mut source): (Vec<u8>, Vec<u8>) = (Vec::new(), Vec::new());
    while let Some(r) = found.next()? {
        let (Some(now_stage), Some(now_source), Some(count)) =
            (text_of(r.get_ref(0)?), text_of(r.get_ref(1)?), integer_of(r.get_ref(2)?))
        else {
            return Ok(None);
        };
        let new_stage = out.is_empty() || now_stage != stage.as_slice();
        if new_stage {
            out.push(StageTotals { stage: lossy(now_stage), sources: 0, messages: 0 });
            stage.clear();
            stage.extend_from_slice(now_stage);
        }
        let Some(totals) = out.last_mut() else { return Ok(None) };
        let Some(messages) = totals.messages.checked_add(count) else { return Ok(None) };
        totals.messages = messages;
        if new_stage || now_source != source.as_slice() {
            totals.sources += 1;
            source.clear();
            source.extend_from_slice(now_source);
        }
    }
    Ok(Some(out))
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
