//! The nftables JSON (libnftables-json(5)) that `nft -j -f -` reads: typed objects serialised
//! by serde, never text pasted together, so nothing but typed addresses, ports and numbers
//! reaches nft. One [`Batch`] is one transaction: the kernel applies all of it or none.
//!
//! What sipscope installs in its `inet` table (docs/enforcement.md):
//! - sets `ban_v4`, `ban_v6` (addresses and ranges, `flags interval, timeout`) and
//!   `ban_v4_port`, `ban_v6_port` (address . source port, `flags timeout`);
//! - named counters `banned_v4`, `banned_v6`, `banned_v4_port`, `banned_v6_port`,
//!   `rate_limited` (they keep counting across reconciles, which rebuild the rules);
//! - chain `prerouting`, hooked at prerouting with priority raw (-300): before connection
//!   tracking (-200), so a banned packet never creates or refreshes a conntrack entry;
//! - in it one drop rule per set, then one rule per rate limit (`meta time <` its end, so it
//!   stops matching by itself, `limit rate over N/second`).

use super::plan::{Element, Plan, RateRule};
use crate::act::Scope;
use serde::Serialize;
use std::net::IpAddr;

const FAMILY: &str = "inet";
/// The chain sipscope hooks.
pub const CHAIN: &str = "prerouting";
/// Priority `raw`: before connection tracking (-200) and every filter at 0.
pub const PRIORITY_RAW: i32 = -300;
/// The counter of rate-limited packets dropped.
pub const RATE_LIMITED: &str = "rate_limited";

/// One ban set: its name, key, flags, the counter of its drop rule, and what it matches.
struct BanSet {
    name: &'static str,
    /// `@name`, how rules refer to it.
    reference: &'static str,
    key: Key,
    flags: &'static [&'static str],
    counter: &'static str,
    v6: bool,
    with_port: bool,
}

const INTERVAL: &[&str] = &["interval", "timeout"];
const TIMEOUT: &[&str] = &["timeout"];

const SETS: [BanSet; 4] = [
    BanSet {
        name: "ban_v4",
        reference: "@ban_v4",
        key: Key::One("ipv4_addr"),
        flags: INTERVAL,
        counter: "banned_v4",
        v6: false,
        with_port: false,
    },
    BanSet {
        name: "ban_v6",
        reference: "@ban_v6",
        key: Key::One("ipv6_addr"),
        flags: INTERVAL,
        counter: "banned_v6",
        v6: true,
        with_port: false,
    },
    BanSet {
        name: "ban_v4_port",
        reference: "@ban_v4_port",
        key: Key::Concat(["ipv4_addr", "inet_service"]),
        flags: TIMEOUT,
        counter: "banned_v4_port",
        v6: false,
        with_port: true,
    },
    BanSet {
        name: "ban_v6_port",
        reference: "@ban_v6_port",
        key: Key::Concat(["ipv6_addr", "inet_service"]),
        flags: TIMEOUT,
        counter: "banned_v6_port",
        v6: true,
        with_port: true,
    },
];

/// The names of the counters sipscope keeps, ban sets' first.
pub fn counters() -> impl Iterator<Item = &'static str> {
    SETS.iter().map(|s| s.counter).chain(std::iter::once(RATE_LIMITED))
}

/// The names of the sets.
pub fn sets() -> impl Iterator<Item = &'static str> {
    SETS.iter().map(|s| s.name)
}

/// A list of commands applied as one transaction.
#[derive(Debug, Serialize)]
pub struct Batch {
    nftables: Vec<Command>,
}

impl Batch {
    /// The JSON text for `nft -j -f -`.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "lowercase")]
enum Command {
    Add(Object),
    Flush(Object),
    Delete(Object),
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "lowercase")]
enum Object {
    Table(Table),
    Counter(Named),
    Set(Set),
    Chain(Chain),
    Rule(Rule),
    Element(Elements),
}

#[derive(Debug, Serialize)]
struct Table {
    family: &'static str,
    name: String,
}

#[derive(Debug, Serialize)]
struct Named {
    family: &'static str,
    table: String,
    name: &'static str,
}

#[derive(Debug, Serialize)]
struct Set {
    family: &'static str,
    table: String,
    name: &'static str,
    #[serde(rename = "type")]
    key: Key,
    flags: &'static [&'static str],
}

#[derive(Debug, Clone, Copy, Serialize)]
#[serde(untagged)]
enum Key {
    One(&'static str),
    Concat([&'static str; 2]),
}

#[derive(Debug, Serialize)]
struct Chain {
    family: &'static str,
    table: String,
    name: &'static str,
    #[serde(flatten)]
    base: Option<BaseChain>,
}

#[derive(Debug, Serialize)]
struct BaseChain {
    #[serde(rename = "type")]
    kind: &'static str,
    hook: &'static str,
    prio: i32,
    policy: &'static str,
}

#[derive(Debug, Serialize)]
struct Rule {
    family: &'static str,
    table: String,
    chain: &'static str,
    expr: Vec<Expr>,
    comment: &'static str,
}

#[derive(Debug, Serialize)]
struct Elements {
    family: &'static str,
    table: String,
    name: &'static str,
    elem: Vec<Elem>,
}

#[derive(Debug, Serialize)]
struct Elem {
    elem: ElemBody,
}

#[derive(Debug, Serialize)]
struct ElemBody {
    val: Value,
    timeout: u64,
}

/// A right-hand value: an address, a number, a word (`@set`, `udp`), or a compound.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Value {
    Addr(IpAddr),
    Number(i64),
    Word(&'static str),
    Compound(Compound),
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "lowercase")]
enum Compound {
    Prefix { addr: IpAddr, len: u8 },
    Range([IpAddr; 2]),
    Concat(Vec<Value>),
    Set(Vec<Value>),
}

/// A left-hand expression: a packet field or meta key, or several joined.
#[derive(Debug, Serialize)]
#[serde(rename_all = "lowercase")]
enum Field {
    Payload { protocol: &'static str, field: &'static str },
    Meta { key: &'static str },
    Concat(Vec<Field>),
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "lowercase")]
enum Expr {
    Match { op: &'static str, left: Field, right: Value },
    Limit { rate: u32, per: &'static str, burst: u32, inv: bool },
    Counter(&'static str),
    Drop(()),
}

fn source(v6: bool) -> Field {
    Field::Payload { protocol: if v6 { "ip6" } else { "ip" }, field: "saddr" }
}

fn source_port() -> Field {
    Field::Payload { protocol: "th", field: "sport" }
}

/// `meta l4proto { tcp, udp, sctp }`: only these have the source port `th sport` reads.
fn has_ports() -> Expr {
    let protocols = vec![Value::Word("tcp"), Value::Word("udp"), Value::Word("sctp")];
    Expr::Match { op: "==", left: Field::Meta { key: "l4proto" }, right: Value::Compound(Compound::Set(protocols)) }
}

fn equals(left: Field, right: Value) -> Expr {
    Expr::Match { op: "==", left, right }
}

/// The batch that makes the table hold exactly `plan`: creates what is missing (`add` of an
/// existing object changes nothing, named counters keep their counts), empties the sets and
/// the chain, and fills them again, element timeouts counted from now. With `rebuild`, the
/// table is deleted first (in the same transaction), for a table an older or foreign ruleset
/// left in a shape `add` cannot change.
pub fn reconcile(table: &str, plan: &Plan, rebuild: bool) -> Batch {
    let table = table.to_owned();
    let mut cmds = Vec::new();
    let add_table = || Object::Table(Table { family: FAMILY, name: table.clone() });
    if rebuild {
        cmds.push(Command::Add(add_table()));
        cmds.push(Command::Delete(add_table()));
    }
    cmds.push(Command::Add(add_table()));
    for name in counters() {
        cmds.push(Command::Add(Object::Counter(Named { family: FAMILY, table: table.clone(), name })));
    }
    for s in &SETS {
        let set = Set { family: FAMILY, table: table.clone(), name: s.name, key: s.key, flags: s.flags };
        cmds.push(Command::Add(Object::Set(set)));
    }
    let chain = |base| Object::Chain(Chain { family: FAMILY, table: table.clone(), name: CHAIN, base });
    let base = BaseChain { kind: "filter", hook: "prerouting", prio: PRIORITY_RAW, policy: "accept" };
    cmds.push(Command::Add(chain(Some(base))));
    cmds.push(Command::Flush(chain(None)));
    for s in &SETS {
        let (name, table) = (s.name, table.clone());
        cmds.push(Command::Flush(Object::Set(Set { family: FAMILY, table, name, key: s.key, flags: s.flags })));
    }
    let elements = [
        plan.ban_v4.iter().map(|(e, t)| elem(element_value(*e), *t)).collect::<Vec<_>>(),
        plan.ban_v6.iter().map(|(e, t)| elem(element_value(*e), *t)).collect(),
        plan.ban_v4_port.iter().map(|(a, p, t)| elem(pair(IpAddr::V4(*a), *p), *t)).collect(),
        plan.ban_v6_port.iter().map(|(a, p, t)| elem(pair(IpAddr::V6(*a), *p), *t)).collect(),
    ];
    for (s, elem) in SETS.iter().zip(elements) {
        if !elem.is_empty() {
            cmds.push(Command::Add(Object::Element(Elements {
                family: FAMILY,
                table: table.clone(),
                name: s.name,
                elem,
            })));
        }
    }
    let rule = |expr, comment| {
        Command::Add(Object::Rule(Rule { family: FAMILY, table: table.clone(), chain: CHAIN, expr, comment }))
    };
    for s in &SETS {
        let mut expr = Vec::new();
        let reference = Value::Word(s.reference);
        if s.with_port {
            expr.push(has_ports());
            expr.push(equals(Field::Concat(vec![source(s.v6), source_port()]), reference));
        } else {
            expr.push(equals(source(s.v6), reference));
        }
        expr.extend([Expr::Counter(s.counter), Expr::Drop(())]);
        cmds.push(rule(expr, "sipscope: banned sources"));
    }
    for r in &plan.rate_limits {
        cmds.push(rule(rate_limit(r), "sipscope: rate limit"));
    }
    Batch { nftables: cmds }
}

/// The batch that deletes the table and everything in it; succeeds whether it exists or not
/// (it is created first, in the same transaction).
pub fn removal(table: &str) -> Batch {
    let t = || Object::Table(Table { family: FAMILY, name: table.to_owned() });
    Batch { nftables: vec![Command::Add(t()), Command::Delete(t())] }
}

fn elem(val: Value, timeout: u64) -> Elem {
    Elem { elem: ElemBody { val, timeout } }
}

fn element_value(e: Element) -> Value {
    match e {
        Element::Single(a) => Value::Addr(a),
        Element::Prefix(addr, len) => Value::Compound(Compound::Prefix { addr, len }),
        Element::Range(a, b) => Value::Compound(Compound::Range([a, b])),
    }
}

fn pair(addr: IpAddr, port: u16) -> Value {
    Value::Compound(Compound::Concat(vec![Value::Addr(addr), Value::Number(i64::from(port))]))
}

/// `meta time < END <scope> [limit rate over N/second burst N packets] counter drop`.
fn rate_limit(r: &RateRule) -> Vec<Expr> {
    let mut expr = vec![Expr::Match { op: "<", left: Field::Meta { key: "time" }, right: Value::Number(r.until_s) }];
    match r.scope {
        Scope::Address(a) => expr.push(equals(source(a.is_ipv6()), Value::Addr(a))),
        Scope::Prefix(p) => {
            let right = Value::Compound(Compound::Prefix { addr: p.addr, len: p.len });
            expr.push(equals(source(p.addr.is_ipv6()), right));
        }
        Scope::AddressPort(a, port) => {
            expr.push(has_ports());
            expr.push(equals(source(a.is_ipv6()), Value::Addr(a)));
            expr.push(equals(source_port(), Value::Number(i64::from(port))));
        }
    }
    if r.per_second > 0 {
        expr.push(Expr::Limit { rate: r.per_second, per: "second", burst: r.per_second, inv: true });
    }
    expr.extend([Expr::Counter(RATE_LIMITED), Expr::Drop(())]);
    expr
}

#[cfg(test)]
#[path = "nft_json_tests.rs"]
mod tests;
