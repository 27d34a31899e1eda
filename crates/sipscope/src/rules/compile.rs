//! Rule files (TOML) read and checked: every field known (`deny_unknown_fields`), every fact,
//! value, window, grouping and action validated, and every error reported as `file:line:
//! message` from the TOML reader's spans. docs/rules.md is the reference of the format.

use super::condition::{self, Condition};
use super::facts::Fact;
use super::window::WindowSpec;
use super::RuleLimits;
use crate::act::{Action, ScopeKind, Severity};
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// What a rule groups its matches by: one window, and one alert at a time, per group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// The client's address (the sender of the request; for an answer, its destination).
    Source,
    /// The client's address and port.
    SourcePort,
    /// The client's network: `v4` bits for IPv4, `v6` for IPv6.
    Prefix {
        /// IPv4 prefix length.
        v4: u8,
        /// IPv6 prefix length.
        v6: u8,
    },
    /// The account (`username`).
    Username,
    /// The node.
    Node,
    /// The tool recognised in the message (`tool`).
    Tool,
}

/// One rule, compiled.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Stable id (`sipscope/options-sweep`).
    pub id: String,
    /// Numeric signature id.
    pub sid: u32,
    /// Human name.
    pub name: String,
    /// What it detects, for people.
    pub description: String,
    /// How serious its alerts are.
    pub severity: Severity,
    /// Labels (MITRE ATT&CK techniques …).
    pub labels: Vec<String>,
    /// Conditions, cheapest fact first; all must hold.
    pub conditions: Vec<Condition>,
    /// The kinds of subject it can match (bits of [`super::facts::kind_bit`]): rules of
    /// other kinds are skipped without a test.
    pub kinds: u8,
    /// What matches are grouped by (in this order).
    pub group_by: Vec<GroupBy>,
    /// When a group's matches raise an alert.
    pub window: WindowSpec,
    /// How long an alert stays open, absorbing its group's further matches, ns.
    pub dedupe_ns: i64,
    /// What it asks for besides the alert.
    pub actions: Vec<Action>,
    /// The file it came from (`built-in scans.toml`, a path).
    pub origin: String,
}

/// A problem in a rule file, with its place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}:{line}: {message}")]
pub struct RuleError {
    /// The file.
    pub origin: String,
    /// 1-based line (1 when the place is unknown).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    rule: Vec<Spanned<RawRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Spanned<String>,
    sid: Spanned<i64>,
    name: String,
    #[serde(default)]
    description: String,
    severity: Spanned<String>,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(rename = "match")]
    conditions: Spanned<BTreeMap<Spanned<String>, Spanned<toml::Value>>>,
    #[serde(default)]
    group_by: Option<Spanned<Vec<Spanned<String>>>>,
    window: Spanned<RawWindow>,
    #[serde(default)]
    dedupe_seconds: Option<Spanned<Seconds>>,
    #[serde(default)]
    actions: Vec<Spanned<RawAction>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    count: Option<i64>,
    distinct: Option<i64>,
    of: Option<String>,
    seconds: Option<Seconds>,
    bucket: Option<i64>,
    leak_per_second: Option<Seconds>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAction {
    #[serde(rename = "do")]
    action: String,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    seconds: Option<Seconds>,
    #[serde(default)]
    per_second: Option<i64>,
}

/// A number of seconds written as an integer or a decimal.
#[derive(Deserialize, Clone, Copy)]
#[serde(untagged)]
enum Seconds {
    Int(i64),
    Float(f64),
}

impl Seconds {
    fn get(self) -> f64 {
        match self {
            Seconds::Int(n) => n as f64,
            Seconds::Float(f) => f,
        }
    }

    /// As nanoseconds, when a positive, finite number of at most ten years.
    fn positive_ns(self) -> Option<i64> {
        let s = self.get();
        (s.is_finite() && s > 0.0 && s <= 10.0 * 366.0 * 86_400.0).then(|| ((s * 1e9) as i64).max(1))
    }
}

/// 1-based line of byte `offset` in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes().iter().take(offset).filter(|b| **b == b'\n').count() + 1
}

/// Parses and checks the rules of one file; `origin` names it in errors. Every problem found
/// is returned (the TOML reader's own error stops it at the first).
pub fn parse(text: &str, origin: &str, limits: &RuleLimits) -> Result<Vec<Rule>, Vec<RuleError>> {
    let error =
        |offset: usize, message: String| RuleError { origin: origin.to_owned(), line: line_of(text, offset), message };
    let file: RawFile = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        vec![error(offset, e.message().trim().to_owned())]
    })?;
    let mut rules = Vec::new();
    let mut errors = Vec::new();
    for raw in file.rule {
        let at = raw.span().start;
        match rule(raw.into_inner(), origin, limits) {
            Ok(rule) => {
                if rules.iter().any(|r: &Rule| r.id == rule.id) {
                    errors.push(error(at, format!("rule {:?} is defined twice", rule.id)));
                } else if let Some(other) = rules.iter().find(|r: &&Rule| r.sid == rule.sid) {
                    errors.push(error(at, format!("sid {} of {:?} is {:?}'s already", rule.sid, rule.id, other.id)));
                } else {
                    rules.push(rule);
                }
            }
            Err((offset, message)) => errors.push(error(offset, message)),
        }
    }
    if errors.is_empty() {
        Ok(rules)
    } else {
        Err(errors)
    }
}

/// One rule; the error has the byte offset of what is wrong.
fn rule(raw: RawRule, origin: &str, limits: &RuleLimits) -> Result<Rule, (usize, String)> {
    let id = raw.id.get_ref().trim().to_owned();
    let at_id = raw.id.span().start;
    let valid_char = |c: char| c.is_ascii_alphanumeric() || "._/-".contains(c);
    if id.is_empty() || !id.chars().all(valid_char) {
        return Err((at_id, format!("rule id {id:?}: letters, digits, '.', '_', '/' and '-' only")));
    }
    let sid = u32::try_from(*raw.sid.get_ref())
        .ok()
        .filter(|s| *s > 0)
        .ok_or((raw.sid.span().start, format!("{id}: sid must be between 1 and {}", u32::MAX)))?;
    let severity = raw
        .severity
        .get_ref()
        .parse::<Severity>()
        .map_err(|e| (raw.severity.span().start, format!("{id}: severity: {e}")))?;
    let mut conditions = Vec::new();
    for (name, value) in raw.conditions.get_ref() {
        let at = name.span().start;
        let fact = Fact::parse(name.get_ref()).ok_or_else(|| {
            let all: Vec<&str> = Fact::ALL.iter().map(|f| f.name()).collect();
            (at, format!("{id}: unknown fact {:?} (facts: {})", name.get_ref(), all.join(", ")))
        })?;
        let test = condition::compile(fact, value.get_ref(), limits.regex_size_limit)
            .map_err(|e| (value.span().start, format!("{id}: match: {e}")))?;
        conditions.push(Condition { fact, test });
    }
    conditions.sort_by_key(|c| c.fact.cost());
    let kinds = conditions
        .iter()
        .filter(|c| c.fact == Fact::Kind)
        .filter_map(|c| match &c.test {
            condition::Test::Text(names) => {
                Some(names.iter().map(|n| super::facts::kind_bit(&String::from_utf8_lossy(n))).fold(0, |a, b| a | b))
            }
            _ => None,
        })
        .fold(u8::MAX, |a, b| a & b);
    // The mask decides those conditions before any test: they need not be tested again.
    conditions.retain(|c| !(c.fact == Fact::Kind && matches!(c.test, condition::Test::Text(_))));
    let group_by = match &raw.group_by {
        None => vec![GroupBy::Source],
        Some(list) if list.get_ref().is_empty() => return Err((list.span().start, format!("{id}: group_by is empty"))),
        Some(list) => list
            .get_ref()
            .iter()
            .map(|g| group(g.get_ref()).map_err(|e| (g.span().start, format!("{id}: group_by: {e}"))))
            .collect::<Result<Vec<_>, _>>()?,
    };
    let window =
        window(raw.window.get_ref(), limits).map_err(|e| (raw.window.span().start, format!("{id}: window: {e}")))?;
    let dedupe_ns = match raw.dedupe_seconds {
        None => window.period_ns(),
        Some(s) => s
            .get_ref()
            .positive_ns()
            .ok_or((s.span().start, format!("{id}: dedupe_seconds must be above 0 (at most ten years)")))?,
    };
    let actions = raw
        .actions
        .iter()
        .map(|a| action(a.get_ref()).map_err(|e| (a.span().start, format!("{id}: actions: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Rule {
        id,
        sid,
        name: raw.name,
        description: raw.description,
        severity,
        labels: raw.labels,
        conditions,
        kinds,
        group_by,
        window,
        dedupe_ns,
        actions: if actions.is_empty() { vec![Action::Alert] } else { actions },
        origin: origin.to_owned(),
    })
}

fn group(name: &str) -> Result<GroupBy, String> {
    Ok(match name {
        "source" => GroupBy::Source,
        "source_port" => GroupBy::SourcePort,
        "username" => GroupBy::Username,
        "node" => GroupBy::Node,
        "tool" => GroupBy::Tool,
        "campaign" => {
            return Err("campaigns are found at report time (clustering days of activity), not per message; \
                        group by source, prefix or tool instead"
                .into())
        }
        other => match other.strip_prefix("prefix/") {
            Some(lengths) => {
                let (v4, v6) = lengths.split_once('/').unwrap_or((lengths, "64"));
                let v4 = v4.parse::<u8>().ok().filter(|n| *n <= 32);
                let v6 = v6.parse::<u8>().ok().filter(|n| *n <= 128);
                match (v4, v6) {
                    (Some(v4), Some(v6)) => GroupBy::Prefix { v4, v6 },
                    _ => return Err(format!("{other:?}: prefix/N (IPv4 bits, IPv6 /64) or prefix/N/M")),
                }
            }
            None => {
                return Err(format!(
                    "unknown key {other:?} (source, source_port, prefix/N, prefix/N/M, username, node, tool)"
                ))
            }
        },
    })
}

fn window(w: &RawWindow, limits: &RuleLimits) -> Result<WindowSpec, String> {
    let threshold = |n: i64, what: &str, max: i64| {
        u32::try_from(n).ok().filter(|n| *n >= 1 && i64::from(*n) <= max).ok_or(format!("{what} must be 1 to {max}"))
    };
    let seconds = || match w.seconds {
        None => Err("seconds is missing".to_owned()),
        Some(s) => s.positive_ns().ok_or_else(|| {
            format!("seconds = {} : a window must be longer than zero (and at most ten years)", s.get())
        }),
    };
    match (w.count, w.distinct, w.bucket) {
        (Some(n), None, None) if w.of.is_none() && w.leak_per_second.is_none() => {
            Ok(WindowSpec::Count { threshold: threshold(n, "count", i64::from(u32::MAX))?, window_ns: seconds()? })
        }
        (None, Some(n), None) if w.leak_per_second.is_none() => {
            let of = w.of.as_deref().ok_or("distinct needs `of`, the fact whose values are counted")?;
            let of = Fact::parse(of).ok_or(format!("of: unknown fact {of:?}"))?;
            let max = i64::try_from(limits.max_distinct_threshold).unwrap_or(i64::MAX);
            Ok(WindowSpec::Distinct { threshold: threshold(n, "distinct", max)?, of, window_ns: seconds()? })
        }
        (None, None, Some(n)) if w.of.is_none() && w.seconds.is_none() => {
            let leak = w.leak_per_second.map(Seconds::get).ok_or("bucket needs leak_per_second")?;
            if !(leak.is_finite() && leak > 0.0) {
                return Err(format!("leak_per_second = {leak}: a bucket must leak (above 0)"));
            }
            Ok(WindowSpec::Bucket { capacity: threshold(n, "bucket", i64::from(u32::MAX))?, leak_per_second: leak })
        }
        _ => Err("one of { count = N, seconds = S }, { distinct = N, of = FACT, seconds = S } or \
                  { bucket = N, leak_per_second = R }"
            .into()),
    }
}

fn action(a: &RawAction) -> Result<Action, String> {
    let scope = || -> Result<ScopeKind, String> {
        match a.scope.as_deref() {
            None | Some("address") => Ok(ScopeKind::Address),
            Some("address_port") => Ok(ScopeKind::AddressPort),
            Some(other) => match other.strip_prefix("prefix/").and_then(|n| n.parse::<u8>().ok()) {
                Some(n) if n <= 128 => Ok(ScopeKind::Prefix(n)),
                _ => Err(format!("scope {other:?}: address, address_port or prefix/N")),
            },
        }
    };
    let duration = || {
        a.seconds
            .ok_or_else(|| format!("{} needs seconds", a.action))?
            .positive_ns()
            .ok_or_else(|| format!("{}: seconds must be above 0", a.action))
    };
    match a.action.as_str() {
        "alert" => Ok(Action::Alert),
        "ban" => Ok(Action::Ban { scope: scope()?, duration_ns: duration()? }),
        "watch" => Ok(Action::Watch { scope: scope()?, duration_ns: duration()? }),
        "rate-limit" => {
            let per_second = a
                .per_second
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n > 0)
                .ok_or("rate-limit needs per_second (1 or more)")?;
            Ok(Action::RateLimit { scope: scope()?, duration_ns: duration()?, per_second })
        }
        other => Err(format!("do = {other:?}: alert, ban, rate-limit or watch")),
    }
}
