//! User-Agent classes: which kind of software a message claims to come from. Known agents are
//! data (`agents.toml`, compiled in; users add files of their own with the same format), matched
//! with simple globs so that adding an agent never needs code. "Random-looking" agents (a new
//! random string on every attempt, CERT.br's "Anatomy of SIP Attacks", Table 2) are a property of a
//! source's sequence of agents, decided by [`AgentTracker`]. Format and thresholds:
//! `docs/user-agents.md`.

mod glob;
mod random;
#[cfg(test)]
mod tests;

pub use random::{looks_random, AgentStats, AgentTracker, RandomAgentConfig};

use glob::Glob;
use serde::Deserialize;
use std::path::Path;
use std::sync::OnceLock;

/// The kind of software an agent string names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UaClass {
    /// No User-Agent header, or an empty one (61 % of the call attempts in CERT.br's honeypots).
    None,
    /// Scanners, crackers and test tools: SIPVicious, nmap, sipsak, SIPp …
    AttackTool,
    /// Software phones: X-Lite, Zoiper, MicroSIP, Linphone …
    Softphone,
    /// Desk phones and ATAs: Yealink, Polycom, Grandstream …
    Hardphone,
    /// PBXs, proxies, gateways: Asterisk, FreeSWITCH, Kamailio … (often spoofed by attackers).
    PbxServer,
    /// Libraries that custom tools are built on: VaxSIPUserAgent, PJSIP …
    Sdk,
    /// A source whose agent is a new random string on (nearly) every message; only
    /// [`AgentTracker`] says this, never [`classify`].
    RandomLooking,
    /// Present but not in the library.
    Other,
}

impl UaClass {
    /// Every class, in declaration order.
    pub const ALL: [UaClass; 8] = [
        UaClass::None,
        UaClass::AttackTool,
        UaClass::Softphone,
        UaClass::Hardphone,
        UaClass::PbxServer,
        UaClass::Sdk,
        UaClass::RandomLooking,
        UaClass::Other,
    ];

    /// Stable snake_case name, as stored and as written in agent files.
    pub fn as_str(self) -> &'static str {
        match self {
            UaClass::None => "none",
            UaClass::AttackTool => "attack_tool",
            UaClass::Softphone => "softphone",
            UaClass::Hardphone => "hardphone",
            UaClass::PbxServer => "pbx_server",
            UaClass::Sdk => "sdk",
            UaClass::RandomLooking => "random_looking",
            UaClass::Other => "other",
        }
    }
}

/// What [`classify`] says about one agent string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UaMatch {
    /// The class.
    pub class: UaClass,
    /// The product of the library entry that matched; none for `None`, `Other`, `RandomLooking`.
    pub product: Option<String>,
}

/// Classifies one agent string: `None` when absent or blank, the first library entry with a
/// matching pattern otherwise, `Other` when no entry matches.
pub fn classify(ua: Option<&str>, lib: &AgentLibrary) -> UaMatch {
    let Some(ua) = ua.map(trim).filter(|s| !s.is_empty()) else {
        return UaMatch { class: UaClass::None, product: None };
    };
    match lib.find(ua) {
        Some(e) => UaMatch { class: e.class, product: Some(e.product.clone()) },
        None => UaMatch { class: UaClass::Other, product: None },
    }
}

/// Header values may carry spaces or tabs around them; they are not part of the agent.
fn trim(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

/// Known agents, tried in order: the first entry with a matching pattern wins.
#[derive(Debug, Clone, Default)]
pub struct AgentLibrary {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone)]
struct Entry {
    product: String,
    class: UaClass,
    patterns: Vec<Glob>,
    /// Kept so that tests can check the shipped file against itself.
    #[cfg_attr(not(test), allow(dead_code))]
    examples: Vec<String>,
}

/// Why an agent file was refused.
#[derive(Debug, thiserror::Error)]
pub enum AgentsError {
    /// Unreadable.
    #[error("cannot read {path}: {cause}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error (in the message, not a `source`, so that a chain prints it once).
        cause: std::io::Error,
    },
    /// Not TOML, or a field that does not exist or has the wrong type.
    #[error("{origin}: {cause}")]
    Syntax {
        /// The file (or `built-in`).
        origin: String,
        /// What the TOML reader said, with the line (in the message only: a chain prints it once).
        cause: toml::de::Error,
    },
    /// Well-formed but meaningless: no pattern, a pattern that matches anything, an example its
    /// own patterns miss, or a class that only the analysis may give.
    #[error("{origin}: agent {product:?}: {why}")]
    Invalid {
        /// The file.
        origin: String,
        /// The entry's product.
        product: String,
        /// What is wrong.
        why: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    agent: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    product: String,
    class: UaClass,
    patterns: Vec<String>,
    #[serde(default)]
    case_sensitive: bool,
    #[serde(default)]
    examples: Vec<String>,
    /// For people only: where the string was seen.
    #[serde(default)]
    #[allow(dead_code)]
    note: Option<String>,
}

const BUILT_IN: &str = include_str!("agents.toml");

impl AgentLibrary {
    /// The library shipped with sipscope (`agents.toml`).
    pub fn builtin() -> AgentLibrary {
        static LIB: OnceLock<AgentLibrary> = OnceLock::new();
        // The shipped file is tested to parse (tests::builtin_*), so this cannot fail at run time.
        LIB.get_or_init(|| AgentLibrary::parse(BUILT_IN, "built-in agents.toml").expect("built-in agents.toml")).clone()
    }

    /// Reads an agent file.
    pub fn load(path: &Path) -> Result<AgentLibrary, AgentsError> {
        let text = std::fs::read_to_string(path)
            .map_err(|cause| AgentsError::Read { path: path.display().to_string(), cause })?;
        AgentLibrary::parse(&text, &path.display().to_string())
    }

    /// Parses the text of an agent file; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<AgentLibrary, AgentsError> {
        let file: File = toml::from_str(text).map_err(|cause| AgentsError::Syntax { origin: origin.into(), cause })?;
        let mut entries = Vec::with_capacity(file.agent.len());
        for raw in file.agent {
            let bad = |why: String| AgentsError::Invalid { origin: origin.into(), product: raw.product.clone(), why };
            if raw.product.trim().is_empty() {
                return Err(bad("empty product".into()));
            }
            if matches!(raw.class, UaClass::None | UaClass::RandomLooking | UaClass::Other) {
                // These describe the absence of a match; an entry naming them would hide agents.
                return Err(bad(format!("class {:?} is given by the analysis, not by a file", raw.class.as_str())));
            }
            if raw.patterns.is_empty() {
                return Err(bad("no patterns".into()));
            }
            let mut patterns = Vec::with_capacity(raw.patterns.len());
            for p in &raw.patterns {
                let glob = Glob::new(p, raw.case_sensitive);
                if glob.literals() == 0 {
                    return Err(bad(format!("pattern {p:?} has no literal character and would match anything")));
                }
                patterns.push(glob);
            }
            for ex in &raw.examples {
                if !patterns.iter().any(|g| g.matches(trim(ex))) {
                    return Err(bad(format!("example {ex:?} matches none of its patterns")));
                }
            }
            entries.push(Entry { product: raw.product, class: raw.class, patterns, examples: raw.examples });
        }
        Ok(AgentLibrary { entries })
    }

    /// This library's entries tried first, then `fallback`'s: how a user's file overrides the
    /// built-in one (`AgentLibrary::load(p)?.before(AgentLibrary::builtin())`).
    pub fn before(mut self, fallback: AgentLibrary) -> AgentLibrary {
        self.entries.extend(fallback.entries);
        self
    }

    /// Number of entries (products).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn find(&self, ua: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.patterns.iter().any(|g| g.matches(ua)))
    }
}
