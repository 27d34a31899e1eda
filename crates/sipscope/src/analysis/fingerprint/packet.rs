//! A packet as the merge reads it: its keys collected in order of first appearance (header
//! names made canonical, repeated lines joined, SDP lines as `sdp:x`), values read with the
//! packet's addresses replaced, either straight from the message or from a [`super::record`].

use super::record;
use super::substitute::{Substitution, SubstitutionBuffers};
use super::{escape_name_into, Fingerprint, MAX_NAME_LEN, REPEAT_SEPARATOR};
use sipscope_sip::sdp::Sdp;
use sipscope_sip::{HeaderName, Message, StartLine};
use std::net::SocketAddr;
use std::ops::Range;

/// Buffers for [`FingerprintBuilder::add_with`], reused from packet to packet (and shared by
/// the flows) so that merging a packet does not allocate.
#[derive(Debug, Clone, Default)]
pub struct PacketBuffers {
    substitution: SubstitutionBuffers,
    /// The packet's keys in order of first appearance.
    keys: Vec<PacketKey>,
    /// Every header, then every SDP line, with the index of its key in `keys`.
    lines: Vec<(usize, Line)>,
    /// Key texts, and the values of keys with several lines, joined.
    text: Vec<u8>,
    /// The packet as merged.
    record: record::RecordWriter,
}

/// One key of the packet being merged.
#[derive(Debug, Clone)]
struct PacketKey {
    id: KeyId,
    /// The key's text in [`PacketBuffers::text`].
    key: Range<usize>,
    /// The first line: a header index, or an SDP line's value (a range of the body).
    first: Line,
    lines: usize,
    /// The joined value in [`PacketBuffers::text`] (keys with several lines).
    joined: Range<usize>,
}

/// What tells keys apart within one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyId {
    Known(HeaderName),
    /// A name sipscope does not know, by its key text.
    Other,
    Sdp(u8),
}

#[derive(Debug, Clone)]
enum Line {
    Header(usize),
    Sdp(Range<usize>),
}

impl PacketBuffers {
    /// The packet `msg` from `src` to `dst` as a record: addresses replaced in the
    /// Request-URI and the values.
    pub(super) fn record(&mut self, msg: &Message<'_>, src: SocketAddr, dst: SocketAddr) -> &[u8] {
        let subst = Substitution::new(src, dst);
        let method = match msg.start_line() {
            StartLine::Request { method, .. } => method,
            StartLine::Response { code_raw, .. } => code_raw,
        };
        let same_ip = src.ip().to_canonical() == dst.ip().to_canonical();
        let uri = msg.request_uri_raw().map(|uri| subst.apply_in(uri, &mut self.substitution));
        self.record.start(same_ip, src.port() == dst.port(), &method[..method.len().min(MAX_NAME_LEN)], uri);
        self.collect(msg);
        let PacketBuffers { substitution, keys, text, record, .. } = self;
        for packet_key in keys.iter() {
            let key = &text[packet_key.key.clone()];
            let (name, value) = match &packet_key.first {
                Line::Header(i) => {
                    let header = &msg.headers()[*i];
                    (header.name, header.value)
                }
                Line::Sdp(range) => (key, &msg.body()[range.clone()]),
            };
            let value = if packet_key.lines > 1 { &text[packet_key.joined.clone()] } else { value };
            record.key(key, &name[..name.len().min(MAX_NAME_LEN)], subst.apply_in(value, substitution));
        }
        self.record.finish()
    }

    /// Every key of one packet in order of first appearance, with its raw name and its values
    /// joined by [`REPEAT_SEPARATOR`]: headers first, then SDP lines.
    fn collect(&mut self, msg: &Message<'_>) {
        self.keys.clear();
        self.lines.clear();
        self.text.clear();
        for (i, header) in msg.headers().iter().enumerate() {
            let start = self.text.len();
            let id = match header.kind {
                HeaderName::Other => {
                    escape_name_into(header.name, &mut self.text);
                    self.text[start..].make_ascii_lowercase();
                    KeyId::Other
                }
                known => {
                    self.text.extend(known.canonical().bytes().map(|b| b.to_ascii_lowercase()));
                    KeyId::Known(known)
                }
            };
            self.push(id, start, Line::Header(i));
        }
        let body = msg.body();
        let says_sdp = msg.content_type().is_some_and(|t| t.windows(3).any(|w| w.eq_ignore_ascii_case(b"sdp")));
        if !body.is_empty() && (says_sdp || Sdp::is_well_formed_body(body)) {
            // The lines `Sdp::parse` keeps: `x=value` with a lower-case letter.
            for line in body.split(|&b| b == b'\n') {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let [kind, b'=', value @ ..] = line else { continue };
                if !kind.is_ascii_lowercase() {
                    continue;
                }
                let start = self.text.len();
                self.text.extend_from_slice(b"sdp:");
                self.text.push(*kind);
                let offset = value.as_ptr() as usize - body.as_ptr() as usize;
                self.push(KeyId::Sdp(*kind), start, Line::Sdp(offset..offset + value.len()));
            }
        }
        // Keys with several lines: their values joined, in order.
        for k in 0..self.keys.len() {
            if self.keys[k].lines < 2 {
                continue;
            }
            let start = self.text.len();
            for (n, (_, line)) in self.lines.iter().filter(|(owner, _)| *owner == k).enumerate() {
                if n > 0 {
                    self.text.extend_from_slice(REPEAT_SEPARATOR);
                }
                self.text.extend_from_slice(line.value(msg));
            }
            self.keys[k].joined = start..self.text.len();
        }
    }

    /// Records a line whose key text was just written at `start..` of the text.
    fn push(&mut self, id: KeyId, start: usize, line: Line) {
        let text = &self.text;
        let same = |k: &PacketKey| match (k.id, id) {
            // Two known names are one key exactly when they are one name.
            (KeyId::Known(a), KeyId::Known(b)) => a == b,
            _ => text[k.key.clone()] == text[start..],
        };
        let owner = match self.keys.iter().position(same) {
            Some(k) => {
                self.text.truncate(start);
                self.keys[k].lines += 1;
                k
            }
            None => {
                let key = start..self.text.len();
                self.keys.push(PacketKey { id, key, first: line.clone(), lines: 1, joined: 0..0 });
                self.keys.len() - 1
            }
        };
        self.lines.push((owner, line));
    }
}

impl Line {
    fn value<'m>(&self, msg: &Message<'m>) -> &'m [u8] {
        match self {
            Line::Header(i) => msg.headers()[*i].value,
            Line::Sdp(range) => &msg.body()[range.clone()],
        }
    }
}

/// The keys of a packet as the merge reads them: from the message itself, addresses replaced
/// as each value is read, or from a [`record`].
pub(super) trait PacketKeys {
    /// Keys in the packet.
    fn keys(&self) -> usize;
    /// Key `t`'s text.
    fn key(&self, t: usize) -> &[u8];
    /// Key `t`'s text, name as written and value (addresses replaced).
    fn entry(&mut self, t: usize) -> (&[u8], &[u8], &[u8]);
}

impl PacketKeys for record::Record<'_> {
    fn keys(&self) -> usize {
        record::Record::keys(self)
    }

    fn key(&self, t: usize) -> &[u8] {
        record::Record::key(self, t)
    }

    fn entry(&mut self, t: usize) -> (&[u8], &[u8], &[u8]) {
        let (name, value) = self.name_value(t);
        (record::Record::key(self, t), name, value)
    }
}

/// A message's keys collected by [`PacketBuffers::collect`].
struct MessageKeys<'a, 'm> {
    msg: &'a Message<'m>,
    subst: &'a Substitution,
    buffers: &'a mut SubstitutionBuffers,
    keys: &'a [PacketKey],
    text: &'a [u8],
}

impl PacketKeys for MessageKeys<'_, '_> {
    fn keys(&self) -> usize {
        self.keys.len()
    }

    fn key(&self, t: usize) -> &[u8] {
        &self.text[self.keys[t].key.clone()]
    }

    fn entry(&mut self, t: usize) -> (&[u8], &[u8], &[u8]) {
        let packet_key = &self.keys[t];
        let key = &self.text[packet_key.key.clone()];
        let (name, value) = match &packet_key.first {
            Line::Header(i) => {
                let header = &self.msg.headers()[*i];
                (header.name, header.value)
            }
            Line::Sdp(range) => (key, &self.msg.body()[range.clone()]),
        };
        let value = if packet_key.lines > 1 { &self.text[packet_key.joined.clone()] } else { value };
        (key, name, self.subst.apply_in(value, self.buffers))
    }
}

impl Fingerprint {
    /// Merges the packet `msg` from `src` to `dst` (what [`PacketBuffers::record`] and
    /// [`Fingerprint::merge_record`] do, without the record).
    pub(super) fn merge_message(
        &mut self,
        msg: &Message<'_>,
        src: SocketAddr,
        dst: SocketAddr,
        scratch: &mut PacketBuffers,
    ) {
        let subst = Substitution::new(src, dst);
        let method = match msg.start_line() {
            StartLine::Request { method, .. } => method,
            StartLine::Response { code_raw, .. } => code_raw,
        };
        let same_ip = src.ip().to_canonical() == dst.ip().to_canonical();
        let uri = msg.request_uri_raw().map(|uri| subst.apply_in(uri, &mut scratch.substitution));
        self.merge_start(same_ip, src.port() == dst.port(), method, uri);
        scratch.collect(msg);
        let PacketBuffers { substitution, keys, text, .. } = scratch;
        self.merge_keys(&mut MessageKeys { msg, subst: &subst, buffers: substitution, keys, text });
    }
}
