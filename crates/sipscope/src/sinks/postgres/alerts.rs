//! Alerts and their evidence, written a batch at a time. An alert used to cost six round
//! trips to the server (its upsert, preparing the evidence statement, one insert per piece of
//! evidence): 23,438 alerts made `analyze` of 900,000 events spend most of its minute and a
//! half waiting (docs/benchmarks.md, "PostgreSQL as the store"). Now the batch's alerts go in
//! one statement per [`ALERTS_PER_STATEMENT`] (arrays unnested, the same upsert), and their
//! evidence in one more: two round trips per chunk.

use super::{pg_error, pg_text, PgStore};
use crate::act::Alert;
use crate::sinks::SinkError;
use std::collections::HashMap;

/// Alerts per statement (and their evidence in the next one): bounds one statement's
/// parameters (26 arrays of this length) whatever the batch holds.
const ALERTS_PER_STATEMENT: usize = 1_000;

/// The unique key of an alert row: sensor, rule, group and first match.
type Key = (String, String, String, i64);

/// Upserts the unnested arrays; same conflict rule as one alert at a time had.
const INSERT_ALERTS: &str = "INSERT INTO alerts (run_id, sensor, rule_id, sid, name, severity, labels, group_key,
     first_ns, last_ns, count, node, src_ip, src_port, dst_ip, dst_port, proven, transport, method, status,
     user_agent, from_user, to_user, ruri_user, call_id, actions)
   SELECT * FROM unnest($1::int8[], $2::text[], $3::text[], $4::int8[], $5::text[], $6::text[], $7::text[],
     $8::text[], $9::int8[], $10::int8[], $11::int8[], $12::text[], $13::text[], $14::int4[], $15::text[],
     $16::int4[], $17::bool[], $18::text[], $19::text[], $20::int8[], $21::text[], $22::text[], $23::text[],
     $24::text[], $25::text[], $26::text[])
   ON CONFLICT (sensor, rule_id, group_key, first_ns) DO UPDATE SET
     run_id = coalesce(excluded.run_id, alerts.run_id),
     last_ns = greatest(alerts.last_ns, excluded.last_ns),
     count = greatest(alerts.count, excluded.count),
     node = excluded.node, src_ip = excluded.src_ip, src_port = excluded.src_port,
     dst_ip = excluded.dst_ip, dst_port = excluded.dst_port,
     proven = alerts.proven OR excluded.proven, transport = excluded.transport
   RETURNING id, sensor, rule_id, group_key, first_ns";

/// Each piece of evidence with its event: the id known by position, else the newest event
/// alike in time and addresses; a piece is rewritten only when it changed.
const INSERT_EVIDENCE: &str = "INSERT INTO alert_evidence (alert_id, position, ts_ns, src_ip, src_port, dst_ip,
     dst_port, event_id)
   SELECT e.alert_id, e.position, e.ts_ns, e.src_ip, e.src_port, e.dst_ip, e.dst_port,
     coalesce(e.event_id, (SELECT id FROM events WHERE ts_ns = e.ts_ns AND src_ip = e.src_ip::inet
       AND src_port = e.src_port AND dst_ip = e.dst_ip::inet AND dst_port = e.dst_port ORDER BY id DESC LIMIT 1))
   FROM unnest($1::int8[], $2::int8[], $3::int8[], $4::text[], $5::int4[], $6::text[], $7::int4[], $8::int8[])
     AS e(alert_id, position, ts_ns, src_ip, src_port, dst_ip, dst_port, event_id)
   ON CONFLICT (alert_id, position) DO UPDATE SET ts_ns = excluded.ts_ns,
     src_ip = excluded.src_ip, src_port = excluded.src_port, dst_ip = excluded.dst_ip,
     dst_port = excluded.dst_port, event_id = excluded.event_id
   WHERE (alert_evidence.ts_ns, alert_evidence.src_ip, alert_evidence.src_port,
          alert_evidence.dst_ip, alert_evidence.dst_port)
     IS DISTINCT FROM (excluded.ts_ns, excluded.src_ip, excluded.src_port, excluded.dst_ip, excluded.dst_port)";

fn key(a: &Alert) -> Key {
    (a.sensor.clone(), a.rule_id.clone(), a.group.to_string(), a.first_ns)
}

/// The batch's alerts with one row each: an alert stored twice in one batch (a live run
/// stores it when raised and again when it changes) becomes what the two upserts one after
/// the other would have left — the first's columns the upsert keeps, the later's it
/// replaces, counts and times at their greatest, `proven` if either was, and the later's
/// evidence (evidence only grows: the first pieces stay, the last one moves).
fn merged(pending: &[(Alert, Option<i64>)]) -> Vec<(Alert, Option<i64>)> {
    let mut at: HashMap<Key, usize> = HashMap::new();
    let mut rows: Vec<(Alert, Option<i64>)> = Vec::with_capacity(pending.len());
    for (a, run) in pending {
        match at.get(&key(a)) {
            Some(&i) => {
                let (kept, kept_run) = &mut rows[i];
                *kept_run = run.or(*kept_run);
                kept.last_ns = kept.last_ns.max(a.last_ns);
                kept.count = kept.count.max(a.count);
                kept.node.clone_from(&a.node);
                kept.src = a.src;
                kept.dst = a.dst;
                kept.proven |= a.proven;
                kept.transport.clone_from(&a.transport);
                kept.evidence.clone_from(&a.evidence);
            }
            None => {
                at.insert(key(a), rows.len());
                rows.push((a.clone(), *run));
            }
        }
    }
    rows
}

fn text(s: &str) -> String {
    pg_text(s).into_owned()
}

fn opt(s: &Option<String>) -> Option<String> {
    s.as_deref().map(text)
}

impl PgStore {
    /// Writes the batch's alerts into the open transaction, once the events before them are
    /// copied.
    pub(super) fn write_alerts(&mut self, pending: &[(Alert, Option<i64>)]) -> Result<(), SinkError> {
        for chunk in merged(pending).chunks(ALERTS_PER_STATEMENT) {
            let ids = self.upsert_alerts(chunk)?;
            self.upsert_evidence(chunk, &ids)?;
        }
        Ok(())
    }

    /// The alerts' rows; their ids by key.
    fn upsert_alerts(&mut self, chunk: &[(Alert, Option<i64>)]) -> Result<HashMap<Key, i64>, SinkError> {
        let alerts = || chunk.iter().map(|(a, _)| a);
        let runs: Vec<Option<i64>> = chunk.iter().map(|(_, run)| *run).collect();
        let sensors: Vec<String> = alerts().map(|a| text(&a.sensor)).collect();
        let rules: Vec<String> = alerts().map(|a| text(&a.rule_id)).collect();
        let sids: Vec<i64> = alerts().map(|a| i64::from(a.signature_id)).collect();
        let names: Vec<String> = alerts().map(|a| text(&a.name)).collect();
        let severities: Vec<&str> = alerts().map(|a| a.severity.as_str()).collect();
        let labels: Vec<String> =
            alerts().map(|a| text(&serde_json::to_string(&a.labels).unwrap_or_else(|_| "[]".into()))).collect();
        let groups: Vec<String> = alerts().map(|a| text(&a.group.to_string())).collect();
        let firsts: Vec<i64> = alerts().map(|a| a.first_ns).collect();
        let lasts: Vec<i64> = alerts().map(|a| a.last_ns).collect();
        let counts: Vec<i64> = alerts().map(|a| i64::try_from(a.count).unwrap_or(i64::MAX)).collect();
        let nodes: Vec<Option<String>> = alerts().map(|a| opt(&a.node)).collect();
        let src_ips: Vec<Option<String>> = alerts().map(|a| a.src.map(|s| s.0.to_string())).collect();
        let src_ports: Vec<Option<i32>> = alerts().map(|a| a.src.map(|s| i32::from(s.1))).collect();
        let dst_ips: Vec<Option<String>> = alerts().map(|a| a.dst.map(|d| d.0.to_string())).collect();
        let dst_ports: Vec<Option<i32>> = alerts().map(|a| a.dst.map(|d| i32::from(d.1))).collect();
        let proven: Vec<bool> = alerts().map(|a| a.proven).collect();
        let transports: Vec<Option<String>> = alerts().map(|a| opt(&a.transport)).collect();
        let methods: Vec<Option<String>> = alerts().map(|a| opt(&a.sip.method)).collect();
        let statuses: Vec<Option<i64>> = alerts().map(|a| a.sip.status.map(i64::from)).collect();
        let agents: Vec<Option<String>> = alerts().map(|a| opt(&a.sip.user_agent)).collect();
        let from_users: Vec<Option<String>> = alerts().map(|a| opt(&a.sip.from_user)).collect();
        let to_users: Vec<Option<String>> = alerts().map(|a| opt(&a.sip.to_user)).collect();
        let ruri_users: Vec<Option<String>> = alerts().map(|a| opt(&a.sip.ruri_user)).collect();
        let call_ids: Vec<Option<String>> = alerts().map(|a| opt(&a.sip.call_id)).collect();
        let actions: Vec<String> = alerts()
            .map(|a| {
                let actions: Vec<String> = a.actions.iter().map(crate::act::action_text).collect();
                text(&serde_json::to_string(&actions).unwrap_or_else(|_| "[]".into()))
            })
            .collect();
        let rows = self
            .client
            .query(
                INSERT_ALERTS,
                &[
                    &runs,
                    &sensors,
                    &rules,
                    &sids,
                    &names,
                    &severities,
                    &labels,
                    &groups,
                    &firsts,
                    &lasts,
                    &counts,
                    &nodes,
                    &src_ips,
                    &src_ports,
                    &dst_ips,
                    &dst_ports,
                    &proven,
                    &transports,
                    &methods,
                    &statuses,
                    &agents,
                    &from_users,
                    &to_users,
                    &ruri_users,
                    &call_ids,
                    &actions,
                ],
            )
            .map_err(pg_error)?;
        Ok(rows.iter().map(|r| ((r.get(1), r.get(2), r.get(3), r.get(4)), r.get(0))).collect())
    }

    /// Every piece of evidence of the chunk's alerts, in one statement.
    fn upsert_evidence(&mut self, chunk: &[(Alert, Option<i64>)], ids: &HashMap<Key, i64>) -> Result<(), SinkError> {
        let (mut alert_ids, mut positions, mut times) = (Vec::new(), Vec::new(), Vec::new());
        let (mut src_ips, mut src_ports, mut dst_ips, mut dst_ports) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut events: Vec<Option<i64>> = Vec::new();
        for (a, _) in chunk {
            let k = (text(&a.sensor), text(&a.rule_id), text(&a.group.to_string()), a.first_ns);
            let Some(&id) = ids.get(&k) else {
                return Err(SinkError::Backend {
                    backend: super::BACKEND,
                    message: format!("the server returned no row for the alert of rule {}", a.rule_id),
                });
            };
            for (position, e) in a.evidence.iter().enumerate() {
                alert_ids.push(id);
                positions.push(position as i64);
                times.push(e.ts_ns);
                src_ips.push(e.src.0.to_string());
                src_ports.push(i32::from(e.src.1));
                dst_ips.push(e.dst.0.to_string());
                dst_ports.push(i32::from(e.dst.1));
                // Known by its position when this writer copied it; searched for otherwise.
                events.push(e.stored.and_then(|at| self.event_ids.id(at)));
            }
        }
        if alert_ids.is_empty() {
            return Ok(());
        }
        self.client
            .execute(
                INSERT_EVIDENCE,
                &[&alert_ids, &positions, &times, &src_ips, &src_ports, &dst_ips, &dst_ports, &events],
            )
            .map_err(pg_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::act::Evidence;

    #[test]
    fn an_alert_stored_twice_in_a_batch_is_one_row_as_two_upserts_would_leave_it() {
        let first = crate::test_support::alert("203.0.113.5", false, 10_000_000_000, vec![]);
        let mut later = first.clone();
        later.count = first.count + 4;
        later.last_ns = first.last_ns + 7;
        later.proven = true;
        later.node = Some("edge".into());
        later.sip.user_agent = Some("changed".into());
        later.evidence.push(Evidence { ts_ns: 12_000_000_000, ordinal: 9, ..first.evidence[0].clone() });
        let other = crate::test_support::alert("203.0.113.6", false, 10_000_000_000, vec![]);
        let rows = merged(&[(first.clone(), None), (other.clone(), Some(3)), (later.clone(), Some(3))]);
        assert_eq!(rows.len(), 2);
        let (a, run) = &rows[0];
        assert_eq!(*run, Some(3));
        assert_eq!((a.count, a.last_ns, a.proven), (later.count, later.last_ns, true));
        assert_eq!(a.node.as_deref(), Some("edge"));
        // The upsert keeps the first row's agent.
        assert_eq!(a.sip.user_agent, first.sip.user_agent);
        assert_eq!(a.evidence, later.evidence);
        assert_eq!(rows[1].0, other);
    }
}
