//! Answers that leave after their request: a call's delayed ringing and final answer, and final
//! answers to INVITE retransmitted over UDP until the ACK comes. The PBX keeps them (sans-IO);
//! each listener socket or connection is a channel that asks when its next answer is due and
//! takes the answers due. They pass the same budgets as every answer (a retransmission is sent
//! as it was the first time, or withheld and counted) and are recorded the same way.

use super::recorder::Later;
use super::Core;
use crate::event::Transport;
use crate::sources::honeypot::limits::udp_overhead;
use crate::sources::honeypot::pbx::DueKind;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;

/// An answer for the shell to send now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Where it goes: the request's source.
    pub dest: SocketAddr,
    /// The honeypot address it leaves from: the one the request reached.
    pub local: SocketAddr,
    /// How.
    pub transport: Transport,
    /// Whether it repeats a final answer whose ACK did not come.
    pub retransmission: bool,
    /// The answer.
    pub bytes: Vec<u8>,
}

impl Core {
    /// A number for a listener socket or connection, the channel its later answers leave by
    /// ([`Packet::channel`](super::Packet::channel)).
    pub fn new_channel(&self) -> u64 {
        self.channels.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// When the next answer on `channel` is due, nanoseconds since the epoch, if any is.
    pub fn next_due(&self, channel: u64) -> Option<i64> {
        self.state.lock().ok()?.pbx.next_due(channel)
    }

    /// The answers due on `channel` at `now_ns`, each fitted to its source's budgets and
    /// recorded; the caller sends them, in order.
    pub fn due(&self, channel: u64, now_ns: i64) -> Vec<Outgoing> {
        let mut out = Vec::new();
        {
            let Ok(mut state) = self.state.lock() else { return out };
            let state = &mut *state;
            for due in state.pbx.due(channel, now_ns) {
                let (ip, transport) = (due.dest.ip(), due.route.transport);
                let retransmission = due.kind == DueKind::Retransmission;
                // A source banned since its answer was scheduled gets nothing more.
                let banned = self.in_force.banned(ip, due.dest.port(), now_ns);
                let fitted = if banned {
                    None
                } else if retransmission {
                    // Sent as it was the first time, or not at all.
                    let wire = due.bytes.len() as u64 + udp_overhead(ip);
                    if state.limiter.may_send(ip, wire, now_ns) {
                        self.stats.retransmissions.fetch_add(1, Ordering::Relaxed);
                        Some(due.bytes)
                    } else {
                        self.stats.retransmissions_withheld.fetch_add(1, Ordering::Relaxed);
                        crate::metrics::withheld(crate::metrics::Withheld::Retransmission);
                        None
                    }
                } else {
                    self.fit(&mut state.limiter, transport, ip, now_ns, due.bytes).ok()
                };
                if due.kind == DueKind::Final {
                    state.pbx.final_sent(&due.key, fitted.as_deref(), now_ns);
                }
                if let Some(bytes) = fitted {
                    out.push(Outgoing { dest: due.dest, local: due.route.local, transport, retransmission, bytes });
                }
            }
        }
        self.stats.answers.fetch_add(out.len() as u64, Ordering::Relaxed);
        self.record_later(now_ns, &out);
        out
    }

    /// Forgets the answers still to send on a channel that closed (a connection that ended).
    pub fn close_channel(&self, channel: u64) {
        if let Ok(mut state) = self.state.lock() {
            state.pbx.close_channel(channel);
        }
    }

    /// INVITE transactions forgotten with answers still to send (`max_open_invites`,
    /// `max_open_invite_bytes`).
    pub fn open_invites_forgotten(&self) -> u64 {
        self.state.lock().map_or(0, |s| s.pbx.open_invites_forgotten())
    }

    /// Hands answers sent later to the recorder thread.
    fn record_later(&self, now_ns: i64, sent: &[Outgoing]) {
        let later = sent
            .iter()
            .map(|a| Later {
                now_ns,
                transport: a.transport,
                local: a.local,
                dest: a.dest,
                retransmission: a.retransmission,
                bytes: a.bytes.clone(),
            })
            .collect();
        self.recorder.later(later);
    }
}
