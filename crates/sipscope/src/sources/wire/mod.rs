//! From captured frames to SIP messages, shared by capture files and live capture: link and
//! tunnel decoding, IP fragment reassembly, TCP stream reassembly and SIP framing (`stream.rs`,
//! with SIP over WebSocket), SCTP user messages, and the decision whether a payload is SIP at
//! all (by its start line, on any port).

use crate::event::wire::looks_like_sip;
use crate::event::Transport;
use crate::sources::pcap::Frame;
use crate::sources::summary::CaptureSummary;
use sipscope_packet::websocket::{WsLimits, WsStats, WsStream};
use sipscope_packet::{
    decode, decode_ip_payload, Decoded, DefragLimits, Defragmenter, Layer4, LinkType, Sctp, SctpLimits,
    SctpReassembler, StreamId, TcpLimits, TcpReassembler,
};
use std::collections::HashMap;
use std::net::IpAddr;

pub mod notes;
mod stream;

use stream::StreamInfo;

/// The well-known SIP ports: a payload there that is not SIP is counted as invalid.
const SIP_PORTS: [u16; 2] = [5060, 5061];

/// One SIP message found on the wire.
#[derive(Debug, Clone, Copy)]
pub struct WireMessage<'a> {
    /// Capture time of the packet that completed it.
    pub ts_ns: i64,
    /// UDP, TCP, SCTP or WebSocket.
    pub transport: Transport,
    /// Source address and port.
    pub src: (IpAddr, u16),
    /// Destination address and port.
    pub dst: (IpAddr, u16),
    /// Outer tunnel endpoints, if it came through one.
    pub tunnel: Option<(IpAddr, IpAddr)>,
    /// Packet number (of the packet that completed it).
    pub packet: u64,
    /// The message bytes.
    pub bytes: &'a [u8],
    /// What decoding knows that the bytes cannot tell ([`notes`]): anomaly names for the event.
    pub notes: &'static [&'static str],
}

impl<'a> WireMessage<'a> {
    /// The notes as the pipeline takes them.
    pub fn note(&self) -> crate::pipeline::Note<'static> {
        crate::pipeline::Note { anomalies: self.notes, ..Default::default() }
    }
}

impl<'a> From<WireMessage<'a>> for crate::pipeline::Arrival<'a> {
    /// A message read off the wire: direction unknown (a passive capture cannot tell), node
    /// looked up by the pipeline.
    fn from(m: WireMessage<'a>) -> Self {
        crate::pipeline::Arrival {
            ts_ns: m.ts_ns,
            transport: m.transport,
            src: m.src,
            dst: m.dst,
            tunnel: m.tunnel,
            direction: crate::event::Direction::Unknown,
            packet: Some(m.packet),
            node: crate::pipeline::NodeOf::Lookup,
            sensor: None,
            bytes: m.bytes,
        }
    }
}

/// Decoding state over one capture (fragments and streams span packets).
pub struct WireDecoder {
    defrag: Defragmenter,
    tcp: TcpReassembler,
    streams: HashMap<StreamId, StreamInfo>,
    /// Streams that turned out to be WebSocket, with their frame state.
    websockets: HashMap<StreamId, WsStream>,
    ws_limits: WsLimits,
    ws_stats: WsStats,
    sctp: SctpReassembler,
}

/// The limits of a [`WireDecoder`]'s state: those of its fragment, TCP, WebSocket and SCTP
/// reassembly (each type documents its defaults).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WireLimits {
    /// IP fragment reassembly.
    pub defrag: DefragLimits,
    /// TCP streams.
    pub tcp: TcpLimits,
    /// WebSocket handshakes and messages.
    pub websocket: WsLimits,
    /// SCTP user messages.
    pub sctp: SctpLimits,
}

/// What a [`WireDecoder`] holds between frames, for checking it against its [`WireLimits`]
/// (the `wire` fuzz target does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireHeld {
    /// Datagrams being reassembled from fragments.
    pub fragment_datagrams: usize,
    /// Fragment bytes held.
    pub fragment_bytes: usize,
    /// TCP streams (one per direction) the reassembler holds.
    pub tcp_streams: usize,
    /// Bytes those streams hold (unconsumed and out of order).
    pub tcp_bytes: usize,
    /// Streams the decoder keeps its own state for (at most `tcp_streams`).
    pub stream_states: usize,
    /// Streams read as WebSocket (at most `stream_states`).
    pub websocket_streams: usize,
    /// SCTP fragment bytes held.
    pub sctp_bytes: usize,
    /// SCTP fragments held.
    pub sctp_fragments: usize,
}

impl Default for WireDecoder {
    fn default() -> Self {
        WireDecoder::new()
    }
}

impl WireDecoder {
    /// A decoder with default limits.
    pub fn new() -> WireDecoder {
        WireDecoder::with_limits(WireLimits::default())
    }

    /// A decoder with these limits (the `wire` fuzz target uses small ones).
    pub fn with_limits(limits: WireLimits) -> WireDecoder {
        WireDecoder {
            defrag: Defragmenter::new(limits.defrag),
            tcp: TcpReassembler::new(limits.tcp),
            streams: HashMap::new(),
            websockets: HashMap::new(),
            ws_limits: limits.websocket,
            ws_stats: WsStats::default(),
            sctp: SctpReassembler::new(limits.sctp),
        }
    }

    /// What the decoder holds now.
    pub fn held(&self) -> WireHeld {
        WireHeld {
            fragment_datagrams: self.defrag.pending(),
            fragment_bytes: self.defrag.buffered_bytes(),
            tcp_streams: self.tcp.streams(),
            tcp_bytes: self.tcp.buffered_bytes(),
            stream_states: self.streams.len(),
            websocket_streams: self.websockets.len(),
            sctp_bytes: self.sctp.pending_bytes(),
            sctp_fragments: self.sctp.pending_fragments(),
        }
    }

    /// Decodes one frame; every SIP message it completes goes to `emit`.
    pub fn push_frame(
        &mut self,
        frame: &Frame<'_>,
        summary: &mut CaptureSummary,
        emit: &mut impl FnMut(&mut CaptureSummary, WireMessage<'_>),
    ) {
        let Some(link) = LinkType::from_pcap(frame.link_type) else {
            *summary.undecodable.entry(format!("link_type_{}", frame.link_type)).or_default() += 1;
            return;
        };
        match decode(link, frame.data) {
            Ok(decoded) => self.transport(decoded, frame, summary, emit),
            Err(e) => *summary.undecodable.entry(e.kind_name().to_owned()).or_default() += 1,
        }
    }

    fn transport(
        &mut self,
        decoded: Decoded<'_>,
        frame: &Frame<'_>,
        summary: &mut CaptureSummary,
        emit: &mut impl FnMut(&mut CaptureSummary, WireMessage<'_>),
    ) {
        let tunnel = decoded.encap.tunnel.map(|t| (t.src, t.dst));
        let ip = decoded.ip;
        let notes = notes::of(decoded.truncated);
        summary.ip_truncated += u64::from(decoded.truncated);
        match decoded.transport {
            Layer4::Udp(udp) => {
                if looks_like_sip(udp.payload) {
                    let message = WireMessage {
                        ts_ns: frame.ts_ns,
                        transport: Transport::Udp,
                        src: (ip.src, udp.sport),
                        dst: (ip.dst, udp.dport),
                        tunnel,
                        packet: frame.number,
                        bytes: udp.payload,
                        notes,
                    };
                    emit(summary, message);
                } else {
                    count_not_sip(summary, udp.sport, udp.dport);
                }
            }
            Layer4::Tcp(tcp) => self.tcp_segment(&ip, &tcp, tunnel, decoded.truncated, frame, summary, emit),
            Layer4::Sctp(sctp) => self.sctp_packet(&ip, &sctp, tunnel, frame, summary, emit),
            Layer4::Fragment => {
                if let Some(whole) = self.defrag.push(frame.ts_ns, &ip, decoded.ip_payload) {
                    summary.reassembled_datagrams += 1;
                    summary.overlapping_fragments += u64::from(whole.overlapped);
                    match decode_ip_payload(decoded.encap, whole.ip, &whole.payload) {
                        Ok(inner) => self.transport(inner, frame, summary, emit),
                        Err(e) => *summary.undecodable.entry(e.kind_name().to_owned()).or_default() += 1,
                    }
                }
            }
            Layer4::Other { .. } => summary.non_sip_packets += 1,
        }
    }

    /// SCTP: every user message the packet completes is one SIP message (RFC 4168), or not SIP.
    fn sctp_packet(
        &mut self,
        ip: &sipscope_packet::IpInfo,
        sctp: &Sctp<'_>,
        tunnel: Option<(IpAddr, IpAddr)>,
        frame: &Frame<'_>,
        summary: &mut CaptureSummary,
        emit: &mut impl FnMut(&mut CaptureSummary, WireMessage<'_>),
    ) {
        self.sctp.push(frame.ts_ns, ip, sctp, &mut |m| {
            let (src, dst) = ((m.key.src.ip(), m.key.src.port()), (m.key.dst.ip(), m.key.dst.port()));
            if !looks_like_sip(m.payload) {
                return count_not_sip(summary, src.1, dst.1);
            }
            let message = WireMessage {
                ts_ns: frame.ts_ns,
                transport: Transport::Sctp,
                src,
                dst,
                tunnel,
                packet: frame.number,
                bytes: m.payload,
                notes: notes::of(m.cut),
            };
            emit(summary, message);
        });
    }

    /// Flushes what is still buffered at the end of a capture.
    pub fn finish(
        &mut self,
        summary: &mut CaptureSummary,
        emit: &mut impl FnMut(&mut CaptureSummary, WireMessage<'_>),
    ) {
        self.defrag.expire(i64::MAX);
        // One decoder per capture: its counters are this capture's.
        let stats = self.defrag.stats();
        summary.incomplete_datagrams += stats.timed_out + stats.evicted_memory + stats.evicted_capacity;
        let mut ids: Vec<StreamId> = self.streams.keys().copied().collect();
        ids.sort();
        for id in ids {
            self.close_stream(id, summary, emit);
        }
        let ws = self.ws_stats;
        summary.websocket_messages_skipped += ws.over_limit + ws.compressed + ws.broken;
        self.sctp.expire(i64::MAX);
        let sctp = self.sctp.stats();
        summary.sctp_reassembled_messages += sctp.reassembled;
        summary.sctp_fragments_dropped += sctp.fragments_dropped;
    }
}

/// Counts a payload that is not SIP: invalid on the SIP ports, non-SIP elsewhere.
fn count_not_sip(summary: &mut CaptureSummary, sport: u16, dport: u16) {
    if SIP_PORTS.contains(&sport) || SIP_PORTS.contains(&dport) {
        summary.invalid_on_sip_ports += 1;
    } else {
        summary.non_sip_packets += 1;
    }
}

#[cfg(test)]
mod tests;
