//! The index against the plain SQLite reader, on `merge_tests`' hostile store grown with what
//! the index must also get right (evidence kept by some alerts only, alerts tied on their
//! first time, text that is not UTF-8 in every family, country rollups and source days): every
//! question it answers, for many filters, must be the reader's answer; the whole report
//! through it must be the same JSON; rows it cannot represent leave their questions to the
//! reader.

use super::*;
use crate::reports::{self, render, sections, HilbertChoice};
use crate::store::sqlite::merge_tests::{hostile_store, T0};
use crate::store::{Filter, SqliteReader};
use crate::time::{DAY_NS, HOUR_NS, SECOND_NS};

/// Rows added to the hostile store through a connection of their own.
fn grow(path: &std::path::Path) {
    let c = rusqlite::Connection::open(path).unwrap();
    let ips = ["192.0.2.1", "192.0.2.2", "198.51.100.7", "2001:db8::1"];
    let bad = "CAST(x'c0ff' AS TEXT)";
    for i in 0..120i64 {
        let ip = ips[(i % 4) as usize];
        let hour = (T0 + (i * 97 % 10_800) * SECOND_NS) / HOUR_NS;
        let node = ["", "a", "b"][(i % 3) as usize];
        let (src, country) = match i % 7 {
            0 => (bad.to_owned(), "'SE'".to_owned()),
            1 => (format!("'{ip}'"), bad.to_owned()),
            _ => (format!("'{ip}'"), ["'SE'", "'GB'", "''"][(i % 3) as usize].to_owned()),
        };
        c.execute_batch(&format!(
            "INSERT OR IGNORE INTO rollup_countries (run_id, hour, node, src_ip, number_country, invites)
             VALUES ({}, {hour}, '{node}', {src}, {country}, {});
             INSERT OR IGNORE INTO source_days (run_id, src_ip, day, messages) VALUES ({}, {src}, {}, 1);",
            1 + i % 2,
            i % 5,
            1 + (i / 4) % 2,
            T0 / DAY_NS + i % 4
        ))
        .unwrap();
    }
    // Evidence for two alerts in three (positions out of order), none for the rest.
    for id in (0..300i64).filter(|id| id % 3 != 0) {
        for position in [2i64, 0] {
            c.execute(
                "INSERT INTO alert_evidence (alert_id, position, ts_ns, src_ip, src_port, dst_ip, dst_port, event_id)
                 VALUES (?1, ?2, ?3, ?4, 5060, '203.0.113.9', 5060, ?5)",
                rusqlite::params![id, position, T0 + id, ips[(id % 4) as usize], (id % 2 == 0).then_some(id)],
            )
            .unwrap();
        }
    }
    // Alerts tied on their first time (groups out of id order), of a rule named in bytes that
    // are not UTF-8, and one rule whose earliest alerts keep no evidence.
    let tied = T0 + 1800 * SECOND_NS;
    c.execute_batch(&format!(
        "INSERT INTO alerts (id, sensor, rule_id, sid, name, severity, labels, group_key, first_ns, last_ns, count,
           src_ip, proven, actions, node) VALUES
         (1001, 's', 'r/one', 1, 'name a', 'low', '[]', 'zz', {tied}, {tied}, 1, '192.0.2.1', 0, '[]', 'a'),
         (1002, 's', 'r/one', 1, 'name a', 'low', '[]', 'aa', {tied}, {tied}, 1, '192.0.2.2', 1, '[]', 'a'),
         (1003, 's', {bad}, 1, {bad}, 'low', '[]', 'g', {tied}, {tied}, 2, {bad}, 0, '[]', NULL),
         (1004, 's', 'r/late', 1, 'late', 'low', '[]', 'g1', {t1}, {t1}, 2, '192.0.2.1', 0, '[]', 'b'),
         (1005, 's', 'r/late', 1, 'late', 'low', '[]', 'g2', {t2}, {t2}, 2, '192.0.2.1', 0, '[]', 'b');
         INSERT INTO alert_evidence (alert_id, position, ts_ns, src_ip, src_port, dst_ip, dst_port, event_id)
         VALUES (1002, 0, {tied}, '2001:db8::1', 5061, '192.0.2.99', 5060, NULL),
                (1001, 0, {tied}, '192.0.2.1', 5062, '192.0.2.99', 5060, 7),
                (1005, 0, {t2}, '192.0.2.1', 5063, '192.0.2.99', 5060, 8);
         INSERT INTO numbers (run_id, number, country, number_type, attempts, variants, sources, first_ns, last_ns,
           variant_samples, invites, country_inferred)
         VALUES (1, {bad}, {bad}, 'mobile', 50, 1, 1, {tied}, {tied}, '[\"x\"]', 3, 1),
                (2, {bad}, NULL, {bad}, 1, 4, 1, {tied}, {tied}, '[\"y\"]', 0, 0);
         INSERT INTO flows (id, run_id, src_ip, first_ns, last_ns, packets, bytes, packets_per_s, methods, destinations,
           dest_ports, source_ports, users, dialled, responses, fingerprint, tool, variant, tool_verdict, similarity,
           strategy, ua_class)
         VALUES (1001, 1, {bad}, {tied}, {tied}, 40, 0, 1.5, '{{}}', 99, 1, 'random', 0, 0, '{{}}', {bad}, {bad}, NULL,
                 'custom', 0.5, {bad}, 'tool');
         INSERT INTO stages (run_id, src_ip, node, stage, first_ns, last_ns, count, detail, samples)
         VALUES (1, {bad}, '', 'toll_fraud', {tied}, {tied}, 3, '{{}}', '[]');
         INSERT INTO rollup_users (run_id, hour, node, ruri_user) VALUES (1, {hour}, '', {bad});",
        t1 = T0 + 2000 * SECOND_NS,
        t2 = T0 + 2001 * SECOND_NS,
        hour = tied / HOUR_NS,
    ))
    .unwrap();
}

/// An hour of its own (from `ISLAND` on) where every ranking ties: rules, sources, agents,
/// numbers, countries, tools, fingerprints, strategies and the widest flows.
const ISLAND: i64 = T0 + 5 * HOUR_NS;

fn grow_island(path: &std::path::Path) {
    let c = rusqlite::Connection::open(path).unwrap();
    let (t, t2, t3) = (ISLAND + SECOND_NS, ISLAND + 2 * SECOND_NS, ISLAND + 3 * SECOND_NS);
    let (hour, earliest, latest) = (ISLAND / HOUR_NS, T0 - DAY_NS, ISLAND + 10 * HOUR_NS);
    c.execute_batch(&format!(
        "INSERT INTO rollup_agents (run_id, hour, node, user_agent, src_ip, messages) VALUES
           (1, {hour}, '', NULL, '192.0.2.1', 7), (1, {hour}, '', 'b', '192.0.2.1', 7),
           (2, {hour}, '', '', '192.0.2.2', 7), (1, {hour}, '', 'a', '192.0.2.2', 3), (2, {hour}, '', 'a', '192.0.2.1', 4);
         INSERT INTO rollup_sources (run_id, hour, node, src_ip, messages, first_ns, last_ns) VALUES
           (1, {hour}, '', '192.0.2.2', 7, {t}, {t}), (1, {hour}, '', '192.0.2.10', 7, {t}, {t}),
           (2, {hour}, 'a', '192.0.2.1', 3, {t}, {t}), (1, {hour}, 'a', '192.0.2.1', 4, {t}, {t});
         INSERT INTO numbers (run_id, number, country, number_type, attempts, variants, sources, first_ns, last_ns,
           variant_samples, invites, country_inferred) VALUES
           (1, '+2', 'SE', 'fixed', 3, 1, 1, {t}, {t}, '[\"a\"]', 1, 0),
           (2, '+1', NULL, 'mobile', 2, 1, 2, {t}, {t}, '[\"b\"]', 1, 0),
           (1, '+1', NULL, 'fixed', 1, 3, 1, {t}, {t}, '[\"c\", \"b\"]', 1, 1);
         INSERT INTO flows (id, run_id, src_ip, first_ns, last_ns, packets, bytes, packets_per_s, methods, destinations,
           dest_ports, source_ports, users, dialled, responses, fingerprint, tool, variant, tool_verdict, similarity,
           strategy, ua_class) VALUES
           (2001, 1, '192.0.2.2', {t}, {t}, 9, 0, 1e300, '{{}}', 5, 1, 'random', 0, 0, '{{}}', 'fp2', 'sipp', NULL,
            'custom', 0.5, 'sweep', 'tool'),
           (2002, 2, '192.0.2.1', {t}, {t}, 9, 0, 0.1, '{{}}', 5, 1, 'random', 0, 0, '{{}}', NULL, 'sipp', 'v',
            'custom', 0.5, 'random', 'tool'),
           (2003, 2, '192.0.2.1', {t}, {t}, 9, 0, -0.0, '{{}}', 5, 1, 'random', 0, 0, '{{}}', 'fp1', NULL, NULL,
            'custom', 0.5, 'sequential', 'tool'),
           (2004, 1, '192.0.2.1', {t2}, {t2}, 1, 0, 0.2, '{{}}', 1, 1, 'random', 0, 0, '{{}}', 'fp1', 'sipp', NULL,
            'exact', 0.5, 'sequential', 'tool'),
           (2005, 1, '192.0.2.2', {t2}, {t2}, 1, 0, 1.0, '{{}}', 1, 1, 'random', 0, 0, '{{}}', 'fp1', 'sipp', NULL,
            'exact', 0.5, 'sequential', 'tool'),
           (2006, 2, '192.0.2.2', {t3}, {latest}, 1, 0, 3.0, '{{}}', 1, 1, 'random', 0, 0, '{{}}', 'fp1', 'sipp', NULL,
            'exact', 0.5, 'sequential', 'tool');
         INSERT INTO stages (run_id, src_ip, node, stage, first_ns, last_ns, count, detail, samples)
         VALUES (2, '203.0.113.77', 'a', 'server_scan', {earliest}, {earliest}, 1, '{{}}', '[]');
         INSERT INTO alerts (id, sensor, rule_id, sid, name, severity, labels, group_key, first_ns, last_ns, count,
           src_ip, proven, actions, node) VALUES
         (3001, 's', 'r/b', 1, 'b', 'low', '[]', 'g', {t}, {t}, 1, '192.0.2.1', 0, '[]', ''),
         (3002, 's', 'r/a', 1, 'a', 'low', '[]', 'g', {t}, {t}, 1, '192.0.2.1', 0, '[]', ''),
         (4000, 's', 'r/sparse', 1, 'sparse', 'low', '[]', 'g00', {t}, {t}, 1, '192.0.2.9', 0, '[]', NULL),
         (4001, 's', 'r/sparse', 1, 'sparse', 'low', '[]', 'g01', {t}, {t}, 1, '192.0.2.9', 0, '[]', NULL),
         (4002, 's', 'r/sparse', 1, 'sparse', 'low', '[]', 'g02', {t}, {t}, 1, '192.0.2.9', 0, '[]', NULL),
         (4003, 's', 'r/sparse', 1, 'sparse', 'low', '[]', 'g03', {t}, {t}, 1, '192.0.2.9', 0, '[]', NULL),
         (4004, 's', 'r/sparse', 1, 'sparse', 'low', '[]', 'g04', {t}, {t}, 1, '192.0.2.9', 0, '[]', NULL),
         (4005, 's', 'r/sparse', 1, 'sparse', 'low', '[]', 'g05', {t}, {t}, 1, '192.0.2.9', 0, '[]', NULL),
         (4006, 's', 'r/sparse', 1, 'sparse', 'low', '[]', 'g06', {t}, {t}, 1, '192.0.2.9', 0, '[]', NULL),
         (4007, 's', 'r/sparse', 1, 'sparse', 'low', '[]', 'g07', {t}, {t}, 1, '192.0.2.9', 0, '[]', NULL),
         (4008, 's', 'r/sparse', 1, 'sparse', 'low', '[]', 'g08', {t}, {t}, 1, '192.0.2.9', 0, '[]', NULL),
         (4009, 's', 'r/sparse', 1, 'sparse', 'low', '[]', 'g09', {t}, {t}, 1, '192.0.2.9', 0, '[]', NULL),
         (4010, 's', 'r/sparse', 1, 'sparse', 'low', '[]', 'g10', {t}, {t}, 1, '192.0.2.9', 0, '[]', NULL),
         (4011, 's', 'r/sparse', 1, 'sparse', 'low', '[]', 'g11', {t}, {t}, 1, '192.0.2.9', 0, '[]', NULL);
         INSERT INTO alert_evidence (alert_id, position, ts_ns, src_ip, src_port, dst_ip, dst_port, event_id)
         VALUES (4011, 0, {t}, '192.0.2.9', 5060, '192.0.2.99', 5060, 11);"
    ))
    .unwrap();
}

fn store() -> (tempfile::TempDir, SqliteReader) {
    let (dir, reader) = hostile_store();
    drop(reader);
    let path = dir.path().join("t.db");
    grow(&path);
    grow_island(&path);
    let reader = SqliteReader::open(&path).unwrap();
    (dir, reader)
}

/// Whole store; ranges cutting it every 10 minutes (from, to, both) and at rows' own times
/// (and a nanosecond either side); empty and inverted ranges; every node, two, '' and one the
/// store never held.
fn filters() -> Vec<Filter> {
    let at = |s: i64| T0 + s * SECOND_NS;
    let mut times: Vec<i64> = (-1..=19).map(|k| at(k * 600)).collect();
    for exact in [at(1800), at(2000), at(2001)] {
        times.extend([exact - 1, exact, exact + 1]);
    }
    let mut out = vec![Filter::default()];
    for &t in &times {
        out.push(Filter { from_ns: Some(t), ..Filter::default() });
        out.push(Filter { to_ns: Some(t), ..Filter::default() });
        out.push(Filter { from_ns: Some(t), to_ns: Some(t + 1800 * SECOND_NS), nodes: vec![] });
    }
    out.push(Filter { from_ns: Some(ISLAND), ..Filter::default() });
    out.push(Filter { from_ns: Some(ISLAND), to_ns: Some(ISLAND + SECOND_NS + 1), nodes: vec!["".into()] });
    out.push(Filter { from_ns: Some(at(3000)), to_ns: Some(at(3000)), nodes: vec![] });
    out.push(Filter { from_ns: Some(at(4000)), to_ns: Some(at(3000)), nodes: vec![] });
    for nodes in [vec!["a"], vec!["b"], vec![""], vec!["zz"], vec!["a", "b"]] {
        let nodes: Vec<String> = nodes.into_iter().map(String::from).collect();
        out.push(Filter { nodes: nodes.clone(), ..Filter::default() });
        out.push(Filter { from_ns: Some(at(1800)), to_ns: Some(at(5400)), nodes });
    }
    out
}

fn loaded(reader: &SqliteReader) -> ReportIndex {
    let (index, mark) = ReportIndex::load(reader, IndexLimits::default()).unwrap().unwrap();
    assert_eq!(Some(mark), reader.change_mark().unwrap());
    index
}

#[test]
fn every_question_the_index_holds_is_answered_as_the_reader_answers_it() {
    let (_dir, reader) = store();
    let index = loaded(&reader);
    let r: &dyn StoreReader = &reader;
    for f in filters() {
        let m = format!("{f:?}");
        assert_eq!(index.alert_rules(&f, r).unwrap(), Some(r.alert_rules(&f).unwrap()), "{m}");
        for limit in [0, 1, 2, 50] {
            assert_eq!(index.top_sources(&f, limit), Some(r.top_sources(&f, limit).unwrap()), "{m}");
            assert_eq!(index.top_user_agents(&f, limit), Some(r.top_user_agents(&f, limit).unwrap()), "{m}");
            assert_eq!(index.top_numbers(&f, limit), Some(r.top_numbers(&f, limit).unwrap()), "{m}");
            assert_eq!(index.custom_fingerprints(&f, limit), Some(r.custom_fingerprints(&f, limit).unwrap()), "{m}");
        }
        assert_eq!(index.dialled_users(&f), Some(r.dialled_users(&f, None).unwrap()), "{m}");
        assert_eq!(index.unified_number_count(&f), Some(r.unified_number_count(&f).unwrap()), "{m}");
        assert_eq!(index.number_countries(&f), Some(r.number_countries(&f).unwrap()), "{m}");
        assert_eq!(index.stage_totals(&f), Some(r.stage_totals(&f).unwrap()), "{m}");
        assert_eq!(index.tool_flows(&f), Some(r.tool_flows(&f).unwrap()), "{m}");
        assert_eq!(index.tools_by_year(&f), Some(r.tools_by_year(&f).unwrap()), "{m}");
        assert_eq!(index.strategy_flows(&f), Some(r.strategy_flows(&f).unwrap()), "{m}");
        assert_eq!(index.source_tool_packets(&f), Some(r.source_tool_packets(&f).unwrap()), "{m}");
        assert_eq!(index.widest_flow(&f), Some(r.widest_flow(&f, None).unwrap()), "{m}");
        let mut ours: Vec<(String, String, i64)> = Vec::new();
        assert!(index.each_dialled_country(&f, &mut |c| ours.push((c.source.into(), c.country.into(), c.invites))));
        let mut theirs: Vec<(String, String, i64)> = Vec::new();
        r.each_dialled_country(&f, &mut |c| theirs.push((c.source.into(), c.country.into(), c.invites))).unwrap();
        assert_eq!(summed(ours), summed(theirs), "{m}");
    }
    // The earliest time is a stage's at a node, the latest a flow's last.
    let extent = r.time_extent().unwrap().unwrap();
    assert_eq!((extent.first_ns, extent.last_ns), (T0 - DAY_NS, ISLAND + 10 * HOUR_NS));
    assert_eq!(Indexed::new(&index, r).time_extent().unwrap(), Some(extent));
    assert_eq!(index.extents.len(), 3);
    for f in filters() {
        assert_eq!(index.request_sources(&f), Some(r.request_sources(&f).unwrap()), "{f:?}");
        assert_eq!(index.source_nodes(&f), Some(r.source_nodes(&f).unwrap()), "{f:?}");
    }
    // Flows per source and tool: where none has more than two flows (the island, rates whose
    // sum rounds, -0.0, 1e300), the index answers; elsewhere the reader does.
    for (from, to) in [(ISLAND, ISLAND + 3 * SECOND_NS), (ISLAND + 2 * SECOND_NS, i64::MAX), (ISLAND, ISLAND)] {
        assert_eq!(index.source_tool_activity(from, to), Some(r.source_tool_activity(from, to).unwrap()));
    }
    assert_eq!(index.source_tool_activity(ISLAND, ISLAND + HOUR_NS), None, "three flows of a source and tool");
    assert_eq!(index.source_tool_activity(T0, ISLAND), None, "many flows per source and tool");
    let day = T0 / DAY_NS;
    for (from, to) in [(0, i64::MAX), (day, day), (day + 1, day + 2), (day + 3, day + 9), (day + 2, day + 1)] {
        assert_eq!(index.source_days(from, to), Some(r.source_days(from, to).unwrap()), "{from}..={to}");
    }
}

/// Per source and country, the INVITEs (what the caller sums the rows into).
fn summed(rows: Vec<(String, String, i64)>) -> Vec<(String, String, i64)> {
    let mut sums: std::collections::BTreeMap<(String, String), i64> = Default::default();
    for (s, c, n) in rows {
        *sums.entry((s, c)).or_default() += n;
    }
    sums.into_iter().map(|((s, c), n)| (s, c, n)).collect()
}

/// The whole report as JSON, built from `store`.
fn report_json(store: &dyn StoreReader, filter: &Filter) -> String {
    let geo = crate::enrich::Enricher::default();
    let inputs = reports::Inputs {
        store,
        filter,
        geo: &geo,
        comparison: None,
        nodes: None,
        report_time_nodes: None,
        hilbert: HilbertChoice::default(),
    };
    let names: Vec<String> = sections::ALL.iter().map(|(n, _)| (*n).to_owned()).collect();
    render::json(&reports::build(&inputs, &names).unwrap())
}

#[test]
fn the_whole_report_through_the_index_is_the_readers_byte_for_byte() {
    let (_dir, reader) = store();
    let index = loaded(&reader);
    let at = |s: i64| Some(T0 + s * SECOND_NS);
    for f in [
        Filter::default(),
        Filter { from_ns: at(1800), ..Filter::default() },
        Filter { from_ns: at(1000), to_ns: at(7777), nodes: vec![] },
        Filter { from_ns: at(2001), to_ns: at(2001), nodes: vec![] },
        Filter { from_ns: None, to_ns: at(5000), nodes: vec!["a".into()] },
        Filter { nodes: vec!["zz".into()], ..Filter::default() },
    ] {
        let plain = report_json(&reader, &f);
        assert_eq!(report_json(&Indexed::new(&index, &reader), &f), plain, "{f:?}");
    }
}

#[test]
fn rows_the_index_cannot_represent_leave_their_questions_to_the_reader() {
    let (dir, reader) = store();
    drop(reader);
    let writer = rusqlite::Connection::open(dir.path().join("t.db")).unwrap();
    writer
        .execute_batch(
            "UPDATE flows SET src_ip = x'c0' WHERE id = 3; UPDATE alerts SET src_ip = x'c0' WHERE id = 4;
             UPDATE numbers SET number = x'2b46' WHERE rowid = 1; UPDATE rollup_agents SET user_agent = x'00ff'
             WHERE rowid = 1;",
        )
        .unwrap();
    drop(writer);
    let reader = SqliteReader::open(&dir.path().join("t.db")).unwrap();
    let index = loaded(&reader);
    let f = Filter::default();
    assert!(index.flows.is_none() && index.alerts.is_none() && index.numbers.is_none() && index.agents.is_none());
    assert!(index.stages.is_some() && index.sources.is_some() && index.countries.is_some());
    let through = Indexed::new(&index, &reader);
    assert_eq!(through.tool_flows(&f).unwrap(), reader.tool_flows(&f).unwrap());
    assert_eq!(through.alert_rules(&f).unwrap(), reader.alert_rules(&f).unwrap());
    assert_eq!(through.top_numbers(&f, 5).unwrap(), reader.top_numbers(&f, 5).unwrap());
    assert_eq!(through.top_user_agents(&f, 5).unwrap(), reader.top_user_agents(&f, 5).unwrap());
    assert_eq!(report_json(&through, &f), report_json(&reader, &f));
}

#[test]
fn a_store_over_the_limit_is_not_indexed_and_a_write_moves_the_mark() {
    let (dir, reader) = store();
    assert!(ReportIndex::load(&reader, IndexLimits { max_rows: 100 }).unwrap().is_none());
    let index = loaded(&reader);
    assert!(index.rows() > 100 && index.bytes() > 0);
    let before = reader.change_mark().unwrap();
    assert_eq!(reader.change_mark().unwrap(), before, "nothing written");
    let writer = rusqlite::Connection::open(dir.path().join("t.db")).unwrap();
    writer.execute_batch("DELETE FROM flows WHERE id = 3").unwrap();
    assert_ne!(reader.change_mark().unwrap(), before);
}
