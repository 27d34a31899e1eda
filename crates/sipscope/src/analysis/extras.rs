//! The per-flow analyses written as their own modules (fingerprint and tool, scan strategy,
//! user agents) and the run-wide tables (numbers, user agents, fingerprints), joined to the
//! engine here.

use super::engine::Seen;
use super::fingerprint::FingerprintBuilder;
use super::flows::{CappedSet, FlowStats};
use super::numbers::{Dialled, NumberStats, StatsLimits};
use super::result::{AnalysisResult, FingerprintRow, FlowRow, NumberRow, UserAgentRow};
use super::strategy::{StrategyConfig, StrategyTracker};
use super::tools::{ToolLibrary, ToolMatch, Verdict};
use super::user_agents::{classify, AgentLibrary, AgentTracker, RandomAgentConfig, UaClass};
use sipscope_sip::Message;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

/// Distinct user-agent strings counted run-wide; later ones are counted as `(more agents)`.
const MAX_AGENTS: usize = 20_000;
/// Tool matches cached (by fingerprint id).
const MAX_MATCHES: usize = 100_000;
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
    numbers: NumberStats,
    agent_counts: HashMap<Option<String>, (u64, CappedSet<IpAddr>)>,
    agents_overflow: u64,
    fingerprints: HashMap<String, FingerprintRow>,
    /// Tool matches by fingerprint id: many flows of one tool share a fingerprint, and
    /// matching against every library entry costs far more than merging a flow.
    matches: HashMap<String, ToolMatch>,
}

impl Libraries {
    /// The built-in libraries and default thresholds.
    pub fn builtin() -> Libraries {
        Libraries {
            tools: ToolLibrary::builtin(),
            agents: AgentLibrary::builtin(),
            agent_config: RandomAgentConfig::default(),
            strategy_config: StrategyConfig::default(),
            numbers: NumberStats::new(None, StatsLimits::default()),
            agent_counts: HashMap::new(),
            agents_overflow: 0,
            fingerprints: HashMap::new(),
            matches: HashMap::new(),
        }
    }

    /// Counts an INVITE's Request-URI user, classified once by the caller.
    pub fn record_number(&mut self, ts_ns: i64, source: IpAddr, dialled: &Dialled) {
        self.numbers.record(ts_ns, source, dialled);
    }

    fn count_agent(&mut self, ua: Option<&str>, source: IpAddr) {
        let key = ua.map(str::to_owned);
        if !self.agent_counts.contains_key(&key) && self.agent_counts.len() >= MAX_AGENTS {
            self.agents_overflow += 1;
            return;
        }
        let (n, sources) = self.agent_counts.entry(key).or_default();
        *n += 1;
        sources.insert(source);
    }

    /// Writes the run-wide tables into `result`.
    pub fn finish(&mut self, result: &mut AnalysisResult) {
        for (key, e) in self.numbers.iter() {
            result.numbers.push(NumberRow {
                number: key.to_owned(),
                e164: e.number.e164.clone(),
                country: e.number.country.clone(),
                number_type: e.number.number_type.as_str().to_owned(),
                attempts: e.attempts,
                variants: e.variants.len() as u64,
                sources: e.sources.len() as u64,
                first_ns: e.first_ns,
                last_ns: e.last_ns,
                variant_samples: e.variants.clone(),
            });
        }
        result.numbers.sort_by(|a, b| b.attempts.cmp(&a.attempts).then_with(|| a.number.cmp(&b.number)));
        for (ua, (messages, sources)) in self.agent_counts.drain() {
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
        let mut fps: Vec<FingerprintRow> = self.fingerprints.drain().map(|(_, f)| f).collect();
        fps.sort_by(|a, b| b.packets.cmp(&a.packets).then_with(|| a.id.cmp(&b.id)));
        result.fingerprints = fps;
    }
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
        self.fingerprint.add(msg, src, dst);
        self.strategy.observe(ev.dst.0);
        let ua = msg.user_agent().map(crate::event::fields::lossless_text);
        self.agents.observe(ua.as_deref(), &libraries.agents);
        libraries.count_agent(ua.as_deref(), ev.src.0);
        if let Some(i) = self.agent_histogram.iter().position(|(a, _)| *a == ua) {
            self.agent_histogram[i].1 += 1;
        } else if self.agent_histogram.len() < FLOW_AGENTS {
            self.agent_histogram.push((ua, 1));
        }
    }

    /// The flow's row; its fingerprint is added to the run's fingerprint table.
    pub fn finish(self, stats: &FlowStats, libraries: &mut Libraries) -> FlowRow {
        let fp = self.fingerprint.fingerprint();
        let (fingerprint, tool, variant, verdict, similarity) = if fp.packets() == 0 {
            (None, None, None, "none", 0.0)
        } else {
            let id = fp.id();
            let m = match libraries.matches.get(&id) {
                Some(m) => m.clone(),
                None => {
                    let m = libraries.tools.match_fingerprint(&fp);
                    if libraries.matches.len() < MAX_MATCHES {
                        libraries.matches.insert(id.clone(), m.clone());
                    }
                    m
                }
            };
            let row = libraries.fingerprints.entry(id.clone()).or_insert_with(|| FingerprintRow {
                id: id.clone(),
                text: fp.text(),
                flows: 0,
                packets: 0,
                tool: None,
                variant: None,
                verdict: String::new(),
                similarity: m.similarity,
            });
            row.flows += 1;
            row.packets += fp.packets();
            let (tool, variant, verdict) = match &m.verdict {
                Verdict::Exact => (Some(m.tool.clone()), Some(m.variant.clone()), "exact"),
                Verdict::Derived { from } => (Some(from.clone()), Some(format!("derived from {}", m.tool)), "derived"),
                Verdict::Custom { .. } => (None, None, "custom"),
            };
            row.tool = tool.clone();
            row.variant = variant.clone();
            row.verdict = verdict.to_owned();
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
            methods: stats.methods.clone(),
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
