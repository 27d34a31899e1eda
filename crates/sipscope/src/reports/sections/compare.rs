//! Two deployments side by side (001's central sensor against the distributed nodes): the
//! overlap of their attacker sets and how many sources reached each stage in each.

use super::{title, Result};
use crate::analysis::stages::Stage;
use crate::reports::model::{Cell, Section, Table};
use crate::reports::Comparison;
use crate::store::{Filter, StoreReader};
use std::collections::BTreeSet;

/// Attackers (sources of requests) and sources per stage (in [`Stage::ALL`] order), in
/// `store`, for `nodes` (all when empty).
fn side(store: &dyn StoreReader, f: &Filter, nodes: &[String]) -> Result<(BTreeSet<String>, Vec<i64>)> {
    let scoped = f.with_nodes(nodes);
    let attackers = store.request_sources(&scoped)?.into_iter().collect();
    let per_stage = Stage::ALL.iter().map(|&stage| store.stage_sources(&scoped, stage)).collect::<Result<_>>()?;
    Ok((attackers, per_stage))
}

pub fn compare(store: &dyn StoreReader, f: &Filter, comparison: Option<&Comparison>) -> Result<Section> {
    let mut s = Section::new("compare", title("compare"));
    let Some(comparison) = comparison else {
        s.notes.push("Nothing to compare: give --group NAME=nodes twice, or --compare-db PATH.".into());
        return Ok(s);
    };
    let ((a_name, (a, a_stages)), (b_name, (b, b_stages))) = match comparison {
        Comparison::Groups((an, anodes), (bn, bnodes)) => {
            ((an.clone(), side(store, f, anodes)?), (bn.clone(), side(store, f, bnodes)?))
        }
        Comparison::Store(name, other) => {
            (("this store".into(), side(store, f, &[])?), (name.clone(), side(other.as_ref(), f, &[])?))
        }
    };
    let mut t = Table::new("compare_attackers", "Attackers", &["measure", a_name.as_str(), b_name.as_str()]);
    let both = a.intersection(&b).count() as i64;
    t.push(vec!["attackers".into(), Cell::Int(a.len() as i64), Cell::Int(b.len() as i64)]);
    t.push(vec!["seen by both".into(), Cell::Int(both), Cell::Int(both)]);
    t.push(vec!["seen only here".into(), Cell::Int(a.len() as i64 - both), Cell::Int(b.len() as i64 - both)]);
    s.tables.push(t);
    let mut t = Table::new("compare_stages", "Sources per attack stage", &["stage", a_name.as_str(), b_name.as_str()]);
    for ((stage, a), b) in Stage::ALL.iter().zip(a_stages).zip(b_stages) {
        t.push(vec![stage.as_str().into(), Cell::Int(a), Cell::Int(b)]);
    }
    s.tables.push(t);
    Ok(s)
}
