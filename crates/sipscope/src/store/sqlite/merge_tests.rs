//! The readers that merge rows in Rust (`merge.rs`) against the SQL they replace, on a store
//! made to hold what makes merging hard: a number in two analysis runs, counts that tie, NULL
//! tools, variants, fingerprints, countries and User-Agents, sources both proven and not,
//! several nodes and hours, text that is not UTF-8; over ranges that cut the rows' times.

use super::*;
use crate::time::HOUR_NS;

pub(crate) const T0: i64 = 1_767_225_600_000_000_000; // 2026-01-01T00:00:00Z

/// A small deterministic generator (no dependency, the same store every run).
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % sides
    }
    fn pick<'a>(&mut self, of: &[&'a str]) -> &'a str {
        of[self.roll(of.len() as u64) as usize]
    }
    fn time(&mut self) -> i64 {
        T0 + (self.roll(3 * 3600) as i64) * 1_000_000_000
    }
}

/// The store described above; `t.db` in the directory.
pub(crate) fn hostile_store() -> (tempfile::TempDir, SqliteReader) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store = Store::open(&path).unwrap();
    let c = store.connection();
    let mut d = Dice(17);
    c.execute_batch("INSERT INTO analysis_runs (id, kind, started_ns) VALUES (1, 'ingest', 0), (2, 'ingest', 0)")
        .unwrap();
    let ips = ["192.0.2.1", "192.0.2.2", "192.0.2.10", "198.51.100.7", "2001:db8::1"];
    for run in 1..=2 {
        for n in 0..60 {
            let number = format!("+4670{}", d.roll(40));
            let country: Option<&str> = [None, Some("SE"), Some("GB"), Some("")][d.roll(4) as usize];
            let t = d.time();
            c.execute(
                "INSERT OR IGNORE INTO numbers (run_id, number, country, number_type, attempts, variants, sources,
                 first_ns, last_ns, variant_samples, invites, country_inferred)
                 VALUES (?1, ?2, ?3, 'mobile', ?4, ?5, ?6, ?7, ?7, ?8, ?9, ?10)",
                rusqlite::params![
                    run,
                    number,
                    country,
                    d.roll(4) as i64,
                    d.roll(3) as i64,
                    d.roll(3) as i64,
                    t,
                    format!("[\"0{n}\"]"),
                    d.roll(5) as i64,
                    d.roll(2) as i64
                ],
            )
            .unwrap();
        }
    }
    for id in 0..300 {
        let src: Option<&str> = if d.roll(10) == 0 { None } else { Some(d.pick(&ips)) };
        let node: Option<&str> = [None, Some("a"), Some("b")][d.roll(3) as usize];
        let t = d.time();
        c.execute(
            "INSERT INTO alerts (id, sensor, rule_id, sid, name, severity, labels, group_key, first_ns, last_ns, count,
             src_ip, proven, actions, node) VALUES (?1, 's', ?2, 1, ?3, ?4, '[]', ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            rusqlite::params![
                id,
                d.pick(&["r/one", "r/two", "r/\u{e9}", "r/four"]),
                d.pick(&["name a", "name b"]),
                d.pick(&["low", "high"]),
                format!("g{id}"),
                t,
                t + d.roll(1000) as i64,
                d.roll(9) as i64,
                src,
                d.roll(2) as i64,
                d.pick(&["[]", "[\"ban address 3600s\"]"]),
                node
            ],
        )
        .unwrap();
    }
    for id in 0..300 {
        let t = d.time();
        c.execute(
            "INSERT INTO flows (id, run_id, src_ip, first_ns, last_ns, packets, bytes, packets_per_s, methods, destinations,
             dest_ports, source_ports, users, dialled, responses, fingerprint, tool, variant, tool_verdict, similarity,
             strategy, ua_class) VALUES (?1, ?2, ?3, ?4, ?4, ?5, 0, 1.5, '{}', ?6, 1, 'random', 0, 0, '{}', ?7, ?8, ?9, ?10,
             0.5, ?11, 'tool')",
            rusqlite::params![
                id,
                1 + d.roll(2) as i64,
                d.pick(&ips),
                t,
                d.roll(50) as i64,
                d.roll(7) as i64,
                [None, Some("fp1"), Some("fp2")][d.roll(3) as usize],
                [None, Some("sipvicious"), Some(""), Some("sipp")][d.roll(4) as usize],
                [None, Some("svmap"), Some("")][d.roll(3) as usize],
                d.pick(&["exact", "derived", "custom"]),
                d.pick(&["undecided", "sequential", "random", "sweep"])
            ],
        )
        .unwrap();
    }
    for _ in 0..300 {
        c.execute(
            "INSERT OR IGNORE INTO stages (run_id, src_ip, node, stage, first_ns, last_ns, count, detail, samples)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, '{}', '[]')",
            rusqlite::params![
                1 + d.roll(2) as i64,
                d.pick(&ips),
                d.pick(&["", "", "a"]),
                d.pick(&["server_scan", "extension_scan", "toll_fraud"]),
                d.time(),
                d.roll(20) as i64
            ],
        )
        .unwrap();
    }
    let agents: [Option<&[u8]>; 4] = [None, Some(b"friendly-scanner"), Some(b"sipcli\xff"), Some(b"")];
    for _ in 0..300 {
        let hour = d.time() / HOUR_NS;
        let node = d.pick(&["", "a"]);
        c.execute(
            "INSERT INTO rollup_agents (run_id, hour, node, user_agent, src_ip, messages) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![
                1 + d.roll(2) as i64,
                hour,
                node,
                agents[d.roll(4) as usize].map(|a| String::from_utf8_lossy(a).into_owned()),
                d.pick(&ips),
                d.roll(30) as i64
            ],
        )
        .unwrap();
        let t = d.time();
        c.execute(
            "INSERT INTO rollup_sources (run_id, hour, node, src_ip, messages, first_ns, last_ns)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6 + ?7) ON CONFLICT DO UPDATE SET messages = messages + excluded.messages",
            rusqlite::params![1 + d.roll(2) as i64, hour, node, d.pick(&ips), d.roll(4) as i64, t, d.roll(100) as i64],
        )
        .unwrap();
        c.execute(
            "INSERT OR IGNORE INTO rollup_users (run_id, hour, node, ruri_user) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![1 + d.roll(2) as i64, hour, node, format!("{}", d.roll(60))],
        )
        .unwrap();
    }
    drop(store);
    let reader = SqliteReader::open(&path).unwrap();
    (dir, reader)
}

fn filters() -> Vec<Filter> {
    let at = |s: i64| Some(T0 + s * 1_000_000_000);
    vec![
        Filter::default(),
        Filter { from_ns: at(2000), to_ns: None, nodes: vec![] },
        Filter { from_ns: at(1000), to_ns: at(7777), nodes: vec![] },
        Filter { from_ns: None, to_ns: at(5000), nodes: vec!["a".into()] },
        Filter { from_ns: at(3600), to_ns: at(7200), nodes: vec!["a".into(), "b".into()] },
        Filter { from_ns: at(99_999), to_ns: None, nodes: vec![] },
    ]
}

#[test]
fn merged_readers_answer_as_the_sql_they_replace() {
    let (_dir, reader) = hostile_store();
    let c = &reader.conn;
    for f in filters() {
        assert_eq!(numbers::top_numbers(c, &f, 7).unwrap(), numbers::top_numbers_in_sqlite(c, &f, 7).unwrap(), "{f:?}");
        assert_eq!(numbers::top_numbers(c, &f, 0).unwrap(), numbers::top_numbers_in_sqlite(c, &f, 0).unwrap());
        assert_eq!(numbers::number_countries(c, &f).unwrap(), numbers::number_countries_in_sqlite(c, &f).unwrap());
        assert_eq!(
            numbers::unified_number_count(c, &f).unwrap(),
            numbers::unified_number_count_in_sqlite(c, &f).unwrap()
        );
        assert_eq!(alerts::merged_rules(c, &f).unwrap().unwrap(), alerts::rules_in_sqlite(c, &f).unwrap(), "{f:?}");
        assert_eq!(traffic::distinct_users(c, &f).unwrap(), traffic::distinct_users_in_sqlite(c, &f).unwrap());
        for limit in [0, 2, 50] {
            assert_eq!(
                traffic::merged_sources(c, &f, limit).unwrap().unwrap(),
                traffic::top_sources_in_sqlite(c, &f, limit).unwrap()
            );
        }
        assert_eq!(
            traffic::merged_agents(c, &f, 3).unwrap().unwrap(),
            traffic::top_user_agents_in_sqlite(c, &f, 3).unwrap()
        );
        assert_eq!(flows::merged_tool_flows(c, &f).unwrap().unwrap(), flows::tool_flows_in_sqlite(c, &f).unwrap());
        assert_eq!(
            flows::merged_fingerprints(c, &f, 2).unwrap().unwrap(),
            flows::custom_fingerprints_in_sqlite(c, &f, 2).unwrap()
        );
        assert_eq!(flows::merged_tool_years(c, &f).unwrap().unwrap(), flows::tools_by_year_in_sqlite(c, &f).unwrap());
        assert_eq!(flows::merged_strategies(c, &f).unwrap().unwrap(), flows::strategy_flows_in_sqlite(c, &f).unwrap());
        assert_eq!(
            analysis::merged_stage_totals(c, &f).unwrap().unwrap(),
            analysis::stage_totals_in_sqlite(c, &f).unwrap()
        );
    }
}

#[test]
fn rows_not_as_the_writers_store_them_are_left_to_sqlite() {
    let (_dir, reader) = hostile_store();
    let path = reader.conn.path().unwrap().to_owned();
    drop(reader);
    let writer = rusqlite::Connection::open(&path).unwrap();
    writer
        .execute_batch("UPDATE flows SET src_ip = x'c0' WHERE id = 3; UPDATE alerts SET proven = 0.5 WHERE id = 4;")
        .unwrap();
    drop(writer);
    let reader = SqliteReader::open(std::path::Path::new(&path)).unwrap();
    let (c, f) = (&reader.conn, Filter::default());
    assert!(flows::merged_tool_flows(c, &f).unwrap().is_none());
    assert!(alerts::merged_rules(c, &f).unwrap().is_none());
    assert_eq!(flows::tool_flows(c, &f).unwrap(), flows::tool_flows_in_sqlite(c, &f).unwrap());
}
