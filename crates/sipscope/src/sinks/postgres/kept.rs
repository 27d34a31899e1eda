//! [`ReportKeeper`] over PostgreSQL: the `kept_reports` table (migration 5), on a connection
//! of its own (the REST API's), one short transaction per report kept.

use super::{connect, pg_error, pg_text, schema};
use crate::sinks::kept::{KeptReport, ReportKeeper, MAX_KEPT_BYTES, MAX_KEPT_REPORTS};
use crate::sinks::SinkError;
use postgres::Client;

/// The kept reports of one PostgreSQL store, opened for writing.
pub struct PgReportKeeper {
    client: Client,
}

impl PgReportKeeper {
    /// Connects to `url` and creates or migrates the schema.
    pub fn open(url: &str) -> Result<PgReportKeeper, SinkError> {
        let mut client = connect(url)?;
        schema::migrate(&mut client)?;
        Ok(PgReportKeeper { client })
    }
}

impl ReportKeeper for PgReportKeeper {
    fn keep(&mut self, r: &KeptReport) -> Result<bool, SinkError> {
        if r.body.len() > MAX_KEPT_BYTES {
            return Ok(false);
        }
        let mut tx = self.client.transaction().map_err(pg_error)?;
        tx.execute(
            "INSERT INTO kept_reports (key, format, built_ns, body) VALUES ($1, $2, $3, $4)
             ON CONFLICT (key) DO UPDATE SET format = excluded.format, built_ns = excluded.built_ns,
                 body = excluded.body",
            &[&pg_text(&r.key), &pg_text(&r.format), &r.built_ns, &pg_text(&r.body)],
        )
        .map_err(pg_error)?;
        tx.execute(
            "DELETE FROM kept_reports WHERE key NOT IN
                 (SELECT key FROM kept_reports ORDER BY built_ns DESC, key COLLATE \"C\" LIMIT $1)",
            &[&(MAX_KEPT_REPORTS as i64)],
        )
        .map_err(pg_error)?;
        tx.commit().map_err(pg_error)?;
        Ok(true)
    }
}
