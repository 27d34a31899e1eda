//! Reads of `events` (every event in time order, a flow's destinations), of
//! `decisions` and of the authentication attempts the decision policy asks about; see the
//! SQLite reader's `events.rs` and `decisions.rs`.

use super::clause::{Clause, Value};
use super::{get, rows, Result, StoreError};
use crate::act::{Decision, DecisionKind, DecisionOrigin, Evidence, Prefix, Scope};
use crate::event::{Direction, Origin, SipEvent, Transport};
use crate::sinks::decisions::Deletion;
use crate::store::rows::*;
use crate::store::Filter;
use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, Row};
use std::net::{IpAddr, SocketAddr};

const EVENT_COLUMNS: &str = "ts_ns, sensor, node, transport, src_ip, src_port, dst_ip, dst_port, tunnel_src,
    tunnel_dst, direction, file_id, packet_no, raw";

fn direction(s: &str) -> Direction {
    match s {
        "in" => Direction::In,
        "out" => Direction::Out,
        _ => Direction::Unknown,
    }
}

fn port(r: &Row, i: usize) -> Result<u16> {
    let p: i32 = get(r, i)?;
    u16::try_from(p).map_err(|_| StoreError::Corrupt(format!("a port of {p}")))
}

/// Every event in time order (ties in insertion order), or those of one run; streamed.
/// Calls `f` with every stored event in the filter's time range and nodes, in time order.
pub(super) fn each_event_in(client: &mut Client, filter: &Filter, f: &mut dyn FnMut(SipEvent)) -> Result<u64> {
    let c = Clause::new(filter, "ts_ns", Some("node"), &[], vec![]);
    let sql = c.within(&format!("SELECT {EVENT_COLUMNS} FROM events {{where}} ORDER BY ts_ns, id"));
    let found = client.query_raw(&sql, c.params())?;
    visit(found, f)
}

/// Calls `f` with every authentication attempt read from a PBX log, in time order.
pub(super) fn each_logged_attempt(client: &mut Client, f: &mut dyn FnMut(LoggedAttemptRow)) -> Result<u64> {
    let sql = "SELECT ts_ns, node, src_ip, src_port, dst_ip, dst_port, origin, method, username, uri, outcome
               FROM auth_attempts WHERE origin IS NOT NULL ORDER BY ts_ns, id";
    let mut found = client.query_raw(sql, std::iter::empty::<i64>())?;
    let mut count = 0;
    while let Some(r) = found.next()? {
        f(LoggedAttemptRow {
            ts_ns: get(&r, 0)?,
            node: get(&r, 1)?,
            src: (get(&r, 2)?, port(&r, 3)?),
            dst: (get(&r, 4)?, port(&r, 5)?),
            origin: get(&r, 6)?,
            method: get(&r, 7)?,
            username: get(&r, 8)?,
            uri: get(&r, 9)?,
            outcome: get(&r, 10)?,
        });
        count += 1;
    }
    Ok(count)
}

pub(super) fn each_event(client: &mut Client, run: Option<(i64, i64)>, f: &mut dyn FnMut(SipEvent)) -> Result<u64> {
    let (sql, params): (String, Vec<i64>) = match run {
        None => (format!("SELECT {EVENT_COLUMNS} FROM events ORDER BY ts_ns, id"), vec![]),
        Some((run, after_event)) => (
            format!("SELECT {EVENT_COLUMNS} FROM events WHERE id > $1 AND run_id = $2 ORDER BY ts_ns, id"),
            vec![after_event, run],
        ),
    };
    // Streamed in a transaction with a cursor-like portal: a million events are never all
    // held at once.
    let found = client.query_raw(&sql, params.iter())?;
    visit(found, f)
}

fn visit(mut found: postgres::RowIter<'_>, f: &mut dyn FnMut(SipEvent)) -> Result<u64> {
    let mut count = 0;
    while let Some(r) = found.next()? {
        let tunnel = match (get::<Option<IpAddr>>(&r, 8)?, get::<Option<IpAddr>>(&r, 9)?) {
            (Some(a), Some(b)) => Some((a, b)),
            _ => None,
        };
        let origin = match (get::<Option<i64>>(&r, 11)?, get::<Option<i64>>(&r, 12)?) {
            (Some(file_id), Some(packet)) => Some(Origin { file_id, packet: packet.max(0) as u64 }),
            _ => None,
        };
        f(SipEvent {
            ts_ns: get(&r, 0)?,
            sensor: get(&r, 1)?,
            node: get(&r, 2)?,
            transport: Transport::from_name(get(&r, 3)?),
            src: (get(&r, 4)?, port(&r, 5)?),
            dst: (get(&r, 6)?, port(&r, 7)?),
            tunnel,
            direction: direction(get(&r, 10)?),
            origin,
            raw: get(&r, 13)?,
        });
        count += 1;
    }
    Ok(count)
}

/// The flow's destinations in the order it first hit them.
pub(super) fn first_hits(client: &mut Client, f: &Filter, flow: &FlowWindow) -> Result<Vec<String>> {
    // Stored as `inet`: a source that is no address has no events.
    let Ok(source) = flow.source.parse::<IpAddr>() else { return Ok(Vec::new()) };
    let extra = ["kind = 'request'", "direction <> 'out'", "src_ip = ?", "ts_ns >= ?", "ts_ns <= ?"];
    let own: Vec<Value> = vec![Box::new(source), Box::new(flow.first_ns), Box::new(flow.last_ns)];
    let c = Clause::new(f, "ts_ns", Some("node"), &extra, own);
    let sql =
        "SELECT dst_ip, min(ts_ns) AS t FROM events {where} GROUP BY dst_ip ORDER BY t, host(dst_ip) COLLATE \"C\"";
    rows(client, sql, &c, |r| Ok(get::<IpAddr>(r, 0)?.to_string()))
}

const DECISION_COLUMNS: &str = "id, kind, per_second, scope_kind, address, port, prefix_len, start_ns, until_ns,
    reason, origin, rule_id, who, offence, proven, evidence, sensor, created_ns, deleted_ns, deleted_by, deleted_why";

fn damaged(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("decision with a bad {what}: {value:?}"))
}

fn decision_scope(r: &Row) -> Result<Scope> {
    let address: String = get(r, 4)?;
    let ip: IpAddr = address.parse().map_err(|_| damaged("address", &address))?;
    let kind: String = get(r, 3)?;
    Ok(match kind.as_str() {
        "address" => Scope::Address(ip),
        "address-port" => {
            let p = get::<Option<i32>>(r, 5)?.unwrap_or(0);
            Scope::AddressPort(ip, u16::try_from(p).map_err(|_| damaged("port", &p.to_string()))?)
        }
        "prefix" => {
            let len: i32 = get(r, 6)?;
            Scope::Prefix(Prefix::new(ip, u8::try_from(len).map_err(|_| damaged("prefix", &len.to_string()))?))
        }
        _ => return Err(damaged("scope kind", &kind)),
    })
}

fn evidence(json: &str) -> Result<Vec<Evidence>> {
    let items: Vec<serde_json::Value> = serde_json::from_str(json).map_err(|_| damaged("evidence", json))?;
    let addr = |v: &serde_json::Value| -> Result<SocketAddr> {
        v.as_str().and_then(|s| s.parse().ok()).ok_or_else(|| damaged("evidence address", json))
    };
    items
        .iter()
        .map(|e| {
            let (src, dst) = (addr(&e["src"])?, addr(&e["dst"])?);
            Ok(Evidence {
                ts_ns: e["ts_ns"].as_i64().unwrap_or(0),
                src: (src.ip(), src.port()),
                dst: (dst.ip(), dst.port()),
                ordinal: e["ordinal"].as_u64().unwrap_or(0),
                stored: None,
            })
        })
        .collect()
}

fn decision_row(r: &Row) -> Result<DecisionRow> {
    let kind_name: String = get(r, 1)?;
    let kind = match kind_name.as_str() {
        "ban" => DecisionKind::Ban,
        "watch" => DecisionKind::Watch,
        "rate-limit" => {
            let per_second = get::<Option<i64>>(r, 2)?.unwrap_or(0);
            DecisionKind::RateLimit { per_second: u32::try_from(per_second).unwrap_or(0) }
        }
        _ => return Err(damaged("kind", &kind_name)),
    };
    let origin = match get::<String>(r, 10)?.as_str() {
        "rule" => DecisionOrigin::Rule { rule_id: get::<Option<String>>(r, 11)?.unwrap_or_default() },
        _ => DecisionOrigin::Operator { who: get::<Option<String>>(r, 12)?.unwrap_or_default() },
    };
    let deleted = match get::<Option<i64>>(r, 18)? {
        Some(at_ns) => Some(Deletion {
            at_ns,
            who: get::<Option<String>>(r, 19)?.unwrap_or_default(),
            why: get::<Option<String>>(r, 20)?.unwrap_or_default(),
        }),
        None => None,
    };
    let offence: i64 = get(r, 13)?;
    Ok(DecisionRow {
        decision: Decision {
            id: Some(get(r, 0)?),
            kind,
            scope: decision_scope(r)?,
            start_ns: get(r, 7)?,
            until_ns: get(r, 8)?,
            reason: get(r, 9)?,
            origin,
            offence: u32::try_from(offence).unwrap_or(u32::MAX),
            proven: get(r, 14)?,
            evidence: evidence(&get::<String>(r, 15)?)?,
        },
        sensor: get(r, 16)?,
        created_ns: get(r, 17)?,
        deleted,
    })
}

pub(super) fn decisions_in_force(client: &mut Client, now_ns: i64) -> Result<Vec<DecisionRow>> {
    let sql = format!("SELECT {DECISION_COLUMNS} FROM decisions {{where}} ORDER BY start_ns, id");
    let c = Clause::fixed(
        "WHERE deleted_ns IS NULL AND until_ns > ? AND start_ns <= ?",
        vec![Box::new(now_ns), Box::new(now_ns)],
    );
    rows(client, &sql, &c, decision_row)
}

pub(super) fn decisions(client: &mut Client, f: &Filter, limit: u32) -> Result<Vec<DecisionRow>> {
    let sql = format!("SELECT {DECISION_COLUMNS} FROM decisions {{where}} ORDER BY start_ns DESC, id DESC LIMIT ?");
    let mut conds = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    if let Some(from) = f.from_ns {
        conds.push("until_ns > ?");
        values.push(Box::new(from));
    }
    if let Some(to) = f.to_ns {
        conds.push("start_ns < ?");
        values.push(Box::new(to));
    }
    let sql_where = if conds.is_empty() { String::new() } else { format!("WHERE {}", conds.join(" AND ")) };
    rows(client, &sql, &Clause::fixed(&sql_where, values).then(i64::from(limit)), decision_row)
}

pub(super) fn failed_auth(client: &mut Client, source: IpAddr, since_ns: i64, limit: u32) -> Result<Vec<FailedAuth>> {
    let sql = "SELECT ts_ns, username, user_agent FROM auth_attempts {where} ORDER BY ts_ns DESC, id DESC LIMIT ?";
    let c = Clause::fixed(
        "WHERE src_ip = ? AND ts_ns >= ? AND outcome <> 'accepted'",
        vec![Box::new(source), Box::new(since_ns)],
    )
    .then(i64::from(limit));
    rows(client, sql, &c, |r| Ok(FailedAuth { ts_ns: get(r, 0)?, username: get(r, 1)?, user_agent: get(r, 2)? }))
}

pub(super) fn accepted_auth(
    client: &mut Client,
    after_id: i64,
    since_ns: i64,
    limit: u32,
) -> Result<Vec<AcceptedAuth>> {
    let sql = "SELECT id, src_ip, ts_ns FROM auth_attempts {where} ORDER BY id LIMIT ?";
    let c = Clause::fixed(
        "WHERE id > ? AND ts_ns >= ? AND outcome = 'accepted'",
        vec![Box::new(after_id), Box::new(since_ns)],
    )
    .then(i64::from(limit));
    rows(client, sql, &c, |r| {
        Ok(AcceptedAuth { id: get(r, 0)?, source: get::<IpAddr>(r, 1)?.to_string(), ts_ns: get(r, 2)? })
    })
}
