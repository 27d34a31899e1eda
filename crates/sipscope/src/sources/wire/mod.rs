//! From captured frames to SIP messages, shared by capture files and live capture: link and
//! tunnel decoding, IP fragment reassembly, TCP stream reassembly and SIP framing, and the
//! decision whether a payload is SIP at all (by its start line, on any port).

use crate::event::wire::looks_like_sip;
use crate::event::Transport;
use crate::sources::pcap::Frame;
use crate::sources::summary::CaptureSummary;
use sipscope_packet::{
    decode, decode_ip_payload, Decoded, DefragLimits, Defragmenter, Layer4, LinkType, StreamId, StreamKey, TcpLimits,
    TcpReassembler,
};
use sipscope_sip::framing::{frame, FrameLimits, Framed};
use std::collections::HashMap;
use std::net::IpAddr;

/// The well-known SIP ports: a payload there that is not SIP is counted as invalid.
const SIP_PORTS: [u16; 2] = [5060, 5061];

/// One SIP message found on the wire.
#[derive(Debug, Clone, Copy)]
pub struct WireMessage<'a> {
    /// Capture time of the packet that completed it.
    pub ts_ns: i64,
    /// UDP or TCP.
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
            bytes: m.bytes,
        }
    }
}

/// Per-stream state the decoder keeps beside the reassembler.
#[derive(Debug, Clone, Copy)]
struct StreamInfo {
    tunnel: Option<(IpAddr, IpAddr)>,
    /// The stream turned out not to be SIP (TLS, HTTP …): its bytes are dropped.
    not_sip: bool,
    /// Time and number of the last packet that brought data.
    last_ts: i64,
    last_packet: u64,
}

/// A message taken from a TCP stream.
fn stream_message<'b>(key: StreamKey, info: &StreamInfo, bytes: &'b [u8]) -> WireMessage<'b> {
    WireMessage {
        ts_ns: info.last_ts,
        transport: Transport::Tcp,
        src: (key.src.ip(), key.src.port()),
        dst: (key.dst.ip(), key.dst.port()),
        tunnel: info.tunnel,
        packet: info.last_packet,
        bytes,
    }
}

/// What to do with the front of a stream buffer.
enum Step {
    Message(usize),
    Skip(usize),
    NotSip,
    Wait,
}

/// Decoding state over one capture (fragments and streams span packets).
pub struct WireDecoder {
    defrag: Defragmenter,
    tcp: TcpReassembler,
    streams: HashMap<StreamId, StreamInfo>,
}

impl Default for WireDecoder {
    fn default() -> Self {
        WireDecoder::new()
    }
}

impl WireDecoder {
    /// A decoder with default limits.
    pub fn new() -> WireDecoder {
        WireDecoder {
            defrag: Defragmenter::new(DefragLimits::default()),
            tcp: TcpReassembler::new(TcpLimits::default()),
            streams: HashMap::new(),
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
                    };
                    emit(summary, message);
                } else if SIP_PORTS.contains(&udp.sport) || SIP_PORTS.contains(&udp.dport) {
                    summary.invalid_on_sip_ports += 1;
                } else {
                    summary.non_sip_packets += 1;
                }
            }
            Layer4::Tcp(tcp) => {
                let pushed = self.tcp.push_segment(frame.ts_ns, &ip, &tcp);
                for removed in &pushed.removed {
                    self.streams.remove(removed);
                }
                let Some(id) = pushed.stream else { return };
                let info = self.streams.entry(id).or_insert(StreamInfo {
                    tunnel,
                    not_sip: false,
                    last_ts: frame.ts_ns,
                    last_packet: frame.number,
                });
                if pushed.new_bytes > 0 {
                    info.last_ts = frame.ts_ns;
                    info.last_packet = frame.number;
                }
                if pushed.opened {
                    summary.tcp_streams += 1;
                }
                if pushed.new_bytes > 0 || pushed.gap.is_some() {
                    self.drain_stream(id, summary, emit);
                }
                if pushed.finished {
                    self.close_stream(id, summary, emit);
                }
            }
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
            Layer4::Sctp(_) | Layer4::Other { .. } => summary.non_sip_packets += 1,
        }
    }

    fn message<'b>(&self, id: StreamId, info: &StreamInfo, bytes: &'b [u8]) -> Option<WireMessage<'b>> {
        Some(stream_message(self.tcp.key(id)?, info, bytes))
    }

    /// Splits every complete SIP message out of a stream's buffer.
    fn drain_stream(
        &mut self,
        id: StreamId,
        summary: &mut CaptureSummary,
        emit: &mut impl FnMut(&mut CaptureSummary, WireMessage<'_>),
    ) {
        let Some(info) = self.streams.get(&id).copied() else { return };
        loop {
            let buf = self.tcp.stream_buffer(id);
            let step = match frame(buf, FrameLimits::default()) {
                _ if buf.is_empty() => Step::Wait,
                _ if info.not_sip => Step::Skip(buf.len()),
                Framed::Complete(len) if looks_like_sip(&buf[..len]) => Step::Message(len),
                Framed::KeepAlive(len) => Step::Skip(len),
                // A stream that does not start like SIP is not worth buffering.
                Framed::NeedMore(_) if buf.len() >= 64 && !looks_like_sip(buf) => Step::NotSip,
                Framed::NeedMore(_) => Step::Wait,
                Framed::Complete(_) | Framed::Invalid(_) => Step::NotSip,
            };
            match step {
                Step::Message(len) => {
                    if let Some(m) = self.message(id, &info, &buf[..len]) {
                        emit(summary, m);
                    }
                    self.tcp.consume(id, len);
                }
                Step::Skip(len) => self.tcp.consume(id, len),
                Step::NotSip => {
                    self.mark_not_sip(id, summary);
                    return self.drain_stream(id, summary, emit);
                }
                Step::Wait => return,
            }
        }
    }

    fn mark_not_sip(&mut self, id: StreamId, summary: &mut CaptureSummary) {
        let Some(key) = self.tcp.key(id) else { return };
        if let Some(info) = self.streams.get_mut(&id) {
            if !info.not_sip {
                info.not_sip = true;
                if SIP_PORTS.contains(&key.src.port()) || SIP_PORTS.contains(&key.dst.port()) {
                    summary.invalid_on_sip_ports += 1;
                } else {
                    summary.non_sip_packets += 1;
                }
            }
        }
    }

    /// Ends a stream. Bytes left in it are a message the capture cut short: still evidence, so
    /// they go out as a message (the parser reports what is missing).
    fn close_stream(
        &mut self,
        id: StreamId,
        summary: &mut CaptureSummary,
        emit: &mut impl FnMut(&mut CaptureSummary, WireMessage<'_>),
    ) {
        let info = self.streams.remove(&id);
        let key = self.tcp.key(id);
        let Some(rest) = self.tcp.remove(id) else { return };
        let (Some(info), Some(key)) = (info, key) else { return };
        if !info.not_sip && looks_like_sip(&rest) {
            emit(summary, stream_message(key, &info, &rest));
        }
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
    }
}

#[cfg(test)]
mod tests;
