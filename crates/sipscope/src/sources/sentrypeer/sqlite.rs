//! SentryPeer's SQLite database: the `honey` table (`honey_id`, `event_timestamp`,
//! `event_uuid`, `collected_method`, `source_ip`, `called_number`, `transport_type`, `method`,
//! `user_agent`, `sip_message`, `created_by_node_id`, `created_at`), read only, in `honey_id`
//! order. This is SentryPeer's file, not a store of ours: the one place outside the sinks and
//! store readers that opens SQLite, and it never writes.

use super::row::{ImportLimits, Row, RowError};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use std::path::Path;

/// The columns read; a table without the first four is not SentryPeer's.
const NEEDED: [&str; 4] = ["honey_id", "event_timestamp", "source_ip", "sip_message"];

/// Why a database cannot be read (rows read before the error stay imported).
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite refused the file (not a database, corrupt, locked …).
    #[error("not a readable SQLite database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A database, but without SentryPeer's `honey` table.
    #[error("not a SentryPeer database: no honey table with the columns {NEEDED:?} (found {0:?})")]
    NotSentryPeer(Vec<String>),
}

/// Reads every row of `path`'s `honey` table, handing each (with its `honey_id`) to `take`.
pub fn read(
    path: &Path,
    limits: &ImportLimits,
    take: &mut dyn FnMut(u64, Result<Row, RowError>),
) -> Result<(), DbError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let db = Connection::open_with_flags(path, flags)?;
    let mut columns = Vec::new();
    {
        let mut stmt = db.prepare("SELECT name FROM pragma_table_info('honey')")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            columns.push(r.get::<_, String>(0)?);
        }
    }
    if !NEEDED.iter().all(|c| columns.iter().any(|have| have == c)) {
        return Err(DbError::NotSentryPeer(columns));
    }
    let optional = |c: &str| if columns.iter().any(|have| have == c) { c.to_owned() } else { "NULL".to_owned() };
    let sql = format!(
        "SELECT honey_id, event_timestamp, {}, source_ip, {}, {}, {}, sip_message FROM honey ORDER BY honey_id",
        optional("created_at"),
        optional("transport_type"),
        optional("method"),
        optional("created_by_node_id"),
    );
    let mut stmt = db.prepare(&sql)?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let id = match r.get_ref(0)? {
            ValueRef::Integer(n) => u64::try_from(n).unwrap_or(0),
            _ => 0,
        };
        take(id, row_of(r, limits));
    }
    Ok(())
}

fn row_of(r: &rusqlite::Row<'_>, limits: &ImportLimits) -> Result<Row, RowError> {
    let bytes = |i: usize, field: &'static str| -> Result<Option<Vec<u8>>, RowError> {
        let value = r.get_ref(i).map_err(|_| RowError::NotText(field))?;
        let b = match value {
            ValueRef::Null => return Ok(None),
            ValueRef::Text(b) => b,
            ValueRef::Blob(b) if field == "sip_message" => b,
            _ => return Err(RowError::NotText(field)),
        };
        Row::check_len(field, b.len(), limits)?;
        Ok((!b.is_empty()).then(|| b.to_vec()))
    };
    let text = |i: usize, field: &'static str| -> Result<Option<String>, RowError> {
        bytes(i, field)?.map(|b| String::from_utf8(b).map_err(|_| RowError::NotUtf8(field))).transpose()
    };
    Ok(Row {
        timestamp: text(1, "event_timestamp")?,
        created_at_utc: text(2, "created_at")?,
        source_ip: text(3, "source_ip")?,
        destination_ip: None,
        transport: text(4, "transport_type")?,
        method: text(5, "method")?,
        node_id: text(6, "created_by_node_id")?,
        message: bytes(7, "sip_message")?,
    })
}
