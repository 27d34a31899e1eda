//! The embedded event store: SQLite in WAL mode, one writer that batches inserts in
//! transactions, readers on their own connections that never block it.

mod alerts;
mod analysis;
mod background;
mod checkpoint;
mod decisions;
mod events;
mod kept;
mod outbox;
mod records;
mod rollups;
mod runs;
mod schema;

pub use background::BackgroundStore;
pub use decisions::SqliteDecisionLog;
pub use kept::SqliteReportKeeper;
pub use outbox::SqliteOutbox;

pub use schema::SCHEMA_VERSION;

use super::{
    CaptureFile, Committing, ContentDigest, EventStore, FileCounts, FileStart, InterruptedRun, RunScope, Sink,
    SinkError,
};
use crate::analysis::result::{AnalysisResult, Handover};
use crate::event::fields::SipFields;
use crate::event::record::Record;
use crate::event::SipEvent;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::path::Path;

/// Events per transaction: large enough to amortise the commit, small enough that an
/// interrupted run loses little and readers see progress.
const DEFAULT_BATCH: usize = 20_000;

/// The store, opened for writing.
pub struct Store {
    conn: Connection,
    /// Checkpoints beside the writer (none when its thread could not start).
    checkpointer: Option<checkpoint::Checkpointer>,
    in_transaction: bool,
    pending: usize,
    /// Events in the open transaction (counted as stored in the metrics when it commits).
    pending_events: u64,
    batch: usize,
    /// The analysis run open on this store: events written meanwhile are stored under it.
    current_run: Option<i64>,
    /// The store held events when opened, or this writer wrote one since: an alert's evidence
    /// is looked up among the events only then (with `--events none` into a new store there
    /// is nothing to find).
    events_present: bool,
    /// The multi-row INSERT statements of events (see `events.rs`).
    insert_sql: events::InsertSql,
    /// The ids of the events written here, by their position (see `event_ids.rs`).
    event_ids: crate::sinks::event_ids::EventIds,
    /// Events written through [`Store::insert_event`]: the next one's position.
    event_positions: crate::sinks::event_ids::Positions,
}

impl From<rusqlite::Error> for SinkError {
    fn from(e: rusqlite::Error) -> SinkError {
        use rusqlite::ErrorCode as C;
        let message = e.to_string();
        match e.sqlite_error_code() {
            // Conditions that pass (space freed, the disk back, a reader gone): retry later.
            Some(
                C::DiskFull | C::SystemIoFailure | C::DatabaseBusy | C::DatabaseLocked | C::ReadOnly | C::CannotOpen,
            ) => SinkError::Unavailable { backend: "SQLite store", message },
            _ => SinkError::Backend { backend: "SQLite store", message },
        }
    }
}

impl Store {
    /// Opens (creating if needed) and migrates the store at `path`.
    pub fn open(path: &Path) -> Result<Store, SinkError> {
        // Owner-only files, never reached through a planted link (see `fsutil`).
        crate::fsutil::prepare_store(path)
            .map_err(|cause| SinkError::Io { what: "checking its files".into(), cause })?;
        let mut conn = Connection::open_with_flags(path, OpenFlags::default() | OpenFlags::SQLITE_OPEN_NOFOLLOW)?;
        // Larger pages suit rows that carry whole messages; only takes effect on a new file.
        conn.pragma_update(None, "page_size", 16384)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // 64 MiB of page cache and fewer, larger checkpoints: bulk ingest writes each page
        // once to the WAL and once to the database, so checkpoint batching halves the seeks.
        conn.pragma_update(None, "cache_size", -65_536)?;
        conn.pragma_update(None, "wal_autocheckpoint", 16_384)?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        // WAL with synchronous=NORMAL is durable against process crashes and loses at most the
        // last transactions on power loss: the right trade for a capture archive.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Events, records, alerts (new and updated), evidence of 1 to 8 pieces, the analysis:
        // more than the default 16 statements are reused on every batch.
        conn.set_prepared_statement_cache_capacity(64);
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        schema::migrate(&mut conn)?;
        let events_present = conn.query_row("SELECT EXISTS (SELECT 1 FROM events)", [], |r| r.get(0))?;
        Ok(Store {
            conn,
            checkpointer: checkpoint::Checkpointer::start(path),
            in_transaction: false,
            pending: 0,
            pending_events: 0,
            batch: DEFAULT_BATCH,
            current_run: None,
            events_present,
            insert_sql: events::InsertSql::new(),
            event_ids: crate::sinks::event_ids::EventIds::default(),
            event_positions: Default::default(),
        })
    }

    /// Opens an existing store for reading only (reports, tests). Without SQLite's own
    /// connection mutex (`NO_MUTEX`, as the writer's `OpenFlags::default()` has it): a
    /// `Connection` is used by one thread at a time (it is not `Sync`), and the mutex, taken
    /// on every step and every column read, was a third of a whole report's instructions.
    pub fn open_read_only(path: &Path) -> Result<Connection, SinkError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        Ok(conn)
    }

    /// A read-only connection to a store of the current schema: an older store is migrated
    /// first (which only adds tables), so readers such as `report` find every table they
    /// query. A newer store is an error.
    pub fn open_read_only_current(path: &Path) -> Result<Connection, SinkError> {
        let conn = Store::open_read_only(path)?;
        let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if found < schema::SCHEMA_VERSION {
            drop(conn);
            drop(Store::open(path)?);
            return Store::open_read_only(path);
        }
        if found > schema::SCHEMA_VERSION {
            return Err(SinkError::NewerSchema { found, known: schema::SCHEMA_VERSION });
        }
        Ok(conn)
    }

    /// The connection, for queries between writes.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Registers a capture file by its content hash. See [`FileStart`].
    pub fn begin_file(&mut self, file: &CaptureFile, now_ns: i64, force: bool) -> Result<FileStart, SinkError> {
        let CaptureFile { sha256, path, size, sensor } = file;
        self.flush_now()?;
        let tx = self.conn.transaction()?;
        let existing: Option<(i64, String)> = tx
            .query_row("SELECT id, status FROM ingested_files WHERE sha256 = ?1", [sha256], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let start = match existing {
            Some((id, status)) if status == "complete" && !force => FileStart::AlreadyIngested { id },
            Some((id, _)) => {
                // The file's analysis goes with its events (an ingest runs the engine per file).
                let replaced = tx.execute("DELETE FROM events WHERE file_id = ?1", [id])? as u64;
                self.event_ids.forget();
                rollups::count_events(&tx, -i64::try_from(replaced).unwrap_or(i64::MAX))?;
                tx.execute("DELETE FROM analysis_runs WHERE file_id = ?1", [id])?;
                tx.execute(
                    "UPDATE ingested_files SET path = ?2, sensor = ?3, started_ns = ?4, finished_ns = NULL,
                     status = 'partial', packets = NULL, messages = NULL, skipped = NULL, records = NULL,
                     content_sha256 = NULL, superseded_by = NULL WHERE id = ?1",
                    params![id, path, sensor, now_ns],
                )?;
                FileStart::Ingest { id, replaced }
            }
            None => {
                tx.execute(
                    "INSERT INTO ingested_files (sha256, path, size, sensor, started_ns, status)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'partial')",
                    params![sha256, path, *size as i64, sensor, now_ns],
                )?;
                FileStart::Ingest { id: tx.last_insert_rowid(), replaced: 0 }
            }
        };
        tx.commit()?;
        Ok(start)
    }

    /// Marks a file complete once every packet was read and every event flushed.
    pub fn finish_file(&mut self, id: i64, counts: FileCounts, now_ns: i64) -> Result<(), SinkError> {
        let FileCounts { packets, messages, skipped, content } = counts;
        self.flush_now()?;
        self.conn.execute(
            "UPDATE ingested_files SET status = 'complete', finished_ns = ?2, packets = ?3, messages = ?4, skipped = ?5,
             records = ?6, content_sha256 = ?7 WHERE id = ?1",
            params![
                id,
                now_ns,
                packets as i64,
                messages as i64,
                skipped as i64,
                content.map(|c| c.records as i64),
                content.map(|c| hex::encode(c.sha256))
            ],
        )?;
        Ok(())
    }

    /// Opens the batch transaction if none is open.
    fn begin(&mut self) -> Result<(), SinkError> {
        if !self.in_transaction {
            self.conn.execute_batch("BEGIN")?;
            self.in_transaction = true;
        }
        Ok(())
    }

    /// Counts a written row (not an event: those are counted by `insert_events`); commits
    /// when the batch is full.
    fn written(&mut self) -> Result<(), SinkError> {
        self.pending += 1;
        if self.pending >= self.batch {
            self.flush_now()?;
        }
        Ok(())
    }

    /// Rolls back the open batch after a failed write (SQLite may have done so already); the
    /// caller still holds what the batch held and may write it again.
    pub fn abandon_batch(&mut self) {
        if !self.conn.is_autocommit() {
            // Failing means there was nothing left to roll back.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        self.in_transaction = false;
        self.pending = 0;
        self.pending_events = 0;
        // The rolled-back rows' ids may be given to other events.
        self.event_ids.forget();
    }

    /// Commits the open batch (timed, and its events counted, for the metrics).
    pub fn flush_now(&mut self) -> Result<(), SinkError> {
        if self.in_transaction {
            let started = std::time::Instant::now();
            rollups::count_events(&self.conn, i64::try_from(self.pending_events).unwrap_or(i64::MAX))?;
            self.conn.execute_batch("COMMIT")?;
            crate::metrics::observe_commit(crate::metrics::Backend::Sqlite, started.elapsed());
            crate::metrics::events_out(crate::metrics::Sink::Sqlite, self.pending_events);
            self.in_transaction = false;
            self.pending = 0;
            self.pending_events = 0;
        }
        Ok(())
    }

    /// Number of stored events.
    pub fn event_count(&self) -> Result<u64, SinkError> {
        Ok(self.conn.query_row("SELECT count(*) FROM events", [], |r| r.get::<_, i64>(0))? as u64)
    }
}

impl Sink for Store {
    fn write(&mut self, event: SipEvent, fields: SipFields) -> Result<(), SinkError> {
        self.insert_event(&event, &fields)
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

impl EventStore for Store {
    fn begin_analysis_run(&mut self, scope: RunScope, started_ns: i64) -> Result<i64, SinkError> {
        Store::begin_analysis_run(self, &scope, started_ns)
    }

    fn finish_analysis_run(
        &mut self,
        run: i64,
        finished_ns: i64,
        result: AnalysisResult,
        covered: u64,
    ) -> Result<(), SinkError> {
        Store::finish_analysis_run(self, run, finished_ns, &result, covered)
    }

    fn interrupted_runs(&mut self) -> Result<Vec<InterruptedRun>, SinkError> {
        Store::interrupted_runs(self)
    }

    fn discard_run(&mut self, run: i64) -> Result<(), SinkError> {
        Store::discard_run(self, run)
    }

    fn continue_run(&mut self, run: &InterruptedRun) -> Result<bool, SinkError> {
        Store::continue_run(self, run)
    }

    fn stopped_run(&mut self, kind: crate::sinks::RunKind, sensor: &str) -> Result<Option<InterruptedRun>, SinkError> {
        Store::stopped_run(self, kind, sensor)
    }

    fn last_event_id(&mut self) -> Result<i64, SinkError> {
        Store::last_event_id(self)
    }

    fn begin_file(&mut self, file: CaptureFile, now_ns: i64, force: bool) -> Result<FileStart, SinkError> {
        Store::begin_file(self, &file, now_ns, force)
    }

    fn finish_file(&mut self, id: i64, counts: FileCounts, now_ns: i64) -> Result<(), SinkError> {
        Store::finish_file(self, id, counts, now_ns)
    }

    fn known_contents(&mut self) -> Result<Vec<(i64, ContentDigest)>, SinkError> {
        Store::known_contents(self)
    }

    fn supersede_file(&mut self, old: i64, by: i64) -> Result<u64, SinkError> {
        Store::supersede_file(self, old, by)
    }

    fn next_auth_attempt_id(&mut self) -> Result<i64, SinkError> {
        Store::next_auth_attempt_id(self)
    }

    fn alert(&mut self, alert: &crate::act::Alert) -> Result<(), SinkError> {
        self.insert_alert(alert)
    }

    fn set_collected(&mut self, positions: Vec<(String, String, i64)>, now_ns: i64) -> Result<(), SinkError> {
        Store::set_collected(self, &positions, now_ns)
    }

    fn commit_collected(
        &mut self,
        positions: Vec<(String, String, i64)>,
        now_ns: i64,
    ) -> Result<Committing, SinkError> {
        Ok(Committing::done(Store::set_collected(self, &positions, now_ns).and_then(|()| self.flush_now())))
    }

    fn collected_positions(&mut self) -> Result<Vec<(String, String, i64)>, SinkError> {
        Store::collected_positions(self)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // Best effort: an error here has nowhere to go, and the file stays 'partial', so the
        // next run replaces its events.
        let _ = self.flush_now();
        // Stopped before the writer's connection closes, so that closing it (the last one)
        // checkpoints the log and removes it, as it did before the thread.
        self.checkpointer.take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Direction, Origin, Transport};

    fn event(file_id: i64, packet: u64) -> SipEvent {
        SipEvent {
            ts_ns: 1_700_000_000_000_000_000 + packet as i64,
            sensor: "test".into(),
            node: None,
            transport: Transport::Udp,
            src: ("192.0.2.7".parse().unwrap(), 5061),
            dst: ("198.51.100.1".parse().unwrap(), 5060),
            tunnel: None,
            direction: Direction::Unknown,
            origin: Some(Origin { file_id, packet }),
            raw: b"OPTIONS sip:100@198.51.100.1 SIP/2.0\r\nCall-ID: x\r\n\r\n".to_vec(),
        }
    }

    fn file(sha256: &str, path: &str, size: u64, sensor: &str) -> CaptureFile {
        CaptureFile { sha256: sha256.into(), path: path.into(), size, sensor: sensor.into() }
    }

    /// The number of stored events the writer kept (what reports read instead of counting).
    fn kept_count(store: &Store) -> i64 {
        store.conn.query_row("SELECT events FROM event_count", [], |r| r.get(0)).unwrap()
    }

    fn store_events(store: &mut Store, file_id: i64, n: u64) {
        for p in 1..=n {
            let ev = event(file_id, p);
            let msg = sipscope_sip::parse(&ev.raw).unwrap();
            store.insert_event(&ev, &SipFields::extract(&msg)).unwrap();
        }
    }

    /// What the publisher keeps for a broker that refuses: the failure `sensor status` shows
    /// (cleared once the broker acknowledges again), and late runs counted as waiting below
    /// the acknowledged position until forgotten.
    #[test]
    fn the_outbox_keeps_refusals_and_late_runs() {
        use crate::sinks::nats::wire::Kind;
        use crate::sinks::nats::Outbox;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let mut store = Store::open(&path).unwrap();
        let live = |p: u64| SipEvent { origin: None, ..event(0, p) };
        for p in 1..=10 {
            let ev = live(p);
            let msg = sipscope_sip::parse(&ev.raw).unwrap();
            store.insert_event(&ev, &SipFields::extract(&msg)).unwrap();
        }
        store.flush_now().unwrap();
        let mut outbox = SqliteOutbox::open(&path).unwrap();
        assert_eq!(outbox.failure("S").unwrap(), None);
        outbox.save_failure("S", Some("the broker rejected"), 5).unwrap();
        outbox.save_failure("S", Some("still"), 7).unwrap();
        let f = outbox.failure("S").unwrap().unwrap();
        assert_eq!((f.failures, f.last_error.as_str(), f.last_ns, f.since_ns), (2, "still", 7, 5));
        assert_eq!(outbox.failure("other").unwrap(), None);
        outbox.save_failure("S", None, 9).unwrap();
        assert_eq!(outbox.failure("S").unwrap(), None);

        // Rows 3–4 and 6–7 refused, 8 accepted: acknowledged up to 8, four rows late.
        outbox.save_late("S", Kind::Event, 3, 4).unwrap();
        outbox.save_late("S", Kind::Event, 6, 7).unwrap();
        outbox.save_ack("S", Kind::Event, 8, 10).unwrap();
        let waiting = |o: &mut SqliteOutbox| o.state("S").unwrap()[0].waiting;
        assert_eq!(waiting(&mut outbox), 2 + 4);
        assert_eq!(outbox.late("S").unwrap(), vec![(Kind::Event, 3, 4), (Kind::Event, 6, 7)]);
        outbox.clear_late("S", Kind::Event, 3).unwrap();
        assert_eq!(outbox.late("S").unwrap(), vec![(Kind::Event, 6, 7)]);
        assert_eq!(waiting(&mut outbox), 2 + 2);
        assert!(outbox.late("other").unwrap().is_empty());
    }

    /// The decisions watcher opens the store again at every reconnection to the broker, in a
    /// process that has it open (the honeypot's writer, its outbox). Closing any descriptor of
    /// a file drops every POSIX lock the process holds on it, SQLite's included: another
    /// process (a `sipscope` command, a reader such as sqlite3) that then opened and closed the
    /// store took it for unused, checkpointed it and deleted its WAL, and the writer's later
    /// commits went to the deleted file (the three-sensor test's sensor 3 lost the events it
    /// had already published).
    #[test]
    fn opening_an_open_store_again_keeps_what_its_writer_commits_later() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let live = |p: u64| SipEvent { origin: None, ..event(0, p) };
        let mut writer = Store::open(&path).unwrap();
        let write = |writer: &mut Store, from: u64| {
            for p in from..from + 3 {
                let ev = live(p);
                let msg = sipscope_sip::parse(&ev.raw).unwrap();
                writer.insert_event(&ev, &SipFields::extract(&msg)).unwrap();
            }
            writer.flush_now().unwrap();
        };
        write(&mut writer, 1);
        drop(Store::open(&path).unwrap());
        // Another process counts the committed events, while the writer keeps the store open
        // (as the honeypot's other connections do until it exits).
        let count = || {
            let peer = std::process::Command::new("sqlite3")
                .arg(&path)
                .arg("SELECT count(*) FROM events")
                .output()
                .expect("the sqlite3 command (a real peer process)");
            String::from_utf8_lossy(&peer.stdout).trim().to_owned()
        };
        assert_eq!(count(), "3");
        write(&mut writer, 4);
        assert_eq!(count(), "6", "every committed event is seen by another process");
        // The writer closes while another connection of the process stays open (so it does
        // not checkpoint): what it wrote is still there for others.
        let other = Store::open_read_only(&path).unwrap();
        drop(writer);
        assert_eq!(count(), "6", "every committed event is in the store");
        drop(other);
    }

    #[test]
    fn files_are_deduplicated_and_partial_runs_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let mut store = Store::open(&path).unwrap();
        let FileStart::Ingest { id, replaced: 0 } =
            store.begin_file(&file("abc", "a.pcap", 10, "t"), 1, false).unwrap()
        else {
            panic!("new file must be ingested");
        };
        store_events(&mut store, id, 5);
        // Interrupted: never finished. A re-run deletes the 5 events first.
        assert_eq!(
            store.begin_file(&file("abc", "a.pcap", 10, "t"), 2, false).unwrap(),
            FileStart::Ingest { id, replaced: 5 }
        );
        store_events(&mut store, id, 5);
        store.finish_file(id, FileCounts { packets: 5, messages: 5, skipped: 0, content: None }, 3).unwrap();
        assert_eq!(store.event_count().unwrap(), 5);
        assert_eq!(kept_count(&store), 5, "the kept count follows the replaced events");
        assert_eq!(
            store.begin_file(&file("abc", "b.pcap", 10, "t"), 4, false).unwrap(),
            FileStart::AlreadyIngested { id }
        );
        assert_eq!(
            store.begin_file(&file("abc", "b.pcap", 10, "t"), 4, true).unwrap(),
            FileStart::Ingest { id, replaced: 5 }
        );
        drop(store);
        // Reopening migrates nothing and keeps the data; a reader sees committed rows.
        let store = Store::open(&path).unwrap();
        assert_eq!(store.event_count().unwrap(), 0);
        assert_eq!(kept_count(&store), 0);
        let reader = Store::open_read_only(&path).unwrap();
        let version: i64 = reader.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(version, SCHEMA_VERSION);
    }

    #[test]
    fn a_fingerprint_handed_over_twice_is_one_row_with_the_sums() {
        use crate::analysis::result::{AnalysisResult, FingerprintRow, Handover};
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("s.db")).unwrap();
        let scope =
            RunScope { kind: super::super::RunKind::Capture, replace_all: false, file_id: None, sensor: "t".into() };
        let run = store.begin_analysis_run(&scope, 0).unwrap();
        let row = |flows, packets, tool: Option<&str>| FingerprintRow {
            id: "fp1".into(),
            text: "text".into(),
            flows,
            packets,
            tool: tool.map(str::to_owned),
            variant: None,
            verdict: if tool.is_some() { "exact".into() } else { "custom".into() },
            similarity: 0.5,
        };
        store.append_handover(run, &Handover { fingerprints: vec![row(1, 2, None)], ..Handover::default() }).unwrap();
        let result = AnalysisResult { fingerprints: vec![row(2, 3, Some("sipvicious"))], ..AnalysisResult::default() };
        store.finish_analysis_run(run, 1, &result, 0).unwrap();
        let got: (i64, i64, i64, String) = store
            .connection()
            .query_row("SELECT count(*), sum(flows), sum(packets), max(verdict) FROM fingerprints", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .unwrap();
        assert_eq!(got, (1, 3, 5, "exact".into()));
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        Connection::open(&path).unwrap().pragma_update(None, "user_version", 99).unwrap();
        assert!(matches!(Store::open(&path), Err(SinkError::NewerSchema { found: 99, .. })));
    }

    #[test]
    fn readers_see_batches_while_writer_continues() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let mut store = Store::open(&path).unwrap();
        store.batch = 3;
        store_events(&mut store, 0, 0);
        let FileStart::Ingest { id, .. } = store.begin_file(&file("f", "f", 1, "t"), 0, false).unwrap() else {
            panic!()
        };
        store_events(&mut store, id, 4);
        let reader = Store::open_read_only(&path).unwrap();
        let seen: i64 = reader.query_row("SELECT count(*) FROM events", [], |r| r.get(0)).unwrap();
        assert_eq!(seen, 3, "the first batch is committed, the fourth event is not yet");
        let raw: Vec<u8> = reader.query_row("SELECT raw FROM events LIMIT 1", [], |r| r.get(0)).unwrap();
        assert!(raw.starts_with(b"OPTIONS"));
    }

    #[test]
    fn readers_get_an_older_store_migrated_and_refuse_a_newer_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        // As a sipscope before the traffic totals left it.
        let mut conn = Connection::open(&path).unwrap();
        schema::migrate_to(&mut conn, 4).unwrap();
        drop(conn);
        let conn = Store::open_read_only_current(&path).unwrap();
        let rows: i64 = conn.query_row("SELECT count(*) FROM traffic", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 0);
        drop(conn);
        Connection::open(&path).unwrap().execute_batch("PRAGMA user_version = 99;").unwrap();
        assert!(matches!(Store::open_read_only_current(&path), Err(SinkError::NewerSchema { found: 99, .. })));
    }
}
