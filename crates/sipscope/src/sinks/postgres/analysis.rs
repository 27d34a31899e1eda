//! Analysis runs and their results, the capture-file registry and superseded files: the same
//! operations as the SQLite store's (`sinks/sqlite/analysis.rs`, `runs.rs`), the large tables
//! (flows, hourly traffic, dialled) by binary COPY.

use super::copy::CopyIn;
use super::{pg_error, pg_opt, pg_text, PgStore};
use crate::analysis::result::{AnalysisResult, DialledRow, FingerprintRow, FlowRow, Handover, TrafficRow};
use crate::sinks::{CaptureFile, ContentDigest, FileCounts, FileStart, InterruptedRun, RunKind, RunScope, SinkError};

/// A count as PostgreSQL's bigint.
fn big(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// JSON text of a map or list of strings and numbers (which always serialises).
fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

impl PgStore {
    /// Stores one run's results at once (tests and fixtures); see the SQLite store's.
    pub fn store_analysis(
        &mut self,
        kind: &str,
        started_ns: i64,
        finished_ns: i64,
        result: &AnalysisResult,
        replace_all: bool,
    ) -> Result<i64, SinkError> {
        let kind: RunKind = kind.parse().map_err(SinkError::Writer)?;
        let scope = RunScope { kind, replace_all, file_id: None, sensor: String::new() };
        let run = self.begin_analysis_run(&scope, started_ns)?;
        self.finish_analysis_run(run, finished_ns, result, result.events)?;
        Ok(run)
    }

    /// Opens a run (after deleting every earlier run when the scope says so).
    pub fn begin_analysis_run(&mut self, scope: &RunScope, started_ns: i64) -> Result<i64, SinkError> {
        self.flush_now()?;
        let mut tx = self.client.transaction().map_err(pg_error)?;
        // Ids as SQLite's: one above the largest (so `analyze` numbers its run alike); the lock
        // keeps two writers from taking the same.
        tx.batch_execute("LOCK TABLE analysis_runs IN SHARE ROW EXCLUSIVE MODE").map_err(pg_error)?;
        if scope.replace_all {
            tx.execute("DELETE FROM analysis_runs", &[]).map_err(pg_error)?;
        }
        let after_event: i64 = tx.query_one("SELECT coalesce(max(id), 0) FROM events", &[]).map_err(pg_error)?.get(0);
        let run: i64 = tx
            .query_one(
                "INSERT INTO analysis_runs (id, kind, started_ns, file_id, sensor, owner, after_event)
                 VALUES ((SELECT coalesce(max(id), 0) + 1 FROM analysis_runs), $1, $2, $3, $4, $5, $6) RETURNING id",
                &[
                    &scope.kind.as_str(),
                    &started_ns,
                    &scope.file_id,
                    &pg_text(&scope.sensor),
                    &crate::owner::this_process(),
                    &after_event,
                ],
            )
            .map_err(pg_error)?
            .get(0);
        tx.commit().map_err(pg_error)?;
        self.current_run = Some(run);
        Ok(run)
    }

    /// Adds what a running engine handed over to its run.
    pub fn append_handover(&mut self, run: i64, rows: &Handover) -> Result<(), SinkError> {
        self.flush_now()?;
        let mut tx = self.client.transaction().map_err(pg_error)?;
        insert_flows(&mut tx, run, &rows.flows)?;
        insert_traffic(&mut tx, run, &rows.traffic, &rows.dialled)?;
        insert_fingerprints(&mut tx, run, &rows.fingerprints)?;
        tx.commit().map_err(pg_error)
    }

    /// Writes everything else of a run and closes it.
    pub fn finish_analysis_run(
        &mut self,
        run: i64,
        finished_ns: i64,
        result: &AnalysisResult,
        covered: u64,
    ) -> Result<(), SinkError> {
        self.flush_now()?;
        if self.current_run == Some(run) {
            self.current_run = None;
        }
        let mut tx = self.client.transaction().map_err(pg_error)?;
        tx.execute(
            "UPDATE analysis_runs SET finished_ns = $2, events = events + $3, flows_evicted = flows_evicted + $4,
             covered = $5 WHERE id = $1",
            &[&run, &finished_ns, &big(result.events), &big(result.flows_evicted), &big(covered)],
        )
        .map_err(pg_error)?;
        insert_flows(&mut tx, run, &result.flows)?;
        insert_traffic(&mut tx, run, &result.traffic, &result.dialled)?;
        insert_fingerprints(&mut tx, run, &result.fingerprints)?;
        // Every row by COPY: a run holds tens of thousands of stages and numbers, which one
        // statement each kept the collector's end waiting seconds for the round trips.
        let mut copy = CopyIn::start(
            &mut tx,
            "COPY stages (run_id, src_ip, node, stage, first_ns, last_ns, count, detail, samples) FROM STDIN BINARY",
        )?;
        for st in &result.stages {
            copy.rows()
                .row(9)
                .i64(run)
                .text(&st.source.to_string())
                .text(st.node.as_deref().unwrap_or(""))
                .text(st.stage)
                .i64(st.evidence.first_ns)
                .i64(st.evidence.last_ns)
                .count(st.evidence.count)
                .text(&json(&st.detail))
                .text(&json(&st.evidence.samples));
            copy.end_row()?;
        }
        copy.finish()?;
        let mut copy = CopyIn::start(
            &mut tx,
            "COPY numbers (run_id, number, e164, country, number_type, attempts, variants, sources, first_ns, last_ns,
             variant_samples, invites, country_inferred) FROM STDIN BINARY",
        )?;
        for n in &result.numbers {
            copy.rows()
                .row(13)
                .i64(run)
                .text(&n.number)
                .opt_text(n.e164.as_deref())
                .opt_text(n.country.as_deref())
                .text(&n.number_type)
                .count(n.calls)
                .count(n.variants)
                .count(n.sources)
                .i64(n.first_ns)
                .i64(n.last_ns)
                .text(&json(&n.variant_samples))
                .count(n.invites)
                .bool(n.country_inferred);
            copy.end_row()?;
        }
        copy.finish()?;
        let mut copy = CopyIn::start(
            &mut tx,
            "COPY user_agents (run_id, user_agent, class, product, messages, sources) FROM STDIN BINARY",
        )?;
        for u in &result.user_agents {
            copy.rows()
                .row(6)
                .i64(run)
                .opt_text(u.user_agent.as_deref())
                .text(&u.class)
                .opt_text(u.product.as_deref())
                .count(u.messages)
                .count(u.sources);
            copy.end_row()?;
        }
        copy.finish()?;
        let mut copy = CopyIn::start(
            &mut tx,
            "COPY sources (run_id, src_ip, first_ns, last_ns, messages, flows, nodes, tool, ua_class) FROM STDIN BINARY",
        )?;
        for so in &result.sources {
            copy.rows()
                .row(9)
                .i64(run)
                .text(&so.source.to_string())
                .i64(so.first_ns)
                .i64(so.last_ns)
                .count(so.messages)
                .count(so.flows)
                .count(so.nodes)
                .opt_text(so.tool.as_deref())
                .text(&so.ua_class);
            copy.end_row()?;
        }
        copy.finish()?;
        let mut copy = CopyIn::start(&mut tx, "COPY source_days (run_id, src_ip, day, messages) FROM STDIN BINARY")?;
        for (ip, day, n) in &result.days {
            copy.rows().row(4).i64(run).text(&ip.to_string()).i64(*day).count(*n);
            copy.end_row()?;
        }
        copy.finish()?;
        tx.commit().map_err(pg_error)
    }

    /// Unfinished runs whose writing process is gone (on this host), oldest first.
    pub fn interrupted_runs(&mut self) -> Result<Vec<InterruptedRun>, SinkError> {
        self.flush_now()?;
        let rows = self
            .client
            .query(
                "SELECT id, kind, file_id, coalesce(sensor, ''), started_ns, owner, after_event FROM analysis_runs
                 WHERE finished_ns IS NULL AND owner IS NOT NULL ORDER BY id",
                &[],
            )
            .map_err(pg_error)?;
        let mut out = Vec::new();
        for r in rows {
            let owner: String = r.get(5);
            if crate::owner::is_running(&owner) != Some(false) {
                continue;
            }
            let Ok(kind) = r.get::<_, String>(1).parse::<RunKind>() else { continue };
            out.push(InterruptedRun {
                run: r.get(0),
                kind,
                file_id: r.get(2),
                sensor: r.get(3),
                started_ns: r.get(4),
                after_event: r.get(6),
                owner,
            });
        }
        Ok(out)
    }

    /// Deletes a run and, by cascade, its rows.
    pub fn discard_run(&mut self, run: i64) -> Result<(), SinkError> {
        self.flush_now()?;
        self.client.execute("DELETE FROM analysis_runs WHERE id = $1", &[&run]).map_err(pg_error)?;
        if self.current_run == Some(run) {
            self.current_run = None;
        }
        Ok(())
    }

    /// The newest run of `kind` and `sensor` (not a file's), when it is finished and its
    /// process is gone (see `EventStore::stopped_run`).
    /// The id of the newest stored event, 0 when none (see `EventStore::last_event_id`).
    pub fn last_event_id(&mut self) -> Result<i64, SinkError> {
        self.flush_now()?;
        let row = self.client.query_one("SELECT coalesce(max(id), 0) FROM events", &[]).map_err(pg_error)?;
        Ok(row.get(0))
    }

    pub fn stopped_run(&mut self, kind: RunKind, sensor: &str) -> Result<Option<InterruptedRun>, SinkError> {
        self.flush_now()?;
        let newest = self
            .client
            .query_opt(
                "SELECT id, started_ns, after_event, owner, finished_ns IS NOT NULL FROM analysis_runs
                 WHERE kind = $1 AND coalesce(sensor, '') = $2 AND file_id IS NULL ORDER BY id DESC LIMIT 1",
                &[&kind.as_str(), &pg_text(sensor)],
            )
            .map_err(pg_error)?;
        let Some(r) = newest else { return Ok(None) };
        let (Some(owner), true) = (r.get::<_, Option<String>>(3), r.get::<_, bool>(4)) else { return Ok(None) };
        if crate::owner::is_running(&owner) != Some(false) {
            return Ok(None);
        }
        Ok(Some(InterruptedRun {
            run: r.get(0),
            kind,
            file_id: None,
            sensor: sensor.to_owned(),
            started_ns: r.get(1),
            after_event: r.get(2),
            owner,
        }))
    }

    /// Takes over an interrupted or stopped run (see `EventStore::continue_run`), as SQLite's store does:
    /// its alerts parked under a placeholder run while it is deleted (its rows by cascade) and
    /// inserted again under the same id, owned by this process; one transaction.
    pub fn continue_run(&mut self, run: &InterruptedRun) -> Result<bool, SinkError> {
        self.flush_now()?;
        let mut tx = self.client.transaction().map_err(pg_error)?;
        tx.batch_execute("LOCK TABLE analysis_runs IN SHARE ROW EXCLUSIVE MODE").map_err(pg_error)?;
        let found = tx
            .query_opt(
                "SELECT id FROM analysis_runs WHERE id = $1 AND owner = $2 AND file_id IS NULL AND started_ns = $3",
                &[&run.run, &run.owner, &run.started_ns],
            )
            .map_err(pg_error)?;
        if found.is_none() {
            return Ok(false);
        }
        let parked: i64 = tx
            .query_one(
                "INSERT INTO analysis_runs (id, kind, started_ns, finished_ns)
                 VALUES ((SELECT coalesce(max(id), 0) + 1 FROM analysis_runs), $1, $2, $2) RETURNING id",
                &[&run.kind.as_str(), &run.started_ns],
            )
            .map_err(pg_error)?
            .get(0);
        tx.execute("UPDATE alerts SET run_id = $2 WHERE run_id = $1", &[&run.run, &parked]).map_err(pg_error)?;
        tx.execute("DELETE FROM analysis_runs WHERE id = $1", &[&run.run]).map_err(pg_error)?;
        tx.execute(
            "INSERT INTO analysis_runs (id, kind, started_ns, sensor, owner, after_event) VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &run.run,
                &run.kind.as_str(),
                &run.started_ns,
                &pg_text(&run.sensor),
                &crate::owner::this_process(),
                &run.after_event,
            ],
        )
        .map_err(pg_error)?;
        tx.execute("UPDATE alerts SET run_id = $1 WHERE run_id = $2", &[&run.run, &parked]).map_err(pg_error)?;
        tx.execute("DELETE FROM analysis_runs WHERE id = $1", &[&parked]).map_err(pg_error)?;
        tx.commit().map_err(pg_error)?;
        self.current_run = Some(run.run);
        Ok(true)
    }

    /// Registers a capture file by its content hash.
    pub fn begin_file(&mut self, file: &CaptureFile, now_ns: i64, force: bool) -> Result<FileStart, SinkError> {
        let CaptureFile { sha256, path, size, sensor } = file;
        self.flush_now()?;
        let mut tx = self.client.transaction().map_err(pg_error)?;
        let existing = tx
            .query_opt("SELECT id, status FROM ingested_files WHERE sha256 = $1 FOR UPDATE", &[&pg_text(sha256)])
            .map_err(pg_error)?;
        let start = match existing.map(|r| (r.get::<_, i64>(0), r.get::<_, String>(1))) {
            Some((id, status)) if status == "complete" && !force => FileStart::AlreadyIngested { id },
            Some((id, _)) => {
                let replaced = tx.execute("DELETE FROM events WHERE file_id = $1", &[&id]).map_err(pg_error)?;
                self.event_ids.forget();
                super::counts::add(&mut tx, -i64::try_from(replaced).unwrap_or(i64::MAX))?;
                tx.execute("DELETE FROM analysis_runs WHERE file_id = $1", &[&id]).map_err(pg_error)?;
                tx.execute(
                    "UPDATE ingested_files SET path = $2, sensor = $3, started_ns = $4, finished_ns = NULL,
                     status = 'partial', packets = NULL, messages = NULL, skipped = NULL, records = NULL,
                     content_sha256 = NULL, superseded_by = NULL WHERE id = $1",
                    &[&id, &pg_text(path), &pg_text(sensor), &now_ns],
                )
                .map_err(pg_error)?;
                FileStart::Ingest { id, replaced }
            }
            None => {
                let id: i64 = tx
                    .query_one(
                        "INSERT INTO ingested_files (sha256, path, size, sensor, started_ns, status)
                         VALUES ($1, $2, $3, $4, $5, 'partial') RETURNING id",
                        &[&pg_text(sha256), &pg_text(path), &big(*size), &pg_text(sensor), &now_ns],
                    )
                    .map_err(pg_error)?
                    .get(0);
                FileStart::Ingest { id, replaced: 0 }
            }
        };
        tx.commit().map_err(pg_error)?;
        Ok(start)
    }

    /// Marks a file complete once every event read from it is durable.
    pub fn finish_file(&mut self, id: i64, counts: FileCounts, now_ns: i64) -> Result<(), SinkError> {
        let FileCounts { packets, messages, skipped, content } = counts;
        self.flush_now()?;
        self.client
            .execute(
                "UPDATE ingested_files SET status = 'complete', finished_ns = $2, packets = $3, messages = $4,
                 skipped = $5, records = $6, content_sha256 = $7 WHERE id = $1",
                &[
                    &id,
                    &now_ns,
                    &big(packets),
                    &big(messages),
                    &big(skipped),
                    &content.map(|c| big(c.records)),
                    &content.map(|c| hex::encode(c.sha256)),
                ],
            )
            .map_err(pg_error)?;
        Ok(())
    }

    /// The content digests of complete, not superseded files.
    pub fn known_contents(&mut self) -> Result<Vec<(i64, ContentDigest)>, SinkError> {
        self.flush_now()?;
        let rows = self
            .client
            .query(
                "SELECT id, records, content_sha256 FROM ingested_files
                 WHERE status = 'complete' AND superseded_by IS NULL AND records IS NOT NULL
                   AND content_sha256 IS NOT NULL ORDER BY id",
                &[],
            )
            .map_err(pg_error)?;
        let mut out = Vec::new();
        for r in rows {
            let (id, records, digest): (i64, i64, String) = (r.get(0), r.get(1), r.get(2));
            let mut sha256 = [0u8; 32];
            if hex::decode_to_slice(&digest, &mut sha256).is_ok() {
                out.push((id, ContentDigest { records: records.max(0) as u64, sha256 }));
            }
        }
        Ok(out)
    }

    /// Deletes file `old`'s events and runs and marks it superseded by `by`.
    pub fn supersede_file(&mut self, old: i64, by: i64) -> Result<u64, SinkError> {
        self.flush_now()?;
        let mut tx = self.client.transaction().map_err(pg_error)?;
        let exists = tx.query_opt("SELECT id FROM ingested_files WHERE id = $1", &[&old]).map_err(pg_error)?;
        if exists.is_none() || old == by {
            return Ok(0);
        }
        let deleted = tx.execute("DELETE FROM events WHERE file_id = $1", &[&old]).map_err(pg_error)?;
        self.event_ids.forget();
        super::counts::add(&mut tx, -i64::try_from(deleted).unwrap_or(i64::MAX))?;
        tx.execute("DELETE FROM analysis_runs WHERE file_id = $1", &[&old]).map_err(pg_error)?;
        tx.execute("UPDATE ingested_files SET superseded_by = $2 WHERE id = $1", &[&old, &by]).map_err(pg_error)?;
        tx.commit().map_err(pg_error)?;
        Ok(deleted)
    }
}

/// Fingerprint rows; one handed over before gets its flows and packets added.
fn insert_fingerprints(tx: &mut postgres::Transaction<'_>, run: i64, rows: &[FingerprintRow]) -> Result<(), SinkError> {
    if rows.is_empty() {
        return Ok(());
    }
    let st = tx
        .prepare(
            "INSERT INTO fingerprints (run_id, id, text, flows, packets, tool, variant, verdict, similarity)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (run_id, id) DO UPDATE SET flows = fingerprints.flows + excluded.flows,
               packets = fingerprints.packets + excluded.packets, tool = excluded.tool, variant = excluded.variant,
               verdict = excluded.verdict, similarity = excluded.similarity",
        )
        .map_err(pg_error)?;
    for f in rows {
        tx.execute(
            &st,
            &[
                &run,
                &pg_text(&f.id),
                &pg_text(&f.text),
                &big(f.flows),
                &big(f.packets),
                &pg_opt(&f.tool),
                &pg_opt(&f.variant),
                &f.verdict,
                &f.similarity,
            ],
        )
        .map_err(pg_error)?;
    }
    Ok(())
}

fn insert_flows(client: &mut postgres::Transaction<'_>, run: i64, flows: &[FlowRow]) -> Result<(), SinkError> {
    if flows.is_empty() {
        return Ok(());
    }
    let mut copy = CopyIn::start(
        client,
        "COPY flows (run_id, src_ip, first_ns, last_ns, packets, bytes, packets_per_s, methods, destinations,
         dest_ports, source_ports, users, dialled, responses, fingerprint, tool, variant, tool_verdict,
         similarity, strategy, ua_class, user_agent) FROM STDIN BINARY",
    )?;
    for r in flows {
        copy.rows()
            .row(22)
            .i64(run)
            .text(&r.source.to_string())
            .i64(r.first_ns)
            .i64(r.last_ns)
            .count(r.packets)
            .count(r.bytes)
            .f64(r.packets_per_second)
            .text(&json(&r.methods))
            .count(r.destinations)
            .count(r.dest_ports)
            .text(&r.source_ports)
            .count(r.users)
            .count(r.dialled)
            .text(&json(&r.responses))
            .opt_text(r.fingerprint.as_deref())
            .opt_text(r.tool.as_deref())
            .opt_text(r.variant.as_deref())
            .text(&r.tool_verdict)
            .f64(r.similarity)
            .text(&r.strategy)
            .text(&r.ua_class)
            .opt_text(r.user_agent.as_deref());
        copy.end_row()?;
    }
    copy.finish()?;
    Ok(())
}

fn insert_traffic(
    client: &mut postgres::Transaction<'_>,
    run: i64,
    traffic: &[TrafficRow],
    dialled: &[DialledRow],
) -> Result<(), SinkError> {
    if traffic.is_empty() && dialled.is_empty() {
        return Ok(());
    }
    // Through the staging tables, so that the rollups are filled from exactly these rows.
    super::rollups::stage(client)?;
    if !traffic.is_empty() {
        let mut copy = CopyIn::start(
            client,
            "COPY traffic_in (run_id, hour, node, src_ip, kind, method, direction, user_agent, messages, first_ns,
             last_ns) FROM STDIN BINARY",
        )?;
        for r in traffic {
            copy.rows()
                .row(11)
                .i64(run)
                .i64(r.hour)
                .text(r.node.as_deref().unwrap_or(""))
                .text(&r.source.to_string())
                .text(r.kind)
                .opt_text(r.method.as_deref())
                .text(r.direction)
                .opt_text(r.user_agent.as_deref())
                .count(r.messages)
                .i64(r.first_ns)
                .i64(r.last_ns);
            copy.end_row()?;
        }
        copy.finish()?;
    }
    if !dialled.is_empty() {
        let mut copy = CopyIn::start(
            client,
            "COPY dialled_in (run_id, hour, node, src_ip, ruri_user, number_country, invites, first_ns, last_ns,
             number) FROM STDIN BINARY",
        )?;
        for d in dialled {
            copy.rows()
                .row(10)
                .i64(run)
                .i64(d.hour)
                .text(d.node.as_deref().unwrap_or(""))
                .text(&d.source.to_string())
                .text(&d.user)
                .opt_text(d.number_country.as_deref())
                .count(d.invites)
                .i64(d.first_ns)
                .i64(d.last_ns)
                .opt_text(d.number.as_deref());
            copy.end_row()?;
        }
        copy.finish()?;
    }
    super::rollups::move_staged(client)
}
