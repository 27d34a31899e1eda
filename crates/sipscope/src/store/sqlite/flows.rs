//! Reads of the flow tables: tools and fingerprints (004 Table I), scan strategies, the widest
//! flow for the Hilbert picture, and what campaign clustering needs (`source_days`, flows per
//! source and tool), merged over every analysis run.

use super::clause::Clause;
use super::{opt_text, rows, text, Result};
use crate::store::rows::*;
use crate::store::Filter;
use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension};
use std::net::IpAddr;

pub(super) fn tool_flows(conn: &Connection, f: &Filter) -> Result<Vec<ToolFlows>> {
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
    let sql = "SELECT fingerprint, count(*), sum(packets), count(DISTINCT src_ip) FROM flows {where}
               GROUP BY fingerprint ORDER BY sum(packets) DESC, fingerprint LIMIT ?";
    let c = Clause::new(f, "first_ns", None, &["tool_verdict = 'custom'"], vec![]).then(limit);
    rows(conn, sql, &c, |r| {
        Ok(FingerprintFlows { fingerprint: opt_text(r, 0)?, flows: r.get(1)?, packets: r.get(2)?, sources: r.get(3)? })
    })
}

pub(super) fn tools_by_year(conn: &Connection, f: &Filter) -> Result<Vec<ToolYear>> {
    let sql = "SELECT CAST(strftime('%Y', first_ns / 1000000000, 'unixepoch') AS INTEGER) AS year, tool,
                      count(DISTINCT src_ip), sum(packets)
               FROM flows {where} GROUP BY year, tool ORDER BY year, sum(packets) DESC, tool";
    rows(conn, sql, &Clause::new(f, "first_ns", None, &[], vec![]), |r| {
        Ok(ToolYear { year: r.get(0)?, tool: opt_text(r, 1)?, sources: r.get(2)?, packets: r.get(3)? })
    })
}

pub(super) fn strategy_flows(conn: &Connection, f: &Filter) -> Result<Vec<StrategyFlows>> {
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
