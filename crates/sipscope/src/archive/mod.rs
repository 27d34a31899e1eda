//! Archives for big-data engines: a store's events and its analysis tables written as
//! Parquet files that DuckDB, Spark, Trino and pandas/pyarrow read as they are (seed 004
//! analysed telescope archives of 822 M packets; a store is the wrong tool for that, a
//! columnar archive the right one). Reads through `StoreReader` only, so it exports SQLite and
//! PostgreSQL stores alike. Schemas in docs/export.md.

pub mod columns;
pub mod events;
pub mod tables;

use crate::reports::model::Report;
use crate::store::{Filter, StoreError, StoreReader};

/// Why an archive could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The Parquet writer refused.
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// A file could not be created or written.
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
    /// Rows did not fit the schema (a bug in this module, reported rather than written).
    #[error("row shape: {0}")]
    Shape(String),
}

/// What an archive holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Archived {
    /// (file name in the output directory, rows).
    pub files: Vec<(String, u64)>,
}

/// Writes `events.parquet` (the events of `filter`) and, when `report` is given, one file per
/// table of it into `dir`, which must exist and hold none of these files.
pub fn write(
    store: &dyn StoreReader,
    filter: &Filter,
    report: Option<&Report>,
    dir: &std::path::Path,
) -> Result<Archived, ArchiveError> {
    let mut archived = Archived::default();
    let events = events::write(store, filter, &dir.join("events.parquet"))?;
    archived.files.push(("events.parquet".to_owned(), events));
    if let Some(report) = report {
        archived.files.extend(tables::write(report, dir)?);
    }
    Ok(archived)
}
