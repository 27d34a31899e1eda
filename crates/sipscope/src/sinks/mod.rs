//! Where events go: the write side of storage. Each sink is a folder behind [`Sink`]; the one
//! store that also keeps analysis runs and the capture-file registry implements
//! [`EventStore`]. `sqlite/` is the embedded default, `jsonl/` a copy of every event as JSON
//! Lines, `hep/` a copy sent to a HOMER collector, `postgres/` the store of many sensors
//! (chosen by a `postgres://` URL). The pipeline owns one store and any number
//! of extra sinks and fans out to them. Alerts and decisions go to [`AlertSink`]s (`eve/`,
//! `syslog/`, `webhook/`, opened by [`open_alert_sinks`]); decisions are written through
//! [`decisions::DecisionLog`], the REST API's kept reports through [`kept::ReportKeeper`].

pub mod alerts;
mod committing;
pub mod decisions;
pub mod delivery;
pub mod endpoint;
pub mod eve;
pub(crate) mod event_ids;
pub mod health;
pub mod hep;
pub mod jsonl;
pub mod kept;
pub mod live;
pub mod nats;
pub mod postgres;
pub mod sqlite;
pub mod syslog;
pub mod webhook;
mod writer_thread;

use crate::analysis::result::{AnalysisResult, Handover};
use crate::event::fields::SipFields;
use crate::event::record::Record;
use crate::event::SipEvent;
pub(crate) use committing::CommitRequest;
pub use committing::Committing;

/// Which sinks a command writes to. Every sink is opened here, in one place: a new sink is a
/// folder under `sinks/`, a field here and a line in [`open`].
#[derive(Debug, Clone, Default)]
pub struct SinkConfig {
    /// The store: a file path (SQLite, created and migrated when missing) or a
    /// `postgres://` / `postgresql://` URL (PostgreSQL, its schema created or migrated).
    pub store: std::path::PathBuf,
    /// A copy of every event as JSON Lines, appended to this file.
    pub jsonl: Option<std::path::PathBuf>,
    /// A copy of every event (or of some methods) sent to a HOMER collector in HEPv3.
    pub hep_out: Option<hep::HepOutConfig>,
    /// Keep running when the store cannot write (a full disk): hold this much to retry, count
    /// what is dropped (see [`health`]). `None`: the first write error is returned (ingest).
    pub backlog: Option<health::StoreBacklog>,
    /// Publish what the store keeps to NATS JetStream (the store is the outbox), as this
    /// sensor. `None` (or an empty URL): no publishing.
    pub nats: Option<(nats::NatsConfig, String)>,
    /// PostgreSQL only: drop daily event partitions older than this many days (`None`: keep
    /// everything). See docs/postgres.md.
    pub retention_days: Option<u32>,
}

/// The store named by `store` as PostgreSQL's URL, when it is one.
pub fn postgres_url(store: &std::path::Path) -> Option<&str> {
    store.to_str().filter(|s| postgres::is_url(s))
}

/// How a store is named in messages: a file's path, or a URL without its password.
pub fn store_name(store: &std::path::Path) -> String {
    match postgres_url(store) {
        Some(url) => postgres::redact(url),
        None => store.display().to_string(),
    }
}

/// The sinks of a command, opened.
pub struct OpenSinks {
    /// The store the pipeline writes to first.
    pub store: Box<dyn EventStore>,
    /// Sinks that get a copy of every event.
    pub extra: Vec<Box<dyn Sink>>,
    /// Whether the store is writing (outages, what was dropped).
    pub health: health::StoreHealth,
}

/// Opens the store (on its writer thread) and the extra sinks of `config`.
pub fn open(config: &SinkConfig) -> Result<OpenSinks, SinkError> {
    let (store, health): (Box<dyn EventStore>, _) = match postgres_url(&config.store) {
        Some(url) => {
            let options = postgres::PgOptions { retention_days: config.retention_days, ..Default::default() };
            let store =
                postgres::PgBackground::spawn(postgres::PgStore::open(url, options)?, config.backlog.is_some())?;
            let health = store.health();
            (Box::new(store), health)
        }
        None => {
            let store = sqlite::Store::open(&config.store)?;
            let store = match config.backlog {
                Some(backlog) => sqlite::BackgroundStore::spawn_resilient(store, backlog)?,
                None => sqlite::BackgroundStore::spawn(store)?,
            };
            let health = store.health();
            (Box::new(store), health)
        }
    };
    let mut extra: Vec<Box<dyn Sink>> = Vec::new();
    if let Some(path) = &config.jsonl {
        extra.push(Box::new(jsonl::JsonLines::open(path)?));
    }
    if let Some(hep_out) = &config.hep_out {
        extra.push(Box::new(hep::HepOut::open(hep_out.clone())?));
    }
    if let Some((nats, sensor)) = config.nats.as_ref().filter(|(n, _)| n.enabled()) {
        if postgres_url(&config.store).is_some() {
            return Err(SinkError::Backend {
                backend: "nats",
                message: "publishing reads the local store as its outbox: give a SQLite store, not PostgreSQL".into(),
            });
        }
        // The store was created and migrated above; the outbox reads it on its own connection.
        let outbox = Box::new(sqlite::SqliteOutbox::open(&config.store)?);
        extra.push(Box::new(nats::Publisher::spawn(nats.clone(), sensor.clone(), outbox)?));
    }
    Ok(OpenSinks { store, extra, health })
}

/// The store at `path` as an outbox (`sipscope sensor publish`; must exist).
pub fn open_outbox(path: &std::path::Path) -> Result<Box<dyn nats::Outbox>, SinkError> {
    if !path.exists() {
        let cause = std::io::Error::from(std::io::ErrorKind::NotFound);
        return Err(SinkError::Io { what: format!("opening {}", path.display()), cause });
    }
    // Migrated first (an older store has no outbox table), then opened to save acks.
    drop(sqlite::Store::open(path)?);
    Ok(Box::new(sqlite::SqliteOutbox::open(path)?))
}

/// Where the outbox of the store at `path` stands for `stream` (`sipscope sensor status`).
pub fn outbox_state(path: &std::path::Path, stream: &str) -> Result<Vec<nats::OutboxState>, SinkError> {
    use nats::Outbox;
    sqlite::SqliteOutbox::open_existing(path)?.state(stream)
}

/// Why the publisher of the store at `path` fails to publish to `stream` now, if it does
/// (`sipscope sensor status`).
pub fn outbox_failure(path: &std::path::Path, stream: &str) -> Result<Option<nats::OutboxFailure>, SinkError> {
    use nats::Outbox;
    sqlite::SqliteOutbox::open_existing(path)?.failure(stream)
}

/// A collector's positions in the store at `path`: (sensor, kind, highest sequence stored,
/// when it was stored in ns), by sensor (`sipscope collect status`).
pub fn collector_positions(path: &std::path::Path) -> Result<Vec<(String, String, i64, i64)>, SinkError> {
    sqlite::SqliteOutbox::open_existing(path)?.collector_positions()
}

/// Opens the decisions of the store at `path` for writing (creating and migrating it): the
/// decision policy's store worker and `sipscope decisions` write through it.
pub fn open_decision_log(path: &std::path::Path) -> Result<Box<dyn decisions::DecisionLog>, SinkError> {
    if let Some(url) = postgres_url(path) {
        return Ok(Box::new(postgres::PgDecisionLog::open(url)?));
    }
    Ok(Box::new(sqlite::SqliteDecisionLog::open(path)?))
}

/// Opens the store at `path` (creating and migrating it) for the reports the REST API keeps
/// across restarts (`kept`).
pub fn open_report_keeper(path: &std::path::Path) -> Result<Box<dyn kept::ReportKeeper>, SinkError> {
    if let Some(url) = postgres_url(path) {
        return Ok(Box::new(postgres::PgReportKeeper::open(url)?));
    }
    Ok(Box::new(sqlite::SqliteReportKeeper::open(path)?))
}

/// Opens the alert outputs of `config` (`sensor` names the host in syslog messages): the
/// EVE-like JSON Lines file, syslog, the webhook (its secret read from its file here).
pub fn open_alert_sinks(config: &alerts::AlertsConfig, sensor: &str) -> Result<Vec<Box<dyn AlertSink>>, SinkError> {
    let invalid = |message: String| SinkError::Backend { backend: "alert outputs", message };
    config.check().map_err(invalid)?;
    let timeout = std::time::Duration::from_secs(config.timeout_seconds);
    let mut out: Vec<Box<dyn AlertSink>> = Vec::new();
    if let Some(path) = &config.jsonl {
        out.push(Box::new(eve::EveFile::open(path)?));
    }
    if let Some(endpoint) = config.syslog_endpoint().map_err(invalid)? {
        out.push(Box::new(syslog::Syslog::open(syslog::SyslogConfig {
            endpoint,
            facility: syslog::message::facility(&config.syslog_facility).map_err(invalid)?,
            host: sensor.to_owned(),
            timeout,
            limits: config.limits(),
        })?));
    }
    if let (Some(endpoint), Some(secret_file)) =
        (config.webhook_endpoint().map_err(invalid)?, &config.webhook_secret_file)
    {
        let secret = std::fs::read(secret_file)
            .map_err(|cause| SinkError::Io { what: format!("reading {}", secret_file.display()), cause })?;
        let secret = secret.trim_ascii_end().to_vec();
        out.push(Box::new(webhook::Webhook::open(webhook::WebhookConfig {
            endpoint,
            secret,
            ca_file: config.webhook_ca_file.clone(),
            timeout,
            limits: config.limits(),
        })?));
    }
    Ok(out)
}

/// A failure to store or forward events. Not tied to a backend: each backend turns its own
/// errors into these.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// The backend refused or failed an operation (its own message, e.g. SQLite's).
    #[error("{backend}: {message}")]
    Backend {
        /// Which backend (`SQLite store`, `JSON Lines` …).
        backend: &'static str,
        /// What it said.
        message: String,
    },
    /// Reading or writing a file failed. (The cause is part of the message, not a separate
    /// source, so that a chain of errors does not print it twice.)
    #[error("{what}: {cause}")]
    Io {
        /// Which file or operation.
        what: String,
        /// The cause.
        cause: std::io::Error,
    },
    /// The backend cannot write for now (a full disk, an I/O error): retrying later may work.
    #[error("{backend}: {message}")]
    Unavailable {
        /// Which backend.
        backend: &'static str,
        /// What it said.
        message: String,
    },
    /// The writer thread of a background sink stopped.
    #[error("{0}")]
    Writer(String),
    /// The store was written by a newer sipscope.
    #[error("the store has schema version {found}; this sipscope knows up to {known}")]
    NewerSchema {
        /// Version found in the file.
        found: i64,
        /// Newest version this build knows.
        known: i64,
    },
}

/// Where alerts and decisions go besides the store: Suricata-EVE-like JSON Lines, syslog,
/// webhooks. Called in the pipeline's order; an implementation that talks to the network queues
/// (bounded) and never blocks the pipeline.
pub trait AlertSink: Send {
    /// An alert was raised or updated.
    fn alert(&mut self, alert: &crate::act::Alert) -> Result<(), SinkError>;
    /// A decision was taken.
    fn decision(&mut self, decision: &crate::act::Decision) -> Result<(), SinkError>;
    /// Makes what was written durable (files) or hands it to the sender (network).
    fn flush(&mut self) -> Result<(), SinkError>;
}

/// Consumes events and records in order. Implementations batch as they see fit;
/// [`Sink::flush`] makes everything accepted so far durable.
///
/// Every method is required, so that a sink says explicitly what it keeps: a sink that keeps
/// no analysis results answers the hand-over with `Ok(())` in its own code, where a reader
/// sees it, instead of inheriting a default that drops them silently.
pub trait Sink: Send {
    /// Takes one event with its extracted fields. The n-th call (from 0) is the event's
    /// position: a store that numbers its rows may use it to name an alert's evidence
    /// (`act::Evidence::stored`), so every call counts, failed ones too.
    fn write(&mut self, event: SipEvent, fields: SipFields) -> Result<(), SinkError>;
    /// Takes a record (authentication attempt, binding, recovered password).
    fn record(&mut self, record: Record) -> Result<(), SinkError>;
    /// Takes what the analysis engine handed over before finishing (closed flows, traffic of
    /// hours that ended) for its run `run`.
    fn hand_over(&mut self, run: i64, rows: Handover) -> Result<(), SinkError>;
    /// Makes everything accepted durable.
    fn flush(&mut self) -> Result<(), SinkError>;
}

/// A capture file as the registry knows it: its content hash and where it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureFile {
    /// SHA-256 of the content, hex.
    pub sha256: String,
    /// The path as given.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// The sensor ingesting it.
    pub sensor: String,
}

/// What [`EventStore::begin_file`] decided for a capture file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStart {
    /// The same content was ingested completely before: skip it.
    AlreadyIngested {
        /// Its id.
        id: i64,
    },
    /// Ingest it under this id. `replaced` counts events of an earlier, interrupted (or
    /// `--force`d) run of the same content that were deleted first, so nothing is doubled.
    Ingest {
        /// The file's id.
        id: i64,
        /// Events deleted from the earlier run.
        replaced: u64,
    },
}

/// What a finished capture file contained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileCounts {
    /// Frames read.
    pub packets: u64,
    /// SIP messages found.
    pub messages: u64,
    /// Damage skipped.
    pub skipped: u64,
    /// The decoded content, to recognise it in other files.
    pub content: Option<ContentDigest>,
}

/// What an analysis run is for (stored as `analysis_runs.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    /// `sipscope ingest`.
    Ingest,
    /// `sipscope capture`.
    Capture,
    /// `sipscope honeypot`.
    Honeypot,
    /// `sipscope analyze` (replaces every earlier run).
    Analyze,
}

impl std::str::FromStr for RunKind {
    type Err = String;
    fn from_str(s: &str) -> Result<RunKind, String> {
        [RunKind::Ingest, RunKind::Capture, RunKind::Honeypot, RunKind::Analyze]
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown analysis run kind {s:?}"))
    }
}

impl RunKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Ingest => "ingest",
            RunKind::Capture => "capture",
            RunKind::Honeypot => "honeypot",
            RunKind::Analyze => "analyze",
        }
    }
}

/// What an analysis run covers, as the store records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunScope {
    /// What the run is for.
    pub kind: RunKind,
    /// Delete every earlier run first (`sipscope analyze`).
    pub replace_all: bool,
    /// The capture file the run analyses (an ingest runs the engine once per file, so that a
    /// file replaced later takes exactly its own results with it).
    pub file_id: Option<i64>,
    /// The sensor whose events it analyses.
    pub sensor: String,
}

/// An analysis run left unfinished by a process that is gone (see `owner`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterruptedRun {
    /// Its id.
    pub run: i64,
    /// What it was for.
    pub kind: RunKind,
    /// The capture file it analysed, when any (that file is partial: re-ingesting it replaces
    /// its events and this run).
    pub file_id: Option<i64>,
    /// The sensor whose events it analysed.
    pub sensor: String,
    /// When it began.
    pub started_ns: i64,
    /// The highest event id when it began: its events all have larger ids.
    pub after_event: i64,
    /// The process that wrote it (`owner`), gone: a run is continued only while this still
    /// holds, so two processes never take over the same run.
    pub owner: String,
}

/// A complete capture file's decoded content, to recognise the same records in another file
/// (a compressed copy, or the finished version of a capture ingested while it grew).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentDigest {
    /// Records (frames) read.
    pub records: u64,
    /// SHA-256 over every record's link type, time, original length and bytes.
    pub sha256: [u8; 32],
}

/// The store the pipeline writes to first: a sink that also keeps analysis runs, the
/// capture-file registry and the ids of records.
pub trait EventStore: Sink {
    /// Opens an analysis run (after deleting every earlier run when the scope says so); events
    /// written until it finishes belong to it. Returns its id.
    fn begin_analysis_run(&mut self, scope: RunScope, started_ns: i64) -> Result<i64, SinkError>;
    /// Stores the rest of a run's results and closes it; `covered` counts the stored events
    /// its results include (reports compare it with the events).
    fn finish_analysis_run(
        &mut self,
        run: i64,
        finished_ns: i64,
        result: AnalysisResult,
        covered: u64,
    ) -> Result<(), SinkError>;
    /// Runs left unfinished by a process that is gone, oldest first.
    fn interrupted_runs(&mut self) -> Result<Vec<InterruptedRun>, SinkError>;
    /// Deletes a run and its rows (an interrupted run, once recovered or given up).
    fn discard_run(&mut self, run: i64) -> Result<(), SinkError>;
    /// Takes over an interrupted run (not a file's), or a stopped one ([`Self::stopped_run`]),
    /// as this process's open run, so that a long run continues across a crash or a restart
    /// (`sources/replay.rs`): in one transaction its results are deleted (its alerts kept, for
    /// the replay to find again), and it is opened again under the same id, owned by this
    /// process, with its start and first event as before, so its events and those written
    /// from now on are one run's. Returns false, changing nothing, when the run is no longer
    /// the one described (another process took it over, or it is gone).
    fn continue_run(&mut self, run: &InterruptedRun) -> Result<bool, SinkError>;
    /// The newest run of `kind` and `sensor` (not a file's) when it is finished and the
    /// process that wrote it is gone: a long run stopped gracefully, which the next start of
    /// the same command may continue like an interrupted one ([`EventStore::continue_run`]).
    fn stopped_run(&mut self, kind: RunKind, sensor: &str) -> Result<Option<InterruptedRun>, SinkError>;
    /// The id of the newest stored event (0 when none): with a run's `after_event`, a bound on
    /// how many events replaying it reads.
    fn last_event_id(&mut self) -> Result<i64, SinkError>;
    /// Registers a capture file by its content hash (see [`FileStart`]).
    fn begin_file(&mut self, file: CaptureFile, now_ns: i64, force: bool) -> Result<FileStart, SinkError>;
    /// Marks a file complete, once every event read from it is durable.
    fn finish_file(&mut self, id: i64, counts: FileCounts, now_ns: i64) -> Result<(), SinkError>;
    /// The complete files' content digests (by id), to recognise their records elsewhere.
    fn known_contents(&mut self) -> Result<Vec<(i64, ContentDigest)>, SinkError>;
    /// File `old`'s records are all in file `by` (which is being ingested): deletes `old`'s
    /// events and analysis runs and marks it superseded. Returns the events deleted.
    fn supersede_file(&mut self, old: i64, by: i64) -> Result<u64, SinkError>;
    /// The first free id of an authentication attempt.
    fn next_auth_attempt_id(&mut self) -> Result<i64, SinkError>;
    /// Stores an alert, in order with the events (its evidence messages were written before
    /// it and are resolved to their ids), under the open analysis run; an alert of the same
    /// sensor, rule, group and first match updates the stored one.
    fn alert(&mut self, alert: &crate::act::Alert) -> Result<(), SinkError>;
    /// The collector (`sipscope collect`): raises the highest sequence stored per (sensor,
    /// kind) so that it commits with the events written before it (the next flush commits
    /// both). Only the collector writes them.
    fn set_collected(&mut self, positions: Vec<(String, String, i64)>, now_ns: i64) -> Result<(), SinkError>;
    /// The collector: [`Self::set_collected`] and a flush, without waiting for the commit when
    /// the store writes on a thread of its own (the outcome comes through the [`Committing`];
    /// a store without one commits before returning). What is written after it goes into the
    /// next transaction. After an earlier write failed, nothing is committed and the outcome
    /// is an error.
    fn commit_collected(&mut self, positions: Vec<(String, String, i64)>, now_ns: i64)
        -> Result<Committing, SinkError>;
    /// The collector's positions as committed: (sensor, kind, highest sequence stored).
    fn collected_positions(&mut self) -> Result<Vec<(String, String, i64)>, SinkError>;
}
