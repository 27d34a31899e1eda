//! Where the network shell meets the PBX and the sinks: every message received goes through
//! [`Core::handle`], which applies the limits, asks the PBX, hands the request and every
//! answer actually sent to the recorder thread (`recorder`: it never makes an answer wait),
//! and returns the answers. Shared by all listeners (UDP, TCP, TLS, WebSocket). A source under
//! a ban in force is still recorded, but neither answered nor worked for.

use super::config::HoneypotConfig;
use super::error::HoneypotError;
use super::human_log::HumanLog;
use super::intel::{Intel, RecoveredPassword, Skipped};
use super::limits::{udp_overhead, Admission, Limiter};
use super::net::notes;
use super::pbx::{compacted, Handled, Incoming, Pbx, Route};
use crate::act::InForce;
use crate::event::fields::is_blank;
use crate::event::Transport;
use crate::metrics;
use crate::nodes::Nodes;
use crate::pipeline::{Note, Pipeline};
use crate::sinks::SinkError;
use recorder::{Received, RecorderHandle, RecorderParts};
use sipscope_sip::Message;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};

mod later;
mod recorder;
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
    /// Passwords recovered by intelligence (counted by the recorder thread).
    pub recovered: Arc<AtomicU64>,
    /// What the network shell and the stream and answer limits did.
    pub net: super::net::NetStats,
}

struct State {
    pbx: Pbx,
    limiter: Limiter,
}

/// The shared honeypot core.
pub struct Core {
    max_message: usize,
    max_answer: usize,
    state: Mutex<State>,
    recorder: RecorderHandle,
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
        let stats = Stats::default();
        let recorder = RecorderHandle::spawn(RecorderParts {
            sensor,
            nodes,
            pipeline,
            human,
            intel,
            recoveries,
            next_attempt_id,
            recovered: Arc::clone(&stats.recovered),
        })
        .map_err(|e| SinkError::Writer(format!("starting the honeypot's recorder thread: {e}")))?;
        Ok(Core {
            max_message: config.limits.max_message_bytes,
            max_answer: config.limits.max_answer_bytes,
            state: Mutex::new(State { pbx, limiter: Limiter::new(&config.limits) }),
            in_force,
            recorder,
            channels: AtomicU64::new(0),
            stats,
        })
    }

    /// Handles one message; returns the answers to send back to `packet.source`, in order.
    pub fn handle(&self, packet: Packet<'_>) -> Vec<Vec<u8>> {
        self.handle_noted(packet, &[])
    }

    /// [`handle`](Self::handle), with sensor-side anomaly names the listener adds to the
    /// message's event (`ws_over_tls`).
    pub fn handle_noted(&self, packet: Packet<'_>, extra: &[&'static str]) -> Vec<Vec<u8>> {
        self.stats.received.fetch_add(1, Ordering::Relaxed);
        let udp = packet.transport == Transport::Udp;
        let wire = |len: usize| len as u64 + if udp { udp_overhead(packet.source.ip()) } else { 0 };
        let framing = packet.transport.framing();
        // Bans the rules decided take effect as the recorder passes them on (it polls).
        if self.in_force.banned(packet.source.ip(), packet.source.port(), packet.now_ns) {
            // Recorded and analysed like any message (the rules keep seeing the attack), but
            // not answered, and the PBX does no work for it: no challenge, no password recovery.
            self.stats.banned.fetch_add(1, Ordering::Relaxed);
            metrics::unanswered(metrics::Unanswered::Banned);
            let names = std::iter::once(notes::BANNED_SOURCE).chain(extra.iter().copied()).collect();
            self.record(packet, Handled { note: "banned-source", ..Handled::default() }, Vec::new(), names, None);
            return Vec::new();
        }
        let refused = {
            let Ok(mut state) = self.state.lock() else { return Vec::new() };
            match state.limiter.admit(packet.source.ip(), wire(packet.bytes.len()), packet.now_ns) {
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
            }
        };
        if let Some((note, counter, why)) = refused {
            counter.fetch_add(1, Ordering::Relaxed);
            metrics::unanswered(why);
            // Not answered, but an attack all the same: recorded and analysed (the recorder
            // parses it; a refused message costs the listener no parse).
            self.record(packet, Handled { note, ..Handled::default() }, Vec::new(), extra.to_vec(), None);
            return Vec::new();
        }
        // The PBX's parse, outside the lock (the recorder parses its own copy).
        let parsed = (!is_blank(packet.bytes))
            .then(|| Message::parse_with(packet.bytes, framing, sipscope_sip::ParseLimits::default()));
        let msg = parsed.as_ref().and_then(|p| p.as_ref().ok());
        let (handled, replies) = {
            let Ok(mut state) = self.state.lock() else { return Vec::new() };
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
        if handled.auth.is_some() {
            self.stats.auth_attempts.fetch_add(1, Ordering::Relaxed);
        }
        self.record(packet, handled, replies.clone(), extra.to_vec(), None);
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
        if !packet.bytes.is_empty() {
            if let Ok(mut state) = self.state.lock() {
                let received = packet.bytes.len() as u64;
                let _ = state.limiter.admit(packet.source.ip(), received, packet.now_ns);
            }
        }
        let label = note.anomalies.first().map_or("", |n| *n);
        let handled = Handled { note: label, ..Handled::default() };
        let received = Received {
            not_a_message: note.not_a_message,
            ..received(packet, handled, answers.to_vec(), note.anomalies.to_vec(), note.detail.map(str::to_owned))
        };
        self.recorder.received(received);
    }

    /// Hands the request and every answer sent to the recorder thread (events, analysis,
    /// records, the human log); waits only while its queue is full.
    fn record(
        &self,
        packet: Packet<'_>,
        handled: Handled,
        replies: Vec<Vec<u8>>,
        anomalies: Vec<&'static str>,
        detail: Option<String>,
    ) {
        self.recorder.received(received(packet, handled, replies, anomalies, detail));
    }

    /// Records everything handed over, finishes password recovery and the analysis, stores
    /// what they found and makes every event durable. Later calls do nothing.
    pub fn finish(&self) -> Result<(), SinkError> {
        self.recorder.finish(crate::time::now_ns())
    }

    /// Periodic work at `now_ns`, after everything handed over so far is recorded (called
    /// often; the pipeline paces itself to its tick interval): finished analysis rows go to the
    /// store and everything is made durable, so readers see events and the engine's memory
    /// stays bounded. The caller waits for it; the listeners do not.
    pub fn tick(&self, now_ns: i64) -> Result<(), SinkError> {
        self.recorder.tick(now_ns)
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

    /// Messages a listener had to wait to hand to the recorder thread (its queue was full:
    /// recording fell behind, and answering with it).
    pub fn recorder_waits(&self) -> u64 {
        self.recorder.waits()
    }

    /// Attempts password intelligence skipped, by reason, once [`Core::finish`] ran (none
    /// before).
    pub fn intel_skipped(&self) -> Skipped {
        self.recorder.skipped()
    }
}

/// What the recorder is handed for `packet`.
fn received(
    packet: Packet<'_>,
    handled: Handled,
    replies: Vec<Vec<u8>>,
    anomalies: Vec<&'static str>,
    detail: Option<String>,
) -> Received {
    Received {
        now_ns: packet.now_ns,
        transport: packet.transport,
        source: packet.source,
        local: packet.local,
        bytes: packet.bytes.to_vec(),
        handled,
        replies,
        anomalies,
        detail,
        not_a_message: false,
    }
}
