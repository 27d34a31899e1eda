//! Tool fingerprints (004 §IV.B): one pass over a flow's packets merges, per header key, the
//! characters every packet agreed on; what a tool randomizes becomes placeholders, what it
//! hard-codes stays. Memory per flow is bounded by [`MAX_KEYS`] × [`MAX_VALUE_LEN`].
//! See docs/fingerprints.md.

mod cells;
mod substitute;
#[cfg(test)]
mod tests;
mod text;

pub use cells::{Cells, MergedValue, PLACEHOLDER};
pub use substitute::{Substitution, DEST_IP, DEST_PORT, SOURCE_IP, SOURCE_PORT};

use sipscope_sip::sdp::Sdp;
use sipscope_sip::{HeaderName, Message, StartLine};
use std::collections::BTreeSet;
use std::net::SocketAddr;

/// Cells kept per value at each end (longer values are cut and counted).
pub const MAX_VALUE_LEN: usize = 256;
/// Distinct keys kept per flow (further keys are counted, not kept).
pub const MAX_KEYS: usize = 64;
/// Distinct methods (or response codes) kept per flow.
pub const MAX_METHODS: usize = 16;
/// Bytes kept of a raw header name that sipscope does not know (junk names can be long).
const MAX_NAME_LEN: usize = 64;
/// Pseudo-key of the Request-URI (merged like a header value).
pub const REQUEST_URI_KEY: &str = "start:uri";
/// Pseudo-key of the method list (`ACK,INVITE`), for library patterns.
pub const METHODS_KEY: &str = "start:method";
/// Between two lines of the same key in one packet (two `Via` lines, several `a=` lines):
/// kept apart from a comma list on purpose, because which one a tool writes is a trait too.
const REPEAT_SEPARATOR: &[u8] = b" | ";

/// One key of a fingerprint, in merged header order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFingerprint {
    /// Canonical lower-case name (`via` for `v:` and `VIA:`), a raw lower-cased unknown name
    /// (`content-lnegth`), or `sdp:x` for an SDP line.
    pub key: String,
    /// The names as written, merged like values (`Call-ID`, `v`, `CALL-ID` → placeholders).
    pub name: Cells,
    /// The merged values.
    pub value: MergedValue,
}

/// A flow's fingerprint: a snapshot of a [`FingerprintBuilder`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fingerprint {
    packets: u64,
    keys: Vec<KeyFingerprint>,
    methods: BTreeSet<String>,
    request_uri: MergedValue,
    order_varied: bool,
    same_ip: bool,
    same_port: bool,
    truncated_values: u64,
    dropped_keys: u64,
    dropped_methods: u64,
}

/// Builds a [`Fingerprint`] one packet at a time.
#[derive(Debug, Clone, Default)]
pub struct FingerprintBuilder {
    fp: Fingerprint,
}

impl FingerprintBuilder {
    /// An empty builder.
    pub fn new() -> FingerprintBuilder {
        FingerprintBuilder::default()
    }

    /// Merges one packet of the flow, sent from `src` to `dst`. Requests are what tools are
    /// recognised by, but responses are merged the same way (their status code counts as the
    /// method).
    pub fn add(&mut self, msg: &Message<'_>, src: SocketAddr, dst: SocketAddr) {
        let fp = &mut self.fp;
        fp.packets += 1;
        fp.same_ip |= src.ip().to_canonical() == dst.ip().to_canonical();
        fp.same_port |= src.port() == dst.port();
        let subst = Substitution::new(src, dst);
        let method = match msg.start_line() {
            StartLine::Request { method, .. } => escape_name(method),
            StartLine::Response { code_raw, .. } => escape_name(code_raw),
        };
        if fp.methods.len() < MAX_METHODS || fp.methods.contains(&method) {
            fp.methods.insert(method);
        } else {
            fp.dropped_methods += 1;
        }
        if let Some(uri) = msg.request_uri_raw() {
            let uri = subst.apply(uri);
            fp.truncated_values += u64::from(uri.len() > MAX_VALUE_LEN);
            fp.request_uri.add(&uri, MAX_VALUE_LEN);
        }
        let keys = packet_keys(msg);
        let mut cursor = None;
        for (t, (key, name, value)) in keys.iter().enumerate() {
            let next_known = || keys[t + 1..].iter().find_map(|(k, _, _)| fp.position(k));
            let bound = if fp.position(key).is_none() { next_known() } else { None };
            fp.merge(&mut cursor, bound, key, name, &subst.apply(value));
        }
    }

    /// Packets merged so far.
    pub fn packets(&self) -> u64 {
        self.fp.packets
    }

    /// The fingerprint of the packets merged so far.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fp.clone()
    }
}

/// Every key of one packet in order of first appearance, with its raw name and its values
/// joined by [`REPEAT_SEPARATOR`]: headers first, then SDP lines.
fn packet_keys(msg: &Message<'_>) -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let mut keys: Vec<(String, Vec<u8>, Vec<u8>)> = Vec::new();
    let mut push = |key: String, name: &[u8], value: &[u8]| match keys.iter_mut().find(|(k, _, _)| *k == key) {
        Some((_, _, joined)) => {
            joined.extend_from_slice(REPEAT_SEPARATOR);
            joined.extend_from_slice(value);
        }
        None => keys.push((key, name.to_vec(), value.to_vec())),
    };
    for header in msg.headers() {
        let key = match header.kind {
            HeaderName::Other => escape_name(header.name).to_ascii_lowercase(),
            known => known.canonical().to_ascii_lowercase(),
        };
        push(key, header.name, header.value);
    }
    let body = msg.body();
    let says_sdp = msg.content_type().is_some_and(|t| t.to_ascii_lowercase().windows(3).any(|w| w == b"sdp"));
    if !body.is_empty() && (says_sdp || Sdp::is_well_formed_body(body)) {
        for line in Sdp::parse(body).lines {
            let key = format!("sdp:{}", char::from(line.kind));
            push(key.clone(), key.as_bytes(), line.value);
        }
    }
    keys
}

/// A raw name or method as text: `\xNN` for anything but printable ASCII, cut at
/// [`MAX_NAME_LEN`] bytes.
fn escape_name(raw: &[u8]) -> String {
    Cells::from_bytes(&raw[..raw.len().min(MAX_NAME_LEN)]).text()
}

impl Fingerprint {
    fn position(&self, key: &str) -> Option<usize> {
        self.keys.iter().position(|k| k.key == key)
    }

    /// Merges one key of the current packet, keeping the merged header order: a key not seen
    /// before goes after the last key this packet had before it (`cursor`), and before the
    /// next one it has that is already known (`bound`); among the keys in between (which this
    /// packet lacks) in name order. So packets whose keys are a subsequence of another's (an
    /// ACK after its INVITE), or that add different optional keys at the same place, merge to
    /// the same order whichever comes first.
    fn merge(&mut self, cursor: &mut Option<usize>, bound: Option<usize>, key: &str, name: &[u8], value: &[u8]) {
        let pos = match self.position(key) {
            Some(pos) => pos,
            None if self.keys.len() >= MAX_KEYS => {
                self.dropped_keys += 1;
                return;
            }
            None => {
                let mut at = cursor.map_or(0, |c| c + 1);
                let bound = bound.unwrap_or(self.keys.len());
                while at < bound && self.keys[at].key.as_str() < key {
                    at += 1;
                }
                let entry =
                    KeyFingerprint { key: key.to_string(), name: Cells::default(), value: MergedValue::default() };
                self.keys.insert(at, entry);
                at
            }
        };
        if cursor.is_some_and(|c| pos < c) {
            self.order_varied = true;
        }
        *cursor = Some(pos);
        self.truncated_values += u64::from(value.len() > MAX_VALUE_LEN);
        let entry = &mut self.keys[pos];
        let name = &name[..name.len().min(MAX_NAME_LEN)];
        if entry.value.present() == 0 {
            entry.name.set(name.iter().copied(), MAX_NAME_LEN);
        } else {
            entry.name.merge(name.iter().copied(), MAX_NAME_LEN);
        }
        entry.value.add(value, MAX_VALUE_LEN);
    }
}

impl Fingerprint {
    /// Packets merged.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Every key in merged header order (headers, then SDP lines).
    pub fn keys(&self) -> &[KeyFingerprint] {
        &self.keys
    }

    /// The merged value of a key (canonical lower-case name, `sdp:x`, or
    /// [`REQUEST_URI_KEY`]).
    pub fn value(&self, key: &str) -> Option<&MergedValue> {
        if key == REQUEST_URI_KEY {
            return (self.request_uri.present() > 0).then_some(&self.request_uri);
        }
        self.keys.iter().find(|k| k.key == key).map(|k| &k.value)
    }

    /// True when some packets lack the key although it appeared in others.
    pub fn is_optional(&self, key: &str) -> bool {
        self.value(key).is_some_and(|v| v.present() < self.packets)
    }

    /// Methods seen (response status codes for responses), sorted.
    pub fn methods(&self) -> impl Iterator<Item = &str> {
        self.methods.iter().map(String::as_str)
    }

    /// The Request-URIs merged (nothing merged when the flow had no request).
    pub fn request_uri(&self) -> &MergedValue {
        &self.request_uri
    }

    /// True when some packet's keys came in another relative order than the merged one (the
    /// order line then shows the first packet's order for the keys in conflict).
    pub fn order_varied(&self) -> bool {
        self.order_varied
    }

    /// True when some packet was sent to its own address (loopback tests): `SourceIP` then
    /// stands for both, since the source is replaced first.
    pub fn same_ip(&self) -> bool {
        self.same_ip
    }

    /// True when some packet's source and destination ports were equal (SIPVicious binds
    /// 5060 and scans 5060): `SourcePort` then stands for both.
    pub fn same_port(&self) -> bool {
        self.same_port
    }

    /// Values longer than [`MAX_VALUE_LEN`] (cut; both ends kept).
    pub fn truncated_values(&self) -> u64 {
        self.truncated_values
    }

    /// Header lines not kept because [`MAX_KEYS`] keys were already kept.
    pub fn dropped_keys(&self) -> u64 {
        self.dropped_keys
    }

    /// Packets whose method was not kept because [`MAX_METHODS`] were already kept.
    pub fn dropped_methods(&self) -> u64 {
        self.dropped_methods
    }
}
