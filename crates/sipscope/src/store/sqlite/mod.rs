//! [`StoreReader`] over the embedded SQLite store: every SQL statement reports, campaign
//! clustering and `analyze` run, on a read-only connection that never blocks the writer. An
//! older store is migrated when opened (by [`Store::open_read_only_current`]); a newer one is
//! refused.

mod alerts;
mod analysis;
mod api;
mod clause;
mod decisions;
mod events;
mod extent;
mod flows;
mod merge;
mod numbers;
mod runs;
mod scan;
mod traffic;

use super::query::*;
use super::rows::*;
use super::{Filter, Result, StoreError, StoreReader};
use crate::analysis::stages::Stage;
use crate::event::SipEvent;
use crate::sinks::sqlite::Store;
use clause::Clause;
use rusqlite::{Connection, ErrorCode, Row};
use std::net::IpAddr;
use std::path::Path;

/// The backend's name in errors.
const BACKEND: &str = "SQLite";

/// A read-only SQLite store of the current schema.
pub struct SqliteReader {
    conn: Connection,
}

impl SqliteReader {
    /// Opens the store at `path` for reading, migrating an older store first.
    pub fn open(path: &Path) -> Result<SqliteReader> {
        Ok(SqliteReader { conn: Store::open_read_only_current(path)? })
    }
}

impl std::fmt::Debug for SqliteReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteReader").field("path", &self.conn.path()).finish()
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        use rusqlite::Error as E;
        let corrupt = match &e {
            E::SqliteFailure(f, _) => matches!(f.code, ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase),
            E::FromSqlConversionFailure(..) | E::InvalidColumnType(..) | E::IntegralValueOutOfRange(..) => true,
            _ => false,
        };
        if corrupt {
            StoreError::Corrupt(e.to_string())
        } else {
            StoreError::Backend { backend: BACKEND, message: e.to_string() }
        }
    }
}

/// Column `i` as text, invalid UTF-8 replaced (attacker text is stored lossless, but a
/// report never fails on it); a number reads as its decimal text.
fn text(r: &Row<'_>, i: usize) -> rusqlite::Result<String> {
    Ok(opt_text(r, i)?.unwrap_or_default())
}

/// Column `i` as text, `None` when NULL.
fn opt_text(r: &Row<'_>, i: usize) -> rusqlite::Result<Option<String>> {
    use rusqlite::types::ValueRef;
    Ok(match r.get_ref(i)? {
        ValueRef::Null => None,
        ValueRef::Integer(v) => Some(v.to_string()),
        ValueRef::Real(v) => Some(v.to_string()),
        ValueRef::Text(t) | ValueRef::Blob(t) => Some(String::from_utf8_lossy(t).into_owned()),
    })
}

/// Runs `sql` (with `clause` where `{where}` stands) and maps every row.
fn rows<T>(
    conn: &Connection,
    sql: &str,
    clause: &Clause,
    mut map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare(&clause.within(sql))?;
    let mut rows = stmt.query(rusqlite::params_from_iter(clause.params.iter()))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(map(r)?);
    }
    Ok(out)
}

/// Runs `sql` for its single integer (a count; NULL is 0).
fn count(conn: &Connection, sql: &str, clause: &Clause) -> Result<i64> {
    let n: Option<i64> =
        conn.query_row(&clause.within(sql), rusqlite::params_from_iter(clause.params.iter()), |r| r.get(0))?;
    Ok(n.unwrap_or(0))
}

impl StoreReader for SqliteReader {
    fn contents(&self) -> Result<StoreContents> {
        traffic::contents(&self.conn)
    }
    fn analysis_coverage(&self) -> Result<AnalysisCoverage> {
        runs::coverage(&self.conn)
    }
    fn time_extent(&self) -> Result<Option<TimeExtent>> {
        extent::time_extent(&self.conn, &[])
    }
    fn time_extent_beyond(&self, known: &[crate::store::scan::IndexTable]) -> Result<Option<TimeExtent>> {
        extent::time_extent(&self.conn, known)
    }
    fn traffic_summary(&self, f: &Filter) -> Result<TrafficSummary> {
        traffic::summary(&self.conn, f)
    }
    fn daily_requests(&self, f: &Filter) -> Result<Vec<DailyRequests>> {
        traffic::daily(&self.conn, f)
    }
    fn top_sources(&self, f: &Filter, limit: u32) -> Result<Vec<SourceRequests>> {
        traffic::top_sources(&self.conn, f, limit)
    }
    fn dialled_users(&self, f: &Filter, source: Option<&str>) -> Result<i64> {
        traffic::dialled_users(&self.conn, f, source)
    }

    fn dialled_numbers(&self, f: &Filter, source: Option<&str>) -> Result<i64> {
        traffic::dialled_numbers(&self.conn, f, source)
    }
    fn main_agent(&self, f: &Filter, source: &str) -> Result<Option<String>> {
        traffic::main_agent(&self.conn, f, source)
    }
    fn top_user_agents(&self, f: &Filter, limit: u32) -> Result<Vec<AgentRequests>> {
        traffic::top_user_agents(&self.conn, f, limit)
    }
    fn agent_classes(&self) -> Result<Vec<AgentClass>> {
        analysis::agent_classes(&self.conn)
    }
    fn request_sources(&self, f: &Filter) -> Result<Vec<String>> {
        traffic::request_sources(&self.conn, f)
    }
    fn source_nodes(&self, f: &Filter) -> Result<Vec<SourceNode>> {
        traffic::source_nodes(&self.conn, f)
    }
    fn each_dialled_country(&self, f: &Filter, visit: &mut dyn FnMut(DialledCountry<'_>)) -> Result<()> {
        traffic::each_dialled_country(&self.conn, f, visit)
    }
    fn unified_number_count(&self, f: &Filter) -> Result<i64> {
        numbers::unified_number_count(&self.conn, f)
    }
    fn top_numbers(&self, f: &Filter, limit: u32) -> Result<Vec<NumberAttempts>> {
        numbers::top_numbers(&self.conn, f, limit)
    }
    fn number_countries(&self, f: &Filter) -> Result<Vec<CountryAttempts>> {
        numbers::number_countries(&self.conn, f)
    }
    fn top_passwords(&self, f: &Filter, limit: u32) -> Result<Vec<PasswordAttempts>> {
        analysis::top_passwords(&self.conn, f, limit)
    }
    fn top_extensions(&self, f: &Filter, limit: u32) -> Result<Vec<ExtensionAttempts>> {
        analysis::top_extensions(&self.conn, f, limit)
    }
    fn node_stages(&self, f: &Filter) -> Result<Vec<NodeStages>> {
        analysis::node_stages(&self.conn, f)
    }
    fn stage_totals(&self, f: &Filter) -> Result<Vec<StageTotals>> {
        analysis::stage_totals(&self.conn, f)
    }
    fn stage_sources(&self, f: &Filter, stage: Stage) -> Result<i64> {
        analysis::stage_sources(&self.conn, f, stage)
    }
    fn tool_flows(&self, f: &Filter) -> Result<Vec<ToolFlows>> {
        flows::tool_flows(&self.conn, f)
    }
    fn custom_fingerprints(&self, f: &Filter, limit: u32) -> Result<Vec<FingerprintFlows>> {
        flows::custom_fingerprints(&self.conn, f, limit)
    }
    fn tools_by_year(&self, f: &Filter) -> Result<Vec<ToolYear>> {
        flows::tools_by_year(&self.conn, f)
    }
    fn strategy_flows(&self, f: &Filter) -> Result<Vec<StrategyFlows>> {
        flows::strategy_flows(&self.conn, f)
    }
    fn source_tool_packets(&self, f: &Filter) -> Result<Vec<SourceToolPackets>> {
        flows::source_tool_packets(&self.conn, f)
    }
    fn widest_flow(&self, f: &Filter, source: Option<IpAddr>) -> Result<Option<FlowWindow>> {
        flows::widest_flow(&self.conn, f, source)
    }
    fn first_hits(&self, f: &Filter, flow: &FlowWindow) -> Result<Vec<String>> {
        events::first_hits(&self.conn, f, flow)
    }
    fn source_days(&self, from_day: i64, to_day: i64) -> Result<Vec<SourceDay>> {
        flows::source_days(&self.conn, from_day, to_day)
    }
    fn source_tool_activity(&self, from_ns: i64, to_ns: i64) -> Result<Vec<SourceToolActivity>> {
        flows::source_tool_activity(&self.conn, from_ns, to_ns)
    }
    fn decisions_in_force(&self, now_ns: i64) -> Result<Vec<DecisionRow>> {
        decisions::in_force(&self.conn, now_ns)
    }
    fn decisions(&self, f: &Filter, limit: u32) -> Result<Vec<DecisionRow>> {
        decisions::overlapping(&self.conn, f, limit)
    }
    fn failed_auth(&self, source: IpAddr, since_ns: i64, limit: u32) -> Result<Vec<FailedAuth>> {
        decisions::failed_auth(&self.conn, source, since_ns, limit)
    }
    fn accepted_auth(&self, after_id: i64, since_ns: i64, limit: u32) -> Result<Vec<AcceptedAuth>> {
        decisions::accepted_auth(&self.conn, after_id, since_ns, limit)
    }
    fn each_event(&self, f: &mut dyn FnMut(SipEvent)) -> Result<u64> {
        events::each_event(&self.conn, f)
    }
    fn alert_rules(&self, f: &Filter) -> Result<Vec<AlertRuleRow>> {
        alerts::alert_rules(&self.conn, f)
    }
    fn recent_alerts(&self, f: &Filter, limit: u32) -> Result<Vec<AlertRow>> {
        alerts::recent_alerts(&self.conn, f, limit)
    }
    fn each_event_in(&self, filter: &Filter, f: &mut dyn FnMut(SipEvent)) -> Result<u64> {
        events::each_event_in(&self.conn, filter, f)
    }

    fn each_event_of_run(&self, run: i64, after_event: i64, f: &mut dyn FnMut(SipEvent)) -> Result<u64> {
        events::each_event_of_run(&self.conn, run, after_event, f)
    }
    fn each_logged_attempt(&self, f: &mut dyn FnMut(LoggedAttemptRow)) -> Result<u64> {
        events::each_logged_attempt(&self.conn, f)
    }
    fn events(&self, q: &EventQuery) -> Result<Vec<EventRecord>> {
        api::events(&self.conn, q)
    }
    fn source_profile(&self, f: &Filter, source: &str, limit: u32) -> Result<SourceProfile> {
        api::source_profile(&self.conn, f, source, limit)
    }
    fn alerts(&self, q: &AlertQuery) -> Result<Vec<StoredAlert>> {
        api::alerts(&self.conn, q)
    }
    fn alert_evidence(&self, alert_ids: &[i64]) -> Result<Vec<AlertEvidence>> {
        api::alert_evidence(&self.conn, alert_ids)
    }
    fn number(&self, f: &Filter, number: &str) -> Result<Option<NumberAttempts>> {
        numbers::number(&self.conn, f, number)
    }
    fn kept_reports(&self, format: &str) -> Result<Vec<crate::sinks::kept::KeptReport>> {
        use crate::sinks::kept::{KeptReport, MAX_KEPT_BYTES, MAX_KEPT_REPORTS};
        let mut st = self.conn.prepare(
            "SELECT key, format, built_ns, body FROM kept_reports
             WHERE format = ?1 AND length(CAST(body AS BLOB)) <= ?2 ORDER BY built_ns DESC, key LIMIT ?3",
        )?;
        let found = st.query_map(rusqlite::params![format, MAX_KEPT_BYTES as i64, MAX_KEPT_REPORTS as i64], |r| {
            Ok(KeptReport { key: text(r, 0)?, format: text(r, 1)?, built_ns: r.get(2)?, body: text(r, 3)? })
        })?;
        Ok(found.collect::<rusqlite::Result<_>>()?)
    }
    fn change_mark(&self) -> Result<Option<i64>> {
        scan::change_mark(&self.conn)
    }
    fn scan_tables(
        &self,
        tables: &[crate::store::scan::IndexTable],
        visit: &mut dyn FnMut(
            crate::store::scan::IndexTable,
            &[crate::store::scan::Cell<'_>],
        ) -> crate::store::scan::Scan,
    ) -> Result<Option<i64>> {
        scan::scan_tables(&self.conn, tables, visit)
    }
}

#[cfg(test)]
pub(crate) mod merge_tests;
#[cfg(test)]
mod tests;
