//! Alerts per rule from the index: the reader's `alert_rules` (`store/sqlite/alerts.rs`), its
//! first evidence read from the reader by alert id in the same order as its SQL.

use super::{in_range, node_ids, node_in, ReportIndex};
use crate::store::rows::{address_text, AlertEvidenceRow, AlertRuleRow};
use crate::store::{Filter, Result, StoreReader};

/// An alert, as the index keeps it.
#[derive(Debug, Clone, Copy)]
pub(super) struct AlertRow {
    pub id: i64,
    pub rule: u32,
    pub src: Option<u32>,
    pub proven: i64,
    pub first_ns: i64,
    pub last_ns: i64,
    pub count: i64,
    pub name: u32,
    pub severity: u32,
    pub actions: u32,
    pub node: Option<u32>,
    pub group_key: u32,
}

/// Alert ids asked of the reader at once while looking for a rule's first evidence: the first
/// few, then more at a time.
const FIRST_BATCH: usize = 8;
const EVIDENCE_BATCH: usize = 256;

/// One rule's alerts so far.
struct RuleMerge {
    rule: u32,
    row: AlertRuleRow,
    name: u32,
    severity: u32,
    actions: u32,
    source: Option<u32>,
    unproven_source: Option<u32>,
}

impl ReportIndex {
    /// `alert_rules`, `None` when the alerts are not indexed or a sum overflows.
    pub(super) fn alert_rules(&self, f: &Filter, reader: &dyn StoreReader) -> Result<Option<Vec<AlertRuleRow>>> {
        let Some(alerts) = &self.alerts else { return Ok(None) };
        let t = &self.texts;
        let nodes = node_ids(t, f);
        let mut done: Vec<RuleMerge> = Vec::new();
        for a in alerts.iter().filter(|a| in_range(f, a.first_ns) && node_in(&nodes, a.node)) {
            if done.last().is_none_or(|m| m.rule != a.rule) {
                done.push(RuleMerge {
                    rule: a.rule,
                    row: AlertRuleRow {
                        rule_id: String::new(),
                        name: String::new(),
                        severity: String::new(),
                        alerts: 0,
                        matches: 0,
                        sources: 0,
                        unproven_sources: 0,
                        first_ns: a.first_ns,
                        last_ns: a.last_ns,
                        actions: String::new(),
                        first_evidence: None,
                    },
                    name: a.name,
                    severity: a.severity,
                    actions: a.actions,
                    source: None,
                    unproven_source: None,
                });
            }
            let Some(m) = done.last_mut() else { return Ok(None) };
            let Some(matches) = m.row.matches.checked_add(a.count) else { return Ok(None) };
            (m.row.alerts, m.row.matches) = (m.row.alerts + 1, matches);
            (m.row.first_ns, m.row.last_ns) = (m.row.first_ns.min(a.first_ns), m.row.last_ns.max(a.last_ns));
            for (kept, now) in [(&mut m.name, a.name), (&mut m.severity, a.severity), (&mut m.actions, a.actions)] {
                if now != *kept && t.cmp(now, *kept).is_gt() {
                    *kept = now;
                }
            }
            if let Some(src) = a.src {
                if m.source != Some(src) {
                    (m.row.sources, m.source) = (m.row.sources + 1, Some(src));
                }
                if a.proven == 0 && m.unproven_source != Some(src) {
                    (m.row.unproven_sources, m.unproven_source) = (m.row.unproven_sources + 1, Some(src));
                }
            }
        }
        // The SQL's order: alerts, most first, then the rule.
        done.sort_unstable_by(|a, b| b.row.alerts.cmp(&a.row.alerts).then_with(|| t.cmp(a.rule, b.rule)));
        let mut out = Vec::with_capacity(done.len());
        for mut m in done {
            m.row.rule_id = t.lossy(m.rule);
            (m.row.name, m.row.severity, m.row.actions) = (t.lossy(m.name), t.lossy(m.severity), t.lossy(m.actions));
            m.row.first_evidence = self.first_evidence(f, &nodes, m.rule, reader)?;
            out.push(m.row);
        }
        Ok(Some(out))
    }

    /// The first evidence of `rule`'s alerts in the filter, in the order of the alerts' first
    /// match, group and id, then the evidence's position (the SQL's `first_evidence`): the
    /// alerts in that order, their evidence read from the reader a batch at a time.
    fn first_evidence(
        &self,
        f: &Filter,
        nodes: &Option<Vec<u32>>,
        rule: u32,
        reader: &dyn StoreReader,
    ) -> Result<Option<AlertEvidenceRow>> {
        let Some(by_first) = &self.alerts_by_first else { return Ok(None) };
        let Some(alerts) = &self.alerts else { return Ok(None) };
        let start = f
            .from_ns
            .map_or(0, |from| by_first.partition_point(|&i| alerts.get(i as usize).is_some_and(|a| a.first_ns < from)));
        let mut of_rule = by_first
            .get(start..)
            .unwrap_or_default()
            .iter()
            .filter_map(|&i| alerts.get(i as usize))
            .take_while(|a| f.to_ns.is_none_or(|to| a.first_ns < to))
            .filter(|a| a.rule == rule && node_in(nodes, a.node));
        // A few first (the earliest alert usually has evidence), then larger batches.
        let mut size = FIRST_BATCH;
        loop {
            let batch: Vec<&AlertRow> = of_rule.by_ref().take(size).collect();
            if batch.is_empty() {
                return Ok(None);
            }
            let ids: Vec<i64> = batch.iter().map(|a| a.id).collect();
            let evidence = reader.alert_evidence(&ids)?;
            // By alert id then position: the first of the first alert (in the batch's order)
            // that has any.
            for a in batch {
                if let Some(e) = evidence.iter().find(|e| e.alert_id == a.id) {
                    return Ok(Some(AlertEvidenceRow {
                        ts_ns: e.ts_ns,
                        src: address_text(Some(e.src.0.clone()), Some(e.src.1)).unwrap_or_default(),
                        dst: address_text(Some(e.dst.0.clone()), Some(e.dst.1)).unwrap_or_default(),
                        event_id: e.event_id,
                    }));
                }
            }
            size = EVIDENCE_BATCH;
        }
    }
}
