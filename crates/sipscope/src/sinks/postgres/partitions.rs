//! Daily partitions of `events`, created on demand and dropped for retention. A day's
//! partition is `events_YYYYMMDD` over `[day, day + 1)` in nanoseconds (UTC). Only days inside
//! [`PartitionLimits`]' window get a partition of their own: a capture with absurd timestamps
//! (a damaged file, a clock in 1970) lands in `events_default` instead of creating thousands of
//! tables. Retention drops whole partitions older than N days, which costs nothing per row;
//! the analysis tables are kept (they are the summary of what was dropped).

use crate::sinks::SinkError;
use crate::time::DAY_NS;
use postgres::Client;
use std::collections::HashSet;

/// Which days get a partition of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionLimits {
    /// First day (since 1970-01-01) with its own partition; default 2000-01-01.
    pub first_day: i64,
    /// First day after the window; default 2100-01-01.
    pub end_day: i64,
}

impl Default for PartitionLimits {
    fn default() -> Self {
        PartitionLimits {
            first_day: crate::time::days_from_civil(2000, 1, 1),
            end_day: crate::time::days_from_civil(2100, 1, 1),
        }
    }
}

/// The partition name of a day (only ASCII digits: safe to splice into DDL, which cannot bind
/// identifiers).
pub fn name_of(day: i64) -> String {
    let (y, m, d) = crate::time::civil_from_days(day);
    format!("events_{y:04}{m:02}{d:02}")
}

/// The day of a partition name written by [`name_of`].
pub fn day_of_name(name: &str) -> Option<i64> {
    let digits = name.strip_prefix("events_")?;
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| digits.get(r).and_then(|s| s.parse::<i64>().ok());
    Some(crate::time::days_from_civil(n(0..4)?, n(4..6)?, n(6..8)?))
}

/// The partitions this writer knows to exist, so that each is created once per process.
#[derive(Debug, Default)]
pub struct Partitions {
    limits: PartitionLimits,
    known: HashSet<i64>,
}

impl Partitions {
    /// Partitions within `limits`.
    pub fn new(limits: PartitionLimits) -> Partitions {
        Partitions { limits, known: HashSet::new() }
    }

    /// Makes sure every day of `times` that gets a partition has one (inside the caller's
    /// transaction; `IF NOT EXISTS`, so writers racing for the same day both succeed).
    pub fn ensure(&mut self, client: &mut Client, times: impl Iterator<Item = i64>) -> Result<(), SinkError> {
        let mut days: Vec<i64> = times
            .map(crate::time::day_of)
            .filter(|d| (self.limits.first_day..self.limits.end_day).contains(d) && !self.known.contains(d))
            .collect();
        days.sort_unstable();
        days.dedup();
        for day in days {
            let (from, to) = (day * DAY_NS, (day + 1) * DAY_NS);
            // Every spliced value is a number or a name of digits (see `name_of`).
            let sql = format!(
                "CREATE TABLE IF NOT EXISTS {} PARTITION OF events FOR VALUES FROM ({from}) TO ({to})",
                name_of(day)
            );
            client.batch_execute(&sql).map_err(super::pg_error)?;
            self.known.insert(day);
        }
        Ok(())
    }

    /// Forgets the partitions it created (after a rollback, which undid them).
    pub fn forget(&mut self) {
        self.known.clear();
    }
}

/// An arbitrary constant: the advisory lock of retention, so that two writers do not both count
/// a partition they drop.
const RETENTION_LOCK: i64 = 0x5150_5343_4f50_4502;

/// Drops the daily partitions whose whole day is more than `days` days before `now_ns`;
/// returns their names. Events in `events_default` are deleted by time likewise.
pub fn drop_older_than(client: &mut Client, days: u32, now_ns: i64) -> Result<Vec<String>, SinkError> {
    let cutoff_day = crate::time::day_of(now_ns) - i64::from(days);
    let rows = client
        .query(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'events' ORDER BY c.relname",
            &[],
        )
        .map_err(super::pg_error)?;
    let mut dropped = Vec::new();
    for row in rows {
        let name: String = row.get(0);
        let Some(day) = day_of_name(&name) else { continue };
        if day < cutoff_day && name == name_of(day) {
            // Counted and dropped under its lock, in one transaction with the kept count (the
            // name is our own `events_YYYYMMDD`, checked above): a writer dropping it at the
            // same time finds it gone and subtracts nothing.
            let mut tx = client.transaction().map_err(super::pg_error)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&RETENTION_LOCK]).map_err(super::pg_error)?;
            let exists: bool =
                tx.query_one("SELECT to_regclass($1) IS NOT NULL", &[&name]).map_err(super::pg_error)?.get(0);
            if exists {
                let n: i64 =
                    tx.query_one(&format!("SELECT count(*) FROM {name}"), &[]).map_err(super::pg_error)?.get(0);
                tx.batch_execute(&format!("DROP TABLE {name}")).map_err(super::pg_error)?;
                super::counts::add(&mut tx, -n)?;
            }
            tx.commit().map_err(super::pg_error)?;
            dropped.push(name);
        }
    }
    let mut tx = client.transaction().map_err(super::pg_error)?;
    let deleted = tx
        .execute("DELETE FROM events_default WHERE ts_ns < $1", &[&(cutoff_day.saturating_mul(DAY_NS))])
        .map_err(super::pg_error)?;
    super::counts::add(&mut tx, -i64::try_from(deleted).unwrap_or(i64::MAX))?;
    tx.commit().map_err(super::pg_error)?;
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_names_are_dates_and_read_back() {
        let day = crate::time::days_from_civil(2026, 12, 6);
        assert_eq!(name_of(day), "events_20261206");
        assert_eq!(day_of_name("events_20261206"), Some(day));
        assert_eq!(day_of_name("events_default"), None);
        assert_eq!(day_of_name("events_2026120x"), None);
        let limits = PartitionLimits::default();
        assert!(limits.first_day < day && day < limits.end_day);
    }
}
