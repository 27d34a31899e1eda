//! [`Indexed`]: a reader with the index in front of it. Each question the index holds is
//! answered from it (`None` from the index: the reader answers); every other question goes to
//! the reader as asked. A question added to the trait must be placed here: the compiler asks.

use super::ReportIndex;
use crate::analysis::stages::Stage;
use crate::event::SipEvent;
use crate::store::query::*;
use crate::store::rows::*;
use crate::store::scan::{Cell, IndexTable, Scan};
use crate::store::{Filter, Result, StoreReader};
use std::net::IpAddr;

/// `reader`, with the questions `index` holds answered from it.
pub struct Indexed<'a> {
    index: &'a ReportIndex,
    reader: &'a dyn StoreReader,
}

impl<'a> Indexed<'a> {
    /// `reader` with `index` (loaded from the same store) in front of it.
    pub fn new(index: &'a ReportIndex, reader: &'a dyn StoreReader) -> Indexed<'a> {
        Indexed { index, reader }
    }
}

/// The index's answer, or the reader's when the index has none.
macro_rules! either {
    ($found:expr, $reader:expr) => {
        match $found {
            Some(found) => Ok(found),
            None => $reader,
        }
    };
}

impl StoreReader for Indexed<'_> {
    // The questions the index holds.
    fn top_sources(&self, f: &Filter, limit: u32) -> Result<Vec<SourceRequests>> {
        either!(self.index.top_sources(f, limit), self.reader.top_sources(f, limit))
    }
    fn dialled_users(&self, f: &Filter, source: Option<&str>) -> Result<i64> {
        match source {
            None => either!(self.index.dialled_users(f), self.reader.dialled_users(f, source)),
            Some(_) => self.reader.dialled_users(f, source),
        }
    }
    fn top_user_agents(&self, f: &Filter, limit: u32) -> Result<Vec<AgentRequests>> {
        either!(self.index.top_user_agents(f, limit), self.reader.top_user_agents(f, limit))
    }
    fn each_dialled_country(&self, f: &Filter, visit: &mut dyn FnMut(DialledCountry<'_>)) -> Result<()> {
        if self.index.each_dialled_country(f, visit) {
            return Ok(());
        }
        self.reader.each_dialled_country(f, visit)
    }
    fn unified_number_count(&self, f: &Filter) -> Result<i64> {
        either!(self.index.unified_number_count(f), self.reader.unified_number_count(f))
    }
    fn top_numbers(&self, f: &Filter, limit: u32) -> Result<Vec<NumberAttempts>> {
        either!(self.index.top_numbers(f, limit), self.reader.top_numbers(f, limit))
    }
    fn number_countries(&self, f: &Filter) -> Result<Vec<CountryAttempts>> {
        either!(self.index.number_countries(f), self.reader.number_countries(f))
    }
    fn stage_totals(&self, f: &Filter) -> Result<Vec<StageTotals>> {
        either!(self.index.stage_totals(f), self.reader.stage_totals(f))
    }
    fn tool_flows(&self, f: &Filter) -> Result<Vec<ToolFlows>> {
        either!(self.index.tool_flows(f), self.reader.tool_flows(f))
    }
    fn custom_fingerprints(&self, f: &Filter, limit: u32) -> Result<Vec<FingerprintFlows>> {
        either!(self.index.custom_fingerprints(f, limit), self.reader.custom_fingerprints(f, limit))
    }
    fn tools_by_year(&self, f: &Filter) -> Result<Vec<ToolYear>> {
        either!(self.index.tools_by_year(f), self.reader.tools_by_year(f))
    }
    fn strategy_flows(&self, f: &Filter) -> Result<Vec<StrategyFlows>> {
        either!(self.index.strategy_flows(f), self.reader.strategy_flows(f))
    }
    fn source_tool_packets(&self, f: &Filter) -> Result<Vec<SourceToolPackets>> {
        either!(self.index.source_tool_packets(f), self.reader.source_tool_packets(f))
    }
    fn widest_flow(&self, f: &Filter, source: Option<IpAddr>) -> Result<Option<FlowWindow>> {
        match source {
            None => either!(self.index.widest_flow(f), self.reader.widest_flow(f, source)),
            Some(_) => self.reader.widest_flow(f, source),
        }
    }
    fn source_days(&self, from_day: i64, to_day: i64) -> Result<Vec<SourceDay>> {
        either!(self.index.source_days(from_day, to_day), self.reader.source_days(from_day, to_day))
    }
    fn request_sources(&self, f: &Filter) -> Result<Vec<String>> {
        either!(self.index.request_sources(f), self.reader.request_sources(f))
    }
    fn source_nodes(&self, f: &Filter) -> Result<Vec<SourceNode>> {
        either!(self.index.source_nodes(f), self.reader.source_nodes(f))
    }
    fn source_tool_activity(&self, from_ns: i64, to_ns: i64) -> Result<Vec<SourceToolActivity>> {
        either!(self.index.source_tool_activity(from_ns, to_ns), self.reader.source_tool_activity(from_ns, to_ns))
    }
    fn alert_rules(&self, f: &Filter) -> Result<Vec<AlertRuleRow>> {
        either!(self.index.alert_rules(f, self.reader)?, self.reader.alert_rules(f))
    }

    // Everything else: the reader's.
    fn contents(&self) -> Result<StoreContents> {
        self.reader.contents()
    }
    fn analysis_coverage(&self) -> Result<AnalysisCoverage> {
        self.reader.analysis_coverage()
    }
    fn time_extent(&self) -> Result<Option<TimeExtent>> {
        // The extents the index holds, and the reader's of the other tables (not scanned).
        let known: Vec<IndexTable> = self.index.extents.iter().map(|(table, _)| *table).collect();
        let rest = self.reader.time_extent_beyond(&known)?.map(|e| (Some(e.first_ns), Some(e.last_ns)));
        Ok(TimeExtent::of(rest.into_iter().chain(self.index.extents.iter().map(|(_, e)| *e))))
    }
    fn time_extent_beyond(&self, known: &[IndexTable]) -> Result<Option<TimeExtent>> {
        self.reader.time_extent_beyond(known)
    }
    fn traffic_summary(&self, f: &Filter) -> Result<TrafficSummary> {
        self.reader.traffic_summary(f)
    }
    fn daily_requests(&self, f: &Filter) -> Result<Vec<DailyRequests>> {
        self.reader.daily_requests(f)
    }
    fn dialled_numbers(&self, f: &Filter, source: Option<&str>) -> Result<i64> {
        self.reader.dialled_numbers(f, source)
    }
    fn main_agent(&self, f: &Filter, source: &str) -> Result<Option<String>> {
        self.reader.main_agent(f, source)
    }
    fn agent_classes(&self) -> Result<Vec<AgentClass>> {
        self.reader.agent_classes()
    }
    fn top_passwords(&self, f: &Filter, limit: u32) -> Result<Vec<PasswordAttempts>> {
        self.reader.top_passwords(f, limit)
    }
    fn top_extensions(&self, f: &Filter, limit: u32) -> Result<Vec<ExtensionAttempts>> {
        self.reader.top_extensions(f, limit)
    }
    fn node_stages(&self, f: &Filter) -> Result<Vec<NodeStages>> {
        self.reader.node_stages(f)
    }
    fn stage_sources(&self, f: &Filter, stage: Stage) -> Result<i64> {
        self.reader.stage_sources(f, stage)
    }
    fn first_hits(&self, f: &Filter, flow: &FlowWindow) -> Result<Vec<String>> {
        self.reader.first_hits(f, flow)
    }
    fn recent_alerts(&self, f: &Filter, limit: u32) -> Result<Vec<AlertRow>> {
        self.reader.recent_alerts(f, limit)
    }
    fn each_event(&self, f: &mut dyn FnMut(SipEvent)) -> Result<u64> {
        self.reader.each_event(f)
    }
    fn each_event_in(&self, filter: &Filter, f: &mut dyn FnMut(SipEvent)) -> Result<u64> {
        self.reader.each_event_in(filter, f)
    }
    fn decisions_in_force(&self, now_ns: i64) -> Result<Vec<DecisionRow>> {
        self.reader.decisions_in_force(now_ns)
    }
    fn decisions(&self, f: &Filter, limit: u32) -> Result<Vec<DecisionRow>> {
        self.reader.decisions(f, limit)
    }
    fn failed_auth(&self, source: IpAddr, since_ns: i64, limit: u32) -> Result<Vec<FailedAuth>> {
        self.reader.failed_auth(source, since_ns, limit)
    }
    fn accepted_auth(&self, after_id: i64, since_ns: i64, limit: u32) -> Result<Vec<AcceptedAuth>> {
        self.reader.accepted_auth(after_id, since_ns, limit)
    }
    fn each_event_of_run(&self, run: i64, after_event: i64, f: &mut dyn FnMut(SipEvent)) -> Result<u64> {
        self.reader.each_event_of_run(run, after_event, f)
    }
    fn each_logged_attempt(&self, f: &mut dyn FnMut(LoggedAttemptRow)) -> Result<u64> {
        self.reader.each_logged_attempt(f)
    }
    fn events(&self, q: &EventQuery) -> Result<Vec<EventRecord>> {
        self.reader.events(q)
    }
    fn source_profile(&self, f: &Filter, source: &str, limit: u32) -> Result<SourceProfile> {
        self.reader.source_profile(f, source, limit)
    }
    fn alerts(&self, q: &AlertQuery) -> Result<Vec<StoredAlert>> {
        self.reader.alerts(q)
    }
    fn alert_evidence(&self, alert_ids: &[i64]) -> Result<Vec<AlertEvidence>> {
        self.reader.alert_evidence(alert_ids)
    }
    fn number(&self, f: &Filter, number: &str) -> Result<Option<NumberAttempts>> {
        self.reader.number(f, number)
    }
    fn kept_reports(&self, format: &str) -> Result<Vec<crate::sinks::kept::KeptReport>> {
        self.reader.kept_reports(format)
    }
    fn change_mark(&self) -> Result<Option<i64>> {
        self.reader.change_mark()
    }
    fn scan_tables(
        &self,
        tables: &[IndexTable],
        visit: &mut dyn FnMut(IndexTable, &[Cell<'_>]) -> Scan,
    ) -> Result<Option<i64>> {
        self.reader.scan_tables(tables, visit)
    }
}
