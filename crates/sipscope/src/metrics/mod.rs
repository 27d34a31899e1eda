//! Prometheus metrics, a foundation every stage may import (and that imports no stage):
//! what sipscope took in, stored, answered, refused, raised and decided, how deep its queues
//! are and how long its store takes to commit. Everything lives in static atomics indexed by
//! bounded labels ([`registry`]): incrementing is one relaxed atomic add, and no label value
//! ever comes from the network (methods, users and addresses are never labels; status codes
//! are our own answers'). [`render`] writes the whole set in the text exposition format
//! ([`exposition`]); [`http`] serves it at `GET /metrics` until the API server (`serve`) does.
//! docs/metrics.md lists every metric.
//!
//! The API a stage calls is one function per fact ([`message_in`], [`events_out`],
//! [`answer_sent`], [`queue_depth_add`], [`observe_commit`], [`set_publish_lag`] …); the
//! label types say which values exist.

pub mod exposition;
pub mod http;
pub mod registry;

use exposition::{Exposition, Kind};
use registry::{label, Counters, FloatGauges, Gauges, Histogram, LATENCY_BUCKETS};

/// `[metrics]` of a configuration file.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Serve `GET /metrics` on this address (`"127.0.0.1:9464"`); none by default.
    #[serde(default)]
    pub listen: Option<std::net::SocketAddr>,
}

label! {
    /// Where messages came from: the command that took them in.
    Source {
        /// `sipscope ingest`.
        Ingest => "ingest",
        /// `sipscope capture`.
        Capture => "capture",
        /// `sipscope honeypot`.
        Honeypot => "honeypot",
        /// `sipscope hep`.
        Hep => "hep",
        /// `sipscope logs`.
        Logs => "logs",
        /// `sipscope import`.
        Import => "import",
        /// `sipscope analyze` (the store read back).
        Analyze => "analyze",
        /// The collector (messages another sensor published).
        Collector => "collector",
    }
}

label! {
    /// How a message travelled.
    Transport {
        /// UDP.
        Udp => "udp",
        /// TCP.
        Tcp => "tcp",
        /// TLS.
        Tls => "tls",
        /// SCTP.
        Sctp => "sctp",
        /// WebSocket (over TCP or TLS).
        Ws => "ws",
    }
}

impl From<crate::event::Transport> for Transport {
    fn from(t: crate::event::Transport) -> Transport {
        match t {
            crate::event::Transport::Udp => Transport::Udp,
            crate::event::Transport::Tcp => Transport::Tcp,
            crate::event::Transport::Tls => Transport::Tls,
            crate::event::Transport::Sctp => Transport::Sctp,
            crate::event::Transport::Ws => Transport::Ws,
        }
    }
}

label! {
    /// Where events go out.
    Sink {
        /// The embedded SQLite store (events committed).
        Sqlite => "sqlite",
        /// PostgreSQL (events committed).
        Postgres => "postgres",
        /// JSON Lines (events written).
        Jsonl => "jsonl",
        /// HEP out (packets sent).
        Hep => "hep",
        /// NATS (events the server acknowledged).
        Nats => "nats",
    }
}

label! {
    /// What a record is.
    RecordKind {
        /// An authentication attempt.
        AuthAttempt => "auth_attempt",
        /// A registration binding.
        Registration => "registration",
        /// A recovered password.
        Recovered => "recovered_password",
    }
}

label! {
    /// What became of bytes that did not parse as SIP.
    Unparsed {
        /// Kept as an `invalid` event (honeypot, HEP).
        Kept => "kept",
        /// Counted and dropped (captures).
        Dropped => "dropped",
    }
}

label! {
    /// The class of an anomaly.
    AnomalyClass {
        /// The bytes do not match RFC 3261's grammar.
        Syntax => "syntax",
        /// A protocol rule is broken.
        Protocol => "protocol",
        /// Allowed, worth knowing.
        Notice => "notice",
        /// Named by the sensor, not the parser (a refused connection, a cut stream …).
        Sensor => "sensor",
    }
}

impl From<sipscope_sip::AnomalyClass> for AnomalyClass {
    fn from(c: sipscope_sip::AnomalyClass) -> AnomalyClass {
        match c {
            sipscope_sip::AnomalyClass::Syntax => AnomalyClass::Syntax,
            sipscope_sip::AnomalyClass::Protocol => AnomalyClass::Protocol,
            sipscope_sip::AnomalyClass::Notice => AnomalyClass::Notice,
        }
    }
}

label! {
    /// Why the honeypot did not answer a request.
    Unanswered {
        /// The source's request rate.
        SourceRate => "source_rate_limit",
        /// The honeypot's global request rate.
        GlobalRate => "global_rate_limit",
        /// Over the message size limit.
        Oversized => "oversized",
        /// The source is under a ban in force.
        Banned => "banned",
    }
}

label! {
    /// Why the honeypot withheld an answer it had.
    Withheld {
        /// A UDP answer over the source's amplification budget.
        Amplification => "amplification",
        /// A stream answer over the connection's answer budget.
        StreamBudget => "stream_budget",
        /// An answer over the answer size limit.
        AnswerSize => "answer_size",
        /// A retransmission (timer G) over the amplification budget.
        Retransmission => "retransmission",
    }
}

label! {
    /// An alert's severity.
    Severity {
        /// Info.
        Info => "info",
        /// Low.
        Low => "low",
        /// Medium.
        Medium => "medium",
        /// High.
        High => "high",
        /// Critical.
        Critical => "critical",
    }
}

label! {
    /// What a decision does.
    Action {
        /// Ban.
        Ban => "ban",
        /// Rate limit.
        RateLimit => "rate-limit",
        /// Watch.
        Watch => "watch",
    }
}

label! {
    /// A queue between two threads.
    Queue {
        /// Items (events, records, hand-overs) on their way to the SQLite writer thread.
        StoreWriter => "store_writer",
        /// Items the store could not write, waiting to be retried (resilient mode).
        StoreBacklog => "store_backlog",
        /// Password recovery jobs waiting for the intel worker.
        Intel => "intel",
        /// Alerts and decisions waiting for an alert output (webhook, syslog).
        AlertDelivery => "alert_delivery",
        /// HEP packets received and not yet taken by the pipeline.
        HepChannel => "hep_channel",
        /// Packets waiting for the HEP-out sender.
        HepOut => "hep_out",
        /// Events waiting to be published to NATS.
        NatsPublish => "nats_publish",
        /// Messages the honeypot answered (and their answers), not yet recorded.
        HoneypotRecorder => "honeypot_recorder",
    }
}

label! {
    /// What became of a HEP packet the collector received.
    HepOutcome {
        /// Its SIP payload went to the pipeline.
        Accepted => "accepted",
        /// Not HEP, or HEP that contradicts itself.
        Malformed => "malformed",
        /// A compressed payload that is damaged or inflates past the limit.
        BadCompressedPayload => "bad_compressed_payload",
        /// No auth key.
        Unauthenticated => "unauthenticated",
        /// The capture node is not in the keys file.
        UnknownNode => "unknown_node",
        /// The key does not match the node's.
        WrongKey => "wrong_key",
        /// Authenticated, not SIP (RTCP, logs): not kept.
        NotSip => "not_sip",
        /// Without addresses or ports.
        MissingAddresses => "missing_addresses",
        /// A stream that stopped being HEPv3 (closed).
        StreamNotHep => "stream_not_hep",
        /// A stream refused at accept: too many open.
        StreamRefused => "stream_refused",
    }
}

label! {
    /// A store backend, for commit latency.
    Backend {
        /// SQLite.
        Sqlite => "sqlite",
        /// PostgreSQL.
        Postgres => "postgres",
    }
}

label! {
    /// A request the REST API did not serve as asked.
    ApiTrouble {
        /// A handler panicked; the client got 500.
        HandlerPanic => "handler_panic",
        /// A token over its rate (429).
        RateLimitedToken => "rate_limited_token",
        /// A client without a valid token over its address's rate (429).
        RateLimitedAnonymous => "rate_limited_anonymous",
    }
}

label! {
    /// How the REST API answered a report request (whole or one section), or built one unasked.
    ApiReport {
        /// From the kept answers (fresh, or served at once while rebuilt in the background).
        Kept => "kept",
        /// After waiting for the build another request (or the server) had under way.
        Waited => "waited",
        /// Built for this request: nothing kept or under way for its range and nodes.
        Built => "built",
        /// A whole report the server built before anyone asked: the overview at start, the
        /// dashboard's quick ranges at start and when the UTC hour turns.
        Prebuilt => "prebuilt",
        /// From a report an earlier run of the server kept in the store (`api/kept.rs`),
        /// served until this run has built its own.
        Restored => "restored",
    }
}

/// Answers counted per status code: 100 to 699, and one slot for anything else.
const CODES: usize = 601;

const SOURCES_X_TRANSPORTS: usize = Source::COUNT * Transport::COUNT;
const SOURCES_X_RECORDS: usize = Source::COUNT * RecordKind::COUNT;
const SOURCES_X_UNPARSED: usize = Source::COUNT * Unparsed::COUNT;

static MESSAGES_IN: Counters<SOURCES_X_TRANSPORTS> = Counters::new();
static RECORDS_IN: Counters<SOURCES_X_RECORDS> = Counters::new();
static EVENTS_OUT: Counters<{ Sink::COUNT }> = Counters::new();
static SINK_ERRORS: Counters<{ Sink::COUNT }> = Counters::new();
static ANSWERS: Counters<CODES> = Counters::new();
static UNANSWERED: Counters<{ Unanswered::COUNT }> = Counters::new();
static WITHHELD: Counters<{ Withheld::COUNT }> = Counters::new();
static PARSE_ERRORS: Counters<SOURCES_X_UNPARSED> = Counters::new();
static ANOMALIES: Counters<{ AnomalyClass::COUNT }> = Counters::new();
static ALERTS: Counters<{ Severity::COUNT }> = Counters::new();
static ALERT_OUTPUT_ERRORS: Counters<1> = Counters::new();
static DECISIONS: Counters<{ Action::COUNT }> = Counters::new();
static HEP: Counters<{ HepOutcome::COUNT }> = Counters::new();
static QUEUES: Gauges<{ Queue::COUNT }> = Gauges::new();
static COMMITS: [Histogram; Backend::COUNT] = [const { Histogram::new() }; Backend::COUNT];
static PUBLISH_LAG: FloatGauges<{ Sink::COUNT }> = FloatGauges::new();
static STORE_UNAVAILABLE: Gauges<1> = Gauges::new();
static STORE_DROPPED: Counters<1> = Counters::new();
static STARTED: FloatGauges<1> = FloatGauges::new();
static API_TROUBLE: Counters<{ ApiTrouble::COUNT }> = Counters::new();
static API_REPORTS: Counters<{ ApiReport::COUNT }> = Counters::new();

/// A message received (a request or answer that came in; not what sipscope sent).
#[inline]
pub fn message_in(source: Source, transport: Transport) {
    MESSAGES_IN.add(source.index() * Transport::COUNT + transport.index(), 1);
}

/// A record taken in (an authentication attempt from a PBX log, a binding …).
#[inline]
pub fn record_in(source: Source, kind: RecordKind) {
    RECORDS_IN.add(source.index() * RecordKind::COUNT + kind.index(), 1);
}

/// `n` events a sink made durable or sent.
#[inline]
pub fn events_out(sink: Sink, n: u64) {
    EVENTS_OUT.add(sink.index(), n);
}

/// A write a sink refused (the store went on; for the store itself see the backlog).
pub fn sink_error(sink: Sink) {
    SINK_ERRORS.add(sink.index(), 1);
}

/// An answer the honeypot sent, by status code.
#[inline]
pub fn answer_sent(code: u32) {
    let i = match code {
        100..=699 => (code - 100) as usize,
        _ => CODES - 1,
    };
    ANSWERS.add(i, 1);
}

/// A request the honeypot recorded and did not answer.
pub fn unanswered(why: Unanswered) {
    UNANSWERED.add(why.index(), 1);
}

/// An answer the honeypot withheld.
pub fn withheld(why: Withheld) {
    WITHHELD.add(why.index(), 1);
}

/// Bytes that did not parse as SIP.
pub fn parse_error(source: Source, what: Unparsed) {
    PARSE_ERRORS.add(source.index() * Unparsed::COUNT + what.index(), 1);
}

/// An anomaly of a received message.
#[inline]
pub fn anomaly(class: AnomalyClass) {
    ANOMALIES.add(class.index(), 1);
}

/// An alert raised (not its updates).
pub fn alert_raised(severity: Severity) {
    ALERTS.add(severity.index(), 1);
}

/// A write an alert output (EVE file, syslog, webhook) failed.
pub fn alert_output_error() {
    ALERT_OUTPUT_ERRORS.add(0, 1);
}

/// A HEP packet (or stream) and what became of it.
pub fn hep(outcome: HepOutcome) {
    HEP.add(outcome.index(), 1);
}

/// A decision taken by the policy.
pub fn decision(action: Action) {
    DECISIONS.add(action.index(), 1);
}

/// Changes the depth of `queue` by `delta` items. Every instance of a queue adds its own
/// changes, so the exposed depth is the sum over instances; see [`DepthTracker`] for a queue
/// that knows its length rather than its changes.
#[inline]
pub fn queue_depth_add(queue: Queue, delta: i64) {
    QUEUES.add(queue.index(), delta);
}

/// Sets the depth of `queue` (for a queue that has one owner per process).
pub fn set_queue_depth(queue: Queue, depth: u64) {
    QUEUES.set(queue.index(), i64::try_from(depth).unwrap_or(i64::MAX));
}

/// One batch commit of a store, and how long it took.
pub fn observe_commit(backend: Backend, took: std::time::Duration) {
    if let Some(h) = COMMITS.get(backend.index()) {
        h.observe(took);
    }
}

/// How far behind a publisher is, in seconds: the age of the oldest event not yet
/// acknowledged by its server (0 when it is caught up). Publishers (NATS) call it whenever
/// they learn it; the last value set is exposed as `sipscope_publish_lag_seconds{sink}`.
pub fn set_publish_lag(sink: Sink, seconds: f64) {
    PUBLISH_LAG.set(sink.index(), if seconds.is_finite() { seconds.max(0.0) } else { 0.0 });
}

/// Whether the store is writing (resilient mode): set by its health.
pub fn set_store_unavailable(unavailable: bool) {
    STORE_UNAVAILABLE.set(0, i64::from(unavailable));
}

/// Events and other items the store dropped (over the backlog's limits).
pub fn store_dropped(n: u64) {
    STORE_DROPPED.add(0, n);
}

/// A REST API request that panicked or was refused for its rate.
pub fn api_trouble(what: ApiTrouble) {
    API_TROUBLE.add(what.index(), 1);
}

/// A report answered by the REST API, or built before anyone asked, and how.
pub fn api_report(how: ApiReport) {
    API_REPORTS.add(how.index(), 1);
}

/// Notes the process's start time (Unix seconds); `main` calls it first thing.
pub fn set_started(unix_seconds: f64) {
    STARTED.set(0, unix_seconds);
}

/// A queue's depth as its owner knows it (its length): each change becomes a
/// [`queue_depth_add`], and dropping the tracker takes its last depth away again.
#[derive(Debug)]
pub struct DepthTracker {
    queue: Queue,
    last: usize,
}

impl DepthTracker {
    /// A tracker of an empty queue.
    pub fn new(queue: Queue) -> DepthTracker {
        DepthTracker { queue, last: 0 }
    }

    /// The queue now holds `len` items.
    #[inline]
    pub fn set(&mut self, len: usize) {
        if len != self.last {
            queue_depth_add(self.queue, len as i64 - self.last as i64);
            self.last = len;
        }
    }
}

impl Drop for DepthTracker {
    fn drop(&mut self) {
        self.set(0);
    }
}

/// Every metric in the text exposition format 0.0.4 (what `GET /metrics` answers).
pub fn render() -> String {
    let mut e = Exposition::new();
    e.family("sipscope_build_info", "The running sipscope's version (always 1).", Kind::Gauge);
    e.int("sipscope_build_info", &[("version", env!("CARGO_PKG_VERSION"))], 1);
    e.family("sipscope_start_time_seconds", "When this process started, Unix seconds.", Kind::Gauge);
    e.float("sipscope_start_time_seconds", &[], STARTED.get(0));

    e.family(
        "sipscope_messages_in_total",
        "SIP messages received (and bytes claiming to be one), by the command that took them in and transport.",
        Kind::Counter,
    );
    for s in Source::ALL {
        for t in Transport::ALL {
            let v = MESSAGES_IN.get(s.index() * Transport::COUNT + t.index());
            e.int("sipscope_messages_in_total", &[("source", s.as_str()), ("transport", t.as_str())], v);
        }
    }
    e.family(
        "sipscope_records_in_total",
        "Records taken in (authentication attempts, bindings, recovered passwords).",
        Kind::Counter,
    );
    for s in Source::ALL {
        for k in RecordKind::ALL {
            let v = RECORDS_IN.get(s.index() * RecordKind::COUNT + k.index());
            e.int("sipscope_records_in_total", &[("source", s.as_str()), ("kind", k.as_str())], v);
        }
    }
    per_label(
        &mut e,
        "sipscope_events_out_total",
        "Events a sink made durable or sent: committed (sqlite, postgres), written (jsonl), sent (hep), acknowledged (nats).",
        "sink",
        Sink::ALL.iter().map(|s| (s.as_str(), EVENTS_OUT.get(s.index()))),
    );
    per_label(
        &mut e,
        "sipscope_sink_errors_total",
        "Writes an extra sink (JSON Lines, HEP out, NATS) refused; the store was written all the same.",
        "sink",
        Sink::ALL.iter().map(|s| (s.as_str(), SINK_ERRORS.get(s.index()))),
    );
    e.family(
        "sipscope_answers_sent_total",
        "Answers the honeypot sent, by status code (only codes sent so far appear).",
        Kind::Counter,
    );
    for i in 0..CODES {
        let v = ANSWERS.get(i);
        if v > 0 {
            let code = if i == CODES - 1 { "other".to_owned() } else { (i + 100).to_string() };
            e.int("sipscope_answers_sent_total", &[("code", &code)], v);
        }
    }
    per_label(
        &mut e,
        "sipscope_requests_unanswered_total",
        "Requests the honeypot recorded but did not answer: rate limits, size limit, bans in force.",
        "reason",
        Unanswered::ALL.iter().map(|r| (r.as_str(), UNANSWERED.get(r.index()))),
    );
    per_label(
        &mut e,
        "sipscope_answers_withheld_total",
        "Answers the honeypot had but withheld: amplification and stream budgets, size limit, retransmissions.",
        "reason",
        Withheld::ALL.iter().map(|r| (r.as_str(), WITHHELD.get(r.index()))),
    );
    e.family(
        "sipscope_parse_errors_total",
        "Received bytes that did not parse as a SIP message, kept as invalid events or dropped.",
        Kind::Counter,
    );
    for s in Source::ALL {
        for u in Unparsed::ALL {
            let v = PARSE_ERRORS.get(s.index() * Unparsed::COUNT + u.index());
            e.int("sipscope_parse_errors_total", &[("source", s.as_str()), ("outcome", u.as_str())], v);
        }
    }
    per_label(
        &mut e,
        "sipscope_anomalies_total",
        "Anomalies of received messages that were stored, by class (docs/anomalies.md).",
        "class",
        AnomalyClass::ALL.iter().map(|c| (c.as_str(), ANOMALIES.get(c.index()))),
    );
    per_label(
        &mut e,
        "sipscope_alerts_raised_total",
        "Alerts the rules raised, by severity.",
        "severity",
        Severity::ALL.iter().map(|s| (s.as_str(), ALERTS.get(s.index()))),
    );
    e.family(
        "sipscope_alert_output_errors_total",
        "Writes an alert output (EVE, syslog, webhook) failed.",
        Kind::Counter,
    );
    e.int("sipscope_alert_output_errors_total", &[], ALERT_OUTPUT_ERRORS.get(0));
    per_label(
        &mut e,
        "sipscope_decisions_total",
        "Decisions the policy took, by action.",
        "action",
        Action::ALL.iter().map(|a| (a.as_str(), DECISIONS.get(a.index()))),
    );
    per_label(
        &mut e,
        "sipscope_hep_packets_total",
        "HEP packets the collector received, by what became of them (streams closed count once each).",
        "outcome",
        HepOutcome::ALL.iter().map(|o| (o.as_str(), HEP.get(o.index()))),
    );
    e.family("sipscope_queue_depth", "Items waiting in a queue between two threads.", Kind::Gauge);
    for q in Queue::ALL {
        e.int("sipscope_queue_depth", &[("queue", q.as_str())], QUEUES.get(q.index()));
    }
    e.family(
        "sipscope_store_unavailable",
        "1 while the store cannot write (its backlog holds what arrives).",
        Kind::Gauge,
    );
    e.int("sipscope_store_unavailable", &[], STORE_UNAVAILABLE.get(0));
    e.family("sipscope_store_dropped_total", "Items the store never wrote: over the backlog's limits.", Kind::Counter);
    e.int("sipscope_store_dropped_total", &[], STORE_DROPPED.get(0));
    e.family("sipscope_store_commit_seconds", "How long a store's batch commit took.", Kind::Histogram);
    for b in Backend::ALL {
        let Some(h) = COMMITS.get(b.index()) else { continue };
        let snap = h.snapshot();
        for (i, count) in snap.cumulative.iter().enumerate() {
            let le = LATENCY_BUCKETS.get(i).map_or("+Inf".to_owned(), |&le| exposition::format_float(le));
            e.int("sipscope_store_commit_seconds_bucket", &[("backend", b.as_str()), ("le", &le)], *count);
        }
        e.float("sipscope_store_commit_seconds_sum", &[("backend", b.as_str())], snap.sum_seconds);
        e.int("sipscope_store_commit_seconds_count", &[("backend", b.as_str())], snap.count());
    }
    e.family(
        "sipscope_publish_lag_seconds",
        "How far a publisher is behind: the age of the oldest event its server has not acknowledged.",
        Kind::Gauge,
    );
    let nats = Sink::Nats;
    e.float("sipscope_publish_lag_seconds", &[("sink", nats.as_str())], PUBLISH_LAG.get(nats.index()));
    per_label(
        &mut e,
        "sipscope_api_trouble_total",
        "REST API requests not served as asked: handlers that panicked (answered 500), rate limits (429).",
        "reason",
        ApiTrouble::ALL.iter().map(|t| (t.as_str(), API_TROUBLE.get(t.index()))),
    );
    per_label(
        &mut e,
        "sipscope_api_reports_total",
        "REST API reports by how they were answered: kept, waited (for a build under way), built (for the request), \
         restored (an earlier run's kept report, until rebuilt); prebuilt: whole reports built before anyone asked \
         (the overview, the dashboard's quick ranges).",
        "how",
        ApiReport::ALL.iter().map(|t| (t.as_str(), API_REPORTS.get(t.index()))),
    );
    e.finish()
}

/// A counter family with one label.
fn per_label<'a>(e: &mut Exposition, name: &str, help: &str, key: &str, values: impl Iterator<Item = (&'a str, u64)>) {
    e.family(name, help, Kind::Counter);
    for (v, n) in values {
        e.int(name, &[(key, v)], n);
    }
}

#[cfg(test)]
mod tests;
