//! TCP streams: SIP framed by Content-Length, or SIP over WebSocket (RFC 7118) once a stream
//! turns out to carry it, by its HTTP upgrade or, for a capture that began after the
//! handshake, by a first frame whose payload starts like SIP. The port does not matter: ws on
//! any port, and wss ports whose traffic was captured in the clear (behind a TLS terminator).
//! Each direction is followed on its own.

use super::{count_not_sip, notes, WireDecoder, WireMessage};
use crate::event::wire::looks_like_sip;
use crate::event::Transport;
use crate::sources::pcap::Frame;
use crate::sources::summary::CaptureSummary;
use sipscope_packet::websocket::{
    frame_header, unmask_into, upgrade, FrameHead, Upgrade, WsStream, OP_BINARY, OP_TEXT,
};
use sipscope_packet::{IpInfo, StreamId, StreamKey, Tcp};
use sipscope_sip::framing::{frame, FrameLimits, Framed};
use std::net::IpAddr;

/// Bytes of a first frame's payload looked at to tell SIP over WebSocket without a handshake.
const WS_SNIFF_BYTES: u64 = 256;

/// How a stream is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// SIP framed by Content-Length.
    Sip,
    /// WebSocket frames (state in `WireDecoder::websockets`).
    WebSocket,
    /// Not SIP (TLS, HTTP …): its bytes are dropped.
    NotSip,
}

/// Per-stream state the decoder keeps beside the reassembler.
#[derive(Debug, Clone, Copy)]
pub(super) struct StreamInfo {
    tunnel: Option<(IpAddr, IpAddr)>,
    mode: Mode,
    /// Time and number of the last packet that brought data.
    last_ts: i64,
    last_packet: u64,
    /// Bytes at the front of the buffer up to the end of the last segment the capture cut:
    /// a message taken from them carries the `ip_truncated` notice.
    cut_bytes: usize,
}

/// A message taken from a stream.
fn stream_message<'b>(key: StreamKey, info: &StreamInfo, transport: Transport, bytes: &'b [u8]) -> WireMessage<'b> {
    let notes = notes::of(info.cut_bytes > 0);
    WireMessage {
        ts_ns: info.last_ts,
        transport,
        src: (key.src.ip(), key.src.port()),
        dst: (key.dst.ip(), key.dst.port()),
        tunnel: info.tunnel,
        packet: info.last_packet,
        bytes,
        notes,
    }
}

/// What to do with the front of a stream buffer.
enum Step {
    Message(usize),
    Skip(usize),
    NotSip,
    Wait,
}

/// What a stream that is not plain SIP starts with.
enum WsStart {
    /// An HTTP upgrade head of this many bytes.
    Upgrade(usize),
    /// WebSocket frames whose first payload starts like SIP.
    Frames,
    Wait,
    No,
}

impl WireDecoder {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn tcp_segment(
        &mut self,
        ip: &IpInfo,
        tcp: &Tcp<'_>,
        tunnel: Option<(IpAddr, IpAddr)>,
        cut: bool,
        frame: &Frame<'_>,
        summary: &mut CaptureSummary,
        emit: &mut impl FnMut(&mut CaptureSummary, WireMessage<'_>),
    ) {
        let pushed = self.tcp.push_segment(frame.ts_ns, ip, tcp);
        for removed in &pushed.removed {
            self.streams.remove(removed);
            self.websockets.remove(removed);
        }
        let Some(id) = pushed.stream else { return };
        let info = self.streams.entry(id).or_insert(StreamInfo {
            tunnel,
            mode: Mode::Sip,
            last_ts: frame.ts_ns,
            last_packet: frame.number,
            cut_bytes: 0,
        });
        if pushed.new_bytes > 0 {
            info.last_ts = frame.ts_ns;
            info.last_packet = frame.number;
            if cut {
                info.cut_bytes = self.tcp.stream_buffer(id).len();
            }
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

    /// Splits every complete SIP message out of a stream's buffer.
    fn drain_stream(
        &mut self,
        id: StreamId,
        summary: &mut CaptureSummary,
        emit: &mut impl FnMut(&mut CaptureSummary, WireMessage<'_>),
    ) {
        let Some(info) = self.streams.get(&id).copied() else { return };
        let Some(key) = self.tcp.key(id) else { return };
        match info.mode {
            Mode::WebSocket => return self.drain_websocket(id, key, info, summary, emit),
            Mode::NotSip => {
                let n = self.tcp.stream_buffer(id).len();
                return self.consume(id, n);
            }
            Mode::Sip => {}
        }
        loop {
            let buf = self.tcp.stream_buffer(id);
            let step = match frame(buf, FrameLimits::default()) {
                _ if buf.is_empty() => Step::Wait,
                Framed::Complete(len) if looks_like_sip(&buf[..len]) => Step::Message(len),
                Framed::KeepAlive(len) => Step::Skip(len),
                // A stream that does not start like SIP is not worth buffering.
                Framed::NeedMore(_) if buf.len() >= 64 && !looks_like_sip(buf) => Step::NotSip,
                Framed::NeedMore(_) => Step::Wait,
                Framed::Complete(_) | Framed::Invalid(_) => Step::NotSip,
            };
            match step {
                Step::Message(len) => {
                    let info = self.streams.get(&id).copied().unwrap_or(info);
                    emit(summary, stream_message(key, &info, Transport::Tcp, &buf[..len]));
                    self.consume(id, len);
                }
                Step::Skip(len) => self.consume(id, len),
                Step::NotSip => match self.websocket_start(id) {
                    WsStart::Upgrade(len) => {
                        self.consume(id, len);
                        return self.become_websocket(id, key, summary, emit);
                    }
                    WsStart::Frames => return self.become_websocket(id, key, summary, emit),
                    WsStart::Wait => return,
                    WsStart::No => {
                        self.set_mode(id, Mode::NotSip);
                        count_not_sip(summary, key.src.port(), key.dst.port());
                        return self.drain_stream(id, summary, emit);
                    }
                },
                Step::Wait => return,
            }
        }
    }

    fn consume(&mut self, id: StreamId, n: usize) {
        self.tcp.consume(id, n);
        if let Some(info) = self.streams.get_mut(&id) {
            info.cut_bytes = info.cut_bytes.saturating_sub(n);
        }
    }

    fn set_mode(&mut self, id: StreamId, mode: Mode) {
        if let Some(info) = self.streams.get_mut(&id) {
            info.mode = mode;
        }
    }

    /// Does a stream that is not plain SIP start a WebSocket connection?
    fn websocket_start(&self, id: StreamId) -> WsStart {
        let buf = self.tcp.stream_buffer(id);
        match upgrade(buf, self.ws_limits) {
            Upgrade::Done { len, .. } => return WsStart::Upgrade(len),
            Upgrade::NeedMore => return WsStart::Wait,
            Upgrade::No => {}
        }
        let h = match frame_header(buf) {
            FrameHead::Frame(h) if h.opcode == OP_TEXT || h.opcode == OP_BINARY => h,
            FrameHead::NeedMore => return WsStart::Wait,
            _ => return WsStart::No,
        };
        let sniff = h.payload_len.min(WS_SNIFF_BYTES) as usize;
        let Some(first) = buf.get(h.header_len..h.header_len + sniff) else { return WsStart::Wait };
        let mut payload = Vec::with_capacity(sniff);
        unmask_into(h.mask, first, &mut payload);
        if looks_like_sip(&payload) {
            WsStart::Frames
        } else {
            WsStart::No
        }
    }

    fn become_websocket(
        &mut self,
        id: StreamId,
        key: StreamKey,
        summary: &mut CaptureSummary,
        emit: &mut impl FnMut(&mut CaptureSummary, WireMessage<'_>),
    ) {
        summary.websocket_streams += 1;
        self.set_mode(id, Mode::WebSocket);
        self.websockets.insert(id, WsStream::new(self.ws_limits));
        let Some(info) = self.streams.get(&id).copied() else { return };
        self.drain_websocket(id, key, info, summary, emit);
    }

    /// Reads whole frames off a WebSocket stream: each message is one SIP message (RFC 7118
    /// §5), or not SIP.
    fn drain_websocket(
        &mut self,
        id: StreamId,
        key: StreamKey,
        info: StreamInfo,
        summary: &mut CaptureSummary,
        emit: &mut impl FnMut(&mut CaptureSummary, WireMessage<'_>),
    ) {
        let Some(ws) = self.websockets.get_mut(&id) else { return };
        let buf = self.tcp.stream_buffer(id);
        let read = ws.read(buf, &mut self.ws_stats, &mut |m| {
            if looks_like_sip(m.payload) {
                emit(summary, stream_message(key, &info, Transport::Ws, m.payload));
            } else if !m.payload.is_empty() {
                count_not_sip(summary, key.src.port(), key.dst.port());
            }
        });
        self.consume(id, read.consumed);
        if read.invalid.is_some() {
            // Lost in the frames (or not WebSocket after all): the rest is dropped.
            self.websockets.remove(&id);
            self.set_mode(id, Mode::NotSip);
            count_not_sip(summary, key.src.port(), key.dst.port());
            self.drain_stream(id, summary, emit);
        }
    }

    /// Ends a stream. Bytes left in it are a message the capture cut short: still evidence, so
    /// they go out as a message (the parser reports what is missing).
    pub(super) fn close_stream(
        &mut self,
        id: StreamId,
        summary: &mut CaptureSummary,
        emit: &mut impl FnMut(&mut CaptureSummary, WireMessage<'_>),
    ) {
        let info = self.streams.remove(&id);
        let ws = self.websockets.remove(&id);
        let key = self.tcp.key(id);
        let Some(rest) = self.tcp.remove(id) else { return };
        let (Some(info), Some(key)) = (info, key) else { return };
        match (info.mode, ws.as_ref().and_then(WsStream::unfinished)) {
            (Mode::Sip, _) if looks_like_sip(&rest) => emit(summary, stream_message(key, &info, Transport::Tcp, &rest)),
            (Mode::WebSocket, Some(partial)) if looks_like_sip(partial) => {
                emit(summary, stream_message(key, &info, Transport::Ws, partial))
            }
            _ => {}
        }
    }
}
