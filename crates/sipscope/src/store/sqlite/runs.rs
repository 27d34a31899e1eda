//! Reads of `analysis_runs`: how far the analysis results follow the stored events, so that
//! a report says when they do not (an interrupted run, events stored without analysis, events
//! deleted after `sipscope analyze`).

use super::Result;
use crate::store::rows::AnalysisCoverage;
use rusqlite::Connection;

pub(super) fn coverage(conn: &Connection) -> Result<AnalysisCoverage> {
    let mut c = AnalysisCoverage {
        // Kept by the writer (`sinks/sqlite/rollups.rs`), not counted.
        events: conn.query_row("SELECT coalesce((SELECT events FROM event_count), 0)", [], |r| r.get(0))?,
        analysed: conn.query_row(
            "SELECT coalesce(sum(covered), 0) FROM analysis_runs WHERE finished_ns IS NOT NULL",
            [],
            |r| r.get(0),
        )?,
        ..AnalysisCoverage::default()
    };
    let mut st = conn.prepare("SELECT id, owner, after_event FROM analysis_runs WHERE finished_ns IS NULL")?;
    let unfinished = st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?, r.get(2)?)))?;
    for run in unfinished {
        let (id, owner, after_event): (i64, Option<String>, i64) = run?;
        // A run that names no process was written before schema 6: whatever wrote it is gone.
        let gone = owner.as_deref().is_none_or(|o| crate::owner::is_running(o) == Some(false));
        if gone {
            c.interrupted_runs += 1;
            c.interrupted_events +=
                conn.query_row("SELECT count(*) FROM events WHERE id > ?1 AND run_id = ?2", [after_event, id], |r| {
                    r.get::<_, i64>(0)
                })?;
        } else {
            c.running_runs += 1;
        }
    }
    Ok(c)
}
