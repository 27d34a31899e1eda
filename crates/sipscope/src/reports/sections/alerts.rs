//! The alerts section: what the rules raised, per rule (alerts, messages, sources and how many
//! were unproven, what the rule asks for, its first evidence), and the latest alerts. The same
//! section is what `sipscope rules test` prints for a backtest.

use super::traffic::iso_time;
use super::{title, Result};
use crate::reports::model::{Cell, Section, Table};
use crate::store::{Filter, StoreReader};

/// Latest alerts listed.
pub const LATEST: u32 = 50;

pub fn alerts(store: &dyn StoreReader, f: &Filter) -> Result<Section> {
    let mut s = Section::new("alerts", title("alerts"));
    let mut per_rule = Table::new(
        "alert_rules",
        "Alerts per rule",
        &[
            "rule",
            "name",
            "severity",
            "alerts",
            "messages",
            "sources",
            "unproven sources",
            "first",
            "last",
            "decisions it would take",
            "first evidence",
        ],
    );
    let rules = store.alert_rules(f)?;
    for r in &rules {
        let asks: Vec<String> = serde_json::from_str(&r.actions).unwrap_or_default();
        // One decision per source and action (the policy may refuse or narrow it).
        let unproven =
            if r.unproven_sources > 0 { format!(" ({} unproven)", r.unproven_sources) } else { String::new() };
        let decisions: Vec<String> = asks
            .iter()
            .filter(|a| a.as_str() != "alert")
            .map(|a| format!("{a} for {} sources{unproven}", r.sources))
            .collect();
        let decisions = if decisions.is_empty() { "alert only".to_owned() } else { decisions.join("; ") };
        let evidence = r.first_evidence.as_ref().map(|e| {
            let event = e.event_id.map(|id| format!(" (event {id})")).unwrap_or_default();
            format!("{} {} > {}{event}", crate::time::iso_time(e.ts_ns), e.src, e.dst)
        });
        per_rule.push(vec![
            r.rule_id.clone().into(),
            r.name.clone().into(),
            r.severity.clone().into(),
            Cell::Int(r.alerts),
            Cell::Int(r.matches),
            Cell::Int(r.sources),
            Cell::Int(r.unproven_sources),
            iso_time(r.first_ns),
            iso_time(r.last_ns),
            decisions.into(),
            evidence.into(),
        ]);
    }
    s.tables.push(per_rule);
    let mut latest = Table::new(
        "alerts",
        "Latest alerts",
        &["first", "last", "rule", "severity", "group", "messages", "source", "proven", "node", "method", "user agent"],
    );
    for a in store.recent_alerts(f, LATEST)? {
        latest.push(vec![
            iso_time(a.first_ns),
            iso_time(a.last_ns),
            a.rule_id.into(),
            a.severity.into(),
            a.group_key.into(),
            Cell::Int(a.count),
            a.src.into(),
            (if a.proven { "yes" } else { "no" }).into(),
            a.node.into(),
            a.method.into(),
            a.user_agent.into(),
        ]);
    }
    s.tables.push(latest);
    if rules.is_empty() {
        s.notes.push("No alerts in this range (or the rules did not run: --no-rules, [rules] enabled = false).".into());
    }
    s.notes.push(format!(
        "One alert per rule and group per dedupe period, with the messages it counted; the {LATEST} latest are listed. \
         An unproven source (no completed TCP/TLS exchange, no echoed nonce or tag) may be spoofed: its alerts ask \
         for bans that are not enforced unless the operator opts in (docs/rules.md)."
    ));
    Ok(s)
}
