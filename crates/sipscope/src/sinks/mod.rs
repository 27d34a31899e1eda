//! Where events go. Each sink is a folder behind [`EventSink`]; the SQLite store is the
//! embedded default.

pub mod sqlite;

use crate::event::fields::SipFields;
use crate::event::SipEvent;

/// A failure to store or forward events.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// The SQLite store failed.
    #[error("SQLite store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The writer thread of a background store stopped.
    #[error("{0}")]
    Writer(String),
    /// The store was written by a newer sipscope.
    #[error("the store has schema version {found}; this sipscope knows up to {known}")]
    NewerSchema {
        /// Version found in the file.
        found: i64,
        /// Newest version this build knows.
        known: i64,
    },
}

/// Consumes events in order. Implementations batch as they see fit; [`EventSink::flush`] makes
/// everything written so far durable.
pub trait EventSink {
    /// Accepts one event with its extracted fields.
    fn write(&mut self, event: &SipEvent, fields: &SipFields) -> Result<(), SinkError>;
    /// Makes every accepted event durable.
    fn flush(&mut self) -> Result<(), SinkError>;
    /// Keeps what the analysis engine handed over before finishing (closed flows, traffic of
    /// hours that ended), under its run `run`. Sinks that keep no analysis ignore it.
    fn store_handover(&mut self, run: i64, rows: crate::analysis::result::Handover) -> Result<(), SinkError> {
        let _ = (run, rows);
        Ok(())
    }
}
