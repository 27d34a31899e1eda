//! The thread beside the pipeline's: the analysis engine and, for files and replays, the
//! rules. The pipeline copies each message's bytes and metadata into a batch (one buffer, no
//! allocation per message); this thread parses them again, once, and hands the parsed message
//! to the engine and to the rules in the order the pipeline took them, so their results are
//! exactly those of an engine and rules fed in line. Batches in flight are bounded, so a slow
//! thread slows the source instead of growing memory.
//!
//! Why the rules may run here (`RulesOn::Worker`): on two cores the pipeline's thread (read,
//! parse, build and hand over events) is the longest chain of an ingest, and this thread waits
//! for batches much of the time; the rules' work moved here costs the ingest's wall time
//! little, and less CPU than on the pipeline's thread (the message is parsed once for both,
//! and the dialled numbers the rules classify are the engine's; docs/benchmarks.md, "The rules
//! beside the analysis"). Their alerts go back to the pipeline ([`Raised`]), which stores them
//! and hands them to the responder and the alert outputs when it next sends a batch, ticks or
//! finishes: a batch or a tick late. The honeypot runs its rules here too: its recorder thread
//! sends what it recorded whenever its queue runs dry and asks for their alerts a millisecond
//! later (`Pipeline::flush`, `Pipeline::poll_alerts`), so a ban comes before an attacker's next
//! round trip; other live sources keep the rules on their own thread.

use crate::analysis::engine::{AnalysisConfig, Analyzer, LoggedAttempt, Seen};
use crate::analysis::result::{AnalysisResult, Handover};
use crate::event::fields::Parsed;
use crate::event::record::Record;
use crate::event::{Direction, Transport};
use crate::rules::{AlertChange, Observation, RulesEngine};
use crate::sinks::SinkError;
use sipscope_sip::{Message, ParseLimits};
use std::net::IpAddr;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TrySendError};
use std::thread::JoinHandle;

/// Messages in one batch sent to the thread.
const BATCH_MESSAGES: usize = 1024;
/// Bytes in one batch at most (a batch of large messages is sent early).
const BATCH_BYTES: usize = 1 << 20;
/// Batches in flight: bounds memory when the thread is slower than the source.
const BATCHES_IN_FLIGHT: usize = 8;
/// Items the thread takes in one engine pass and then one rules pass ([`State::observe_chunk`]):
/// few enough that their parsed messages (a few hundred bytes each) stay in the data cache
/// between the passes.
const PASS_ITEMS: usize = 16;

/// Where a message stands for the rules: its ordinal among the messages the pipeline took,
/// where its event went ([`crate::act::Evidence::stored`]), and whether it is an event of an
/// interrupted run replayed into the run that continues it (`pipeline/carry.rs`).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Taken {
    pub(super) ordinal: u64,
    pub(super) stored: Option<u64>,
    pub(super) carrying: bool,
}

/// An alert change the rules made on this thread, for the pipeline to pass on as it would
/// have at once: `now` is the time it would have been dispatched with (the message's, a
/// tick's, none at the end), `carrying` what the message was.
#[derive(Debug)]
pub(super) struct Raised {
    pub(super) change: AlertChange,
    pub(super) now: Option<i64>,
    pub(super) carrying: bool,
}

/// What the rules on this thread are asked to do besides taking messages.
#[derive(Debug, Clone, Copy)]
pub(super) enum RulesStep {
    /// Nothing: answer once everything sent before is done (every alert of it raised).
    Sync,
    /// Close the alerts whose dedupe period ended by this time (a live source's tick).
    Advance(i64),
    /// Close every open alert (the end of the input).
    Finish,
}

/// One message, logged attempt or record as the thread needs it; its bytes and texts are in
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
    /// A message, for the engine and the rules; `parsed`: the source's parse succeeded (this
    /// thread parses again; otherwise both take it as unparsed).
    Message { transport: Transport, parsed: bool, taken: Taken },
    /// An attempt read from a PBX log ([`LoggedAttempt`]), for the engine: spans of its texts.
    Attempt { origin: (usize, usize), outcome: (usize, usize), username: (usize, usize), uri: Option<(usize, usize)> },
    /// A record, for the rules, with the pipeline's ordinal at the time.
    Record(Box<Record>, u64),
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
    /// Hand over what the engine finished now; the rows come back on the reply channel.
    HandOver(SyncSender<Handover>),
    /// End the engine's run: its result comes back, and the next message starts a fresh engine.
    FinishRun(SyncSender<AnalysisResult>),
    /// A step of the rules; answered after the alerts it raised are sent.
    Rules(RulesStep, SyncSender<()>),
}

/// The thread and the channels to it.
pub(super) struct Worker {
    jobs: Option<SyncSender<Job>>,
    /// Batches the thread emptied, sent back for reuse: their buffers keep their capacity, so
    /// the source does not fault in fresh pages for every batch.
    spare: Receiver<Batch>,
    /// Rows the engine handed over by itself because its tables filled.
    full: Receiver<Handover>,
    /// What the rules raised, a batch at a time, in order.
    alerts: Receiver<Vec<Raised>>,
    thread: Option<JoinHandle<()>>,
    batch: Batch,
    /// The rules run here.
    rules: bool,
}

pub(super) fn worker_gone() -> SinkError {
    SinkError::Writer("the analysis thread stopped".into())
}

impl Worker {
    /// Starts the thread with the engine's settings (`None`: no analysis) and the rules in
    /// `rules`, which it takes (none: they run on the pipeline's thread). No thread to be had:
    /// `None`, and the rules stay where they were.
    pub(super) fn spawn(analysis: Option<AnalysisConfig>, rules: &mut Option<RulesEngine>) -> Option<Worker> {
        let (jobs, inbox) = mpsc::sync_channel::<Job>(BATCHES_IN_FLIGHT);
        let (full_tx, full) = mpsc::channel();
        let (spare_tx, spare) = mpsc::channel();
        let (alerts_tx, alerts) = mpsc::channel();
        // The rules follow once the thread runs, so that they stay should it not start.
        let (rules_tx, rules_rx) = mpsc::sync_channel::<Option<RulesEngine>>(1);
        let thread = std::thread::Builder::new().name("analysis".into()).spawn(move || {
            let rules = rules_rx.recv().ok().flatten();
            let mut state = State { config: analysis, engine: None, rules, changes: Vec::new(), raised: Vec::new() };
            state.run(&inbox, &full_tx, &spare_tx, &alerts_tx);
        });
        let thread = match thread {
            Ok(thread) => thread,
            Err(e) => {
                tracing::error!("cannot start the analysis thread: {e}");
                return None;
            }
        };
        let with_rules = rules.is_some();
        if let Err(mpsc::SendError(back)) = rules_tx.send(rules.take()) {
            *rules = back;
            return None;
        }
        Some(Worker {
            jobs: Some(jobs),
            spare,
            full,
            alerts,
            thread: Some(thread),
            batch: Batch::default(),
            rules: with_rules,
        })
    }

    /// Whether the rules run on this thread.
    pub(super) fn runs_rules(&self) -> bool {
        self.rules
    }

    /// Adds a message; `msg`: whether the source parsed it.
    pub(super) fn push_message(
        &mut self,
        seen: &Seen<'_>,
        transport: Transport,
        bytes: &[u8],
        parsed: bool,
        taken: Taken,
    ) {
        let batch = &mut self.batch;
        let span = batch.push_bytes(bytes);
        let node = seen.node.map(|n| batch.push_bytes(n.as_bytes()));
        batch.items.push(Item {
            ts_ns: seen.ts_ns,
            src: seen.src,
            dst: seen.dst,
            direction: seen.direction,
            what: What::Message { transport, parsed, taken },
            bytes: span,
            node,
        });
    }

    /// Adds an authentication attempt read from a PBX log.
    pub(super) fn push_attempt(&mut self, a: &LoggedAttempt<'_>) {
        let batch = &mut self.batch;
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
    }

    /// Adds a record for the rules, taken when the pipeline had taken `ordinal` messages.
    pub(super) fn push_record(&mut self, record: Record, ordinal: u64) {
        let (ts_ns, src, dst) = match &record {
            Record::AuthAttempt(a) => (a.ctx.ts_ns, a.ctx.src, a.ctx.dst),
            Record::Registration(r) => (r.ctx.ts_ns, r.ctx.src, r.ctx.dst),
            Record::Recovered(_) => return,
        };
        self.batch.items.push(Item {
            ts_ns,
            src: (src.ip(), src.port()),
            dst: (dst.ip(), dst.port()),
            direction: Direction::In,
            what: What::Record(Box::new(record), ordinal),
            bytes: (0, 0),
            node: None,
        });
    }

    /// Whether the batch is full (then [`Worker::send_batch`]).
    pub(super) fn full(&self) -> bool {
        self.batch.full()
    }

    /// Sends what is batched.
    pub(super) fn send_batch(&mut self) -> Result<(), SinkError> {
        if self.batch.items.is_empty() {
            return Ok(());
        }
        let next = self.spare.try_recv().unwrap_or_default();
        let batch = std::mem::replace(&mut self.batch, next);
        self.send(Job::Observe(batch))
    }

    /// Sends what is batched if the thread has room for it now; otherwise keeps it, to go
    /// with what comes next (when the batch fills, or at a later offer). A live source offers
    /// after each read: it never waits for the thread here, so a thread that falls behind (or
    /// is starved of CPU) makes the batches it gets larger, not the source's answers later.
    pub(super) fn offer_batch(&mut self) -> Result<(), SinkError> {
        if self.batch.items.is_empty() {
            return Ok(());
        }
        let jobs = self.jobs.as_ref().ok_or_else(worker_gone)?;
        match jobs.try_send(Job::Observe(std::mem::take(&mut self.batch))) {
            Ok(()) => {
                if let Ok(spare) = self.spare.try_recv() {
                    self.batch = spare;
                }
                Ok(())
            }
            Err(TrySendError::Full(job)) => {
                if let Job::Observe(batch) = job {
                    self.batch = batch;
                }
                Ok(())
            }
            Err(TrySendError::Disconnected(_)) => Err(worker_gone()),
        }
    }

    fn send(&self, job: Job) -> Result<(), SinkError> {
        self.jobs.as_ref().ok_or_else(worker_gone)?.send(job).map_err(|_| worker_gone())
    }

    /// Rows the engine handed over by itself since the last call.
    pub(super) fn handed_over(&self) -> Vec<Handover> {
        self.full.try_iter().collect()
    }

    /// What the rules raised since the last call, appended to `out` in order.
    pub(super) fn raised(&self, out: &mut Vec<Raised>) {
        for raised in self.alerts.try_iter() {
            out.extend(raised);
        }
    }

    /// Hands over what the engine finished, after every message sent so far.
    pub(super) fn hand_over(&mut self) -> Result<Handover, SinkError> {
        self.send_batch()?;
        let (reply, rows) = mpsc::sync_channel(1);
        self.send(Job::HandOver(reply))?;
        rows.recv().map_err(|_| worker_gone())
    }

    /// Ends the engine's run after every message sent so far and returns its result.
    pub(super) fn finish_run(&mut self) -> Result<AnalysisResult, SinkError> {
        self.send_batch()?;
        let (reply, result) = mpsc::sync_channel(1);
        self.send(Job::FinishRun(reply))?;
        result.recv().map_err(|_| worker_gone())
    }

    /// Runs a step of the rules after every message sent so far; what they raised is then
    /// ready for [`Worker::raised`].
    pub(super) fn rules_step(&mut self, step: RulesStep) -> Result<(), SinkError> {
        self.send_batch()?;
        let (reply, done) = mpsc::sync_channel(1);
        self.send(Job::Rules(step, reply))?;
        done.recv().map_err(|_| worker_gone())
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // The pipeline is done (or dropped on an error): stop the thread.
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The thread's side: the engine (started when a message needs it, fresh after each run),
/// the rules, and what they raised in the current batch.
struct State {
    config: Option<AnalysisConfig>,
    engine: Option<Analyzer>,
    rules: Option<RulesEngine>,
    changes: Vec<AlertChange>,
    raised: Vec<Raised>,
}

impl State {
    /// Observes every batch in order, hands over when the engine's tables fill or when asked,
    /// until the channel closes. Whoever is gone at the other end of a reply (a pipeline
    /// dropped on an error) is not told.
    fn run(
        &mut self,
        inbox: &Receiver<Job>,
        full: &Sender<Handover>,
        spare: &Sender<Batch>,
        alerts: &Sender<Vec<Raised>>,
    ) {
        for job in inbox {
            match job {
                Job::Observe(mut batch) => {
                    for chunk in batch.items.chunks(PASS_ITEMS) {
                        self.observe_chunk(&batch.buffer, chunk, full);
                    }
                    batch.items.clear();
                    batch.buffer.clear();
                    let _ = spare.send(batch);
                    self.send_raised(alerts);
                }
                Job::HandOver(reply) => {
                    let _ = reply.send(self.engine().map(Analyzer::hand_over).unwrap_or_default());
                }
                Job::FinishRun(reply) => {
                    let _ = self.engine();
                    let _ = reply.send(self.engine.take().map(Analyzer::finish).unwrap_or_default());
                }
                Job::Rules(step, reply) => {
                    self.rules_step(step);
                    self.send_raised(alerts);
                    let _ = reply.send(());
                }
            }
        }
    }

    /// The engine, started when analysis is on and none runs.
    fn engine(&mut self) -> Option<&mut Analyzer> {
        if self.engine.is_none() {
            self.engine = self.config.clone().map(Analyzer::new);
        }
        self.engine.as_mut()
    }

    fn send_raised(&mut self, alerts: &Sender<Vec<Raised>>) {
        if !self.raised.is_empty() {
            let _ = alerts.send(std::mem::take(&mut self.raised));
        }
    }

    fn note_changes(&mut self, now: Option<i64>, carrying: bool) {
        for change in self.changes.drain(..) {
            self.raised.push(Raised { change, now, carrying });
        }
    }

    fn rules_step(&mut self, step: RulesStep) {
        let Some(rules) = self.rules.as_mut() else { return };
        match step {
            RulesStep::Sync => {}
            RulesStep::Advance(now) => {
                rules.advance(now, &mut self.changes);
                self.note_changes(Some(now), false);
            }
            RulesStep::Finish => {
                rules.finish(&mut self.changes);
                self.note_changes(None, false);
            }
        }
    }

    /// Observes a few items in two passes: every message parsed and fed to the engine, then
    /// the same items to the rules. Each consumer still takes them in order, so the results
    /// are those of one pass; but the engine's code and then the rules' stay in the
    /// instruction cache across the chunk instead of evicting each other at every message
    /// (docs/benchmarks.md, "The honeypot's rules beside the analysis").
    fn observe_chunk(&mut self, buffer: &[u8], chunk: &[Item], full: &Sender<Handover>) {
        let span = |at| span_of(buffer, at);
        let rules = self.rules.is_some();
        // Without rules there is no second pass: nothing is kept.
        let mut parsed_chunk: Vec<(Option<Message<'_>>, Parsed<'_>)> =
            Vec::with_capacity(if rules { chunk.len() } else { 0 });
        for item in chunk {
            let (msg, parsed) = match &item.what {
                What::Message { transport, parsed: true, .. } => {
                    let msg = Message::parse_with(span(item.bytes), transport.framing(), ParseLimits::default()).ok();
                    // With the rules here, the Request-URI and To header both read are parsed once.
                    let parsed = match (&msg, rules) {
                        (Some(m), true) => {
                            Parsed { request_uri: m.method().is_some().then(|| m.request_uri()), to: Some(m.to()) }
                        }
                        _ => Parsed::default(),
                    };
                    (msg, parsed)
                }
                _ => (None, Parsed::default()),
            };
            self.analyse(buffer, item, msg.as_ref(), &parsed);
            if let Some(engine) = self.engine.as_mut().filter(|e| e.should_hand_over()) {
                let _ = full.send(engine.hand_over());
            }
            if rules {
                parsed_chunk.push((msg, parsed));
            }
        }
        if rules {
            for (item, (msg, parsed)) in chunk.iter().zip(&parsed_chunk) {
                self.check(buffer, item, msg.as_ref(), parsed);
            }
        }
    }

    /// The engine's part of one item.
    fn analyse(&mut self, buffer: &[u8], item: &Item, msg: Option<&Message<'_>>, parsed: &Parsed<'_>) {
        let span = |at| span_of(buffer, at);
        // The texts went in as `&str`: they come back whole.
        let text = |at: (usize, usize)| std::str::from_utf8(span(at)).unwrap_or_default();
        let node = item.node.map(text);
        match &item.what {
            What::Message { .. } => {
                let seen = Seen {
                    ts_ns: item.ts_ns,
                    src: item.src,
                    dst: item.dst,
                    node,
                    direction: item.direction,
                    bytes: span(item.bytes).len(),
                };
                if let Some(engine) = self.engine() {
                    engine.observe_noted(&seen, msg, parsed);
                }
            }
            What::Attempt { origin, outcome, username, uri } => {
                let attempt = LoggedAttempt {
                    ts_ns: item.ts_ns,
                    src: item.src,
                    dst: item.dst,
                    node,
                    origin: text(*origin),
                    method: text(item.bytes),
                    username: text(*username),
                    uri: uri.map(text),
                    outcome: text(*outcome),
                };
                if let Some(engine) = self.engine() {
                    engine.observe_attempt(&attempt);
                }
            }
            What::Record(..) => {}
        }
    }

    /// The rules' part of one item.
    fn check(&mut self, buffer: &[u8], item: &Item, msg: Option<&Message<'_>>, parsed: &Parsed<'_>) {
        let Some(rules) = self.rules.as_mut() else { return };
        match &item.what {
            What::Message { transport, taken, .. } => {
                let span = |at| span_of(buffer, at);
                let node = item.node.map(|at| std::str::from_utf8(span(at)).unwrap_or_default());
                let o = Observation {
                    ts_ns: item.ts_ns,
                    ordinal: taken.ordinal,
                    stored: taken.stored,
                    transport: *transport,
                    src: item.src,
                    dst: item.dst,
                    direction: item.direction,
                    node,
                    msg,
                    parsed,
                    blank: crate::event::fields::is_blank(span(item.bytes)),
                };
                rules.observe(&o, &mut self.changes);
                self.note_changes(Some(item.ts_ns), taken.carrying);
            }
            What::Record(record, ordinal) => {
                rules.observe_record(record, *ordinal, &mut self.changes);
                self.note_changes(None, false);
            }
            What::Attempt { .. } => {}
        }
    }
}

/// The bytes at `(start, len)` in a batch's buffer (empty if out of range, which a batch
/// built by [`Worker`] never is).
fn span_of(buffer: &[u8], (start, len): (usize, usize)) -> &[u8] {
    buffer.get(start..start + len).unwrap_or_default()
}

#[cfg(test)]
mod tests;
