//! Tool fingerprints (004 §IV.B): one pass over a flow's packets merges, per header key, the
//! characters every packet agreed on; what a tool randomizes becomes placeholders, what it
//! hard-codes stays. Memory per flow is bounded by [`MAX_KEYS`] × [`MAX_VALUE_LEN`].
//! See docs/fingerprints.md.

mod cells;
mod packet;
mod record;
mod substitute;
#[cfg(test)]
mod tests;
mod text;

pub use cells::{Cells, MergedValue, PLACEHOLDER};
pub use packet::PacketBuffers;
use packet::PacketKeys;
pub use substitute::{Substitution, SubstitutionBuffers, DEST_IP, DEST_PORT, SOURCE_IP, SOURCE_PORT};

use sipscope_sip::Message;
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
    /// The first packet as a [`record`], merged when a second one comes or the fingerprint
    /// is asked for: most flows of a telescope have one packet, and this is a fifth of its
    /// merged form.
    pending: Option<Box<[u8]>>,
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
        self.add_with(msg, src, dst, &mut PacketBuffers::default());
    }

    /// [`FingerprintBuilder::add`] with buffers kept by the caller.
    pub fn add_with(&mut self, msg: &Message<'_>, src: SocketAddr, dst: SocketAddr, scratch: &mut PacketBuffers) {
        if self.fp.packets == 0 && self.pending.is_none() {
            self.pending = Some(scratch.record(msg, src, dst).into());
            return;
        }
        if let Some(first) = self.pending.take() {
            self.fp.merge_record(&first);
        }
        self.fp.merge_message(msg, src, dst, scratch);
    }

    /// Packets merged so far.
    pub fn packets(&self) -> u64 {
        self.fp.packets + u64::from(self.pending.is_some())
    }

    /// The fingerprint of the packets merged so far.
    pub fn fingerprint(&self) -> Fingerprint {
        let mut fp = self.fp.clone();
        if let Some(first) = &self.pending {
            fp.merge_record(first);
        }
        fp
    }

    /// Heap bytes held, about: the first packet's record while it waits, the merged keys.
    pub fn heap_bytes(&self) -> usize {
        self.pending.as_ref().map_or(0, |p| p.len()) + self.fp.heap_bytes()
    }

    /// The fingerprint of the packets merged, without a copy.
    pub fn into_fingerprint(mut self) -> Fingerprint {
        if let Some(first) = self.pending.take() {
            self.fp.merge_record(&first);
        }
        self.fp
    }
}

/// A raw name or method as text: `\xNN` for anything but printable ASCII, cut at
/// [`MAX_NAME_LEN`] bytes.
fn escape_name(raw: &[u8]) -> String {
    Cells::from_bytes(&raw[..raw.len().min(MAX_NAME_LEN)]).text()
}

/// [`escape_name`] appended to `out`.
fn escape_name_into(raw: &[u8], out: &mut Vec<u8>) {
    let raw = &raw[..raw.len().min(MAX_NAME_LEN)];
    if raw.iter().all(|&b| is_plain(b)) {
        out.extend_from_slice(raw);
    } else {
        out.extend_from_slice(escape_name(raw).as_bytes());
    }
}

/// A byte that [`Cells::text`] writes as itself.
fn is_plain(b: u8) -> bool {
    (0x20..=0x7e).contains(&b) && b != b'\\'
}

impl Fingerprint {
    /// Merges one packet, given as a [`record`].
    fn merge_record(&mut self, bytes: &[u8]) {
        let Some(mut packet) = record::Record::read(bytes) else { return };
        self.merge_start(packet.same_ip(), packet.same_port(), packet.method(), packet.uri());
        self.merge_keys(&mut packet);
    }

    /// Merges what a packet has besides its keys.
    fn merge_start(&mut self, same_ip: bool, same_port: bool, method: &[u8], uri: Option<&[u8]>) {
        self.packets += 1;
        self.same_ip |= same_ip;
        self.same_port |= same_port;
        self.add_method(method);
        if let Some(uri) = uri {
            self.truncated_values += u64::from(uri.len() > MAX_VALUE_LEN);
            self.request_uri.add(uri, MAX_VALUE_LEN);
        }
    }

    /// Merges a packet's keys, in its order.
    fn merge_keys(&mut self, packet: &mut impl PacketKeys) {
        let mut cursor = None;
        for t in 0..packet.keys() {
            let hint = cursor.map_or(0, |c: usize| c + 1);
            let pos = self.find(packet.key(t), hint);
            let bound =
                if pos.is_none() { (t + 1..packet.keys()).find_map(|k| self.find(packet.key(k), 0)) } else { None };
            let (key, name, value) = packet.entry(t);
            self.merge(&mut cursor, pos, bound, key, name, value);
        }
    }

    /// Where `key` is in the merged order, looking at `hint` first (packets of one tool mostly
    /// repeat the order).
    fn find(&self, key: &[u8], hint: usize) -> Option<usize> {
        // Keys are short: byte-wise comparisons beat `memcmp` calls.
        let is = |k: &KeyFingerprint| k.key.len() == key.len() && k.key.bytes().zip(key).all(|(a, b)| a == *b);
        if self.keys.get(hint).is_some_and(is) {
            return Some(hint);
        }
        self.keys.iter().position(is)
    }

    /// Adds a packet's method (or status code), without allocating when it is known.
    fn add_method(&mut self, raw: &[u8]) {
        let raw = &raw[..raw.len().min(MAX_NAME_LEN)];
        let plain = raw.iter().all(|&b| is_plain(b)).then(|| std::str::from_utf8(raw).ok()).flatten();
        if plain.is_some_and(|method| self.methods.contains(method)) {
            return;
        }
        let method = escape_name(raw);
        if self.methods.len() < MAX_METHODS || self.methods.contains(&method) {
            self.methods.insert(method);
        } else {
            self.dropped_methods += 1;
        }
    }

    /// Merges one key of the current packet (at `pos` when already known), keeping the merged
    /// header order: a key not seen before goes after the last key this packet had before it
    /// (`cursor`), and before the next one it has that is already known (`bound`); among the
    /// keys in between (which this packet lacks) in name order. So packets whose keys are a
    /// subsequence of another's (an ACK after its INVITE), or that add different optional keys
    /// at the same place, merge to the same order whichever comes first.
    fn merge(
        &mut self,
        cursor: &mut Option<usize>,
        pos: Option<usize>,
        bound: Option<usize>,
        key: &[u8],
        name: &[u8],
        value: &[u8],
    ) {
        let pos = match pos {
            Some(pos) => pos,
            None if self.keys.len() >= MAX_KEYS => {
                self.dropped_keys += 1;
                return;
            }
            None => {
                // Key texts are ASCII: escaped or canonical names, `sdp:x`.
                let key = String::from_utf8_lossy(key).into_owned();
                let mut at = cursor.map_or(0, |c| c + 1);
                let bound = bound.unwrap_or(self.keys.len());
                while at < bound && self.keys[at].key < key {
                    at += 1;
                }
                let entry = KeyFingerprint { key, name: Cells::default(), value: MergedValue::default() };
                if self.keys.len() == self.keys.capacity() {
                    // A few at a time rather than doubling: every open flow keeps its keys.
                    self.keys.reserve_exact(4);
                }
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
            entry.name.set_front(name, MAX_NAME_LEN);
        } else {
            entry.name.merge_front(name, MAX_NAME_LEN);
        }
        entry.value.add(value, MAX_VALUE_LEN);
    }
}

impl Fingerprint {
    /// Heap bytes held, about.
    pub fn heap_bytes(&self) -> usize {
        let key = |k: &KeyFingerprint| k.key.capacity() + k.name.heap_bytes() + k.value.heap_bytes();
        self.keys.capacity() * std::mem::size_of::<KeyFingerprint>()
            + self.keys.iter().map(key).sum::<usize>()
            + self.methods.iter().map(|m| m.capacity() + 2 * std::mem::size_of::<String>()).sum::<usize>()
            + self.request_uri.heap_bytes()
    }

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
