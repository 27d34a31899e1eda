//! Writing analysis results: each run's rows under its id in `analysis_runs`.

use super::Store;
use crate::analysis::result::{AnalysisResult, DialledRow, Handover, TrafficRow};
use crate::sinks::{RunKind, RunScope, SinkError};
use rusqlite::params;

impl Store {
    /// Stores one run's results at once (tests and fixtures that analysed in memory);
    /// `replace_all` first deletes every earlier run. Its results cover every message it
    /// analysed. Returns the run id.
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

    /// Opens a run of the engine (after deleting every earlier run when the scope says so);
    /// events written until it finishes are stored under it.
    pub fn begin_analysis_run(&mut self, scope: &RunScope, started_ns: i64) -> Result<i64, SinkError> {
        self.flush_now()?;
        let tx = self.conn.transaction()?;
        if scope.replace_all {
            tx.execute("DELETE FROM analysis_runs", [])?;
        }
        let after_event: i64 = tx.query_row("SELECT coalesce(max(id), 0) FROM events", [], |r| r.get(0))?;
        tx.execute(
            "INSERT INTO analysis_runs (kind, started_ns, file_id, sensor, owner, after_event)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                scope.kind.as_str(),
                started_ns,
                scope.file_id,
                scope.sensor,
                crate::owner::this_process(),
                after_event
            ],
        )?;
        let run = tx.last_insert_rowid();
        tx.commit()?;
        self.current_run = Some(run);
        Ok(run)
    }

    /// Adds what a running engine handed over (closed flows, traffic of hours that ended) to
    /// its run: long runs store rows as they go, so memory stays bounded.
    pub fn append_handover(&mut self, run: i64, rows: &Handover) -> Result<(), SinkError> {
        self.flush_now()?;
        let tx = self.conn.transaction()?;
        insert_flows(&tx, run, &rows.flows)?;
        insert_traffic(&tx, run, &rows.traffic, &rows.dialled)?;
        insert_fingerprints(&tx, run, &rows.fingerprints)?;
        tx.commit()?;
        Ok(())
    }

    /// Writes everything else of a run (and its remaining flows) and closes it.
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
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE analysis_runs SET finished_ns = ?2, events = events + ?3, flows_evicted = flows_evicted + ?4,
             covered = ?5 WHERE id = ?1",
            params![run, finished_ns, result.events as i64, result.flows_evicted as i64, covered as i64],
        )?;
        insert_flows(&tx, run, &result.flows)?;
        insert_traffic(&tx, run, &result.traffic, &result.dialled)?;
        {
            insert_fingerprints(&tx, run, &result.fingerprints)?;
            let mut st = tx.prepare(
                "INSERT INTO stages (run_id, src_ip, node, stage, first_ns, last_ns, count, detail, samples)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for s in &result.stages {
                st.execute(params![
                    run,
                    s.source.to_string(),
                    s.node.as_deref().unwrap_or(""),
                    s.stage,
                    s.evidence.first_ns,
                    s.evidence.last_ns,
                    s.evidence.count as i64,
                    json(&s.detail),
                    json(&s.evidence.samples),
                ])?;
            }
            let mut st = tx.prepare(
                "INSERT INTO numbers (run_id, number, e164, country, number_type, attempts, variants, sources, first_ns,
                 last_ns, variant_samples, invites, country_inferred)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?;
            for n in &result.numbers {
                st.execute(params![
                    run,
                    n.number,
                    n.e164,
                    n.country,
                    n.number_type,
                    n.calls as i64,
                    n.variants as i64,
                    n.sources as i64,
                    n.first_ns,
                    n.last_ns,
                    json(&n.variant_samples),
                    n.invites as i64,
                    n.country_inferred,
                ])?;
            }
            let mut st = tx.prepare(
                "INSERT INTO user_agents (run_id, user_agent, class, product, messages, sources)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for u in &result.user_agents {
                st.execute(params![run, u.user_agent, u.class, u.product, u.messages as i64, u.sources as i64])?;
            }
            let mut st = tx.prepare(
                "INSERT INTO sources (run_id, src_ip, first_ns, last_ns, messages, flows, nodes, tool, ua_class)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for s in &result.sources {
                st.execute(params![
                    run,
                    s.source.to_string(),
                    s.first_ns,
                    s.last_ns,
                    s.messages as i64,
                    s.flows as i64,
                    s.nodes as i64,
                    s.tool,
                    s.ua_class
                ])?;
            }
            let mut st =
                tx.prepare("INSERT INTO source_days (run_id, src_ip, day, messages) VALUES (?1, ?2, ?3, ?4)")?;
            for (ip, day, n) in &result.days {
                st.execute(params![run, ip.to_string(), day, *n as i64])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

/// Fingerprint rows; a fingerprint handed over before (its table filled) gets its flows and
/// packets added, and the latest tool match.
fn insert_fingerprints(
    tx: &rusqlite::Transaction<'_>,
    run: i64,
    fingerprints: &[crate::analysis::result::FingerprintRow],
) -> Result<(), SinkError> {
    let mut st = tx.prepare(
        "INSERT INTO fingerprints (run_id, id, text, flows, packets, tool, variant, verdict, similarity)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (run_id, id) DO UPDATE SET flows = flows + excluded.flows,
           packets = packets + excluded.packets, tool = excluded.tool, variant = excluded.variant,
           verdict = excluded.verdict, similarity = excluded.similarity",
    )?;
    for f in fingerprints {
        st.execute(params![
            run,
            f.id,
            f.text,
            f.flows as i64,
            f.packets as i64,
            f.tool,
            f.variant,
            f.verdict,
            f.similarity
        ])?;
    }
    Ok(())
}

fn insert_flows(
    tx: &rusqlite::Transaction<'_>,
    run: i64,
    flows: &[crate::analysis::result::FlowRow],
) -> Result<(), SinkError> {
    let mut st = tx.prepare(
                "INSERT INTO flows (run_id, src_ip, first_ns, last_ns, packets, bytes, packets_per_s, methods, destinations,
                 dest_ports, source_ports, users, dialled, responses, fingerprint, tool, variant, tool_verdict, similarity,
                 strategy, ua_class, user_agent)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)",
            )?;
    for f in flows {
        st.execute(params![
            run,
            f.source.to_string(),
            f.first_ns,
            f.last_ns,
            f.packets as i64,
            f.bytes as i64,
            f.packets_per_second,
            json(&f.methods),
            f.destinations as i64,
            f.dest_ports as i64,
            f.source_ports,
            f.users as i64,
            f.dialled as i64,
            json(&f.responses),
            f.fingerprint,
            f.tool,
            f.variant,
            f.tool_verdict,
            f.similarity,
            f.strategy,
            f.ua_class,
            f.user_agent,
        ])?;
    }
    Ok(())
}

fn insert_traffic(
    tx: &rusqlite::Transaction<'_>,
    run: i64,
    traffic: &[TrafficRow],
    dialled: &[DialledRow],
) -> Result<(), SinkError> {
    if traffic.is_empty() && dialled.is_empty() {
        return Ok(());
    }
    let marks = super::rollups::marks(tx)?;
    let mut st = tx.prepare(
        "INSERT INTO traffic (run_id, hour, node, src_ip, kind, method, direction, user_agent, messages, first_ns,
         last_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    for t in traffic {
        st.execute(params![
            run,
            t.hour,
            t.node.as_deref().unwrap_or(""),
            t.source.to_string(),
            t.kind,
            t.method,
            t.direction,
            t.user_agent,
            t.messages as i64,
            t.first_ns,
            t.last_ns
        ])?;
    }
    let mut st = tx.prepare(
        "INSERT INTO dialled (run_id, hour, node, src_ip, ruri_user, number_country, invites, first_ns, last_ns, number)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    for d in dialled {
        st.execute(params![
            run,
            d.hour,
            d.node.as_deref().unwrap_or(""),
            d.source.to_string(),
            d.user,
            d.number_country,
            d.invites as i64,
            d.first_ns,
            d.last_ns,
            d.number
        ])?;
    }
    super::rollups::add_since(tx, marks)?;
    Ok(())
}

/// JSON text of a map or list of strings and numbers (which always serialises).
fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}
