//! Reads of the flow tables: tools and fingerprints (004 Table I), scan strategies, the widest
//! flow for the Hilbert picture, and what campaign clustering needs (`source_days`, flows per
//! source and tool), merged over every analysis run.

use super::clause::Clause;
use super::merge::{integer_of, lossy, nullable_text_of, text_of};
use super::{opt_text, rows, text, Result};
use crate::store::rows::*;
use crate::store::Filter;
use ahash::{AHashMap, AHashSet};
use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension};
use std::net::IpAddr;

pub(super) fn tool_flows(conn: &Connection, f: &Filter) -> Result<Vec<ToolFlows>> {
    match merged_tool_flows(conn, f)? {
        Some(merged) => Ok(merged),
        None => tool_flows_in_sqlite(conn, f),
    }
}

/// A tool, variant and verdict's flows in the range.
#[derive(Default)]
struct ToolMerge {
    first_ns: i64,
    packets: i64,
    flows: i64,
    sources: AHashSet<Box<[u8]>>,
}

/// A tool and variant (NULL read as ''), as the usual strategy is looked up.
type ToolKey = (Box<[u8]>, Box<[u8]>);

/// `tool_flows` from one pass over every flow, merged in hash maps: the usual strategy of each
/// tool and variant over all flows, and the range's flows per tool, variant and verdict (the
/// SQL's window, GROUP BY and `count(DISTINCT src_ip)` cost 680 M instructions over 43,750
/// flows); `None` when SQLite must answer (`merge.rs`).
pub(super) fn merged_tool_flows(conn: &Connection, f: &Filter) -> Result<Option<Vec<ToolFlows>>> {
    type GroupKey = (Option<Box<[u8]>>, Option<Box<[u8]>>, Box<[u8]>);
    let mut strategies: AHashMap<ToolKey, AHashMap<Box<[u8]>, i64>> = AHashMap::new();
    let mut groups: AHashMap<GroupKey, ToolMerge> = AHashMap::new();
    let in_range = |t: i64| f.from_ns.is_none_or(|from| t >= from) && f.to_ns.is_none_or(|to| t < to);
    let mut stmt =
        conn.prepare("SELECT tool, variant, tool_verdict, first_ns, packets, src_ip, strategy FROM flows")?;
    let mut found = stmt.query([])?;
    while let Some(r) = found.next()? {
        let (Some(tool), Some(variant), Some(verdict), Some(first_ns), Some(packets), Some(source), Some(strategy)) = (
            nullable_text_of(r.get_ref(0)?),
            nullable_text_of(r.get_ref(1)?),
            text_of(r.get_ref(2)?),
            integer_of(r.get_ref(3)?),
            integer_of(r.get_ref(4)?),
            text_of(r.get_ref(5)?),
            text_of(r.get_ref(6)?),
        ) else {
            return Ok(None);
        };
        if strategy != b"undecided" {
            let key: ToolKey = (tool.unwrap_or_default().into(), variant.unwrap_or_default().into());
            *strategies.entry(key).or_default().entry(strategy.into()).or_default() += 1;
        }
        if !in_range(first_ns) {
            continue;
        }
        let key: GroupKey = (tool.map(Into::into), variant.map(Into::into), verdict.into());
        let merged = groups.entry(key).or_insert_with(|| ToolMerge { first_ns, ..ToolMerge::default() });
        let Some(sum) = merged.packets.checked_add(packets) else { return Ok(None) };
        (merged.packets, merged.flows, merged.first_ns) = (sum, merged.flows + 1, merged.first_ns.min(first_ns));
        if !merged.sources.contains(source) {
            merged.sources.insert(source.into());
        }
    }
    // The usual strategy: the most flows, then the first strategy by name.
    let usual = |tool: &Option<Box<[u8]>>, variant: &Option<Box<[u8]>>| -> Option<String> {
        let key: ToolKey = (tool.clone().unwrap_or_default(), variant.clone().unwrap_or_default());
        let counts = strategies.get(&key)?;
        let best = counts.iter().min_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)))?;
        Some(lossy(best.0))
    };
    let mut all: Vec<(GroupKey, ToolMerge)> = groups.into_iter().collect();
    // The SQL's order: packets, most first, then tool, variant (none first) and verdict.
    all.sort_unstable_by(|a, b| b.1.packets.cmp(&a.1.packets).then_with(|| a.0.cmp(&b.0)));
    Ok(Some(
        all.into_iter()
            .map(|((tool, variant, verdict), m)| ToolFlows {
                strategy: usual(&tool, &variant),
                tool: tool.map(|t| lossy(&t)),
                variant: variant.map(|v| lossy(&v)),
                verdict: lossy(&verdict),
                first_ns: m.first_ns,
                packets: m.packets,
                sources: m.sources.len() as i64,
                flows: m.flows,
            })
            .collect(),
    ))
}

/// `tool_flows` as SQLite answers it.
pub(super) fn tool_flows_in_sqlite(conn: &Connection, f: &Filter) -> Result<Vec<ToolFlows>> {
    // Each tool and variant's most common decided strategy over all flows, found in one pass
    // (a subquery per group read every flow again for each), as PostgreSQL's reader does.
    let sql = "WITH usual AS MATERIALIZED (
                 SELECT t, v, strategy FROM (
                   SELECT coalesce(tool, '') AS t, coalesce(variant, '') AS v, strategy,
                          row_number() OVER (PARTITION BY coalesce(tool, ''), coalesce(variant, '')
                                             ORDER BY count(*) DESC, strategy) AS r
                   FROM flows WHERE strategy <> 'undecided' GROUP BY 1, 2, strategy)
                 WHERE r = 1)
               SELECT tool, variant, tool_verdict, min(first_ns), sum(packets), count(DISTINCT src_ip), count(*),
                      (SELECT strategy FROM usual WHERE t = coalesce(flows.tool, '') AND v = coalesce(flows.variant, ''))
               FROM flows {where} GROUP BY tool, variant, tool_verdict ORDER BY sum(packets) DESC, tool, variant, tool_verdict";
    rows(conn, sql, &Clause::new(f, "first_ns", None, &[], vec![]), |r| {
        Ok(ToolFlows {
            tool: opt_text(r, 0)?,
            variant: opt_text(r, 1)?,
            verdict: text(r, 2)?,
            first_ns: r.get(3)?,
            packets: r.get(4)?,
            sources: r.get(5)?,
            flows: r.get(6)?,
            strategy: opt_text(r, 7)?,
        })
    })
}

pub(super) fn custom_fingerprints(conn: &Connection, f: &Filter, limit: u32) -> Result<Vec<FingerprintFlows>> {
    match merged_fingerprints(conn, f, limit)? {
        Some(merged) => Ok(merged),
        None => custom_fingerprints_in_sqlite(conn, f, limit),
    }
}

/// Flows merged per key: how many, their packets, their distinct sources, their destinations.
#[derive(Default)]
struct FlowMerge {
    flows: i64,
    packets: i64,
    destinations: i64,
    sources: AHashSet<Box<[u8]>>,
}

impl FlowMerge {
    /// Adds a flow; `None` when a sum overflows.
    fn add(&mut self, packets: i64, destinations: i64, source: &[u8]) -> Option<()> {
        self.packets = self.packets.checked_add(packets)?;
        self.destinations = self.destinations.checked_add(destinations)?;
        self.flows += 1;
        if !self.sources.contains(source) {
            self.sources.insert(source.into());
        }
        Some(())
    }
}

/// Runs `sql` (the range's clause where `{where}` stands) and hands each row to `visit`,
/// which says `None` for a row SQLite must answer for: then `None`.
fn each_flow(
    conn: &Connection,
    sql: &str,
    c: &Clause,
    mut visit: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<Option<()>>,
) -> Result<Option<()>> {
    let mut stmt = conn.prepare(&c.within(sql))?;
    let mut found = stmt.query(rusqlite::params_from_iter(c.params.iter()))?;
    while let Some(r) = found.next()? {
        if visit(r)?.is_none() {
            return Ok(None);
        }
    }
    Ok(Some(()))
}

/// `custom_fingerprints` merged in a hash map (`merge.rs`).
pub(super) fn merged_fingerprints(conn: &Connection, f: &Filter, limit: u32) -> Result<Option<Vec<FingerprintFlows>>> {
    let mut merged: AHashMap<Option<Box<[u8]>>, FlowMerge> = AHashMap::new();
    let c = Clause::new(f, "first_ns", None, &["tool_verdict = 'custom'"], vec![]);
    let sql = "SELECT fingerprint, packets, src_ip FROM flows {where}";
    let done = each_flow(conn, sql, &c, |r| {
        let (Some(fingerprint), Some(packets), Some(source)) =
            (nullable_text_of(r.get_ref(0)?), integer_of(r.get_ref(1)?), text_of(r.get_ref(2)?))
        else {
            return Ok(None);
        };
        Ok(merged.entry(fingerprint.map(Into::into)).or_default().add(packets, 0, source))
    })?;
    if done.is_none() {
        return Ok(None);
    }
    let mut all: Vec<(Option<Box<[u8]>>, FlowMerge)> = merged.into_iter().collect();
    all.sort_unstable_by(|a, b| b.1.packets.cmp(&a.1.packets).then_with(|| a.0.cmp(&b.0)));
    all.truncate(limit as usize);
    Ok(Some(
        all.into_iter()
            .map(|(fingerprint, m)| FingerprintFlows {
                fingerprint: fingerprint.map(|p| lossy(&p)),
                flows: m.flows,
                packets: m.packets,
                sources: m.sources.len() as i64,
            })
            .collect(),
    ))
}

/// `custom_fingerprints` as SQLite answers it.
pub(super) fn custom_fingerprints_in_sqlite(
    conn: &Connection,
    f: &Filter,
    limit: u32,
) -> Result<Vec<FingerprintFlows>> {
    let sql = "SELECT fingerprint, count(*), sum(packets), count(DISTINCT src_ip) FROM flows {where}
               GROUP BY fingerprint ORDER BY sum(packets) DESC, fingerprint LIMIT ?";
    let c = Clause::new(f, "first_ns", None, &["tool_verdict = 'custom'"], vec![]).then(limit);
    rows(conn, sql, &c, |r| {
        Ok(FingerprintFlows { fingerprint: opt_text(r, 0)?, flows: r.get(1)?, packets: r.get(2)?, sources: r.get(3)? })
    })
}

pub(super) fn tools_by_year(conn: &Connection, f: &Filter) -> Result<Vec<ToolYear>> {
    match merged_tool_years(conn, f)? {
        Some(merged) => Ok(merged),
        None => tools_by_year_in_sqlite(conn, f),
    }
}

/// A year and a tool (none: NULL).
type YearTool = (i64, Option<Box<[u8]>>);

/// `tools_by_year` merged in a hash map (`merge.rs`), the year from `time::civil_from_days`;
/// a flow before 1970 (where SQLite's division of the nanoseconds rounds towards zero, not
/// down) leaves the question to SQLite.
pub(super) fn merged_tool_years(conn: &Connection, f: &Filter) -> Result<Option<Vec<ToolYear>>> {
    let mut merged: AHashMap<YearTool, FlowMerge> = AHashMap::new();
    let c = Clause::new(f, "first_ns", None, &[], vec![]);
    let done = each_flow(conn, "SELECT first_ns, tool, packets, src_ip FROM flows {where}", &c, |r| {
        let (Some(first_ns), Some(tool), Some(packets), Some(source)) = (
            integer_of(r.get_ref(0)?),
            nullable_text_of(r.get_ref(1)?),
            integer_of(r.get_ref(2)?),
            text_of(r.get_ref(3)?),
        ) else {
            return Ok(None);
        };
        if first_ns < 0 {
            return Ok(None);
        }
        let year = crate::time::civil_from_days(crate::time::day_of(first_ns)).0;
        Ok(merged.entry((year, tool.map(Into::into))).or_default().add(packets, 0, source))
    })?;
    if done.is_none() {
        return Ok(None);
    }
    let mut all: Vec<(YearTool, FlowMerge)> = merged.into_iter().collect();
    // The SQL's order: year, then packets (most first), then tool (none first).
    all.sort_unstable_by(|a, b| {
        a.0 .0.cmp(&b.0 .0).then_with(|| b.1.packets.cmp(&a.1.packets)).then_with(|| a.0 .1.cmp(&b.0 .1))
    });
    Ok(Some(
        all.into_iter()
            .map(|((year, tool), m)| ToolYear {
                year: Some(year),
                tool: tool.map(|t| lossy(&t)),
                sources: m.sources.len() as i64,
                packets: m.packets,
            })
            .collect(),
    ))
}

/// `tools_by_year` as SQLite answers it.
pub(super) fn tools_by_year_in_sqlite(conn: &Connection, f: &Filter) -> Result<Vec<ToolYear>> {
    let sql = "SELECT CAST(strftime('%Y', first_ns / 1000000000, 'unixepoch') AS INTEGER) AS year, tool,
                      count(DISTINCT src_ip), sum(packets)
               FROM flows {where} GROUP BY year, tool ORDER BY year, sum(packets) DESC, tool";
    rows(conn, sql, &Clause::new(f, "first_ns", None, &[], vec![]), |r| {
        Ok(ToolYear { year: r.get(0)?, tool: opt_text(r, 1)?, sources: r.get(2)?, packets: r.get(3)? })
    })
}

pub(super) fn strategy_flows(conn: &Connection, f: &Filter) -> Result<Vec<StrategyFlows>> {
    match merged_strategies(conn, f)? {
        Some(merged) => Ok(merged),
        None => strategy_flows_in_sqlite(conn, f),
    }
}

/// Sums of integers below this are exact as doubles, so their mean is SQLite's `avg`.
const EXACT_IN_DOUBLE: i64 = 1 << 53;

/// `strategy_flows` merged in a hash map (`merge.rs`).
pub(super) fn merged_strategies(conn: &Connection, f: &Filter) -> Result<Option<Vec<StrategyFlows>>> {
    let mut merged: AHashMap<Box<[u8]>, FlowMerge> = AHashMap::new();
    let c = Clause::new(f, "first_ns", None, &[], vec![]);
    let sql = "SELECT strategy, packets, destinations, src_ip FROM flows {where}";
    let done = each_flow(conn, sql, &c, |r| {
        let (Some(strategy), Some(packets), Some(destinations), Some(source)) =
            (text_of(r.get_ref(0)?), integer_of(r.get_ref(1)?), integer_of(r.get_ref(2)?), text_of(r.get_ref(3)?))
        else {
            return Ok(None);
        };
        if !merged.contains_key(strategy) {
            merged.insert(strategy.into(), FlowMerge::default());
        }
        Ok(merged.get_mut(strategy).and_then(|m| m.add(packets, destinations, source)))
    })?;
    if done.is_none() || merged.values().any(|m| !(-EXACT_IN_DOUBLE..EXACT_IN_DOUBLE).contains(&m.destinations)) {
        return Ok(None);
    }
    let mut all: Vec<(Box<[u8]>, FlowMerge)> = merged.into_iter().collect();
    all.sort_unstable_by(|a, b| b.1.flows.cmp(&a.1.flows).then_with(|| a.0.cmp(&b.0)));
    Ok(Some(
        all.into_iter()
            .map(|(strategy, m)| StrategyFlows {
                strategy: lossy(&strategy),
                flows: m.flows,
                sources: m.sources.len() as i64,
                packets: m.packets,
                mean_destinations: m.destinations as f64 / m.flows as f64,
            })
            .collect(),
    ))
}

/// `strategy_flows` as SQLite answers it.
pub(super) fn strategy_flows_in_sqlite(conn: &Connection, f: &Filter) -> Result<Vec<StrategyFlows>> {
    let sql = "SELECT strategy, count(*), count(DISTINCT src_ip), sum(packets), avg(destinations) FROM flows {where}
               GROUP BY strategy ORDER BY count(*) DESC, strategy";
    rows(conn, sql, &Clause::new(f, "first_ns", None, &[], vec![]), |r| {
        Ok(StrategyFlows {
            strategy: text(r, 0)?,
            flows: r.get(1)?,
            sources: r.get(2)?,
            packets: r.get(3)?,
            mean_destinations: r.get(4)?,
        })
    })
}

pub(super) fn source_tool_packets(conn: &Connection, f: &Filter) -> Result<Vec<SourceToolPackets>> {
    let sql = "SELECT src_ip, tool, sum(packets) FROM flows {where} GROUP BY src_ip, tool ORDER BY src_ip, tool";
    rows(conn, sql, &Clause::new(f, "first_ns", None, &[], vec![]), |r| {
        Ok(SourceToolPackets { source: text(r, 0)?, tool: opt_text(r, 1)?, packets: r.get(2)? })
    })
}

pub(super) fn widest_flow(conn: &Connection, f: &Filter, source: Option<IpAddr>) -> Result<Option<FlowWindow>> {
    let c = match source {
        // Stored as `IpAddr`'s text, so the parsed address matches however it was typed.
        Some(ip) => Clause::new(f, "first_ns", None, &["src_ip = ?"], vec![Value::Text(ip.to_string())]),
        None => Clause::new(f, "first_ns", None, &[], vec![]),
    };
    let sql = c.within(
        "SELECT src_ip, first_ns, last_ns FROM flows {where} ORDER BY destinations DESC, src_ip, first_ns LIMIT 1",
    );
    let flow = conn
        .query_row(&sql, rusqlite::params_from_iter(c.params.iter()), |r| {
            Ok(FlowWindow { source: text(r, 0)?, first_ns: r.get(1)?, last_ns: r.get(2)? })
        })
        .optional()?;
    Ok(flow)
}

pub(super) fn source_days(conn: &Connection, from_day: i64, to_day: i64) -> Result<Vec<SourceDay>> {
    let mut st = conn
        .prepare("SELECT DISTINCT src_ip, day FROM source_days WHERE day >= ?1 AND day <= ?2 ORDER BY src_ip, day")?;
    let found = st.query_map(params![from_day, to_day], |r| Ok(SourceDay { source: text(r, 0)?, day: r.get(1)? }))?;
    Ok(found.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn source_tool_activity(conn: &Connection, from_ns: i64, to_ns: i64) -> Result<Vec<SourceToolActivity>> {
    let mut st = conn.prepare(
        "SELECT src_ip, tool, SUM(packets), SUM(packets_per_s), COUNT(*)
         FROM flows WHERE first_ns >= ?1 AND first_ns < ?2 GROUP BY 1, 2 ORDER BY 1, 2",
    )?;
    let found = st.query_map(params![from_ns, to_ns], |r| {
        Ok(SourceToolActivity {
            source: text(r, 0)?,
            tool: opt_text(r, 1)?,
            packets: r.get(2)?,
            packets_per_second_sum: r.get::<_, Option<f64>>(3)?.unwrap_or(0.0),
            flows: r.get(4)?,
        })
    })?;
    Ok(found.collect::<rusqlite::Result<_>>()?)
}
