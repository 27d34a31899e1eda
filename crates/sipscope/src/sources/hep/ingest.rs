//! One HEP packet into the pipeline, sans-IO: decode, authenticate, check, and hand the
//! payload over as an [`Arrival`] with the addresses, transport and time the packet states,
//! under the sensor its capture node is. Everything refused is counted by reason.

use super::keys::{Keys, Refusal};
use crate::event::{Direction, Transport};
use crate::metrics;
use crate::pipeline::{Arrival, NodeOf, Pipeline};
use serde::Serialize;
use sipscope_hep::{decode, Limits, Packet, PAYLOAD_SIP};
use std::net::SocketAddr;

/// Who may send.
#[derive(Debug, Clone)]
pub enum Auth {
    /// Only the nodes of a keys file, each with its key.
    Keys(Keys),
    /// Anyone (`--no-auth`: a collector on a trusted network). The sensor is the node's name
    /// when it is short printable text, else `hep-<id>`, else the collector's own.
    Open,
}

/// Longest capture node name taken as a sensor name without a keys file.
pub const MAX_OPEN_SENSOR_CHARS: usize = 64;

/// What became of the packets, by reason. Each refusal is also logged, rate-limited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct HepCounters {
    /// Packets (datagrams, or frames of a stream) received.
    pub packets: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Payloads handed to the pipeline.
    pub accepted: u64,
    /// Not HEP, or HEP with wrong lengths, repeated chunks, contradicting families.
    pub malformed: u64,
    /// A compressed payload that is damaged or inflates past the limit.
    pub bad_compressed_payload: u64,
    /// Refused: no auth key chunk (HEPv1/v2 never have one).
    pub unauthenticated: u64,
    /// Refused: capture node neither in the keys file by id nor by name.
    pub unknown_node: u64,
    /// Refused: the key does not match the node's.
    pub wrong_key: u64,
    /// Authenticated, but not SIP (RTCP reports, logs, QoS): sipscope keeps SIP only.
    pub not_sip: u64,
    /// Without a source or destination address or port: an event needs both ends.
    pub missing_addresses: u64,
    /// Without seconds (or with microseconds of a second or more): stored with the time of
    /// receipt instead.
    pub time_from_receipt: u64,
    /// Streams (TCP, TLS) closed because they stopped being HEPv3.
    pub streams_not_hep: u64,
    /// Streams closed at accept: too many open.
    pub streams_refused: u64,
}

/// Decodes and hands over HEP packets.
pub struct HepIngest {
    auth: Auth,
    limits: Limits,
    counters: HepCounters,
    /// The sensor name of an unauthenticated packet, built per packet without allocating.
    scratch: String,
}

impl HepIngest {
    /// An ingest with `auth` and `limits`.
    pub fn new(auth: Auth, limits: Limits) -> HepIngest {
        HepIngest { auth, limits, counters: HepCounters::default(), scratch: String::new() }
    }

    /// What was counted so far.
    pub fn counters(&self) -> &HepCounters {
        &self.counters
    }

    /// A stream stopped being HEPv3 and was closed.
    pub fn stream_not_hep(&mut self, peer: SocketAddr) {
        self.counters.streams_not_hep += 1;
        metrics::hep(metrics::HepOutcome::StreamNotHep);
        log_refusal(self.counters.streams_not_hep, peer, "stream is not HEPv3, closed");
    }

    /// A stream was closed at accept (too many open).
    pub fn stream_refused(&mut self, peer: SocketAddr) {
        self.counters.streams_refused += 1;
        metrics::hep(metrics::HepOutcome::StreamRefused);
        log_refusal(self.counters.streams_refused, peer, "too many open streams, closed");
    }

    /// Takes one packet received from `peer` at `received_ns`.
    pub fn take(&mut self, bytes: &[u8], peer: SocketAddr, received_ns: i64, pipeline: &mut Pipeline) {
        self.counters.packets += 1;
        self.counters.bytes += bytes.len() as u64;
        let packet = match decode(bytes, &self.limits) {
            Ok(p) => p,
            Err(e) => {
                self.counters.malformed += 1;
                metrics::hep(metrics::HepOutcome::Malformed);
                return log_refusal(self.counters.malformed, peer, &e.to_string());
            }
        };
        let sensor = match &self.auth {
            Auth::Keys(keys) => match keys.check(packet.capture_id, packet.node_name, packet.auth_key) {
                Ok(sensor) => Some(sensor),
                Err(refusal) => return self.refused(refusal, peer),
            },
            Auth::Open => open_sensor(&packet, &mut self.scratch).then_some(self.scratch.as_str()),
        };
        if packet.payload_type.is_some_and(|t| t != PAYLOAD_SIP) {
            self.counters.not_sip += 1;
            metrics::hep(metrics::HepOutcome::NotSip);
            return;
        }
        let payload = match packet.payload_bytes(&self.limits) {
            Ok(p) => p,
            Err(e) => {
                self.counters.bad_compressed_payload += 1;
                metrics::hep(metrics::HepOutcome::BadCompressedPayload);
                return log_refusal(self.counters.bad_compressed_payload, peer, &e.to_string());
            }
        };
        let (Some(src), Some(sport), Some(dst), Some(dport)) =
            (packet.src_addr, packet.src_port, packet.dst_addr, packet.dst_port)
        else {
            self.counters.missing_addresses += 1;
            metrics::hep(metrics::HepOutcome::MissingAddresses);
            return log_refusal(self.counters.missing_addresses, peer, "no addresses or ports");
        };
        let ts_ns = packet.time_ns().unwrap_or_else(|| {
            self.counters.time_from_receipt += 1;
            received_ns
        });
        self.counters.accepted += 1;
        metrics::hep(metrics::HepOutcome::Accepted);
        let arrival = Arrival {
            ts_ns,
            transport: transport_of(packet.ip_proto),
            src: (src, sport),
            dst: (dst, dport),
            tunnel: None,
            // HEP does not say whether the capture node sent or received the message.
            direction: Direction::Unknown,
            packet: None,
            node: NodeOf::Lookup,
            sensor,
            bytes: &payload,
        };
        pipeline.accept(arrival);
    }

    fn refused(&mut self, refusal: Refusal, peer: SocketAddr) {
        let (count, why, outcome) = match refusal {
            Refusal::NoKey => (&mut self.counters.unauthenticated, "no auth key", metrics::HepOutcome::Unauthenticated),
            Refusal::UnknownNode => {
                (&mut self.counters.unknown_node, "capture node not in the keys file", metrics::HepOutcome::UnknownNode)
            }
            Refusal::WrongKey => (&mut self.counters.wrong_key, "wrong auth key", metrics::HepOutcome::WrongKey),
        };
        *count += 1;
        metrics::hep(outcome);
        log_refusal(*count, peer, why);
    }
}

/// The transport an IP protocol number names (HEP has no TLS or WebSocket of its own: those
/// arrive as TCP).
fn transport_of(proto: Option<u8>) -> Transport {
    match proto {
        Some(6) => Transport::Tcp,
        Some(132) => Transport::Sctp,
        _ => Transport::Udp,
    }
}

/// Writes the sensor name of an unauthenticated packet into `out`: its node name when that is
/// short printable text, else `hep-<id>`. False when it has neither (the collector's own).
fn open_sensor(p: &Packet<'_>, out: &mut String) -> bool {
    use std::fmt::Write;
    out.clear();
    let name = p.node_name.and_then(|n| std::str::from_utf8(n).ok()).filter(|n| {
        (1..=MAX_OPEN_SENSOR_CHARS).contains(&n.chars().count()) && !n.chars().any(|c| c.is_control() || bidi(c))
    });
    match (name, p.capture_id) {
        (Some(name), _) => out.push_str(name),
        (None, Some(id)) => {
            let _ = write!(out, "hep-{id}");
        }
        (None, None) => return false,
    }
    true
}

/// Bidirectional controls, which reorder what a terminal shows.
fn bidi(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Logs the `n`-th refusal of a kind when `n` is a power of two: a flood of bad packets
/// writes a few dozen lines, not one per packet. The reason is sipscope's own text.
fn log_refusal(n: u64, peer: SocketAddr, why: &str) {
    if n.is_power_of_two() {
        tracing::warn!("HEP packet from {peer} refused: {why} ({n} so far)");
    }
}

#[cfg(test)]
#[path = "ingest_tests.rs"]
mod tests;
