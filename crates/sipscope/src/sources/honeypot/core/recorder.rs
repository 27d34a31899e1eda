//! Answering never waits for recording. Every listener hands what it received and what it sent
//! to one recorder thread over a bounded queue, and goes back to its socket; the thread owns
//! the pipeline (events, records, analysis → store and sinks), the human log and password
//! recovery. A commit that waits on a slow disk or on another writer, an analysis that is
//! behind, a human log on a slow disk: none of them delays an answer, a retransmission or the
//! next read (a delay an attacker could time, and one that broke RFC 3261's timers).
//!
//! One queue and one consumer: what a listener hands over is recorded in the order it was
//! handed over, a request with its answers. The queue holds [`QUEUE_JOBS`] jobs and
//! [`QUEUE_BYTES`] bytes of messages and answers; when it is full a listener waits for room
//! (nothing received is dropped to keep up, and a flood of large datagrams cannot make it grow
//! past its bytes). The pipeline's periodic work (commits, the analysis hand-over) runs when
//! the shell asks, on the shell's clock.

use crate::event::fields::{is_blank, lossless_text};
use crate::event::record::{AuthAttemptRecord, Record, RecordContext, RegistrationRecord};
use crate::event::{Direction, Transport};
use crate::metrics;
use crate::nodes::Nodes;
use crate::output::escape;
use crate::pipeline::{Arrival, NodeOf, Note, Pipeline};
use crate::sinks::SinkError;
use crate::sources::honeypot::human_log::HumanLog;
use crate::sources::honeypot::intel::{Intel, IntelJob, RecoveredPassword, Skipped};
use crate::sources::honeypot::pbx::{AuthAttempt, Handled};
use sipscope_sip::Message;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Jobs the queue holds before a listener waits for room: a sixth of a second of a flood at the
/// default global rate (50,000 messages a second), about 10 MB of typical SIP.
pub const QUEUE_JOBS: usize = 8_192;

/// Bytes of messages and answers the queue holds before a listener waits for room (a job
/// larger than this alone is let in when the queue is empty).
pub const QUEUE_BYTES: usize = 64 << 20;

/// Jobs recorded between two hand-overs to the rules while the queue never runs empty.
const FLUSH_EVERY_JOBS: usize = 256;

/// When the thread, idle, next passes on what the rules raised (bans take effect through it):
/// a millisecond after it handed them messages (the rules take microseconds a message, so a
/// ban comes before an attacker's next round trip), then twice as long each time, up to
/// [`IDLE_POLL_LAST`].
const IDLE_POLL_FIRST: Duration = Duration::from_millis(1);
/// The longest wait between two looks at the rules' alerts while idle.
const IDLE_POLL_LAST: Duration = Duration::from_millis(64);

/// A message a listener received, with what the honeypot did with it.
pub(super) struct Received {
    /// Receive time.
    pub now_ns: i64,
    pub transport: Transport,
    pub source: SocketAddr,
    pub local: SocketAddr,
    pub bytes: Vec<u8>,
    /// The PBX's verdict (its replies already taken out: `replies` are those sent).
    pub handled: Handled,
    pub replies: Vec<Vec<u8>>,
    /// Sensor-side anomaly names.
    pub anomalies: Vec<&'static str>,
    /// Why, for bytes that are not SIP.
    pub detail: Option<String>,
    /// Not a message at all (a refused connection).
    pub not_a_message: bool,
}

impl Received {
    /// Bytes it holds, as the queue counts them.
    fn size(&self) -> usize {
        self.bytes.len() + self.replies.iter().map(Vec::len).sum::<usize>()
    }
}

fn later_size(sent: &[Later]) -> usize {
    sent.iter().map(|l| l.bytes.len()).sum()
}

/// The queue's bytes, counted beside the channel (which bounds its jobs).
#[derive(Default)]
struct Room {
    bytes: AtomicUsize,
    /// The thread stopped taking jobs: nothing waits for room any more.
    closed: AtomicBool,
    /// Jobs a listener had to wait to queue (the queue full of jobs or of bytes).
    waits: AtomicU64,
}

impl Room {
    /// Counts `size` bytes in, waiting while the queue holds [`QUEUE_BYTES`] (a job alone is
    /// always let in). False once the thread has stopped.
    fn take(&self, size: usize) -> bool {
        let mut waited = false;
        loop {
            if self.closed.load(Ordering::Acquire) {
                return false;
            }
            let before = self.bytes.fetch_add(size, Ordering::AcqRel);
            if before == 0 || before.saturating_add(size) <= QUEUE_BYTES {
                return true;
            }
            self.bytes.fetch_sub(size, Ordering::AcqRel);
            if !waited {
                waited = true;
                self.waited();
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Counts a job that waited for room; says so in the log at the 1st, 2nd, 4th, 8th … time.
    fn waited(&self) {
        let n = self.waits.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_power_of_two() {
            tracing::warn!(
                "recording is behind: a listener waited for room in the recorder's queue ({n} times so far); \
                 answers slow down until it catches up"
            );
        }
    }

    fn give_back(&self, size: usize) {
        self.bytes.fetch_sub(size, Ordering::AcqRel);
    }
}

/// Marks the queue closed when the thread ends, however it ends.
struct Closing(Arc<Room>);

impl Drop for Closing {
    fn drop(&mut self) {
        self.0.closed.store(true, Ordering::Release);
    }
}

/// An answer sent after its request (delayed ringing, a retransmission).
pub(super) struct Later {
    pub now_ns: i64,
    pub transport: Transport,
    pub local: SocketAddr,
    pub dest: SocketAddr,
    pub retransmission: bool,
    pub bytes: Vec<u8>,
}

enum Job {
    Received(Box<Received>),
    Later(Vec<Later>),
    Tick(i64, SyncSender<Result<(), SinkError>>),
    Finish(i64, SyncSender<(Result<(), SinkError>, Skipped)>),
}

/// What the thread starts with.
pub(super) struct RecorderParts {
    pub sensor: String,
    pub nodes: Nodes,
    pub pipeline: Pipeline,
    pub human: HumanLog,
    pub intel: Option<Intel>,
    pub recoveries: Receiver<RecoveredPassword>,
    pub next_attempt_id: i64,
    /// Passwords recovered, counted for the summary.
    pub recovered: Arc<AtomicU64>,
}

/// The listeners' end of the queue, and the thread.
pub(super) struct RecorderHandle {
    jobs: SyncSender<Job>,
    /// Bytes queued, and whether the thread stopped taking jobs.
    room: Arc<Room>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// What intel skipped, once the thread finished.
    skipped: Mutex<Option<Skipped>>,
}

impl RecorderHandle {
    /// Starts the recorder thread.
    pub fn spawn(parts: RecorderParts) -> std::io::Result<RecorderHandle> {
        let (jobs, queue) = std::sync::mpsc::sync_channel(QUEUE_JOBS);
        let room = Arc::new(Room::default());
        let recorder = Recorder { parts, room: Arc::clone(&room) };
        let thread = std::thread::Builder::new().name("honeypot recorder".into()).spawn(move || {
            let closing = Closing(Arc::clone(&recorder.room));
            recorder.run(&queue);
            drop(closing);
        })?;
        Ok(RecorderHandle { jobs, room, thread: Mutex::new(Some(thread)), skipped: Mutex::new(None) })
    }

    /// Queues a message and what was done with it; waits only while the queue is full.
    pub fn received(&self, received: Received) {
        let size = received.size();
        self.queue(Job::Received(Box::new(received)), size);
    }

    /// Queues answers sent after their request.
    pub fn later(&self, sent: Vec<Later>) {
        if !sent.is_empty() {
            let size = later_size(&sent);
            self.queue(Job::Later(sent), size);
        }
    }

    /// Waits while the queue is full; a job for a thread that finished is dropped (a listener
    /// still closing at shutdown: there is nowhere to record it).
    fn queue(&self, job: Job, size: usize) {
        if !self.room.take(size) {
            return;
        }
        let queued = match self.jobs.try_send(job) {
            Ok(()) => true,
            Err(TrySendError::Full(job)) => {
                self.room.waited();
                self.jobs.send(job).is_ok()
            }
            Err(TrySendError::Disconnected(_)) => false,
        };
        if queued {
            metrics::queue_depth_add(metrics::Queue::HoneypotRecorder, 1);
        }
    }

    /// Jobs a listener had to wait to queue, so far.
    pub fn waits(&self) -> u64 {
        self.room.waits.load(Ordering::Relaxed)
    }

    /// The pipeline's periodic work at `now_ns`, after everything queued before: returns once
    /// it is done, with the store's error if it failed.
    pub fn tick(&self, now_ns: i64) -> Result<(), SinkError> {
        let (done, result) = std::sync::mpsc::sync_channel(1);
        self.jobs.send(Job::Tick(now_ns, done)).map_err(|_| gone())?;
        result.recv().map_err(|_| gone())?
    }

    /// Records everything queued, finishes password recovery and the analysis, makes every
    /// event durable and stops the thread. Later calls return at once.
    pub fn finish(&self, now_ns: i64) -> Result<(), SinkError> {
        let Some(thread) = self.thread.lock().ok().and_then(|mut t| t.take()) else { return Ok(()) };
        let (done, result) = std::sync::mpsc::sync_channel(1);
        let sent = self.jobs.send(Job::Finish(now_ns, done)).is_ok();
        let outcome = match result.recv() {
            Ok((outcome, skipped)) if sent => {
                self.keep_skipped(skipped);
                outcome
            }
            _ => Err(gone()),
        };
        if thread.join().is_err() {
            return Err(SinkError::Writer("the honeypot's recorder thread panicked".into()));
        }
        outcome
    }

    /// Attempts password intelligence skipped, by reason, as [`Self::finish`] counted them
    /// (none before it ran: the exit summary is the only reader).
    pub fn skipped(&self) -> Skipped {
        self.skipped.lock().ok().and_then(|s| *s).unwrap_or_default()
    }

    fn keep_skipped(&self, skipped: Skipped) {
        if let Ok(mut s) = self.skipped.lock() {
            *s = Some(skipped);
        }
    }
}

fn gone() -> SinkError {
    SinkError::Writer("the honeypot's recorder thread is gone".into())
}

/// The thread's state.
struct Recorder {
    parts: RecorderParts,
    room: Arc<Room>,
}

impl Recorder {
    fn run(mut self, queue: &Receiver<Job>) {
        let mut since_flush = 0;
        let mut idle_wait = IDLE_POLL_FIRST;
        loop {
            let job = match queue.try_recv() {
                Ok(job) => job,
                Err(_) => {
                    // Drained: what was recorded goes to the rules now, and what they raised on.
                    if since_flush > 0 {
                        self.flush();
                        since_flush = 0;
                        idle_wait = IDLE_POLL_FIRST;
                    }
                    match queue.recv_timeout(idle_wait) {
                        Ok(job) => job,
                        Err(RecvTimeoutError::Timeout) => {
                            self.poll_alerts();
                            idle_wait = (idle_wait * 2).min(IDLE_POLL_LAST);
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
            };
            match job {
                Job::Received(r) => {
                    metrics::queue_depth_add(metrics::Queue::HoneypotRecorder, -1);
                    let size = r.size();
                    self.received(*r);
                    self.room.give_back(size);
                }
                Job::Later(sent) => {
                    metrics::queue_depth_add(metrics::Queue::HoneypotRecorder, -1);
                    self.later(&sent);
                    self.room.give_back(later_size(&sent));
                }
                Job::Tick(now_ns, done) => {
                    self.flush();
                    since_flush = 0;
                    let _ = done.send(self.tick(now_ns));
                    continue;
                }
                Job::Finish(now_ns, done) => {
                    let _ = done.send(self.finish(now_ns));
                    return;
                }
            }
            since_flush += 1;
            if since_flush >= FLUSH_EVERY_JOBS {
                self.flush();
                since_flush = 0;
            }
        }
    }

    /// Hands the request and every answer sent to the pipeline (events and analysis), then the
    /// attempt and bindings (records); logs the human line.
    fn received(&mut self, mut r: Received) {
        let framing = r.transport.framing();
        let parsed =
            (!is_blank(&r.bytes)).then(|| Message::parse_with(&r.bytes, framing, sipscope_sip::ParseLimits::default()));
        let msg = parsed.as_ref().and_then(|p| p.as_ref().ok());
        let note = Note { anomalies: &r.anomalies, detail: r.detail.as_deref(), not_a_message: r.not_a_message };
        let pipeline = &mut self.parts.pipeline;
        let received = arrival(r.now_ns, r.transport, r.source, r.local, Direction::In, &r.bytes);
        pipeline.accept_noted(received, msg, note);
        for reply in &r.replies {
            pipeline.accept(arrival(r.now_ns, r.transport, r.local, r.source, Direction::Out, reply));
        }
        let handled = std::mem::take(&mut r.handled);
        if handled.auth.is_some() || !handled.bindings.is_empty() {
            let ctx = RecordContext {
                ts_ns: r.now_ns,
                sensor: self.parts.sensor.clone(),
                node: self.parts.nodes.find(None, r.local.ip()).map(|n| n.name.clone()),
                transport: r.transport,
                src: r.source,
                dst: r.local,
                call_id: msg.and_then(Message::call_id).map(lossless_text),
                user_agent: msg.and_then(agent).map(lossless_text),
            };
            if let Some(attempt) = handled.auth {
                self.attempt(ctx.clone(), attempt);
            }
            for b in handled.bindings {
                let row =
                    RegistrationRecord { ctx: ctx.clone(), username: b.user, contact: b.contact, expires: b.expires };
                self.parts.pipeline.record(Record::Registration(row));
            }
        }
        self.drain_recoveries();
        if self.parts.human.enabled() {
            let line = human_line(&r, msg, handled.note);
            self.parts.human.line(r.now_ns, &line);
        }
    }

    /// Hands answers sent later to the pipeline and the human log.
    fn later(&mut self, sent: &[Later]) {
        for answer in sent {
            let a = answer;
            self.parts.pipeline.accept(arrival(a.now_ns, a.transport, a.local, a.dest, Direction::Out, &a.bytes));
            if self.parts.human.enabled() {
                let what = if answer.retransmission { "retransmission" } else { "later answer" };
                let text = format!(
                    "{} {} > {} {} {what} => {}",
                    crate::time::iso_time(answer.now_ns),
                    answer.local,
                    answer.dest,
                    answer.transport.as_str(),
                    status_text(&answer.bytes)
                );
                self.parts.human.line(answer.now_ns, &text);
            }
        }
    }

    fn attempt(&mut self, ctx: RecordContext, attempt: AuthAttempt) {
        let id = self.parts.next_attempt_id;
        self.parts.next_attempt_id += 1;
        let AuthAttempt { method, username, realm, uri, nonce, outcome, password, recoverable } = attempt;
        if let (Some(intel), Some(r)) = (&self.parts.intel, recoverable) {
            let job = IntelJob {
                attempt_id: id,
                username: username.clone(),
                realm: realm.clone().unwrap_or_default(),
                prepared: r.prepared,
                key: r.key,
                footprint: r.footprint,
                source: ctx.src.ip(),
            };
            intel.submit(job, ctx.ts_ns);
        }
        let row = AuthAttemptRecord {
            id,
            ctx,
            method,
            username,
            realm,
            uri,
            nonce,
            outcome: outcome.as_str(),
            password,
            log: None,
            published_seq: None,
        };
        self.parts.pipeline.record(Record::AuthAttempt(row));
    }

    fn drain_recoveries(&mut self) {
        while let Ok(r) = self.parts.recoveries.try_recv() {
            if r.password.is_some() {
                self.parts.recovered.fetch_add(1, Ordering::Relaxed);
            }
            self.parts.pipeline.record(Record::Recovered(r));
        }
    }

    /// What was recorded goes to the rules' thread; what they raised is passed on (stored, to
    /// the decision policy, which bans through the bans in force the listeners consult).
    fn flush(&mut self) {
        self.parts.pipeline.flush();
        self.parts.pipeline.poll_alerts();
    }

    fn poll_alerts(&mut self) {
        self.drain_recoveries();
        self.parts.pipeline.poll_alerts();
    }

    fn tick(&mut self, now_ns: i64) -> Result<(), SinkError> {
        self.drain_recoveries();
        self.parts.pipeline.tick(now_ns)
    }

    /// Consumes the recorder: intel stops, the pipeline finishes.
    fn finish(mut self, now_ns: i64) -> (Result<(), SinkError>, Skipped) {
        let skipped = self.parts.intel.take().map(Intel::finish).unwrap_or_default();
        self.drain_recoveries();
        let result = self.parts.pipeline.finish(now_ns).map(|_| ());
        (result, skipped)
    }
}

/// A message the honeypot received or sent, for the pipeline (its node looked up by address).
fn arrival(
    ts_ns: i64,
    transport: Transport,
    src: SocketAddr,
    dst: SocketAddr,
    direction: Direction,
    bytes: &[u8],
) -> Arrival<'_> {
    Arrival {
        ts_ns,
        transport,
        src: (src.ip(), src.port()),
        dst: (dst.ip(), dst.port()),
        tunnel: None,
        direction,
        packet: None,
        node: NodeOf::Lookup,
        sensor: None,
        bytes,
    }
}

/// The agent of a message: User-Agent of a request, Server (or User-Agent) of a response.
fn agent<'m>(msg: &Message<'m>) -> Option<&'m [u8]> {
    if msg.status().is_some() {
        msg.server().or_else(|| msg.user_agent())
    } else {
        msg.user_agent()
    }
}

/// An answer's status line without `SIP/2.0 `, made safe for a terminal.
fn status_text(answer: &[u8]) -> String {
    let line = answer.split(|&b| b == b'\r').next().unwrap_or_default();
    escape::terminal(&lossless_text(line.strip_prefix(b"SIP/2.0 ").unwrap_or(line)), 64)
}

/// `2026-11-30T05:51:46Z 192.0.2.1:5061 > 198.51.100.1:5060 udp REGISTER from=100 to=100
/// ua="friendly-scanner" => 401 Unauthorized`
fn human_line(r: &Received, msg: Option<&Message<'_>>, note: &str) -> String {
    let opt = |v: Option<&[u8]>| escape::terminal(&v.map_or_else(|| "-".to_owned(), lossless_text), 64);
    let what = match msg {
        Some(m) => match m.method() {
            Some(method) => escape::terminal(&lossless_text(method), 32),
            None => format!("response {}", m.status().unwrap_or(0)),
        },
        None if is_blank(&r.bytes) => "keepalive".to_owned(),
        None => "invalid".to_owned(),
    };
    let answers: Vec<String> = r.replies.iter().map(|a| status_text(a)).collect();
    let answer = if answers.is_empty() {
        format!("no answer{}", if note.is_empty() { String::new() } else { format!(" ({note})") })
    } else {
        answers.join(", ")
    };
    format!(
        "{} {} > {} {} {} from={} to={} ua=\"{}\" => {}",
        crate::time::iso_time(r.now_ns),
        r.source,
        r.local,
        r.transport.as_str(),
        what,
        opt(msg.and_then(|m| m.from()).and_then(|f| f.user())),
        opt(msg.and_then(|m| m.to()).and_then(|t| t.user())),
        opt(msg.and_then(agent)),
        answer
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_counts_bytes_lets_a_large_job_into_an_empty_queue_and_waits_for_room() {
        let room = Arc::new(Room::default());
        assert!(room.take(QUEUE_BYTES * 2), "alone, a job larger than the budget is let in");
        room.give_back(QUEUE_BYTES * 2);
        assert!(room.take(QUEUE_BYTES - 10));
        // 20 more bytes would go past the budget: the listener waits until the recorder gives
        // room back.
        let waiting = {
            let room = Arc::clone(&room);
            std::thread::spawn(move || room.take(20))
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(!waiting.is_finished(), "no room: it waits");
        room.give_back(QUEUE_BYTES - 10);
        assert!(waiting.join().unwrap(), "let in once there is room");
        assert_eq!(room.bytes.load(Ordering::Acquire), 20);
        assert_eq!(room.waits.load(Ordering::Relaxed), 1, "the wait is counted once");
    }

    #[test]
    fn nothing_waits_for_room_once_the_thread_has_stopped() {
        let room = Arc::new(Room::default());
        assert!(room.take(QUEUE_BYTES));
        let waiting = {
            let room = Arc::clone(&room);
            std::thread::spawn(move || room.take(1))
        };
        drop(Closing(Arc::clone(&room)));
        assert!(!waiting.join().unwrap(), "a closed queue takes nothing and holds nobody up");
        assert!(!room.take(1));
    }
}
