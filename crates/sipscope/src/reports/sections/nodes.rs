//! Sections per node (001): stages per node, how many nodes attackers hit, shared attackers.

use super::{title, Result};
use crate::reports::model::{Cell, Chart, Section, Table};
use crate::store::{Filter, SourceNode, StoreReader};
use std::collections::{BTreeMap, BTreeSet};

pub fn stages(store: &dyn StoreReader, f: &Filter, nodes: Option<&crate::nodes::Nodes>) -> Result<Section> {
    let mut s = Section::new("stages", title("stages"));
    let mut t = Table::new(
        "stages",
        "Sources per attack stage and node",
        &[
            "node",
            "attackers",
            "server scan",
            "extension scan",
            "registration hijacking",
            "hijack succeeded",
            "toll fraud",
        ],
    );
    for r in store.node_stages(f)? {
        t.push(vec![
            r.node.into(),
            Cell::Int(r.attackers),
            Cell::Int(r.server_scan),
            Cell::Int(r.extension_scan),
            Cell::Int(r.registration_hijacking),
            Cell::Int(r.hijack_succeeded),
            Cell::Int(r.toll_fraud),
        ]);
    }
    if let Some(nodes) = nodes {
        // 001's table names each node's address and site: from the nodes file.
        t.columns.insert(1, "address".into());
        t.columns.insert(2, "site".into());
        for row in &mut t.rows {
            let node = match &row[0] {
                Cell::Text(name) => nodes.all().iter().find(|n| &n.name == name),
                _ => None,
            };
            let addresses = node.map(|n| n.addresses.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(" "));
            row.insert(1, addresses.filter(|a| !a.is_empty()).into());
            row.insert(2, node.and_then(|n| n.site.clone()).into());
        }
    }
    s.tables.push(t);
    let mut all =
        Table::new("stages_overall", "Sources per attack stage, all nodes", &["stage", "sources", "messages"]);
    for r in store.stage_totals(f)? {
        all.push(vec![r.stage.into(), Cell::Int(r.sources), Cell::Int(r.messages)]);
    }
    s.tables.push(all);
    Ok(s)
}

pub fn spread(store: &dyn StoreReader, f: &Filter) -> Result<Section> {
    let mut s = Section::new("spread", title("spread"));
    let mut per_source: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for SourceNode { source: src, first_ns: first, .. } in store.source_nodes(f)? {
        per_source.entry(src).or_default().push(first);
    }
    // nodes hit -> (attackers, seconds to cover them, summed)
    let mut hist: BTreeMap<usize, (i64, f64)> = BTreeMap::new();
    for firsts in per_source.values() {
        let span = (firsts.iter().max().unwrap_or(&0) - firsts.iter().min().unwrap_or(&0)) as f64 / 1e9;
        let e = hist.entry(firsts.len()).or_insert((0, 0.0));
        e.0 += 1;
        e.1 += span;
    }
    let mut t = Table::new(
        "spread",
        "Attackers by number of nodes hit",
        &["nodes hit", "attackers", "mean seconds to cover them"],
    );
    for (nodes, (attackers, secs)) in &hist {
        t.push(vec![Cell::Int(*nodes as i64), Cell::Int(*attackers), Cell::Float(secs / *attackers as f64)]);
    }
    s.charts.push(Chart::Bars {
        title: "Attackers by number of nodes hit".into(),
        labels: hist.keys().map(|n| n.to_string()).collect(),
        series: vec![("attackers".into(), hist.values().map(|(a, _)| *a as f64).collect())],
    });
    s.tables.push(t);
    Ok(s)
}

pub fn overlap(store: &dyn StoreReader, f: &Filter) -> Result<Section> {
    let mut s = Section::new("overlap", title("overlap"));
    let mut nodes_of: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut all_nodes = BTreeSet::new();
    for SourceNode { source: src, node, .. } in store.source_nodes(f)? {
        all_nodes.insert(node.clone());
        nodes_of.entry(src).or_default().insert(node);
    }
    let labels: Vec<String> = all_nodes.into_iter().collect();
    let index = |n: &str| labels.iter().position(|l| l == n).unwrap_or(0);
    let mut m = vec![vec![0f64; labels.len()]; labels.len()];
    for nodes in nodes_of.values() {
        let list: Vec<usize> = nodes.iter().map(|n| index(n)).collect();
        if list.len() == 1 {
            m[list[0]][list[0]] += 1.0;
            continue;
        }
        for &a in &list {
            for &b in &list {
                if a != b {
                    m[a][b] += 1.0;
                }
            }
        }
    }
    let mut cols = vec!["node"];
    cols.extend(labels.iter().map(String::as_str));
    let mut t = Table::new("overlap", "Attackers shared by two nodes (diagonal: seen only at that node)", &cols);
    for (i, l) in labels.iter().enumerate() {
        let mut row: Vec<Cell> = vec![l.clone().into()];
        row.extend(m[i].iter().map(|v| Cell::Int(*v as i64)));
        t.push(row);
    }
    s.charts.push(Chart::Matrix { title: "Shared attackers".into(), labels: labels.clone(), values: m });
    s.tables.push(t);
    Ok(s)
}
