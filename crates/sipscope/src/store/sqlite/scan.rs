//! The index's reads of SQLite (`store/scan.rs`): each table's columns in one statement, all
//! in one read transaction (one snapshot of the store), and `PRAGMA data_version` as the change
//! mark, read before the snapshot is taken so that a commit in between only costs a reload.

use super::Result;
use crate::store::scan::{Cell, IndexTable, Scan, MAX_COLUMNS};
use rusqlite::types::ValueRef;
use rusqlite::Connection;

fn cell(v: ValueRef<'_>) -> Cell<'_> {
    match v {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(i) => Cell::Integer(i),
        ValueRef::Real(r) => Cell::Real(r),
        ValueRef::Text(t) => Cell::Text(t),
        ValueRef::Blob(_) => Cell::Other,
    }
}

/// `PRAGMA data_version` of this connection.
pub(super) fn change_mark(conn: &Connection) -> Result<Option<i64>> {
    Ok(Some(conn.query_row("PRAGMA data_version", [], |r| r.get(0))?))
}

pub(super) fn scan_tables(
    conn: &Connection,
    tables: &[IndexTable],
    visit: &mut dyn FnMut(IndexTable, &[Cell<'_>]) -> Scan,
) -> Result<Option<i64>> {
    let mark = change_mark(conn)?;
    // One snapshot for every table: rolled back (a read ends) when dropped.
    let snapshot = conn.unchecked_transaction()?;
    for &table in tables {
        let mut stmt = snapshot.prepare(table.select_sql())?;
        let width = stmt.column_count().min(MAX_COLUMNS);
        let mut found = stmt.query([])?;
        while let Some(r) = found.next()? {
            let mut cells = [Cell::Null; MAX_COLUMNS];
            for (i, c) in cells.iter_mut().enumerate().take(width) {
                *c = cell(r.get_ref(i)?);
            }
            if visit(table, cells.get(..width).unwrap_or_default()) == Scan::Stop {
                return Ok(None);
            }
        }
    }
    Ok(mark)
}
