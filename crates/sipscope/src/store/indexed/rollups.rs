//! Questions over the hourly rollups from the index: the reader's `top_sources`,
//! `dialled_users` of every source, `top_user_agents` and `each_dialled_country`
//! (`store/sqlite/traffic.rs`), over the rows of the hours the filter touches
//! ([`Filter::hours`]) and its nodes. Rows are kept by hour, so a range reads only its hours.

use super::{node_ids, ReportIndex};
use crate::store::rows::*;
use crate::store::Filter;
use ahash::{AHashMap, AHashSet};

/// A `rollup_sources` row.
#[derive(Debug, Clone, Copy)]
pub(super) struct SourceRow {
    pub hour: i64,
    pub node: u32,
    pub src: u32,
    pub messages: i64,
    pub first_ns: i64,
    pub last_ns: i64,
}

/// A `rollup_agents` row.
#[derive(Debug, Clone, Copy)]
pub(super) struct AgentRow {
    pub hour: i64,
    pub node: u32,
    pub agent: Option<u32>,
    pub src: u32,
    pub messages: i64,
}

/// A `rollup_users` row.
#[derive(Debug, Clone, Copy)]
pub(super) struct UserRow {
    pub hour: i64,
    pub node: u32,
    pub user: u32,
}

/// A `rollup_countries` row (texts that are not UTF-8 kept as "", as the reader hands them).
#[derive(Debug, Clone, Copy)]
pub(super) struct CountryRow {
    pub hour: i64,
    pub node: u32,
    pub src: u32,
    pub country: u32,
    pub invites: i64,
}

/// One User-Agent's requests and distinct sources.
type AgentMerge = (i64, AHashSet<u32>);

/// Rows that have an hour and a node.
trait Hourly {
    fn hour(&self) -> i64;
    fn node(&self) -> u32;
}

macro_rules! hourly {
    ($($row:ty),*) => {$(
        impl Hourly for $row {
            fn hour(&self) -> i64 { self.hour }
            fn node(&self) -> u32 { self.node }
        }
    )*};
}
hourly!(SourceRow, AgentRow, UserRow, CountryRow);

impl ReportIndex {
    /// The rows (kept by hour) of the hours the filter touches, at its nodes.
    fn hours_of<'a, R: Hourly>(&self, rows: &'a [R], f: &Filter) -> impl Iterator<Item = &'a R> + 'a {
        let (from, to) = f.hours();
        let start = from.map_or(0, |h| rows.partition_point(|r| r.hour() < h));
        let end = to.map_or(rows.len(), |h| rows.partition_point(|r| r.hour() < h));
        let nodes = node_ids(&self.texts, f);
        rows.get(start..end.max(start))
            .unwrap_or_default()
            .iter()
            .filter(move |r| nodes.as_ref().is_none_or(|ids| ids.contains(&r.node())))
    }

    pub(super) fn top_sources(&self, f: &Filter, limit: u32) -> Option<Vec<SourceRequests>> {
        let t = &self.texts;
        let mut merged: AHashMap<u32, (i64, i64, i64)> = AHashMap::new();
        for r in self.hours_of(self.sources.as_ref()?, f) {
            let (n, first, last) = merged.entry(r.src).or_insert((0, r.first_ns, r.last_ns));
            (*n, *first, *last) = (n.checked_add(r.messages)?, (*first).min(r.first_ns), (*last).max(r.last_ns));
        }
        let ranked: Vec<(u32, (i64, i64, i64))> = merged.into_iter().collect();
        // The SQL's order: requests, most first, then the source.
        let order =
            |a: &(u32, (i64, i64, i64)), b: &(u32, (i64, i64, i64))| b.1 .0.cmp(&a.1 .0).then_with(|| t.cmp(a.0, b.0));
        let ranked = crate::store::rank::first_in_order(ranked, limit, order);
        Some(
            ranked
                .into_iter()
                .map(|(src, (requests, first_ns, last_ns))| SourceRequests {
                    source: t.lossy(src),
                    requests,
                    first_ns,
                    last_ns,
                })
                .collect(),
        )
    }

    /// `dialled_users` of every source.
    pub(super) fn dialled_users(&self, f: &Filter) -> Option<i64> {
        let users: AHashSet<u32> = self.hours_of(self.users.as_ref()?, f).map(|r| r.user).collect();
        Some(users.len() as i64)
    }

    pub(super) fn top_user_agents(&self, f: &Filter, limit: u32) -> Option<Vec<AgentRequests>> {
        let t = &self.texts;
        let mut merged: AHashMap<Option<u32>, AgentMerge> = AHashMap::new();
        for r in self.hours_of(self.agents.as_ref()?, f) {
            let (n, sources) = merged.entry(r.agent).or_default();
            *n = n.checked_add(r.messages)?;
            sources.insert(r.src);
        }
        // The SQL's order: requests, most first, then the User-Agent (none first).
        let order = |a: &(Option<u32>, AgentMerge), b: &(Option<u32>, AgentMerge)| {
            b.1 .0.cmp(&a.1 .0).then_with(|| t.cmp_opt(a.0, b.0))
        };
        let all = crate::store::rank::first_in_order(merged.into_iter().collect(), limit, order);
        Some(
            all.into_iter()
                .map(|(agent, (requests, sources))| AgentRequests {
                    user_agent: agent.map(|a| t.lossy(a)),
                    requests,
                    sources: sources.len() as i64,
                })
                .collect(),
        )
    }

    /// `each_dialled_country`, summed per source and country; `false` when not indexed (or a
    /// sum overflows: nothing visited then).
    pub(super) fn each_dialled_country(&self, f: &Filter, visit: &mut dyn FnMut(DialledCountry<'_>)) -> bool {
        let t = &self.texts;
        let Some(rows) = self.countries.as_ref() else { return false };
        let mut merged: AHashMap<(u32, u32), i64> = AHashMap::new();
        for r in self.hours_of(rows, f) {
            let sum = merged.entry((r.src, r.country)).or_default();
            match sum.checked_add(r.invites) {
                Some(n) => *sum = n,
                None => return false,
            }
        }
        let text = |id: u32| std::str::from_utf8(t.bytes(id)).unwrap_or_default();
        for ((src, country), invites) in merged {
            visit(DialledCountry { source: text(src), country: text(country), invites });
        }
        true
    }

    /// `request_sources`: every source of the filter's hours and nodes, by bytes.
    pub(super) fn request_sources(&self, f: &Filter) -> Option<Vec<String>> {
        let t = &self.texts;
        let mut all: Vec<u32> = self.hours_of(self.sources.as_ref()?, f).map(|r| r.src).collect();
        all.sort_unstable_by(|a, b| t.cmp(*a, *b));
        all.dedup();
        Some(all.into_iter().map(|src| t.lossy(src)).collect())
    }

    /// `source_nodes`: each (source, node) pair but node '', with its first time, by source
    /// then node.
    pub(super) fn source_nodes(&self, f: &Filter) -> Option<Vec<SourceNode>> {
        let t = &self.texts;
        let mut merged: AHashMap<(u32, u32), i64> = AHashMap::new();
        for r in self.hours_of(self.sources.as_ref()?, f).filter(|r| !t.bytes(r.node).is_empty()) {
            let first = merged.entry((r.src, r.node)).or_insert(r.first_ns);
            *first = (*first).min(r.first_ns);
        }
        let mut all: Vec<((u32, u32), i64)> = merged.into_iter().collect();
        all.sort_unstable_by(|a, b| t.cmp(a.0 .0, b.0 .0).then_with(|| t.cmp(a.0 .1, b.0 .1)));
        Some(
            all.into_iter()
                .map(|((src, node), first_ns)| SourceNode { source: t.lossy(src), node: t.lossy(node), first_ns })
                .collect(),
        )
    }
}
