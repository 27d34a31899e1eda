//! The number of stored events, kept rather than counted: `count(*)` over `events` reads every
//! partition (seconds over 10 M events before VACUUM), and reports ask for it each time (to
//! compare with what the analysis covers). `event_counts` holds one row per writing process
//! (so that writers never wait on each other's row); every insert and delete of events adds
//! its signed count to its writer's row in the same transaction, and readers sum the rows.
//! Migration 4 starts it from a count of the events stored then.

use super::pg_error;
use crate::sinks::SinkError;
use postgres::GenericClient;
use std::sync::OnceLock;

/// This process's row: its owner text (host:pid:start), or a fixed name when that is unknown.
fn writer() -> &'static str {
    static WRITER: OnceLock<String> = OnceLock::new();
    WRITER.get_or_init(|| crate::owner::this_process().unwrap_or_else(|| "writer".into()))
}

/// Adds `delta` stored events (negative: deleted) in the caller's transaction.
pub(super) fn add(client: &mut impl GenericClient, delta: i64) -> Result<(), SinkError> {
    if delta == 0 {
        return Ok(());
    }
    client
        .execute(
            "INSERT INTO event_counts (writer, events) VALUES ($1, $2)
             ON CONFLICT (writer) DO UPDATE SET events = event_counts.events + excluded.events",
            &[&writer(), &delta],
        )
        .map_err(pg_error)?;
    Ok(())
}
