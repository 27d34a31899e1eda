//! The analysis session of a pipeline: the engine, and its run in the store. Begun once (with
//! the first file of an ingest, or at the start of a capture, the honeypot or a replay), handed
//! over whenever the engine's tables fill and on every tick, finished at the end. Every hand-over
//! reaches the store: there is no path on which the engine's rows are dropped.

use crate::analysis::engine::{AnalysisConfig, Analyzer, Seen};
use crate::analysis::result::FlowRow;
use crate::analysis::summary::AnalysisSummary;
use crate::sinks::{EventStore, RunKind, SinkError};
use sipscope_sip::Message;
use std::collections::BTreeMap;

/// The engine (when analysis is on) and its run id once begun.
pub(super) struct AnalysisSession {
    engine: Option<Analyzer>,
    run: Option<i64>,
    kind: RunKind,
    replace_all: bool,
    /// Flows and their tools handed over before the end, for the run's summary.
    handed_flows: u64,
    handed_tools: BTreeMap<String, u64>,
}

impl AnalysisSession {
    pub(super) fn new(config: Option<AnalysisConfig>, (kind, replace_all): (RunKind, bool)) -> AnalysisSession {
        AnalysisSession {
            engine: config.map(Analyzer::new),
            run: None,
            kind,
            replace_all,
            handed_flows: 0,
            handed_tools: BTreeMap::new(),
        }
    }

    /// True when the engine runs.
    pub(super) fn enabled(&self) -> bool {
        self.engine.is_some()
    }

    /// Opens the run in the store, once.
    pub(super) fn begin(&mut self, store: &mut dyn EventStore, started_ns: i64) -> Result<(), SinkError> {
        if self.engine.is_some() && self.run.is_none() {
            self.run = Some(store.begin_analysis_run(self.kind, started_ns, self.replace_all)?);
        }
        Ok(())
    }

    /// Feeds one message (`msg` none: it did not parse).
    pub(super) fn observe(&mut self, seen: &Seen<'_>, msg: Option<&Message<'_>>) {
        if let Some(engine) = self.engine.as_mut() {
            engine.observe_seen(seen, msg);
        }
    }

    /// True when the engine's tables are full enough to hand over now.
    pub(super) fn should_hand_over(&self) -> bool {
        self.engine.as_ref().is_some_and(Analyzer::should_hand_over)
    }

    /// Hands what the engine finished (closed flows, hours that ended) to the store. Before
    /// the run is open nothing is handed over: the rows stay in the engine until it is.
    pub(super) fn hand_over(&mut self, store: &mut dyn EventStore) -> Result<(), SinkError> {
        if let (Some(engine), Some(run)) = (self.engine.as_mut(), self.run) {
            let rows = engine.hand_over();
            if !rows.is_empty() {
                self.handed_flows += rows.flows.len() as u64;
                count_tools(&mut self.handed_tools, &rows.flows);
                store.hand_over(run, rows)?;
            }
        }
        Ok(())
    }

    /// Closes the engine, stores everything it still holds and returns the run's summary
    /// (none when analysis is off or no run was opened).
    pub(super) fn finish(
        &mut self,
        store: &mut dyn EventStore,
        now_ns: i64,
    ) -> Result<Option<AnalysisSummary>, SinkError> {
        if self.replace_all && self.engine.is_some() && self.run.is_none() {
            // A replay of an empty store still records its run, so that `analyze` replaces
            // what was there. (An ingest whose files were all ingested before opens no run.)
            self.begin(store, now_ns)?;
        }
        let (Some(engine), Some(run)) = (self.engine.take(), self.run) else { return Ok(None) };
        let result = engine.finish();
        let mut summary = AnalysisSummary::of(&result, run);
        summary.flows += self.handed_flows;
        for (tool, n) in std::mem::take(&mut self.handed_tools) {
            *summary.tools.entry(tool).or_insert(0) += n;
        }
        store.finish_analysis_run(run, now_ns, result)?;
        Ok(Some(summary))
    }
}

/// Flows per tool, as the analysis summary counts them (`custom` for unknown fingerprints).
fn count_tools(tools: &mut BTreeMap<String, u64>, flows: &[FlowRow]) {
    for f in flows {
        *tools.entry(f.tool.clone().unwrap_or_else(|| "custom".into())).or_insert(0) += 1;
    }
}
