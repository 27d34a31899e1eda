//! Answers folded in Rust from rows a reader streams in a known order, kept apart from any
//! backend so that every reader (and anything else holding the rows) can use them. Grouping
//! and counting distinct values in SQLite goes through temporary B-trees, which cost more than
//! reading the rows once and folding them here (docs/benchmarks.md); PostgreSQL's grouping is
//! cheaper than sending it the rows (its client decodes ~0.5 µs a row), so its reader keeps
//! its SQL. A fold answers exactly what the SQL would (text compared as bytes, as SQLite's
//! BINARY and PostgreSQL's `COLLATE "C"` do), or `None` where it cannot (a sum that
//! overflows): then the reader asks its SQL instead.

use super::rows::AlertRuleRow;

/// One alert as [`AlertRulesFold`] takes it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AlertFoldRow<'a> {
    /// The rule's id.
    pub rule: &'a [u8],
    /// The alert's source address, as stored (`None` for NULL).
    pub source: Option<&'a [u8]>,
    /// Whether the source was proven.
    pub proven: bool,
    /// First match, ns.
    pub first_ns: i64,
    /// Last match, ns.
    pub last_ns: i64,
    /// Matches.
    pub count: i64,
    /// Rule name, severity and actions as stored with the alert.
    pub name: &'a [u8],
    /// Severity.
    pub severity: &'a [u8],
    /// Actions.
    pub actions: &'a [u8],
}

/// One rule's alerts so far.
struct RuleMerge {
    rule_id: Vec<u8>,
    name: Vec<u8>,
    severity: Vec<u8>,
    actions: Vec<u8>,
    alerts: i64,
    matches: i64,
    sources: i64,
    unproven_sources: i64,
    first_ns: i64,
    last_ns: i64,
    /// The last source counted, and the last counted among unproven alerts.
    source: Option<Vec<u8>>,
    unproven_source: Option<Vec<u8>>,
}

impl RuleMerge {
    fn row(self) -> (Vec<u8>, AlertRuleRow) {
        let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let row = AlertRuleRow {
            rule_id: lossy(&self.rule_id),
            name: lossy(&self.name),
            severity: lossy(&self.severity),
            alerts: self.alerts,
            matches: self.matches,
            sources: self.sources,
            unproven_sources: self.unproven_sources,
            first_ns: self.first_ns,
            last_ns: self.last_ns,
            actions: lossy(&self.actions),
            first_evidence: None,
        };
        (self.rule_id, row)
    }
}

/// Alerts per rule (`StoreReader::alert_rules` without the first evidence) from alerts read
/// in rule order and, within a rule, in source order (any order that keeps equal values
/// together: a covering index's): a rule's alerts are neighbours, and so are a source's
/// alerts within it, so distinct sources are counted where the source changes. Per rule:
/// alerts, the sum of matches, distinct sources (NULL not counted) and distinct sources of
/// unproven alerts, the earliest first and latest last match, and the greatest name, severity
/// and actions (as bytes); rules by alerts, most first, then by id.
#[derive(Default)]
pub(crate) struct AlertRulesFold {
    done: Vec<(Vec<u8>, AlertRuleRow)>,
    current: Option<RuleMerge>,
}

impl AlertRulesFold {
    /// Adds one alert; `None` when the sum of a rule's matches overflows.
    pub fn add(&mut self, a: AlertFoldRow<'_>) -> Option<()> {
        if self.current.as_ref().is_some_and(|m| m.rule_id != a.rule) {
            self.done.extend(self.current.take().map(RuleMerge::row));
        }
        let m = self.current.get_or_insert_with(|| RuleMerge {
            rule_id: a.rule.to_vec(),
            name: a.name.to_vec(),
            severity: a.severity.to_vec(),
            actions: a.actions.to_vec(),
            alerts: 0,
            matches: 0,
            sources: 0,
            unproven_sources: 0,
            first_ns: a.first_ns,
            last_ns: a.last_ns,
            source: None,
            unproven_source: None,
        });
        m.matches = m.matches.checked_add(a.count)?;
        m.alerts += 1;
        (m.first_ns, m.last_ns) = (m.first_ns.min(a.first_ns), m.last_ns.max(a.last_ns));
        for (kept, now) in [(&mut m.name, a.name), (&mut m.severity, a.severity), (&mut m.actions, a.actions)] {
            if now > kept.as_slice() {
                kept.clear();
                kept.extend_from_slice(now);
            }
        }
        if let Some(source) = a.source {
            if m.source.as_deref() != Some(source) {
                m.sources += 1;
                replace_bytes(&mut m.source, source);
            }
            if !a.proven && m.unproven_source.as_deref() != Some(source) {
                m.unproven_sources += 1;
                replace_bytes(&mut m.unproven_source, source);
            }
        }
        Some(())
    }

    /// The rules, most alerts first, then by id as bytes.
    pub fn finish(self) -> Vec<AlertRuleRow> {
        let mut done = self.done;
        done.extend(self.current.map(RuleMerge::row));
        done.sort_by(|(a_id, a), (b_id, b)| b.alerts.cmp(&a.alerts).then_with(|| a_id.cmp(b_id)));
        done.into_iter().map(|(_, row)| row).collect()
    }
}

/// `slot` set to `bytes`, reusing its allocation.
fn replace_bytes(slot: &mut Option<Vec<u8>>, bytes: &[u8]) {
    let kept = slot.get_or_insert_with(Vec::new);
    kept.clear();
    kept.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert<'a>(rule: &'a str, source: Option<&'a str>, proven: bool, first_ns: i64, count: i64) -> AlertFoldRow<'a> {
        AlertFoldRow {
            rule: rule.as_bytes(),
            source: source.map(str::as_bytes),
            proven,
            first_ns,
            last_ns: first_ns + 10,
            count,
            name: b"n",
            severity: b"s",
            actions: b"a",
        }
    }

    #[test]
    fn distinct_sources_are_counted_where_the_source_changes_and_rules_ranked_by_alerts() {
        let mut fold = AlertRulesFold::default();
        for a in [
            alert("b", None, true, 5, 1),
            alert("b", Some("10.0.0.1"), true, 3, 2),
            alert("b", Some("10.0.0.1"), false, 9, 1),
            alert("b", Some("10.0.0.2"), false, 1, 4),
            alert("c", Some("10.0.0.1"), true, 7, 1),
            alert("c", Some("10.0.0.3"), true, 2, 1),
            alert("c", Some("10.0.0.3"), true, 4, 1),
            alert("c", Some("10.0.0.4"), true, 6, 1),
            alert("a", Some("10.0.0.9"), false, 8, 1),
        ] {
            fold.add(a).unwrap();
        }
        let rows = fold.finish();
        let got: Vec<_> = rows
            .iter()
            .map(|r| (r.rule_id.as_str(), r.alerts, r.matches, r.sources, r.unproven_sources, r.first_ns, r.last_ns))
            .collect();
        assert_eq!(got, vec![("b", 4, 8, 2, 2, 1, 19), ("c", 4, 4, 3, 0, 2, 17), ("a", 1, 1, 1, 1, 8, 18)]);
    }

    #[test]
    fn a_sum_that_overflows_is_left_to_the_database() {
        let mut fold = AlertRulesFold::default();
        assert!(fold.add(alert("r", Some("x"), true, 1, i64::MAX)).is_some());
        assert!(fold.add(alert("r", Some("x"), true, 1, 1)).is_none());
    }
}
