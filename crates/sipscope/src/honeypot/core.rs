//! Where the network shell meets the PBX and the sinks: every message received goes through
//! [`Core::handle`], which applies the limits, asks the PBX, records the request and every
//! answer actually sent, and returns the answers. Shared by all listeners (UDP, TCP, TLS).

use super::config::HoneypotConfig;
use super::error::HoneypotError;
use super::human_log::{escape, HumanLog};
use super::intel::{Intel, IntelJob, Recovery};
use super::limits::{udp_overhead, Admission, Limiter};
use super::pbx::{compacted, AuthAttempt, Handled, Incoming, Pbx};
use crate::analysis::engine::{AnalysisConfig, Analyzer, Seen, Session};
use crate::event::fields::{lossless_text, SipFields};
use crate::event::{Direction, SipEvent, Transport};
use crate::nodes::Nodes;
use crate::sinks::sqlite::{AuthRow, BackgroundStore, RecordContext, RegistrationRow};
use crate::sinks::{EventSink, SinkError};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Mutex;

/// One message as a listener received it.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// Receive time (the shell reads the clock; nothing below it does).
    pub now_ns: i64,
    /// How it came.
    pub transport: Transport,
    /// The attacker's address.
    pub source: SocketAddr,
    /// The honeypot address it reached (learned per datagram on wildcard binds).
    pub local: SocketAddr,
    /// The message bytes.
    pub bytes: &'a [u8],
}

/// Counters printed at exit.
#[derive(Debug, Default)]
pub struct Stats {
    /// Messages received.
    pub received: AtomicU64,
    /// Answers sent.
    pub answers: AtomicU64,
    /// Requests dropped by the per-source rate.
    pub source_rate_limited: AtomicU64,
    /// Requests dropped by the global rate.
    pub global_rate_limited: AtomicU64,
    /// Answers not sent because they would have exceeded the amplification budget.
    pub amplification_suppressed: AtomicU64,
    /// Messages over the size limit.
    pub oversized: AtomicU64,
    /// Authentication attempts.
    pub auth_attempts: AtomicU64,
    /// Passwords recovered by intelligence.
    pub recovered: AtomicU64,
}

struct State {
    pbx: Pbx,
    limiter: Limiter,
}

struct Recorder {
    store: BackgroundStore,
    jsonl: Option<std::io::BufWriter<std::fs::File>>,
    human: HumanLog,
    intel: Option<Intel>,
    recoveries: Receiver<Recovery>,
    next_attempt_id: i64,
}

/// The shared honeypot core.
pub struct Core {
    sensor: String,
    nodes: Nodes,
    max_message: usize,
    state: Mutex<State>,
    recorder: Mutex<Recorder>,
    analysis: Mutex<Option<Session>>,
    /// Counters.
    pub stats: Stats,
}

/// The parts [`Core::new`] needs that come from outside the configuration.
pub struct CoreParts {
    /// Sensor name.
    pub sensor: String,
    /// Nodes file contents.
    pub nodes: Nodes,
    /// The PBX.
    pub pbx: Pbx,
    /// The store, on its writer thread.
    pub store: BackgroundStore,
    /// The human log.
    pub human: HumanLog,
}

impl Core {
    /// Builds the core; starts password intelligence when enabled.
    pub fn new(config: &HoneypotConfig, parts: CoreParts) -> Result<Core, HoneypotError> {
        let CoreParts { sensor, nodes, pbx, mut store, human } = parts;
        let jsonl = match &config.jsonl {
            Some(path) => Some(std::io::BufWriter::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| HoneypotError::File(path.clone(), e))?,
            )),
            None => None,
        };
        let (tx, recoveries): (Sender<Recovery>, Receiver<Recovery>) = std::sync::mpsc::channel();
        let intel = if config.intel.enabled {
            Some(Intel::spawn(&config.intel, move |r| {
                // The core may already be gone at shutdown; then there is nowhere to store it.
                let _ = tx.send(r);
            })?)
        } else {
            None
        };
        let next_attempt_id = store.call(|s| s.next_auth_attempt_id())?;
        let analysis = if config.analysis {
            let started = super::net::now_ns();
            let run = store.call(move |s| s.begin_analysis_run("honeypot", started, false))?;
            Some(Session { analyzer: Analyzer::new(AnalysisConfig::default()), run })
        } else {
            None
        };
        Ok(Core {
            sensor,
            nodes,
            max_message: config.limits.max_message_bytes,
            state: Mutex::new(State { pbx, limiter: Limiter::new(&config.limits) }),
            recorder: Mutex::new(Recorder { store, jsonl, human, intel, recoveries, next_attempt_id }),
            analysis: Mutex::new(analysis),
            stats: Stats::default(),
        })
    }

    /// Handles one message; returns the answers to send back to `packet.source`, in order.
    pub fn handle(&self, packet: Packet<'_>) -> Vec<Vec<u8>> {
        self.stats.received.fetch_add(1, Ordering::Relaxed);
        let udp = packet.transport == Transport::Udp;
        let wire = |len: usize| len as u64 + if udp { udp_overhead(packet.source.ip()) } else { 0 };
        let mut request_fields = None;
        let (handled, replies, answer_fields) = {
            let Ok(mut state) = self.state.lock() else { return Vec::new() };
            let admission = state.limiter.admit(packet.source.ip(), wire(packet.bytes.len()), packet.now_ns);
            let refused = match admission {
                Admission::Allowed if packet.bytes.len() > self.max_message => {
                    Some(("oversized", &self.stats.oversized))
                }
                Admission::Allowed => None,
                Admission::SourceRate => Some(("source-rate-limited", &self.stats.source_rate_limited)),
                Admission::GlobalRate => Some(("global-rate-limited", &self.stats.global_rate_limited)),
            };
            if let Some((note, counter)) = refused {
                counter.fetch_add(1, Ordering::Relaxed);
                drop(state);
                // Not answered, but an attack all the same: recorded and analysed.
                let framing = if udp { sipscope_sip::Transport::Datagram } else { sipscope_sip::Transport::Stream };
                let parsed = sipscope_sip::Message::parse_with(packet.bytes, framing, sipscope_sip::Limits::default());
                self.analyse(packet, parsed.as_ref().ok(), &[]);
                self.record(packet, Handled { note, ..Handled::default() }, &[], None, Vec::new());
                return Vec::new();
            }
            let framing = if udp { sipscope_sip::Transport::Datagram } else { sipscope_sip::Transport::Stream };
            let incoming =
                Incoming { now_ns: packet.now_ns, transport: framing, source: packet.source, bytes: packet.bytes };
            // One parse serves the PBX and the store.
            let parsed = (!is_blank(packet.bytes))
                .then(|| sipscope_sip::Message::parse_with(packet.bytes, framing, sipscope_sip::Limits::default()));
            let mut handled = match &parsed {
                Some(Ok(msg)) => {
                    request_fields = Some(SipFields::extract(msg));
                    state.pbx.handle_parsed(msg, incoming)
                }
                _ => state.pbx.handle(incoming),
            };
            let mut sent = Vec::with_capacity(handled.replies.len());
            for reply in std::mem::take(&mut handled.replies) {
                // UDP answers go to a source address anyone can spoof: the byte budget keeps
                // them from amplifying; an answer that does not fit is sent in a smaller form,
                // or not at all. TCP and TLS completed a handshake, so the source is real.
                if !udp {
                    sent.push(reply);
                    continue;
                }
                let (ip, now) = (packet.source.ip(), packet.now_ns);
                let fitting = if state.limiter.may_send(ip, wire(reply.len()), now) {
                    Some(reply)
                } else {
                    compacted(&reply).into_iter().find(|form| state.limiter.may_send(ip, wire(form.len()), now))
                };
                match fitting {
                    Some(form) => sent.push(form),
                    None => {
                        self.stats.amplification_suppressed.fetch_add(1, Ordering::Relaxed);
                        handled.note = "amplification-limit";
                    }
                }
            }
            drop(state);
            let answer_fields = self.analyse(packet, parsed.as_ref().and_then(|p| p.as_ref().ok()), &sent);
            (handled, sent, answer_fields)
        };
        self.stats.answers.fetch_add(replies.len() as u64, Ordering::Relaxed);
        self.record(packet, handled, &replies, request_fields, answer_fields);
        replies
    }

    /// Parses each answer sent once: feeds the request and the answers to the analysis engine
    /// (when on) and returns the answers' fields for the store.
    fn analyse(
        &self,
        packet: Packet<'_>,
        request: Option<&sipscope_sip::Message<'_>>,
        replies: &[Vec<u8>],
    ) -> Vec<SipFields> {
        let answers: Vec<Result<sipscope_sip::Message<'_>, sipscope_sip::ParseError>> =
            replies.iter().map(|r| sipscope_sip::parse(r)).collect();
        if let Ok(mut guard) = self.analysis.lock() {
            if let Some(session) = guard.as_mut() {
                let node = self.nodes.find(None, packet.local.ip()).map(|n| n.name.as_str());
                let (remote, local) =
                    ((packet.source.ip(), packet.source.port()), (packet.local.ip(), packet.local.port()));
                let seen = |direction, src, dst, bytes| Seen { ts_ns: packet.now_ns, src, dst, node, direction, bytes };
                session.analyzer.observe_seen(&seen(Direction::In, remote, local, packet.bytes.len()), request);
                for (reply, msg) in replies.iter().zip(&answers) {
                    session.analyzer.observe_seen(&seen(Direction::Out, local, remote, reply.len()), msg.as_ref().ok());
                }
            }
        }
        // Our own answers are well-formed: no anomaly check.
        answers
            .iter()
            .map(|m| match m {
                Ok(msg) => SipFields::extract_without_anomalies(msg),
                Err(e) => SipFields { kind: "invalid", reason: Some(e.to_string()), ..SipFields::default() },
            })
            .collect()
    }

    /// Stores the request, the answers, the attempt and bindings; logs the human line.
    fn record(
        &self,
        packet: Packet<'_>,
        handled: Handled,
        replies: &[Vec<u8>],
        fields: Option<SipFields>,
        answer_fields: Vec<SipFields>,
    ) {
        let node = self.nodes.find(None, packet.local.ip()).map(|n| n.name.clone());
        let request_fields = fields.unwrap_or_else(|| fields_of(packet.bytes, packet.transport));
        let Ok(mut rec) = self.recorder.lock() else { return };
        let rec = &mut *rec;
        let event = |direction, src, dst, raw: &[u8]| SipEvent {
            ts_ns: packet.now_ns,
            sensor: self.sensor.clone(),
            node: node.clone(),
            transport: packet.transport,
            src,
            dst,
            tunnel: None,
            direction,
            origin: None,
            raw: raw.to_vec(),
        };
        let (remote, local) = ((packet.source.ip(), packet.source.port()), (packet.local.ip(), packet.local.port()));
        rec.write(event(Direction::In, remote, local, packet.bytes), request_fields.clone());
        for (reply, fields) in replies.iter().zip(answer_fields) {
            rec.write(event(Direction::Out, local, remote, reply), fields);
        }
        let ctx = RecordContext {
            ts_ns: packet.now_ns,
            sensor: self.sensor.clone(),
            node,
            transport: packet.transport.as_str(),
            src: packet.source,
            dst: packet.local,
            call_id: request_fields.call_id.clone(),
            user_agent: request_fields.user_agent.clone(),
        };
        if let Some(attempt) = handled.auth {
            self.stats.auth_attempts.fetch_add(1, Ordering::Relaxed);
            rec.attempt(ctx.clone(), attempt);
        }
        for b in handled.bindings {
            let row = RegistrationRow { ctx: ctx.clone(), username: b.user, contact: b.contact, expires: b.expires };
            rec.run(move |s| s.insert_registration(&row));
        }
        rec.drain_recoveries(&self.stats);
        if rec.human.enabled() {
            let line = human_line(&packet, &request_fields, handled.note, replies);
            rec.human.line(packet.now_ns, &line);
        }
    }

    /// Finishes password recovery and the analysis, stores what they found and makes every
    /// event durable.
    pub fn finish(&self) -> Result<(), SinkError> {
        let session = self.analysis.lock().ok().and_then(|mut a| a.take());
        let mut rec = self.recorder.lock().map_err(|_| SinkError::Writer("recorder poisoned".into()))?;
        if let Some(Session { analyzer, run }) = session {
            let result = analyzer.finish();
            let now = super::net::now_ns();
            rec.store.call(move |s| s.finish_analysis_run(run, now, &result))?;
        }
        if let Some(intel) = rec.intel.take() {
            intel.finish();
        }
        rec.drain_recoveries(&self.stats);
        if let Some(j) = rec.jsonl.as_mut() {
            j.flush().map_err(|e| SinkError::Writer(format!("JSON Lines output: {e}")))?;
        }
        rec.store.flush()
    }

    /// Makes everything durable without stopping (periodic commits); closed flows go to the
    /// store as well, so the engine's memory stays bounded.
    pub fn flush(&self) -> Result<(), SinkError> {
        let rows = self.analysis.lock().ok().and_then(|mut a| a.as_mut().map(|s| (s.run, s.analyzer.hand_over())));
        let mut rec = self.recorder.lock().map_err(|_| SinkError::Writer("recorder poisoned".into()))?;
        if let Some((run, rows)) = rows.filter(|(_, r)| !r.is_empty()) {
            rec.store.store_handover(run, rows)?;
        }
        rec.drain_recoveries(&self.stats);
        if let Some(j) = rec.jsonl.as_mut() {
            let _ = j.flush();
        }
        rec.store.flush()
    }

    /// Jobs password intelligence had to skip (queue full).
    pub fn intel_dropped(&self) -> u64 {
        self.recorder.lock().ok().and_then(|r| r.intel.as_ref().map(Intel::dropped)).unwrap_or(0)
    }
}

impl Recorder {
    fn write(&mut self, event: SipEvent, fields: SipFields) {
        if let Some(j) = self.jsonl.as_mut() {
            // A full disk for the optional copy must not stop the store.
            if serde_json::to_writer(&mut *j, &event).is_ok() {
                let _ = j.write_all(b"\n");
            }
        }
        if let Err(e) = self.store.write_owned(event, fields) {
            tracing::error!("storing an event failed: {e}");
        }
    }

    fn run(&mut self, f: impl FnOnce(&mut crate::sinks::sqlite::Store) -> Result<(), SinkError> + Send + 'static) {
        if let Err(e) = self.store.run_later(f) {
            tracing::error!("storing a honeypot record failed: {e}");
        }
    }

    fn attempt(&mut self, ctx: RecordContext, attempt: AuthAttempt) {
        let id = self.next_attempt_id;
        self.next_attempt_id += 1;
        let AuthAttempt { method, username, realm, uri, nonce, outcome, password, prepared } = attempt;
        if let (Some(intel), Some(prepared)) = (&self.intel, prepared) {
            let job = IntelJob {
                attempt_id: id,
                username: username.clone(),
                realm: realm.clone().unwrap_or_default(),
                prepared,
            };
            intel.submit(job);
        }
        let row = AuthRow { id, ctx, method, username, realm, uri, nonce, outcome: outcome.as_str(), password };
        self.run(move |s| s.insert_auth_attempt(&row));
    }

    fn drain_recoveries(&mut self, stats: &Stats) {
        while let Ok(r) = self.recoveries.try_recv() {
            if r.password.is_some() {
                stats.recovered.fetch_add(1, Ordering::Relaxed);
            }
            self.run(move |s| s.set_recovered_password(r.attempt_id, r.password.as_deref(), r.source, r.tried));
        }
    }
}

/// Fields of a message for the store; bytes that do not parse are still stored, as `invalid`
/// (or `keepalive` for empty and whitespace-only datagrams).
fn fields_of(bytes: &[u8], transport: Transport) -> SipFields {
    let framing =
        if transport == Transport::Udp { sipscope_sip::Transport::Datagram } else { sipscope_sip::Transport::Stream };
    if is_blank(bytes) {
        return SipFields { kind: "keepalive", ..SipFields::default() };
    }
    match sipscope_sip::Message::parse_with(bytes, framing, sipscope_sip::Limits::default()) {
        Ok(msg) => SipFields::extract(&msg),
        Err(e) => SipFields { kind: "invalid", reason: Some(e.to_string()), ..SipFields::default() },
    }
}

/// Empty datagrams (nmap's probes) and CRLF keep-alives.
fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_whitespace)
}

/// `2026-11-30T05:51:46Z 192.0.2.1:5061 > 198.51.100.1:5060 udp REGISTER from=100 to=100
/// ua="friendly-scanner" => 401 Unauthorized`
fn human_line(packet: &Packet<'_>, f: &SipFields, note: &str, replies: &[Vec<u8>]) -> String {
    let opt = |v: &Option<String>| escape(v.as_deref().unwrap_or("-"), 64);
    let what = match f.kind {
        "request" => escape(f.method.as_deref().unwrap_or("?"), 32),
        "response" => format!("response {}", f.status.unwrap_or(0)),
        other => other.to_owned(),
    };
    let answers: Vec<String> = replies
        .iter()
        .map(|r| {
            let line = r.split(|&b| b == b'\r').next().unwrap_or_default();
            escape(&lossless_text(line.strip_prefix(b"SIP/2.0 ").unwrap_or(line)), 64)
        })
        .collect();
    let answer = if answers.is_empty() {
        format!("no answer{}", if note.is_empty() { String::new() } else { format!(" ({note})") })
    } else {
        answers.join(", ")
    };
    format!(
        "{} {} > {} {} {} from={} to={} ua=\"{}\" => {}",
        super::pbx::iso_time(packet.now_ns),
        packet.source,
        packet.local,
        packet.transport.as_str(),
        what,
        opt(&f.from.0),
        opt(&f.to.0),
        opt(&f.user_agent),
        answer
    )
}
