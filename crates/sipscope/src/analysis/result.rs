//! What analysis produces: rows for the store and for reports, serialisable so that a central
//! collector can receive them later.

use super::stages::Evidence;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// One closed flow.
#[derive(Debug, Clone, Serialize)]
pub struct FlowRow {
    /// The source.
    pub source: IpAddr,
    /// First and last message, ns.
    pub first_ns: i64,
    /// Last message, ns.
    pub last_ns: i64,
    /// Messages from the source.
    pub packets: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Messages per second.
    pub packets_per_second: f64,
    /// Requests by method.
    pub methods: BTreeMap<String, u64>,
    /// Distinct destination addresses.
    pub destinations: u64,
    /// Distinct destination ports.
    pub dest_ports: u64,
    /// `fixed:5060`, `fixed:5061`, `fixed:N`, `random`, `none`.
    pub source_ports: String,
    /// Distinct users tried.
    pub users: u64,
    /// Distinct numbers called: unified numbers of call attempts (probes to numbers and
    /// extensions excluded).
    pub dialled: u64,
    /// Answers to the source by status.
    pub responses: BTreeMap<u32, u64>,
    /// The flow's fingerprint id.
    pub fingerprint: Option<String>,
    /// The tool it matched.
    pub tool: Option<String>,
    /// Its variant.
    pub variant: Option<String>,
    /// `exact`, `derived` or `custom`.
    pub tool_verdict: String,
    /// Similarity to the tool, 0..1.
    pub similarity: f64,
    /// Scan strategy.
    pub strategy: String,
    /// User-agent class of the flow.
    pub ua_class: String,
    /// Its most frequent user agent.
    pub user_agent: Option<String>,
}

impl FlowRow {
    /// Heap bytes held, about.
    pub fn heap_bytes(&self) -> usize {
        let opt = |s: &Option<String>| s.as_ref().map_or(0, String::capacity);
        let entry = std::mem::size_of::<(String, u64)>();
        self.methods.keys().map(|m| 2 * entry + m.capacity()).sum::<usize>()
            + self.responses.len() * 2 * std::mem::size_of::<(u32, u64)>()
            + self.source_ports.capacity()
            + opt(&self.fingerprint)
            + opt(&self.tool)
            + opt(&self.variant)
            + self.tool_verdict.capacity()
            + self.strategy.capacity()
            + self.ua_class.capacity()
            + opt(&self.user_agent)
    }
}

/// One fingerprint and what it matched.
#[derive(Debug, Clone, Serialize)]
pub struct FingerprintRow {
    /// Stable id.
    pub id: String,
    /// Readable text.
    pub text: String,
    /// Flows with it.
    pub flows: u64,
    /// Their packets.
    pub packets: u64,
    /// Tool, variant, verdict, similarity.
    pub tool: Option<String>,
    /// Variant.
    pub variant: Option<String>,
    /// `exact`, `derived`, `custom`.
    pub verdict: String,
    /// 0..1.
    pub similarity: f64,
}

/// A stage a source reached, on one node or overall (`node` none).
#[derive(Debug, Clone, Serialize)]
pub struct StageRow {
    /// The source.
    pub source: IpAddr,
    /// The node; none for the source across all nodes.
    pub node: Option<String>,
    /// `server_scan` …
    pub stage: &'static str,
    /// Evidence.
    pub evidence: Evidence,
    /// Stage details: users asked, found, missing, success.
    pub detail: BTreeMap<&'static str, u64>,
}

/// A dialled number, unified over its dialling variants.
#[derive(Debug, Clone, Serialize)]
pub struct NumberRow {
    /// E.164 when known, else the digits as dialled without prefixes.
    pub number: String,
    /// E.164.
    pub e164: Option<String>,
    /// ISO 3166 alpha-2 of the number (of its calling code's main region when inferred).
    pub country: Option<String>,
    /// The country is the main region of a calling code shared by several (the number's
    /// ranges named none).
    pub country_inferred: bool,
    /// Mobile, fixed_line, toll_free, premium_rate …
    pub number_type: String,
    /// Calls (dialogs, by Call-ID): the `attempts` column of the store.
    pub calls: u64,
    /// INVITEs, authenticated retries and retransmissions included.
    pub invites: u64,
    /// Distinct ways it was dialled.
    pub variants: u64,
    /// Distinct sources.
    pub sources: u64,
    /// First and last attempt.
    pub first_ns: i64,
    /// Last attempt.
    pub last_ns: i64,
    /// Some of the variants as dialled.
    pub variant_samples: Vec<String>,
}

/// A user agent string.
#[derive(Debug, Clone, Serialize)]
pub struct UserAgentRow {
    /// As sent (none: no User-Agent header).
    pub user_agent: Option<String>,
    /// Class.
    pub class: String,
    /// Product, when known.
    pub product: Option<String>,
    /// Messages with it.
    pub messages: u64,
    /// Distinct sources.
    pub sources: u64,
}

/// One source overall.
#[derive(Debug, Clone, Serialize)]
pub struct SourceRow {
    /// The address.
    pub source: IpAddr,
    /// First and last message.
    pub first_ns: i64,
    /// Last message.
    pub last_ns: i64,
    /// Messages.
    pub messages: u64,
    /// Flows.
    pub flows: u64,
    /// Distinct nodes hit.
    pub nodes: u64,
    /// Tool of its largest flow.
    pub tool: Option<String>,
    /// User-agent class (random_looking when its agents looked random).
    pub ua_class: String,
}

/// Everything one analysis run produced.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AnalysisResult {
    /// Closed flows.
    pub flows: Vec<FlowRow>,
    /// Fingerprints.
    pub fingerprints: Vec<FingerprintRow>,
    /// Stages per source and per (source, node).
    pub stages: Vec<StageRow>,
    /// Numbers.
    pub numbers: Vec<NumberRow>,
    /// User agents.
    pub user_agents: Vec<UserAgentRow>,
    /// Sources.
    pub sources: Vec<SourceRow>,
    /// (source, day, messages).
    pub days: Vec<(IpAddr, i64, u64)>,
    /// Messages per hour, node, source, kind, method, direction and agent (not yet handed over).
    pub traffic: Vec<TrafficRow>,
    /// Received INVITEs per hour, node, source and dialled user (not yet handed over).
    pub dialled: Vec<DialledRow>,
    /// Flows closed early because too many were open.
    pub flows_evicted: u64,
    /// Events analysed.
    pub events: u64,
}

/// Messages of one kind in one hour: `traffic` in the store. A key may appear in several rows
/// of a run (the engine hands rows over as hours end or its table fills); readers sum them.
/// Ordered by key (hour first), so rows come out the same for the same input.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct TrafficRow {
    /// UTC hours since 1970.
    pub hour: i64,
    /// The node hit.
    pub node: Option<String>,
    /// The packet's source.
    pub source: IpAddr,
    /// `request`, `response` or `invalid` (did not parse).
    pub kind: &'static str,
    /// The request's method.
    pub method: Option<String>,
    /// `in`, `out` or `unknown`.
    pub direction: &'static str,
    /// The request's User-Agent (none for answers and requests without one).
    pub user_agent: Option<String>,
    /// Messages.
    pub messages: u64,
    /// First message, ns.
    pub first_ns: i64,
    /// Last message, ns.
    pub last_ns: i64,
}

/// Received INVITEs to one Request-URI user in one hour: `dialled` in the store. Ordered by
/// key (hour first).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct DialledRow {
    /// UTC hours since 1970.
    pub hour: i64,
    /// The node hit.
    pub node: Option<String>,
    /// The caller.
    pub source: IpAddr,
    /// The Request-URI user as sent (lossless text).
    pub user: String,
    /// When the INVITE is a call attempt to an external number: the number's country (ISO
    /// 3166 alpha-2; empty when unknown). None for extensions, names, probes and the like.
    pub number_country: Option<String>,
    /// When the INVITE is a call attempt to an external number: the number it is counted
    /// under in `numbers` (E.164, or the digits when it has no reading).
    pub number: Option<String>,
    /// INVITEs.
    pub invites: u64,
    /// First INVITE, ns.
    pub first_ns: i64,
    /// Last INVITE, ns.
    pub last_ns: i64,
}

/// What a running engine hands over before it finishes, so its memory stays bounded: closed
/// flows and the traffic of hours that ended.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Handover {
    /// Closed flows.
    pub flows: Vec<FlowRow>,
    /// Traffic rows.
    pub traffic: Vec<TrafficRow>,
    /// Dialled rows.
    pub dialled: Vec<DialledRow>,
    /// Fingerprint rows, when the table filled (a row may come again later: the store sums).
    pub fingerprints: Vec<FingerprintRow>,
}

impl Handover {
    /// Nothing to store.
    pub fn is_empty(&self) -> bool {
        self.flows.is_empty() && self.traffic.is_empty() && self.dialled.is_empty() && self.fingerprints.is_empty()
    }
}
