//! The store on a thread of its own: parsing and extracting fields on the caller's thread,
//! SQLite on this one, so the two halves of ingest use both cores. The store stays one writer:
//! every operation, file bookkeeping included, runs in order on the writer thread.
//!
//! A write error is met in one of two ways. **Fail-fast** (ingest, analyze): the first error
//! is returned at the next call and nothing more is written, so a capture file is never
//! marked complete with events missing (a re-run replaces it). **Resilient** (the honeypot,
//! which must keep recording after a full disk is cleared): each batch is one transaction; a
//! batch that cannot be written waits in a bounded backlog ([`StoreBacklog`]) and is retried
//! on flushes with a growing interval; what does not fit is dropped and counted; the
//! [`StoreHealth`] says since when the store is unavailable and what was lost, and a warning
//! is logged at each failed retry (so at most once per interval).

use super::Store;
use crate::analysis::result::Handover;
use crate::event::fields::SipFields;
use crate::event::record::Record;
use crate::event::SipEvent;
use crate::sinks::health::{StoreBacklog, StoreHealth};
use crate::sinks::{CommitRequest, Sink, SinkError};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

mod backlog;
use backlog::Backlog;

/// Events sent to the writer in one message (amortises the channel). In resilient mode also
/// the most written in one transaction, below the store's own batch so that the store never
/// commits in the middle of one.
const BATCH: usize = 1024;
const _: () = assert!(BATCH < super::DEFAULT_BATCH);
/// Batches in flight: bounds memory when the disk is slower than the parser.
const QUEUE: usize = 16;
/// Resilient mode: flushes between two retries at most while the store is unavailable (the
/// interval doubles from 1 after each failed retry; the honeypot flushes about once a second).
const MAX_RETRY_INTERVAL: u32 = 32;

/// Work run on the writer thread in order: given the store, or why it cannot be used now.
type Job = Box<dyn FnOnce(Result<&mut Store, SinkError>) + Send>;

/// One entry of a batch, written in order on the writer thread.
// Events are nearly every item: boxing them would cost an allocation each to save memory only
// in the rare batches of records.
#[allow(clippy::large_enum_variant)]
enum Item {
    /// An event and its position (the n-th `write` is position n: `act::Evidence::stored`).
    Event(SipEvent, SipFields, u64),
    Record(Record),
    Handover(i64, Handover),
    Alert(Box<crate::act::Alert>),
}

enum Command {
    Events(Vec<Item>),
    Run(Job),
    /// Resilient mode's flush: retry the backlog when due; never an error.
    Flush(SyncSender<()>),
    /// The collector's positions and a commit, answered without the caller waiting
    /// (`EventStore::commit_collected`).
    Commit(CommitRequest),
}

/// A [`Store`] owned by a writer thread.
pub struct BackgroundStore {
    tx: Option<SyncSender<Command>>,
    /// Batches the writer wrote, sent back to be emptied here and reused (no fresh
    /// allocation per batch).
    spare: Receiver<Vec<Item>>,
    thread: Option<JoinHandle<()>>,
    batch: Vec<Item>,
    /// Fail-fast mode: the first write error, reported by the writer at the next flush or call.
    failed: Arc<Mutex<Option<SinkError>>>,
    resilient: bool,
    health: StoreHealth,
    /// Events written so far: the next one's position.
    event_positions: crate::sinks::event_ids::Positions,
}

impl BackgroundStore {
    /// Moves `store` to a new writer thread that fails fast: after a write error nothing more
    /// is written and the error is returned at the next call.
    pub fn spawn(store: Store) -> Result<BackgroundStore, SinkError> {
        BackgroundStore::start(store, None)
    }

    /// Moves `store` to a new writer thread that rides out outages: see the module comment.
    pub fn spawn_resilient(store: Store, backlog: StoreBacklog) -> Result<BackgroundStore, SinkError> {
        BackgroundStore::start(store, Some(backlog))
    }

    fn start(store: Store, backlog: Option<StoreBacklog>) -> Result<BackgroundStore, SinkError> {
        let (tx, rx) = mpsc::sync_channel::<Command>(QUEUE);
        let (spare_tx, spare) = mpsc::channel();
        let failed = Arc::new(Mutex::new(None));
        let health = StoreHealth::default();
        let mode = match backlog {
            Some(limits) => Mode::Resilient(Backlog::new(limits, health.clone())),
            None => Mode::FailFast { failed: Arc::clone(&failed), broken: false },
        };
        let writer = Writer { store, mode, spare: spare_tx };
        let thread = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|source| SinkError::Io { what: "starting the store writer thread".into(), cause: source })?;
        Ok(BackgroundStore {
            tx: Some(tx),
            spare,
            thread: Some(thread),
            batch: Vec::with_capacity(BATCH),
            failed,
            resilient: backlog.is_some(),
            health,
            event_positions: Default::default(),
        })
    }

    /// Whether the store is writing, what it dropped (resilient mode; fail-fast stays healthy
    /// and returns errors instead).
    pub fn health(&self) -> StoreHealth {
        self.health.clone()
    }

    /// Runs `f` on the store, after every event written before it, and returns its result.
    /// Resilient mode: while earlier items wait in the backlog, `f` is not run and the answer
    /// is [`SinkError::Unavailable`] (so operations stay in order).
    pub fn call<T: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut Store) -> Result<T, SinkError> + Send + 'static,
    ) -> Result<T, SinkError> {
        self.send_batch()?;
        let (reply_tx, reply_rx) = mpsc::sync_channel(1);
        self.send(Command::Run(Box::new(move |store: Result<&mut Store, SinkError>| {
            // The caller waits on the other end; if it is gone there is no one to tell.
            let _ = reply_tx.send(store.and_then(f));
        })))?;
        let result = reply_rx.recv().map_err(|_| writer_gone())?;
        self.take_failure()?;
        result
    }

    fn push(&mut self, item: Item) -> Result<(), SinkError> {
        self.batch.push(item);
        self.send_if_full()
    }

    fn send_if_full(&mut self) -> Result<(), SinkError> {
        if self.batch.len() >= BATCH {
            self.send_batch()?;
            self.take_failure()?;
        }
        Ok(())
    }

    fn send(&self, command: Command) -> Result<(), SinkError> {
        let tx = self.tx.as_ref().ok_or_else(writer_gone)?;
        tx.send(command).map_err(|_| writer_gone())
    }

    fn send_batch(&mut self) -> Result<(), SinkError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        // A batch comes back written but not emptied: its events are freed here, on the thread
        // that allocated them (the allocator's local path; the writer, which limits ingest,
        // does not spend its time freeing them), and their memory is reused warm.
        let mut next = self.spare.try_recv().unwrap_or_else(|_| Vec::with_capacity(BATCH));
        next.clear();
        let batch = std::mem::replace(&mut self.batch, next);
        let items = batch.len() as i64;
        self.send(Command::Events(batch))?;
        crate::metrics::queue_depth_add(crate::metrics::Queue::StoreWriter, items);
        Ok(())
    }

    fn take_failure(&self) -> Result<(), SinkError> {
        match self.failed.lock().map(|mut f| f.take()) {
            Ok(Some(e)) => Err(e),
            Ok(None) => Ok(()),
            Err(_) => Err(writer_gone()),
        }
    }
}

fn writer_gone() -> SinkError {
    SinkError::Writer("the store writer thread stopped".into())
}

/// The writer thread's side.
struct Writer {
    store: Store,
    mode: Mode,
    spare: Sender<Vec<Item>>,
}

enum Mode {
    FailFast { failed: Arc<Mutex<Option<SinkError>>>, broken: bool },
    Resilient(Backlog),
}

impl Writer {
    fn run(mut self, rx: Receiver<Command>) {
        for command in rx {
            match command {
                Command::Events(mut batch) => {
                    crate::metrics::queue_depth_add(crate::metrics::Queue::StoreWriter, -(batch.len() as i64));
                    match &mut self.mode {
                        Mode::FailFast { failed, broken } => {
                            if !*broken {
                                *broken = write_fail_fast(&mut self.store, &batch, failed);
                            }
                        }
                        Mode::Resilient(backlog) => backlog.take(&mut self.store, &mut batch),
                    }
                    // Back to the producer, which frees what it holds (see `send_batch`). It
                    // may be gone; then the batch is simply freed here.
                    let _ = self.spare.send(batch);
                }
                Command::Run(job) => match &mut self.mode {
                    Mode::FailFast { .. } => job(Ok(&mut self.store)),
                    Mode::Resilient(backlog) => job(backlog.ready(&mut self.store).map(|()| &mut self.store)),
                },
                Command::Flush(reply) => {
                    if let Mode::Resilient(backlog) = &mut self.mode {
                        backlog.flush(&mut self.store);
                    }
                    let _ = reply.send(());
                }
                Command::Commit(request) => {
                    let result = self.commit(&request.positions, request.now_ns);
                    request.answer(result);
                }
            }
        }
        if let Mode::Resilient(backlog) = &mut self.mode {
            backlog.finish(&mut self.store);
        }
        // Dropping the store commits what is pending (see `Store`'s Drop).
    }
}

impl Writer {
    /// The collector's commit: never after a failed write (fail-fast), nor while earlier
    /// items wait in the backlog (resilient), so that positions never commit without the
    /// rows they cover; a commit that fails stops a fail-fast writer too.
    fn commit(&mut self, positions: &[(String, String, i64)], now_ns: i64) -> Result<(), SinkError> {
        match &mut self.mode {
            Mode::FailFast { broken: true, .. } => {
                Err(SinkError::Writer("an earlier write failed: nothing more is committed".into()))
            }
            Mode::FailFast { broken, .. } => {
                let result = self.store.set_collected(positions, now_ns).and_then(|()| self.store.flush_now());
                *broken = result.is_err();
                result
            }
            Mode::Resilient(backlog) => backlog
                .ready(&mut self.store)
                .and_then(|()| self.store.set_collected(positions, now_ns))
                .and_then(|()| self.store.flush_now()),
        }
    }
}

/// Fail-fast: writes `batch` in the store's own transactions; returns whether it broke.
fn write_fail_fast(store: &mut Store, batch: &[Item], failed: &Mutex<Option<SinkError>>) -> bool {
    let result = write_items(store, batch.iter(), |_, _| {});
    match result {
        Ok(()) => false,
        Err((_, e)) => {
            if let Ok(mut slot) = failed.lock() {
                slot.get_or_insert(e);
            }
            true
        }
    }
}

/// Writes `items` in order: each run of consecutive events through [`Store::insert_events`]
/// (one prepared statement for the run), anything else one by one, `written(index, item)`
/// told after each of those. An error names the item that failed, or the first event of the
/// run that holds the event refused (write them one by one to find which).
fn write_items<'a>(
    store: &mut Store,
    items: impl IntoIterator<Item = &'a Item>,
    mut written: impl FnMut(usize, &Item),
) -> Result<(), (usize, SinkError)> {
    let mut run: Vec<(u64, &SipEvent, &SipFields)> = Vec::new();
    let mut run_start = 0;
    for (i, item) in items.into_iter().enumerate() {
        if let Item::Event(event, fields, position) = item {
            if run.is_empty() {
                run_start = i;
            }
            run.push((*position, event, fields));
            continue;
        }
        store.insert_events(&run).map_err(|e| (run_start, e))?;
        run.clear();
        write_item(store, item).map_err(|e| (i, e))?;
        written(i, item);
    }
    store.insert_events(&run).map_err(|e| (run_start, e))
}

fn write_item(store: &mut Store, item: &Item) -> Result<(), SinkError> {
    match item {
        Item::Event(event, fields, position) => store.insert_events(&[(*position, event, fields)]),
        Item::Record(record) => store.insert_record(record),
        Item::Handover(run, rows) => store.append_handover(*run, rows),
        Item::Alert(alert) => store.insert_alert(alert),
    }
}

impl Sink for BackgroundStore {
    fn write(&mut self, event: SipEvent, fields: SipFields) -> Result<(), SinkError> {
        let position = self.event_positions.next();
        self.push(Item::Event(event, fields, position))
    }

    fn record(&mut self, record: Record) -> Result<(), SinkError> {
        self.push(Item::Record(record))
    }

    fn hand_over(&mut self, run: i64, rows: Handover) -> Result<(), SinkError> {
        self.push(Item::Handover(run, rows))
    }

    /// Fail-fast: commits, or returns the first error. Resilient: what the writer holds is
    /// either committed or in its backlog with an outage reported in [`BackgroundStore::health`];
    /// the flush paces the retries and never fails for it.
    fn flush(&mut self) -> Result<(), SinkError> {
        if !self.resilient {
            return self.call(|store| store.flush_now());
        }
        self.send_batch()?;
        let (reply_tx, reply_rx) = mpsc::sync_channel(1);
        self.send(Command::Flush(reply_tx))?;
        reply_rx.recv().map_err(|_| writer_gone())
    }
}
super::super::writer_thread::event_store_on_writer_thread!(BackgroundStore);

impl Drop for BackgroundStore {
    fn drop(&mut self) {
        // Best effort, as for `Store`: send what is batched, close the channel, let the writer
        // commit and finish.
        let _ = self.send_batch();
        self.tx.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Direction, Transport};
    use crate::sinks::health::StoreBacklog;
    use crate::sinks::{CaptureFile, EventStore, FileCounts, FileStart};

    #[test]
    fn events_and_calls_run_in_order_on_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let mut bg = BackgroundStore::spawn(Store::open(&path).unwrap()).unwrap();
        let file = CaptureFile { sha256: "h".into(), path: "f.pcap".into(), size: 1, sensor: "t".into() };
        let start = EventStore::begin_file(&mut bg, file, 0, false).unwrap();
        let FileStart::Ingest { id, .. } = start else { panic!("{start:?}") };
        let raw = b"OPTIONS sip:a SIP/2.0\r\nCall-ID: x\r\n\r\n".to_vec();
        let fields = SipFields::extract(&sipscope_sip::parse(&raw).unwrap());
        for i in 0..(BATCH as i64 * 3 + 7) {
            let ev = SipEvent {
                ts_ns: i,
                sensor: "t".into(),
                node: None,
                transport: Transport::Udp,
                src: ("192.0.2.1".parse().unwrap(), 5060),
                dst: ("192.0.2.2".parse().unwrap(), 5060),
                tunnel: None,
                direction: Direction::Unknown,
                origin: Some(crate::event::Origin { file_id: id, packet: i as u64 }),
                raw: raw.clone(),
            };
            bg.write(ev, fields.clone()).unwrap();
        }
        // A call sees every event written before it.
        let n = bg.call(|s| s.event_count()).unwrap();
        assert_eq!(n, BATCH as u64 * 3 + 7);
        EventStore::finish_file(&mut bg, id, FileCounts { packets: 1, messages: 1, skipped: 0, content: None }, 1)
            .unwrap();
        drop(bg);
        let reader = Store::open_read_only(&path).unwrap();
        let status: String = reader.query_row("SELECT status FROM ingested_files", [], |r| r.get(0)).unwrap();
        assert_eq!(status, "complete");
    }

    #[test]
    fn the_store_files_are_owner_only_and_a_planted_link_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let sinks =
            crate::sinks::open(&crate::sinks::SinkConfig { store: path.clone(), ..Default::default() }).unwrap();
        for suffix in ["", "-wal", "-shm"] {
            let file = crate::fsutil::with_suffix(&path, suffix);
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", file.display());
        }
        drop(sinks);
        let victim = dir.path().join("root-only");
        std::fs::write(&victim, "precious\n").unwrap();
        let other = dir.path().join("t.db");
        std::os::unix::fs::symlink(&victim, crate::fsutil::with_suffix(&other, "-wal")).unwrap();
        let opened = crate::sinks::open(&crate::sinks::SinkConfig { store: other.clone(), ..Default::default() });
        let err = opened.err().expect("a planted -wal link is refused");
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    }

    fn event(ts_ns: i64) -> (SipEvent, SipFields) {
        let raw = b"OPTIONS sip:100@192.0.2.2 SIP/2.0\r\nCall-ID: full-disk\r\n\r\n".to_vec();
        let fields = SipFields::extract(&sipscope_sip::parse(&raw).unwrap());
        let ev = SipEvent {
            ts_ns,
            sensor: "t".into(),
            node: None,
            transport: Transport::Udp,
            src: ("192.0.2.1".parse().unwrap(), 5060),
            dst: ("192.0.2.2".parse().unwrap(), 5060),
            tunnel: None,
            direction: Direction::In,
            origin: None,
            raw,
        };
        (ev, fields)
    }

    /// A run of events goes through one statement; when the store refuses one of them (here a
    /// capture file that does not exist), exactly that one is dropped and counted, the others
    /// before and after it in the run are stored.
    #[test]
    fn an_event_refused_inside_a_run_is_the_only_one_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let backlog = StoreBacklog { max_items: 1_000, max_bytes: 64 << 20 };
        let mut bg = BackgroundStore::spawn_resilient(Store::open(&path).unwrap(), backlog).unwrap();
        let health = bg.health();
        for ts in 0..40 {
            let (mut ev, fields) = event(ts);
            if ts == 17 {
                ev.origin = Some(crate::event::Origin { file_id: 999, packet: 1 });
            }
            bg.write(ev, fields).unwrap();
        }
        bg.flush().unwrap();
        let stored: Vec<i64> = bg
            .call(|s| {
                let mut st = s.connection().prepare("SELECT ts_ns FROM events ORDER BY id")?;
                let rows = st.query_map([], |r| r.get(0))?.collect::<Result<Vec<i64>, _>>()?;
                Ok(rows)
            })
            .unwrap();
        assert_eq!(stored, (0..40).filter(|&t| t != 17).collect::<Vec<_>>());
        let status = health.status();
        assert_eq!(status.dropped_events, 1, "{status:?}");
        assert!(!status.unavailable, "{status:?}");
    }

    /// A small tmpfs, unmounted when dropped; `None` (the test says it is skipped) where mounting
    /// is not permitted.
    struct SmallDisk(tempfile::TempDir);

    impl SmallDisk {
        fn mount(size: &str) -> Option<SmallDisk> {
            let dir = tempfile::tempdir().unwrap();
            let ok = std::process::Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs"])
                .arg(dir.path())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                eprintln!("SKIPPED: cannot mount a tmpfs here (needs root)");
                return None;
            }
            Some(SmallDisk(dir))
        }

        /// Fills the disk to the last byte with `filler`.
        fn fill(&self) {
            use std::io::Write;
            let mut f = std::fs::File::create(self.0.path().join("filler")).unwrap();
            let chunk = vec![0u8; 64 * 1024];
            while f.write_all(&chunk).is_ok() {}
            let _ = f.write_all(&[0]);
        }

        fn free(&self) {
            std::fs::remove_file(self.0.path().join("filler")).unwrap();
        }
    }

    impl Drop for SmallDisk {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(self.0.path()).status();
        }
    }

    #[test]
    fn after_a_full_disk_the_store_recovers_and_counts_what_it_dropped() {
        let Some(disk) = SmallDisk::mount("4m") else { return };
        let path = disk.0.path().join("s.db");
        let backlog = StoreBacklog { max_items: 3_000, max_bytes: 64 << 20 };
        let mut bg = BackgroundStore::spawn_resilient(Store::open(&path).unwrap(), backlog).unwrap();
        let health = bg.health();
        let mut written = 0i64;
        let mut write = |bg: &mut BackgroundStore, ts: i64| {
            let (ev, fields) = event(ts);
            written += 1;
            bg.write(ev, fields).unwrap();
        };
        for ts in 0..100 {
            write(&mut bg, ts);
        }
        bg.flush().unwrap();
        disk.fill();
        // The disk is full: writing goes on without an error, the store says it is unavailable.
        for ts in 1_000..11_000 {
            write(&mut bg, ts);
            if ts % 1_000 == 0 {
                bg.flush().unwrap();
            }
        }
        bg.flush().unwrap();
        let during = health.status();
        assert!(during.unavailable, "{during:?}");
        assert_eq!(during.outages, 1);
        assert!(during.dropped_events >= 7_000, "{during:?}");
        assert!(during.last_error.as_deref().is_some_and(|e| e.contains("full")), "{during:?}");
        let since = during.unavailable_since_ns.unwrap();
        assert!((100..=2_000).contains(&since), "the first event not stored: {since}");
        assert!(during.describe().unwrap().starts_with("store unavailable since 1970-01-01T00:00:00"), "{during:?}");
        // Space returns: every event from now on is stored.
        disk.free();
        for ts in 100_000..101_000 {
            write(&mut bg, ts);
        }
        bg.flush().unwrap();
        let after = health.status();
        assert!(!after.unavailable, "{after:?}");
        let stored_after = bg
            .call(|s| {
                Ok(s.connection()
                    .query_row("SELECT count(*) FROM events WHERE ts_ns >= 100000", [], |r| r.get::<_, i64>(0))?)
            })
            .unwrap();
        assert_eq!(stored_after, 1_000, "every event after recovery is stored");
        let stored = bg.call(|s| s.event_count()).unwrap() as i64;
        assert_eq!(stored + after.dropped_events as i64, written, "every event is stored or counted: {after:?}");
        assert_eq!(after.waiting, 0);
        assert!(after.describe().unwrap().contains("recovered"), "{after:?}");
        drop(bg);
    }
}
