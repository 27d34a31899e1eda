//! SIP over WebSocket (RFC 7118) on a `ws` or `wss` listener: the client's HTTP upgrade is
//! checked and answered (`101` with the accept key, or the HTTP error a web server gives, then
//! close), then each WebSocket message is one SIP message for the core, and each answer goes
//! back in a text frame. Frames are read by `sipscope_packet::websocket::server` (sans-IO);
//! this is the shell around it, with the TCP/TLS connection's pools, idle timeout, message
//! deadline and answer budgets. Everything received is recorded: the upgrade request with
//! its answer, each message, each control frame (a ping gets a pong, a close a close), and
//! what ends the connection (a protocol error gets a close 1002, a message over
//! `max_message_bytes` a close 1009).

use super::notes;
use super::stream::{Connection, Pacing, WsConnection};
use crate::pipeline::Note;
use base64::Engine;
use sipscope_packet::websocket::server::{
    close_code, close_frame, read_opening, write_frame, ClientEvent, ClientRead, ClientReader, Opening, CLOSE_TOO_BIG,
    OP_CLOSE, OP_PONG,
};
use sipscope_packet::websocket::{WsLimits, OP_TEXT};
use std::io::{Read, Write};
use std::net::TcpStream;

/// Bytes of a frame header at most (2, 8 of length, 4 of mask).
const MAX_FRAME_HEADER: usize = 14;

/// `sip` in a text frame, as the server sends it (unmasked).
pub(super) fn text_frame(sip: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(sip.len() + 4);
    write_frame(OP_TEXT, sip, &mut out);
    out
}

/// `Sec-WebSocket-Accept` for a client's key (RFC 6455 §4.2.2).
fn accept_key(key: &[u8]) -> String {
    const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(key);
    ctx.update(GUID);
    base64::engine::general_purpose::STANDARD.encode(ctx.finish())
}

/// The `101` that opens the WebSocket; `sip` when the client offered that subprotocol.
fn switching_protocols(key: &[u8], sip: bool) -> Vec<u8> {
    let protocol = if sip { "Sec-WebSocket-Protocol: sip\r\n" } else { "" };
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n{protocol}\r\n",
        accept_key(key)
    )
    .into_bytes()
}

/// The HTTP error a web server answers a request that does not open a WebSocket.
fn http_error(status: u16) -> Vec<u8> {
    let (reason, extra) = match status {
        404 => ("Not Found", ""),
        405 => ("Method Not Allowed", "Allow: GET\r\n"),
        426 => ("Upgrade Required", "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"),
        _ => ("Bad Request", ""),
    };
    format!("HTTP/1.1 {status} {reason}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n").into_bytes()
}

impl Connection {
    /// Serves one WebSocket connection: the upgrade, then messages until either side closes.
    pub(super) fn ws_pump(&self, ws: &WsConnection, mut stream: impl Read + Write, timer: Option<TcpStream>) {
        let mut pacing = Pacing::new();
        let mut buf: Vec<u8> = Vec::with_capacity(4096);
        let max_head = WsLimits::default().max_handshake_bytes.min(self.settings.max_message);
        loop {
            match self.fill(&mut stream, timer.as_ref(), &mut pacing, &mut buf, max_head.saturating_add(1)) {
                Ok(()) => {}
                Err(Some(cut)) => return self.record_cut(&buf, cut.anomaly, &cut.detail),
                Err(None) => return,
            }
            match read_opening(&buf, ws.path.as_bytes(), max_head) {
                Opening::NeedMore => pacing.settle(true, false),
                Opening::NotHttp => {
                    let detail = format!("not an HTTP request, or a head over {max_head} bytes");
                    return self.record_ws(&buf, notes::WS_HANDSHAKE_REFUSED, &detail, None);
                }
                Opening::Refused { len, status, why } => {
                    let answer = http_error(status);
                    let sent = stream.write_all(&answer).and_then(|()| stream.flush()).is_ok();
                    let head = buf.get(..len).unwrap_or_default();
                    return self.record_ws(head, notes::WS_HANDSHAKE_REFUSED, why, sent.then_some(answer));
                }
                Opening::Upgrade { len, key, sip } => {
                    let answer = switching_protocols(key, sip);
                    let sent = stream.write_all(&answer).and_then(|()| stream.flush()).is_ok();
                    let offered = if sip { "offered" } else { "not offered" };
                    let detail = format!("WebSocket opened on {}; subprotocol sip {offered}", ws.path);
                    let head = buf.get(..len).unwrap_or_default();
                    self.record_ws(head, notes::WS_UPGRADE, &detail, Some(answer));
                    if !sent {
                        return;
                    }
                    buf.drain(..len.min(buf.len()));
                    break;
                }
            }
        }
        self.ws_frames(stream, timer, pacing, buf);
    }

    /// The frames after the upgrade (`buf` holds what came with it).
    fn ws_frames(&self, mut stream: impl Read + Write, timer: Option<TcpStream>, mut pacing: Pacing, mut buf: Vec<u8>) {
        let max = self.settings.max_message;
        let mut reader = ClientReader::new(max);
        // A whole frame always fits: a larger one fails on its header.
        let cap = max.saturating_add(MAX_FRAME_HEADER);
        let cut = loop {
            let mut completed = false;
            loop {
                let (len, event) = match reader.read(&buf) {
                    ClientRead::NeedMore => break,
                    ClientRead::Frame { len, event } => (len, event),
                    ClientRead::Fail { why, close_code } => {
                        let _ = stream.write_all(&close_frame(close_code)).and_then(|()| stream.flush());
                        let anomaly = if close_code == CLOSE_TOO_BIG {
                            notes::STREAM_OVER_LIMIT
                        } else {
                            notes::WS_PROTOCOL_ERROR
                        };
                        let detail = format!("{why}; close {close_code} sent");
                        return match reader.unfinished() {
                            Some(partial) if close_code == CLOSE_TOO_BIG => self.record_cut(partial, anomaly, &detail),
                            _ => self.record_cut(&buf, anomaly, &detail),
                        };
                    }
                };
                match event {
                    ClientEvent::Message { payload, .. } => {
                        if !self.answer(&mut stream, payload) {
                            return;
                        }
                        self.slot.progressed(self.settings.pools.now_ms());
                        completed = true;
                    }
                    ClientEvent::Fragment => {}
                    ClientEvent::Ping(payload) => {
                        let mut pong = Vec::with_capacity(payload.len() + 2);
                        write_frame(OP_PONG, payload, &mut pong);
                        let sent = stream.write_all(&pong).and_then(|()| stream.flush()).is_ok();
                        self.record_ws(payload, notes::WS_CONTROL_FRAME, "ping", Some(payload.to_vec()));
                        if !sent {
                            return;
                        }
                    }
                    ClientEvent::Pong(payload) => self.record_ws(payload, notes::WS_CONTROL_FRAME, "pong", None),
                    ClientEvent::Close(payload) => {
                        let code = close_code(payload);
                        let mut answer = Vec::with_capacity(4);
                        write_frame(
                            OP_CLOSE,
                            payload.get(..2).filter(|_| code.is_some()).unwrap_or_default(),
                            &mut answer,
                        );
                        let _ = stream.write_all(&answer).and_then(|()| stream.flush());
                        let detail = match code {
                            Some(code) => format!("close {code}"),
                            None => "close without a status".to_owned(),
                        };
                        self.record_ws(payload, notes::WS_CONTROL_FRAME, &detail, Some(answer));
                        return self.record_unfinished(&reader, &buf[len.min(buf.len())..], "closed by the peer");
                    }
                }
                buf.drain(..len.min(buf.len()));
            }
            pacing.settle(!buf.is_empty() || reader.unfinished().is_some(), completed);
            match self.fill(&mut stream, timer.as_ref(), &mut pacing, &mut buf, cap) {
                Ok(()) => {}
                Err(Some(cut)) => break cut,
                Err(None) => return,
            }
        };
        // A message cut off by the end of the connection: its fragments (unmasked) if any came
        // whole, else the bytes of the frame in hand.
        match reader.unfinished() {
            Some(partial) => self.record_cut(partial, cut.anomaly, &cut.detail),
            None if !buf.is_empty() => self.record_cut(&buf, cut.anomaly, &cut.detail),
            None => {}
        }
    }

    /// What a close leaves: a fragmented message never finished, or bytes after the close.
    fn record_unfinished(&self, reader: &ClientReader, rest: &[u8], detail: &str) {
        match reader.unfinished() {
            Some(partial) => self.record_cut(partial, notes::STREAM_CUT_OFF, detail),
            None if !rest.is_empty() => self.record_cut(rest, notes::STREAM_CUT_OFF, "bytes after a close"),
            None => {}
        }
    }

    /// Records what the WebSocket layer received (the upgrade request, a control frame's
    /// payload, what was refused) with the `answer` it sent, if any.
    fn record_ws(&self, bytes: &[u8], anomaly: &'static str, detail: &str, answer: Option<Vec<u8>>) {
        let names = [anomaly, notes::WS_OVER_TLS];
        let anomalies = names.get(..1 + self.tls_note().len()).unwrap_or_default();
        let note = Note { anomalies, detail: Some(detail), not_a_message: true };
        self.core.record_only(self.packet(bytes), note, answer.as_slice());
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_accept_key_is_rfc_6455s_example() {
        assert_eq!(super::accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn answers_are_the_ones_a_web_server_gives() {
        let text = |status| String::from_utf8(super::http_error(status)).unwrap();
        assert!(text(426).starts_with("HTTP/1.1 426 Upgrade Required\r\n") && text(426).contains("Version: 13\r\n"));
        assert!(text(404).starts_with("HTTP/1.1 404 Not Found\r\n") && text(404).ends_with("\r\n\r\n"));
        let open = String::from_utf8(super::switching_protocols(b"dGhlIHNhbXBsZSBub25jZQ==", true)).unwrap();
        assert!(open.contains("Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: sip\r\n\r\n"), "{open}");
    }
}
