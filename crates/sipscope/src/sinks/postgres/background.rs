//! The PostgreSQL store on a writer thread of its own, as the SQLite store's
//! (`sinks/sqlite/background.rs`): parsing on the caller's thread, COPY on this one, every
//! operation in order. **Fail-fast** (ingest, analyze): the first error is returned at the next
//! call and nothing more is written. **Resilient** (the honeypot and other long runs): a batch
//! the database refuses (full, read-only, restarting, unreachable) is rolled back and its items
//! counted as dropped in [`StoreHealth`] with the error, at most one warning per outage is
//! logged, the connection is re-opened when it was lost, and writing resumes with the next
//! batch. (SQLite's bounded retry backlog is not implemented here yet: the sensor's own
//! SQLite store and the NATS outbox are where nothing-lost lives in a distributed setup.)

use super::PgStore;
use crate::analysis::result::Handover;
use crate::event::fields::SipFields;
use crate::event::record::Record;
use crate::event::SipEvent;
use crate::sinks::health::StoreHealth;
use crate::sinks::{CommitRequest, Sink, SinkError};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Items sent to the writer in one message.
const BATCH: usize = 1024;
/// Batches in flight: bounds memory when the database is slower than the parser.
const QUEUE: usize = 16;

type Job = Box<dyn FnOnce(&mut PgStore) + Send>;

#[allow(clippy::large_enum_variant)]
enum Item {
    /// An event and its position (`act::Evidence::stored`).
    Event(SipEvent, SipFields, u64),
    Record(Record),
    Handover(i64, Handover),
    Alert(Box<crate::act::Alert>),
}

enum Command {
    Items(Vec<Item>),
    Run(Job),
    /// The collector's positions and a commit, answered without the caller waiting
    /// (`EventStore::commit_collected`).
    Commit(CommitRequest),
}

/// A [`PgStore`] owned by a writer thread.
pub struct PgBackground {
    tx: Option<SyncSender<Command>>,
    thread: Option<JoinHandle<()>>,
    batch: Vec<Item>,
    failed: Arc<Mutex<Option<SinkError>>>,
    health: StoreHealth,
    resilient: bool,
    /// Events written so far: the next one's position.
    event_positions: crate::sinks::event_ids::Positions,
}

impl PgBackground {
    /// Moves `store` to a writer thread; `resilient` chooses the mode (see the module comment).
    pub fn spawn(store: PgStore, resilient: bool) -> Result<PgBackground, SinkError> {
        let (tx, rx) = mpsc::sync_channel::<Command>(QUEUE);
        let failed = Arc::new(Mutex::new(None));
        let health = StoreHealth::default();
        let writer = Writer { store, resilient, failed: Arc::clone(&failed), broken: false, health: health.clone() };
        let thread = std::thread::Builder::new()
            .name("postgres-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|cause| SinkError::Io { what: "starting the store writer thread".into(), cause })?;
        Ok(PgBackground {
            tx: Some(tx),
            thread: Some(thread),
            batch: Vec::with_capacity(BATCH),
            failed,
            health,
            resilient,
            event_positions: Default::default(),
        })
    }

    /// Whether the store is writing (resilient mode).
    pub fn health(&self) -> StoreHealth {
        self.health.clone()
    }

    /// Runs `f` on the store after everything written before it.
    pub fn call<T: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut PgStore) -> Result<T, SinkError> + Send + 'static,
    ) -> Result<T, SinkError> {
        self.send_batch()?;
        let (reply_tx, reply_rx) = mpsc::sync_channel(1);
        self.send(Command::Run(Box::new(move |store: &mut PgStore| {
            let _ = reply_tx.send(f(store));
        })))?;
        let result = reply_rx.recv().map_err(|_| writer_gone())?;
        self.take_failure()?;
        result
    }

    fn push(&mut self, item: Item) -> Result<(), SinkError> {
        self.batch.push(item);
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
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        self.send(Command::Items(batch))
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

struct Writer {
    store: PgStore,
    resilient: bool,
    failed: Arc<Mutex<Option<SinkError>>>,
    broken: bool,
    health: StoreHealth,
}

impl Writer {
    fn run(mut self, rx: Receiver<Command>) {
        for command in rx {
            match command {
                Command::Items(batch) => self.write(batch),
                Command::Run(job) => {
                    if self.resilient {
                        self.store.reconnect_if_closed();
                    }
                    job(&mut self.store)
                }
                Command::Commit(request) => {
                    let result = self.commit(&request.positions, request.now_ns);
                    request.answer(result);
                }
            }
        }
        if self.resilient {
            if let Err(e) = self.store.flush_now() {
                self.store.abandon_batch();
                self.health.update(|s| s.last_error = Some(e.to_string()));
            }
        }
    }

    /// The collector's commit: never after a failed write (fail-fast), so that positions never
    /// commit without the rows they cover. A commit that fails rolls the batch back (and
    /// stops a fail-fast writer; a resilient one reconnects for the next batch).
    fn commit(&mut self, positions: &[(String, String, i64)], now_ns: i64) -> Result<(), SinkError> {
        if self.broken {
            return Err(SinkError::Writer("an earlier write failed: nothing more is committed".into()));
        }
        if self.resilient {
            self.store.reconnect_if_closed();
        }
        let result = self.store.set_collected(positions, now_ns).and_then(|()| self.store.flush_now());
        if result.is_err() {
            self.store.abandon_batch();
            if self.resilient {
                self.store.reconnect_if_broken();
            } else {
                self.broken = true;
            }
        }
        result
    }

    fn write(&mut self, batch: Vec<Item>) {
        if self.broken {
            return;
        }
        if self.resilient {
            self.store.reconnect_if_closed();
        }
        let total = batch.len();
        let mut events = 0u64;
        let mut result = Ok(());
        for item in batch {
            if matches!(item, Item::Event(..)) {
                events += 1;
            }
            result = match item {
                Item::Event(event, fields, position) => self.store.insert_at(event, fields, position),
                Item::Record(record) => self.store.insert_record(&record),
                Item::Handover(run, rows) => self.store.append_handover(run, &rows),
                Item::Alert(alert) => self.store.insert_alert(&alert),
            };
            if result.is_err() {
                break;
            }
        }
        // Resilient mode commits every batch, so that a failure loses one batch at most.
        if self.resilient && result.is_ok() {
            result = self.store.flush_now();
        }
        match result {
            Ok(()) if self.resilient => self.health.update(|s| s.unavailable = false),
            Ok(()) => {}
            Err(e) if self.resilient => {
                self.store.abandon_batch();
                self.store.reconnect_if_broken();
                let message = e.to_string();
                let was_unavailable = self.health.status().unavailable;
                self.health.update(|s| {
                    if !s.unavailable {
                        s.outages += 1;
                        s.unavailable_since_ns = Some(crate::time::now_ns());
                    }
                    s.unavailable = true;
                    s.dropped_events += events;
                    s.dropped_other += (total as u64).saturating_sub(events);
                    s.last_error = Some(message.clone());
                });
                if !was_unavailable {
                    tracing::warn!(error = %message, "the PostgreSQL store cannot write; dropping batches until it can");
                }
            }
            Err(e) => {
                self.store.abandon_batch();
                self.broken = true;
                if let Ok(mut slot) = self.failed.lock() {
                    slot.get_or_insert(e);
                }
            }
        }
    }
}

impl Sink for PgBackground {
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

    fn flush(&mut self) -> Result<(), SinkError> {
        if self.resilient {
            // Every batch was committed (or counted as dropped) by the writer: never an error.
            self.send_batch()?;
            return self.call(|_| Ok(()));
        }
        self.call(|store| store.flush_now())
    }
}

super::super::writer_thread::event_store_on_writer_thread!(PgBackground);

impl Drop for PgBackground {
    fn drop(&mut self) {
        let _ = self.send_batch();
        self.tx.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
