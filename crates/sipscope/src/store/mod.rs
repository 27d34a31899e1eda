//! The read side of a store: every question reports, campaign clustering and `sipscope analyze`
//! ask of stored data, as one trait with typed rows. Readers depend on [`StoreReader`] only, so
//! another backend (PostgreSQL) answers the same questions without touching them; SQL lives in
//! the backend's module ([`sqlite`], [`postgres`]), never in its readers. Writing stays in `sinks`.

pub mod filter;
pub(crate) mod fold;
pub mod indexed;
pub mod overlay;
pub mod postgres;
pub mod query;
mod rank;
pub mod rows;
pub mod scan;
pub mod sqlite;

pub use filter::Filter;
pub use query::*;
pub use rows::*;
pub use sqlite::SqliteReader;

use crate::analysis::stages::Stage;
use crate::event::SipEvent;
use std::net::IpAddr;

/// Opens the store at `path` for reading (migrating an older store first): where the read
/// backend is chosen, by the store's name — a `postgres://` or `postgresql://` URL is
/// PostgreSQL ([`postgres::PgReader`]), anything else a SQLite file.
pub fn open(path: &std::path::Path) -> Result<Box<dyn StoreReader + Send>> {
    if let Some(url) = crate::sinks::postgres_url(path) {
        return Ok(Box::new(postgres::PgReader::open(url)?));
    }
    Ok(Box::new(SqliteReader::open(path)?))
}

/// Why a store could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend failed (I/O, locking, a query it refused).
    #[error("{backend} store: {message}")]
    Backend {
        /// Which backend ("SQLite", …).
        backend: &'static str,
        /// What it said.
        message: String,
    },
    /// The store was written by a newer sipscope.
    #[error("the store has schema version {found}; this sipscope knows up to {known}")]
    NewerSchema {
        /// Version found in the store.
        found: i64,
        /// Newest version this build knows.
        known: i64,
    },
    /// The store holds something its schema does not allow (a damaged file, a wrong type).
    #[error("the store is damaged: {0}")]
    Corrupt(String),
}

impl From<crate::sinks::SinkError> for StoreError {
    fn from(e: crate::sinks::SinkError) -> StoreError {
        use crate::sinks::SinkError as E;
        match e {
            E::NewerSchema { found, known } => StoreError::NewerSchema { found, known },
            E::Backend { backend, message } | E::Unavailable { backend, message } => {
                StoreError::Backend { backend: backend.strip_suffix(" store").unwrap_or(backend), message }
            }
            other => StoreError::Backend { backend: "the", message: other.to_string() },
        }
    }
}

/// A failure to read.
pub type Result<T> = std::result::Result<T, StoreError>;

/// Everything read from a store. "Requests" are requests received (never the honeypot's own
/// messages). Counts of messages come from the hourly totals, so a [`Filter`] covers the
/// whole UTC hours its range touches ([`Filter::hours`]); analysis rows are filtered by their
/// own time (a flow's or stage's first message, a number's last attempt) and merged over
/// every analysis run. The filter's nodes apply to data kept per node (hourly totals, stages
/// per node, authentication attempts, events); flows and numbers have no node. Lists come in
/// a stable order (largest first where a `limit` is taken, ties by name).
pub trait StoreReader {
    /// Which kinds of data the store holds (to tell "never analysed" from "nothing happened").
    fn contents(&self) -> Result<StoreContents>;

    /// How far the analysis follows the events (whole store, not filtered).
    fn analysis_coverage(&self) -> Result<AnalysisCoverage>;

    /// The earliest and latest time of anything a section selects by time (`None` when the
    /// store holds nothing of it): a range around it selects what no range selects.
    fn time_extent(&self) -> Result<Option<TimeExtent>>;

    /// [`StoreReader::time_extent`] of every table but `known` (whose extents the caller holds:
    /// the report index), so that those are not scanned; a backend may include them anyway
    /// (the extent of more tables, combined with theirs, is the same).
    fn time_extent_beyond(&self, known: &[scan::IndexTable]) -> Result<Option<TimeExtent>>;

    /// Message totals over the filter's hours and nodes.
    fn traffic_summary(&self, f: &Filter) -> Result<TrafficSummary>;

    /// Requests per UTC day and method, by day then method.
    fn daily_requests(&self, f: &Filter) -> Result<Vec<DailyRequests>>;

    /// The `limit` sources with the most requests.
    fn top_sources(&self, f: &Filter, limit: u32) -> Result<Vec<SourceRequests>>;

    /// Distinct Request-URI users of INVITEs received, from `source` only when given.
    fn dialled_users(&self, f: &Filter, source: Option<&str>) -> Result<i64>;

    /// Distinct unified numbers of call attempts (probes and extensions excluded), from
    /// `source` only when given.
    fn dialled_numbers(&self, f: &Filter, source: Option<&str>) -> Result<i64>;

    /// The User-Agent `source` sent most requests with (a named agent over none on a tie).
    fn main_agent(&self, f: &Filter, source: &str) -> Result<Option<String>>;

    /// The `limit` User-Agents with the most requests.
    fn top_user_agents(&self, f: &Filter, limit: u32) -> Result<Vec<AgentRequests>>;

    /// User agents per class, all time (the analysis' classification), most messages first.
    fn agent_classes(&self) -> Result<Vec<AgentClass>>;

    /// Every distinct source of requests.
    fn request_sources(&self, f: &Filter) -> Result<Vec<String>>;

    /// Each (source, node) pair with requests, with its first time.
    fn source_nodes(&self, f: &Filter) -> Result<Vec<SourceNode>>;

    /// Calls `visit` with the INVITEs of every `dialled` row whose number has a country, as
    /// stored or already summed per source and country (the caller sums them either way).
    fn each_dialled_country(&self, f: &Filter, visit: &mut dyn FnMut(DialledCountry<'_>)) -> Result<()>;

    /// Distinct unified numbers dialled (by their last attempt).
    fn unified_number_count(&self, f: &Filter) -> Result<i64>;

    /// The `limit` unified numbers with the most calls, with the spellings they were dialled in.
    fn top_numbers(&self, f: &Filter, limit: u32) -> Result<Vec<NumberAttempts>>;

    /// Calls per destination country, most first.
    fn number_countries(&self, f: &Filter) -> Result<Vec<CountryAttempts>>;

    /// The `limit` passwords tried most.
    fn top_passwords(&self, f: &Filter, limit: u32) -> Result<Vec<PasswordAttempts>>;

    /// The `limit` extensions with the most authentication attempts.
    fn top_extensions(&self, f: &Filter, limit: u32) -> Result<Vec<ExtensionAttempts>>;

    /// Sources per stage at each node (by node name).
    fn node_stages(&self, f: &Filter) -> Result<Vec<NodeStages>>;

    /// Sources and messages per stage over all nodes (by stage name); the filter's nodes do
    /// not apply.
    fn stage_totals(&self, f: &Filter) -> Result<Vec<StageTotals>>;

    /// Distinct sources that reached `stage`: at the filter's nodes, or over all nodes when it
    /// names none.
    fn stage_sources(&self, f: &Filter, stage: Stage) -> Result<i64>;

    /// Flows per tool, variant and verdict, most packets first.
    fn tool_flows(&self, f: &Filter) -> Result<Vec<ToolFlows>>;

    /// The `limit` custom fingerprints (no tool matched) with the most packets.
    fn custom_fingerprints(&self, f: &Filter, limit: u32) -> Result<Vec<FingerprintFlows>>;

    /// Sources and packets per year and tool, by year then most packets.
    fn tools_by_year(&self, f: &Filter) -> Result<Vec<ToolYear>>;

    /// Flows per scan strategy, most flows first.
    fn strategy_flows(&self, f: &Filter) -> Result<Vec<StrategyFlows>>;

    /// Packets per source and tool.
    fn source_tool_packets(&self, f: &Filter) -> Result<Vec<SourceToolPackets>>;

    /// The flow with the most destinations (of `source` only, when given).
    fn widest_flow(&self, f: &Filter, source: Option<IpAddr>) -> Result<Option<FlowWindow>>;

    /// The destination addresses of the requests of `flow`, in the order it first hit them
    /// (as stored). Reads the events of one source through its index.
    fn first_hits(&self, f: &Filter, flow: &FlowWindow) -> Result<Vec<String>>;

    /// The distinct (source, day) pairs with `from_day <= day <= to_day`.
    fn source_days(&self, from_day: i64, to_day: i64) -> Result<Vec<SourceDay>>;

    /// Per source and tool, the flows that began in `[from_ns, to_ns)`, by source then tool.
    fn source_tool_activity(&self, from_ns: i64, to_ns: i64) -> Result<Vec<SourceToolActivity>>;

    /// Alerts per rule (by their first match's time and their node), most alerts first.
    fn alert_rules(&self, f: &Filter) -> Result<Vec<AlertRuleRow>>;

    /// The `limit` alerts with the latest first match.
    fn recent_alerts(&self, f: &Filter, limit: u32) -> Result<Vec<AlertRow>>;

    /// Calls `f` with every stored event in time order (ties in insertion order); returns how
    /// many.
    fn each_event(&self, f: &mut dyn FnMut(SipEvent)) -> Result<u64>;

    /// Calls `f` with every stored event in the filter's time range and nodes, in time order
    /// (ties in insertion order); returns how many (`export`).
    fn each_event_in(&self, filter: &Filter, f: &mut dyn FnMut(SipEvent)) -> Result<u64>;

    /// Decisions not deleted that hold at `now_ns` (bans, rate limits and watches in force),
    /// oldest first.
    fn decisions_in_force(&self, now_ns: i64) -> Result<Vec<DecisionRow>>;

    /// Decisions, deleted ones included, that held at some time in the filter's range (its
    /// nodes do not apply: a decision is about an address), newest first, at most `limit`.
    fn decisions(&self, f: &Filter, limit: u32) -> Result<Vec<DecisionRow>>;

    /// The last `limit` failed authentication attempts from `source` since `since_ns`,
    /// newest first (the decision policy's "stale credentials" test).
    fn failed_auth(&self, source: IpAddr, since_ns: i64, limit: u32) -> Result<Vec<FailedAuth>>;

    /// Successful authentications with an id above `after_id` and a time at or after
    /// `since_ns`, by id, at most `limit` (the "authenticated within N hours" allowlist,
    /// read on from the last id seen).
    fn accepted_auth(&self, after_id: i64, since_ns: i64, limit: u32) -> Result<Vec<AcceptedAuth>>;

    /// Every event stored under analysis run `run` (whose events all have ids above
    /// `after_event`), in time order, to recover an interrupted run; returns how many.
    fn each_event_of_run(&self, run: i64, after_event: i64, f: &mut dyn FnMut(SipEvent)) -> Result<u64>;

    /// Every authentication attempt read from a PBX log, in time order (ties in insertion
    /// order), for `analyze` to take beside the events; returns how many.
    fn each_logged_attempt(&self, f: &mut dyn FnMut(LoggedAttemptRow)) -> Result<u64>;
    /// A page of events (the REST API's `/events`, and its live feed polling for ids above
    /// the last one): see [`EventQuery`] for the filters and the two orders.
    fn events(&self, q: &EventQuery) -> Result<Vec<EventRecord>>;

    /// One source's story over the filter's range (its nodes apply to authentication attempts
    /// and hourly totals; stages come for every node): at most `limit` of each list.
    fn source_profile(&self, f: &Filter, source: &str, limit: u32) -> Result<SourceProfile>;

    /// Alerts with every field (see [`AlertQuery`]).
    fn alerts(&self, q: &AlertQuery) -> Result<Vec<StoredAlert>>;
    /// The evidence of these alerts, by alert id then position.
    fn alert_evidence(&self, alert_ids: &[i64]) -> Result<Vec<AlertEvidence>>;

    /// One unified number as [`StoreReader::top_numbers`] counts it; `None` when it was not
    /// dialled in the range.
    fn number(&self, f: &Filter, number: &str) -> Result<Option<NumberAttempts>>;

    /// The reports the REST API kept in the store (`sinks::kept`) whose format is `format`
    /// and whose body is at most `sinks::kept::MAX_KEPT_BYTES`, newest first, at most
    /// `sinks::kept::MAX_KEPT_REPORTS`.
    fn kept_reports(&self, format: &str) -> Result<Vec<crate::sinks::kept::KeptReport>>;

    /// A mark of the store's contents: the same mark from the same reader means nothing was
    /// written since (a different one may be a false alarm: the index is loaded again);
    /// `None` when the backend cannot tell (then nothing is indexed).
    fn change_mark(&self) -> Result<Option<i64>>;

    /// Calls `visit` with every row of each of `tables` (`scan::IndexTable` names the columns),
    /// all from one snapshot of the store, table after table, until `visit` says
    /// [`scan::Scan::Stop`]. Returns the change mark read before the snapshot was taken
    /// ([`StoreReader::change_mark`]); `None` when the backend does not support it (nothing
    /// visited) or `visit` stopped.
    fn scan_tables(
        &self,
        tables: &[scan::IndexTable],
        visit: &mut dyn FnMut(scan::IndexTable, &[scan::Cell<'_>]) -> scan::Scan,
    ) -> Result<Option<i64>>;
}
