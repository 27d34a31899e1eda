//! The one way from a source to the sinks. Every source — capture files, live capture, the
//! honeypot, `analyze` replaying the store — hands the pipeline messages with their metadata
//! ([`Arrival`]) and nothing else. The pipeline
//! - parses what the source has not parsed, counts every message ([`Counters`]),
//! - decides which messages become events (`--events all|none|sample:N`), builds the event and
//!   extracts its fields once,
//! - feeds the analysis engine and owns its run (begun once, handed over whenever the engine's
//!   tables fill and on every [`Pipeline::tick`], finished at the end: see [`session`]),
//! - runs the rules on every message and record ([`crate::rules`]; on its own thread, or
//!   beside the analysis engine on its thread: [`RulesOn`]), stores each alert, hands it to the
//!   responder (which takes decisions) and to the alert outputs,
//! - and fans events, records and hand-overs out to its store and extra sinks.
//!
//! It reads no clock: times come with the messages, and the periodic work is driven by
//! [`Pipeline::tick`] with a time the caller passes in, so the whole path is tested with a
//! simulated clock (`tests.rs`).

mod alerting;
mod carry;
mod counters;
mod session;
#[cfg(test)]
mod tests;
mod worker;

pub use alerting::RulesOn;
pub use counters::Counters;

use crate::act::Responder;
use crate::analysis::engine::{AnalysisConfig, LoggedAttempt, Seen};
use crate::event::fields::{lossless_text, MessageKind, Parsed, SipFields};
use crate::event::record::Record;
use crate::event::{Direction, Origin, SipEvent, Transport};
use crate::metrics;
use crate::nodes::Nodes;
use crate::rules::{RuleSet, RulesEngine};
use crate::sinks::{AlertSink, CaptureFile, EventStore, FileCounts, FileStart, RunKind, Sink, SinkError};
use alerting::Alerting;
use session::AnalysisSession;
use sipscope_sip::{Message, StartLine};
use std::net::IpAddr;
use std::sync::Arc;

/// Which messages become events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventsMode {
    /// Every message becomes an event.
    All,
    /// No events: counts and analysis only.
    None,
    /// One message in N.
    Sample(u64),
}

impl std::str::FromStr for EventsMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "all" => Ok(EventsMode::All),
            "none" => Ok(EventsMode::None),
            _ => match s.strip_prefix("sample:").map(str::parse::<u64>) {
                Some(Ok(n)) if n > 0 => Ok(EventsMode::Sample(n)),
                _ => Err(format!("expected all, none or sample:N (N > 0), not {s:?}")),
            },
        }
    }
}

/// What becomes of bytes that do not parse as SIP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unparsed {
    /// Counted as non-SIP and dropped (captures: the wire decoder already decided by the start
    /// line, and what still fails is not a message).
    Count,
    /// Analysed and stored as `invalid` or `keepalive` (the honeypot keeps everything it
    /// received; a replay of the store sees what was stored).
    Keep,
}

/// The node a message belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeOf<'a> {
    /// Looked up in the nodes file by tunnel endpoint or by the node's end of the message:
    /// the destination of what the sensor received, the source of what it sent, and for a
    /// passive capture the destination of a request and the source of an answer
    /// ([`Nodes::of_message`]).
    Lookup,
    /// Already known (a replayed event keeps its stored node).
    Known(Option<&'a str>),
}

/// One message (or bytes that claim to be one) as a source hands it over.
#[derive(Debug, Clone, Copy)]
pub struct Arrival<'a> {
    /// Capture or receive time, ns.
    pub ts_ns: i64,
    /// How it travelled.
    pub transport: Transport,
    /// Source address and port.
    pub src: (IpAddr, u16),
    /// Destination address and port.
    pub dst: (IpAddr, u16),
    /// Outer tunnel endpoints.
    pub tunnel: Option<(IpAddr, IpAddr)>,
    /// Received, sent, or unknown (passive capture).
    pub direction: Direction,
    /// The packet number in the current capture file, when read from one.
    pub packet: Option<u64>,
    /// Its node.
    pub node: NodeOf<'a>,
    /// The sensor that saw it, when another sensor saw it and forwarded it (a HEP capture
    /// node, an imported SentryPeer node); `None`: the pipeline's own.
    pub sensor: Option<&'a str>,
    /// The bytes.
    pub bytes: &'a [u8],
}

/// What a source knows about an arrival that its bytes cannot tell: a refused connection, a
/// failed TLS handshake, a stream message cut off by a limit. The names are added to the
/// event's anomalies (sensor-side names, listed in docs/anomalies.md); `detail` becomes the
/// `reason` of bytes that are not SIP.
#[derive(Debug, Clone, Copy, Default)]
pub struct Note<'a> {
    /// Anomaly names added after the parser's.
    pub anomalies: &'a [&'static str],
    /// Why, for bytes that are not a SIP message (kept before the parse error).
    pub detail: Option<&'a str>,
    /// Not a message at all (a refused connection): stored as `invalid` even when blank.
    pub not_a_message: bool,
}

impl Note<'_> {
    fn apply(&self, fields: &mut SipFields) {
        if self.not_a_message && fields.kind == MessageKind::Keepalive {
            fields.kind = MessageKind::Invalid;
        }
        for name in self.anomalies {
            if !fields.anomalies.is_empty() {
                fields.anomalies.push(' ');
            }
            fields.anomalies.push_str(name);
        }
        if let (Some(detail), MessageKind::Invalid | MessageKind::Keepalive) = (self.detail, fields.kind) {
            fields.reason = Some(match fields.reason.take() {
                Some(parse_error) => format!("{detail}; {parse_error}").into(),
                None => detail.into(),
            });
        }
    }
}

/// How a pipeline runs.
#[derive(Debug, Clone)]
pub struct PipelineSettings {
    /// Sensor name stored with every event.
    pub sensor: String,
    /// Node lookup.
    pub nodes: Nodes,
    /// Which messages become events.
    pub events: EventsMode,
    /// What becomes of bytes that do not parse.
    pub unparsed: Unparsed,
    /// The analysis engine's settings, when it runs.
    pub analysis: Option<AnalysisConfig>,
    /// What the analysis run is for, and whether it replaces every earlier run.
    pub run: (RunKind, bool),
    /// Minimum time between two hand-overs and flushes driven by [`Pipeline::tick`], ns.
    /// Default 1 s: readers see events within a second and a crash loses at most that.
    pub tick_every_ns: i64,
    /// A long run (capture, honeypot) closes its analysis run and opens the next at the first
    /// tick this long after it began, so that a crash leaves at most one segment to recover
    /// from its events. `None`: one run to the end (capture files get a run each anyway).
    pub segment_every_ns: Option<i64>,
    /// The messages are stored events read back (`analyze`, recovery): the run's results
    /// cover every message observed, not the events it stores (none).
    pub replay: bool,
    /// The rules run on every message and record; `None`: no rules.
    pub rules: Option<Arc<RuleSet>>,
    /// Which thread runs them. Default: the analysis thread for files and replays (run kinds
    /// ingest and analyze), the pipeline's for live sources (capture, honeypot); a source
    /// that follows its input as it grows (`logs --follow`) says [`RulesOn::Pipeline`], the
    /// honeypot says [`RulesOn::Worker`] and flushes each read ([`Pipeline::flush`]).
    pub rules_on: RulesOn,
    /// The command that takes the messages in, as the metrics name it (`source` label).
    /// Default: from the run kind.
    pub source: metrics::Source,
}

/// Default length of an analysis segment of a long run (capture, honeypot): one hour.
pub const DEFAULT_SEGMENT_NS: i64 = crate::time::HOUR_NS;

impl PipelineSettings {
    /// Settings with the defaults: every event, unparseable bytes counted, analysis on.
    pub fn new(sensor: String, nodes: Nodes, run: RunKind) -> PipelineSettings {
        PipelineSettings {
            sensor,
            nodes,
            events: EventsMode::All,
            unparsed: Unparsed::Count,
            analysis: Some(AnalysisConfig::default()),
            run: (run, false),
            tick_every_ns: crate::time::SECOND_NS,
            segment_every_ns: None,
            replay: false,
            rules: None,
            rules_on: match run {
                RunKind::Ingest | RunKind::Analyze => RulesOn::Worker,
                RunKind::Capture | RunKind::Honeypot => RulesOn::Pipeline,
            },
            source: match run {
                RunKind::Ingest => metrics::Source::Ingest,
                RunKind::Capture => metrics::Source::Capture,
                RunKind::Honeypot => metrics::Source::Honeypot,
                RunKind::Analyze => metrics::Source::Analyze,
            },
        }
    }
}

/// What a finished pipeline reports.
#[derive(Debug, Clone)]
pub struct Finished {
    /// Messages counted.
    pub counters: Counters,
    /// The last analysis run's summary, when the engine ran (`analyze` has one run; an ingest
    /// has one per file).
    pub analysis: Option<crate::analysis::summary::AnalysisSummary>,
}

/// The pipeline: one store, extra sinks, the analysis session and the counters.
pub struct Pipeline {
    settings: PipelineSettings,
    out: Outputs,
}

/// Everything the pipeline changes per message (apart from the settings, so that a node name
/// borrowed from the settings can travel with the message).
struct Outputs {
    store: Box<dyn EventStore>,
    extra: Vec<Box<dyn Sink>>,
    session: AnalysisSession,
    counters: Counters,
    file_id: Option<i64>,
    /// Messages seen, for sampling.
    seen: u64,
    /// The store's first error: nothing more is written after it.
    error: Option<SinkError>,
    last_tick_ns: Option<i64>,
    /// Events stored when the open analysis run began.
    stored_at_run: u64,
    /// Calls of `store.write` so far: the next event's position ([`crate::act::Evidence::stored`]).
    store_writes: u64,
    /// Stored events of an interrupted run replayed into the open run, which continues it
    /// ([`Pipeline::continue_analysis`]): its results cover them too.
    carried: u64,
    /// The rules engine, its responder, the alert outputs.
    alerts: Alerting,
}

impl Pipeline {
    /// A pipeline writing to `store` and copying events to `extra` sinks.
    pub fn new(settings: PipelineSettings, store: Box<dyn EventStore>, extra: Vec<Box<dyn Sink>>) -> Pipeline {
        let mut session = AnalysisSession::new(settings.analysis.clone(), settings.run);
        let mut engine = settings.rules.clone().map(|set| RulesEngine::new(set, &settings.sensor));
        if engine.is_some() && settings.rules_on == RulesOn::Worker {
            // Without a thread for them, they stay here.
            session.run_rules(&mut engine);
        }
        let alerts = Alerting {
            enabled: settings.rules.is_some(),
            engine,
            responder: None,
            sinks: Vec::new(),
            changes: Vec::new(),
            ordinal: 0,
            live: matches!(settings.run.0, RunKind::Capture | RunKind::Honeypot),
            carrying: false,
        };
        let out = Outputs {
            store,
            extra,
            session,
            counters: Counters::default(),
            file_id: None,
            seen: 0,
            error: None,
            last_tick_ns: None,
            stored_at_run: 0,
            store_writes: 0,
            carried: 0,
            alerts,
        };
        Pipeline { settings, out }
    }

    /// The responder that takes decisions on the alerts (E's policy); called in message order
    /// with the message's time, and on every tick.
    pub fn set_responder(&mut self, responder: Box<dyn Responder>) {
        self.out.alerts.responder = Some(responder);
    }

    /// Adds an output of alerts and decisions (EVE JSON Lines, syslog, webhooks).
    pub fn add_alert_sink(&mut self, sink: Box<dyn AlertSink>) {
        self.out.alerts.sinks.push(sink);
    }

    /// Whether the rules run.
    pub fn has_rules(&self) -> bool {
        self.out.alerts.enabled
    }

    /// What was counted so far.
    pub fn counters(&self) -> &Counters {
        &self.out.counters
    }

    /// True once the store has failed: sources should stop reading.
    pub fn failed(&self) -> bool {
        self.out.error.is_some()
    }

    /// Opens the analysis run (when analysis is on and no run is open yet).
    pub fn begin_analysis(&mut self, started_ns: i64) -> Result<(), SinkError> {
        self.begin_run(started_ns, None)
    }

    fn begin_run(&mut self, started_ns: i64, file_id: Option<i64>) -> Result<(), SinkError> {
        if self.out.session.open_run().is_none() {
            self.out.stored_at_run = self.out.counters.events_stored;
            self.out.carried = 0;
        }
        self.out.session.begin(self.out.store.as_mut(), started_ns, file_id, &self.settings.sensor)
    }

    /// The stored events the open run's results include.
    fn covered(&self) -> u64 {
        if self.settings.replay {
            self.out.session.observed()
        } else {
            self.out.counters.events_stored - self.out.stored_at_run + self.out.carried
        }
    }

    /// Closes the open analysis run.
    fn finish_run(&mut self, now_ns: i64) -> Result<(), SinkError> {
        // What the rules on the worker raised from the run's messages is stored under it.
        self.out.rules_step(worker::RulesStep::Sync);
        let covered = self.covered();
        self.out.session.finish_run(self.out.store.as_mut(), now_ns, covered)
    }

    /// Registers a capture file; events accepted until [`Pipeline::finish_file`] belong to it,
    /// and so do the results of the analysis run begun with it.
    pub fn begin_file(&mut self, file: CaptureFile, now_ns: i64, force: bool) -> Result<FileStart, SinkError> {
        self.out.take_error()?;
        let start = self.out.store.begin_file(file, now_ns, force)?;
        if let FileStart::Ingest { id, .. } = start {
            self.finish_run(now_ns)?;
            self.begin_run(now_ns, Some(id))?;
            self.out.file_id = Some(id);
        }
        Ok(start)
    }

    /// The current capture file's id in the store.
    pub fn file_id(&self) -> Option<i64> {
        self.out.file_id
    }

    /// Access to the store for the file registry (content digests, superseded files).
    pub fn store(&mut self) -> &mut dyn EventStore {
        self.out.store.as_mut()
    }

    /// Marks the current file complete (after every event of it is durable), once its
    /// analysis run is stored: a crash in between leaves the file partial, so the next run of
    /// it replaces both.
    pub fn finish_file(&mut self, counts: FileCounts, now_ns: i64) -> Result<(), SinkError> {
        self.out.take_error()?;
        let Some(id) = self.out.file_id.take() else { return Ok(()) };
        self.out.flush_extra();
        self.finish_run(now_ns)?;
        self.out.store.finish_file(id, counts, now_ns)
    }

    /// Forgets the current file without marking it complete (it could not be read to the end:
    /// its events stay, with the analysis of them, and the next run of the same content
    /// replaces both).
    pub fn abandon_file(&mut self, now_ns: i64) -> Result<(), SinkError> {
        self.out.file_id = None;
        self.out.take_error()?;
        self.finish_run(now_ns)
    }

    /// The first free id of an authentication attempt (records name their attempt by it).
    pub fn next_auth_attempt_id(&mut self) -> Result<i64, SinkError> {
        self.out.store.next_auth_attempt_id()
    }

    /// Takes one message; parses it first.
    pub fn accept(&mut self, a: Arrival<'_>) {
        self.parse_and_accept(a, Note::default());
    }

    /// Like [`Pipeline::accept`], with what the source knows beyond the bytes (a capture
    /// decoder's notes).
    pub fn accept_with_note(&mut self, a: Arrival<'_>, note: Note<'_>) {
        self.parse_and_accept(a, note);
    }

    /// Parses and takes a message, with its notes.
    fn parse_and_accept(&mut self, a: Arrival<'_>, note: Note<'_>) {
        if self.out.error.is_some() {
            return;
        }
        if self.settings.events == EventsMode::None && !self.out.session.enabled() && !self.out.alerts.enabled {
            // Counts only: the start line says everything the counters need, and a telescope
            // archive is read ten times faster without the full parse.
            if a.direction != Direction::Out {
                metrics::message_in(self.settings.source, a.transport.into());
            }
            self.out.count_start_line(a.bytes, self.settings.source);
            return;
        }
        if crate::event::fields::is_blank(a.bytes) {
            return self.accept_inner(a, None, note);
        }
        match Message::parse_with(a.bytes, a.transport.framing(), sipscope_sip::ParseLimits::default()) {
            Ok(msg) => self.accept_inner(a, Some(&msg), note),
            Err(_) => self.accept_inner(a, None, note),
        }
    }

    /// Takes one message the source already parsed (`None`: it does not parse, or is blank).
    pub fn accept_parsed(&mut self, a: Arrival<'_>, msg: Option<&Message<'_>>) {
        self.accept_noted(a, msg, Note::default());
    }

    /// Like [`Pipeline::accept_parsed`], with what the source knows beyond the bytes.
    pub fn accept_noted(&mut self, a: Arrival<'_>, msg: Option<&Message<'_>>, note: Note<'_>) {
        self.accept_inner(a, msg, note);
    }

    fn accept_inner(&mut self, a: Arrival<'_>, msg: Option<&Message<'_>>, note: Note<'_>) {
        if self.out.error.is_some() {
            return;
        }
        let sensor = a.sensor.unwrap_or(&self.settings.sensor);
        let ours = a.direction == Direction::Out;
        if !ours {
            metrics::message_in(self.settings.source, a.transport.into());
            for _ in note.anomalies {
                metrics::anomaly(metrics::AnomalyClass::Sensor);
            }
        }
        let Some(msg) = msg else { return self.out.accept_unparsed(&self.settings, a, note, sensor) };
        // `--events none` counts by the start line alone (docs/ingest.md: violations stay 0):
        // checking every header is a cost only stored events need. What sipscope sent is
        // well-formed by construction and is not checked.
        let checked = self.settings.events != EventsMode::None && !ours;
        // The checks hand back the views they parsed (From, To, Contact, Request-URI,
        // credentials), so that the stored fields do not parse them again.
        let views = checked.then(|| msg.check_views());
        let violates = checked && msg.violates_rfc3261();
        if checked {
            for anomaly in msg.anomalies() {
                metrics::anomaly(anomaly.kind.class().into());
            }
        } else if let (true, Some(code)) = (ours, msg.status()) {
            metrics::answer_sent(code);
        }
        // Counted by its text, copied only when it is not UTF-8 (the counters keep it).
        let method = msg.method().map(|m| {
            std::str::from_utf8(m)
                .map_or_else(|_| std::borrow::Cow::Owned(lossless_text(m)), std::borrow::Cow::Borrowed)
        });
        self.out.counters.sip(method.as_deref(), msg.status(), violates);
        let kind = if msg.method().is_some() { MessageKind::Request } else { MessageKind::Response };
        let node = node_of(&self.settings.nodes, &a, kind);
        // The Request-URI and To header parsed for the stored fields go on to the rules.
        let mut parsed = Parsed::default();
        let mut stored = None;
        if self.out.keep(self.settings.events) {
            let mut fields = SipFields::extract_noting(msg, views.as_ref(), &mut parsed);
            note.apply(&mut fields);
            stored = self.out.write(sensor, &a, node, fields);
        }
        self.out.take(&a, node, Some(msg), &parsed, stored);
    }

    /// Takes a record; it reaches the store in order with the events. An authentication
    /// attempt read from a PBX log gets its node (the nodes file's for the PBX's address,
    /// else the log's sensor: the PBX whose log it is) and feeds the analysis as the request it
    /// describes (docs/analysis.md, "Attempts from PBX logs").
    pub fn record(&mut self, mut record: Record) {
        if self.out.error.is_some() {
            return;
        }
        let kind = match &record {
            Record::AuthAttempt(_) => metrics::RecordKind::AuthAttempt,
            Record::Registration(_) => metrics::RecordKind::Registration,
            Record::Recovered(_) => metrics::RecordKind::Recovered,
        };
        metrics::record_in(self.settings.source, kind);
        if let Record::AuthAttempt(a) = &mut record {
            if let Some(log) = &a.log {
                if a.ctx.node.is_none() {
                    let dst = (a.ctx.dst.ip(), a.ctx.dst.port());
                    let src = (a.ctx.src.ip(), a.ctx.src.port());
                    let found = self.settings.nodes.of_message(None, src.0, dst.0, Direction::In, MessageKind::Request);
                    a.ctx.node = Some(found.map_or_else(|| a.ctx.sensor.clone(), |n| n.name.clone()));
                }
                let attempt = LoggedAttempt {
                    ts_ns: a.ctx.ts_ns,
                    src: (a.ctx.src.ip(), a.ctx.src.port()),
                    dst: (a.ctx.dst.ip(), a.ctx.dst.port()),
                    node: a.ctx.node.as_deref(),
                    origin: log.origin,
                    method: &a.method,
                    username: &a.username,
                    uri: a.uri.as_deref(),
                    outcome: a.outcome,
                };
                self.out.observe_attempt(&attempt);
            }
        }
        let mut changes = std::mem::take(&mut self.out.alerts.changes);
        if let Some(engine) = self.out.alerts.engine.as_mut() {
            engine.observe_record(&record, self.out.alerts.ordinal, &mut changes);
        } else if let Err(e) = self.out.session.record(&record, self.out.alerts.ordinal, self.out.store.as_mut()) {
            self.out.error = Some(e);
        }
        if let Err(e) = self.out.store.record(record) {
            self.out.error = Some(e);
        }
        self.out.dispatch(&mut changes, None, false);
        self.out.alerts.changes = changes;
        self.out.pass_on_raised();
    }

    /// Feeds the analysis an authentication attempt read from a PBX log, as stored (a replay of
    /// the store: nothing is stored again).
    pub fn observe_attempt(&mut self, attempt: &LoggedAttempt<'_>) {
        if self.out.error.is_none() {
            self.out.observe_attempt(attempt);
        }
    }

    /// A live source with the rules beside the analysis ([`RulesOn::Worker`]) calls this when
    /// it has nothing more to hand over for now (the honeypot: after the datagrams one system
    /// call brought, after each stream message): what it handed over goes to the rules' thread
    /// at once — or, while that thread is behind, with what comes next, so this never waits for
    /// it — and whatever they raised since is passed on. Nothing to do otherwise.
    pub fn flush(&mut self) {
        if let Err(e) = self.out.session.send_pending() {
            self.out.error.get_or_insert(e);
        }
        self.out.pass_on_raised();
    }

    /// Passes on what the rules beside the analysis raised so far (stored, to the responder,
    /// to the alert outputs), without waiting for them: a live source asks before it decides
    /// whether a source is banned. Cheap when nothing was raised.
    pub fn poll_alerts(&mut self) {
        self.out.session.collect_raised();
        self.out.pass_on_raised();
    }

    /// Periodic work at time `now_ns` (any clock the caller keeps, monotonic or not): at most
    /// every `tick_every_ns`, hands the engine's finished rows to the store and makes
    /// everything durable. Returns the store's error, if it failed.
    pub fn tick(&mut self, now_ns: i64) -> Result<(), SinkError> {
        let due = self.out.last_tick_ns.is_none_or(|t| now_ns.saturating_sub(t) >= self.settings.tick_every_ns);
        if !due {
            return Ok(());
        }
        self.out.last_tick_ns = Some(now_ns);
        self.out.take_error()?;
        self.out.tick_alerts(now_ns);
        let result = self.next_segment(now_ns).and_then(|()| {
            self.out.session.hand_over(self.out.store.as_mut())?;
            self.out.pass_on_raised();
            self.out.store.flush()
        });
        self.out.flush_extra();
        result.inspect_err(|e| tracing::error!("storing events: {e}"))
    }

    /// Closes the open run and opens the next when the segment is over (never inside a file).
    fn next_segment(&mut self, now_ns: i64) -> Result<(), SinkError> {
        let (Some(every), Some(run), None) =
            (self.settings.segment_every_ns, self.out.session.open_run(), self.out.file_id)
        else {
            return Ok(());
        };
        if now_ns.saturating_sub(run.began_ns) < every {
            return Ok(());
        }
        self.finish_run(now_ns)?;
        self.begin_run(now_ns, None)
    }

    /// Finishes the analysis run, makes everything durable and returns what was counted. The
    /// store's first error, if any, is returned instead.
    pub fn finish(mut self, now_ns: i64) -> Result<Finished, SinkError> {
        self.out.take_error()?;
        self.out.finish_alerts(now_ns);
        self.out.take_error()?;
        let covered = self.covered();
        let analysis = self.out.session.finish(self.out.store.as_mut(), now_ns, covered, &self.settings.sensor)?;
        self.out.flush_extra();
        self.out.store.flush()?;
        Ok(Finished { counters: self.out.counters, analysis })
    }
}

impl Outputs {
    fn accept_unparsed(&mut self, settings: &PipelineSettings, a: Arrival<'_>, note: Note<'_>, sensor: &str) {
        let blank = crate::event::fields::is_blank(a.bytes);
        if settings.unparsed == Unparsed::Count {
            self.counters.non_sip += 1;
            if !blank {
                metrics::parse_error(settings.source, metrics::Unparsed::Dropped);
            }
            return;
        }
        self.counters.unparsed_kept += 1;
        if !blank && a.direction != Direction::Out {
            metrics::parse_error(settings.source, metrics::Unparsed::Kept);
        }
        let mut stored = None;
        let node = node_of(&settings.nodes, &a, MessageKind::Invalid);
        if self.keep(settings.events) {
            let mut fields = SipFields::of_bytes(a.bytes, a.transport.framing());
            note.apply(&mut fields);
            stored = self.write(sensor, &a, node, fields);
        }
        self.take(&a, node, None, &Parsed::default(), stored);
    }

    fn take_error(&mut self) -> Result<(), SinkError> {
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Whether the message just counted becomes an event.
    fn keep(&mut self, events: EventsMode) -> bool {
        self.seen += 1;
        match events {
            EventsMode::All => true,
            EventsMode::None => false,
            EventsMode::Sample(n) => (self.seen - 1).is_multiple_of(n),
        }
    }

    /// Writes the message's event; returns the position at which it was handed to the store
    /// (the n-th `write` of the store is position n: [`crate::act::Evidence::stored`]).
    fn write(&mut self, sensor: &str, a: &Arrival<'_>, node: Option<&str>, fields: SipFields) -> Option<u64> {
        let event = SipEvent {
            ts_ns: a.ts_ns,
            sensor: sensor.to_owned(),
            node: node.map(str::to_owned),
            transport: a.transport,
            src: a.src,
            dst: a.dst,
            tunnel: a.tunnel,
            direction: a.direction,
            origin: self.file_id.zip(a.packet).map(|(file_id, packet)| Origin { file_id, packet }),
            raw: a.bytes.to_vec(),
        };
        for sink in &mut self.extra {
            if let Err(e) = sink.write(event.clone(), fields.clone()) {
                // An extra copy failing (a full disk for JSON Lines) must not stop the store.
                self.counters.extra_sink_errors += 1;
                if self.counters.extra_sink_errors == 1 {
                    tracing::error!("an extra sink failed (counted from now on, not logged again): {e}");
                }
            }
        }
        let position = self.store_writes;
        self.store_writes += 1;
        match self.store.write(event, fields) {
            Ok(()) => self.counters.events_stored += 1,
            Err(e) => self.error = Some(e),
        }
        Some(position)
    }

    /// Feeds the analysis; what it handed over because its tables filled goes to the store,
    /// so one long capture keeps memory bounded too.
    fn observe(&mut self, a: &Arrival<'_>, node: Option<&str>, msg: Option<&Message<'_>>, taken: worker::Taken) {
        let seen = Seen { ts_ns: a.ts_ns, src: a.src, dst: a.dst, node, direction: a.direction, bytes: a.bytes.len() };
        if let Err(e) = self.session.observe(&seen, a.transport, a.bytes, msg, taken, self.store.as_mut()) {
            self.error = Some(e);
        }
    }

    fn observe_attempt(&mut self, attempt: &LoggedAttempt<'_>) {
        if let Err(e) = self.session.observe_attempt(attempt, self.store.as_mut()) {
            self.error = Some(e);
        }
    }

    fn flush_extra(&mut self) {
        for sink in &mut self.extra {
            if sink.flush().is_err() {
                self.counters.extra_sink_errors += 1;
            }
        }
        for sink in &mut self.alerts.sinks {
            if sink.flush().is_err() {
                self.counters.alert_sink_errors += 1;
            }
        }
    }

    /// Counts a message by its start line alone (`--events none`, no analysis).
    fn count_start_line(&mut self, bytes: &[u8], source: metrics::Source) {
        match crate::event::wire::start_line(bytes) {
            Some(StartLine::Request { method, .. }) => self.counters.sip(Some(&lossless_text(method)), None, false),
            Some(StartLine::Response { code, .. }) => self.counters.sip(None, code.or(Some(0)), false),
            None => {
                self.counters.non_sip += 1;
                if !crate::event::fields::is_blank(bytes) {
                    metrics::parse_error(source, metrics::Unparsed::Dropped);
                }
            }
        }
    }
}

/// The node of a message: known, or looked up by tunnel endpoint or the node's end of it.
fn node_of<'a>(nodes: &'a Nodes, a: &Arrival<'a>, kind: MessageKind) -> Option<&'a str> {
    match a.node {
        NodeOf::Known(node) => node,
        NodeOf::Lookup => nodes.of_message(a.tunnel, a.src.0, a.dst.0, a.direction, kind).map(|n| n.name.as_str()),
    }
}
