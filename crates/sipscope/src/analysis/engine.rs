//! The analysis engine: one pass over events in time order, time taken from the events. Feed
//! it with [`Analyzer::observe`]; [`Analyzer::finish`] closes what is open and returns the rows.
//! Memory is bounded by the caps in [`AnalysisConfig`], whatever the input: tables by entries,
//! and the attacker's texts they keep by bytes (`max_value_bytes` per value,
//! `max_traffic_text_bytes` for the hourly totals' texts); [`Analyzer::approx_bytes`] says
//! what is held.

use super::activity::DailyActivity;
use super::extras::{FlowExtras, Libraries};
use super::flows::{CappedSet, FlowStats, FlowTable};
use super::result::{AnalysisResult, SourceRow, StageRow};
use super::stages::{Answer, Evidence, Request, Stage, StageState, StageThresholds};
use crate::event::fields::Parsed;
use crate::event::{Direction, SipEvent};
use serde::Deserialize;
use sipscope_sip::{HeaderName, Message};
use std::collections::BTreeMap;
use std::net::IpAddr;

mod attempts;
pub use attempts::LoggedAttempt;

/// What the engine needs of an event, borrowed (so a honeypot need not build the event first).
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    /// Time, ns.
    pub ts_ns: i64,
    /// Source address and port.
    pub src: (IpAddr, u16),
    /// Destination address and port.
    pub dst: (IpAddr, u16),
    /// Node hit.
    pub node: Option<&'a str>,
    /// Received, sent, or unknown.
    pub direction: Direction,
    /// Message size.
    pub bytes: usize,
}

/// Settings of the engine; every field has a default (`docs/analysis.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnalysisConfig {
    /// A flow ends after this much silence from its source, seconds (004: 20 minutes).
    pub flow_timeout_seconds: u64,
    /// Open flows at most; beyond, the idlest is closed early (counted).
    pub max_open_flows: usize,
    /// Sources (and source-node pairs) tracked for stages, activity and summaries.
    pub max_sources: usize,
    /// Hourly totals (and their interned texts) held before the engine asks to hand them
    /// over (`Analyzer::should_hand_over`); counts are never capped, this bounds memory.
    pub max_traffic_entries: usize,
    /// Bytes of interned text (agents, methods, dialled users) the hourly totals hold before
    /// the engine asks to hand them over, like `max_traffic_entries`.
    pub max_traffic_text_bytes: usize,
    /// Bytes kept of any one attacker value (User-Agent, user, Call-ID, method) that a table
    /// keeps or is keyed by: longer values keep their start and a marker with their length and
    /// hash (`…[15000 bytes #0123456789abcdef]`), so distinct values stay distinct. At least 64.
    pub max_value_bytes: usize,
    /// Stage thresholds.
    pub stages: StageThresholds,
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        AnalysisConfig {
            flow_timeout_seconds: 20 * 60,
            max_open_flows: 100_000,
            max_sources: 1_000_000,
            max_traffic_entries: super::traffic::MAX_ENTRIES,
            max_traffic_text_bytes: super::traffic::MAX_TEXT_BYTES,
            max_value_bytes: super::bounded::MAX_VALUE_BYTES,
            stages: StageThresholds::default(),
        }
    }
}

#[derive(Default)]
struct SourceState {
    first_ns: i64,
    last_ns: i64,
    messages: u64,
    flows: u64,
    nodes: CappedSet<String>,
    /// (packets, tool) of its largest flow.
    main_tool: Option<(u64, Option<String>)>,
    random_agents: bool,
}

/// The engine.
pub struct Analyzer {
    config: AnalysisConfig,
    libraries: Libraries,
    flows: FlowTable<FlowExtras>,
    /// Boxed as in the flow table: a closed flow moves as a pointer, not as a kilobyte.
    #[allow(clippy::vec_box)]
    closed: Vec<Box<(FlowStats, FlowExtras)>>,
    /// Boxed, like the sources: a table of millions keeps a pointer per slot, not the state
    /// (half the slots of a hash table are empty).
    stages: super::FastMap<(IpAddr, Option<String>), Box<StageState>>,
    sources: super::FastMap<IpAddr, Box<SourceState>>,
    activity: DailyActivity,
    result: AnalysisResult,
    last_expiry_ns: i64,
    untracked: u64,
    traffic: super::traffic::TrafficRollup,
}

/// How often (in event time) open flows are checked for expiry.
const EXPIRY_EVERY_NS: i64 = 60_000_000_000;
/// Closed flows' rows held before [`Analyzer::should_hand_over`] asks for a hand-over: a
/// capture of many short flows closes (or evicts) thousands per second, and their rows
/// would otherwise wait for the end of the file.
pub const MAX_PENDING_FLOWS: usize = 4_096;

impl Analyzer {
    /// An engine with these settings and the built-in libraries (tools, agents).
    pub fn new(config: AnalysisConfig) -> Analyzer {
        Analyzer::with_libraries(config, Libraries::builtin())
    }

    /// An engine with these settings and libraries.
    pub fn with_libraries(config: AnalysisConfig, mut libraries: Libraries) -> Analyzer {
        super::numbers::prepare();
        libraries.max_value_bytes = config.max_value_bytes;
        let timeout_ns = i64::try_from(config.flow_timeout_seconds.saturating_mul(1_000_000_000)).unwrap_or(i64::MAX);
        Analyzer {
            flows: FlowTable::new(timeout_ns, config.max_open_flows),
            activity: DailyActivity::new(config.max_sources),
            libraries,
            closed: Vec::new(),
            stages: Default::default(),
            sources: Default::default(),
            result: AnalysisResult::default(),
            last_expiry_ns: i64::MIN,
            untracked: 0,
            traffic: super::traffic::TrafficRollup::with_limits(
                config.max_traffic_entries,
                config.max_traffic_text_bytes,
                config.max_value_bytes,
            ),
            config,
        }
    }

    /// Takes one event and its parsed message (events that did not parse count for activity
    /// only).
    pub fn observe(&mut self, ev: &SipEvent, msg: Option<&Message<'_>>) {
        let seen = Seen {
            ts_ns: ev.ts_ns,
            src: ev.src,
            dst: ev.dst,
            node: ev.node.as_deref(),
            direction: ev.direction,
            bytes: ev.raw.len(),
        };
        self.observe_seen(&seen, msg);
    }

    /// Like [`Analyzer::observe`] for a message not (yet) made into an event.
    pub fn observe_seen(&mut self, ev: &Seen<'_>, msg: Option<&Message<'_>>) {
        self.observe_noted(ev, msg, &Parsed::default());
    }

    /// Like [`Analyzer::observe_seen`], with the Request-URI and To header when the caller
    /// parsed them already (the thread that runs the rules beside the engine parses them once
    /// for both).
    pub fn observe_noted<'a>(&mut self, ev: &Seen<'_>, msg: Option<&Message<'a>>, parsed: &Parsed<'a>) {
        self.result.events += 1;
        // Counted before any cap: message counts in reports are never capped.
        self.traffic.observe(ev, msg);
        self.expire_if_due(ev.ts_ns);
        let Some(msg) = msg else { return };
        if msg.method().is_some() {
            // The honeypot never sends requests; a passive capture's requests come from the
            // source of the packet.
            if ev.direction != Direction::Out {
                self.request(ev, msg, parsed);
            }
        } else if let Some(status) = msg.status() {
            // Answers go to the attacker: the destination of the packet.
            self.answer(ev, msg, parsed, status);
        }
    }

    /// Closes the flows that timed out, once a minute of event time.
    fn expire_if_due(&mut self, ts: i64) {
        if self.last_expiry_ns == i64::MIN || ts.saturating_sub(self.last_expiry_ns) >= EXPIRY_EVERY_NS {
            self.last_expiry_ns = ts;
            self.flows.expire(ts, &mut self.closed);
            self.finish_closed();
        }
    }

    fn request<'a>(&mut self, ev: &Seen<'_>, msg: &Message<'a>, parsed: &Parsed<'a>) {
        let (ts, source) = (ev.ts_ns, ev.src.0);
        // Borrowed from the message where it is valid UTF-8 and within the value limit:
        // nothing is copied per request unless a table keeps it.
        let limit = self.config.max_value_bytes;
        let method = String::from_utf8_lossy(msg.method().unwrap_or_default());
        let method = super::bounded::bounded(&method, limit);
        let ruri_whole = parsed.request_uri(msg).and_then(|u| u.user).map(lossless);
        let ruri_user = super::bounded::bounded_opt(ruri_whole.as_deref(), limit);
        let to_whole = parsed.to(msg).and_then(|t| t.user()).map(lossless);
        let to_user = super::bounded::bounded_opt(to_whole.as_deref(), limit);
        let user = if method == "REGISTER" { to_user.as_deref() } else { ruri_user.as_deref().or(to_user.as_deref()) };
        let credentials =
            msg.header(HeaderName::Authorization).is_some() || msg.header(HeaderName::ProxyAuthorization).is_some();
        let call_id = bounded_call_id(msg, limit);
        // An INVITE's Request-URI user is classified once (whole, remembered by its cut
        // form): toll fraud and the numbers table.
        let dialled = match (&ruri_whole, &ruri_user, method == "INVITE") {
            (Some(whole), Some(key), true) => Some(self.libraries.classify_number(whole, key)),
            _ => None,
        };
        let number = match dialled.as_deref() {
            Some(super::numbers::Dialled::Number(n)) => Some(n),
            _ => None,
        };
        let call = number.filter(|_| !caller_is_callee(msg, ruri_whole.as_deref(), to_whole.as_deref()));
        // The unified number the call is counted under (the numbers table's key).
        let call_number = call.map(|n| self.libraries.number_key(n));
        if let (Some(user), Some(_)) = (&ruri_user, &dialled) {
            // Counted before any cap, like all traffic; the country and the unified number save
            // reports a lookup.
            let country = call.map(|n| n.country.as_deref().unwrap_or(""));
            self.traffic.invite(ev, user, country, call_number.as_deref());
        }
        if !self.track_source(source, ts, ev.node) {
            return;
        }
        self.activity.observe(source, ts);
        let libraries = &mut self.libraries;
        let (flow, extras) = self.flows.flow(source, ts, || FlowExtras::new(libraries), &mut self.closed);
        flow.packets += 1;
        flow.bytes += ev.bytes as u64;
        flow.methods.add(&method);
        flow.destinations.insert(ev.dst.0);
        flow.dest_ports.insert(ev.dst.1);
        flow.source_ports.insert(ev.src.1);
        if let Some(u) = user {
            flow.users.insert(super::bounded::value_hash(u));
        }
        if let Some(n) = &call_number {
            flow.dialled.insert(super::bounded::value_hash(n));
        }
        extras.observe(ev, msg, libraries);
        // A probe to a number is not a dialled number; anything else an INVITE asked for is
        // counted (extensions and names apart from numbers).
        if let Some(d) = dialled.as_deref().filter(|_| number.is_none() || call.is_some()) {
            libraries.record_number(ts, source, d, call_id.as_deref().map(super::bounded::value_hash));
        }
        let call_attempt = call.is_some();
        let request =
            Request { ts_ns: ts, method: &method, user, credentials, call_attempt, call_id: call_id.as_deref() };
        for key in stage_keys(source, ev.node) {
            self.stages.entry(key).or_default().request(&request);
        }
        self.closed_flows_if_any();
    }

    fn answer<'a>(&mut self, ev: &Seen<'_>, msg: &Message<'a>, parsed: &Parsed<'a>, status: u32) {
        let target = ev.dst.0;
        if let Some((flow, _)) = self.flows.get_mut(&target) {
            *flow.responses.entry(status).or_insert(0) += 1;
        }
        let cseq_method = msg.cseq().map(|c| String::from_utf8_lossy(c.method)).unwrap_or_default();
        let limit = self.config.max_value_bytes;
        let call_id = bounded_call_id(msg, limit);
        let to_whole = parsed.to(msg).and_then(|t| t.user()).map(lossless);
        let user = super::bounded::bounded_opt(to_whole.as_deref(), limit);
        let answer = Answer {
            ts_ns: ev.ts_ns,
            status,
            cseq_method: &cseq_method,
            user: user.as_deref(),
            call_id: call_id.as_deref(),
        };
        for key in stage_keys(target, ev.node) {
            if let Some(state) = self.stages.get_mut(&key) {
                state.answer(&answer);
            }
        }
    }

    /// Counts a message of `source`; false when the source is beyond the caps.
    fn track_source(&mut self, source: IpAddr, ts: i64, node: Option<&str>) -> bool {
        if !self.sources.contains_key(&source) && self.sources.len() >= self.config.max_sources {
            self.untracked += 1;
            return false;
        }
        let s = self
            .sources
            .entry(source)
            .or_insert_with(|| Box::new(SourceState { first_ns: ts, last_ns: ts, ..Default::default() }));
        s.first_ns = s.first_ns.min(ts);
        s.last_ns = s.last_ns.max(ts);
        s.messages += 1;
        if let Some(n) = node {
            s.nodes.insert(n.to_owned());
        }
        true
    }

    fn closed_flows_if_any(&mut self) {
        if !self.closed.is_empty() {
            self.finish_closed();
        }
    }

    /// Turns closed flows into rows.
    fn finish_closed(&mut self) {
        for flow in std::mem::take(&mut self.closed) {
            let (stats, extras) = *flow;
            let row = extras.finish(&stats, &mut self.libraries);
            if let Some(s) = self.sources.get_mut(&stats.source) {
                s.flows += 1;
                s.random_agents |= row.ua_class == "random_looking";
                if s.main_tool.as_ref().is_none_or(|(p, _)| stats.packets > *p) {
                    s.main_tool = Some((stats.packets, row.tool.clone()));
                }
            }
            self.result.flows.push(row);
        }
    }

    /// Flows closed so far and the traffic of hours that ended, handed over: long runs store
    /// them as they go, so memory stays bounded ([`Analyzer::finish`] returns only the rest).
    pub fn hand_over(&mut self) -> super::result::Handover {
        let (traffic, dialled) = self.traffic.drain_finished();
        let fingerprints =
            if self.libraries.fingerprints_full() { self.libraries.drain_fingerprints() } else { Vec::new() };
        super::result::Handover { flows: std::mem::take(&mut self.result.flows), traffic, dialled, fingerprints }
    }

    /// True when enough is waiting that the caller should [`Analyzer::hand_over`] now.
    pub fn should_hand_over(&self) -> bool {
        self.traffic.full() || self.result.flows.len() >= MAX_PENDING_FLOWS || self.libraries.fingerprints_full()
    }

    /// Bytes the engine holds, about: every table with its entries and the attacker's text they
    /// keep (what `docs/analysis.md`, "Memory ceiling", bounds). Walks every table: for tests
    /// and measurements, not for every message.
    pub fn approx_bytes(&self) -> usize {
        let boxed = |n: usize, size: usize| n * (size + std::mem::size_of::<usize>());
        let flows: usize = self.flows.iter().map(|(stats, extras)| stats.heap_bytes() + extras.heap_bytes()).sum();
        let stages = self.stages.capacity() * (std::mem::size_of::<((IpAddr, Option<String>), usize)>() + 1)
            + self
                .stages
                .iter()
                .map(|((_, node), s)| {
                    node.as_ref().map_or(0, String::capacity) + std::mem::size_of::<StageState>() + s.heap_bytes()
                })
                .sum::<usize>();
        let sources = self.sources.capacity() * (std::mem::size_of::<(IpAddr, usize)>() + 1)
            + boxed(self.sources.len(), std::mem::size_of::<SourceState>())
            + self
                .sources
                .values()
                .map(|s| {
                    s.nodes.heap_bytes(String::capacity)
                        + s.main_tool.as_ref().and_then(|t| t.1.as_ref()).map_or(0, String::capacity)
                })
                .sum::<usize>();
        let closed = self.result.flows.capacity() * std::mem::size_of::<super::result::FlowRow>()
            + self.result.flows.iter().map(super::result::FlowRow::heap_bytes).sum::<usize>();
        self.flows.table_bytes()
            + flows
            + stages
            + sources
            + self.activity.approx_bytes()
            + closed
            + self.traffic.approx_bytes()
            + self.libraries.approx_bytes()
    }

    /// Flows closed and not yet handed over.
    pub fn pending_flows(&self) -> usize {
        self.result.flows.len()
    }

    /// Closes every flow and returns all rows.
    pub fn finish(mut self) -> AnalysisResult {
        // Tables are consumed as their rows are made, so that the two are not held whole at
        // once; stages first (they need no flow), before the open flows become rows.
        let mut stages = Vec::new();
        let thresholds = &self.config.stages;
        for ((source, node), state) in std::mem::take(&mut self.stages) {
            for (stage, evidence) in state.reached(thresholds) {
                stages.push(stage_row(source, node.clone(), stage, evidence, &state));
            }
        }
        // A few at a time: every open flow at once would be a second copy of the table.
        while !self.flows.is_empty() {
            self.flows.close_idlest(1_024, &mut self.closed);
            self.finish_closed();
        }
        let mut result = std::mem::take(&mut self.result);
        result.stages = stages;
        (result.traffic, result.dialled) = self.traffic.drain_all();
        result.flows_evicted = self.flows.evicted;
        result.stages.sort_by(|a, b| (a.source, &a.node, a.stage).cmp(&(b.source, &b.node, b.stage)));
        for (ip, s) in std::mem::take(&mut self.sources) {
            result.sources.push(SourceRow {
                source: ip,
                first_ns: s.first_ns,
                last_ns: s.last_ns,
                messages: s.messages,
                flows: s.flows,
                nodes: s.nodes.len() as u64,
                tool: s.main_tool.and_then(|(_, t)| t),
                ua_class: if s.random_agents { "random_looking".into() } else { String::new() },
            });
        }
        result.sources.sort_by_key(|s| s.source);
        result.days = self.activity.take_rows();
        result.days.sort();
        self.libraries.finish(&mut result);
        result.flows.sort_by_key(|f| (f.first_ns, f.source));
        result
    }
}

fn stage_row(source: IpAddr, node: Option<String>, stage: Stage, evidence: Evidence, state: &StageState) -> StageRow {
    let mut detail = BTreeMap::new();
    match stage {
        Stage::ExtensionScan => {
            detail.insert("users_asked", state.users_asked() as u64);
            detail.insert("users_found", state.users_found() as u64);
            detail.insert("users_missing", state.users_missing() as u64);
        }
        Stage::RegistrationHijacking => {
            detail.insert("succeeded", u64::from(state.hijack_succeeded()));
        }
        _ => {}
    }
    StageRow { source, node, stage: stage.as_str(), evidence, detail }
}

/// Stage state is kept for the source overall and, when the event has a node, per node.
fn stage_keys(source: IpAddr, node: Option<&str>) -> impl Iterator<Item = (IpAddr, Option<String>)> {
    std::iter::once((source, None)).chain(node.map(|n| (source, Some(n.to_owned()))))
}

/// Whether the INVITE's caller (From user) is its callee (the Request-URI or To user): a probe,
/// not a call. svwar's calibration INVITE (and every INVITE of its enumeration) and nmap's
/// sip-call-spoof put the same user in From and To (and the Request-URI); sipsak's INVITE mode
/// calls itself. They dial nothing (docs/analysis.md, "Toll fraud and probes").
fn caller_is_callee(msg: &Message<'_>, ruri_user: Option<&str>, to_user: Option<&str>) -> bool {
    let from = msg.from().and_then(|f| f.user()).map(lossless);
    from.as_deref().is_some_and(|from| ruri_user == Some(from) || to_user == Some(from))
}

/// The Call-ID as the stages keep it: valid UTF-8 only (as before), cut to `limit`.
fn bounded_call_id<'m>(msg: &Message<'m>, limit: usize) -> Option<std::borrow::Cow<'m, str>> {
    let call_id = msg.call_id().map(std::str::from_utf8).and_then(Result::ok)?;
    Some(super::bounded::bounded(call_id, limit))
}

/// [`crate::event::fields::lossless_text`], borrowed when the bytes are valid UTF-8 (the same
/// text).
fn lossless(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => std::borrow::Cow::Owned(crate::event::fields::lossless_text(bytes)),
    }
}
