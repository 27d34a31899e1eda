//! Two deployments side by side (001's central sensor against the distributed nodes): the
//! overlap of their attacker sets and how many sources reached each stage in each.

use super::{title, Result};
use crate::reports::model::{Cell, Section, Table};
use crate::reports::query::Filter;
use crate::reports::Comparison;
use rusqlite::Connection;
use std::collections::BTreeSet;

const STAGES: [&str; 4] = ["server_scan", "extension_scan", "registration_hijacking", "toll_fraud"];

/// Attackers (sources of requests) and sources per stage, in `conn`, for `nodes` (all when
/// empty).
fn side(conn: &Connection, f: &Filter, nodes: &[String]) -> Result<(BTreeSet<String>, Vec<i64>)> {
    let scoped = Filter { nodes: nodes.to_vec(), ..f.clone() };
    let c = scoped.hour_clause(&[super::traffic::REQUESTS]);
    let mut stmt = conn.prepare(&format!("SELECT DISTINCT src_ip FROM traffic {}", c.sql))?;
    let attackers =
        stmt.query_map(rusqlite::params_from_iter(c.params.iter()), |r| r.get(0))?.collect::<Result<_>>()?;
    let mut per_stage = Vec::new();
    for stage in STAGES {
        // Per-node rows when nodes are named; the overall rows otherwise.
        let node_cond = if nodes.is_empty() { "node = ''" } else { "node <> ''" };
        let cond = format!("stage = '{stage}'");
        let c = scoped.clause("first_ns", (!nodes.is_empty()).then_some("node"), &[node_cond, &cond]);
        let n: i64 = conn.query_row(
            &format!("SELECT count(DISTINCT src_ip) FROM stages {}", c.sql),
            rusqlite::params_from_iter(c.params.iter()),
            |r| r.get(0),
        )?;
        per_stage.push(n);
    }
    Ok((attackers, per_stage))
}

pub fn compare(conn: &Connection, f: &Filter, comparison: Option<&Comparison>) -> Result<Section> {
    let mut s = Section::new("compare", title("compare"));
    let Some(comparison) = comparison else {
        s.notes.push("Nothing to compare: give --group NAME=nodes twice, or --compare-db PATH.".into());
        return Ok(s);
    };
    let ((a_name, (a, a_stages)), (b_name, (b, b_stages))) = match comparison {
        Comparison::Groups((an, anodes), (bn, bnodes)) => {
            ((an.clone(), side(conn, f, anodes)?), (bn.clone(), side(conn, f, bnodes)?))
        }
        Comparison::Store(name, other) => {
            (("this store".into(), side(conn, f, &[])?), (name.clone(), side(other, f, &[])?))
        }
    };
    let mut t = Table::new("compare_attackers", "Attackers", &["measure", a_name.as_str(), b_name.as_str()]);
    let both = a.intersection(&b).count() as i64;
    t.push(vec!["attackers".into(), Cell::Int(a.len() as i64), Cell::Int(b.len() as i64)]);
    t.push(vec!["seen by both".into(), Cell::Int(both), Cell::Int(both)]);
    t.push(vec!["seen only here".into(), Cell::Int(a.len() as i64 - both), Cell::Int(b.len() as i64 - both)]);
    s.tables.push(t);
    let mut t = Table::new("compare_stages", "Sources per attack stage", &["stage", a_name.as_str(), b_name.as_str()]);
    for (i, stage) in STAGES.iter().enumerate() {
        t.push(vec![(*stage).into(), Cell::Int(a_stages[i]), Cell::Int(b_stages[i])]);
    }
    s.tables.push(t);
    Ok(s)
}
