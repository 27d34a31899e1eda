//! Loading the index: every indexed table in one pass and one snapshot
//! ([`StoreReader::scan_tables`]), each row checked against the types the writers store and
//! turned into a compact row of numbers and interned texts. A row of another shape gives its
//! whole table up (`None`: its questions go to the reader).

use super::alerts::AlertRow;
use super::analysis::{NumberRow, SourceDayRow, StageRow};
use super::flows::FlowRow;
use super::rollups::{AgentRow, CountryRow, SourceRow, UserRow};
use super::{IndexLimits, ReportIndex};
use crate::store::scan::{Cell, IndexTable, Scan};
use crate::store::{Result, StoreReader};

/// An integer cell.
fn int(c: &Cell<'_>) -> Option<i64> {
    match c {
        Cell::Integer(i) => Some(*i),
        _ => None,
    }
}

/// A text cell's bytes.
fn text<'a>(c: &Cell<'a>) -> Option<&'a [u8]> {
    match c {
        Cell::Text(t) => Some(t),
        _ => None,
    }
}

/// A cell's text, or "" for anything else (as `each_dialled_country` hands out what is not
/// text; text that is not UTF-8 becomes "" when visited).
fn text_or_empty<'a>(c: &Cell<'a>) -> &'a [u8] {
    text(c).unwrap_or_default()
}

/// A text or NULL cell (`Some(None)` for NULL).
fn opt_text<'a>(c: &Cell<'a>) -> Option<Option<&'a [u8]>> {
    match c {
        Cell::Null => Some(None),
        Cell::Text(t) => Some(Some(t)),
        _ => None,
    }
}

pub(super) fn load(reader: &dyn StoreReader, limits: IndexLimits) -> Result<Option<(ReportIndex, i64)>> {
    let mut ix = ReportIndex {
        alerts: Some(Vec::new()),
        flows: Some(Vec::new()),
        stages: Some(Vec::new()),
        numbers: Some(Vec::new()),
        source_days: Some(Vec::new()),
        sources: Some(Vec::new()),
        agents: Some(Vec::new()),
        users: Some(Vec::new()),
        countries: Some(Vec::new()),
        ..ReportIndex::default()
    };
    let mut rows: u64 = 0;
    let mut extents = Extents::default();
    let mark = reader.scan_tables(&IndexTable::ALL, &mut |table, cells| {
        rows += 1;
        if rows > limits.max_rows {
            return Scan::Stop;
        }
        if add(&mut ix, table, cells).is_none() {
            give_up(&mut ix, table);
        }
        extents.widen(table, cells);
        Scan::More
    })?;
    let Some(mark) = mark else { return Ok(None) };
    ix.rows = rows;
    // Only the extents of tables whose every row the index holds.
    ix.extents = [
        (IndexTable::Flows, extents.flows, ix.flows.is_some()),
        (IndexTable::Stages, extents.stages, ix.stages.is_some()),
        (IndexTable::Numbers, extents.numbers, ix.numbers.is_some()),
    ]
    .into_iter()
    .filter(|(_, _, held)| *held)
    .map(|(table, extent, _)| (table, extent))
    .collect();
    finish(&mut ix);
    Ok(Some((ix, mark)))
}

/// The earliest and latest times of the tables whose extents the index keeps, by the columns
/// `store/sqlite/extent.rs` reads.
#[derive(Default)]
struct Extents {
    flows: super::Extent,
    stages: super::Extent,
    numbers: super::Extent,
}

impl Extents {
    fn widen(&mut self, table: IndexTable, c: &[Cell<'_>]) {
        let (extent, first, last) = match (table, c) {
            (IndexTable::Flows, [_, first, last, ..]) => (&mut self.flows, first, last),
            (IndexTable::Stages, [_, _, _, first, ..]) => (&mut self.stages, first, first),
            (IndexTable::Numbers, [_, last, ..]) => (&mut self.numbers, last, last),
            _ => return,
        };
        if let (Some(first), Some(last)) = (int(first), int(last)) {
            extent.0 = Some(extent.0.map_or(first, |e| e.min(first)));
            extent.1 = Some(extent.1.map_or(last, |e| e.max(last)));
        }
    }
}

/// Drops `table`'s family: its questions go to the reader.
fn give_up(ix: &mut ReportIndex, table: IndexTable) {
    match table {
        IndexTable::Alerts => ix.alerts = None,
        IndexTable::Flows => ix.flows = None,
        IndexTable::Stages => ix.stages = None,
        IndexTable::Numbers => ix.numbers = None,
        IndexTable::RollupSources => ix.sources = None,
        IndexTable::RollupAgents => ix.agents = None,
        IndexTable::RollupUsers => ix.users = None,
        IndexTable::RollupCountries => ix.countries = None,
        IndexTable::SourceDays => ix.source_days = None,
    }
}

/// Adds one row to its family (nothing when the family was given up); `None` when the row
/// cannot be represented exactly.
fn add(ix: &mut ReportIndex, table: IndexTable, c: &[Cell<'_>]) -> Option<()> {
    let t = &mut ix.texts;
    match table {
        IndexTable::Alerts => {
            let Some(rows) = ix.alerts.as_mut() else { return Some(()) };
            let [id, rule, src, proven, first, last, count, name, severity, actions, node, group] = c else {
                return None;
            };
            rows.push(AlertRow {
                id: int(id)?,
                rule: t.intern(text(rule)?)?,
                src: opt_text(src)?.map(|s| t.intern(s)).map_or(Some(None), |s| s.map(Some))?,
                proven: int(proven)?,
                first_ns: int(first)?,
                last_ns: int(last)?,
                count: int(count)?,
                name: t.intern(text(name)?)?,
                severity: t.intern(text(severity)?)?,
                actions: t.intern(text(actions)?)?,
                node: opt_text(node)?.map(|s| t.intern(s)).map_or(Some(None), |s| s.map(Some))?,
                group_key: t.intern(text(group)?)?,
            });
        }
        IndexTable::Flows => {
            let Some(rows) = ix.flows.as_mut() else { return Some(()) };
            let [src, first, last, packets, destinations, fingerprint, tool, variant, verdict, strategy, rate] = c
            else {
                return None;
            };
            let mut opt = |c: &Cell<'_>| opt_text(c).map(|o| o.map(|s| t.intern(s)));
            let (fingerprint, tool, variant) = (opt(fingerprint)?, opt(tool)?, opt(variant)?);
            rows.push(FlowRow {
                src: t.intern(text(src)?)?,
                first_ns: int(first)?,
                last_ns: int(last)?,
                packets: int(packets)?,
                destinations: int(destinations)?,
                fingerprint: fingerprint.map_or(Some(None), |s| s.map(Some))?,
                tool: tool.map_or(Some(None), |s| s.map(Some))?,
                variant: variant.map_or(Some(None), |s| s.map(Some))?,
                verdict: t.intern(text(verdict)?)?,
                strategy: t.intern(text(strategy)?)?,
                // A rate that is no finite number leaves only `source_tool_activity` to the reader.
                rate: match rate {
                    Cell::Real(r) if r.is_finite() => Some(*r),
                    _ => None,
                },
            });
        }
        IndexTable::Stages => {
            let Some(rows) = ix.stages.as_mut() else { return Some(()) };
            let [src, node, stage, first, count] = c else { return None };
            // Only the overall rows (node '') are asked for without a node.
            if text(node)? == b"" {
                rows.push(StageRow {
                    src: t.intern(text(src)?)?,
                    stage: t.intern(text(stage)?)?,
                    first_ns: int(first)?,
                    count: int(count)?,
                });
            } else {
                let _ = (text(src)?, text(stage)?, int(first)?, int(count)?);
            }
        }
        IndexTable::Numbers => {
            let Some(rows) = ix.numbers.as_mut() else { return Some(()) };
            let [number, last, attempts, invites, country, inferred, kind, variants, sources, samples, run] = c else {
                return None;
            };
            let country = opt_text(country)?.map(|s| t.intern(s)).map_or(Some(None), |s| s.map(Some))?;
            rows.push(NumberRow {
                number: t.intern(text(number)?)?,
                last_ns: int(last)?,
                attempts: int(attempts)?,
                invites: int(invites)?,
                country,
                inferred: int(inferred)?,
                kind: t.intern(text(kind)?)?,
                variants: int(variants)?,
                sources: int(sources)?,
                samples: text(samples)?.into(),
                run: int(run)?,
            });
        }
        IndexTable::RollupSources => {
            let Some(rows) = ix.sources.as_mut() else { return Some(()) };
            let [hour, node, src, messages, first, last] = c else { return None };
            rows.push(SourceRow {
                hour: int(hour)?,
                node: t.intern(text(node)?)?,
                src: t.intern(text(src)?)?,
                messages: int(messages)?,
                first_ns: int(first)?,
                last_ns: int(last)?,
            });
        }
        IndexTable::RollupAgents => {
            let Some(rows) = ix.agents.as_mut() else { return Some(()) };
            let [hour, node, agent, src, messages] = c else { return None };
            let agent = opt_text(agent)?.map(|s| t.intern(s)).map_or(Some(None), |s| s.map(Some))?;
            rows.push(AgentRow {
                hour: int(hour)?,
                node: t.intern(text(node)?)?,
                agent,
                src: t.intern(text(src)?)?,
                messages: int(messages)?,
            });
        }
        IndexTable::RollupUsers => {
            let Some(rows) = ix.users.as_mut() else { return Some(()) };
            let [hour, node, user] = c else { return None };
            rows.push(UserRow { hour: int(hour)?, node: t.intern(text(node)?)?, user: t.intern(text(user)?)? });
        }
        IndexTable::RollupCountries => {
            let Some(rows) = ix.countries.as_mut() else { return Some(()) };
            let [hour, node, src, country, invites] = c else { return None };
            rows.push(CountryRow {
                hour: int(hour)?,
                node: t.intern(text(node)?)?,
                src: t.intern(text_or_empty(src))?,
                country: t.intern(text_or_empty(country))?,
                invites: int(invites)?,
            });
        }
        IndexTable::SourceDays => {
            let Some(rows) = ix.source_days.as_mut() else { return Some(()) };
            let [src, day] = c else { return None };
            rows.push(SourceDayRow { src: t.intern(text(src)?)?, day: int(day)? });
        }
    }
    Some(())
}

/// Puts each family in the order its questions read it, and counts the bytes held.
fn finish(ix: &mut ReportIndex) {
    let t = &ix.texts;
    if let Some(rows) = ix.alerts.as_mut() {
        // A rule's alerts neighbours, and a source's within it (distinct sources counted
        // where the source changes).
        rows.sort_unstable_by_key(|a| (a.rule, a.src, a.id));
        let mut by_first: Vec<u32> = (0..rows.len()).filter_map(|i| u32::try_from(i).ok()).collect();
        by_first.sort_unstable_by(|&a, &b| {
            let key = |i: u32| rows.get(i as usize).map(|a| (a.first_ns, t.bytes(a.group_key), a.id));
            key(a).cmp(&key(b))
        });
        ix.alerts_by_first = (by_first.len() == rows.len()).then_some(by_first);
    }
    if let Some(rows) = ix.stages.as_mut() {
        rows.sort_unstable_by_key(|s| (s.stage, s.src));
    }
    if let Some(rows) = ix.flows.as_mut() {
        // By source then tool (bytes, none first): per source and tool in one pass, in order.
        rows.sort_by(|a, b| t.cmp(a.src, b.src).then_with(|| t.cmp_opt(a.tool, b.tool)));
    }
    if let Some(rows) = ix.source_days.as_mut() {
        rows.sort_unstable_by(|a, b| t.cmp(a.src, b.src).then(a.day.cmp(&b.day)));
        rows.dedup_by_key(|r| (r.src, r.day));
    }
    if let Some(rows) = ix.sources.as_mut() {
        rows.sort_unstable_by_key(|r| r.hour);
    }
    if let Some(rows) = ix.agents.as_mut() {
        rows.sort_unstable_by_key(|r| r.hour);
    }
    if let Some(rows) = ix.users.as_mut() {
        rows.sort_unstable_by_key(|r| (r.hour, r.user));
    }
    if let Some(rows) = ix.countries.as_mut() {
        rows.sort_unstable_by_key(|r| r.hour);
    }
    // Rows are only read from now on: no spare capacity.
    fn shrink<T>(rows: &mut Option<Vec<T>>) {
        if let Some(rows) = rows.as_mut() {
            rows.shrink_to_fit();
        }
    }
    shrink(&mut ix.alerts);
    shrink(&mut ix.alerts_by_first);
    shrink(&mut ix.flows);
    shrink(&mut ix.stages);
    shrink(&mut ix.numbers);
    shrink(&mut ix.source_days);
    shrink(&mut ix.sources);
    shrink(&mut ix.agents);
    shrink(&mut ix.users);
    shrink(&mut ix.countries);
    fn held<T>(rows: &Option<Vec<T>>) -> usize {
        rows.as_ref().map_or(0, |r| r.capacity() * std::mem::size_of::<T>())
    }
    let samples: usize = ix.numbers.iter().flatten().map(|n| n.samples.len()).sum();
    ix.bytes = t.held()
        + samples
        + held(&ix.alerts)
        + held(&ix.alerts_by_first)
        + held(&ix.flows)
        + held(&ix.stages)
        + held(&ix.numbers)
        + held(&ix.source_days)
        + held(&ix.sources)
        + held(&ix.agents)
        + held(&ix.users)
        + held(&ix.countries);
}
