//! The in-memory report index: compact copies of the rows the costly report questions step
//! through (alerts, flows, overall stages, numbers, the hourly `rollup_*` tables,
//! `source_days`), loaded once through [`StoreReader::scan_tables`] and answered with plain
//! Rust over them, so that a report for a time range never built before does not step through
//! hundreds of thousands of rows in the backend again (docs/benchmarks.md, "The in-memory
//! report index"). [`Indexed`] puts the index in front of a reader: the questions it holds
//! are answered from it, every other one by the reader.
//!
//! The answers are exactly the reader's (ARCHITECTURE.md invariant): text compared as bytes
//! (SQLite's BINARY collation), ties broken and NULLs ordered as the SQL does. A table holding
//! a value the index cannot represent exactly (a type the writers never store), or a sum that
//! would overflow, leaves its questions to the reader: never an approximate answer. The index
//! is bounded ([`IndexLimits::max_rows`]); a store over it is not indexed.

mod alerts;
mod analysis;
mod flows;
mod load;
mod reader;
mod rollups;
mod texts;

#[cfg(test)]
mod tests;

use super::StoreReader;
use texts::Texts;

pub use reader::Indexed;

/// How large an index may grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexLimits {
    /// Rows over every indexed table. Default 5,000,000 (the 10 M-event benchmark store has
    /// about 1.6 M); over it the store is not indexed.
    pub max_rows: u64,
}

impl Default for IndexLimits {
    fn default() -> Self {
        IndexLimits { max_rows: 5_000_000 }
    }
}

/// A table's earliest and latest time (`None`: empty).
type Extent = (Option<i64>, Option<i64>);

/// The rows of the indexed tables, each family `None` when a row could not be represented
/// exactly (its questions go to the reader).
#[derive(Debug, Default)]
pub struct ReportIndex {
    texts: Texts,
    alerts: Option<Vec<alerts::AlertRow>>,
    /// The alerts' places in `alerts`, in the order of their first match, group and id.
    alerts_by_first: Option<Vec<u32>>,
    flows: Option<Vec<flows::FlowRow>>,
    stages: Option<Vec<analysis::StageRow>>,
    numbers: Option<Vec<analysis::NumberRow>>,
    source_days: Option<Vec<analysis::SourceDayRow>>,
    sources: Option<Vec<rollups::SourceRow>>,
    agents: Option<Vec<rollups::AgentRow>>,
    users: Option<Vec<rollups::UserRow>>,
    countries: Option<Vec<rollups::CountryRow>>,
    /// The time extent (`StoreReader::time_extent`) of each table the index read whole: flows
    /// (first to last time), stages (first times, every node), numbers (last times).
    extents: Vec<(super::scan::IndexTable, Extent)>,
    rows: u64,
    bytes: usize,
}

impl ReportIndex {
    /// Loads the index from `reader` in one snapshot. `Ok(None)` when the backend cannot hand
    /// its tables over or they hold more than `limits` allow. With the index, the reader's
    /// change mark read before the snapshot.
    pub fn load(reader: &dyn StoreReader, limits: IndexLimits) -> super::Result<Option<(ReportIndex, i64)>> {
        load::load(reader, limits)
    }

    /// Rows held.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Bytes held, approximately (rows, texts and their tables).
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// The filter's nodes as text ids: `None` for every node; names the store never held match
/// nothing.
fn node_ids(texts: &Texts, f: &super::Filter) -> Option<Vec<u32>> {
    if f.nodes.is_empty() {
        return None;
    }
    Some(f.nodes.iter().filter_map(|n| texts.id(n.as_bytes())).collect())
}

/// Whether `node` is one of `nodes` (every node when `None`).
fn node_in(nodes: &Option<Vec<u32>>, node: Option<u32>) -> bool {
    match nodes {
        None => true,
        Some(ids) => node.is_some_and(|n| ids.contains(&n)),
    }
}

/// Whether `t` is in the filter's range.
fn in_range(f: &super::Filter, t: i64) -> bool {
    f.from_ns.is_none_or(|from| t >= from) && f.to_ns.is_none_or(|to| t < to)
}
