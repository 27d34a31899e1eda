//! Reports kept across restarts: the REST API keeps the last whole reports it built ahead of
//! requests (the overview, the dashboard's quick ranges) in the store, so that a server started
//! again on the same store answers its first request at once from the last one, marked with
//! when it was built, while it builds a fresh one (docs/api.md "Reports kept across restarts").
//! A small table in the store (`kept_reports`, SQLite's migration 16, PostgreSQL's 5) rather
//! than a file: a PostgreSQL store has no directory, and a report kept in the store cannot be
//! mistaken for another store's. Written through [`ReportKeeper`] here (the API's only writes
//! besides decisions), read back through `StoreReader::kept_reports`.

use super::SinkError;

/// Reports kept in one store at most (the newest by their build time stay): the overview,
/// campaigns of every wide range, three quick ranges, and room for the quick ranges of the
/// hour before.
pub const MAX_KEPT_REPORTS: usize = 8;

/// Bytes of one kept report at most; a larger one is not kept (the overview over 10 M events
/// is about 70 kB).
pub const MAX_KEPT_BYTES: usize = 4 * 1024 * 1024;

/// One kept report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptReport {
    /// Which answer it is (the API's cache key: section, range, nodes).
    pub key: String,
    /// What made it: a report is served again only by a server of the same format (the
    /// build, the report's format version, the GeoIP databases).
    pub format: String,
    /// When its build began, ns: it holds what the store held then (at least).
    pub built_ns: i64,
    /// The JSON served.
    pub body: String,
}

/// Writes kept reports.
pub trait ReportKeeper: Send {
    /// Keeps `report` (replacing the one kept under its key), then drops all but the
    /// [`MAX_KEPT_REPORTS`] newest by `built_ns` (reports of another format among them), in one
    /// transaction. A body over [`MAX_KEPT_BYTES`] is not kept (`Ok(false)`).
    fn keep(&mut self, report: &KeptReport) -> Result<bool, SinkError>;
}
