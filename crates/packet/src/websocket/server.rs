//! The server's side of a WebSocket connection (RFC 6455 §4.2 and §5), for a listener that
//! accepts SIP over WebSocket (RFC 7118): the client's opening handshake read and checked
//! ([`read_opening`]), frames from a client checked and read into messages
//! ([`ClientReader`]), and server frames written unmasked ([`write_frame`]). Sans-IO like the
//! rest of the crate; the accept key's SHA-1 is the caller's (this crate hashes nothing).
//! Frame headers are read by the capture side's [`frame_header`].

use super::{frame_header, head_len, unmask_into, FrameHead, FrameHeader, OP_CONTINUATION, OP_TEXT};

/// Opcode of a close frame.
pub const OP_CLOSE: u8 = 8;
/// Opcode of a ping frame.
pub const OP_PING: u8 = 9;
/// Opcode of a pong frame.
pub const OP_PONG: u8 = 10;

/// Close status: a protocol error (RFC 6455 §7.4.1).
pub const CLOSE_PROTOCOL_ERROR: u16 = 1002;
/// Close status: a message too big to process.
pub const CLOSE_TOO_BIG: u16 = 1009;

/// What the front of a connection holds, read as a client's opening handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opening<'a> {
    /// The head is not complete yet (and not over the limit).
    NeedMore,
    /// A valid opening handshake of `len` bytes for `path`: answer 101 with the accept key
    /// of `key`; `sip` when the client offered the `sip` subprotocol.
    Upgrade {
        /// Bytes of the head, the empty line included.
        len: usize,
        /// `Sec-WebSocket-Key`, as sent (trimmed).
        key: &'a [u8],
        /// The client offered `sip` in `Sec-WebSocket-Protocol`.
        sip: bool,
    },
    /// An HTTP request that does not open a WebSocket here: answer `status` and close.
    Refused {
        /// Bytes of the head, the empty line included.
        len: usize,
        /// HTTP status to answer (400, 404, 405, 426).
        status: u16,
        /// Why, for the record.
        why: &'static str,
    },
    /// Not an HTTP request, or a head over the limit: close without answering.
    NotHttp,
}

/// Reads a client's opening handshake off the front of `buf`, for a listener serving
/// `path`; heads longer than `max_head` are not waited for.
pub fn read_opening<'a>(buf: &'a [u8], path: &[u8], max_head: usize) -> Opening<'a> {
    let Some(len) = head_len(buf) else {
        // What has come of the request line must be printable to be worth waiting for.
        let http_so_far = buf.iter().take_while(|&&b| b != b'\n').all(|b| b.is_ascii_graphic() || b" \r".contains(b));
        return if buf.len() > max_head || !http_so_far { Opening::NotHttp } else { Opening::NeedMore };
    };
    let Some(head) = buf.get(..len).filter(|_| len <= max_head) else { return Opening::NotHttp };
    let mut lines = head.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let first = lines.next().unwrap_or_default();
    let mut parts = first.split(|&b| b == b' ').filter(|p| !p.is_empty());
    let (method, target, version) = (parts.next(), parts.next(), parts.next());
    if !version.is_some_and(|v| v.starts_with(b"HTTP/1.")) || parts.next().is_some() {
        return Opening::NotHttp;
    }
    let refused = |status, why| Opening::Refused { len, status, why };
    if method != Some(b"GET") {
        return refused(405, "not a GET request");
    }
    // The path without its query (RFC 7118 softphones may add one).
    let target = target.unwrap_or_default();
    let target_path = target.split(|&b| b == b'?').next().unwrap_or_default();
    let (mut host, mut upgrade, mut connection, mut key, mut version, mut sip) =
        (false, false, false, None, None, false);
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        let (name, value) = (line.get(..colon).unwrap_or_default().trim_ascii(), line.get(colon + 1..));
        let value = value.unwrap_or_default().trim_ascii();
        let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
        if is("host") {
            host = true;
        } else if is("upgrade") {
            upgrade |= super::has_token(value, b"websocket");
        } else if is("connection") {
            connection |= super::has_token(value, b"upgrade");
        } else if is("sec-websocket-key") {
            key = if key.is_none() { Some(value) } else { Some(&b""[..]) };
        } else if is("sec-websocket-version") {
            version = Some(value);
        } else if is("sec-websocket-protocol") {
            sip |= super::has_token(value, b"sip");
        }
    }
    if target_path != path {
        return refused(404, "not the WebSocket path");
    }
    if !upgrade || !connection {
        return refused(426, "not a WebSocket upgrade");
    }
    if version != Some(b"13") {
        return refused(426, "Sec-WebSocket-Version is not 13");
    }
    match key {
        Some(key) if host && is_nonce(key) => Opening::Upgrade { len, key, sip },
        Some(_) if host => refused(400, "Sec-WebSocket-Key is not 16 bytes in base64"),
        None if host => refused(400, "no Sec-WebSocket-Key"),
        _ => refused(400, "no Host"),
    }
}

/// A `Sec-WebSocket-Key`: 16 bytes in base64, 24 characters ending in `==` (RFC 6455 §4.1).
fn is_nonce(key: &[u8]) -> bool {
    key.len() == 24
        && key.ends_with(b"==")
        && key.iter().take(22).all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
}

/// Appends one unmasked, unfragmented server frame (FIN set) to `out`.
pub fn write_frame(opcode: u8, payload: &[u8], out: &mut Vec<u8>) {
    out.push(0x80 | (opcode & 0x0f));
    match payload.len() {
        n @ 0..=125 => out.push(n as u8),
        n if n <= usize::from(u16::MAX) => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
}

/// A close frame with `code`.
pub fn close_frame(code: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(4);
    write_frame(OP_CLOSE, &code.to_be_bytes(), &mut out);
    out
}

/// The status code of a close frame's payload, if it has one.
pub fn close_code(payload: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*payload.first()?, *payload.get(1)?]))
}

/// What a client sent, one frame at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientEvent<'r> {
    /// A whole data message, unmasked.
    Message {
        /// A text message (binary otherwise).
        text: bool,
        /// The payload.
        payload: &'r [u8],
        /// Frames it came in.
        frames: usize,
    },
    /// A data frame that does not end its message (kept until the last).
    Fragment,
    /// A ping: answer a pong with the same payload.
    Ping(&'r [u8]),
    /// A pong (unsolicited ones are allowed).
    Pong(&'r [u8]),
    /// A close: answer a close and end the connection.
    Close(&'r [u8]),
}

/// What [`ClientReader::read`] found at the front of the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientRead<'r> {
    /// No whole frame yet.
    NeedMore,
    /// One frame of `len` bytes, and what it means.
    Frame {
        /// Bytes of the buffer it took.
        len: usize,
        /// What it was.
        event: ClientEvent<'r>,
    },
    /// A frame RFC 6455 says to fail the connection for, or one over the limit: send a close
    /// with `close_code` and end the connection.
    Fail {
        /// Why.
        why: &'static str,
        /// The close status to send.
        close_code: u16,
    },
}

/// Frames from a client into messages: every frame must be masked, no extension is
/// negotiated (RSV bits clear), fragments continue only an open message, and a message
/// (its fragments together) is at most `max_message` bytes.
#[derive(Clone, Debug, Default)]
pub struct ClientReader {
    max_message: usize,
    /// The data message being rebuilt (unmasked).
    partial: Vec<u8>,
    /// Its opcode and frames so far.
    open: Option<(u8, usize)>,
    /// The last control frame's payload, unmasked.
    control: Vec<u8>,
}

impl ClientReader {
    /// A reader at a frame boundary, for messages of at most `max_message` bytes.
    pub fn new(max_message: usize) -> ClientReader {
        ClientReader { max_message, ..ClientReader::default() }
    }

    /// Reads the frame at the front of `buf`.
    pub fn read(&mut self, buf: &[u8]) -> ClientRead<'_> {
        let fail = |why| ClientRead::Fail { why, close_code: CLOSE_PROTOCOL_ERROR };
        let h: FrameHeader = match frame_header(buf) {
            FrameHead::NeedMore => return ClientRead::NeedMore,
            FrameHead::Invalid(why) => return fail(why),
            FrameHead::Frame(h) => h,
        };
        if buf.first().is_some_and(|b| b & 0x70 != 0) {
            return fail("reserved bits set without an extension");
        }
        if h.mask.is_none() {
            return fail("a client frame not masked");
        }
        let data = h.opcode < 8;
        let kept = if h.opcode == OP_CONTINUATION { self.partial.len() as u64 } else { 0 };
        if data && kept.saturating_add(h.payload_len) > self.max_message as u64 {
            return ClientRead::Fail { why: "a message over the size limit", close_code: CLOSE_TOO_BIG };
        }
        let len = h.header_len.saturating_add(usize::try_from(h.payload_len).unwrap_or(usize::MAX));
        let Some(payload) = buf.get(h.header_len..len) else { return ClientRead::NeedMore };
        if !data {
            self.control.clear();
            unmask_into(h.mask, payload, &mut self.control);
            let event = match h.opcode {
                OP_PING => ClientEvent::Ping(&self.control),
                OP_PONG => ClientEvent::Pong(&self.control),
                _ => ClientEvent::Close(&self.control),
            };
            return ClientRead::Frame { len, event };
        }
        match (h.opcode, self.open) {
            (OP_CONTINUATION, None) => return fail("a continuation frame with no message open"),
            (OP_CONTINUATION, Some((op, frames))) => self.open = Some((op, frames + 1)),
            (_, Some(_)) => return fail("a new message inside a fragmented one"),
            (op, None) => {
                self.partial.clear();
                self.open = Some((op, 1));
            }
        }
        unmask_into(h.mask, payload, &mut self.partial);
        if !h.fin {
            return ClientRead::Frame { len, event: ClientEvent::Fragment };
        }
        let (op, frames) = self.open.take().unwrap_or((OP_TEXT, 1));
        ClientRead::Frame { len, event: ClientEvent::Message { text: op == OP_TEXT, payload: &self.partial, frames } }
    }

    /// The fragments of a message whose last frame has not come, unmasked.
    pub fn unfinished(&self) -> Option<&[u8]> {
        self.open.map(|_| self.partial.as_slice())
    }
}

#[cfg(test)]
mod tests;
