//! The `decisions` section: what was decided (bans, rate limits, watches) in the range, by
//! rules through the policy and by operators, with who, why and until when; deleted ones are
//! shown with who deleted them. Decisions are about addresses, so the node filter does not
//! apply.

use super::{title, Result};
use crate::act::DecisionKind;
use crate::reports::model::{Cell, Section, Table};
use crate::store::{Filter, StoreReader};
use crate::time::{iso_time, SECOND_NS};
use std::collections::BTreeMap;

/// Decisions read for one report (the newest first).
const MAX_DECISIONS: u32 = 10_000;
/// Decisions listed one by one.
const LISTED: usize = 100;

pub fn decisions(store: &dyn StoreReader, f: &Filter) -> Result<Section> {
    let mut s = Section::new("decisions", title("decisions"));
    let rows = store.decisions(f, MAX_DECISIONS)?;
    let mut totals: BTreeMap<(&'static str, &'static str), (i64, i64, std::collections::BTreeSet<String>)> =
        BTreeMap::new();
    for r in &rows {
        let d = &r.decision;
        let entry = totals.entry((d.kind.as_str(), d.origin.kind_name())).or_default();
        entry.0 += 1;
        entry.1 += i64::from(r.deleted.is_some());
        entry.2.insert(d.scope.to_string());
    }
    let mut summary = Table::new(
        "decisions_summary",
        "Decisions by kind and origin",
        &["kind", "origin", "decisions", "scopes", "deleted"],
    );
    for ((kind, origin), (n, deleted, scopes)) in &totals {
        summary.push(vec![
            (*kind).into(),
            (*origin).into(),
            Cell::Int(*n),
            Cell::Int(scopes.len() as i64),
            Cell::Int(*deleted),
        ]);
    }
    s.tables.push(summary);
    let mut t = Table::new(
        "decisions",
        "Decisions, newest first",
        &[
            "id",
            "kind",
            "scope",
            "from",
            "until",
            "seconds",
            "origin",
            "by",
            "offence",
            "proven",
            "deleted by",
            "reason",
        ],
    );
    for r in rows.iter().take(LISTED) {
        let d = &r.decision;
        let kind = match d.kind {
            DecisionKind::RateLimit { per_second } => format!("rate-limit {per_second}/s"),
            k => k.as_str().to_owned(),
        };
        t.push(vec![
            d.id.into(),
            kind.into(),
            d.scope.to_string().into(),
            iso_time(d.start_ns).into(),
            iso_time(d.until_ns).into(),
            Cell::Int(d.until_ns.saturating_sub(d.start_ns) / SECOND_NS),
            d.origin.kind_name().into(),
            d.origin.name().into(),
            Cell::Int(i64::from(d.offence)),
            if d.proven { "yes" } else { "no" }.into(),
            r.deleted.as_ref().map(|del| format!("{} ({})", del.who, del.why)).into(),
            d.reason.clone().into(),
        ]);
    }
    s.tables.push(t);
    if rows.len() > LISTED {
        s.notes.push(format!("{} decisions; the newest {LISTED} are listed", rows.len()));
    }
    if rows.len() as u32 == MAX_DECISIONS {
        s.notes.push(format!("only the newest {MAX_DECISIONS} decisions were counted"));
    }
    if !f.nodes.is_empty() {
        s.notes.push("decisions are about addresses: the node filter does not apply".into());
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::act::{Decision, DecisionOrigin};
    use crate::sinks::decisions::Deletion;

    #[test]
    fn the_section_lists_decisions_in_the_range_with_who_and_why() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let mut log = crate::sinks::open_decision_log(&path).unwrap();
        let d = |scope: &str, start: i64, origin: DecisionOrigin| Decision {
            id: None,
            kind: DecisionKind::Ban,
            scope: scope.parse().unwrap(),
            start_ns: start * SECOND_NS,
            until_ns: (start + 60) * SECOND_NS,
            reason: "=cmd|' /C calc'!A0".into(),
            origin,
            offence: 1,
            proven: false,
            evidence: vec![],
        };
        log.insert(&d("192.0.2.7", 100, DecisionOrigin::Rule { rule_id: "r1".into() }), Some("s"), 0).unwrap();
        let id = log.insert(&d("192.0.2.8", 200, DecisionOrigin::Operator { who: "alice".into() }), None, 0).unwrap();
        log.insert(&d("192.0.2.9", 1000, DecisionOrigin::Operator { who: "bob".into() }), None, 0).unwrap();
        log.delete_id(id, &Deletion { at_ns: 0, who: "carol".into(), why: "oops".into() }).unwrap();
        let reader = crate::store::open(&path).unwrap();
        let f = Filter { from_ns: Some(150 * SECOND_NS), to_ns: Some(900 * SECOND_NS), nodes: vec!["n1".into()] };
        let s = decisions(reader.as_ref(), &f).unwrap();
        let listed = &s.tables[1].rows;
        assert_eq!(listed.len(), 2, "the one ending at 160 s overlaps, the one from 1000 s does not");
        assert_eq!(listed[0][2], Cell::Text("192.0.2.8".into()));
        assert_eq!(listed[0][10], Cell::Text("carol (oops)".into()));
        assert_eq!(listed[1][7], Cell::Text("r1".into()));
        assert_eq!(s.tables[0].rows.len(), 2, "ban by operator, ban by rule");
        assert!(s.notes.iter().any(|n| n.contains("node filter")));
        // The CSV rendering defuses the formula in the reason.
        let report = crate::reports::model::Report {
            scope: crate::reports::model::Scope { from_ns: None, to_ns: None, nodes: vec![] },
            sections: vec![s],
        };
        let csv = crate::reports::render::csv(&report);
        assert!(csv.iter().any(|(_, text)| text.contains("\"'=cmd|' /C calc'!A0\"") || text.contains("'=cmd|")));
    }
}
