//! The time extent of what reports select by time, for the REST API to tell a range that
//! holds all of it (the overview of the whole store serves it) from one that cuts it. Each
//! minimum and maximum is its own statement, so that an indexed column answers from its index
//! (events, alerts, hourly totals); flows, stages, numbers and authentication attempts are
//! scanned (tens of thousands of rows over 10 M events: a few ms each).

use super::Result;
use crate::store::rows::TimeExtent;
use crate::store::scan::IndexTable;
use rusqlite::Connection;

/// (earliest, latest) of each table, by the column its reads filter on (with the report
/// index's name of the tables it scans).
const BOUNDS: &[(Option<IndexTable>, &str)] = &[
    (None, "SELECT (SELECT min(ts_ns) FROM events), (SELECT max(ts_ns) FROM events)"),
    (None, "SELECT (SELECT min(first_ns) FROM alerts), (SELECT max(first_ns) FROM alerts)"),
    (Some(IndexTable::Flows), "SELECT min(first_ns), max(last_ns) FROM flows"),
    (Some(IndexTable::Stages), "SELECT min(first_ns), max(first_ns) FROM stages"),
    (Some(IndexTable::Numbers), "SELECT min(last_ns), max(last_ns) FROM numbers"),
    (None, "SELECT min(ts_ns), max(ts_ns) FROM auth_attempts"),
];

/// Hourly totals: their hours, whole.
const HOURS: &[&str] = &[
    "SELECT (SELECT min(hour) FROM traffic), (SELECT max(hour) FROM traffic)",
    "SELECT (SELECT min(hour) FROM dialled), (SELECT max(hour) FROM dialled)",
];

/// The extent of every table but `known`.
pub(super) fn time_extent(conn: &Connection, known: &[IndexTable]) -> Result<Option<TimeExtent>> {
    let pair = |sql: &str| -> Result<(Option<i64>, Option<i64>)> {
        Ok(conn.query_row(sql, [], |r| Ok((r.get(0)?, r.get(1)?)))?)
    };
    let mut times = Vec::with_capacity(BOUNDS.len() + HOURS.len());
    for (table, sql) in BOUNDS {
        if !table.is_some_and(|t| known.contains(&t)) {
            times.push(pair(sql)?);
        }
    }
    for sql in HOURS {
        let (first, last) = pair(sql)?;
        times.push(TimeExtent::hours(first, last));
    }
    Ok(TimeExtent::of(times))
}
