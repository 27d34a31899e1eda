//! The store as a source: stored events read back into the pipeline, each with its stored
//! node and nothing stored again. `sipscope analyze` replays every event into one run that
//! replaces all others; recovery replays the events of a run that a gone process left
//! unfinished (killed, out of memory, power lost) into a finished run that takes its place, so
//! the analysis results follow the events again.
//!
//! Recovery runs before a writing command (ingest, capture, honeypot) opens its own pipeline.
//! A run of a capture file is not replayed: its file is partial, and ingesting it again
//! replaces its events and its run together; until then the run is discarded and reports say
//! that the file's events are not analysed.

use crate::analysis::engine::AnalysisConfig;
use crate::event::SipEvent;
use crate::nodes::Nodes;
use crate::pipeline::{Arrival, EventsMode, NodeOf, Pipeline, PipelineSettings, Unparsed};
use crate::rules::RuleSet;
use crate::sinks::{InterruptedRun, RunKind, SinkConfig, SinkError};
use crate::store::{SqliteReader, StoreError, StoreReader};
use std::path::Path;
use std::sync::Arc;

/// Why a replay failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// Writing the results failed.
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// Reading the events failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Settings of a pipeline that replays stored events for a run of `kind`, with `rules` (their
/// alerts are stored again under the new run: those of the runs it replaces went with them).
pub fn settings(
    kind: RunKind,
    replace_all: bool,
    sensor: &str,
    analysis: AnalysisConfig,
    rules: Option<Arc<RuleSet>>,
) -> PipelineSettings {
    let mut settings = PipelineSettings::new(sensor.to_owned(), Nodes::default(), kind);
    settings.run = (kind, replace_all);
    settings.events = EventsMode::None;
    settings.unparsed = Unparsed::Keep;
    settings.analysis = Some(analysis);
    settings.replay = true;
    settings.rules = rules;
    settings
}

/// Hands one stored event to the pipeline as it arrived.
pub fn accept(pipeline: &mut Pipeline, ev: &SipEvent) {
    pipeline.accept(Arrival {
        ts_ns: ev.ts_ns,
        transport: ev.transport,
        src: ev.src,
        dst: ev.dst,
        tunnel: ev.tunnel,
        direction: ev.direction,
        packet: None,
        node: NodeOf::Known(ev.node.as_deref()),
        bytes: &ev.raw,
    });
}

/// What recovery did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Interrupted runs replayed from their events.
    pub runs_recovered: u64,
    /// Events replayed.
    pub events_replayed: u64,
    /// Interrupted runs of capture files discarded (the files are partial).
    pub file_runs_discarded: u64,
}

/// Recovers every run of the store at `path` that a gone process left unfinished, with
/// `rules` (the alerts of a discarded run go with it). `now_ns` closes the recovered runs. A
/// store with nothing to recover is only read.
pub fn recover_interrupted(
    path: &Path,
    analysis: &AnalysisConfig,
    rules: Option<&Arc<RuleSet>>,
    now_ns: i64,
) -> Result<Recovery, ReplayError> {
    let mut recovery = Recovery::default();
    let interrupted = crate::sinks::sqlite::Store::open(path)?.interrupted_runs()?;
    for run in interrupted {
        if run.file_id.is_some() {
            crate::sinks::sqlite::Store::open(path)?.discard_run(run.run)?;
            recovery.file_runs_discarded += 1;
            continue;
        }
        recovery.events_replayed += recover_run(path, &run, analysis, rules, now_ns)?;
        recovery.runs_recovered += 1;
    }
    Ok(recovery)
}

/// Replays one interrupted run's events into a new run, then deletes the interrupted one.
fn recover_run(
    path: &Path,
    run: &InterruptedRun,
    analysis: &AnalysisConfig,
    rules: Option<&Arc<RuleSet>>,
    now_ns: i64,
) -> Result<u64, ReplayError> {
    let sinks = crate::sinks::open(&SinkConfig { store: path.to_path_buf(), jsonl: None, backlog: None })?;
    let settings = settings(run.kind, false, &run.sensor, analysis.clone(), rules.cloned());
    let mut pipeline = Pipeline::new(settings, sinks.store, Vec::new());
    pipeline.begin_analysis(run.started_ns)?;
    let reader = SqliteReader::open(path)?;
    let replayed = reader.each_event_of_run(run.run, run.after_event, &mut |ev| accept(&mut pipeline, &ev))?;
    drop(reader);
    pipeline.finish(now_ns)?;
    crate::sinks::sqlite::Store::open(path)?.discard_run(run.run)?;
    tracing::warn!(
        "recovered analysis run {} ({}, begun {}): its {replayed} events analysed again",
        run.run,
        run.kind.as_str(),
        crate::time::iso_time(run.started_ns)
    );
    Ok(replayed)
}
