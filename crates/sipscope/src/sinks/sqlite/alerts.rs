//! Alerts and their evidence, written by the single writer in order with the events: an
//! alert's evidence messages were inserted before it, so each is resolved here to its event's
//! id — by its position when this writer stored it (`event_ids.rs`), else by time, addresses
//! and ports; NULL when the message was not stored. An alert raised again with a larger count
//! (its dedupe period ended) updates its row.

use super::Store;
use crate::act::action_text;
use crate::act::Alert;
use crate::sinks::SinkError;
use rusqlite::params;

/// Values bound per piece of evidence.
const PER_PIECE: usize = 7;

/// The statement writing `n` pieces of evidence: `?1` the alert, then seven values each (the
/// last the event's id when this writer knows it). With `events`, a piece whose id is not
/// known is looked up (`coalesce` evaluates the search only then); without (the store holds
/// no events), it is the id bound, NULL.
fn evidence_sql(n: usize, events: bool) -> String {
    let rows: Vec<String> = (0..n)
        .map(|i| {
            let p = |k: usize| format!("?{}", 2 + PER_PIECE * i + k);
            if !events {
                // Nothing was stored, so no id is known either: `{id}` is NULL (and bound).
                return format!("(?1, {}, {}, {}, {}, {}, {}, {})", p(0), p(1), p(2), p(3), p(4), p(5), p(6));
            }
            format!(
                "(?1, {pos}, {ts}, {si}, {sp}, {di}, {dp}, coalesce({id}, (SELECT id FROM events WHERE ts_ns = {ts} \
                 AND src_ip = {si} AND src_port = {sp} AND dst_ip = {di} AND dst_port = {dp} ORDER BY id DESC LIMIT 1)))",
                pos = p(0),
                ts = p(1),
                si = p(2),
                sp = p(3),
                di = p(4),
                dp = p(5),
                id = p(6)
            )
        })
        .collect();
    format!(
        "INSERT INTO alert_evidence (alert_id, position, ts_ns, src_ip, src_port, dst_ip, dst_port, event_id) VALUES {}
         ON CONFLICT (alert_id, position) DO UPDATE SET ts_ns = excluded.ts_ns, src_ip = excluded.src_ip,
         src_port = excluded.src_port, dst_ip = excluded.dst_ip, dst_port = excluded.dst_port, event_id = excluded.event_id
         WHERE (ts_ns, src_ip, src_port, dst_ip, dst_port)
           IS NOT (excluded.ts_ns, excluded.src_ip, excluded.src_port, excluded.dst_ip, excluded.dst_port)",
        rows.join(", ")
    )
}

/// Evidence statements for 1 to [`CACHED_EVIDENCE`] pieces, built once: the writer asks for
/// one per alert.
const CACHED_EVIDENCE: usize = 8;

fn evidence_sql_cached(n: usize, events: bool) -> std::borrow::Cow<'static, str> {
    static SQL: std::sync::OnceLock<[Vec<String>; 2]> = std::sync::OnceLock::new();
    let all = SQL
        .get_or_init(|| [false, true].map(|events| (0..=CACHED_EVIDENCE).map(|n| evidence_sql(n, events)).collect()));
    match all[usize::from(events)].get(n) {
        Some(sql) => std::borrow::Cow::Borrowed(sql.as_str()),
        None => std::borrow::Cow::Owned(evidence_sql(n, events)),
    }
}

/// The alert's columns, in the order of `?1` … `?26` below.
const ALERT_COLUMNS: &str = "(run_id, sensor, rule_id, sid, name, severity, labels, group_key, first_ns, last_ns,
     count, node, src_ip, src_port, dst_ip, dst_port, proven, transport, method, status, user_agent,
     from_user, to_user, ruri_user, call_id, actions)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21,
     ?22, ?23, ?24, ?25, ?26)";

fn insert_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| format!("INSERT INTO alerts {ALERT_COLUMNS}"))
}

fn upsert_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "INSERT INTO alerts {ALERT_COLUMNS}
             ON CONFLICT (sensor, rule_id, group_key, first_ns) DO UPDATE SET
               run_id = coalesce(excluded.run_id, run_id),
               last_ns = max(last_ns, excluded.last_ns), count = max(count, excluded.count),
               node = excluded.node, src_ip = excluded.src_ip, src_port = excluded.src_port,
               dst_ip = excluded.dst_ip, dst_port = excluded.dst_port,
               proven = max(proven, excluded.proven), transport = excluded.transport
             RETURNING id"
        )
    })
}

/// Addresses written out as text, each once per alert.
#[derive(Default)]
struct AddressTexts(Vec<(std::net::IpAddr, String)>);

impl AddressTexts {
    fn text(&mut self, ip: std::net::IpAddr) -> String {
        if let Some((_, text)) = self.0.iter().find(|(known, _)| *known == ip) {
            return text.clone();
        }
        let text = ip.to_string();
        self.0.push((ip, text.clone()));
        text
    }
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
}

impl Store {
    /// Stores an alert (or updates the row of the same sensor, rule, group and first match)
    /// with its evidence, under the open analysis run. Most alerts are new rows (files and
    /// replays write each alert once, when it closes): a plain insert is tried first, and the
    /// update of an existing row only when that one meets the row already there. The update
    /// moves the row under the run that updated it: a run recovered after a crash finds its
    /// alerts again, and they must outlive the interrupted run it then discards.
    pub fn insert_alert(&mut self, a: &Alert) -> Result<(), SinkError> {
        self.begin()?;
        // An alert names two or three addresses about ten times (itself, each piece of
        // evidence): each is written out as text once.
        let mut addresses = AddressTexts::default();
        let labels = serde_json::to_string(&a.labels).unwrap_or_else(|_| "[]".into());
        let actions: Vec<String> = a.actions.iter().map(action_text).collect();
        let actions = serde_json::to_string(&actions).unwrap_or_else(|_| "[]".into());
        let values = params![
            self.current_run,
            a.sensor,
            a.rule_id,
            a.signature_id,
            a.name,
            a.severity.as_str(),
            labels,
            a.group.to_string(),
            a.first_ns,
            a.last_ns,
            i64::try_from(a.count).unwrap_or(i64::MAX),
            a.node,
            a.src.map(|s| addresses.text(s.0)),
            a.src.map(|s| s.1),
            a.dst.map(|d| addresses.text(d.0)),
            a.dst.map(|d| d.1),
            a.proven,
            a.transport,
            a.sip.method,
            a.sip.status,
            a.sip.user_agent,
            a.sip.from_user,
            a.sip.to_user,
            a.sip.ruri_user,
            a.sip.call_id,
            actions,
        ];
        let id: i64 = match self.conn.prepare_cached(insert_sql())?.execute(values) {
            Ok(_) => self.conn.last_insert_rowid(),
            Err(e) if is_unique_violation(&e) => {
                self.conn.prepare_cached(upsert_sql())?.query_row(values, |r| r.get(0))?
            }
            Err(e) => return Err(e.into()),
        };
        // Evidence only grows (the first matches stay, the last changes): one statement writes
        // every position, or rewrites it when it changed, each event resolved inline.
        if !a.evidence.is_empty() {
            let mut values: Vec<rusqlite::types::Value> = Vec::with_capacity(1 + PER_PIECE * a.evidence.len());
            values.push(id.into());
            for (position, e) in a.evidence.iter().enumerate() {
                values.push((position as i64).into());
                values.push(e.ts_ns.into());
                values.push(addresses.text(e.src.0).into());
                values.push(i64::from(e.src.1).into());
                values.push(addresses.text(e.dst.0).into());
                values.push(i64::from(e.dst.1).into());
                values.push(e.stored.and_then(|at| self.event_ids.id(at)).into());
            }
            self.conn
                .prepare_cached(&evidence_sql_cached(a.evidence.len(), self.events_present))?
                .execute(rusqlite::params_from_iter(values))?;
        }
        self.written()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::act::{Action, Evidence};

    #[test]
    fn an_alert_written_again_updates_its_row_and_evidence() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("s.db")).unwrap();
        let mut a = crate::test_support::alert("203.0.113.5", false, 10_000_000_000, vec![Action::Alert]);
        store.insert_alert(&a).unwrap();
        let other = crate::test_support::alert("203.0.113.6", false, 10_000_000_000, vec![Action::Alert]);
        store.insert_alert(&other).unwrap();
        // The same alert closed later: more matches, a new last piece of evidence, proven.
        let last = Evidence { ts_ns: 12_000_000_000, ordinal: 9, ..a.evidence[0].clone() };
        a.evidence.push(last);
        a.count = 40;
        a.last_ns = 12_000_000_000;
        a.proven = true;
        store.insert_alert(&a).unwrap();
        store.flush_now().unwrap();
        let rows: Vec<(i64, String, i64, i64, bool)> = store
            .conn
            .prepare("SELECT id, group_key, count, last_ns, proven FROM alerts ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(rows[0].1, "source=203.0.113.5");
        assert_eq!((rows[0].2, rows[0].3, rows[0].4), (40, 12_000_000_000, true));
        assert_eq!((rows[1].2, rows[1].4), (25, false));
        let evidence: Vec<(i64, i64, i64)> = store
            .conn
            .prepare("SELECT alert_id, position, ts_ns FROM alert_evidence ORDER BY alert_id, position")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            evidence,
            vec![(rows[0].0, 0, 10_000_000_000), (rows[0].0, 1, 12_000_000_000), (rows[1].0, 0, 10_000_000_000)]
        );
    }

    #[test]
    fn an_alert_found_again_by_a_recovered_run_outlives_the_interrupted_run() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("s.db")).unwrap();
        let scope = crate::sinks::RunScope {
            kind: crate::sinks::RunKind::Capture,
            replace_all: false,
            file_id: None,
            sensor: "t".into(),
        };
        let a = crate::test_support::alert("203.0.113.5", false, 10_000_000_000, vec![Action::Alert]);
        let interrupted = store.begin_analysis_run(&scope, 0).unwrap();
        store.insert_alert(&a).unwrap();
        // The recovery: a new run finds the same alert again, then the old run is discarded.
        let recovered = store.begin_analysis_run(&scope, 1).unwrap();
        store.insert_alert(&a).unwrap();
        store.discard_run(interrupted).unwrap();
        store.flush_now().unwrap();
        let runs: Vec<Option<i64>> = store
            .conn
            .prepare("SELECT run_id FROM alerts")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(runs, vec![Some(recovered)]);
    }

    /// Evidence names its event by the position this writer stored it at, even among events
    /// that look alike (same time and addresses, which the search cannot tell apart: it takes
    /// the newest); a position it does not know, or no longer trusts, is searched for.
    #[test]
    fn evidence_finds_its_event_by_position_and_searches_only_without_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("s.db")).unwrap();
        let a = crate::test_support::alert("203.0.113.5", false, 10_000_000_000, vec![Action::Alert]);
        let piece = a.evidence[0].clone();
        let raw = b"REGISTER sip:198.51.100.1 SIP/2.0\r\nCall-ID: x\r\n\r\n".to_vec();
        let event = crate::event::SipEvent {
            ts_ns: piece.ts_ns,
            sensor: "test".into(),
            node: None,
            transport: crate::event::Transport::Udp,
            src: piece.src,
            dst: piece.dst,
            tunnel: None,
            direction: crate::event::Direction::In,
            origin: None,
            raw,
        };
        let fields = crate::event::fields::SipFields::extract(&sipscope_sip::parse(&event.raw).unwrap());
        for _ in 0..3 {
            store.insert_event(&event, &fields).unwrap();
        }
        let ids: Vec<i64> = store
            .conn
            .prepare("SELECT id FROM events ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let at = |position: Option<u64>| Evidence { stored: position, ..piece.clone() };
        let mut with = a.clone();
        with.evidence = vec![at(Some(0)), at(Some(1)), at(None), at(Some(7))];
        store.insert_alert(&with).unwrap();
        // Forgotten (as after a deletion or a rollback): searched for, so the newest.
        store.event_ids.forget();
        let mut other = crate::test_support::alert("203.0.113.6", false, 10_000_000_000, vec![Action::Alert]);
        other.evidence = vec![at(Some(0))];
        store.insert_alert(&other).unwrap();
        store.flush_now().unwrap();
        let found: Vec<Option<i64>> = store
            .conn
            .prepare("SELECT event_id FROM alert_evidence ORDER BY alert_id, position")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        // Position 7 was never stored here: searched for, it finds the newest look-alike.
        assert_eq!(found, vec![Some(ids[0]), Some(ids[1]), Some(ids[2]), Some(ids[2]), Some(ids[2])]);
    }

    #[test]
    fn evidence_statements_of_every_length_are_the_built_ones() {
        for n in 0..CACHED_EVIDENCE + 3 {
            for events in [false, true] {
                assert_eq!(evidence_sql_cached(n, events), evidence_sql(n, events));
            }
        }
    }
}
