//! [`StoreReader`] over the PostgreSQL store (`sinks/postgres/`): the SQLite reader's questions
//! in PostgreSQL's SQL, giving the same answers on the same data. What differs from SQLite and
//! is handled here: sums of `bigint` are `numeric` (cast back), text sorts by the database's
//! collation (every ORDER BY on text says `COLLATE "C"`, SQLite's byte order), NULLs sort last
//! (`NULLS FIRST` where SQLite puts them first), addresses of events and records are `inet`
//! (read back as `IpAddr`'s text, as SQLite stores it). Every ORDER BY is total, so ties come
//! in the same order from both backends. Filters are bound parameters (`clause.rs`).

mod alerts;
mod analysis;
mod api;
mod clause;
mod events;
mod extent;
mod pool;
mod scan;
mod traffic;

pub use pool::ReaderSettings;

use super::query::{AlertEvidence, AlertQuery, EventQuery, EventRecord, SourceProfile, StoredAlert};
use super::rows::*;
use super::{Filter, Result, StoreError, StoreReader};
use crate::analysis::stages::Stage;
use crate::event::SipEvent;
use crate::sinks::postgres::{connect, describe, schema};
use clause::Clause;
use pool::Pool;
use postgres::{Client, Row};
use std::net::IpAddr;

/// The backend's name in errors.
const BACKEND: &str = "PostgreSQL";

/// A PostgreSQL store of the current schema, opened for reading.
pub struct PgReader {
    pool: Pool,
}

impl std::fmt::Debug for PgReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgReader").finish_non_exhaustive()
    }
}

impl PgReader {
    /// Connects to `url`; a store of an older schema is migrated first (which only adds), a
    /// newer one refused.
    pub fn open(url: &str) -> Result<PgReader> {
        PgReader::open_with(url, ReaderSettings::default())
    }

    /// [`PgReader::open`] with settings other than the defaults.
    pub fn open_with(url: &str, settings: ReaderSettings) -> Result<PgReader> {
        let mut client = connect(url)?;
        let found = schema::version(&mut client)?;
        if found > schema::SCHEMA_VERSION {
            return Err(StoreError::NewerSchema { found, known: schema::SCHEMA_VERSION });
        }
        if found < schema::SCHEMA_VERSION {
            schema::migrate(&mut client)?;
        }
        Ok(PgReader { pool: Pool::new(url, settings, client)? })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Client) -> Result<T>) -> Result<T> {
        self.pool.with(f)
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> StoreError {
        StoreError::Backend { backend: BACKEND, message: describe(&e) }
    }
}

/// A column of an unexpected type: the store is damaged (never a panic).
fn get<'a, T: postgres::types::FromSql<'a>>(r: &'a Row, i: usize) -> Result<T> {
    r.try_get(i).map_err(|e| StoreError::Corrupt(format!("column {i}: {e}")))
}

/// A count or sum, 0 when NULL.
fn n(r: &Row, i: usize) -> Result<i64> {
    Ok(get::<Option<i64>>(r, i)?.unwrap_or(0))
}

/// Runs `sql` (with `clause` where `{where}` stands) and maps every row.
fn rows<T>(client: &mut Client, sql: &str, clause: &Clause, mut map: impl FnMut(&Row) -> Result<T>) -> Result<Vec<T>> {
    let found = client.query(&clause.within(sql), &clause.params())?;
    found.iter().map(&mut map).collect()
}

/// Runs `sql` for its single integer (a count; NULL is 0).
fn count(client: &mut Client, sql: &str, clause: &Clause) -> Result<i64> {
    let found = client.query(&clause.within(sql), &clause.params())?;
    match found.first() {
        Some(r) => n(r, 0),
        None => Ok(0),
    }
}

impl StoreReader for PgReader {
    fn contents(&self) -> Result<StoreContents> {
        self.with(traffic::contents)
    }
    fn analysis_coverage(&self) -> Result<AnalysisCoverage> {
        self.with(analysis::coverage)
    }
    fn time_extent(&self) -> Result<Option<TimeExtent>> {
        self.with(extent::time_extent)
    }
    fn traffic_summary(&self, f: &Filter) -> Result<TrafficSummary> {
        self.with(|c| traffic::summary(c, f))
    }
    fn daily_requests(&self, f: &Filter) -> Result<Vec<DailyRequests>> {
        self.with(|c| traffic::daily(c, f))
    }
    fn top_sources(&self, f: &Filter, limit: u32) -> Result<Vec<SourceRequests>> {
        self.with(|c| traffic::top_sources(c, f, limit))
    }
    fn dialled_users(&self, f: &Filter, source: Option<&str>) -> Result<i64> {
        self.with(|c| traffic::dialled_users(c, f, source))
    }
    fn dialled_numbers(&self, f: &Filter, source: Option<&str>) -> Result<i64> {
        self.with(|c| traffic::dialled_numbers(c, f, source))
    }
    fn main_agent(&self, f: &Filter, source: &str) -> Result<Option<String>> {
        self.with(|c| traffic::main_agent(c, f, source))
    }
    fn top_user_agents(&self, f: &Filter, limit: u32) -> Result<Vec<AgentRequests>> {
        self.with(|c| traffic::top_user_agents(c, f, limit))
    }
    fn agent_classes(&self) -> Result<Vec<AgentClass>> {
        self.with(analysis::agent_classes)
    }
    fn request_sources(&self, f: &Filter) -> Result<Vec<String>> {
        self.with(|c| traffic::request_sources(c, f))
    }
    fn source_nodes(&self, f: &Filter) -> Result<Vec<SourceNode>> {
        self.with(|c| traffic::source_nodes(c, f))
    }
    fn each_dialled_country(&self, f: &Filter, visit: &mut dyn FnMut(DialledCountry<'_>)) -> Result<()> {
        self.with(|c| traffic::each_dialled_country(c, f, visit))
    }
    fn unified_number_count(&self, f: &Filter) -> Result<i64> {
        self.with(|c| analysis::unified_number_count(c, f))
    }
    fn top_numbers(&self, f: &Filter, limit: u32) -> Result<Vec<NumberAttempts>> {
        self.with(|c| analysis::top_numbers(c, f, limit))
    }
    fn number_countries(&self, f: &Filter) -> Result<Vec<CountryAttempts>> {
        self.with(|c| analysis::number_countries(c, f))
    }
    fn top_passwords(&self, f: &Filter, limit: u32) -> Result<Vec<PasswordAttempts>> {
        self.with(|c| analysis::top_passwords(c, f, limit))
    }
    fn top_extensions(&self, f: &Filter, limit: u32) -> Result<Vec<ExtensionAttempts>> {
        self.with(|c| analysis::top_extensions(c, f, limit))
    }
    fn node_stages(&self, f: &Filter) -> Result<Vec<NodeStages>> {
        self.with(|c| analysis::node_stages(c, f))
    }
    fn stage_totals(&self, f: &Filter) -> Result<Vec<StageTotals>> {
        self.with(|c| analysis::stage_totals(c, f))
    }
    fn stage_sources(&self, f: &Filter, stage: Stage) -> Result<i64> {
        self.with(|c| analysis::stage_sources(c, f, stage))
    }
    fn tool_flows(&self, f: &Filter) -> Result<Vec<ToolFlows>> {
        self.with(|c| analysis::tool_flows(c, f))
    }
    fn custom_fingerprints(&self, f: &Filter, limit: u32) -> Result<Vec<FingerprintFlows>> {
        self.with(|c| analysis::custom_fingerprints(c, f, limit))
    }
    fn tools_by_year(&self, f: &Filter) -> Result<Vec<ToolYear>> {
        self.with(|c| analysis::tools_by_year(c, f))
    }
    fn strategy_flows(&self, f: &Filter) -> Result<Vec<StrategyFlows>> {
        self.with(|c| analysis::strategy_flows(c, f))
    }
    fn source_tool_packets(&self, f: &Filter) -> Result<Vec<SourceToolPackets>> {
        self.with(|c| analysis::source_tool_packets(c, f))
    }
    fn widest_flow(&self, f: &Filter, source: Option<IpAddr>) -> Result<Option<FlowWindow>> {
        self.with(|c| analysis::widest_flow(c, f, source))
    }
    fn first_hits(&self, f: &Filter, flow: &FlowWindow) -> Result<Vec<String>> {
        self.with(|c| events::first_hits(c, f, flow))
    }
    fn source_days(&self, from_day: i64, to_day: i64) -> Result<Vec<SourceDay>> {
        self.with(|c| analysis::source_days(c, from_day, to_day))
    }
    fn source_tool_activity(&self, from_ns: i64, to_ns: i64) -> Result<Vec<SourceToolActivity>> {
        self.with(|c| analysis::source_tool_activity(c, from_ns, to_ns))
    }
    fn alert_rules(&self, f: &Filter) -> Result<Vec<AlertRuleRow>> {
        self.with(|c| alerts::alert_rules(c, f))
    }
    fn recent_alerts(&self, f: &Filter, limit: u32) -> Result<Vec<AlertRow>> {
        self.with(|c| alerts::recent_alerts(c, f, limit))
    }
    fn each_event(&self, f: &mut dyn FnMut(SipEvent)) -> Result<u64> {
        self.with(|c| events::each_event(c, None, f))
    }
    fn decisions_in_force(&self, now_ns: i64) -> Result<Vec<DecisionRow>> {
        self.with(|c| events::decisions_in_force(c, now_ns))
    }
    fn decisions(&self, f: &Filter, limit: u32) -> Result<Vec<DecisionRow>> {
        self.with(|c| events::decisions(c, f, limit))
    }
    fn failed_auth(&self, source: IpAddr, since_ns: i64, limit: u32) -> Result<Vec<FailedAuth>> {
        self.with(|c| events::failed_auth(c, source, since_ns, limit))
    }
    fn accepted_auth(&self, after_id: i64, since_ns: i64, limit: u32) -> Result<Vec<AcceptedAuth>> {
        self.with(|c| events::accepted_auth(c, after_id, since_ns, limit))
    }
    fn each_event_of_run(&self, run: i64, after_event: i64, f: &mut dyn FnMut(SipEvent)) -> Result<u64> {
        self.with(|c| events::each_event(c, Some((run, after_event)), f))
    }
    fn each_event_in(&self, filter: &Filter, f: &mut dyn FnMut(SipEvent)) -> Result<u64> {
        self.with(|c| events::each_event_in(c, filter, f))
    }
    fn each_logged_attempt(&self, f: &mut dyn FnMut(LoggedAttemptRow)) -> Result<u64> {
        self.with(|c| events::each_logged_attempt(c, f))
    }
    fn events(&self, q: &EventQuery) -> Result<Vec<EventRecord>> {
        self.with(|c| api::events(c, q))
    }
    fn source_profile(&self, f: &Filter, source: &str, limit: u32) -> Result<SourceProfile> {
        self.with(|c| api::source_profile(c, f, source, limit))
    }
    fn alerts(&self, q: &AlertQuery) -> Result<Vec<StoredAlert>> {
        self.with(|c| api::alerts(c, q))
    }
    fn alert_evidence(&self, alert_ids: &[i64]) -> Result<Vec<AlertEvidence>> {
        self.with(|c| api::alert_evidence(c, alert_ids))
    }
    fn number(&self, f: &Filter, number: &str) -> Result<Option<NumberAttempts>> {
        self.with(|c| analysis::number(c, f, number))
    }
    fn time_extent_beyond(&self, _known: &[crate::store::scan::IndexTable]) -> Result<Option<TimeExtent>> {
        self.time_extent()
    }
    fn change_mark(&self) -> Result<Option<i64>> {
        self.with(scan::change_mark)
    }
    fn scan_tables(
        &self,
        tables: &[crate::store::scan::IndexTable],
        visit: &mut dyn FnMut(
            crate::store::scan::IndexTable,
            &[crate::store::scan::Cell<'_>],
        ) -> crate::store::scan::Scan,
    ) -> Result<Option<i64>> {
        self.with(|c| scan::scan_tables(c, tables, visit))
    }
    fn kept_reports(&self, format: &str) -> Result<Vec<crate::sinks::kept::KeptReport>> {
        use crate::sinks::kept::{KeptReport, MAX_KEPT_BYTES, MAX_KEPT_REPORTS};
        self.with(|c| {
            let found = c.query(
                "SELECT key, format, built_ns, body FROM kept_reports
                 WHERE format = $1 AND octet_length(body)::bigint <= $2 ORDER BY built_ns DESC, key COLLATE \"C\" LIMIT $3",
                &[&format, &(MAX_KEPT_BYTES as i64), &(MAX_KEPT_REPORTS as i64)],
            )?;
            found
                .iter()
                .map(|r| Ok(KeptReport { key: get(r, 0)?, format: get(r, 1)?, built_ns: get(r, 2)?, body: get(r, 3)? }))
                .collect()
        })
    }
}
