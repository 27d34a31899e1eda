//! Detection rules: turning what the pipeline sees into alerts, as data. Rules are TOML files
//! (the built-in pack in `builtin/*.toml`, compiled in, plus the operator's files): a match
//! over typed facts of each message or record ([`facts`]), a window over event time
//! ([`window`]: count, distinct count, leaky bucket), a grouping, a severity, labels and the
//! actions asked for. The engine ([`engine`]) runs in the pipeline on every source (ingest,
//! capture, the honeypot, analyze) as a pure function of (time, message), with every table
//! bounded; `sipscope rules check` validates files with `file:line` errors and `sipscope rules
//! test` backtests them on captures or a store. docs/rules.md is the reference.

pub mod compile;
pub mod condition;
pub mod engine;
pub mod facts;
pub mod genmap;
pub mod trackers;
pub mod window;

#[cfg(test)]
mod tests;

pub use compile::{Rule, RuleError};
pub use engine::{AlertChange, RuleCounters, RulesEngine};
pub use facts::Observation;

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use trackers::TrackerLimits;

/// The built-in pack: (file name, contents), in evaluation order.
pub const BUILTIN: &[(&str, &str)] = &[
    ("scans.toml", include_str!("builtin/scans.toml")),
    ("guessing.toml", include_str!("builtin/guessing.toml")),
    ("fraud.toml", include_str!("builtin/fraud.toml")),
    ("tools.toml", include_str!("builtin/tools.toml")),
    ("floods.toml", include_str!("builtin/floods.toml")),
    ("pbx_logs.toml", include_str!("builtin/pbx_logs.toml")),
];

/// The engine's limits: every table keyed by attacker values is bounded by one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuleLimits {
    /// Groups (windows and open alerts) per rule; when full, idle groups go first, then the
    /// eighth idle longest. Default 10,000.
    pub max_groups_per_rule: usize,
    /// The largest threshold of a distinct window (each group keeps up to that many hashed
    /// values). Default 1,000.
    pub max_distinct_threshold: usize,
    /// Compiled size of one regular expression, bytes. Default 1 MiB.
    pub regex_size_limit: usize,
    /// Entries of each value cache (agent classes, single-message tools). Dialled numbers are
    /// remembered in the memo the analysis shares (`analysis::numbers::SHARED_CLASSES`).
    /// Default 4,096.
    pub max_cached_values: usize,
    /// The trackers' tables.
    pub trackers: TrackerLimits,
}

impl Default for RuleLimits {
    fn default() -> RuleLimits {
        RuleLimits {
            max_groups_per_rule: 10_000,
            max_distinct_threshold: 1_000,
            regex_size_limit: 1 << 20,
            max_cached_values: 4_096,
            trackers: TrackerLimits::default(),
        }
    }
}

/// Compiled rules and the limits they run with.
#[derive(Debug, Clone)]
pub struct RuleSet {
    /// The rules, in evaluation order.
    pub rules: Vec<Rule>,
    /// The limits.
    pub limits: RuleLimits,
}

/// The `[rules]` section of the honeypot's configuration (and what `--rules` / `--no-rules`
/// say on the other commands).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RulesConfig {
    /// Run the rules at all (the built-in pack and `files`). Default true.
    pub enabled: bool,
    /// Rule files added to the built-in pack; a rule with a built-in rule's id replaces it.
    pub files: Vec<PathBuf>,
    /// Rule ids left out; an id ending in `*` leaves out every rule it starts
    /// (`"sipscope/*"`: the whole built-in pack).
    pub disable: Vec<String>,
}

impl Default for RulesConfig {
    fn default() -> RulesConfig {
        RulesConfig { enabled: true, files: Vec::new(), disable: Vec::new() }
    }
}

/// Why rules could not be loaded: every problem found, each with its place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct RulesError(pub Vec<RuleError>);

impl RuleSet {
    /// Whether any rule reads `fact` (a condition, a distinct window's values, a grouping):
    /// what no rule reads is not tracked.
    pub fn uses(&self, fact: facts::Fact) -> bool {
        use compile::GroupBy;
        self.rules.iter().any(|r| {
            r.conditions.iter().any(|c| c.fact == fact)
                || r.window.distinct_of() == Some(fact)
                || r.group_by.iter().any(|g| {
                    matches!(
                        (g, fact),
                        (GroupBy::Username, facts::Fact::Username)
                            | (GroupBy::Node, facts::Fact::Node)
                            | (GroupBy::Tool, facts::Fact::Tool)
                    )
                })
        })
    }

    /// The built-in pack with default limits.
    pub fn builtin() -> RuleSet {
        static PACK: OnceLock<Vec<Rule>> = OnceLock::new();
        let rules = PACK.get_or_init(|| {
            let limits = RuleLimits::default();
            // The pack is tested to compile (tests::the_builtin_pack_compiles); should it not,
            // the error is logged and the engine runs without it rather than stopping a sensor.
            BUILTIN
                .iter()
                .flat_map(|(name, text)| {
                    compile::parse(text, &format!("built-in {name}"), &limits).unwrap_or_else(|errors| {
                        for e in errors {
                            tracing::error!("{e}");
                        }
                        Vec::new()
                    })
                })
                .collect()
        });
        RuleSet { rules: rules.clone(), limits: RuleLimits::default() }
    }

    /// The rules `config` asks for: `None` when disabled; otherwise the built-in pack, the
    /// files' rules (replacing built-in rules of the same id), minus the disabled ids.
    pub fn load(config: &RulesConfig) -> Result<Option<Arc<RuleSet>>, RulesError> {
        if !config.enabled {
            return Ok(None);
        }
        let mut set = RuleSet::builtin();
        let mut errors = Vec::new();
        for path in &config.files {
            match RuleSet::read_file(path, &set.limits) {
                Ok(rules) => {
                    for rule in rules {
                        match set.rules.iter_mut().find(|r| r.id == rule.id) {
                            Some(old) => *old = rule,
                            None => set.rules.push(rule),
                        }
                    }
                }
                Err(RulesError(mut e)) => errors.append(&mut e),
            }
        }
        let mut sids = std::collections::HashMap::new();
        for rule in &set.rules {
            if let Some(other) = sids.insert(rule.sid, rule.id.clone()) {
                errors.push(RuleError {
                    origin: rule.origin.clone(),
                    line: 1,
                    message: format!("sid {} of {:?} is {other:?}'s already", rule.sid, rule.id),
                });
            }
        }
        if !errors.is_empty() {
            return Err(RulesError(errors));
        }
        set.rules.retain(|r| !config.disable.iter().any(|d| disables(d, &r.id)));
        Ok(Some(Arc::new(set)))
    }

    /// The rules of one file (`sipscope rules check`).
    pub fn read_file(path: &Path, limits: &RuleLimits) -> Result<Vec<Rule>, RulesError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            RulesError(vec![RuleError { origin: shown.clone(), line: 1, message: format!("cannot read: {e}") }])
        })?;
        compile::parse(&text, &shown, limits).map_err(RulesError)
    }
}

fn disables(pattern: &str, id: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => id.starts_with(prefix),
        None => pattern == id,
    }
}
