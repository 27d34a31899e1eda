//! One condition of a rule's `match` table, compiled from its TOML value and tested against a
//! fact's value. The forms (docs/rules.md):
//!
//! - `"text"` or `["a", "b"]`: equal to one of them (byte for byte; a choice fact's value
//!   must be one of its names, an address fact's an address or CIDR);
//! - `401` or `[401, 407]`: one of these numbers; `true`/`false` for truth values;
//! - `{ regex = "…" }`: a regular expression (the `regex` crate: linear time, no
//!   backtracking, compiled size limited), searched in the value;
//! - `{ min = 400, max = 499 }`: a range of numbers (either end may be left out);
//! - `{ in = ["10.0.0.0/8", "2001:db8::/32"] }`: an address inside one of the ranges;
//! - `{ present = true }`: the fact has a value at all;
//! - `{ not = <condition> }`: the opposite (it also holds when the fact has no value).
//!
//! A condition on a fact the subject does not have (the status of a request) does not hold.

use super::facts::{Fact, FactType, Value};
use crate::act::Prefix;

/// Bytes of a regular expression's pattern at most.
pub const MAX_PATTERN_BYTES: usize = 4096;

/// A compiled test.
#[derive(Debug, Clone)]
pub enum Test {
    /// Equal to one of these.
    Text(Vec<Box<[u8]>>),
    /// Matches this expression.
    Regex(regex::bytes::Regex),
    /// One of these numbers.
    Numbers(Vec<i64>),
    /// Within this range, inclusive.
    Range(i64, i64),
    /// This truth value.
    Bool(bool),
    /// Inside one of these ranges.
    Within(Vec<Prefix>),
    /// Has a value (or not).
    Present(bool),
    /// The opposite.
    Not(Box<Test>),
}

/// A fact and its test.
#[derive(Debug, Clone)]
pub struct Condition {
    /// The fact tested.
    pub fact: Fact,
    /// The test.
    pub test: Test,
}

impl Test {
    /// Whether `value` passes.
    pub fn holds(&self, value: Value<'_>) -> bool {
        match (self, value) {
            (Test::Present(want), v) => (v != Value::Absent) == *want,
            (Test::Not(inner), v) => !inner.holds(v),
            (_, Value::Absent) => false,
            (test, Value::Anomalies(list)) => list.iter().any(|a| test.holds(Value::Text(a.kind.name().as_bytes()))),
            (Test::Text(set), Value::Text(t)) => set.iter().any(|s| **s == *t),
            (Test::Regex(re), Value::Text(t)) => re.is_match(t),
            (Test::Numbers(ns), Value::Number(n)) => ns.contains(&n),
            (Test::Range(lo, hi), Value::Number(n)) => *lo <= n && n <= *hi,
            (Test::Bool(b), Value::Bool(v)) => *b == v,
            (Test::Within(ranges), Value::Address(ip)) => ranges.iter().any(|p| p.contains(ip)),
            _ => false,
        }
    }
}

/// Compiles the condition on `fact` written as `value`; `regex_limit` bounds a compiled
/// expression's size in bytes. The error says what is wrong, without the place.
pub fn compile(fact: Fact, value: &toml::Value, regex_limit: usize) -> Result<Test, String> {
    let ty = fact.ty();
    let name = fact.name();
    match value {
        toml::Value::String(s) => one_text(fact, ty, s).map(|t| match t {
            Single::Text(b) => Test::Text(vec![b]),
            Single::Range(p) => Test::Within(vec![p]),
        }),
        toml::Value::Integer(n) if ty == FactType::Number => Ok(Test::Numbers(vec![*n])),
        toml::Value::Boolean(b) if ty == FactType::Bool => Ok(Test::Bool(*b)),
        toml::Value::Array(items) if items.is_empty() => Err(format!("{name}: an empty list matches nothing")),
        toml::Value::Array(items) => list(fact, ty, items),
        toml::Value::Table(t) => {
            let mut keys = t.keys().map(String::as_str).collect::<Vec<_>>();
            keys.sort_unstable();
            match keys.as_slice() {
                ["regex"] => regex(fact, ty, &t["regex"], regex_limit),
                ["present"] => match &t["present"] {
                    toml::Value::Boolean(b) => Ok(Test::Present(*b)),
                    _ => Err(format!("{name}: present = true or false")),
                },
                ["not"] => Ok(Test::Not(Box::new(compile(fact, &t["not"], regex_limit)?))),
                ["in"] if ty == FactType::Address => match &t["in"] {
                    toml::Value::Array(items) => list(fact, ty, items),
                    other => compile(fact, other, regex_limit),
                },
                ["max"] | ["min"] | ["max", "min"] if ty == FactType::Number => {
                    let end = |k: &str, default: i64| match t.get(k) {
                        None => Ok(default),
                        Some(toml::Value::Integer(n)) => Ok(*n),
                        Some(_) => Err(format!("{name}: {k} must be an integer")),
                    };
                    let (lo, hi) = (end("min", i64::MIN)?, end("max", i64::MAX)?);
                    if lo > hi {
                        return Err(format!("{name}: min {lo} is above max {hi}"));
                    }
                    Ok(Test::Range(lo, hi))
                }
                _ => Err(format!(
                    "{name}: a condition table has one of regex, {}present or not; found {}",
                    match ty {
                        FactType::Number => "min/max, ",
                        FactType::Address => "in, ",
                        _ => "",
                    },
                    if keys.is_empty() { "nothing".to_owned() } else { keys.join(", ") }
                )),
            }
        }
        other => Err(format!("{name} is {}, not {}", describe(ty), other.type_str())),
    }
}

enum Single {
    Text(Box<[u8]>),
    Range(Prefix),
}

fn one_text(fact: Fact, ty: FactType, s: &str) -> Result<Single, String> {
    let name = fact.name();
    match ty {
        FactType::Text | FactType::Names => Ok(Single::Text(s.as_bytes().into())),
        FactType::Choice(names) if names.contains(&s) => Ok(Single::Text(s.as_bytes().into())),
        FactType::Choice(names) => Err(format!("{name}: {s:?} is not one of {}", names.join(", "))),
        FactType::Address => s.parse::<Prefix>().map(Single::Range).map_err(|e| format!("{name}: {e}")),
        FactType::Number | FactType::Bool => Err(format!("{name} is {}, not a string", describe(ty))),
    }
}

fn list(fact: Fact, ty: FactType, items: &[toml::Value]) -> Result<Test, String> {
    let name = fact.name();
    if ty == FactType::Number {
        let numbers = items
            .iter()
            .map(|v| v.as_integer().ok_or_else(|| format!("{name}: a list of integers, not {}", v.type_str())))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Test::Numbers(numbers));
    }
    let mut texts = Vec::new();
    let mut ranges = Vec::new();
    for v in items {
        let s = v.as_str().ok_or_else(|| format!("{name}: a list of strings, not {}", v.type_str()))?;
        match one_text(fact, ty, s)? {
            Single::Text(t) => texts.push(t),
            Single::Range(p) => ranges.push(p),
        }
    }
    Ok(if ty == FactType::Address { Test::Within(ranges) } else { Test::Text(texts) })
}

fn regex(fact: Fact, ty: FactType, pattern: &toml::Value, limit: usize) -> Result<Test, String> {
    let name = fact.name();
    if !matches!(ty, FactType::Text | FactType::Names | FactType::Choice(_)) {
        return Err(format!("{name} is {}: a regex applies to text", describe(ty)));
    }
    let Some(pattern) = pattern.as_str() else { return Err(format!("{name}: regex must be a string")) };
    if pattern.len() > MAX_PATTERN_BYTES {
        return Err(format!("{name}: regex of {} bytes (at most {MAX_PATTERN_BYTES})", pattern.len()));
    }
    regex::bytes::RegexBuilder::new(pattern).size_limit(limit).dfa_size_limit(limit).build().map(Test::Regex).map_err(
        |e| match e {
            regex::Error::CompiledTooBig(n) => {
                format!("{name}: regex {pattern:?} would compile to more than {n} bytes (the limit); simplify it")
            }
            other => format!("{name}: bad regex: {}", other.to_string().replace('\n', " ")),
        },
    )
}

fn describe(ty: FactType) -> &'static str {
    match ty {
        FactType::Text => "text",
        FactType::Choice(_) => "a name",
        FactType::Number => "a number",
        FactType::Bool => "true or false",
        FactType::Address => "an address",
        FactType::Names => "a set of names",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(fact: Fact, toml_value: &str) -> Result<Test, String> {
        let doc: toml::Table = toml::from_str(&format!("v = {toml_value}")).unwrap();
        compile(fact, &doc["v"], 1 << 20)
    }

    #[test]
    fn every_form_compiles_and_tests() {
        let t = c(Fact::Method, r#"["REGISTER", "INVITE"]"#).unwrap();
        assert!(t.holds(Value::Text(b"INVITE")) && !t.holds(Value::Text(b"invite")) && !t.holds(Value::Absent));
        let t = c(Fact::Status, "{ min = 400, max = 499 }").unwrap();
        assert!(t.holds(Value::Number(404)) && !t.holds(Value::Number(500)));
        assert!(c(Fact::Status, "[401, 407]").unwrap().holds(Value::Number(407)));
        let t = c(Fact::Source, r#"{ in = ["10.0.0.0/8", "2001:db8::/32"] }"#).unwrap();
        assert!(t.holds(Value::Address("10.1.2.3".parse().unwrap())));
        assert!(!t.holds(Value::Address("11.1.2.3".parse().unwrap())));
        let t = c(Fact::UserAgent, r#"{ regex = "(?i)friendly-scanner|sipvicious" }"#).unwrap();
        assert!(t.holds(Value::Text(b"Friendly-Scanner")) && !t.holds(Value::Text(b"Yealink")));
        let t = c(Fact::UaClass, r#"{ not = "attack_tool" }"#).unwrap();
        assert!(t.holds(Value::Text(b"softphone")) && !t.holds(Value::Text(b"attack_tool")));
        assert!(t.holds(Value::Absent), "not holds where the fact is absent");
        assert!(c(Fact::Proven, "false").unwrap().holds(Value::Bool(false)));
        assert!(c(Fact::Dialled, "{ present = true }").unwrap().holds(Value::Text(b"0049")));
    }

    #[test]
    fn wrong_forms_say_why() {
        let err = |f, v| c(f, v).unwrap_err();
        assert!(err(Fact::Kind, r#""reqest""#).contains("not one of request"), "{}", err(Fact::Kind, r#""reqest""#));
        assert!(err(Fact::Status, r#""401""#).contains("a number"));
        assert!(err(Fact::Status, "[]").contains("empty list"));
        assert!(err(Fact::Status, r#"{ regex = "4.." }"#).contains("applies to text"));
        assert!(err(Fact::Method, "{ contains = 1 }").contains("found contains"));
        assert!(err(Fact::Source, r#""10.0.0.0/40""#).contains("bad prefix length"));
        assert!(err(Fact::UserAgent, r#"{ regex = "(" }"#).contains("bad regex"));
    }

    #[test]
    fn a_regex_that_would_blow_up_is_refused() {
        // Exponential for backtracking engines, and beyond the compiled-size limit here.
        let e = c(Fact::UserAgent, r#"{ regex = "((a{100}){100}){100}" }"#).unwrap_err();
        assert!(e.contains("more than") && e.contains("limit"), "{e}");
        // The classic catastrophic-backtracking pattern compiles and runs in linear time.
        let t = c(Fact::UserAgent, r#"{ regex = "^(a+)+$" }"#).unwrap();
        let evil = format!("{}!", "a".repeat(100_000));
        assert!(!t.holds(Value::Text(evil.as_bytes())));
    }
}
