//! The short account of an analysis run printed by `analyze` (text, or JSON with `--json`).

use super::result::AnalysisResult;
use serde::Serialize;
use std::collections::BTreeMap;

/// Counts from one run.
#[derive(Debug, Clone, Serialize)]
pub struct AnalysisSummary {
    /// The run's id in `analysis_runs`.
    pub run: i64,
    /// Events read.
    pub events: u64,
    /// Flows (and how many were closed early for memory).
    pub flows: u64,
    /// Flows closed early.
    pub flows_evicted: u64,
    /// Sources.
    pub sources: u64,
    /// Sources that reached each stage (on any node).
    pub stages: BTreeMap<String, u64>,
    /// Flows per tool (`custom` for unknown fingerprints).
    pub tools: BTreeMap<String, u64>,
    /// Distinct fingerprints.
    pub fingerprints: u64,
    /// Distinct numbers dialled.
    pub numbers: u64,
}

impl AnalysisSummary {
    /// The summary of `r`, stored as run `run`.
    pub fn of(r: &AnalysisResult, run: i64) -> AnalysisSummary {
        let mut stages = BTreeMap::new();
        for s in r.stages.iter().filter(|s| s.node.is_none()) {
            *stages.entry(s.stage.to_owned()).or_insert(0) += 1;
        }
        let mut tools = BTreeMap::new();
        for f in &r.flows {
            *tools.entry(f.tool.clone().unwrap_or_else(|| "custom".into())).or_insert(0) += 1;
        }
        AnalysisSummary {
            run,
            events: r.events,
            flows: r.flows.len() as u64,
            flows_evicted: r.flows_evicted,
            sources: r.sources.len() as u64,
            stages,
            tools,
            fingerprints: r.fingerprints.len() as u64,
            numbers: r.numbers.len() as u64,
        }
    }

    /// Aligned text lines.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "events    {}\nflows     {} ({} closed early)\nsources   {}\nfingerprints {}\nnumbers   {}\n",
            self.events, self.flows, self.flows_evicted, self.sources, self.fingerprints, self.numbers
        );
        for (stage, n) in &self.stages {
            out.push_str(&format!("stage     {stage:<24} {n} sources\n"));
        }
        for (tool, n) in &self.tools {
            out.push_str(&format!("tool      {tool:<24} {n} flows\n"));
        }
        out
    }
}
