//! The analysis session of a pipeline: the engine on a thread of its own, and its run in the
//! store. Begun once (with the first file of an ingest, or at the start of a capture, the
//! honeypot or a replay), handed over whenever the engine's tables fill and on every tick,
//! finished at the end. Every hand-over reaches the store: there is no path on which the
//! engine's rows are dropped.
//!
//! The engine runs on its own thread so that it uses the second core: the pipeline copies each
//! message's bytes and metadata into a batch (one buffer, no allocation per message), the
//! engine's thread parses them again and observes them in the same order, so its results are
//! exactly those of an engine fed in line. Batches in flight are bounded, so a slow engine slows
//! the source instead of growing memory.

use crate::analysis::engine::{AnalysisConfig, Analyzer, Seen};
use crate::analysis::result::{AnalysisResult, FlowRow, Handover};
use crate::analysis::summary::AnalysisSummary;
use crate::event::{Direction, Transport};
use crate::sinks::{EventStore, RunKind, SinkError};
use sipscope_sip::Message;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::thread::JoinHandle;

/// Messages in one batch sent to the engine's thread.
const BATCH_MESSAGES: usize = 1024;
/// Bytes in one batch at most (a batch of large messages is sent early).
const BATCH_BYTES: usize = 1 << 20;
/// Batches in flight: bounds memory when the engine is slower than the source.
const BATCHES_IN_FLIGHT: usize = 8;

/// One message as the engine's thread needs it; its bytes and node name are in the batch's
/// buffer.
struct Item {
    ts_ns: i64,
    src: (IpAddr, u16),
    dst: (IpAddr, u16),
    direction: Direction,
    transport: Transport,
    /// The source's parse succeeded (the engine's thread parses again; otherwise it observes
    /// the message as unparsed).
    parsed: bool,
    /// Span of the bytes in the buffer.
    bytes: (usize, usize),
    /// Span of the node name in the buffer, when any.
    node: Option<(usize, usize)>,
}

#[derive(Default)]
struct Batch {
    items: Vec<Item>,
    buffer: Vec<u8>,
}

impl Batch {
    fn push_bytes(&mut self, bytes: &[u8]) -> (usize, usize) {
        let start = self.buffer.len();
        self.buffer.extend_from_slice(bytes);
        (start, bytes.len())
    }

    fn full(&self) -> bool {
        self.items.len() >= BATCH_MESSAGES || self.buffer.len() >= BATCH_BYTES
    }
}

enum Job {
    Observe(Batch),
    /// Hand over what is finished now; the rows come back on the reply channel.
    HandOver(SyncSender<Handover>),
}

/// The engine's thread and the channels to it.
struct Worker {
    jobs: Option<SyncSender<Job>>,
    /// Batches the engine's thread emptied, sent back for reuse: their buffers keep their
    /// capacity, so the source does not fault in fresh pages for every batch.
    spare: Receiver<Batch>,
    /// Rows the engine handed over by itself because its tables filled.
    full: Receiver<Handover>,
    thread: Option<JoinHandle<AnalysisResult>>,
    batch: Batch,
}

/// The engine (when analysis is on) and its run id once begun.
pub(super) struct AnalysisSession {
    worker: Option<Worker>,
    run: Option<i64>,
    kind: RunKind,
    replace_all: bool,
    /// Flows and their tools handed over before the end, for the run's summary.
    handed_flows: u64,
    handed_tools: BTreeMap<String, u64>,
    /// Rows handed over before the run was open (kept until it is).
    waiting: Vec<Handover>,
}

fn worker_gone() -> SinkError {
    SinkError::Writer("the analysis thread stopped".into())
}

impl AnalysisSession {
    pub(super) fn new(config: Option<AnalysisConfig>, (kind, replace_all): (RunKind, bool)) -> AnalysisSession {
        AnalysisSession {
            worker: config.and_then(Worker::spawn),
            run: None,
            kind,
            replace_all,
            handed_flows: 0,
            handed_tools: BTreeMap::new(),
            waiting: Vec::new(),
        }
    }

    /// True when the engine runs.
    pub(super) fn enabled(&self) -> bool {
        self.worker.is_some()
    }

    /// Opens the run in the store, once.
    pub(super) fn begin(&mut self, store: &mut dyn EventStore, started_ns: i64) -> Result<(), SinkError> {
        if self.worker.is_some() && self.run.is_none() {
            self.run = Some(store.begin_analysis_run(self.kind, started_ns, self.replace_all)?);
            for rows in std::mem::take(&mut self.waiting) {
                self.store_rows(store, rows)?;
            }
        }
        Ok(())
    }

    /// Feeds one message (`msg` none: it did not parse); what the engine handed over by itself
    /// since the last call goes to the store.
    pub(super) fn observe(
        &mut self,
        seen: &Seen<'_>,
        transport: Transport,
        bytes: &[u8],
        msg: Option<&Message<'_>>,
        store: &mut dyn EventStore,
    ) -> Result<(), SinkError> {
        let Some(worker) = self.worker.as_mut() else { return Ok(()) };
        let batch = &mut worker.batch;
        let span = batch.push_bytes(bytes);
        let node = seen.node.map(|n| batch.push_bytes(n.as_bytes()));
        batch.items.push(Item {
            ts_ns: seen.ts_ns,
            src: seen.src,
            dst: seen.dst,
            direction: seen.direction,
            transport,
            parsed: msg.is_some(),
            bytes: span,
            node,
        });
        if batch.full() {
            worker.send_batch()?;
            self.store_full(store)?;
        }
        Ok(())
    }

    /// Stores what the engine handed over because its tables filled.
    fn store_full(&mut self, store: &mut dyn EventStore) -> Result<(), SinkError> {
        let Some(worker) = self.worker.as_ref() else { return Ok(()) };
        let rows: Vec<Handover> = worker.full.try_iter().collect();
        for rows in rows {
            self.store_rows(store, rows)?;
        }
        Ok(())
    }

    fn store_rows(&mut self, store: &mut dyn EventStore, rows: Handover) -> Result<(), SinkError> {
        if rows.is_empty() {
            return Ok(());
        }
        let Some(run) = self.run else {
            // Sources open the run before their first message; should one not, the rows wait.
            self.waiting.push(rows);
            return Ok(());
        };
        self.handed_flows += rows.flows.len() as u64;
        count_tools(&mut self.handed_tools, &rows.flows);
        store.hand_over(run, rows)
    }

    /// Hands what the engine finished (closed flows, hours that ended) to the store, after every
    /// message fed so far has been observed. Before the run is open nothing is handed over: the
    /// rows stay in the engine until it is.
    pub(super) fn hand_over(&mut self, store: &mut dyn EventStore) -> Result<(), SinkError> {
        if self.run.is_none() {
            return Ok(());
        }
        let Some(worker) = self.worker.as_mut() else { return Ok(()) };
        worker.send_batch()?;
        let (reply, rows) = mpsc::sync_channel(1);
        worker.send(Job::HandOver(reply))?;
        let rows = rows.recv().map_err(|_| worker_gone())?;
        self.store_full(store)?;
        self.store_rows(store, rows)
    }

    /// Closes the engine, stores everything it still holds and returns the run's summary
    /// (none when analysis is off or no run was opened).
    pub(super) fn finish(
        &mut self,
        store: &mut dyn EventStore,
        now_ns: i64,
    ) -> Result<Option<AnalysisSummary>, SinkError> {
        if self.replace_all && self.worker.is_some() && self.run.is_none() {
            // A replay of an empty store still records its run, so that `analyze` replaces
            // what was there. (An ingest whose files were all ingested before opens no run.)
            self.begin(store, now_ns)?;
        }
        let Some(mut worker) = self.worker.take() else { return Ok(None) };
        let result = worker.finish()?;
        let full: Vec<Handover> = worker.full.try_iter().collect();
        for rows in full {
            self.store_rows(store, rows)?;
        }
        let Some(run) = self.run else { return Ok(None) };
        let mut summary = AnalysisSummary::of(&result, run);
        summary.flows += self.handed_flows;
        for (tool, n) in std::mem::take(&mut self.handed_tools) {
            *summary.tools.entry(tool).or_insert(0) += n;
        }
        store.finish_analysis_run(run, now_ns, result)?;
        Ok(Some(summary))
    }
}

impl Worker {
    fn spawn(config: AnalysisConfig) -> Option<Worker> {
        let (jobs, inbox) = mpsc::sync_channel::<Job>(BATCHES_IN_FLIGHT);
        let (full_tx, full) = mpsc::channel();
        let (spare_tx, spare) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("analysis".into())
            .spawn(move || run(Analyzer::new(config), &inbox, &full_tx, &spare_tx));
        match thread {
            Ok(thread) => Some(Worker { jobs: Some(jobs), spare, full, thread: Some(thread), batch: Batch::default() }),
            Err(e) => {
                // No thread to be had: the run goes on without analysis, and says so.
                tracing::error!("cannot start the analysis thread, analysis is off for this run: {e}");
                None
            }
        }
    }

    fn send(&self, job: Job) -> Result<(), SinkError> {
        self.jobs.as_ref().ok_or_else(worker_gone)?.send(job).map_err(|_| worker_gone())
    }

    fn send_batch(&mut self) -> Result<(), SinkError> {
        if self.batch.items.is_empty() {
            return Ok(());
        }
        let next = self.spare.try_recv().unwrap_or_default();
        let batch = std::mem::replace(&mut self.batch, next);
        self.send(Job::Observe(batch))
    }

    /// Sends what is batched, closes the channel and waits for the engine's result.
    fn finish(&mut self) -> Result<AnalysisResult, SinkError> {
        self.send_batch()?;
        self.jobs.take();
        let thread = self.thread.take().ok_or_else(worker_gone)?;
        thread.join().map_err(|_| worker_gone())
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // A pipeline dropped without finishing (an error elsewhere): stop the thread.
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The engine's thread: observes every batch in order, hands over when its tables fill or when
/// asked, and returns the finished result when the channel closes.
fn run(mut engine: Analyzer, inbox: &Receiver<Job>, full: &Sender<Handover>, spare: &Sender<Batch>) -> AnalysisResult {
    for job in inbox {
        match job {
            Job::Observe(mut batch) => {
                for item in &batch.items {
                    observe(&mut engine, &batch.buffer, item);
                    if engine.should_hand_over() {
                        // The pipeline may be gone (dropped on an error); then nothing is kept.
                        let _ = full.send(engine.hand_over());
                    }
                }
                batch.items.clear();
                batch.buffer.clear();
                let _ = spare.send(batch);
            }
            Job::HandOver(reply) => {
                let _ = reply.send(engine.hand_over());
            }
        }
    }
    engine.finish()
}

fn observe(engine: &mut Analyzer, buffer: &[u8], item: &Item) {
    let span = |(start, len): (usize, usize)| buffer.get(start..start + len).unwrap_or_default();
    let bytes = span(item.bytes);
    let node = item.node.map(span).map(|n| std::str::from_utf8(n).unwrap_or_default());
    let seen =
        Seen { ts_ns: item.ts_ns, src: item.src, dst: item.dst, node, direction: item.direction, bytes: bytes.len() };
    let parsed = if item.parsed {
        Message::parse_with(bytes, item.transport.framing(), sipscope_sip::ParseLimits::default()).ok()
    } else {
        None
    };
    engine.observe_seen(&seen, parsed.as_ref());
}

/// Flows per tool, as the analysis summary counts them (`custom` for unknown fingerprints).
fn count_tools(tools: &mut BTreeMap<String, u64>, flows: &[FlowRow]) {
    for f in flows {
        *tools.entry(f.tool.clone().unwrap_or_else(|| "custom".into())).or_insert(0) += 1;
    }
}
