//! A store read with another analysis of its events: `report --nodes FILE` analyses the stored
//! events again with a nodes file given after the fact (into a scratch store, since a report
//! never writes to the store it reads) and reads through [`Reanalysed`]: the analysis tables
//! (flows, stages, hourly totals, numbers …) from the new analysis, what the analysis does not
//! make (events, authentication attempts) from the store itself.
//!
//! Backend-neutral: both sides are [`StoreReader`]s. A question added to the trait must be
//! placed on one side here: the compiler asks.

use super::query::*;
use super::rows::*;
use super::{Filter, Result, StoreReader};
use crate::analysis::stages::Stage;
use crate::event::SipEvent;
use std::net::IpAddr;

/// The events and records of `stored`, with the analysis results of `analysis` (the same
/// events analysed again).
pub struct Reanalysed<'a> {
    /// The store the report was asked for: events and records.
    pub stored: &'a dyn StoreReader,
    /// The new analysis of its events: every analysis table.
    pub analysis: &'a dyn StoreReader,
}

impl StoreReader for Reanalysed<'_> {
    fn time_extent_beyond(&self, _known: &[super::scan::IndexTable]) -> Result<Option<TimeExtent>> {
        self.time_extent()
    }
    // Two stores behind one reader: no single mark or snapshot; nothing is indexed.
    fn change_mark(&self) -> Result<Option<i64>> {
        Ok(None)
    }
    fn scan_tables(
        &self,
        _tables: &[super::scan::IndexTable],
        _visit: &mut dyn FnMut(super::scan::IndexTable, &[super::scan::Cell<'_>]) -> super::scan::Scan,
    ) -> Result<Option<i64>> {
        Ok(None)
    }
    fn time_extent(&self) -> Result<Option<TimeExtent>> {
        // The events, alerts and attempts are the store's, the analysis tables the new
        // analysis': the extent of both.
        let both = [self.stored.time_extent()?, self.analysis.time_extent()?];
        Ok(TimeExtent::of(both.into_iter().flatten().map(|e| (Some(e.first_ns), Some(e.last_ns)))))
    }
    // Decisions and authentication attempts are not the analysis': the store's own.
    fn alert_rules(&self, f: &Filter) -> Result<Vec<AlertRuleRow>> {
        self.stored.alert_rules(f)
    }
    fn recent_alerts(&self, f: &Filter, limit: u32) -> Result<Vec<AlertRow>> {
        self.stored.recent_alerts(f, limit)
    }
    fn decisions_in_force(&self, now_ns: i64) -> Result<Vec<DecisionRow>> {
        self.stored.decisions_in_force(now_ns)
    }
    fn decisions(&self, f: &Filter, limit: u32) -> Result<Vec<DecisionRow>> {
        self.stored.decisions(f, limit)
    }
    fn failed_auth(&self, source: IpAddr, since_ns: i64, limit: u32) -> Result<Vec<FailedAuth>> {
        self.stored.failed_auth(source, since_ns, limit)
    }
    fn accepted_auth(&self, after_id: i64, since_ns: i64, limit: u32) -> Result<Vec<AcceptedAuth>> {
        self.stored.accepted_auth(after_id, since_ns, limit)
    }
    fn contents(&self) -> Result<StoreContents> {
        Ok(StoreContents { events: self.stored.contents()?.events, traffic: self.analysis.contents()?.traffic })
    }
    fn analysis_coverage(&self) -> Result<AnalysisCoverage> {
        // The runs are the new analysis' (one, finished, over every stored event it read);
        // the events are the store's, which may have grown since.
        Ok(AnalysisCoverage { events: self.stored.analysis_coverage()?.events, ..self.analysis.analysis_coverage()? })
    }
    fn traffic_summary(&self, f: &Filter) -> Result<TrafficSummary> {
        self.analysis.traffic_summary(f)
    }
    fn daily_requests(&self, f: &Filter) -> Result<Vec<DailyRequests>> {
        self.analysis.daily_requests(f)
    }
    fn top_sources(&self, f: &Filter, limit: u32) -> Result<Vec<SourceRequests>> {
        self.analysis.top_sources(f, limit)
    }
    fn dialled_users(&self, f: &Filter, source: Option<&str>) -> Result<i64> {
        self.analysis.dialled_users(f, source)
    }
    fn dialled_numbers(&self, f: &Filter, source: Option<&str>) -> Result<i64> {
        self.analysis.dialled_numbers(f, source)
    }
    fn main_agent(&self, f: &Filter, source: &str) -> Result<Option<String>> {
        self.analysis.main_agent(f, source)
    }
    fn top_user_agents(&self, f: &Filter, limit: u32) -> Result<Vec<AgentRequests>> {
        self.analysis.top_user_agents(f, limit)
    }
    fn agent_classes(&self) -> Result<Vec<AgentClass>> {
        self.analysis.agent_classes()
    }
    fn request_sources(&self, f: &Filter) -> Result<Vec<String>> {
        self.analysis.request_sources(f)
    }
    fn source_nodes(&self, f: &Filter) -> Result<Vec<SourceNode>> {
        self.analysis.source_nodes(f)
    }
    fn each_dialled_country(&self, f: &Filter, visit: &mut dyn FnMut(DialledCountry<'_>)) -> Result<()> {
        self.analysis.each_dialled_country(f, visit)
    }
    fn unified_number_count(&self, f: &Filter) -> Result<i64> {
        self.analysis.unified_number_count(f)
    }
    fn top_numbers(&self, f: &Filter, limit: u32) -> Result<Vec<NumberAttempts>> {
        self.analysis.top_numbers(f, limit)
    }
    fn number_countries(&self, f: &Filter) -> Result<Vec<CountryAttempts>> {
        self.analysis.number_countries(f)
    }
    /// Records, not analysis: with the node the sensor stored.
    fn top_passwords(&self, f: &Filter, limit: u32) -> Result<Vec<PasswordAttempts>> {
        self.stored.top_passwords(f, limit)
    }
    /// Records, not analysis: with the node the sensor stored.
    fn top_extensions(&self, f: &Filter, limit: u32) -> Result<Vec<ExtensionAttempts>> {
        self.stored.top_extensions(f, limit)
    }
    fn node_stages(&self, f: &Filter) -> Result<Vec<NodeStages>> {
        self.analysis.node_stages(f)
    }
    fn stage_totals(&self, f: &Filter) -> Result<Vec<StageTotals>> {
        self.analysis.stage_totals(f)
    }
    fn stage_sources(&self, f: &Filter, stage: Stage) -> Result<i64> {
        self.analysis.stage_sources(f, stage)
    }
    fn tool_flows(&self, f: &Filter) -> Result<Vec<ToolFlows>> {
        self.analysis.tool_flows(f)
    }
    fn custom_fingerprints(&self, f: &Filter, limit: u32) -> Result<Vec<FingerprintFlows>> {
        self.analysis.custom_fingerprints(f, limit)
    }
    fn tools_by_year(&self, f: &Filter) -> Result<Vec<ToolYear>> {
        self.analysis.tools_by_year(f)
    }
    fn strategy_flows(&self, f: &Filter) -> Result<Vec<StrategyFlows>> {
        self.analysis.strategy_flows(f)
    }
    fn source_tool_packets(&self, f: &Filter) -> Result<Vec<SourceToolPackets>> {
        self.analysis.source_tool_packets(f)
    }
    fn widest_flow(&self, f: &Filter, source: Option<IpAddr>) -> Result<Option<FlowWindow>> {
        self.analysis.widest_flow(f, source)
    }
    /// Events: their stored node is the one a node filter matches.
    fn first_hits(&self, f: &Filter, flow: &FlowWindow) -> Result<Vec<String>> {
        self.stored.first_hits(f, flow)
    }
    fn source_days(&self, from_day: i64, to_day: i64) -> Result<Vec<SourceDay>> {
        self.analysis.source_days(from_day, to_day)
    }
    fn source_tool_activity(&self, from_ns: i64, to_ns: i64) -> Result<Vec<SourceToolActivity>> {
        self.analysis.source_tool_activity(from_ns, to_ns)
    }
    fn each_event(&self, f: &mut dyn FnMut(SipEvent)) -> Result<u64> {
        self.stored.each_event(f)
    }
    fn each_event_in(&self, filter: &Filter, f: &mut dyn FnMut(SipEvent)) -> Result<u64> {
        self.stored.each_event_in(filter, f)
    }
    fn each_event_of_run(&self, run: i64, after_event: i64, f: &mut dyn FnMut(SipEvent)) -> Result<u64> {
        self.stored.each_event_of_run(run, after_event, f)
    }
    fn each_logged_attempt(&self, f: &mut dyn FnMut(LoggedAttemptRow)) -> Result<u64> {
        self.stored.each_logged_attempt(f)
    }
    /// Events: the store's (the tool of their flow from the new analysis is not joined).
    fn events(&self, q: &EventQuery) -> Result<Vec<EventRecord>> {
        self.stored.events(q)
    }
    fn source_profile(&self, f: &Filter, source: &str, limit: u32) -> Result<SourceProfile> {
        // Stages, tools, agents and numbers are the analysis'; passwords and users are records.
        let stored = self.stored.source_profile(f, source, limit)?;
        Ok(SourceProfile {
            passwords: stored.passwords,
            users: stored.users,
            ..self.analysis.source_profile(f, source, limit)?
        })
    }
    /// Alerts are the store's own (like [`StoreReader::recent_alerts`]).
    fn alerts(&self, q: &AlertQuery) -> Result<Vec<StoredAlert>> {
        self.stored.alerts(q)
    }
    /// So is their evidence.
    fn alert_evidence(&self, alert_ids: &[i64]) -> Result<Vec<AlertEvidence>> {
        self.stored.alert_evidence(alert_ids)
    }
    fn number(&self, f: &Filter, number: &str) -> Result<Option<NumberAttempts>> {
        self.analysis.number(f, number)
    }
    /// None: a report kept for the store is not one of this other analysis.
    fn kept_reports(&self, _format: &str) -> Result<Vec<crate::sinks::kept::KeptReport>> {
        Ok(Vec::new())
    }
}
