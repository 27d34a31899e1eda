//! Where the network shell meets the PBX and the sinks: every message received goes through
//! [`Core::handle`], which applies the limits, asks the PBX, records the request and every
//! answer actually sent, and returns the answers. Shared by all listeners (UDP, TCP, TLS).
//! A source under a ban in force is still recorded, but neither answered nor worked for.

use super::config::HoneypotConfig;
use super::error::HoneypotError;
use super::human_log::HumanLog;
use super::intel::{Intel, IntelJob, RecoveredPassword, Skipped};
use super::limits::{udp_overhead, Admission, Limiter};
use super::net::notes;
use super::pbx::{compacted, AuthAttempt, Handled, Incoming, Pbx, Route};
use crate::act::InForce;
use crate::event::fields::{is_blank, lossless_text};
use crate::event::record::{AuthAttemptRecord, Record, RecordContext, RegistrationRecord};
use crate::event::{Direction, Transport};
use crate::metrics;
use crate::nodes::Nodes;
use crate::output::escape;
use crate::pipeline::{Arrival, NodeOf, Note, Pipeline};
use crate::sinks::SinkError;
use sipscope_sip::Message;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Mutex;

mod later;
pub use later::Outgoing;

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
    /// The listener socket or connection it came through ([`Core::new_channel`]): answers
    /// due later leave the same way ([`Core::due`]).
    pub channel: u64,
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
    /// Final answers to INVITE sent again over UDP while their ACK did not come (timer G).
    pub retransmissions: AtomicU64,
    /// Retransmissions withheld because they would have exceeded the amplification budget.
    pub retransmissions_withheld: AtomicU64,
    /// Messages over the size limit.
    pub oversized: AtomicU64,
    /// Messages from sources under a ban in force (recorded, not answered).
    pub banned: AtomicU64,
    /// Authentication attempts.
    pub auth_attempts: AtomicU64,
    /// Passwords recovered by intelligence.
    pub recovered: AtomicU64,
    /// What the network shell and the stream and answer limits did.
    pub net: super::net::NetStats,
}

struct State {
    pbx: Pbx,
    limiter: Limiter,
}

/// Everything that records: the pipeline (events, records, analysis → store and sinks), the
/// human log and password recovery. One lock, so a request and its answers stay together.
struct Recorder {
    /// Taken by [`Core::finish`].
    pipeline: Option<Pipeline>,
    human: HumanLog,
    intel: Option<Intel>,
    /// What intel skipped, once [`Core::finish`] stopped it.
    intel_skipped: Skipped,
    recoveries: Receiver<RecoveredPassword>,
    next_attempt_id: i64,
}

/// The shared honeypot core.
pub struct Core {
    sensor: String,
    nodes: Nodes,
    max_message: usize,
    max_answer: usize,
    state: Mutex<State>,
    recorder: Mutex<Recorder>,
    in_force: InForce,
    /// The last channel number given out.
    channels: AtomicU64,
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
    /// The pipeline every message goes through (its store on a writer thread, JSON Lines when
    /// configured, the analysis when on).
    pub pipeline: Pipeline,
    /// The human log.
    pub human: HumanLog,
    /// The bans in force (the responder that takes decisions updates them).
    pub in_force: InForce,
}

impl Core {
    /// Builds the core; starts password intelligence when enabled.
    pub fn new(config: &HoneypotConfig, parts: CoreParts) -> Result<Core, HoneypotError> {
        let CoreParts { sensor, nodes, pbx, mut pipeline, human, in_force } = parts;
        let (tx, recoveries): (Sender<RecoveredPassword>, Receiver<RecoveredPassword>) = std::sync::mpsc::channel();
        let intel = if config.intel.enabled {
            Some(Intel::spawn(&config.intel, move |r| {
                // The core may already be gone at shutdown; then there is nowhere to store it.
                let _ = tx.send(r);
            })?)
        } else {
            None
        };
        let next_attempt_id = pipeline.next_auth_attempt_id()?;
        pipeline.begin_analysis(crate::time::now_ns())?;
        Ok(Core {
            sensor,
            nodes,
            max_message: config.limits.max_message_bytes,
            max_answer: config.limits.max_answer_bytes,
            state: Mutex::new(State { pbx, limiter: Limiter::new(&config.limits) }),
            in_force,
            recorder: Mutex::new(Recorder {
                pipeline: Some(pipeline),
                human,
                intel,
                intel_skipped: Skipped::default(),
                recoveries,
                next_attempt_id,
            }),
            channels: AtomicU64::new(0),
            stats: Stats::default(),
        })
    }

    /// Handles one message; returns the answers to send back to `packet.source`, in order.
    pub fn handle(&self, packet: Packet<'_>) -> Vec<Vec<u8>> {
        self.handle_noted(packet, &[])
    }

    /// [`handle`](Self::handle), with sensor-side anomaly names the listener adds to the
    /// message's event (`ws_over_tls`).
    pub fn handle_noted(&self, packet: Packet<'_>, extra: &[&'static str]) -> Vec<Vec<u8>> {
        let extra_note = Note { anomalies: extra, ..Note::default() };
        self.stats.received.fetch_add(1, Ordering::Relaxed);
        let udp = packet.transport == Transport::Udp;
        let wire = |len: usize| len as u64 + if udp { udp_overhead(packet.source.ip()) } else { 0 };
        let framing = packet.transport.framing();
        // One parse serves the PBX, the pipeline and the records; done before taking the lock.
        let parsed = (!is_blank(packet.bytes))
            .then(|| Message::parse_with(packet.bytes, framing, sipscope_sip::ParseLimits::default()));
        let msg = parsed.as_ref().and_then(|p| p.as_ref().ok());
        // Bans the rules decided on what was handed over before this message take effect now.
        self.poll_alerts();
        if self.in_force.banned(packet.source.ip(), packet.source.port(), packet.now_ns) {
            // Recorded and analysed like any message (the rules keep seeing the attack), but
            // not answered, and the PBX does no work for it: no challenge, no password recovery.
            self.stats.banned.fetch_add(1, Ordering::Relaxed);
            metrics::unanswered(metrics::Unanswered::Banned);
            let names: Vec<&'static str> = std::iter::once(notes::BANNED_SOURCE).chain(extra.iter().copied()).collect();
            let note = Note { anomalies: &names, ..Note::default() };
            self.record(packet, msg, Handled { note: "banned-source", ..Handled::default() }, &[], note);
            return Vec::new();
        }
        let (handled, replies) = {
            let Ok(mut state) = self.state.lock() else { return Vec::new() };
            let admission = state.limiter.admit(packet.source.ip(), wire(packet.bytes.len()), packet.now_ns);
            let refused = match admission {
                Admission::Allowed if packet.bytes.len() > self.max_message => {
                    Some(("oversized", &self.stats.oversized, metrics::Unanswered::Oversized))
                }
                Admission::Allowed => None,
                Admission::SourceRate => {
                    Some(("source-rate-limited", &self.stats.source_rate_limited, metrics::Unanswered::SourceRate))
                }
                Admission::GlobalRate => {
                    Some(("global-rate-limited", &self.stats.global_rate_limited, metrics::Unanswered::GlobalRate))
                }
            };
            if let Some((note, counter, why)) = refused {
                counter.fetch_add(1, Ordering::Relaxed);
                metrics::unanswered(why);
                drop(state);
                // Not answered, but an attack all the same: recorded and analysed.
                self.record(packet, msg, Handled { note, ..Handled::default() }, &[], extra_note);
                return Vec::new();
            }
            let route = Route { channel: packet.channel, transport: packet.transport, local: packet.local };
            let incoming =
                Incoming { now_ns: packet.now_ns, framing, source: packet.source, bytes: packet.bytes, route };
            let mut handled = match msg {
                Some(msg) => state.pbx.handle_parsed(msg, incoming),
                None => state.pbx.handle(incoming),
            };
            let mut sent = Vec::with_capacity(handled.replies.len());
            let mut last_sent = false;
            for reply in std::mem::take(&mut handled.replies) {
                let fitted = self.fit(&mut state.limiter, packet.transport, packet.source.ip(), packet.now_ns, reply);
                last_sent = fitted.is_ok();
                match fitted {
                    Ok(form) => sent.push(form),
                    Err(note) => handled.note = note,
                }
            }
            // The final answer to an INVITE is retransmitted as it was sent.
            if let Some(key) = handled.final_of {
                state.pbx.final_sent(&key, last_sent.then(|| sent.last().map(Vec::as_slice)).flatten(), packet.now_ns);
            }
            (handled, sent)
        };
        self.stats.answers.fetch_add(replies.len() as u64, Ordering::Relaxed);
        self.record(packet, msg, handled, &replies, extra_note);
        replies
    }

    /// The form of `answer` that fits the budgets of `ip` now, counted as sent: the answer
    /// itself, or a smaller form of it, or why none fits (counted). UDP answers go to a source
    /// address anyone can spoof: the byte budget keeps them from amplifying. TCP and TLS
    /// completed a handshake, so the source is real, but one request must not buy megabytes
    /// either: a budget of their own. No answer is larger than `max_answer_bytes`.
    fn fit(
        &self,
        limiter: &mut Limiter,
        transport: Transport,
        ip: std::net::IpAddr,
        now: i64,
        answer: Vec<u8>,
    ) -> Result<Vec<u8>, &'static str> {
        let udp = transport == Transport::Udp;
        let max = self.max_answer;
        let mut fits = |form: &[u8]| {
            form.len() <= max
                && if udp {
                    limiter.may_send(ip, form.len() as u64 + udp_overhead(ip), now)
                } else {
                    limiter.may_send_stream(ip, form.len() as u64, now)
                }
        };
        let too_large = answer.len() > max;
        if fits(&answer) {
            return Ok(answer);
        }
        if let Some(form) = compacted(&answer).into_iter().find(|f| fits(f)) {
            return Ok(form);
        }
        let (counter, note, why) = if too_large {
            (&self.stats.net.answers_over_size, "answer-size-limit", metrics::Withheld::AnswerSize)
        } else if udp {
            (&self.stats.amplification_suppressed, "amplification-limit", metrics::Withheld::Amplification)
        } else {
            (&self.stats.net.stream_answers_withheld, "stream-answer-budget", metrics::Withheld::StreamBudget)
        };
        counter.fetch_add(1, Ordering::Relaxed);
        metrics::withheld(why);
        Err(note)
    }

    /// Records what a listener received without asking the PBX (a refused connection, bytes
    /// that failed a TLS handshake, a stream message cut off by a limit, a keep-alive), with
    /// what the listener knows about it and the `answers` it sent itself (a keep-alive pong).
    /// Its bytes count towards the source's budgets; nothing is answered here.
    pub fn record_only(&self, packet: Packet<'_>, note: Note<'_>, answers: &[Vec<u8>]) {
        self.stats.received.fetch_add(1, Ordering::Relaxed);
        self.stats.answers.fetch_add(answers.len() as u64, Ordering::Relaxed);
        let framing = packet.transport.framing();
        let parsed = (!is_blank(packet.bytes))
            .then(|| Message::parse_with(packet.bytes, framing, sipscope_sip::ParseLimits::default()));
        let msg = parsed.as_ref().and_then(|p| p.as_ref().ok());
        if !packet.bytes.is_empty() {
            if let Ok(mut state) = self.state.lock() {
                let received = packet.bytes.len() as u64;
                let _ = state.limiter.admit(packet.source.ip(), received, packet.now_ns);
            }
        }
        let label = note.anomalies.first().map_or("", |n| *n);
        self.record(packet, msg, Handled { note: label, ..Handled::default() }, answers, note);
    }

    /// Hands the request and every answer sent to the pipeline (events and analysis), then the
    /// attempt and bindings (records); logs the human line.
    fn record(
        &self,
        packet: Packet<'_>,
        msg: Option<&Message<'_>>,
        handled: Handled,
        replies: &[Vec<u8>],
        note: Note<'_>,
    ) {
        let Ok(mut rec) = self.recorder.lock() else { return };
        let rec = &mut *rec;
        let (remote, local) = ((packet.source.ip(), packet.source.port()), (packet.local.ip(), packet.local.port()));
        let arrival = |direction, src, dst, bytes| Arrival {
            ts_ns: packet.now_ns,
            transport: packet.transport,
            src,
            dst,
            tunnel: None,
            direction,
            packet: None,
            node: NodeOf::Lookup,
            sensor: None,
            bytes,
        };
        if let Some(pipeline) = rec.pipeline.as_mut() {
            pipeline.accept_noted(arrival(Direction::In, remote, local, packet.bytes), msg, note);
            for reply in replies {
                pipeline.accept(arrival(Direction::Out, local, remote, reply));
            }
        }
        if handled.auth.is_some() || !handled.bindings.is_empty() {
            let ctx = RecordContext {
                ts_ns: packet.now_ns,
                sensor: self.sensor.clone(),
                node: self.nodes.find(None, packet.local.ip()).map(|n| n.name.clone()),
                transport: packet.transport,
                src: packet.source,
                dst: packet.local,
                call_id: msg.and_then(Message::call_id).map(lossless_text),
                user_agent: msg.and_then(agent).map(lossless_text),
            };
            if let Some(attempt) = handled.auth {
                self.stats.auth_attempts.fetch_add(1, Ordering::Relaxed);
                rec.attempt(ctx.clone(), attempt);
            }
            for b in handled.bindings {
                let row =
                    RegistrationRecord { ctx: ctx.clone(), username: b.user, contact: b.contact, expires: b.expires };
                rec.record(Record::Registration(row));
            }
        }
        rec.drain_recoveries(&self.stats);
        if rec.human.enabled() {
            let line = human_line(&packet, msg, handled.note, replies);
            rec.human.line(packet.now_ns, &line);
        }
        // A stream message is a read of its own: its rules run now (UDP flushes per batch).
        if packet.transport != Transport::Udp {
            if let Some(pipeline) = rec.pipeline.as_mut() {
                pipeline.flush();
            }
        }
    }

    /// What the rules raised so far is passed on (stored, to the decision policy, which bans
    /// through [`InForce`]), without waiting for them.
    fn poll_alerts(&self) {
        if let Ok(mut rec) = self.recorder.lock() {
            if let Some(pipeline) = rec.pipeline.as_mut() {
                pipeline.poll_alerts();
            }
        }
    }

    /// Hands what the listeners gave the pipeline to the rules' thread now: a listener calls it
    /// when it has handled what one read brought (the UDP listener after each batch of
    /// datagrams; stream messages are flushed as they are recorded).
    pub fn flush(&self) {
        if let Ok(mut rec) = self.recorder.lock() {
            if let Some(pipeline) = rec.pipeline.as_mut() {
                pipeline.flush();
            }
        }
    }

    /// Finishes password recovery and the analysis, stores what they found and makes every
    /// event durable.
    pub fn finish(&self) -> Result<(), SinkError> {
        let mut rec = self.recorder.lock().map_err(|_| SinkError::Writer("recorder poisoned".into()))?;
        if let Some(intel) = rec.intel.take() {
            rec.intel_skipped = intel.finish();
        }
        rec.drain_recoveries(&self.stats);
        match rec.pipeline.take() {
            Some(pipeline) => pipeline.finish(crate::time::now_ns()).map(|_| ()),
            None => Ok(()),
        }
    }

    /// Periodic work (called often; the pipeline paces itself to its tick interval): finished
    /// analysis rows go to the store and everything is made durable, so readers see events and
    /// the engine's memory stays bounded.
    pub fn tick(&self, now_ns: i64) -> Result<(), SinkError> {
        let mut rec = self.recorder.lock().map_err(|_| SinkError::Writer("recorder poisoned".into()))?;
        rec.drain_recoveries(&self.stats);
        match rec.pipeline.as_mut() {
            Some(pipeline) => pipeline.tick(now_ns),
            None => Ok(()),
        }
    }

    /// The bans in force this core consults (a handle on the same set).
    pub fn in_force(&self) -> InForce {
        self.in_force.clone()
    }

    /// Attempts password intelligence skipped (queue full, a source over its share, repeats,
    /// stopping), in all.
    pub fn intel_dropped(&self) -> u64 {
        self.intel_skipped().total()
    }

    /// Attempts password intelligence skipped, by reason (final once [`Core::finish`] ran).
    pub fn intel_skipped(&self) -> Skipped {
        let Ok(rec) = self.recorder.lock() else { return Skipped::default() };
        rec.intel.as_ref().map_or(rec.intel_skipped, Intel::skipped)
    }
}

impl Recorder {
    fn record(&mut self, record: Record) {
        if let Some(pipeline) = self.pipeline.as_mut() {
            pipeline.record(record);
        }
    }

    fn attempt(&mut self, ctx: RecordContext, attempt: AuthAttempt) {
        let id = self.next_attempt_id;
        self.next_attempt_id += 1;
        let AuthAttempt { method, username, realm, uri, nonce, outcome, password, recoverable } = attempt;
        if let (Some(intel), Some(r)) = (&self.intel, recoverable) {
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
        self.record(Record::AuthAttempt(row));
    }

    fn drain_recoveries(&mut self, stats: &Stats) {
        while let Ok(r) = self.recoveries.try_recv() {
            if r.password.is_some() {
                stats.recovered.fetch_add(1, Ordering::Relaxed);
            }
            self.record(Record::Recovered(r));
        }
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

/// `2026-11-30T05:51:46Z 192.0.2.1:5061 > 198.51.100.1:5060 udp REGISTER from=100 to=100
/// ua="friendly-scanner" => 401 Unauthorized`
fn human_line(packet: &Packet<'_>, msg: Option<&Message<'_>>, note: &str, replies: &[Vec<u8>]) -> String {
    let opt = |v: Option<&[u8]>| escape::terminal(&v.map_or_else(|| "-".to_owned(), lossless_text), 64);
    let what = match msg {
        Some(m) => match m.method() {
            Some(method) => escape::terminal(&lossless_text(method), 32),
            None => format!("response {}", m.status().unwrap_or(0)),
        },
        None if is_blank(packet.bytes) => "keepalive".to_owned(),
        None => "invalid".to_owned(),
    };
    let answers: Vec<String> = replies
        .iter()
        .map(|r| {
            let line = r.split(|&b| b == b'\r').next().unwrap_or_default();
            escape::terminal(&lossless_text(line.strip_prefix(b"SIP/2.0 ").unwrap_or(line)), 64)
        })
        .collect();
    let answer = if answers.is_empty() {
        format!("no answer{}", if note.is_empty() { String::new() } else { format!(" ({note})") })
    } else {
        answers.join(", ")
    };
    format!(
        "{} {} > {} {} {} from={} to={} ua=\"{}\" => {}",
        crate::time::iso_time(packet.now_ns),
        packet.source,
        packet.local,
        packet.transport.as_str(),
        what,
        opt(msg.and_then(|m| m.from()).and_then(|f| f.user())),
        opt(msg.and_then(|m| m.to()).and_then(|t| t.user())),
        opt(msg.and_then(agent)),
        answer
    )
}
