//! The index's reads of PostgreSQL (`store/scan.rs`), as the SQLite reader's `scan.rs` does
//! them: each table's columns in one statement, streamed, every table in one read-only
//! repeatable-read transaction (one snapshot of the store). The change mark is the server's
//! WAL insert position, read before the snapshot: every committed change moves it, so an
//! unchanged mark means nothing was written; writes elsewhere on the server move it too, which
//! only costs a reload. Values are handed over as SQLite holds them: booleans as 0 and 1, so
//! the index reads both backends alike.

use super::Result;
use crate::store::scan::{Cell, IndexTable, Scan, MAX_COLUMNS};
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::Type;
use postgres::{Client, IsolationLevel, Row};

/// Column `i` of `r` as a [`Cell`]; a type the writers never give these columns is
/// [`Cell::Other`], so the index leaves that table's questions to the reader.
fn cell(r: &Row, i: usize) -> Cell<'_> {
    let ty = r.columns().get(i).map(|c| c.type_().clone());
    let value = match ty {
        Some(Type::TEXT) | Some(Type::VARCHAR) => {
            r.try_get::<_, Option<&str>>(i).map(|v| v.map_or(Cell::Null, |t| Cell::Text(t.as_bytes())))
        }
        Some(Type::INT8) => r.try_get::<_, Option<i64>>(i).map(|v| v.map_or(Cell::Null, Cell::Integer)),
        Some(Type::INT4) => r.try_get::<_, Option<i32>>(i).map(|v| v.map_or(Cell::Null, |n| Cell::Integer(n.into()))),
        Some(Type::BOOL) => {
            r.try_get::<_, Option<bool>>(i).map(|v| v.map_or(Cell::Null, |b| Cell::Integer(i64::from(b))))
        }
        Some(Type::FLOAT8) => r.try_get::<_, Option<f64>>(i).map(|v| v.map_or(Cell::Null, Cell::Real)),
        _ => return Cell::Other,
    };
    value.unwrap_or(Cell::Other)
}

/// The server's WAL insert position, in bytes.
pub(super) fn change_mark(client: &mut Client) -> Result<Option<i64>> {
    let r = client.query_one("SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint", &[])?;
    Ok(r.try_get::<_, Option<i64>>(0).ok().flatten())
}

pub(super) fn scan_tables(
    client: &mut Client,
    tables: &[IndexTable],
    visit: &mut dyn FnMut(IndexTable, &[Cell<'_>]) -> Scan,
) -> Result<Option<i64>> {
    let mark = change_mark(client)?;
    // One snapshot for every table; rolled back (a read ends) when dropped.
    let mut snapshot =
        client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start()?;
    for &table in tables {
        let mut found = snapshot.query_raw(table.select_sql(), std::iter::empty::<i64>())?;
        while let Some(r) = found.next()? {
            let width = r.len().min(MAX_COLUMNS);
            let mut cells = [Cell::Null; MAX_COLUMNS];
            for (i, c) in cells.iter_mut().enumerate().take(width) {
                *c = cell(&r, i);
            }
            if visit(table, cells.get(..width).unwrap_or_default()) == Scan::Stop {
                return Ok(None);
            }
        }
    }
    Ok(mark)
}
