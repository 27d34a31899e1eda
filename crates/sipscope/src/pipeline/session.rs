//! The analysis session of a pipeline: the engine on a thread of its own, and its runs in the
//! store. A run is begun with each file of an ingest (and finished with it), or at the start
//! of a capture, the honeypot or a replay (and finished at the end, or at the end of each
//! segment of a long run); it is handed over whenever the engine's tables fill and on every
//! tick. Every hand-over reaches the store: there is no path on which the engine's rows are
//! dropped.
//!
//! The engine runs on its own thread so that it uses the second core: the pipeline copies each
//! message's bytes and metadata into a batch (one buffer, no allocation per message), the
//! engine's thread parses them again and observes them in the same order, so its results are
//! exactly those of an engine fed in line. Batches in flight are bounded, so a slow engine slows
//! the source instead of growing memory.

use crate::analysis::engine::{AnalysisConfig, Analyzer, LoggedAttempt, Seen};
use crate::analysis::result::{AnalysisResult, FlowRow, Handover};
use crate::analysis::summary::AnalysisSummary;
use crate::event::{Direction, Transport};
use crate::sinks::{EventStore, InterruptedRun, RunKind, RunScope, SinkError};
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

/// One message (or logged attempt) as the engine's thread needs it; its bytes and texts are in
/// the batch's buffer.
struct Item {
    ts_ns: i64,
    src: (IpAddr, u16),
    dst: (IpAddr, u16),
    direction: Direction,
    what: What,
    /// Span of the bytes in the buffer (an attempt's: its method).
    bytes: (usize, usize),
    /// Span of the node name in the buffer, when any.
    node: Option<(usize, usize)>,
}

/// What an [`Item`] is.
enum What {
    /// A message; `parsed`: the source's parse succeeded (the engine's thread parses again;
    /// otherwise it observes the message as unparsed).
    Message { transport: Transport, parsed: bool },
    /// An attempt read from a PBX log ([`LoggedAttempt`]): spans of its username and uri.
    Attempt { origin: (usize, usize), outcome: (usize, usize), username: (usize, usize), uri: Option<(usize, usize)> },
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

/// The engine (when analysis is on) and its open run. A pipeline may run the engine several
/// times: once per capture file (ingest), or once per segment of a long run (capture,
/// honeypot), so that each run's results cover a known set of events.
pub(super) struct AnalysisSession {
    /// The engine's settings; `None` when analysis is off.
    config: Option<AnalysisConfig>,
    worker: Option<Worker>,
    run: Option<OpenRun>,
    kind: RunKind,
    /// Delete every earlier run when the first run begins.
    replace_all: bool,
    /// Flows and their tools handed over before the end, for the run's summary.
    handed_flows: u64,
    handed_tools: BTreeMap<String, u64>,
    /// Messages observed in the open run.
    observed: u64,
    /// Rows handed over before the run was open (kept until it is).
    waiting: Vec<Handover>,
    /// The summary of the last run finished.
    last: Option<AnalysisSummary>,
}

/// A run open in the store.
#[derive(Debug, Clone, Copy)]
pub(super) struct OpenRun {
    pub(super) id: i64,
    pub(super) began_ns: i64,
}

fn worker_gone() -> SinkError {
    SinkError::Writer("the analysis thread stopped".into())
}

impl AnalysisSession {
    pub(super) fn new(config: Option<AnalysisConfig>, (kind, replace_all): (RunKind, bool)) -> AnalysisSession {
        AnalysisSession {
            config,
            worker: None,
            run: None,
            kind,
            replace_all,
            handed_flows: 0,
            handed_tools: BTreeMap::new(),
            observed: 0,
            waiting: Vec::new(),
            last: None,
        }
    }

    /// True when the engine runs.
    pub(super) fn enabled(&self) -> bool {
        self.config.is_some()
    }

    /// The open run, if any.
    pub(super) fn open_run(&self) -> Option<OpenRun> {
        self.run
    }

    /// Messages observed in the open run.
    pub(super) fn observed(&self) -> u64 {
        self.observed
    }

    /// The engine's thread, started when the first run (or message) needs it.
    fn worker(&mut self) -> Option<&mut Worker> {
        if self.worker.is_none() {
            let config = self.config.clone()?;
            self.worker = Worker::spawn(config);
            if self.worker.is_none() {
                // No thread to be had: the pipeline goes on without analysis, and said so.
                self.config = None;
            }
        }
        self.worker.as_mut()
    }

    /// Opens a run in the store unless one is open; `file_id` is the capture file it covers.
    pub(super) fn begin(
        &mut self,
        store: &mut dyn EventStore,
        started_ns: i64,
        file_id: Option<i64>,
        sensor: &str,
    ) -> Result<(), SinkError> {
        if self.run.is_some() || self.worker().is_none() {
            return Ok(());
        }
        let scope = RunScope { kind: self.kind, replace_all: self.replace_all, file_id, sensor: sensor.to_owned() };
        self.replace_all = false;
        self.run = Some(OpenRun { id: store.begin_analysis_run(scope, started_ns)?, began_ns: started_ns });
        self.observed = 0;
        for rows in std::mem::take(&mut self.waiting) {
            self.store_rows(store, rows)?;
        }
        Ok(())
    }

    /// Opens `run`, an interrupted run of the store taken over (`EventStore::continue_run`),
    /// as the open run, unless a run is open or analysis is off. False: not taken over.
    pub(super) fn continue_run(&mut self, store: &mut dyn EventStore, run: &InterruptedRun) -> Result<bool, SinkError> {
        if self.run.is_some() || self.worker().is_none() || !store.continue_run(run)? {
            return Ok(false);
        }
        self.run = Some(OpenRun { id: run.run, began_ns: run.started_ns });
        self.observed = 0;
        for rows in std::mem::take(&mut self.waiting) {
            self.store_rows(store, rows)?;
        }
        Ok(true)
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
        let Some(worker) = self.worker() else { return Ok(()) };
        let batch = &mut worker.batch;
        let span = batch.push_bytes(bytes);
        let node = seen.node.map(|n| batch.push_bytes(n.as_bytes()));
        batch.items.push(Item {
            ts_ns: seen.ts_ns,
            src: seen.src,
            dst: seen.dst,
            direction: seen.direction,
            what: What::Message { transport, parsed: msg.is_some() },
            bytes: span,
            node,
        });
        self.observed += 1;
        self.send_if_full(store)
    }

    /// Feeds one authentication attempt read from a PBX log (docs/analysis.md, "Attempts from
    /// PBX logs"). Not counted with the messages observed: a run's coverage is of events.
    pub(super) fn observe_attempt(
        &mut self,
        a: &LoggedAttempt<'_>,
        store: &mut dyn EventStore,
    ) -> Result<(), SinkError> {
        let Some(worker) = self.worker() else { return Ok(()) };
        let batch = &mut worker.batch;
        let method = batch.push_bytes(a.method.as_bytes());
        let username = batch.push_bytes(a.username.as_bytes());
        let uri = a.uri.map(|u| batch.push_bytes(u.as_bytes()));
        let origin = batch.push_bytes(a.origin.as_bytes());
        let outcome = batch.push_bytes(a.outcome.as_bytes());
        let node = a.node.map(|n| batch.push_bytes(n.as_bytes()));
        batch.items.push(Item {
            ts_ns: a.ts_ns,
            src: a.src,
            dst: a.dst,
            direction: Direction::In,
            what: What::Attempt { origin, outcome, username, uri },
            bytes: method,
            node,
        });
        self.send_if_full(store)
    }

    /// Sends the batch to the engine's thread once it is full.
    fn send_if_full(&mut self, store: &mut dyn EventStore) -> Result<(), SinkError> {
        let full = self.worker.as_ref().is_some_and(|w| w.batch.full());
        if full {
            if let Some(worker) = self.worker.as_mut() {
                worker.send_batch()?;
            }
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
        store.hand_over(run.id, rows)
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

    /// Closes the open run: the engine finishes, everything it still holds is stored with the
    /// run, whose results then cover `covered` stored events. The next run starts a fresh
    /// engine. Nothing happens when no run is open.
    pub(super) fn finish_run(
        &mut self,
        store: &mut dyn EventStore,
        now_ns: i64,
        covered: u64,
    ) -> Result<(), SinkError> {
        let Some(run) = self.run else { return Ok(()) };
        let Some(mut worker) = self.worker.take() else { return Ok(()) };
        let result = worker.finish()?;
        let full: Vec<Handover> = worker.full.try_iter().collect();
        for rows in full {
            self.store_rows(store, rows)?;
        }
        let mut summary = AnalysisSummary::of(&result, run.id);
        summary.flows += std::mem::take(&mut self.handed_flows);
        for (tool, n) in std::mem::take(&mut self.handed_tools) {
            *summary.tools.entry(tool).or_insert(0) += n;
        }
        store.finish_analysis_run(run.id, now_ns, result, covered)?;
        self.run = None;
        self.observed = 0;
        self.last = Some(summary);
        Ok(())
    }

    /// Closes the open run (see [`AnalysisSession::finish_run`]) and returns the summary of
    /// the last run (none when analysis is off or no run was opened).
    pub(super) fn finish(
        &mut self,
        store: &mut dyn EventStore,
        now_ns: i64,
        covered: u64,
        sensor: &str,
    ) -> Result<Option<AnalysisSummary>, SinkError> {
        if self.replace_all && self.enabled() && self.run.is_none() {
            // A replay of an empty store still records its run, so that `analyze` replaces
            // what was there. (An ingest whose files were all ingested before opens no run.)
            self.begin(store, now_ns, None, sensor)?;
        }
        self.finish_run(store, now_ns, covered)?;
        Ok(self.last.take())
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
    // The texts went in as `&str`: they come back whole.
    let text = |at: (usize, usize)| std::str::from_utf8(span(at)).unwrap_or_default();
    let bytes = span(item.bytes);
    let node = item.node.map(text);
    match item.what {
        What::Message { transport, parsed } => {
            let seen = Seen {
                ts_ns: item.ts_ns,
                src: item.src,
                dst: item.dst,
                node,
                direction: item.direction,
                bytes: bytes.len(),
            };
            let parsed = if parsed {
                Message::parse_with(bytes, transport.framing(), sipscope_sip::ParseLimits::default()).ok()
            } else {
                None
            };
            engine.observe_seen(&seen, parsed.as_ref());
        }
        What::Attempt { origin, outcome, username, uri } => engine.observe_attempt(&LoggedAttempt {
            ts_ns: item.ts_ns,
            src: item.src,
            dst: item.dst,
            node,
            origin: text(origin),
            method: text(item.bytes),
            username: text(username),
            uri: uri.map(text),
            outcome: text(outcome),
        }),
    }
}

/// Flows per tool, as the analysis summary counts them (`custom` for unknown fingerprints).
fn count_tools(tools: &mut BTreeMap<String, u64>, flows: &[FlowRow]) {
    for f in flows {
        *tools.entry(f.tool.clone().unwrap_or_else(|| "custom".into())).or_insert(0) += 1;
    }
}
