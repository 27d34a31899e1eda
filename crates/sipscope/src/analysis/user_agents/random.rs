//! Random-looking agents. CERT.br saw sources whose User-Agent was a new random 20-character
//! string in every session (`DmQCAsNRKZYayfosaXES`, `yy3BHtWnCBPco3knmRqG` …), and the
//! telescope study saw a tool draw a new random string for every packet: evasion of agent
//! block lists. One such string proves little (an unknown product name can look random too), so
//! the class belongs to a source: [`AgentTracker`] watches a source's sequence of agents. The
//! single-string test [`looks_random`] serves reports and is one of the tracker's conditions.

use super::{classify, trim, AgentLibrary, UaClass, UaMatch};
use serde::Deserialize;
use std::hash::{DefaultHasher, Hash, Hasher};

/// Thresholds of the random-looking heuristics. Defaults are documented (and why) in
/// `docs/user-agents.md`; every field can be set from a TOML table.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RandomAgentConfig {
    /// Shortest string that can look random (16): below it, product names such as
    /// `CiscoSPA504G` reach the same entropy as random strings.
    pub min_len: usize,
    /// Longest (64): longer strings are something else (a token, a URL) than an agent name.
    pub max_len: usize,
    /// Character classes (upper, lower, digit) that must all be present: at least this many (2).
    pub min_classes: usize,
    /// Shannon entropy per character divided by the most a string of that length can have over
    /// `[A-Za-z0-9]`, `log2(min(len, 62))` (0.85).
    pub min_entropy_ratio: f64,
    /// Different agents (runs of equal consecutive agents) a source must show before it can be
    /// random-looking (4).
    pub min_agents: u32,
    /// Messages per run at most, on average (3): "changes on nearly every message", allowing a
    /// session's INVITE, ACK and a retransmission to share one string as in CERT.br's data.
    pub max_messages_per_agent: f64,
    /// Share of runs whose agent is unknown to the library and looks random (0.8).
    pub min_random_share: f64,
    /// Share of runs whose agent was already used recently (0.1): tools that rotate through a
    /// fixed list of agents repeat, random strings do not.
    pub max_repeat_share: f64,
    /// How many recent agents (as 8-byte hashes) a tracker remembers to see repeats (16).
    pub recent_agents: usize,
}

impl Default for RandomAgentConfig {
    fn default() -> Self {
        RandomAgentConfig {
            min_len: 16,
            max_len: 64,
            min_classes: 2,
            min_entropy_ratio: 0.85,
            min_agents: 4,
            max_messages_per_agent: 3.0,
            min_random_share: 0.8,
            max_repeat_share: 0.1,
            recent_agents: 16,
        }
    }
}

/// Whether one agent string looks like random characters, with the default thresholds.
pub fn looks_random(ua: &str) -> bool {
    RandomAgentConfig::default().looks_random(ua)
}

impl RandomAgentConfig {
    /// Whether one agent string looks like random characters: long enough, a single token of
    /// `[A-Za-z0-9_+/=]` (real agents carry a space, `-` or `.` between name and version), mixed
    /// character classes, and near the highest entropy its length allows.
    pub fn looks_random(&self, ua: &str) -> bool {
        let s = trim(ua);
        let len = s.len();
        if len < self.min_len || len > self.max_len {
            return false;
        }
        if !s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+/=".contains(&b)) {
            return false;
        }
        let has = |f: fn(&u8) -> bool| usize::from(s.bytes().any(|b| f(&b)));
        let classes = has(u8::is_ascii_uppercase) + has(u8::is_ascii_lowercase) + has(u8::is_ascii_digit);
        if classes < self.min_classes {
            return false;
        }
        let mut counts = [0u32; 128];
        for b in s.bytes() {
            counts[usize::from(b)] += 1;
        }
        let n = len as f64;
        let entropy: f64 =
            counts.iter().filter(|&&c| c > 0).map(|&c| -(f64::from(c) / n) * (f64::from(c) / n).log2()).sum();
        entropy >= self.min_entropy_ratio * n.min(62.0).log2()
    }
}

/// Counts behind an [`AgentTracker`]'s decision, for reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgentStats {
    /// Messages that carried an agent.
    pub messages: u32,
    /// Messages without one.
    pub without_agent: u32,
    /// Runs of equal consecutive agents: how often the agent changed, plus one.
    pub agents: u32,
    /// Runs whose agent was among the recent ones.
    pub repeats: u32,
    /// Runs whose agent is unknown to the library and looks random.
    pub random: u32,
}

/// One source's sequence of agents, in bounded memory (counters, the last agent's hash and
/// `recent_agents` hashes). Pure: it sees only what it is given, in order.
#[derive(Debug, Clone)]
pub struct AgentTracker {
    cfg: RandomAgentConfig,
    stats: AgentStats,
    last: Option<u64>,
    recent: Vec<u64>,
    next: usize,
}

impl Default for AgentTracker {
    fn default() -> Self {
        AgentTracker::new(RandomAgentConfig::default())
    }
}

impl AgentTracker {
    /// A tracker with these thresholds.
    pub fn new(cfg: RandomAgentConfig) -> AgentTracker {
        AgentTracker { cfg, stats: AgentStats::default(), last: None, recent: Vec::new(), next: 0 }
    }

    /// Takes the next message's agent and classifies it. An agent unknown to the library comes
    /// back as `RandomLooking` once the source is random-looking (even a string that alone
    /// would not look random: it is one of the same stream), otherwise as [`classify`] says.
    pub fn observe(&mut self, ua: Option<&str>, lib: &AgentLibrary) -> UaMatch {
        self.observe_classified(ua, classify(ua, lib))
    }

    /// [`AgentTracker::observe`] with `m` = `classify(ua, lib)` already known (the engine keeps
    /// the classes of the agents it saw).
    pub fn observe_classified(&mut self, ua: Option<&str>, m: UaMatch) -> UaMatch {
        let Some(ua) = ua.map(trim).filter(|_| m.class != UaClass::None) else {
            self.stats.without_agent = self.stats.without_agent.saturating_add(1);
            return m;
        };
        let st = &mut self.stats;
        st.messages = st.messages.saturating_add(1);
        let mut h = DefaultHasher::new();
        ua.hash(&mut h);
        let h = h.finish();
        if self.last != Some(h) {
            st.agents = st.agents.saturating_add(1);
            if self.recent.contains(&h) {
                st.repeats = st.repeats.saturating_add(1);
            }
            if m.class == UaClass::Other && self.cfg.looks_random(ua) {
                st.random = st.random.saturating_add(1);
            }
            self.remember(h);
            self.last = Some(h);
        }
        if m.class == UaClass::Other && self.is_random_looking() {
            return UaMatch { class: UaClass::RandomLooking, product: None };
        }
        m
    }

    fn remember(&mut self, h: u64) {
        let cap = self.cfg.recent_agents.max(1);
        if self.recent.len() < cap {
            // Exact, so that the memory bound is the configured one and not the next power of two.
            self.recent.reserve_exact(cap - self.recent.len());
            self.recent.push(h);
        } else {
            self.recent[self.next % cap] = h;
        }
        self.next = (self.next + 1) % cap;
    }

    /// Whether the source changes its agent on (nearly) every message to strings that are
    /// unknown, look random and do not repeat.
    pub fn is_random_looking(&self) -> bool {
        let st = &self.stats;
        let runs = f64::from(st.agents);
        st.agents >= self.cfg.min_agents.max(1)
            && f64::from(st.messages) / runs <= self.cfg.max_messages_per_agent
            && f64::from(st.repeats) / runs <= self.cfg.max_repeat_share
            && f64::from(st.random) / runs >= self.cfg.min_random_share
    }

    /// The counts behind the decision.
    pub fn stats(&self) -> AgentStats {
        self.stats
    }

    /// Heap bytes held; never more than `recent_agents` hashes.
    pub fn heap_bytes(&self) -> usize {
        self.recent.capacity() * std::mem::size_of::<u64>()
    }
}
