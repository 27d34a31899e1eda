//! WebSocket (RFC 6455) as a capture shows it, for SIP over WebSocket (RFC 7118): the HTTP/1.1
//! upgrade that opens a connection ([`upgrade`]), frame headers ([`frame_header`]), and
//! [`WsStream`], which reads frames off one direction of a reassembled TCP stream and rebuilds
//! messages from fragmented frames, masked (client to server) or not. Sans-IO: bytes in,
//! messages out, every buffer bounded by [`WsLimits`].

use crate::error::be16;

pub mod server;
#[cfg(test)]
mod tests;

/// Bounds on WebSocket decoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WsLimits {
    /// Longest HTTP upgrade head (request or response line and headers) waited for.
    pub max_handshake_bytes: usize,
    /// Largest message kept (a frame, or the frames of a fragmented message together); a longer
    /// one is skipped and counted ([`WsStats::over_limit`]). Keep it below the TCP
    /// reassembler's `max_stream_bytes`, which must hold a whole frame.
    pub max_message_bytes: usize,
}

impl Default for WsLimits {
    /// 8 KiB of handshake, 128 KiB messages.
    fn default() -> Self {
        WsLimits { max_handshake_bytes: 8 << 10, max_message_bytes: 128 << 10 }
    }
}

/// What the front of a stream says about a WebSocket upgrade.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upgrade {
    /// The start of an HTTP request or response whose head is not complete yet.
    NeedMore,
    /// An upgrade to WebSocket: a `GET` request with `Upgrade: websocket`, or a `101` response;
    /// `len` bytes of HTTP head, frames follow. `sip` when `Sec-WebSocket-Protocol` names `sip`.
    Done {
        /// Bytes of the HTTP head, the empty line included.
        len: usize,
        /// The subprotocol is SIP (RFC 7118).
        sip: bool,
    },
    /// Not an upgrade: not HTTP, another HTTP request, or a head over the limit.
    No,
}

/// Reads an HTTP/1.1 upgrade head off the front of `buf`.
pub fn upgrade(buf: &[u8], limits: WsLimits) -> Upgrade {
    let request = buf.starts_with(b"GET ");
    let response = buf.starts_with(b"HTTP/1.");
    let prefix = |p: &[u8]| p.starts_with(&buf[..buf.len().min(p.len())]);
    if !request && !response {
        return if !buf.is_empty() && (prefix(b"GET ") || prefix(b"HTTP/1.")) {
            Upgrade::NeedMore
        } else {
            Upgrade::No
        };
    }
    let Some(len) = head_len(buf) else {
        return if buf.len() > limits.max_handshake_bytes { Upgrade::No } else { Upgrade::NeedMore };
    };
    if len > limits.max_handshake_bytes {
        return Upgrade::No;
    }
    let head = &buf[..len];
    let mut lines = head.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let first = lines.next().unwrap_or_default();
    let (mut upgrade, mut sip) = (false, false);
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        let (name, value) = (line[..colon].trim_ascii(), &line[colon + 1..]);
        if name.eq_ignore_ascii_case(b"upgrade") {
            upgrade |= has_token(value, b"websocket");
        } else if name.eq_ignore_ascii_case(b"sec-websocket-protocol") {
            sip |= has_token(value, b"sip");
        }
    }
    let switching = response && first.get(8..12) == Some(b" 101") && first.get(12).is_none_or(|&c| c == b' ');
    if (request && upgrade) || switching {
        Upgrade::Done { len, sip }
    } else {
        Upgrade::No
    }
}

/// Length of an HTTP head (through its empty line, CRLF CRLF or LF LF).
fn head_len(buf: &[u8]) -> Option<usize> {
    let mut at = 0;
    while let Some(i) = buf.get(at..)?.iter().position(|&b| b == b'\n') {
        let end = at + i + 1;
        match buf.get(end) {
            Some(b'\n') => return Some(end + 1),
            Some(b'\r') if buf.get(end + 1) == Some(&b'\n') => return Some(end + 2),
            _ => at = end,
        }
    }
    None
}

/// Is `token` one of the comma-separated values (case-insensitive)?
fn has_token(value: &[u8], token: &[u8]) -> bool {
    value.split(|&b| b == b',').any(|v| v.trim_ascii().eq_ignore_ascii_case(token))
}

/// Opcode of a continuation frame.
pub const OP_CONTINUATION: u8 = 0;
/// Opcode of a text frame.
pub const OP_TEXT: u8 = 1;
/// Opcode of a binary frame.
pub const OP_BINARY: u8 = 2;

/// A frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN: the last frame of its message.
    pub fin: bool,
    /// RSV1 (set by permessage-deflate on a compressed message's first frame).
    pub rsv1: bool,
    /// Opcode: 0 continuation, 1 text, 2 binary, 8 close, 9 ping, 10 pong.
    pub opcode: u8,
    /// The masking key (frames from clients).
    pub mask: Option<[u8; 4]>,
    /// Bytes of the header.
    pub header_len: usize,
    /// Bytes of payload after it.
    pub payload_len: u64,
}

/// What the front of a buffer holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameHead {
    /// A frame header starts here but is cut.
    NeedMore,
    /// A frame header (its payload may not all be there yet).
    Frame(FrameHeader),
    /// Not a frame: the stream cannot be followed past here.
    Invalid(&'static str),
}

/// Reads a frame header off the front of `buf`.
pub fn frame_header(buf: &[u8]) -> FrameHead {
    let (Some(&b0), Some(&b1)) = (buf.first(), buf.get(1)) else { return FrameHead::NeedMore };
    let opcode = b0 & 0x0f;
    let fin = b0 & 0x80 != 0;
    if matches!(opcode, 3..=7 | 11..=15) {
        return FrameHead::Invalid("reserved opcode");
    }
    let (payload_len, mut at) = match b1 & 0x7f {
        126 => match buf.get(2..4) {
            Some(b) => (u64::from(be16([b[0], b[1]])), 4),
            None => return FrameHead::NeedMore,
        },
        127 => match buf.get(2..10).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
            Some(b) if b[0] & 0x80 != 0 => return FrameHead::Invalid("64-bit length with the top bit set"),
            Some(b) => (u64::from_be_bytes(b), 10),
            None => return FrameHead::NeedMore,
        },
        n => (u64::from(n), 2),
    };
    if opcode >= 8 && (!fin || payload_len > 125) {
        return FrameHead::Invalid("control frame fragmented or over 125 bytes");
    }
    let mask = if b1 & 0x80 != 0 {
        match buf.get(at..at + 4).and_then(|m| <[u8; 4]>::try_from(m).ok()) {
            Some(m) => {
                at += 4;
                Some(m)
            }
            None => return FrameHead::NeedMore,
        }
    } else {
        None
    };
    FrameHead::Frame(FrameHeader { fin, rsv1: b0 & 0x40 != 0, opcode, mask, header_len: at, payload_len })
}

/// Appends `payload` to `out`, unmasked with `mask` (payload byte `i` is XORed with
/// `mask[i % 4]`).
pub fn unmask_into(mask: Option<[u8; 4]>, payload: &[u8], out: &mut Vec<u8>) {
    match mask {
        None => out.extend_from_slice(payload),
        Some(m) => out.extend(payload.iter().enumerate().map(|(i, b)| b ^ m[i % 4])),
    }
}

/// A whole message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WsMessage<'a> {
    /// A text message (opcode 1); binary otherwise.
    pub text: bool,
    /// The payload, unmasked.
    pub payload: &'a [u8],
    /// Frames it came in.
    pub frames: usize,
}

/// Counters of WebSocket decoding.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WsStats {
    /// Frames read (control frames included).
    pub frames: u64,
    /// Data messages handed out.
    pub messages: u64,
    /// Messages skipped because they exceeded `max_message_bytes`.
    pub over_limit: u64,
    /// Messages compressed by an extension (RSV1, permessage-deflate), skipped.
    pub compressed: u64,
    /// Fragmented messages interrupted by a new message, and stray continuation frames.
    pub broken: u64,
}

/// One direction of a WebSocket connection: frames in, messages out.
#[derive(Clone, Debug, Default)]
pub struct WsStream {
    limits: WsLimits,
    /// The message being rebuilt from fragments (unmasked).
    partial: Vec<u8>,
    /// Opcode and frame count of that message; `None` between messages.
    open: Option<(u8, usize)>,
    /// The current message is being skipped (over the limit, compressed, or stray).
    skipping: bool,
    /// Payload bytes of the current frame still to skip.
    skip: u64,
}

/// What [`WsStream::read`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WsRead {
    /// Bytes of the buffer consumed (whole frames, or skipped payload).
    pub consumed: usize,
    /// The stream is not WebSocket past `consumed`: why.
    pub invalid: Option<&'static str>,
}

impl WsStream {
    /// A stream at a frame boundary.
    pub fn new(limits: WsLimits) -> WsStream {
        WsStream { limits, ..WsStream::default() }
    }

    /// Reads every whole frame off the front of `buf`; each message completed goes to `out`.
    /// Consume what [`WsRead::consumed`] says and call again when more bytes arrive.
    pub fn read(&mut self, buf: &[u8], stats: &mut WsStats, out: &mut impl FnMut(WsMessage<'_>)) -> WsRead {
        let mut at = 0;
        loop {
            let rest = buf.get(at..).unwrap_or_default();
            if self.skip > 0 {
                let n = self.skip.min(rest.len() as u64);
                self.skip -= n;
                at += n as usize;
                if self.skip > 0 {
                    return WsRead { consumed: at, invalid: None };
                }
                continue;
            }
            let h = match frame_header(rest) {
                FrameHead::NeedMore => return WsRead { consumed: at, invalid: None },
                FrameHead::Invalid(why) => return WsRead { consumed: at, invalid: Some(why) },
                FrameHead::Frame(h) => h,
            };
            let kept = self.partial.len() as u64 + h.payload_len;
            let keep = h.opcode < 8 && kept <= self.limits.max_message_bytes as u64;
            let whole = rest.get(h.header_len..).and_then(|p| p.get(..usize::try_from(h.payload_len).ok()?));
            let payload = match whole {
                Some(p) if keep => p,
                // Control frames and payloads over the limit are skipped as they come.
                _ if !keep => {
                    stats.frames += 1;
                    self.skip = h.payload_len;
                    at += h.header_len;
                    if h.opcode < 8 {
                        self.data_frame_skipped(h, stats);
                    }
                    continue;
                }
                _ => return WsRead { consumed: at, invalid: None },
            };
            stats.frames += 1;
            at += h.header_len + payload.len();
            self.data_frame(h, payload, stats, out);
        }
    }

    /// A data frame over the limit: its message is skipped to its end.
    fn data_frame_skipped(&mut self, h: FrameHeader, stats: &mut WsStats) {
        if h.opcode != OP_CONTINUATION {
            self.interrupt(stats);
        }
        if !self.skipping {
            stats.over_limit += 1;
        }
        self.partial.clear();
        self.open = None;
        self.skipping = !h.fin;
    }

    fn interrupt(&mut self, stats: &mut WsStats) {
        if self.open.is_some() {
            stats.broken += 1;
        }
        self.partial.clear();
        self.open = None;
        self.skipping = false;
    }

    fn data_frame(&mut self, h: FrameHeader, payload: &[u8], stats: &mut WsStats, out: &mut impl FnMut(WsMessage<'_>)) {
        if h.opcode == OP_CONTINUATION {
            if self.skipping {
                self.skipping = !h.fin;
                return;
            }
            let Some((op, frames)) = self.open else {
                stats.broken += 1;
                self.skipping = !h.fin;
                return;
            };
            unmask_into(h.mask, payload, &mut self.partial);
            self.open = Some((op, frames + 1));
        } else {
            self.interrupt(stats);
            if h.rsv1 {
                stats.compressed += 1;
                self.skipping = !h.fin;
                return;
            }
            if h.fin && h.mask.is_none() {
                stats.messages += 1;
                return out(WsMessage { text: h.opcode == OP_TEXT, payload, frames: 1 });
            }
            unmask_into(h.mask, payload, &mut self.partial);
            self.open = Some((h.opcode, 1));
        }
        if h.fin {
            if let Some((op, frames)) = self.open.take() {
                stats.messages += 1;
                out(WsMessage { text: op == OP_TEXT, payload: &self.partial, frames });
            }
            self.partial.clear();
        }
    }

    /// A fragmented message whose end never came (the capture or connection ended): what
    /// there is of it, unmasked.
    pub fn unfinished(&self) -> Option<&[u8]> {
        self.open.map(|_| self.partial.as_slice())
    }
}
