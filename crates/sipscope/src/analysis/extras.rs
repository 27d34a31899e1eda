//! The per-flow analyses written as their own modules (fingerprint and tool, scan strategy,
//! user agents) and the run-wide tables (numbers, user agents, fingerprints), joined to the
//! engine here. Every attacker text these tables keep or key by is cut to the value limit
//! first ([`super::bounded`]): a long agent is classified, counted and named in its cut form.

use super::engine::Seen;
use super::fingerprint::{Fingerprint, FingerprintBuilder, PacketBuffers};
use super::flows::{CappedSet, FlowStats};
use super::numbers::{Dialled, NumberStats, StatsLimits};
use super::result::{AnalysisResult, FingerprintRow, FlowRow, NumberRow, UserAgentRow};
use super::strategy::{StrategyConfig, StrategyTracker};
use super::tools::{MatchCache, ToolLibrary, ToolMatch, Verdict};
use super::user_agents::{classify, AgentLibrary, AgentTracker, RandomAgentConfig, UaClass, UaMatch};
use sipscope_sip::Message;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Distinct user-agent strings counted run-wide; later ones are counted as `(more agents)`.
const MAX_AGENTS: usize = 20_000;
/// Agent strings whose class is remembered.
const MAX_AGENT_CLASSES: usize = 4_096;
/// Tool matches cached (by fingerprint id); when full, the table starts over. Flows of one
/// tool with fixed values share a fingerprint; flows with random values (most of a
/// telescope's) never do, so a large table would only hold their matches.
const MAX_MATCHES: usize = 16_384;
/// Fingerprint rows held before they are handed over (a telescope's flows with random values
/// each have their own fingerprint, each with up to ~40 kB of text).
pub const MAX_FINGERPRINT_ROWS: usize = 65_536;
/// Text those rows hold at most before they are handed over.
pub const MAX_FINGERPRINT_TEXT_BYTES: usize = 32 << 20;
/// Request-URI users whose classification is remembered (toll-fraud tools dial the same
/// numbers again and again, and libphonenumber takes microseconds per number); when full,
/// the table starts over.
const MAX_NUMBER_CLASSES: usize = 16_384;
/// Distinct agents remembered per flow to name its most frequent one.
const FLOW_AGENTS: usize = 16;

/// Data libraries and the run-wide tables.
pub struct Libraries {
    /// Known tools.
    pub tools: ToolLibrary,
    /// Known user agents.
    pub agents: AgentLibrary,
    /// Thresholds of the random-agent heuristic.
    pub agent_config: RandomAgentConfig,
    /// Thresholds of the scan-strategy decision.
    pub strategy_config: StrategyConfig,
    /// Bytes kept of one attacker value (`AnalysisConfig::max_value_bytes`).
    pub max_value_bytes: usize,
    /// Fingerprint rows held before a hand-over ([`MAX_FINGERPRINT_ROWS`]).
    pub max_fingerprint_rows: usize,
    /// Their text held at most before a hand-over ([`MAX_FINGERPRINT_TEXT_BYTES`]).
    pub max_fingerprint_text_bytes: usize,
    numbers: NumberStats,
    /// [`super::numbers::classify`] by Request-URI user (at most [`MAX_NUMBER_CLASSES`]).
    number_classes: HashMap<Box<str>, Arc<Dialled>>,
    /// Messages and sources per User-Agent string; `no_agent` for messages without one.
    agent_counts: HashMap<String, (u64, CappedSet<IpAddr>)>,
    no_agent: Option<(u64, CappedSet<IpAddr>)>,
    /// What the agent library says of the agents seen (at most [`MAX_AGENT_CLASSES`]).
    agent_classes: HashMap<String, UaMatch>,
    agents_overflow: u64,
    /// By id ([`Fingerprint::id_bits_of_text`]).
    fingerprints: super::FastMap<u64, Box<FingerprintEntry>>,
    /// Bytes of text those rows hold.
    fingerprint_text_bytes: usize,
    /// Tool matches by fingerprint id: many flows of one tool share a fingerprint, and
    /// matching against every library entry costs far more than merging a flow.
    matches: super::FastMap<u64, ToolMatch>,
    /// Field scores of the tool matching, kept across flows.
    match_cache: MatchCache,
    /// Buffers every flow's fingerprint merges a packet with.
    scratch: PacketBuffers,
}

impl Libraries {
    /// The built-in libraries and default thresholds.
    pub fn builtin() -> Libraries {
        Libraries {
            tools: ToolLibrary::builtin(),
            agents: AgentLibrary::builtin(),
            agent_config: RandomAgentConfig::default(),
            strategy_config: StrategyConfig::default(),
            max_value_bytes: super::bounded::MAX_VALUE_BYTES,
            max_fingerprint_rows: MAX_FINGERPRINT_ROWS,
            max_fingerprint_text_bytes: MAX_FINGERPRINT_TEXT_BYTES,
            numbers: NumberStats::new(None, StatsLimits::default()),
            number_classes: HashMap::new(),
            agent_counts: HashMap::new(),
            no_agent: None,
            agent_classes: HashMap::new(),
            agents_overflow: 0,
            fingerprints: Default::default(),
            fingerprint_text_bytes: 0,
            matches: Default::default(),
            match_cache: MatchCache::default(),
            scratch: PacketBuffers::default(),
        }
    }

    /// What an INVITE's Request-URI user is ([`super::numbers::classify`] of the whole user,
    /// remembered under its cut form `key`, which tells distinct users apart as well).
    pub fn classify_number(&mut self, user: &str, key: &str) -> Arc<Dialled> {
        if let Some(d) = self.number_classes.get(key) {
            return Arc::clone(d);
        }
        // The rules classified the same INVITE moments ago, most likely (shared memo).
        let d = super::numbers::classify_shared(user);
        if self.number_classes.len() >= MAX_NUMBER_CLASSES {
            self.number_classes.clear();
        }
        self.number_classes.insert(key.into(), Arc::clone(&d));
        d
    }

    /// Counts an INVITE's Request-URI user, classified once by the caller; `call` is the hash
    /// of its Call-ID.
    pub fn record_number(&mut self, ts_ns: i64, source: IpAddr, dialled: &Dialled, call: Option<u64>) {
        self.numbers.record(ts_ns, source, dialled, call);
    }

    /// The key a call to `number` is counted under in the numbers table.
    pub fn number_key(&self, number: &super::numbers::DialledNumber) -> String {
        self.numbers.key_for(number).to_owned()
    }

    /// `classify(ua)`, remembered for the first [`MAX_AGENT_CLASSES`] agents.
    fn agent_class(&mut self, ua: Option<&str>) -> UaMatch {
        let Some(ua) = ua else { return classify(None, &self.agents) };
        if let Some(m) = self.agent_classes.get(ua) {
            return m.clone();
        }
        let m = classify(Some(ua), &self.agents);
        if self.agent_classes.len() < MAX_AGENT_CLASSES {
            self.agent_classes.insert(ua.to_owned(), m.clone());
        }
        m
    }

    fn count_agent(&mut self, ua: Option<&str>, source: IpAddr) {
        let distinct = self.agent_counts.len() + usize::from(self.no_agent.is_some());
        let entry = match ua {
            None if self.no_agent.is_none() && distinct >= MAX_AGENTS => None,
            None => Some(self.no_agent.get_or_insert_with(Default::default)),
            Some(ua) => match self.agent_counts.get_mut(ua) {
                Some(entry) => Some(entry),
                None if distinct >= MAX_AGENTS => None,
                None => Some(self.agent_counts.entry(ua.to_owned()).or_default()),
            },
        };
        let Some((n, sources)) = entry else {
            self.agents_overflow += 1;
            return;
        };
        *n += 1;
        sources.insert(source);
    }

    /// Bytes held by the run-wide tables, about (the libraries themselves are shared and not
    /// counted).
    pub fn approx_bytes(&self) -> usize {
        let string = std::mem::size_of::<String>();
        let sources = |s: &CappedSet<IpAddr>| s.heap_bytes(|_| 0);
        let classes = self.number_classes.capacity() * (2 * string + 1)
            + self
                .number_classes
                .iter()
                .map(|(k, d)| k.len() + std::mem::size_of::<Dialled>() + d.heap_bytes())
                .sum::<usize>();
        let counts = self.agent_counts.capacity() * (string + std::mem::size_of::<(u64, CappedSet<IpAddr>)>() + 1)
            + self.agent_counts.iter().map(|(k, (_, s))| k.capacity() + sources(s)).sum::<usize>()
            + self.no_agent.as_ref().map_or(0, |(_, s)| sources(s));
        let agent_classes = self.agent_classes.capacity() * (string + std::mem::size_of::<UaMatch>() + 1)
            + self
                .agent_classes
                .iter()
                .map(|(k, m)| k.capacity() + m.product.as_ref().map_or(0, String::capacity))
                .sum::<usize>();
        let opt = |s: &Option<String>| s.as_ref().map_or(0, String::capacity);
        let fingerprints = self.fingerprints.capacity() * 17
            + self
                .fingerprints
                .values()
                .map(|f| std::mem::size_of::<FingerprintEntry>() + f.text.len() + opt(&f.tool) + opt(&f.variant))
                .sum::<usize>();
        let matches = self.matches.capacity() * (9 + std::mem::size_of::<ToolMatch>())
            + self.matches.values().map(|m| m.tool.capacity() + m.variant.capacity()).sum::<usize>();
        self.numbers.heap_bytes()
            + classes
            + counts
            + agent_classes
            + fingerprints
            + matches
            + self.match_cache.approx_bytes()
    }

    /// Writes the run-wide tables into `result`.
    pub fn finish(&mut self, result: &mut AnalysisResult) {
        for (key, e) in self.numbers.iter() {
            result.numbers.push(NumberRow {
                number: key.to_owned(),
                e164: e.number.e164.clone(),
                country: e.number.country.clone(),
                country_inferred: e.number.country_inferred,
                number_type: e.number.number_type.as_str().to_owned(),
                calls: e.calls,
                invites: e.invites,
                variants: e.variants.len() as u64,
                sources: e.sources.len() as u64,
                first_ns: e.first_ns,
                last_ns: e.last_ns,
                variant_samples: e.variants.clone(),
            });
        }
        result.numbers.sort_by(|a, b| b.calls.cmp(&a.calls).then_with(|| a.number.cmp(&b.number)));
        let agents = self.agent_counts.drain().map(|(ua, counts)| (Some(ua), counts));
        for (ua, (messages, sources)) in agents.chain(self.no_agent.take().map(|counts| (None, counts))) {
            let m = classify(ua.as_deref(), &self.agents);
            let random = ua.as_deref().is_some_and(|u| m.class == UaClass::Other && self.agent_config.looks_random(u));
            let class = if random { UaClass::RandomLooking } else { m.class };
            result.user_agents.push(UserAgentRow {
                user_agent: ua,
                class: class.as_str().to_owned(),
                product: m.product,
                messages,
                sources: sources.len() as u64,
            });
        }
        result.user_agents.sort_by(|a, b| b.messages.cmp(&a.messages).then_with(|| a.user_agent.cmp(&b.user_agent)));
        result.fingerprints = self.drain_fingerprints();
    }

    /// True when the fingerprint rows should be handed over (by count or by their text).
    pub fn fingerprints_full(&self) -> bool {
        self.fingerprints.len() >= self.max_fingerprint_rows
            || self.fingerprint_text_bytes >= self.max_fingerprint_text_bytes
    }

    /// The fingerprint rows so far, most packets first; the table starts empty again (the store
    /// adds a row handed over twice to the first: flows and packets summed).
    pub fn drain_fingerprints(&mut self) -> Vec<FingerprintRow> {
        self.fingerprint_text_bytes = 0;
        let fps = self.fingerprints.drain().map(|(id, f)| FingerprintRow {
            id: Fingerprint::id_text(id),
            text: f.text.into(),
            flows: f.flows,
            packets: f.packets,
            tool: f.tool,
            variant: f.variant,
            verdict: f.verdict.to_owned(),
            similarity: f.similarity,
        });
        let mut fps: Vec<FingerprintRow> = fps.collect();
        fps.sort_by(|a, b| b.packets.cmp(&a.packets).then_with(|| a.id.cmp(&b.id)));
        fps
    }
}

/// A row of the fingerprint table while the run goes on: a telescope's flows with random
/// values each have their own, so it is kept small (the text at its size, the id as the key).
struct FingerprintEntry {
    text: Box<str>,
    flows: u64,
    packets: u64,
    tool: Option<String>,
    variant: Option<String>,
    verdict: &'static str,
    similarity: f64,
}

/// What a flow keeps beyond its counters.
pub struct FlowExtras {
    fingerprint: FingerprintBuilder,
    strategy: StrategyTracker,
    agents: AgentTracker,
    agent_histogram: Vec<(Option<String>, u64)>,
}

impl FlowExtras {
    /// A new flow's state.
    pub fn new(libraries: &Libraries) -> FlowExtras {
        FlowExtras {
            fingerprint: FingerprintBuilder::new(),
            strategy: StrategyTracker::new(libraries.strategy_config),
            agents: AgentTracker::new(libraries.agent_config),
            agent_histogram: Vec::new(),
        }
    }

    /// Takes one request of the flow.
    pub fn observe(&mut self, ev: &Seen<'_>, msg: &Message<'_>, libraries: &mut Libraries) {
        let src = SocketAddr::new(ev.src.0, ev.src.1);
        let dst = SocketAddr::new(ev.dst.0, ev.dst.1);
        self.fingerprint.add_with(msg, src, dst, &mut libraries.scratch);
        self.strategy.observe(ev.dst.0);
        // Borrowed from the message when it is valid UTF-8 (the same text as `lossless_text`),
        // and when within the value limit.
        let ua = msg.user_agent().map(|ua| match std::str::from_utf8(ua) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(_) => std::borrow::Cow::Owned(crate::event::fields::lossless_text(ua)),
        });
        let ua = ua.as_deref().map(|ua| super::bounded::bounded(ua, libraries.max_value_bytes));
        let ua = ua.as_deref();
        let class = libraries.agent_class(ua);
        self.agents.observe_classified(ua, class);
        libraries.count_agent(ua, ev.src.0);
        if let Some(i) = self.agent_histogram.iter().position(|(a, _)| a.as_deref() == ua) {
            self.agent_histogram[i].1 += 1;
        } else if self.agent_histogram.len() < FLOW_AGENTS {
            if self.agent_histogram.len() == self.agent_histogram.capacity() {
                // Most flows show one agent.
                self.agent_histogram.reserve_exact(self.agent_histogram.len().max(1));
            }
            self.agent_histogram.push((ua.map(str::to_owned), 1));
        }
    }

    /// Heap bytes held, about.
    pub fn heap_bytes(&self) -> usize {
        let slot = std::mem::size_of::<(Option<String>, u64)>();
        self.fingerprint.heap_bytes()
            + self.strategy.heap_bytes()
            + self.agents.heap_bytes()
            + self.agent_histogram.capacity() * slot
            + self.agent_histogram.iter().map(|(a, _)| a.as_ref().map_or(0, String::capacity)).sum::<usize>()
    }

    /// The flow's row; its fingerprint is added to the run's fingerprint table.
    pub fn finish(self, stats: &FlowStats, libraries: &mut Libraries) -> FlowRow {
        let fp = self.fingerprint.into_fingerprint();
        let (fingerprint, tool, variant, verdict, similarity) = if fp.packets() == 0 {
            (None, None, None, "none", 0.0)
        } else {
            // The text once: the id is its hash, and a new fingerprint's row keeps it.
            let text = fp.text();
            let bits = Fingerprint::id_bits_of_text(&text);
            let id = Fingerprint::id_text(bits);
            let m = match libraries.matches.get(&bits) {
                Some(m) => m.clone(),
                None => {
                    let m = libraries.tools.match_cached(&fp, || id.clone(), &mut libraries.match_cache);
                    if libraries.matches.len() >= MAX_MATCHES {
                        libraries.matches.clear();
                    }
                    libraries.matches.insert(bits, m.clone());
                    m
                }
            };
            let text_bytes = &mut libraries.fingerprint_text_bytes;
            let row = libraries.fingerprints.entry(bits).or_insert_with(|| {
                *text_bytes += text.len();
                Box::new(FingerprintEntry {
                    text: text.into(),
                    flows: 0,
                    packets: 0,
                    tool: None,
                    variant: None,
                    verdict: "",
                    similarity: m.similarity,
                })
            });
            row.flows += 1;
            row.packets += fp.packets();
            let (tool, variant, verdict) = match &m.verdict {
                Verdict::Exact => (Some(m.tool.clone()), Some(m.variant.clone()), "exact"),
                Verdict::Derived { from } => (Some(from.clone()), Some(format!("derived from {}", m.tool)), "derived"),
                Verdict::Custom { .. } => (None, None, "custom"),
            };
            if row.flows == 1 || row.verdict != verdict || row.tool != tool || row.variant != variant {
                row.tool = tool.clone();
                row.variant = variant.clone();
                row.verdict = verdict;
            }
            (Some(id), tool, variant, verdict, m.similarity)
        };
        let ua_class = if self.agents.is_random_looking() {
            UaClass::RandomLooking
        } else {
            let top = self.agent_histogram.iter().max_by_key(|(_, n)| *n).and_then(|(a, _)| a.clone());
            classify(top.as_deref(), &libraries.agents).class
        };
        FlowRow {
            source: stats.source,
            first_ns: stats.first_ns,
            last_ns: stats.last_ns,
            packets: stats.packets,
            bytes: stats.bytes,
            packets_per_second: stats.packets_per_second(),
            methods: stats.methods.to_map(),
            destinations: stats.destinations.len() as u64,
            dest_ports: stats.dest_ports.len() as u64,
            source_ports: stats.source_port_kind(),
            users: stats.users.len() as u64,
            dialled: stats.dialled.len() as u64,
            responses: stats.responses.clone(),
            fingerprint,
            tool,
            variant,
            tool_verdict: verdict.to_owned(),
            similarity,
            strategy: self.strategy.decide().as_str().to_owned(),
            ua_class: ua_class.as_str().to_owned(),
            user_agent: self.agent_histogram.iter().max_by_key(|(_, n)| *n).and_then(|(a, _)| a.clone()),
        }
    }
}
