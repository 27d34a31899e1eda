//! Flow questions from the index: the reader's tools, fingerprints, years, strategies, packets
//! per source and tool, and the widest flow (`store/sqlite/flows.rs`), over the flows kept in
//! memory.

use super::{in_range, ReportIndex};
use crate::store::rows::*;
use crate::store::Filter;
use ahash::{AHashMap, AHashSet};

/// A flow, as the index keeps it.
#[derive(Debug, Clone, Copy)]
pub(super) struct FlowRow {
    pub src: u32,
    pub first_ns: i64,
    pub last_ns: i64,
    pub packets: i64,
    pub destinations: i64,
    pub fingerprint: Option<u32>,
    pub tool: Option<u32>,
    pub variant: Option<u32>,
    pub verdict: u32,
    pub strategy: u32,
    /// Packets per second, when a finite number.
    pub rate: Option<f64>,
}

/// Flows merged per key: how many, their packets and destinations, their distinct sources,
/// their earliest first time.
#[derive(Default)]
struct Merge {
    flows: i64,
    packets: i64,
    destinations: i64,
    first_ns: Option<i64>,
    sources: AHashSet<u32>,
}

impl Merge {
    /// Adds a flow; `None` when a sum overflows.
    fn add(&mut self, flow: &FlowRow) -> Option<()> {
        self.packets = self.packets.checked_add(flow.packets)?;
        self.destinations = self.destinations.checked_add(flow.destinations)?;
        self.flows += 1;
        self.first_ns = Some(self.first_ns.map_or(flow.first_ns, |f| f.min(flow.first_ns)));
        self.sources.insert(flow.src);
        Some(())
    }
}

/// A source and a tool (none: NULL).
type SourceTool = (u32, Option<u32>);

/// Sums of integers below this are exact as doubles, so their mean is SQLite's `avg`.
const EXACT_IN_DOUBLE: i64 = 1 << 53;

impl ReportIndex {
    /// The flows in the filter's range (by their first time).
    fn flows_in<'a>(&'a self, f: &'a Filter) -> Option<impl Iterator<Item = &'a FlowRow> + 'a> {
        Some(self.flows.as_ref()?.iter().filter(move |r| in_range(f, r.first_ns)))
    }

    /// Merges `flows` per `key`; `None` when a sum overflows.
    fn merge_flows<'a, K: std::hash::Hash + Eq>(
        flows: impl Iterator<Item = &'a FlowRow>,
        key: impl Fn(&FlowRow) -> K,
    ) -> Option<Vec<(K, Merge)>> {
        let mut merged: AHashMap<K, Merge> = AHashMap::new();
        for flow in flows {
            merged.entry(key(flow)).or_default().add(flow)?;
        }
        Some(merged.into_iter().collect())
    }

    pub(super) fn tool_flows(&self, f: &Filter) -> Option<Vec<ToolFlows>> {
        let t = &self.texts;
        // The usual strategy of each tool and variant (none read as ''), over every flow: the
        // most flows, then the first strategy by name.
        let empty = t.id(b"");
        let mut strategies: AHashMap<(Option<u32>, Option<u32>), AHashMap<u32, i64>> = AHashMap::new();
        for flow in self.flows.as_ref()? {
            if t.bytes(flow.strategy) != b"undecided" {
                let key = (flow.tool.or(empty), flow.variant.or(empty));
                *strategies.entry(key).or_default().entry(flow.strategy).or_default() += 1;
            }
        }
        let usual = |tool: Option<u32>, variant: Option<u32>| {
            let counts = strategies.get(&(tool.or(empty), variant.or(empty)))?;
            let best = counts.iter().min_by(|a, b| b.1.cmp(a.1).then_with(|| t.cmp(*a.0, *b.0)))?;
            Some(t.lossy(*best.0))
        };
        let mut all = Self::merge_flows(self.flows_in(f)?, |r| (r.tool, r.variant, r.verdict))?;
        // The SQL's order: packets, most first, then tool, variant (none first) and verdict.
        all.sort_unstable_by(|a, b| {
            b.1.packets
                .cmp(&a.1.packets)
                .then_with(|| t.cmp_opt(a.0 .0, b.0 .0))
                .then_with(|| t.cmp_opt(a.0 .1, b.0 .1))
                .then_with(|| t.cmp(a.0 .2, b.0 .2))
        });
        Some(
            all.into_iter()
                .map(|((tool, variant, verdict), m)| ToolFlows {
                    strategy: usual(tool, variant),
                    tool: tool.map(|x| t.lossy(x)),
                    variant: variant.map(|x| t.lossy(x)),
                    verdict: t.lossy(verdict),
                    first_ns: m.first_ns.unwrap_or_default(),
                    packets: m.packets,
                    sources: m.sources.len() as i64,
                    flows: m.flows,
                })
                .collect(),
        )
    }

    pub(super) fn custom_fingerprints(&self, f: &Filter, limit: u32) -> Option<Vec<FingerprintFlows>> {
        let t = &self.texts;
        let custom = self.flows_in(f)?.filter(|r| t.bytes(r.verdict) == b"custom");
        let all = Self::merge_flows(custom, |r| r.fingerprint)?;
        let order = |a: &(Option<u32>, Merge), b: &(Option<u32>, Merge)| {
            b.1.packets.cmp(&a.1.packets).then_with(|| t.cmp_opt(a.0, b.0))
        };
        let all = crate::store::rank::first_in_order(all, limit, order);
        Some(
            all.into_iter()
                .map(|(fingerprint, m)| FingerprintFlows {
                    fingerprint: fingerprint.map(|x| t.lossy(x)),
                    flows: m.flows,
                    packets: m.packets,
                    sources: m.sources.len() as i64,
                })
                .collect(),
        )
    }

    /// `tools_by_year`; a flow before 1970 (where SQLite's division rounds towards zero)
    /// leaves it to the reader.
    pub(super) fn tools_by_year(&self, f: &Filter) -> Option<Vec<ToolYear>> {
        let t = &self.texts;
        if self.flows_in(f)?.any(|r| r.first_ns < 0) {
            return None;
        }
        let year = |ns: i64| crate::time::civil_from_days(crate::time::day_of(ns)).0;
        let mut all = Self::merge_flows(self.flows_in(f)?, |r| (year(r.first_ns), r.tool))?;
        // The SQL's order: year, then packets (most first), then tool (none first).
        all.sort_unstable_by(|a, b| {
            a.0 .0.cmp(&b.0 .0).then_with(|| b.1.packets.cmp(&a.1.packets)).then_with(|| t.cmp_opt(a.0 .1, b.0 .1))
        });
        Some(
            all.into_iter()
                .map(|((year, tool), m)| ToolYear {
                    year: Some(year),
                    tool: tool.map(|x| t.lossy(x)),
                    sources: m.sources.len() as i64,
                    packets: m.packets,
                })
                .collect(),
        )
    }

    pub(super) fn strategy_flows(&self, f: &Filter) -> Option<Vec<StrategyFlows>> {
        let t = &self.texts;
        let mut all = Self::merge_flows(self.flows_in(f)?, |r| r.strategy)?;
        if all.iter().any(|(_, m)| !(-EXACT_IN_DOUBLE..EXACT_IN_DOUBLE).contains(&m.destinations)) {
            return None;
        }
        all.sort_unstable_by(|a, b| b.1.flows.cmp(&a.1.flows).then_with(|| t.cmp(a.0, b.0)));
        Some(
            all.into_iter()
                .map(|(strategy, m)| StrategyFlows {
                    strategy: t.lossy(strategy),
                    flows: m.flows,
                    sources: m.sources.len() as i64,
                    packets: m.packets,
                    mean_destinations: m.destinations as f64 / m.flows as f64,
                })
                .collect(),
        )
    }

    /// `source_tool_packets`: the flows are kept by source then tool (bytes, none first), so
    /// each source and tool is one run of them, in the SQL's order.
    pub(super) fn source_tool_packets(&self, f: &Filter) -> Option<Vec<SourceToolPackets>> {
        let t = &self.texts;
        let mut out: Vec<SourceToolPackets> = Vec::new();
        let mut last: Option<SourceTool> = None;
        for r in self.flows_in(f)? {
            if last != Some((r.src, r.tool)) {
                out.push(SourceToolPackets { source: t.lossy(r.src), tool: r.tool.map(|x| t.lossy(x)), packets: 0 });
                last = Some((r.src, r.tool));
            }
            let row = out.last_mut()?;
            row.packets = row.packets.checked_add(r.packets)?;
        }
        Some(out)
    }

    /// `widest_flow` over every source: the most destinations, then the source, then the
    /// first time; `None` (the reader answers) when two flows tie on all three.
    pub(super) fn widest_flow(&self, f: &Filter) -> Option<Option<FlowWindow>> {
        let t = &self.texts;
        let order = |a: &&FlowRow, b: &&FlowRow| {
            b.destinations.cmp(&a.destinations).then_with(|| t.cmp(a.src, b.src)).then(a.first_ns.cmp(&b.first_ns))
        };
        let mut best: Option<&FlowRow> = None;
        let mut tied = false;
        for r in self.flows_in(f)? {
            match best.map(|b| order(&r, &b)) {
                None | Some(std::cmp::Ordering::Less) => (best, tied) = (Some(r), false),
                Some(std::cmp::Ordering::Equal) => tied = tied || r.last_ns != best.map_or(r.last_ns, |b| b.last_ns),
                Some(std::cmp::Ordering::Greater) => {}
            }
        }
        if tied {
            return None;
        }
        Some(best.map(|r| FlowWindow { source: t.lossy(r.src), first_ns: r.first_ns, last_ns: r.last_ns }))
    }

    /// `source_tool_activity`: flows per source and tool whose first time is in
    /// `[from_ns, to_ns)`, by source then tool. Only when no source and tool has more than two
    /// flows there: SQLite sums the rates (floating point) in an order of its own, and a sum of
    /// one or two numbers is the same in any order (then `sqlite_sum` is SQLite's sum); `None`
    /// otherwise, or when a rate is not a finite number or a sum of packets overflows.
    pub(super) fn source_tool_activity(&self, from_ns: i64, to_ns: i64) -> Option<Vec<SourceToolActivity>> {
        let t = &self.texts;
        let mut out: Vec<(SourceToolActivity, [f64; 2])> = Vec::new();
        let mut last: Option<SourceTool> = None;
        // Kept by source then tool: each source and tool is one run of flows, in the SQL's order.
        for r in self.flows.as_ref()?.iter().filter(|r| r.first_ns >= from_ns && r.first_ns < to_ns) {
            if last != Some((r.src, r.tool)) {
                let row = SourceToolActivity {
                    source: t.lossy(r.src),
                    tool: r.tool.map(|x| t.lossy(x)),
                    packets: 0,
                    packets_per_second_sum: 0.0,
                    flows: 0,
                };
                out.push((row, [0.0; 2]));
                last = Some((r.src, r.tool));
            }
            let (row, rates) = out.last_mut()?;
            row.packets = row.packets.checked_add(r.packets)?;
            *rates.get_mut(usize::try_from(row.flows).ok()?)? = r.rate?;
            row.flows += 1;
        }
        Some(
            out.into_iter()
                .map(|(mut row, rates)| {
                    row.packets_per_second_sum = sqlite_sum(rates.get(..row.flows as usize).unwrap_or_default());
                    row
                })
                .collect(),
        )
    }
}

/// SQLite's `sum()` of floating-point values in this order (Kahan-Babuska-Neumaier from 0.0,
/// the error added at the end), which for one or two values is their correctly rounded sum.
fn sqlite_sum(values: &[f64]) -> f64 {
    let (mut sum, mut error) = (0.0f64, 0.0f64);
    for &r in values {
        let t = sum + r;
        error += if sum.abs() > r.abs() { (sum - t) + r } else { (r - t) + sum };
        sum = t;
    }
    if error.is_finite() {
        sum + error
    } else {
        sum
    }
}
