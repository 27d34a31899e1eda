//! The time extent of what reports select by time (see the SQLite reader's `extent.rs`): each
//! minimum and maximum its own statement, answered from an index where the column has one.

use super::{get, Result};
use crate::store::rows::TimeExtent;
use postgres::Client;

/// (earliest, latest) of each table, by the column its reads filter on.
const BOUNDS: &[&str] = &[
    "SELECT (SELECT min(ts_ns) FROM events), (SELECT max(ts_ns) FROM events)",
    "SELECT (SELECT min(first_ns) FROM alerts), (SELECT max(first_ns) FROM alerts)",
    "SELECT min(first_ns), max(last_ns) FROM flows",
    "SELECT min(first_ns), max(first_ns) FROM stages",
    "SELECT min(last_ns), max(last_ns) FROM numbers",
    "SELECT min(ts_ns), max(ts_ns) FROM auth_attempts",
];

/// Hourly totals: their hours, whole.
const HOURS: &[&str] = &[
    "SELECT (SELECT min(hour) FROM traffic), (SELECT max(hour) FROM traffic)",
    "SELECT (SELECT min(hour) FROM dialled), (SELECT max(hour) FROM dialled)",
];

pub(super) fn time_extent(client: &mut Client) -> Result<Option<TimeExtent>> {
    let mut pair = |sql: &str| -> Result<(Option<i64>, Option<i64>)> {
        let r = client.query_one(sql, &[])?;
        Ok((get(&r, 0)?, get(&r, 1)?))
    };
    let mut times = Vec::with_capacity(BOUNDS.len() + HOURS.len());
    for sql in BOUNDS {
        times.push(pair(sql)?);
    }
    for sql in HOURS {
        let (first, last) = pair(sql)?;
        times.push(TimeExtent::hours(first, last));
    }
    Ok(TimeExtent::of(times))
}
