//! Reads of the `events` table itself: every event in time order (for `sipscope analyze`) and
//! the destinations of one flow through the `(src_ip, ts_ns)` index (the Hilbert picture).
//! Nothing else reads events: reports count from the hourly rollups.

use super::clause::Clause;
use super::{opt_text, rows, Result};
use crate::event::{Direction, Origin, SipEvent, Transport};
use crate::store::rows::FlowWindow;
use crate::store::Filter;
use rusqlite::types::Value;
use rusqlite::Connection;
use std::net::IpAddr;

fn direction(s: &str) -> Direction {
    match s {
        "in" => Direction::In,
        "out" => Direction::Out,
        _ => Direction::Unknown,
    }
}

fn ip(s: &str) -> IpAddr {
    // Addresses were written by sipscope from `IpAddr`s; anything else reads as unspecified.
    s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

const EVENT_COLUMNS: &str = "ts_ns, sensor, node, transport, src_ip, src_port, dst_ip, dst_port, tunnel_src,
    tunnel_dst, direction, file_id, packet_no, raw";

/// Calls `f` with every stored event in time order (ties in insertion order); returns how many.
pub(super) fn each_event(conn: &Connection, f: &mut dyn FnMut(SipEvent)) -> Result<u64> {
    let mut stmt = conn.prepare(&format!("SELECT {EVENT_COLUMNS} FROM events ORDER BY ts_ns, id"))?;
    let n = visit(stmt.query([])?, f)?;
    Ok(n)
}

/// Calls `f` with every stored event in the filter's time range and nodes, in time order.
pub(super) fn each_event_in(conn: &Connection, filter: &Filter, f: &mut dyn FnMut(SipEvent)) -> Result<u64> {
    let c = Clause::new(filter, "ts_ns", Some("node"), &[], vec![]);
    let sql = c.within(&format!("SELECT {EVENT_COLUMNS} FROM events {{where}} ORDER BY ts_ns, id"));
    let mut stmt = conn.prepare(&sql)?;
    let n = visit(stmt.query(rusqlite::params_from_iter(c.params.iter()))?, f)?;
    Ok(n)
}

/// Calls `f` with every event stored under analysis run `run` (all have ids above
/// `after_event`, which bounds the scan), in time order; returns how many.
pub(super) fn each_event_of_run(
    conn: &Connection,
    run: i64,
    after_event: i64,
    f: &mut dyn FnMut(SipEvent),
) -> Result<u64> {
    let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE id > ?1 AND run_id = ?2 ORDER BY ts_ns, id");
    let mut stmt = conn.prepare(&sql)?;
    let n = visit(stmt.query(rusqlite::params![after_event, run])?, f)?;
    Ok(n)
}

fn visit(mut rows: rusqlite::Rows<'_>, f: &mut dyn FnMut(SipEvent)) -> Result<u64> {
    let mut n = 0;
    while let Some(r) = rows.next()? {
        let tunnel = match (r.get::<_, Option<String>>(8)?, r.get::<_, Option<String>>(9)?) {
            (Some(a), Some(b)) => Some((ip(&a), ip(&b))),
            _ => None,
        };
        let origin = match (r.get::<_, Option<i64>>(11)?, r.get::<_, Option<i64>>(12)?) {
            (Some(file_id), Some(packet)) => Some(Origin { file_id, packet: packet as u64 }),
            _ => None,
        };
        f(SipEvent {
            ts_ns: r.get(0)?,
            sensor: r.get(1)?,
            node: r.get(2)?,
            transport: Transport::from_name(&r.get::<_, String>(3)?),
            src: (ip(&r.get::<_, String>(4)?), r.get(5)?),
            dst: (ip(&r.get::<_, String>(6)?), r.get(7)?),
            tunnel,
            direction: direction(&r.get::<_, String>(10)?),
            origin,
            raw: r.get(13)?,
        });
        n += 1;
    }
    Ok(n)
}

/// The flow's destinations in the order it first hit them. A flow is one source between two
/// silences longer than the flow timeout, so its time window holds its messages only.
pub(super) fn first_hits(conn: &Connection, f: &Filter, flow: &FlowWindow) -> Result<Vec<String>> {
    let extra = ["kind = 'request'", "direction <> 'out'", "src_ip = ?", "ts_ns >= ?", "ts_ns <= ?"];
    let own = vec![Value::Text(flow.source.clone()), Value::Integer(flow.first_ns), Value::Integer(flow.last_ns)];
    let c = Clause::new(f, "ts_ns", Some("node"), &extra, own);
    let sql = "SELECT dst_ip, min(ts_ns) AS t FROM events {where} GROUP BY dst_ip ORDER BY t, dst_ip";
    let hits = rows(conn, sql, &c, |r| opt_text(r, 0))?;
    Ok(hits.into_iter().flatten().collect())
}
