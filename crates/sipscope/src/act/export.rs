//! Decisions in force exported for other tools (`sipscope decisions export`): a plain list of
//! scopes, an nftables script for `nft -f`, and lines a fail2ban filter reads. Every export is
//! built from typed values only (addresses, ports, prefix lengths, numbers of seconds): no
//! reason, rule name or other text reaches a firewall script.

use super::{Decision, DecisionKind, Prefix, Scope};
use crate::time::{iso_time, SECOND_NS};
use std::collections::BTreeMap;
use std::fmt::Write;

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One scope a line (bans only).
    Plain,
    /// An nftables script (bans and rate limits) that replaces its table atomically.
    Nftables,
    /// Log lines for a fail2ban filter (bans of addresses and networks).
    Fail2ban,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        match s {
            "plain" => Ok(Format::Plain),
            "nftables" => Ok(Format::Nftables),
            "fail2ban" => Ok(Format::Fail2ban),
            _ => Err(format!("expected plain, nftables or fail2ban, not {s:?}")),
        }
    }
}

/// A checked nftables table name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName(String);

impl std::str::FromStr for TableName {
    type Err = String;
    /// A letter, then up to 31 letters, digits or `_`.
    fn from_str(s: &str) -> Result<TableName, String> {
        let ok = s.len() <= 32
            && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if ok {
            Ok(TableName(s.to_owned()))
        } else {
            Err(format!("a table name is a letter then up to 31 letters, digits or _, not {s:?}"))
        }
    }
}

/// The export of `decisions` (those in force at `now_ns` are used) in `format`.
pub fn export(format: Format, decisions: &[Decision], now_ns: i64, table: &TableName) -> String {
    let active: Vec<&Decision> = decisions.iter().filter(|d| d.active(now_ns)).collect();
    match format {
        Format::Plain => plain(&active),
        Format::Nftables => nftables(&active, now_ns, table),
        Format::Fail2ban => fail2ban(&active, now_ns),
    }
}

fn bans<'a>(active: &'a [&'a Decision]) -> impl Iterator<Item = &'a Decision> {
    active.iter().copied().filter(|d| d.kind == DecisionKind::Ban)
}

fn plain(active: &[&Decision]) -> String {
    let mut scopes: Vec<Scope> = bans(active).map(|d| d.scope).collect();
    scopes.sort();
    scopes.dedup();
    scopes.iter().map(|s| format!("{s}\n")).collect()
}

fn fail2ban(active: &[&Decision], now_ns: i64) -> String {
    let mut out = String::new();
    for d in bans(active) {
        let seconds = remaining_seconds(d, now_ns);
        match d.scope {
            Scope::Address(_) | Scope::Prefix(_) => {
                let _ = writeln!(out, "{} sipscope ban {} for {seconds}s", iso_time(d.start_ns), d.scope);
            }
            // fail2ban bans addresses; a port scope would widen to the whole address.
            Scope::AddressPort(..) => {
                let _ = writeln!(out, "# skipped (fail2ban has no port scope): {}", d.scope);
            }
        }
    }
    out
}

fn remaining_seconds(d: &Decision, now_ns: i64) -> i64 {
    (d.until_ns.saturating_sub(now_ns).saturating_add(SECOND_NS - 1) / SECOND_NS).max(1)
}

/// Elements of one interval set: network → seconds left. A network inside another of the same
/// set is folded into it (nftables refuses overlapping intervals), which keeps the longer time.
fn fold(elements: Vec<(Prefix, i64)>) -> Vec<(Prefix, i64)> {
    let mut sorted = elements;
    sorted.sort_by_key(|(p, _)| p.len);
    let mut kept: Vec<(Prefix, i64)> = Vec::new();
    for (p, secs) in sorted {
        match kept.iter_mut().find(|(k, _)| k.overlaps(&p)) {
            Some((_, s)) => *s = (*s).max(secs),
            None => kept.push((p, secs)),
        }
    }
    kept.sort();
    kept
}

fn elements(items: &[String]) -> String {
    if items.is_empty() {
        String::new()
    } else {
        format!("\t\telements = {{ {} }}\n", items.join(", "))
    }
}

fn nftables(active: &[&Decision], now_ns: i64, table: &TableName) -> String {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    let mut v4_port = BTreeMap::new();
    let mut v6_port = BTreeMap::new();
    // Rate limits: per rate, the networks limited (each source within one on its own meter).
    let mut limits: BTreeMap<(bool, u32), Vec<(Prefix, i64)>> = BTreeMap::new();
    for d in active {
        let secs = remaining_seconds(d, now_ns);
        let v6_scope = d.scope.address().is_ipv6();
        match (d.kind, d.scope) {
            (DecisionKind::Ban, Scope::AddressPort(a, p)) => {
                let set = if v6_scope { &mut v6_port } else { &mut v4_port };
                let left: &mut i64 = set.entry((a, p)).or_insert(secs);
                *left = (*left).max(secs);
            }
            (DecisionKind::Ban, scope) => (if v6_scope { &mut v6 } else { &mut v4 }).push((scope.as_prefix(), secs)),
            (DecisionKind::RateLimit { per_second }, scope) => {
                limits.entry((v6_scope, per_second.max(1))).or_default().push((scope.as_prefix(), secs))
            }
            (DecisionKind::Watch, _) => {}
        }
    }
    let t = &table.0;
    let mut out = format!(
        "#!/usr/sbin/nft -f\n# sipscope decisions export at {}: load with `nft -f FILE`; it replaces table inet {t}.\n\
         table inet {t}\ndelete table inet {t}\ntable inet {t} {{\n",
        iso_time(now_ns)
    );
    let interval_set = |out: &mut String, name: &str, ty: &str, items: Vec<(Prefix, i64)>| {
        let items: Vec<String> = fold(items).iter().map(|(p, s)| format!("{p} timeout {s}s")).collect();
        let _ = write!(out, "\tset {name} {{\n\t\ttype {ty}\n\t\tflags interval, timeout\n{}\t}}\n", elements(&items));
    };
    interval_set(&mut out, "ban_v4", "ipv4_addr", v4);
    interval_set(&mut out, "ban_v6", "ipv6_addr", v6);
    for (name, ty, set) in
        [("ban_v4_port", "ipv4_addr . inet_service", v4_port), ("ban_v6_port", "ipv6_addr . inet_service", v6_port)]
    {
        let items: Vec<String> = set.iter().map(|((a, p), s)| format!("{a} . {p} timeout {s}s")).collect();
        let _ = write!(out, "\tset {name} {{\n\t\ttype {ty}\n\t\tflags timeout\n{}\t}}\n", elements(&items));
    }
    let mut rules = String::new();
    for ((v6_limit, rate), items) in limits {
        let (family, ty) = if v6_limit { ("ip6", "ipv6_addr") } else { ("ip", "ipv4_addr") };
        let name = format!("limit_{}_{rate}", if v6_limit { "v6" } else { "v4" });
        interval_set(&mut out, &name, ty, items);
        let _ = write!(
            out,
            "\tset meter_{name} {{\n\t\ttype {ty}\n\t\tsize 65535\n\t\tflags dynamic, timeout\n\t\ttimeout 60s\n\t}}\n"
        );
        let _ = writeln!(
            rules,
            "\t\t{family} saddr @{name} update @meter_{name} {{ {family} saddr limit rate over {rate}/second }} drop"
        );
    }
    out.push_str(
        "\tchain prerouting {\n\t\ttype filter hook prerouting priority raw; policy accept;\n\
         \t\tip saddr @ban_v4 drop\n\t\tip6 saddr @ban_v6 drop\n\
         \t\tmeta l4proto { tcp, udp } ip saddr . th sport @ban_v4_port drop\n\
         \t\tmeta l4proto { tcp, udp } ip6 saddr . th sport @ban_v6_port drop\n",
    );
    out.push_str(&rules);
    out.push_str("\t}\n}\n");
    out
}

#[cfg(test)]
mod tests;
