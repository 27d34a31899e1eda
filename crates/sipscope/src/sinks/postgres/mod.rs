//! The PostgreSQL store: the write side for many sensors in one database (issue 16). Chosen by
//! `sinks::open` when the store is a `postgres://` or `postgresql://` URL. Same tables as the
//! SQLite store (see `schema.rs`), events in daily partitions (`partitions.rs`), written in
//! batches by binary COPY inside a transaction on a writer thread of its own
//! (`background.rs`). `sequence` holds the event's id (the column stays for stores written
//! before schema 6); a collector is exactly-once by its committed positions
//! ([`PgStore::set_collected`]), not by a key on `events`. The connection URL may hold a password: it is
//! never logged or put in an error ([`redact`]). TLS to the database: `sslmode` and its
//! companions in the URL ([`tls`]).

mod alerts;
mod analysis;
mod background;
mod copy;
mod counts;
mod decisions;
mod events;
mod kept;
pub mod partitions;
mod records;
mod rollups;
pub mod schema;
pub mod tls;

pub use background::PgBackground;
pub use decisions::PgDecisionLog;
pub use kept::PgReportKeeper;
pub use partitions::PartitionLimits;

use super::{
    CaptureFile, Committing, ContentDigest, EventStore, FileCounts, FileStart, InterruptedRun, RunScope, Sink,
    SinkError,
};
use crate::analysis::result::{AnalysisResult, Handover};
use crate::event::fields::SipFields;
use crate::event::record::Record;
use crate::event::SipEvent;
use postgres::{Client, NoTls};

/// The backend's name in errors.
const BACKEND: &str = "PostgreSQL store";

/// Events per transaction (as SQLite's): large enough to amortise the commit and the COPY,
/// small enough that an interrupted run loses little.
pub const DEFAULT_BATCH: usize = 20_000;

/// Whether `store` names a PostgreSQL database rather than a file.
pub fn is_url(store: &str) -> bool {
    store.starts_with("postgres://") || store.starts_with("postgresql://")
}

/// The URL without its password (and any other parameter), for messages:
/// `postgres://user@host:port/db`.
pub fn redact(url: &str) -> String {
    let rest = tls::split(url).map_or_else(|_| url.to_owned(), |(rest, _)| rest);
    match rest.parse::<postgres::Config>() {
        Ok(c) => {
            let host = match c.get_hosts().first() {
                Some(postgres::config::Host::Tcp(h)) => h.clone(),
                Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
                None => String::new(),
            };
            let port = c.get_ports().first().map(|p| format!(":{p}")).unwrap_or_default();
            let user = c.get_user().map(|u| format!("{u}@")).unwrap_or_default();
            format!("postgres://{user}{host}{port}/{}", c.get_dbname().unwrap_or_default())
        }
        Err(_) => "postgres://(unreadable URL)".into(),
    }
}

/// PostgreSQL's error as a [`SinkError`]: conditions that pass (a full disk, a read-only or
/// restarting server, a lost connection) are [`SinkError::Unavailable`]. The text is the
/// server's message and its SQLSTATE, never the rows' values (its DETAIL can quote them).
pub fn pg_error(e: postgres::Error) -> SinkError {
    let message = describe(&e);
    let passing = match e.code() {
        Some(code) => {
            let c = code.code();
            // 53: insufficient resources; 57: operator intervention; 08: connection;
            // 25006: read-only transaction; 58: system error (I/O).
            c.starts_with("53") || c.starts_with("57") || c.starts_with("08") || c == "25006" || c.starts_with("58")
        }
        None => e.is_closed() || e.as_db_error().is_none(),
    };
    if passing {
        SinkError::Unavailable { backend: BACKEND, message }
    } else {
        SinkError::Backend { backend: BACKEND, message }
    }
}

/// The server's message and SQLSTATE, or the client's error with its cause (a server that
/// crashed on a full disk only shows as a connection that broke: say so).
pub fn describe(e: &postgres::Error) -> String {
    use std::error::Error as _;
    match (e.as_db_error(), e.source()) {
        (Some(db), _) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        (None, _) if e.is_closed() => format!("the connection to the server was closed ({e})"),
        (None, Some(io)) if io.is::<std::io::Error>() => {
            format!("the connection to the server was lost ({e}: {io})")
        }
        (None, Some(cause)) => format!("{e}: {cause}"),
        (None, None) => e.to_string(),
    }
}

/// Connects to `url`, with TLS when its `sslmode` asks for it ([`tls`]; none without one:
/// the database on the host or a private network).
pub fn connect(url: &str) -> Result<Client, SinkError> {
    let unusable = |why: String| SinkError::Backend {
        backend: BACKEND,
        message: format!("{}: not a usable connection URL ({why})", redact(url)),
    };
    let (rest, tls) = tls::split(url).map_err(unusable)?;
    let mut config: postgres::Config = rest.parse().map_err(|e: postgres::Error| unusable(describe(&e)))?;
    if config.get_application_name().is_none() {
        config.application_name("sipscope");
    }
    config.ssl_mode(tls.config_mode());
    let connected = match tls
        .connector()
        .map_err(|why| SinkError::Backend { backend: BACKEND, message: format!("TLS to {}: {why}", redact(url)) })?
    {
        Some(tls) => config.connect(tls),
        None => config.connect(NoTls),
    };
    connected.map_err(|e| {
        let inner = pg_error(e);
        SinkError::Unavailable { backend: BACKEND, message: format!("connecting to {}: {inner}", redact(url)) }
    })
}

/// Text as PostgreSQL keeps it: `text` cannot hold NUL, which becomes `\x00` (the lossless
/// convention of the fields; the raw bytes keep the original).
pub(crate) fn pg_text(s: &str) -> std::borrow::Cow<'_, str> {
    // (memchr: every text field of every event is searched.)
    if memchr::memchr(0, s.as_bytes()).is_some() {
        std::borrow::Cow::Owned(s.replace('\0', "\\x00"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// [`pg_text`] of an optional value.
pub(crate) fn pg_opt(s: &Option<String>) -> Option<std::borrow::Cow<'_, str>> {
    s.as_deref().map(pg_text)
}

/// Options of the PostgreSQL store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PgOptions {
    /// Drop daily partitions of events older than this many days (when opened, and at each new
    /// day written); `None` keeps everything.
    pub retention_days: Option<u32>,
    /// Which days get partitions of their own.
    pub partitions: PartitionLimits,
}

/// The store, opened for writing.
pub struct PgStore {
    client: Client,
    /// Where to reconnect (never logged: it may hold a password).
    url: String,
    in_transaction: bool,
    /// Events waiting for the next COPY (in the open transaction).
    pending: Vec<(SipEvent, SipFields)>,
    /// The position of each pending event (`act::Evidence::stored`).
    pending_positions: Vec<u64>,
    /// The ids of the events copied here, by position (`sinks/event_ids.rs`).
    event_ids: crate::sinks::event_ids::EventIds,
    /// Events taken through [`PgStore::insert_event`]: the next one's position.
    event_positions: crate::sinks::event_ids::Positions,
    /// Alerts waiting for the pending events they cite (written after them, in order), with
    /// the run open when each was raised.
    pending_alerts: Vec<(crate::act::Alert, Option<i64>)>,
    /// Rows written in the open transaction.
    written: usize,
    /// Events copied into the open transaction (counted out at its commit).
    events_in_tx: u64,
    batch: usize,
    current_run: Option<i64>,
    partitions: partitions::Partitions,
    options: PgOptions,
    /// The newest day retention ran for.
    retention_day: Option<i64>,
    /// Event ids one `nextval('events_id_seq')` hands out: the sequence's increment, read at
    /// open ([`schema::EVENT_ID_BLOCK`] since migration 7, whatever a restore may have left).
    id_block: i64,
}

impl PgStore {
    /// Connects to `url`, creates or migrates the schema and applies retention.
    pub fn open(url: &str, options: PgOptions) -> Result<PgStore, SinkError> {
        let mut client = connect(url)?;
        schema::migrate(&mut client)?;
        let id_block = schema::event_id_block(&mut client)?;
        let mut store = PgStore {
            client,
            url: url.to_owned(),
            in_transaction: false,
            pending: Vec::new(),
            pending_positions: Vec::new(),
            event_ids: crate::sinks::event_ids::EventIds::default(),
            event_positions: Default::default(),
            pending_alerts: Vec::new(),
            written: 0,
            events_in_tx: 0,
            batch: DEFAULT_BATCH,
            current_run: None,
            partitions: partitions::Partitions::new(options.partitions),
            options,
            retention_day: None,
            id_block,
        };
        store.apply_retention(crate::time::now_ns())?;
        Ok(store)
    }

    /// Opens a new connection when the server closed this one (a restart); what the old one
    /// held uncommitted is gone, as after a rollback.
    pub fn reconnect_if_closed(&mut self) {
        if !self.client.is_closed() {
            return;
        }
        if let Ok(client) = connect(&self.url) {
            self.client = client;
            self.in_transaction = false;
            self.written = 0;
            self.partitions.forget();
        }
    }

    /// After a failed write: re-opens the connection when it no longer answers (the server
    /// restarted or ended the session), so that the next batch can be written.
    pub fn reconnect_if_broken(&mut self) {
        if self.client.is_closed() || self.client.batch_execute("SELECT 1").is_err() {
            if let Ok(client) = connect(&self.url) {
                self.client = client;
                self.in_transaction = false;
                self.written = 0;
                self.partitions.forget();
            }
        }
    }

    /// The connection, for queries between writes (tests, the collector).
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// Drops partitions beyond the retention (once per day of `now_ns`).
    pub fn apply_retention(&mut self, now_ns: i64) -> Result<(), SinkError> {
        let Some(days) = self.options.retention_days else { return Ok(()) };
        let today = crate::time::day_of(now_ns);
        if self.retention_day == Some(today) {
            return Ok(());
        }
        self.flush_now()?;
        let dropped = partitions::drop_older_than(&mut self.client, days, now_ns)?;
        self.event_ids.forget();
        if !dropped.is_empty() {
            tracing::info!(partitions = dropped.len(), first = %dropped[0], "retention dropped old event partitions");
        }
        self.retention_day = Some(today);
        Ok(())
    }

    fn begin(&mut self) -> Result<(), SinkError> {
        if !self.in_transaction {
            self.client.batch_execute("BEGIN").map_err(pg_error)?;
            self.in_transaction = true;
        }
        Ok(())
    }

    /// Counts a row written; commits when the batch is full.
    fn written(&mut self) -> Result<(), SinkError> {
        self.written += 1;
        if self.written >= self.batch {
            self.flush_now()?;
        }
        Ok(())
    }

    /// Writes the pending events into the open transaction (before any other statement, so
    /// that everything stays in order).
    fn copy_pending(&mut self) -> Result<(), SinkError> {
        if self.pending.is_empty() && self.pending_alerts.is_empty() {
            return Ok(());
        }
        self.begin()?;
        if !self.pending.is_empty() {
            let pending = std::mem::take(&mut self.pending);
            let positions = std::mem::take(&mut self.pending_positions);
            match events::copy(self, &pending) {
                Err(e) => {
                    // The caller abandons the batch; keep the events so that it could retry them.
                    self.pending = pending;
                    self.pending_positions = positions;
                    return Err(e);
                }
                // Every event got its id: known by position.
                Ok(ids) => {
                    for (position, id) in positions.iter().zip(ids) {
                        self.event_ids.note(*position, id);
                    }
                }
            }
            self.events_in_tx += pending.len() as u64;
            // Emptied, their room kept for the next batch.
            self.pending = pending;
            self.pending.clear();
            self.pending_positions = positions;
            self.pending_positions.clear();
        }
        let alerts = std::mem::take(&mut self.pending_alerts);
        self.write_alerts(&alerts)
    }

    /// Commits the open batch.
    pub fn flush_now(&mut self) -> Result<(), SinkError> {
        self.copy_pending()?;
        if self.in_transaction {
            let started = std::time::Instant::now();
            self.client.batch_execute("COMMIT").map_err(pg_error)?;
            crate::metrics::observe_commit(crate::metrics::Backend::Postgres, started.elapsed());
            crate::metrics::events_out(crate::metrics::Sink::Postgres, std::mem::take(&mut self.events_in_tx));
            self.in_transaction = false;
            self.written = 0;
        }
        Ok(())
    }

    /// Rolls back the open batch after a failed write; pending events are dropped.
    pub fn abandon_batch(&mut self) {
        if self.in_transaction {
            let _ = self.client.batch_execute("ROLLBACK");
        }
        self.in_transaction = false;
        self.written = 0;
        self.events_in_tx = 0;
        self.pending.clear();
        self.pending_positions.clear();
        self.pending_alerts.clear();
        // Ids of rolled-back rows name nothing.
        self.event_ids.forget();
        self.partitions.forget();
    }

    /// Takes an event of this store, at the next position of this store's own count.
    pub fn insert_event(&mut self, event: SipEvent, fields: SipFields) -> Result<(), SinkError> {
        let position = self.event_positions.next();
        self.insert_at(event, fields, position)
    }

    /// Takes an event handed over at `position`.
    pub(super) fn insert_at(&mut self, event: SipEvent, fields: SipFields, position: u64) -> Result<(), SinkError> {
        self.pending.push((event, fields));
        self.pending_positions.push(position);
        self.written()
    }

    /// Raises the collector's positions in the open batch, after the events written before
    /// them, so that they commit together (`sipscope collect`), in one statement. The batch's
    /// commit is synchronous whatever the server's `synchronous_commit`: the collector
    /// acknowledges its broker once the commit returns, so the rows must be durable by then.
    pub fn set_collected(&mut self, positions: &[(String, String, i64)], now_ns: i64) -> Result<(), SinkError> {
        self.copy_pending()?;
        self.begin()?;
        let mut highest: std::collections::BTreeMap<(&str, &str), i64> = std::collections::BTreeMap::new();
        for (sensor, kind, seq) in positions {
            let at = highest.entry((sensor.as_str(), kind.as_str())).or_insert(*seq);
            *at = (*at).max(*seq);
        }
        let sensors: Vec<&str> = highest.keys().map(|k| k.0).collect();
        let kinds: Vec<&str> = highest.keys().map(|k| k.1).collect();
        let seqs: Vec<i64> = highest.values().copied().collect();
        self.client.batch_execute("SET LOCAL synchronous_commit = on").map_err(pg_error)?;
        self.client
            .execute(
                "INSERT INTO collector_positions (sensor, kind, seq, stored_ns)
                 SELECT sensor, kind, seq, $4 FROM unnest($1::text[], $2::text[], $3::int8[]) AS p(sensor, kind, seq)
                 ON CONFLICT (sensor, kind) DO UPDATE
                 SET seq = GREATEST(collector_positions.seq, excluded.seq), stored_ns = excluded.stored_ns",
                &[&sensors, &kinds, &seqs, &now_ns],
            )
            .map_err(pg_error)?;
        Ok(())
    }

    /// The collector's positions as committed (or in the open batch).
    pub fn collected_positions(&mut self) -> Result<Vec<(String, String, i64)>, SinkError> {
        let rows = self.client.query("SELECT sensor, kind, seq FROM collector_positions", &[]).map_err(pg_error)?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
    }

    /// Number of stored events (committed or in the open transaction).
    pub fn event_count(&mut self) -> Result<u64, SinkError> {
        self.copy_pending()?;
        let n: i64 = self.client.query_one("SELECT count(*) FROM events", &[]).map_err(pg_error)?.get(0);
        Ok(n.max(0) as u64)
    }
}

impl Sink for PgStore {
    fn write(&mut self, event: SipEvent, fields: SipFields) -> Result<(), SinkError> {
        self.insert_event(event, fields)
    }

    fn record(&mut self, record: Record) -> Result<(), SinkError> {
        self.insert_record(&record)
    }

    fn hand_over(&mut self, run: i64, rows: Handover) -> Result<(), SinkError> {
        self.append_handover(run, &rows)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.flush_now()
    }
}

impl EventStore for PgStore {
    fn begin_analysis_run(&mut self, scope: RunScope, started_ns: i64) -> Result<i64, SinkError> {
        PgStore::begin_analysis_run(self, &scope, started_ns)
    }

    fn finish_analysis_run(
        &mut self,
        run: i64,
        finished_ns: i64,
        result: AnalysisResult,
        covered: u64,
    ) -> Result<(), SinkError> {
        PgStore::finish_analysis_run(self, run, finished_ns, &result, covered)
    }

    fn interrupted_runs(&mut self) -> Result<Vec<InterruptedRun>, SinkError> {
        PgStore::interrupted_runs(self)
    }

    fn discard_run(&mut self, run: i64) -> Result<(), SinkError> {
        PgStore::discard_run(self, run)
    }

    fn continue_run(&mut self, run: &InterruptedRun) -> Result<bool, SinkError> {
        PgStore::continue_run(self, run)
    }

    fn stopped_run(&mut self, kind: crate::sinks::RunKind, sensor: &str) -> Result<Option<InterruptedRun>, SinkError> {
        PgStore::stopped_run(self, kind, sensor)
    }

    fn last_event_id(&mut self) -> Result<i64, SinkError> {
        PgStore::last_event_id(self)
    }

    fn begin_file(&mut self, file: CaptureFile, now_ns: i64, force: bool) -> Result<FileStart, SinkError> {
        PgStore::begin_file(self, &file, now_ns, force)
    }

    fn finish_file(&mut self, id: i64, counts: FileCounts, now_ns: i64) -> Result<(), SinkError> {
        PgStore::finish_file(self, id, counts, now_ns)
    }

    fn known_contents(&mut self) -> Result<Vec<(i64, ContentDigest)>, SinkError> {
        PgStore::known_contents(self)
    }

    fn supersede_file(&mut self, old: i64, by: i64) -> Result<u64, SinkError> {
        PgStore::supersede_file(self, old, by)
    }

    fn next_auth_attempt_id(&mut self) -> Result<i64, SinkError> {
        PgStore::next_auth_attempt_id(self)
    }

    fn alert(&mut self, alert: &crate::act::Alert) -> Result<(), SinkError> {
        self.insert_alert(alert)
    }

    fn set_collected(&mut self, positions: Vec<(String, String, i64)>, now_ns: i64) -> Result<(), SinkError> {
        PgStore::set_collected(self, &positions, now_ns)
    }

    fn commit_collected(
        &mut self,
        positions: Vec<(String, String, i64)>,
        now_ns: i64,
    ) -> Result<Committing, SinkError> {
        Ok(Committing::done(PgStore::set_collected(self, &positions, now_ns).and_then(|()| self.flush_now())))
    }

    fn collected_positions(&mut self) -> Result<Vec<(String, String, i64)>, SinkError> {
        PgStore::collected_positions(self)
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Best effort, as SQLite's: a file stays 'partial' when this fails, so the next run
        // replaces its events.
        let _ = self.flush_now();
    }
}
