//! Reads of `decisions` (schema 7) and of the authentication attempts the decision policy
//! asks about. Decisions come back typed: a row whose scope does not read back is damage.

use super::clause::Clause;
use super::{opt_text, rows, text, Result};
use crate::act::{Decision, DecisionKind, DecisionOrigin, Evidence, Prefix, Scope};
use crate::sinks::decisions::Deletion;
use crate::store::rows::{AcceptedAuth, DecisionRow, FailedAuth};
use crate::store::Filter;
use rusqlite::types::Value;
use rusqlite::{Connection, Row};
use std::net::{IpAddr, SocketAddr};

const COLUMNS: &str = "id, kind, per_second, scope_kind, address, port, prefix_len, start_ns, until_ns, reason,
    origin, rule_id, who, offence, proven, evidence, sensor, created_ns, deleted_ns, deleted_by, deleted_why";

/// A conversion that failed on a stored value: the row is damaged.
fn damaged(what: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("decision with a bad {what}: {value:?}").into(),
    )
}

fn scope(r: &Row<'_>) -> rusqlite::Result<Scope> {
    let address = text(r, 4)?;
    let ip: IpAddr = address.parse().map_err(|_| damaged("address", &address))?;
    let kind = text(r, 3)?;
    Ok(match kind.as_str() {
        "address" => Scope::Address(ip),
        "address-port" => Scope::AddressPort(ip, r.get::<_, Option<u16>>(5)?.unwrap_or(0)),
        "prefix" => Scope::Prefix(Prefix::new(ip, r.get(6)?)),
        _ => return Err(damaged("scope kind", &kind)),
    })
}

fn evidence(json: &str) -> rusqlite::Result<Vec<Evidence>> {
    let items: Vec<serde_json::Value> = serde_json::from_str(json).map_err(|_| damaged("evidence", json))?;
    let addr = |v: &serde_json::Value| -> rusqlite::Result<SocketAddr> {
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

fn decision_row(r: &Row<'_>) -> rusqlite::Result<DecisionRow> {
    let kind_name = text(r, 1)?;
    let kind = match kind_name.as_str() {
        "ban" => DecisionKind::Ban,
        "watch" => DecisionKind::Watch,
        "rate-limit" => DecisionKind::RateLimit { per_second: r.get::<_, Option<u32>>(2)?.unwrap_or(0) },
        _ => return Err(damaged("kind", &kind_name)),
    };
    let origin = match text(r, 10)?.as_str() {
        "rule" => DecisionOrigin::Rule { rule_id: text(r, 11)? },
        _ => DecisionOrigin::Operator { who: text(r, 12)? },
    };
    let deleted = match r.get::<_, Option<i64>>(18)? {
        Some(at_ns) => Some(Deletion { at_ns, who: text(r, 19)?, why: text(r, 20)? }),
        None => None,
    };
    Ok(DecisionRow {
        decision: Decision {
            id: Some(r.get(0)?),
            kind,
            scope: scope(r)?,
            start_ns: r.get(7)?,
            until_ns: r.get(8)?,
            reason: text(r, 9)?,
            origin,
            offence: r.get(13)?,
            proven: r.get(14)?,
            evidence: evidence(&text(r, 15)?)?,
        },
        sensor: opt_text(r, 16)?,
        created_ns: r.get(17)?,
        deleted,
    })
}

/// Decisions not deleted that hold at `now_ns`, oldest first.
pub(super) fn in_force(conn: &Connection, now_ns: i64) -> Result<Vec<DecisionRow>> {
    let sql = format!("SELECT {COLUMNS} FROM decisions {{where}} ORDER BY start_ns, id");
    let c = Clause {
        sql: "WHERE deleted_ns IS NULL AND until_ns > ? AND start_ns <= ?".into(),
        params: vec![Value::Integer(now_ns), Value::Integer(now_ns)],
    };
    rows(conn, &sql, &c, decision_row)
}

/// Decisions (deleted ones too) that held at some time in the filter's range, newest first.
pub(super) fn overlapping(conn: &Connection, f: &Filter, limit: u32) -> Result<Vec<DecisionRow>> {
    let sql = format!("SELECT {COLUMNS} FROM decisions {{where}} ORDER BY start_ns DESC, id DESC LIMIT ?");
    let mut conds = Vec::new();
    let mut params = Vec::new();
    if let Some(from) = f.from_ns {
        conds.push("until_ns > ?");
        params.push(Value::Integer(from));
    }
    if let Some(to) = f.to_ns {
        conds.push("start_ns < ?");
        params.push(Value::Integer(to));
    }
    let sql_where = if conds.is_empty() { String::new() } else { format!("WHERE {}", conds.join(" AND ")) };
    rows(conn, &sql, &Clause { sql: sql_where, params }.then(limit), decision_row)
}

/// The last `limit` failed authentication attempts from `source` since `since_ns`, newest
/// first (through the `auth_attempts_src` index).
pub(super) fn failed_auth(conn: &Connection, source: IpAddr, since_ns: i64, limit: u32) -> Result<Vec<FailedAuth>> {
    let sql = "SELECT ts_ns, username, user_agent FROM auth_attempts {where} ORDER BY ts_ns DESC, id DESC LIMIT ?";
    let c = Clause {
        sql: "WHERE src_ip = ? AND ts_ns >= ? AND outcome <> 'accepted'".into(),
        params: vec![Value::Text(source.to_string()), Value::Integer(since_ns)],
    }
    .then(limit);
    rows(conn, sql, &c, |r| Ok(FailedAuth { ts_ns: r.get(0)?, username: text(r, 1)?, user_agent: opt_text(r, 2)? }))
}

/// Successful authentications with an id above `after_id` and a time at or after `since_ns`,
/// by id, at most `limit`.
pub(super) fn accepted_auth(conn: &Connection, after_id: i64, since_ns: i64, limit: u32) -> Result<Vec<AcceptedAuth>> {
    let sql = "SELECT id, src_ip, ts_ns FROM auth_attempts {where} ORDER BY id LIMIT ?";
    let c = Clause {
        sql: "WHERE id > ? AND ts_ns >= ? AND outcome = 'accepted'".into(),
        params: vec![Value::Integer(after_id), Value::Integer(since_ns)],
    }
    .then(limit);
    rows(conn, sql, &c, |r| Ok(AcceptedAuth { id: r.get(0)?, source: text(r, 1)?, ts_ns: r.get(2)? }))
}
