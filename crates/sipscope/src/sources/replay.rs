//! The store as a source: stored events read back into the pipeline, each with its stored
//! node (or one derived again from a nodes file) and nothing stored again; `analyze` takes the
//! attempts read from PBX logs beside them, in time order, as the live run did. `sipscope analyze`
//! replays every event into one run that replaces all others; `report --nodes` does the same
//! into a scratch store ([`reanalyse_into`]), so that nodes defined after the fact apply
//! without writing to the store reported on; recovery replays the events of a run that a gone
//! process left unfinished (killed, out of memory, power lost) into a finished run that takes
//! its place, so the analysis results follow the events again.
//!
//! Recovery runs before a writing command (ingest, capture, honeypot) opens its own pipeline.
//! A run of a capture file is not replayed: its file is partial, and ingesting it again
//! replaces its events and its run together; until then the run is discarded and reports say
//! that the file's events are not analysed. A long-running command (one that cuts its run into
//! segments: capture, honeypot, `hep`, `collect`, `logs --follow`) instead *continues* the
//! newest interrupted run of its own scope (same run kind and sensor) in its new live pipeline
//! ([`carry_into`]): the store takes the run over under the same id (its results deleted, its
//! events kept under it, one transaction), its events are replayed into the live engine and
//! rules, and new input joins the same run, so a flow spanning the crash is one flow. A second
//! crash at any point leaves one interrupted run naming every event once, continued again at
//! the next start. A run the command's previous process finished at a graceful stop is
//! continued the same way while its segment lasts. The replay is bounded by one segment: the
//! continued run keeps its start, so it closes at its own segment's end.

use crate::analysis::engine::{AnalysisConfig, LoggedAttempt};
use crate::event::SipEvent;
use crate::nodes::Nodes;
use crate::pipeline::{Arrival, EventsMode, Finished, NodeOf, Pipeline, PipelineSettings, RulesOn, Unparsed};
use crate::rules::RuleSet;
use crate::sinks::{EventStore, InterruptedRun, RunKind, SinkConfig, SinkError};
use crate::store::{LoggedAttemptRow, SqliteReader, StoreError, StoreReader};
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
    // Whatever the run was, its replay is read from the store, not watched.
    settings.rules_on = RulesOn::Worker;
    settings
}

/// Which node a replayed event has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventNodes {
    /// The node stored with it.
    Stored,
    /// The node the pipeline's nodes file gives its addresses and tunnel (the file wins over
    /// the stored node).
    Derived,
}

/// Hands one stored event to the pipeline as it arrived.
pub fn accept(pipeline: &mut Pipeline, ev: &SipEvent, nodes: EventNodes) {
    pipeline.accept(arrival(ev, nodes));
}

/// A stored event as the pipeline takes it.
fn arrival(ev: &SipEvent, nodes: EventNodes) -> Arrival<'_> {
    Arrival {
        ts_ns: ev.ts_ns,
        transport: ev.transport,
        src: ev.src,
        dst: ev.dst,
        tunnel: ev.tunnel,
        direction: ev.direction,
        packet: None,
        node: match nodes {
            EventNodes::Stored => NodeOf::Known(ev.node.as_deref()),
            EventNodes::Derived => NodeOf::Lookup,
        },
        sensor: Some(&ev.sensor),
        bytes: &ev.raw,
    }
}

/// Analyses every event `reader` holds again, in time order, into one run of `store` that
/// replaces every earlier run (`sipscope analyze`). With `nodes`, each event's node is derived
/// again from its addresses and tunnel; without, it keeps its stored node. The run begins at
/// `started_ns` and ends at the clock's time after the last event.
pub fn analyse_all(
    reader: &dyn StoreReader,
    store: Box<dyn EventStore>,
    analysis: AnalysisConfig,
    rules: Option<Arc<RuleSet>>,
    nodes: Option<Nodes>,
    started_ns: i64,
) -> Result<Finished, ReplayError> {
    let mut settings = settings(RunKind::Analyze, true, "", analysis, rules);
    let event_nodes = match nodes {
        Some(nodes) => {
            settings.nodes = nodes;
            EventNodes::Derived
        }
        None => EventNodes::Stored,
    };
    let mut pipeline = Pipeline::new(settings, store, Vec::new());
    pipeline.begin_analysis(started_ns)?;
    // Attempts read from PBX logs are analysed beside the events, in time order (an attempt
    // before an event of the same time: the log line was written when the request came).
    let mut attempts = Vec::new();
    reader.each_logged_attempt(&mut |a| attempts.push(a))?;
    let mut attempts = attempts.into_iter().peekable();
    reader.each_event(&mut |ev| {
        while let Some(a) = attempts.next_if(|a| a.ts_ns <= ev.ts_ns) {
            observe_attempt(&mut pipeline, &a);
        }
        accept(&mut pipeline, &ev, event_nodes);
    })?;
    for a in attempts {
        observe_attempt(&mut pipeline, &a);
    }
    Ok(pipeline.finish(crate::time::now_ns())?)
}

/// Hands one stored attempt read from a PBX log to the analysis, with its stored node.
fn observe_attempt(pipeline: &mut Pipeline, a: &LoggedAttemptRow) {
    pipeline.observe_attempt(&LoggedAttempt {
        ts_ns: a.ts_ns,
        src: a.src,
        dst: a.dst,
        node: a.node.as_deref(),
        origin: &a.origin,
        method: &a.method,
        username: &a.username,
        uri: a.uri.as_deref(),
        outcome: &a.outcome,
    });
}

/// The events of `stored` analysed again with `nodes` into a fresh store in `dir` (a private
/// scratch directory), and a reader of that store: what `report --nodes` reads its analysis
/// tables from (`store::overlay`), so that nodes defined after the fact apply while the store
/// reported on is only read. Costs an `analyze` of every stored event.
pub fn reanalyse_into(
    dir: &Path,
    stored: &dyn StoreReader,
    nodes: Nodes,
    analysis: AnalysisConfig,
) -> Result<(SqliteReader, Finished), ReplayError> {
    let path = dir.join("reanalysed.db");
    let sinks = crate::sinks::open(&SinkConfig {
        store: path.clone(),
        jsonl: None,
        backlog: None,
        hep_out: None,
        nats: None,
        retention_days: None,
    })?;
    // The alerts stay the store's: the scratch store holds the analysis tables alone.
    let finished = analyse_all(stored, sinks.store, analysis, None, Some(nodes), crate::time::now_ns())?;
    Ok((SqliteReader::open(&path)?, finished))
}

/// What recovery did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Interrupted runs replayed from their events.
    pub runs_recovered: u64,
    /// Events replayed.
    pub events_replayed: u64,
    /// Interrupted runs of capture files discarded (the files are partial).
    pub file_runs_discarded: u64,
    /// The newest interrupted run of the asking command's own scope, left for its live
    /// pipeline to continue ([`carry_into`]).
    pub to_continue: Option<InterruptedRun>,
}

/// The analysis runs a long-running command continues: its run kind and sensor.
#[derive(Debug, Clone, Copy)]
pub struct OwnScope<'a> {
    /// The kind of its runs.
    pub kind: RunKind,
    /// The sensor they are stored under.
    pub sensor: &'a str,
    /// The length of its segments, ns: a run stopped gracefully is continued while its
    /// segment lasts (after that it would close at once: the next run begins afresh).
    pub segment_ns: i64,
    /// A run stopped gracefully is continued only when replaying it reads at most this many
    /// events: the replay delays the start (the honeypot listens after it), which a routine
    /// restart should not wait long for. A crashed run is replayed whatever its size, as
    /// recovery always did. Default [`MAX_STOPPED_REPLAY`].
    pub max_stopped_replay: u64,
}

/// Default of [`OwnScope::max_stopped_replay`]: 250,000 events, about two seconds of replay on
/// the 2-core test machine (`analyze` replays ~120,000 events a second there).
pub const MAX_STOPPED_REPLAY: u64 = 250_000;

/// Recovers every run of the store at `path` that a gone process left unfinished, with
/// `rules` (the alerts of a discarded run go with it). `now_ns` closes the recovered runs. A
/// store with nothing to recover is only read. With `own`, the newest interrupted run of that
/// scope (not a file's) is not recovered here but returned in [`Recovery::to_continue`], for
/// the command's live pipeline to continue with [`carry_into`]; without one, so is the
/// scope's newest run when a process now gone finished it (a graceful stop) less than a
/// segment after it began.
pub fn recover_interrupted(
    path: &Path,
    analysis: &AnalysisConfig,
    rules: Option<&Arc<RuleSet>>,
    now_ns: i64,
    own: Option<OwnScope<'_>>,
) -> Result<Recovery, ReplayError> {
    let mut recovery = Recovery::default();
    let mut interrupted = Vec::new();
    {
        // The store's backend is chosen where every sink is opened.
        let mut store = open_store(path)?;
        for run in store.interrupted_runs()? {
            if run.file_id.is_some() {
                store.discard_run(run.run)?;
                recovery.file_runs_discarded += 1;
            } else {
                interrupted.push(run);
            }
        }
    }
    if let Some(own) = own {
        // Oldest first: the newest of the scope is the one a single crashed process left.
        let newest = interrupted.iter().rposition(|r| r.kind == own.kind && r.sensor == own.sensor);
        recovery.to_continue = newest.map(|at| interrupted.remove(at));
        if recovery.to_continue.is_none() {
            let mut store = open_store(path)?;
            let stopped = store.stopped_run(own.kind, own.sensor)?;
            let recent = stopped.filter(|run| now_ns.saturating_sub(run.started_ns) < own.segment_ns);
            if let Some(run) = recent {
                // Every event stored after the run's first is at most what its replay reads.
                let to_read = store.last_event_id()?.saturating_sub(run.after_event);
                if u64::try_from(to_read).unwrap_or(0) <= own.max_stopped_replay {
                    recovery.to_continue = Some(run);
                } else {
                    tracing::info!(
                        "not continuing analysis run {}: up to {to_read} events to replay, more than {} (a new run begins)",
                        run.run,
                        own.max_stopped_replay
                    );
                }
            }
        }
    }
    for run in interrupted {
        recovery.events_replayed += recover_run(path, &run, analysis, rules, now_ns)?;
        recovery.runs_recovered += 1;
    }
    Ok(recovery)
}

/// The store at `path` (a file or a PostgreSQL URL), opened for writing.
fn open_store(path: &Path) -> Result<Box<dyn crate::sinks::EventStore>, ReplayError> {
    let config = SinkConfig {
        store: path.to_path_buf(),
        jsonl: None,
        hep_out: None,
        backlog: None,
        nats: None,
        retention_days: None,
    };
    Ok(crate::sinks::open(&config)?.store)
}

/// Replays one interrupted run's events into a new run, then deletes the interrupted one.
fn recover_run(
    path: &Path,
    run: &InterruptedRun,
    analysis: &AnalysisConfig,
    rules: Option<&Arc<RuleSet>>,
    now_ns: i64,
) -> Result<u64, ReplayError> {
    let sinks = crate::sinks::open(&SinkConfig {
        store: path.to_path_buf(),
        jsonl: None,
        hep_out: None,
        backlog: None,
        nats: None,
        retention_days: None,
    })?;
    let settings = settings(run.kind, false, &run.sensor, analysis.clone(), rules.cloned());
    let mut pipeline = Pipeline::new(settings, sinks.store, Vec::new());
    pipeline.begin_analysis(run.started_ns)?;
    let reader = crate::store::open(path)?;
    let replayed =
        reader.each_event_of_run(run.run, run.after_event, &mut |ev| accept(&mut pipeline, &ev, EventNodes::Stored))?;
    drop(reader);
    pipeline.finish(now_ns)?;
    open_store(path)?.discard_run(run.run)?;
    tracing::warn!(
        "recovered analysis run {} ({}, begun {}): its {replayed} events analysed again",
        run.run,
        run.kind.as_str(),
        crate::time::iso_time(run.started_ns)
    );
    Ok(replayed)
}

/// Continues `run` (an interrupted or stopped run of the pipeline's own scope, from
/// [`recover_interrupted`]) in `pipeline`, a live pipeline on the store at `path` that has not
/// begun its run yet: the store takes the run over and its events are replayed into the
/// pipeline's engine and rules, in time order, before the source takes new input. Returns the
/// events replayed, or `None` when the run was not taken over (another process took it; the
/// source then begins a run of its own and the next start recovers this one).
pub fn carry_into(pipeline: &mut Pipeline, path: &Path, run: &InterruptedRun) -> Result<Option<u64>, ReplayError> {
    if !pipeline.continue_analysis(run)? {
        return Ok(None);
    }
    let reader = crate::store::open(path)?;
    let replayed = reader.each_event_of_run(run.run, run.after_event, &mut |ev| {
        pipeline.accept_carried(arrival(&ev, EventNodes::Stored));
    })?;
    tracing::warn!(
        "continuing analysis run {} ({}, begun {}) that a gone process left: its {replayed} events analysed again, new input joins it",
        run.run,
        run.kind.as_str(),
        crate::time::iso_time(run.started_ns)
    );
    Ok(Some(replayed))
}
