//! The analysis session of a pipeline: the engine on a thread of its own, and its runs in the
//! store. A run is begun with each file of an ingest (and finished with it), or at the start
//! of a capture, the honeypot or a replay (and finished at the end, or at the end of each
//! segment of a long run); it is handed over whenever the engine's tables fill and on every
//! tick. Every hand-over reaches the store: there is no path on which the engine's rows are
//! dropped.
//!
//! The engine runs on the thread beside the pipeline's ([`super::worker`]), which observes the
//! messages in the order the pipeline took them, so its results are exactly those of an engine
//! fed in line; the rules may run there too, and what they raise is collected here for the
//! pipeline to pass on.

use super::worker::{Raised, RulesStep, Taken, Worker};
use crate::analysis::engine::{AnalysisConfig, LoggedAttempt, Seen};
use crate::analysis::result::{FlowRow, Handover};
use crate::analysis::summary::AnalysisSummary;
use crate::event::record::Record;
use crate::event::Transport;
use crate::rules::RulesEngine;
use crate::sinks::{EventStore, InterruptedRun, RunKind, RunScope, SinkError};
use sipscope_sip::Message;
use std::collections::BTreeMap;

/// The engine (when analysis is on) and its open run. A pipeline may run the engine several
/// times: once per capture file (ingest), or once per segment of a long run (capture,
/// honeypot), so that each run's results cover a known set of events.
pub(super) struct AnalysisSession {
    /// The engine's settings; `None` when analysis is off.
    config: Option<AnalysisConfig>,
    /// The thread beside the pipeline's, started when analysis or the rules first need it.
    worker: Option<Worker>,
    run: Option<OpenRun>,
    kind: RunKind,
    /// Delete every earlier run when the first run begins.
    replace_all: bool,
    /// Flows and their tools handed over before the end, for the run's summary.
    handed_flows: u64,
    handed_tools: BTreeMap<String, u64>,
    /// Messages observed in the open run.
    observed: u64,
    /// Rows handed over before the run was open (kept until it is).
    waiting: Vec<Handover>,
    /// The summary of the last run finished.
    last: Option<AnalysisSummary>,
    /// What the rules on the worker raised, for the pipeline to pass on ([`Self::take_raised`]).
    raised: Vec<Raised>,
}

/// A run open in the store.
#[derive(Debug, Clone, Copy)]
pub(super) struct OpenRun {
    pub(super) id: i64,
    pub(super) began_ns: i64,
}

impl AnalysisSession {
    pub(super) fn new(config: Option<AnalysisConfig>, (kind, replace_all): (RunKind, bool)) -> AnalysisSession {
        AnalysisSession {
            config,
            worker: None,
            run: None,
            kind,
            replace_all,
            handed_flows: 0,
            handed_tools: BTreeMap::new(),
            observed: 0,
            waiting: Vec::new(),
            last: None,
            raised: Vec::new(),
        }
    }

    /// True when the engine runs.
    pub(super) fn enabled(&self) -> bool {
        self.config.is_some()
    }

    /// Runs the rules on the worker from now on (`RulesOn::Worker`): it takes them from
    /// `rules`, where they stay when no thread is to be had. Called before any message.
    pub(super) fn run_rules(&mut self, rules: &mut Option<RulesEngine>) {
        if self.worker.is_some() {
            return;
        }
        self.worker = Worker::spawn(self.config.clone(), rules);
        if self.worker.is_none() {
            self.no_worker();
        }
    }

    /// What the rules on the worker raised since the last call, in order.
    pub(super) fn take_raised(&mut self) -> Vec<Raised> {
        std::mem::take(&mut self.raised)
    }

    /// Whether anything the rules raised waits for [`Self::take_raised`].
    pub(super) fn has_raised(&self) -> bool {
        !self.raised.is_empty()
    }

    /// The open run, if any.
    pub(super) fn open_run(&self) -> Option<OpenRun> {
        self.run
    }

    /// Messages observed in the open run.
    pub(super) fn observed(&self) -> u64 {
        self.observed
    }

    /// No thread to be had: the pipeline goes on without analysis, and said so.
    fn no_worker(&mut self) {
        if self.config.take().is_some() {
            tracing::error!("analysis is off for this run: no thread for it");
        }
    }

    /// The worker, started when analysis needs it and none runs.
    fn worker(&mut self) -> Option<&mut Worker> {
        if self.worker.is_none() && self.config.is_some() {
            self.worker = Worker::spawn(self.config.clone(), &mut None);
            if self.worker.is_none() {
                self.no_worker();
            }
        }
        self.worker.as_mut()
    }

    /// The worker when the engine runs on it.
    fn analysing(&mut self) -> Option<&mut Worker> {
        self.config.as_ref()?;
        self.worker()
    }

    /// Opens a run in the store unless one is open; `file_id` is the capture file it covers.
    pub(super) fn begin(
        &mut self,
        store: &mut dyn EventStore,
        started_ns: i64,
        file_id: Option<i64>,
        sensor: &str,
    ) -> Result<(), SinkError> {
        if self.run.is_some() || self.analysing().is_none() {
            return Ok(());
        }
        let scope = RunScope { kind: self.kind, replace_all: self.replace_all, file_id, sensor: sensor.to_owned() };
        self.replace_all = false;
        self.run = Some(OpenRun { id: store.begin_analysis_run(scope, started_ns)?, began_ns: started_ns });
        self.observed = 0;
        for rows in std::mem::take(&mut self.waiting) {
            self.store_rows(store, rows)?;
        }
        Ok(())
    }

    /// Opens `run`, an interrupted run of the store taken over (`EventStore::continue_run`),
    /// as the open run, unless a run is open or analysis is off. False: not taken over.
    pub(super) fn continue_run(&mut self, store: &mut dyn EventStore, run: &InterruptedRun) -> Result<bool, SinkError> {
        if self.run.is_some() || self.analysing().is_none() || !store.continue_run(run)? {
            return Ok(false);
        }
        self.run = Some(OpenRun { id: run.run, began_ns: run.started_ns });
        self.observed = 0;
        for rows in std::mem::take(&mut self.waiting) {
            self.store_rows(store, rows)?;
        }
        Ok(true)
    }

    /// Feeds one message (`msg` none: it did not parse) to the engine and, when they run on
    /// the worker, to the rules (`taken`: where it stands for them); what the engine handed
    /// over by itself since the last call goes to the store.
    pub(super) fn observe(
        &mut self,
        seen: &Seen<'_>,
        transport: Transport,
        bytes: &[u8],
        msg: Option<&Message<'_>>,
        taken: Taken,
        store: &mut dyn EventStore,
    ) -> Result<(), SinkError> {
        let analysing = self.config.is_some();
        let Some(worker) = self.worker() else { return Ok(()) };
        if !analysing && !worker.runs_rules() {
            return Ok(());
        }
        worker.push_message(seen, transport, bytes, msg.is_some(), taken);
        self.observed += 1;
        self.send_if_full(store)
    }

    /// Feeds one authentication attempt read from a PBX log (docs/analysis.md, "Attempts from
    /// PBX logs"). Not counted with the messages observed: a run's coverage is of events.
    pub(super) fn observe_attempt(
        &mut self,
        a: &LoggedAttempt<'_>,
        store: &mut dyn EventStore,
    ) -> Result<(), SinkError> {
        let Some(worker) = self.analysing() else { return Ok(()) };
        worker.push_attempt(a);
        self.send_if_full(store)
    }

    /// Gives a record to the rules when they run on the worker (else hands it back), taken
    /// when the pipeline had taken `ordinal` messages.
    pub(super) fn record(
        &mut self,
        record: &Record,
        ordinal: u64,
        store: &mut dyn EventStore,
    ) -> Result<bool, SinkError> {
        let Some(worker) = self.worker.as_mut().filter(|w| w.runs_rules()) else { return Ok(false) };
        worker.push_record(record.clone(), ordinal);
        self.send_if_full(store)?;
        Ok(true)
    }

    /// Runs a step of the rules on the worker, after every message sent so far, and collects
    /// what they raised. Nothing when they do not run there.
    pub(super) fn rules_step(&mut self, step: RulesStep) -> Result<(), SinkError> {
        let Some(worker) = self.worker.as_mut().filter(|w| w.runs_rules()) else { return Ok(()) };
        worker.rules_step(step)?;
        worker.raised(&mut self.raised);
        Ok(())
    }

    /// Offers the messages batched so far to the worker when the rules run there, so that a
    /// live source's alerts (and the bans they lead to) come back as soon as the thread has
    /// seen them rather than when a batch fills or the next tick comes; collects what they
    /// raised. Never waits: while the thread is behind, the batch is kept and grows
    /// ([`Worker::offer_batch`]).
    pub(super) fn send_pending(&mut self) -> Result<(), SinkError> {
        let Some(worker) = self.worker.as_mut().filter(|w| w.runs_rules()) else { return Ok(()) };
        worker.offer_batch()?;
        worker.raised(&mut self.raised);
        Ok(())
    }

    /// Collects what the rules on the worker raised so far.
    pub(super) fn collect_raised(&mut self) {
        if let Some(worker) = &self.worker {
            worker.raised(&mut self.raised);
        }
    }

    /// Sends the batch to the worker once it is full.
    fn send_if_full(&mut self, store: &mut dyn EventStore) -> Result<(), SinkError> {
        let Some(worker) = self.worker.as_mut().filter(|w| w.full()) else { return Ok(()) };
        worker.send_batch()?;
        worker.raised(&mut self.raised);
        self.store_full(store)
    }

    /// Stores what the engine handed over because its tables filled.
    fn store_full(&mut self, store: &mut dyn EventStore) -> Result<(), SinkError> {
        let Some(worker) = self.worker.as_ref() else { return Ok(()) };
        for rows in worker.handed_over() {
            self.store_rows(store, rows)?;
        }
        Ok(())
    }

    fn store_rows(&mut self, store: &mut dyn EventStore, rows: Handover) -> Result<(), SinkError> {
        if rows.is_empty() {
            return Ok(());
        }
        let Some(run) = self.run else {
            // Sources open the run before their first message; should one not, the rows wait.
            self.waiting.push(rows);
            return Ok(());
        };
        self.handed_flows += rows.flows.len() as u64;
        count_tools(&mut self.handed_tools, &rows.flows);
        store.hand_over(run.id, rows)
    }

    /// Hands what the engine finished (closed flows, hours that ended) to the store, after every
    /// message fed so far has been observed. Before the run is open nothing is handed over: the
    /// rows stay in the engine until it is.
    pub(super) fn hand_over(&mut self, store: &mut dyn EventStore) -> Result<(), SinkError> {
        if self.run.is_none() {
            return Ok(());
        }
        let Some(worker) = self.analysing() else { return Ok(()) };
        let rows = worker.hand_over()?;
        self.collect_raised();
        self.store_full(store)?;
        self.store_rows(store, rows)
    }

    /// Closes the open run: the engine finishes, everything it still holds is stored with the
    /// run, whose results then cover `covered` stored events. The next run starts a fresh
    /// engine. Nothing happens when no run is open.
    pub(super) fn finish_run(
        &mut self,
        store: &mut dyn EventStore,
        now_ns: i64,
        covered: u64,
    ) -> Result<(), SinkError> {
        let Some(run) = self.run else { return Ok(()) };
        let Some(worker) = self.analysing() else { return Ok(()) };
        let result = worker.finish_run()?;
        self.collect_raised();
        self.store_full(store)?;
        let mut summary = crate::analysis::summary::AnalysisSummary::of(&result, run.id);
        summary.flows += std::mem::take(&mut self.handed_flows);
        for (tool, n) in std::mem::take(&mut self.handed_tools) {
            *summary.tools.entry(tool).or_insert(0) += n;
        }
        store.finish_analysis_run(run.id, now_ns, result, covered)?;
        self.run = None;
        self.observed = 0;
        self.last = Some(summary);
        Ok(())
    }

    /// Closes the open run (see [`AnalysisSession::finish_run`]) and returns the summary of
    /// the last run (none when analysis is off or no run was opened).
    pub(super) fn finish(
        &mut self,
        store: &mut dyn EventStore,
        now_ns: i64,
        covered: u64,
        sensor: &str,
    ) -> Result<Option<AnalysisSummary>, SinkError> {
        if self.replace_all && self.enabled() && self.run.is_none() {
            // A replay of an empty store still records its run, so that `analyze` replaces
            // what was there. (An ingest whose files were all ingested before opens no run.)
            self.begin(store, now_ns, None, sensor)?;
        }
        self.finish_run(store, now_ns, covered)?;
        Ok(self.last.take())
    }
}

/// Flows per tool, as the analysis summary counts them (`custom` for unknown fingerprints).
fn count_tools(tools: &mut BTreeMap<String, u64>, flows: &[FlowRow]) {
    for f in flows {
        *tools.entry(f.tool.clone().unwrap_or_else(|| "custom".into())).or_insert(0) += 1;
    }
}
