//! Decisions in force exported for other tools (`sipscope decisions export`): a plain list of
//! scopes, the nftables ruleset for `nft -j -f` (exactly the transaction the enforcer applies:
//! `enforce::reconcile_json`, one plan and one serialiser for both), and lines a fail2ban
//! filter reads. Every export is built from typed values only (addresses, ports, prefix
//! lengths, numbers of seconds): no reason, rule name or other text reaches a firewall.

use super::enforce::{check_table_name, reconcile_json, NftSettings};
use super::{Decision, DecisionKind, EnforceError, Scope};
use crate::time::{iso_time, SECOND_NS};
use std::fmt::Write;

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One scope a line (bans only).
    Plain,
    /// The nftables ruleset as libnftables JSON (bans and rate limits), the enforcer's own
    /// transaction: `nft -j -f FILE` makes the table hold exactly these decisions.
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

/// The export of `decisions` (those in force at `now_ns` are used) in `format`.
/// `table` names the nftables table (checked like `[enforce] table`).
pub fn export(format: Format, decisions: &[Decision], now_ns: i64, table: &str) -> Result<String, EnforceError> {
    let active: Vec<&Decision> = decisions.iter().filter(|d| d.active(now_ns)).collect();
    match format {
        Format::Plain => Ok(plain(&active)),
        Format::Nftables => {
            check_table_name(table).map_err(EnforceError)?;
            reconcile_json(&NftSettings::new(table), now_ns, decisions).map(|json| json + "\n")
        }
        Format::Fail2ban => Ok(fail2ban(&active, now_ns)),
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

#[cfg(test)]
mod tests;
