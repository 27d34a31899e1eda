//! [`ReportKeeper`] over the SQLite store: the `kept_reports` table (schema 16), on a
//! connection of its own (the REST API's), one short transaction per report kept.

use super::Store;
use crate::sinks::kept::{KeptReport, ReportKeeper, MAX_KEPT_BYTES, MAX_KEPT_REPORTS};
use crate::sinks::SinkError;
use rusqlite::params;
use std::path::Path;

/// The kept reports of one store, opened for writing.
pub struct SqliteReportKeeper {
    store: Store,
}

impl SqliteReportKeeper {
    /// Opens (creating and migrating) the store at `path` for kept reports.
    pub fn open(path: &Path) -> Result<SqliteReportKeeper, SinkError> {
        Ok(SqliteReportKeeper { store: Store::open(path)? })
    }
}

impl ReportKeeper for SqliteReportKeeper {
    fn keep(&mut self, r: &KeptReport) -> Result<bool, SinkError> {
        if r.body.len() > MAX_KEPT_BYTES {
            return Ok(false);
        }
        let tx = self.store.conn.transaction()?;
        tx.execute(
            "INSERT INTO kept_reports (key, format, built_ns, body) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (key) DO UPDATE SET format = excluded.format, built_ns = excluded.built_ns,
                 body = excluded.body",
            params![r.key, r.format, r.built_ns, r.body],
        )?;
        tx.execute(
            "DELETE FROM kept_reports WHERE key NOT IN
                 (SELECT key FROM kept_reports ORDER BY built_ns DESC, key LIMIT ?1)",
            params![MAX_KEPT_REPORTS as i64],
        )?;
        tx.commit()?;
        Ok(true)
    }
}
