//! Message counts per hour, node, source, kind, method, direction and user agent, and INVITEs
//! per hour, node, source and dialled user: the pre-aggregated tables that reports count
//! messages from, so a report over ten million events reads a few hundred thousand rows
//! instead of the events (docs/reports.md "Speed").
//!
//! Every message the engine sees is counted, also those whose event was not stored
//! (`ingest --events none|sample:N`) and those from sources beyond the engine's caps: counts
//! are never capped. Memory is: entries of hours that ended go out with
//! [`TrafficRollup::drain_finished`], and everything goes out when the table is full. A key
//! may thus appear in several rows of a run; readers sum them.

use super::engine::Seen;
use super::result::{DialledRow, TrafficRow};
use crate::event::fields::lossless_text;
use crate::event::Direction;
use sipscope_sip::Message;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

pub use crate::time::HOUR_NS;

/// Entries (and interned texts) held before everything is handed over, by default
/// (`AnalysisConfig::max_traffic_entries`).
pub const MAX_ENTRIES: usize = 200_000;

/// Bytes of interned text held before everything is handed over, by default
/// (`AnalysisConfig::max_traffic_text_bytes`): the texts are the attacker's (agents, methods,
/// dialled users), so entries alone do not bound them.
pub const MAX_TEXT_BYTES: usize = 32 << 20;

/// What one interned text costs besides its bytes: the shared allocation's counters, its slot
/// in the list and in the map (with the map's spare room).
const TEXT_OVERHEAD: usize = 16 + 16 + 32;

/// Texts (nodes, methods, agents, dialled users) by number: keys stay small and a lookup of a
/// text already seen allocates nothing. Each text is held once, shared by the map and the list,
/// cut to the value limit ([`super::bounded::bounded`]), and counted in [`Interner::bytes`].
/// Id 0 is "none".
#[derive(Default)]
struct Interner {
    ids: HashMap<Arc<str>, u32>,
    texts: Vec<Arc<str>>,
    /// The texts' bytes plus [`TEXT_OVERHEAD`] each.
    bytes: usize,
    /// Bytes kept of one text.
    max_value_bytes: usize,
}

impl Interner {
    fn new(max_value_bytes: usize) -> Interner {
        Interner { max_value_bytes, ..Interner::default() }
    }

    fn id(&mut self, text: Option<&str>) -> u32 {
        let Some(text) = text else { return 0 };
        let text = super::bounded::bounded(text, self.max_value_bytes);
        if let Some(&id) = self.ids.get(&*text) {
            return id;
        }
        let shared: Arc<str> = Arc::from(&*text);
        self.bytes += shared.len() + TEXT_OVERHEAD;
        self.texts.push(Arc::clone(&shared));
        let id = self.texts.len() as u32;
        self.ids.insert(shared, id);
        id
    }

    fn text(&self, id: u32) -> Option<String> {
        id.checked_sub(1).and_then(|i| self.texts.get(i as usize)).map(|t| t.to_string())
    }

    fn len(&self) -> usize {
        self.texts.len()
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Request,
    Response,
    Invalid,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Request => "request",
            Kind::Response => "response",
            Kind::Invalid => "invalid",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct TrafficKey {
    hour: i64,
    source: IpAddr,
    kind: Kind,
    direction: Direction,
    node: u32,
    method: u32,
    agent: u32,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct DialledKey {
    hour: i64,
    source: IpAddr,
    node: u32,
    user: u32,
    /// The number's country and unified number when the INVITE is a call attempt: nearly a
    /// function of `user` (a probe to the same user has none, an ambiguous number follows the
    /// readings seen before), so they add few keys.
    country: u32,
    number: u32,
}

#[derive(Clone, Copy)]
struct Count {
    n: u64,
    first_ns: i64,
    last_ns: i64,
}

impl Count {
    fn add(&mut self, ts: i64) {
        self.n += 1;
        self.first_ns = self.first_ns.min(ts);
        self.last_ns = self.last_ns.max(ts);
    }
}

fn count(ts: i64) -> Count {
    Count { n: 0, first_ns: ts, last_ns: ts }
}

/// The two rollups of a run in progress.
pub struct TrafficRollup {
    texts: Interner,
    traffic: super::FastMap<TrafficKey, Count>,
    dialled: super::FastMap<DialledKey, Count>,
    latest_ns: i64,
    max_entries: usize,
    max_text_bytes: usize,
}

impl Default for TrafficRollup {
    fn default() -> Self {
        TrafficRollup::with_limits(MAX_ENTRIES, MAX_TEXT_BYTES, super::bounded::MAX_VALUE_BYTES)
    }
}

impl TrafficRollup {
    /// Rollups that ask to be handed over once they hold `max_entries` entries or texts, or
    /// `max_text_bytes` of interned text; each text is cut to `max_value_bytes`.
    pub fn with_limits(max_entries: usize, max_text_bytes: usize, max_value_bytes: usize) -> TrafficRollup {
        TrafficRollup {
            texts: Interner::new(max_value_bytes),
            traffic: HashMap::default(),
            dialled: HashMap::default(),
            latest_ns: 0,
            max_entries: max_entries.max(1),
            max_text_bytes: max_text_bytes.max(1),
        }
    }

    /// Counts one message (`msg` none: it did not parse). Requests carry their user agent.
    pub fn observe(&mut self, ev: &Seen<'_>, msg: Option<&Message<'_>>) {
        let ts = ev.ts_ns;
        self.latest_ns = self.latest_ns.max(ts);
        let hour = ts.div_euclid(HOUR_NS);
        let node = self.texts.id(ev.node);
        let (kind, method) = match msg {
            None => (Kind::Invalid, None),
            Some(m) => match m.method() {
                Some(method) => (Kind::Request, Some(method)),
                None => (Kind::Response, None),
            },
        };
        let method_id = self.intern_bytes(method);
        let agent = if kind == Kind::Request { self.intern_bytes(msg.and_then(|m| m.user_agent())) } else { 0 };
        let key = TrafficKey { hour, source: ev.src.0, kind, direction: ev.direction, node, method: method_id, agent };
        self.traffic.entry(key).or_insert_with(|| count(ts)).add(ts);
    }

    /// Counts a request a PBX logged (docs/analysis.md, "Attempts from PBX logs"): a request
    /// received, of `method` when the log names one, without a user agent (logs print none).
    pub fn logged_request(&mut self, ev: &Seen<'_>, method: Option<&str>) {
        let ts = ev.ts_ns;
        self.latest_ns = self.latest_ns.max(ts);
        let node = self.texts.id(ev.node);
        let method = self.texts.id(method);
        let key = TrafficKey {
            hour: ts.div_euclid(HOUR_NS),
            source: ev.src.0,
            kind: Kind::Request,
            direction: ev.direction,
            node,
            method,
            agent: 0,
        };
        self.traffic.entry(key).or_insert_with(|| count(ts)).add(ts);
    }

    /// Counts a received INVITE to Request-URI user `user` (lossless text), with what the
    /// engine made of it: for a call attempt to an external number, `Some(country)` (`""` when
    /// its country is unknown) and the unified `number`; none for anything else (extensions,
    /// names, probes).
    pub fn invite(&mut self, ev: &Seen<'_>, user: &str, number_country: Option<&str>, number: Option<&str>) {
        let ts = ev.ts_ns;
        let (node, user, country) = (self.texts.id(ev.node), self.texts.id(Some(user)), self.texts.id(number_country));
        let number = self.texts.id(number);
        let key = DialledKey { hour: ts.div_euclid(HOUR_NS), source: ev.src.0, node, user, country, number };
        self.dialled.entry(key).or_insert_with(|| count(ts)).add(ts);
    }

    fn intern_bytes(&mut self, bytes: Option<&[u8]>) -> u32 {
        let Some(bytes) = bytes else { return 0 };
        match std::str::from_utf8(bytes) {
            Ok(text) => self.texts.id(Some(text)),
            Err(_) => self.texts.id(Some(&lossless_text(bytes))),
        }
    }

    /// True when the tables are full and everything should be handed over.
    pub fn full(&self) -> bool {
        self.traffic.len() + self.dialled.len() >= self.max_entries
            || self.texts.len() >= self.max_entries
            || self.texts.bytes >= self.max_text_bytes
    }

    /// Bytes held, about: the entries (with the maps' spare room) and the interned texts.
    pub fn approx_bytes(&self) -> usize {
        let entry = |key: usize| key + std::mem::size_of::<Count>() + 8;
        self.traffic.capacity() * entry(std::mem::size_of::<TrafficKey>())
            + self.dialled.capacity() * entry(std::mem::size_of::<DialledKey>())
            + self.texts.bytes
    }

    /// Rows of the hours that ended more than an hour (of event time) before the latest
    /// message, or every row when the tables are full. Captures and live traffic come in time
    /// order, so a drained hour is rarely seen again; when it is, its late messages simply go
    /// out in another row.
    pub fn drain_finished(&mut self) -> (Vec<TrafficRow>, Vec<DialledRow>) {
        if self.full() {
            return self.drain_all();
        }
        let done = self.latest_ns.div_euclid(HOUR_NS) - 1;
        let traffic: Vec<_> = self.traffic.extract_if(|k, _| k.hour < done).collect();
        let dialled: Vec<_> = self.dialled.extract_if(|k, _| k.hour < done).collect();
        (self.traffic_rows(traffic), self.dialled_rows(dialled))
    }

    /// Every row; the tables start empty again.
    pub fn drain_all(&mut self) -> (Vec<TrafficRow>, Vec<DialledRow>) {
        let traffic: Vec<_> = self.traffic.drain().collect();
        let dialled: Vec<_> = self.dialled.drain().collect();
        let rows = (self.traffic_rows(traffic), self.dialled_rows(dialled));
        self.texts = Interner::new(self.texts.max_value_bytes);
        rows
    }

    fn traffic_rows(&self, entries: Vec<(TrafficKey, Count)>) -> Vec<TrafficRow> {
        let mut rows: Vec<TrafficRow> = entries
            .into_iter()
            .map(|(k, c)| TrafficRow {
                hour: k.hour,
                node: self.texts.text(k.node),
                source: k.source,
                kind: k.kind.as_str(),
                method: self.texts.text(k.method),
                direction: k.direction.as_str(),
                user_agent: self.texts.text(k.agent),
                messages: c.n,
                first_ns: c.first_ns,
                last_ns: c.last_ns,
            })
            .collect();
        // Stable output for the same input (hash order is not).
        rows.sort_unstable();
        rows
    }

    fn dialled_rows(&self, entries: Vec<(DialledKey, Count)>) -> Vec<DialledRow> {
        let mut rows: Vec<DialledRow> = entries
            .into_iter()
            .map(|(k, c)| DialledRow {
                hour: k.hour,
                node: self.texts.text(k.node),
                source: k.source,
                user: self.texts.text(k.user).unwrap_or_default(),
                number_country: self.texts.text(k.country),
                number: self.texts.text(k.number),
                invites: c.n,
                first_ns: c.first_ns,
                last_ns: c.last_ns,
            })
            .collect();
        rows.sort_unstable();
        rows
    }
}

#[cfg(test)]
#[path = "traffic_tests.rs"]
mod tests;
