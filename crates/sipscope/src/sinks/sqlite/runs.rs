//! The store's side of keeping analysis results in step with the events: finding runs that a
//! gone process left unfinished, deleting a run or taking it over to continue it, and the content registry of capture files (a
//! file whose records another file contains is superseded by it, events and runs included).

use super::Store;
use crate::sinks::{ContentDigest, InterruptedRun, RunKind, SinkError};
use rusqlite::{params, OptionalExtension};

impl Store {
    /// Unfinished runs whose writing process is gone (on this host), oldest first. Runs from
    /// before schema 6 name no process and are left alone (reports flag them).
    pub fn interrupted_runs(&mut self) -> Result<Vec<InterruptedRun>, SinkError> {
        self.flush_now()?;
        let mut st = self.conn.prepare(
            "SELECT id, kind, file_id, coalesce(sensor, ''), started_ns, owner, after_event FROM analysis_runs
             WHERE finished_ns IS NULL AND owner IS NOT NULL ORDER BY id",
        )?;
        let rows = st.query_map([], |r| {
            let head = (r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get(2)?, r.get(3)?);
            Ok((head, r.get(4)?, r.get::<_, String>(5)?, r.get(6)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let ((run, kind, file_id, sensor), started_ns, owner, after_event) = row?;
            if crate::owner::is_running(&owner) != Some(false) {
                continue;
            }
            // A kind this build does not know was written by a newer one: not ours to judge.
            let Ok(kind) = kind.parse::<RunKind>() else { continue };
            out.push(InterruptedRun { run, kind, file_id, sensor, started_ns, after_event, owner });
        }
        Ok(out)
    }

    /// Deletes a run and, by cascade, its rows. Its events stay (they no longer name a run
    /// that exists once this one is gone).
    pub fn discard_run(&mut self, run: i64) -> Result<(), SinkError> {
        self.flush_now()?;
        self.conn.execute("DELETE FROM analysis_runs WHERE id = ?1", [run])?;
        if self.current_run == Some(run) {
            self.current_run = None;
        }
        Ok(())
    }

    /// The id of the newest stored event, 0 when none (see `EventStore::last_event_id`).
    pub fn last_event_id(&mut self) -> Result<i64, SinkError> {
        self.flush_now()?;
        Ok(self.conn.query_row("SELECT coalesce(max(id), 0) FROM events", [], |r| r.get(0))?)
    }

    /// The newest run of `kind` and `sensor` (not a file's), when it is finished and its
    /// process is gone (see `EventStore::stopped_run`).
    pub fn stopped_run(&mut self, kind: RunKind, sensor: &str) -> Result<Option<InterruptedRun>, SinkError> {
        self.flush_now()?;
        let newest = self
            .conn
            .query_row(
                "SELECT id, file_id, started_ns, after_event, owner, finished_ns IS NOT NULL FROM analysis_runs
                 WHERE kind = ?1 AND coalesce(sensor, '') = ?2 AND file_id IS NULL ORDER BY id DESC LIMIT 1",
                params![kind.as_str(), sensor],
                |r| {
                    let head: (i64, Option<i64>, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
                    Ok((head, r.get::<_, Option<String>>(4)?, r.get::<_, bool>(5)?))
                },
            )
            .optional()?;
        let Some(((run, file_id, started_ns, after_event), Some(owner), true)) = newest else { return Ok(None) };
        if crate::owner::is_running(&owner) != Some(false) {
            return Ok(None);
        }
        Ok(Some(InterruptedRun { run, kind, file_id, sensor: sensor.to_owned(), started_ns, after_event, owner }))
    }

    /// Takes over an interrupted or stopped run (see `EventStore::continue_run`): in one transaction its
    /// alerts are parked under a placeholder run, the run is deleted (its rows by cascade) and
    /// inserted again under the same id, owned by this process, and the alerts come back to it.
    /// Its events keep naming it: their ids and the run's `after_event` do not change.
    pub fn continue_run(&mut self, run: &InterruptedRun) -> Result<bool, SinkError> {
        self.flush_now()?;
        let tx = self.conn.transaction()?;
        let found: Option<i64> = tx
            .query_row(
                "SELECT id FROM analysis_runs WHERE id = ?1 AND owner = ?2 AND file_id IS NULL AND started_ns = ?3",
                params![run.run, run.owner, run.started_ns],
                |r| r.get(0),
            )
            .optional()?;
        if found.is_none() {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO analysis_runs (kind, started_ns, finished_ns) VALUES (?1, ?2, ?2)",
            params![run.kind.as_str(), run.started_ns],
        )?;
        let parked = tx.last_insert_rowid();
        tx.execute("UPDATE alerts SET run_id = ?2 WHERE run_id = ?1", [run.run, parked])?;
        tx.execute("DELETE FROM analysis_runs WHERE id = ?1", [run.run])?;
        tx.execute(
            "INSERT INTO analysis_runs (id, kind, started_ns, sensor, owner, after_event) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![run.run, run.kind.as_str(), run.started_ns, run.sensor, crate::owner::this_process(), run.after_event],
        )?;
        tx.execute("UPDATE alerts SET run_id = ?1 WHERE run_id = ?2", [run.run, parked])?;
        tx.execute("DELETE FROM analysis_runs WHERE id = ?1", [parked])?;
        tx.commit()?;
        self.current_run = Some(run.run);
        Ok(true)
    }

    /// The content digests of complete, not superseded files.
    pub fn known_contents(&mut self) -> Result<Vec<(i64, ContentDigest)>, SinkError> {
        self.flush_now()?;
        let mut st = self.conn.prepare(
            "SELECT id, records, content_sha256 FROM ingested_files
             WHERE status = 'complete' AND superseded_by IS NULL AND records IS NOT NULL
               AND content_sha256 IS NOT NULL",
        )?;
        let rows = st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, records, hex_digest) = row?;
            let mut sha256 = [0u8; 32];
            // A digest that does not decode was not written by sipscope: it matches nothing.
            if hex::decode_to_slice(&hex_digest, &mut sha256).is_ok() {
                out.push((id, ContentDigest { records: records.max(0) as u64, sha256 }));
            }
        }
        Ok(out)
    }

    /// Deletes file `old`'s events and analysis runs (its records are all in file `by`) and
    /// marks it superseded, in one transaction. Returns the events deleted.
    pub fn supersede_file(&mut self, old: i64, by: i64) -> Result<u64, SinkError> {
        self.flush_now()?;
        let tx = self.conn.transaction()?;
        let exists: Option<i64> =
            tx.query_row("SELECT id FROM ingested_files WHERE id = ?1", [old], |r| r.get(0)).optional()?;
        if exists.is_none() || old == by {
            return Ok(0);
        }
        let deleted = tx.execute("DELETE FROM events WHERE file_id = ?1", [old])? as u64;
        self.event_ids.forget();
        super::rollups::count_events(&tx, -i64::try_from(deleted).unwrap_or(i64::MAX))?;
        tx.execute("DELETE FROM analysis_runs WHERE file_id = ?1", [old])?;
        tx.execute("UPDATE ingested_files SET superseded_by = ?2 WHERE id = ?1", params![old, by])?;
        tx.commit()?;
        Ok(deleted)
    }
}
