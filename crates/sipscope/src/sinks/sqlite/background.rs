//! The store on a thread of its own: parsing and extracting fields on the caller's thread,
//! SQLite on this one, so the two halves of ingest use both cores. The store stays one writer:
//! every operation, file bookkeeping included, runs in order on the writer thread.

use super::Store;
use crate::analysis::result::{AnalysisResult, Handover};
use crate::event::fields::SipFields;
use crate::event::record::Record;
use crate::event::SipEvent;
use crate::sinks::{CaptureFile, EventStore, FileCounts, FileStart, RunKind, Sink, SinkError};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;

/// Events sent to the writer in one message (amortises the channel).
const BATCH: usize = 1024;
/// Batches in flight: bounds memory when the disk is slower than the parser.
const QUEUE: usize = 16;

type Job = Box<dyn FnOnce(&mut Store) + Send>;

/// One entry of a batch, written in order on the writer thread.
// Events are nearly every item: boxing them would cost an allocation each to save memory only
// in the rare batches of records.
#[allow(clippy::large_enum_variant)]
enum Item {
    Event(SipEvent, SipFields),
    Record(Record),
    Handover(i64, Handover),
}

enum Command {
    Events(Vec<Item>),
    Run(Job),
}

/// A [`Store`] owned by a writer thread.
pub struct BackgroundStore {
    tx: Option<SyncSender<Command>>,
    /// Batches the writer emptied, sent back for reuse (no fresh allocation per batch).
    spare: Receiver<Vec<Item>>,
    thread: Option<JoinHandle<()>>,
    batch: Vec<Item>,
    /// The first write error, reported by the writer at the next flush or call.
    failed: std::sync::Arc<std::sync::Mutex<Option<SinkError>>>,
}

impl BackgroundStore {
    /// Moves `store` to a new writer thread.
    pub fn spawn(store: Store) -> Result<BackgroundStore, SinkError> {
        let (tx, rx) = mpsc::sync_channel::<Command>(QUEUE);
        let (spare_tx, spare) = mpsc::channel();
        let failed = std::sync::Arc::new(std::sync::Mutex::new(None));
        let slot = std::sync::Arc::clone(&failed);
        let thread = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer(store, rx, slot, spare_tx))
            .map_err(|source| SinkError::Io { what: "starting the store writer thread".into(), cause: source })?;
        Ok(BackgroundStore { tx: Some(tx), spare, thread: Some(thread), batch: Vec::with_capacity(BATCH), failed })
    }

    /// Runs `f` on the store, after every event written before it, and returns its result.
    pub fn call<T: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut Store) -> Result<T, SinkError> + Send + 'static,
    ) -> Result<T, SinkError> {
        self.send_batch()?;
        let (reply_tx, reply_rx) = mpsc::sync_channel(1);
        self.send(Command::Run(Box::new(move |store| {
            // The caller waits on the other end; if it is gone there is no one to tell.
            let _ = reply_tx.send(f(store));
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
        let next = self.spare.try_recv().unwrap_or_else(|_| Vec::with_capacity(BATCH));
        let batch = std::mem::replace(&mut self.batch, next);
        self.send(Command::Events(batch))
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

fn writer(
    mut store: Store,
    rx: Receiver<Command>,
    failed: std::sync::Arc<std::sync::Mutex<Option<SinkError>>>,
    spare: std::sync::mpsc::Sender<Vec<Item>>,
) {
    let mut broken = false;
    for command in rx {
        match command {
            Command::Events(mut batch) if !broken => {
                for item in batch.drain(..) {
                    let result = match item {
                        Item::Event(event, fields) => store.insert_event(&event, &fields),
                        Item::Record(record) => store.insert_record(&record),
                        Item::Handover(run, rows) => store.append_handover(run, &rows),
                    };
                    if let Err(e) = result {
                        broken = true;
                        if let Ok(mut slot) = failed.lock() {
                            slot.get_or_insert(e);
                        }
                        break;
                    }
                }
                batch.clear();
                // The producer may be gone; then the batch is simply freed.
                let _ = spare.send(batch);
            }
            Command::Events(_) => {}
            Command::Run(job) => job(&mut store),
        }
    }
    // Dropping the store commits what is pending (see `Store`'s Drop).
}

impl Sink for BackgroundStore {
    fn write(&mut self, event: SipEvent, fields: SipFields) -> Result<(), SinkError> {
        self.push(Item::Event(event, fields))
    }

    fn record(&mut self, record: Record) -> Result<(), SinkError> {
        self.push(Item::Record(record))
    }

    fn hand_over(&mut self, run: i64, rows: Handover) -> Result<(), SinkError> {
        self.push(Item::Handover(run, rows))
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.call(|store| store.flush_now())
    }
}

impl EventStore for BackgroundStore {
    fn begin_analysis_run(&mut self, kind: RunKind, started_ns: i64, replace_all: bool) -> Result<i64, SinkError> {
        self.call(move |s| s.begin_analysis_run(kind.as_str(), started_ns, replace_all))
    }

    fn finish_analysis_run(&mut self, run: i64, finished_ns: i64, result: AnalysisResult) -> Result<(), SinkError> {
        self.call(move |s| s.finish_analysis_run(run, finished_ns, &result))
    }

    fn begin_file(&mut self, file: CaptureFile, now_ns: i64, force: bool) -> Result<FileStart, SinkError> {
        self.call(move |s| s.begin_file(&file, now_ns, force))
    }

    fn finish_file(&mut self, id: i64, counts: FileCounts, now_ns: i64) -> Result<(), SinkError> {
        self.call(move |s| s.finish_file(id, counts, now_ns))
    }

    fn next_auth_attempt_id(&mut self) -> Result<i64, SinkError> {
        self.call(|s| s.next_auth_attempt_id())
    }
}

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
        EventStore::finish_file(&mut bg, id, FileCounts { packets: 1, messages: 1, skipped: 0 }, 1).unwrap();
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
}
