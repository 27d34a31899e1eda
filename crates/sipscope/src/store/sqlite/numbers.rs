//! Reads of `numbers`, the unified numbers dialled: one row per analysis run and number, so
//! every question merges a number's rows over the runs first. Asked of SQLite as GROUP BY,
//! ORDER BY and `count(DISTINCT …)`, that merge went through temporary B-trees and was most
//! of a whole report's build for a time range never asked before (docs/benchmarks.md, "Where a
//! never-built cutting range's time goes now"). Here a range's rows are read once and merged
//! in a hash map; the top numbers are then read in full by their row ids through the same SQL
//! as before, so their columns are SQLite's own aggregates.
//!
//! A row not as the writers store them, or sums that overflow, send the question back to the
//! SQL that merges in SQLite (`merge.rs`).

use super::clause::Clause;
use super::merge::{integer_of, lossy, text_of};
use super::{count, opt_text, rows, text, Result};
use crate::store::rows::{CountryAttempts, NumberAttempts};
use crate::store::Filter;
use ahash::{AHashMap, AHashSet};
use rusqlite::types::{Value, ValueRef};
use rusqlite::Connection;

/// The range's rows of one number, merged.
struct Merged {
    /// Calls over the runs.
    attempts: i64,
    /// The rows' ids.
    rows: Vec<i64>,
}

/// One country's numbers in the range, merged.
#[derive(Default)]
struct CountryMerged {
    numbers: AHashSet<Box<[u8]>>,
    attempts: i64,
    invites: i64,
}

fn range_clause(f: &Filter) -> Clause {
    Clause::new(f, "last_ns", None, &[], vec![])
}

pub(super) fn unified_number_count(conn: &Connection, f: &Filter) -> Result<i64> {
    let c = range_clause(f);
    let mut seen: AHashSet<Box<[u8]>> = AHashSet::new();
    let mut stmt = conn.prepare(&c.within("SELECT number FROM numbers {where}"))?;
    let mut found = stmt.query(rusqlite::params_from_iter(c.params.iter()))?;
    while let Some(r) = found.next()? {
        let Some(number) = text_of(r.get_ref(0)?) else {
            return unified_number_count_in_sqlite(conn, f);
        };
        if !seen.contains(number) {
            seen.insert(number.into());
        }
    }
    Ok(seen.len() as i64)
}

/// `unified_number_count` as SQLite answers it.
pub(super) fn unified_number_count_in_sqlite(conn: &Connection, f: &Filter) -> Result<i64> {
    count(conn, "SELECT count(DISTINCT number) FROM numbers {where}", &range_clause(f))
}

pub(super) fn top_numbers(conn: &Connection, f: &Filter, limit: u32) -> Result<Vec<NumberAttempts>> {
    let Some(merged) = merge_attempts(conn, &range_clause(f))? else {
        return top_numbers_in_sqlite(conn, f, limit);
    };
    // The SQL's order: attempts, most first, then the number.
    let ranked: Vec<(&[u8], &Merged)> = merged.iter().map(|(number, m)| (&**number, m)).collect();
    let order = |a: &(&[u8], &Merged), b: &(&[u8], &Merged)| b.1.attempts.cmp(&a.1.attempts).then_with(|| a.0.cmp(b.0));
    let ranked = crate::store::rank::first_in_order(ranked, limit, order);
    if ranked.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = ranked.iter().flat_map(|(_, m)| m.rows.iter().map(i64::to_string)).collect();
    // Every row of the kept numbers in the range, and only those: the same groups, sums and
    // order as the SQL over the whole range.
    let ids = format!("[{}]", ids.join(","));
    let rows_of =
        Clause { sql: "WHERE rowid IN (SELECT value FROM json_each(?))".into(), params: vec![Value::Text(ids)] };
    numbers_where(conn, rows_of, limit)
}

/// `top_numbers` as SQLite answers it.
pub(super) fn top_numbers_in_sqlite(conn: &Connection, f: &Filter, limit: u32) -> Result<Vec<NumberAttempts>> {
    numbers_where(conn, range_clause(f), limit)
}

/// Each number of the range with its attempts summed over the runs and its rows' ids; `None`
/// when a row is not as the writers store them.
fn merge_attempts(conn: &Connection, c: &Clause) -> Result<Option<AHashMap<Box<[u8]>, Merged>>> {
    let mut merged: AHashMap<Box<[u8]>, Merged> = AHashMap::new();
    let mut stmt = conn.prepare(&c.within("SELECT number, attempts, rowid FROM numbers {where}"))?;
    let mut found = stmt.query(rusqlite::params_from_iter(c.params.iter()))?;
    while let Some(r) = found.next()? {
        let (Some(number), Some(attempts), Some(id)) =
            (text_of(r.get_ref(0)?), integer_of(r.get_ref(1)?), integer_of(r.get_ref(2)?))
        else {
            return Ok(None);
        };
        match merged.get_mut(number) {
            Some(m) => {
                let Some(sum) = m.attempts.checked_add(attempts) else { return Ok(None) };
                m.attempts = sum;
                m.rows.push(id);
            }
            None => {
                merged.insert(number.into(), Merged { attempts, rows: vec![id] });
            }
        }
    }
    Ok(Some(merged))
}

/// One unified number, `None` when it was never dialled in the range.
pub(super) fn number(conn: &Connection, f: &Filter, number: &str) -> Result<Option<NumberAttempts>> {
    let clause = Clause::new(f, "last_ns", None, &["number = ?"], vec![Value::Text(number.to_owned())]);
    Ok(numbers_where(conn, clause, 1)?.into_iter().next())
}

fn numbers_where(conn: &Connection, clause: Clause, limit: u32) -> Result<Vec<NumberAttempts>> {
    // Each run's spellings are a JSON array; the runs' arrays come joined by newlines (JSON
    // text holds none) and are merged here.
    let sql = "SELECT number, max(country), max(country_inferred), max(number_type), sum(attempts) AS a, sum(invites),
                      max(variants), max(sources), group_concat(variant_samples, char(10) ORDER BY run_id)
               FROM numbers {where} GROUP BY number ORDER BY a DESC, number LIMIT ?";
    rows(conn, sql, &clause.then(limit), |r| {
        Ok(NumberAttempts {
            number: text(r, 0)?,
            country: opt_text(r, 1)?,
            country_inferred: r.get(2)?,
            number_type: text(r, 3)?,
            attempts: r.get(4)?,
            invites: r.get(5)?,
            variants: r.get(6)?,
            sources: r.get(7)?,
            variant_samples: NumberAttempts::merge_samples(opt_text(r, 8)?.as_deref().unwrap_or_default()),
        })
    })
}

pub(super) fn number_countries(conn: &Connection, f: &Filter) -> Result<Vec<CountryAttempts>> {
    match merge_countries(conn, &range_clause(f))? {
        Some(found) => Ok(found),
        None => number_countries_in_sqlite(conn, f),
    }
}

/// `number_countries` as SQLite answers it.
pub(super) fn number_countries_in_sqlite(conn: &Connection, f: &Filter) -> Result<Vec<CountryAttempts>> {
    let sql = "SELECT country, count(DISTINCT number), sum(attempts) AS a, sum(invites) FROM numbers {where}
               GROUP BY country ORDER BY a DESC, country";
    rows(conn, sql, &range_clause(f), |r| {
        Ok(CountryAttempts { country: opt_text(r, 0)?, numbers: r.get(1)?, attempts: r.get(2)?, invites: r.get(3)? })
    })
}

/// Per country (none first), its distinct numbers, attempts and INVITEs, by attempts (most
/// first) then country; `None` when a row is not as the writers store them.
fn merge_countries(conn: &Connection, c: &Clause) -> Result<Option<Vec<CountryAttempts>>> {
    let mut unknown: Option<CountryMerged> = None;
    let mut known: AHashMap<Box<[u8]>, CountryMerged> = AHashMap::new();
    let mut stmt = conn.prepare(&c.within("SELECT country, number, attempts, invites FROM numbers {where}"))?;
    let mut found = stmt.query(rusqlite::params_from_iter(c.params.iter()))?;
    while let Some(r) = found.next()? {
        let (Some(number), Some(attempts), Some(invites)) =
            (text_of(r.get_ref(1)?), integer_of(r.get_ref(2)?), integer_of(r.get_ref(3)?))
        else {
            return Ok(None);
        };
        let merged = match r.get_ref(0)? {
            ValueRef::Null => unknown.get_or_insert_with(CountryMerged::default),
            ValueRef::Text(country) => {
                if !known.contains_key(country) {
                    known.insert(country.into(), CountryMerged::default());
                }
                match known.get_mut(country) {
                    Some(m) => m,
                    None => return Ok(None),
                }
            }
            _ => return Ok(None),
        };
        let (Some(a), Some(i)) = (merged.attempts.checked_add(attempts), merged.invites.checked_add(invites)) else {
            return Ok(None);
        };
        (merged.attempts, merged.invites) = (a, i);
        if !merged.numbers.contains(number) {
            merged.numbers.insert(number.into());
        }
    }
    let mut out: Vec<(Option<Box<[u8]>>, CountryMerged)> = known.into_iter().map(|(k, m)| (Some(k), m)).collect();
    out.extend(unknown.map(|m| (None, m)));
    out.sort_unstable_by(|a, b| b.1.attempts.cmp(&a.1.attempts).then_with(|| a.0.cmp(&b.0)));
    Ok(Some(
        out.into_iter()
            .map(|(country, m)| CountryAttempts {
                country: country.map(|c| lossy(&c)),
                numbers: m.numbers.len() as i64,
                attempts: m.attempts,
                invites: m.invites,
            })
            .collect(),
    ))
}
