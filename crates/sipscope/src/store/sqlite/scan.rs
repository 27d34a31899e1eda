//! The index's reads of SQLite (`store/scan.rs`): each table's columns in one statement, all
//! in one read transaction (one snapshot of the store), and `PRAGMA data_version` as the change
//! mark, read before the snapshot is taken so that a commit in between only costs a reload.

use super::Result;
use crate::store::scan::{Cell, IndexTable, Scan};
use rusqlite::types::ValueRef;
use rusqlite::Connection;

/// The statement that reads `table`'s columns, in `IndexTable`'s order (constant SQL).
fn select(table: IndexTable) -> &'static str {
    match table {
        IndexTable::Alerts => {
            "SELECT id, rule_id, src_ip, proven, first_ns, last_ns, count, name, severity, actions, node, group_key
             FROM alerts"
        }
        IndexTable::Flows => {
            "SELECT src_ip, first_ns, last_ns, packets, destinations, fingerprint, tool, variant, tool_verdict, strategy,
                    packets_per_s FROM flows"
        }
        IndexTable::Stages => "SELECT src_ip, node, stage, first_ns, count FROM stages",
        IndexTable::Numbers => {
            "SELECT number, last_ns, attempts, invites, country, country_inferred, number_type, variants, sources,
                    variant_samples, run_id FROM numbers"
        }
        IndexTable::RollupSources => "SELECT hour, node, src_ip, messages, first_ns, last_ns FROM rollup_sources",
        IndexTable::RollupAgents => "SELECT hour, node, user_agent, src_ip, messages FROM rollup_agents",
        IndexTable::RollupUsers => "SELECT hour, node, ruri_user FROM rollup_users",
        IndexTable::RollupCountries => "SELECT hour, node, src_ip, number_country, invites FROM rollup_countries",
        IndexTable::SourceDays => "SELECT src_ip, day FROM source_days",
    }
}

/// The most columns a table's statement reads.
const MAX_COLUMNS: usize = 12;

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
        let mut stmt = snapshot.prepare(select(table))?;
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
