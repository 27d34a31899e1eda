//! The same data in SQLite and in PostgreSQL: every report section and `analyze` agree.

use super::{golden_in_both, sipscope, TestDb};
use crate::report_golden::{build_store as build, geo_dbs, DAY, T0};
use std::path::Path;

fn json(args: &[&str]) -> serde_json::Value {
    let (code, stdout, stderr) = sipscope(args);
    assert_eq!(code, 0, "{args:?}: {stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"))
}

/// Every section of the two reports, one by one (so that a difference names its section).
fn assert_same_reports(sqlite: &serde_json::Value, pg: &serde_json::Value) {
    let (a, b) = (&sqlite["sections"], &pg["sections"]);
    let names = |v: &serde_json::Value| -> Vec<String> {
        match v {
            serde_json::Value::Object(m) => m.keys().cloned().collect(),
            serde_json::Value::Array(items) => items.iter().map(|s| s["id"].to_string()).collect(),
            _ => panic!("no sections: {v}"),
        }
    };
    assert_eq!(names(a), names(b));
    assert!(!names(a).is_empty());
    match (a, b) {
        (serde_json::Value::Object(x), serde_json::Value::Object(y)) => {
            for (name, section) in x {
                assert_eq!(section, &y[name], "section {name} differs");
            }
        }
        (serde_json::Value::Array(x), serde_json::Value::Array(y)) => {
            for (s, t) in x.iter().zip(y) {
                assert_eq!(s, t, "section {} differs", s["id"]);
            }
        }
        _ => unreachable!(),
    }
    let strip = |v: &serde_json::Value| {
        let mut v = v.clone();
        v.as_object_mut().unwrap().remove("sections");
        v
    };
    assert_eq!(strip(sqlite), strip(pg), "outside the sections");
}

#[test]
fn postgres_reports_and_analysis_equal_sqlite_on_the_same_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::create();
    let sqlite = dir.path().join("s.db");
    let (pg, file) = (Path::new(&db.url), sqlite.to_str().unwrap());
    build(&sqlite);
    build(pg);
    let (country, asn) = geo_dbs(dir.path());
    let geo = ["--country-db", country.to_str().unwrap(), "--asn-db", asn.to_str().unwrap()];
    let report = |store: &str| {
        let mut args = vec!["report", "--format", "json", "--db", store];
        args.extend(geo);
        json(&args)
    };
    let before = report(file);
    assert!(before["sections"].to_string().contains("203.0.113.7"), "the dataset reached the report");
    assert_same_reports(&before, &report(&db.url));
    // A filtered report (nodes and a time range) agrees too.
    let part = |store: &str| {
        json(&["report", "--format", "json", "--db", store, "--node", "n2", "--node", "n3", "--from", "2026-01-02"])
    };
    assert_same_reports(&part(file), &part(&db.url));
    // `analyze` replaces the analysis with one run over every stored event, in both.
    let a = json(&["analyze", "--json", "--db", file]);
    let b = json(&["analyze", "--json", "--db", &db.url]);
    assert_eq!(a, b);
    assert!(a.to_string().contains("events"), "{a}");
    assert_same_reports(&report(file), &report(&db.url));
    // Decisions read back alike.
    let list = |store: &str| sipscope(&["decisions", "list", "--all", "--db", store]);
    let (x, y) = (list(file), list(&db.url));
    assert_eq!((x.0, &x.1), (0, &y.1), "{}", y.2);
    // The backtest over the store finds the same alerts.
    let test = |store: &str| json(&["rules", "test", "--json", "--db", store]);
    assert_eq!(test(file), test(&db.url));
}

#[test]
fn ingest_into_postgres_equals_ingest_into_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::create();
    let sqlite = dir.path().join("s.db");
    let golden = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/ingest/");
    let captures: Vec<String> = ["udp-basic", "tcp-streams", "tunnels-nodes", "sctp", "websocket-midstream"]
        .iter()
        .map(|n| format!("{golden}{n}.pcap"))
        .collect();
    for store in [sqlite.to_str().unwrap(), db.url.as_str()] {
        let mut args = vec!["ingest", "--sensor", "s1", "--db", store];
        args.extend(captures.iter().map(String::as_str));
        let (code, _, stderr) = sipscope(&args);
        assert_eq!(code, 0, "{stderr}");
        assert!(!stderr.contains("postgres://postgres@"), "the URL is named without secrets only: {stderr}");
    }
    let report = |store: &str| json(&["report", "--format", "json", "--db", store]);
    assert_same_reports(&report(sqlite.to_str().unwrap()), &report(&db.url));
    // The same files again: already ingested, nothing doubled.
    let mut args = vec!["ingest", "--sensor", "s1", "--db", db.url.as_str()];
    args.extend(captures.iter().map(String::as_str));
    assert_eq!(sipscope(&args).0, 0);
    assert_same_reports(&report(sqlite.to_str().unwrap()), &report(&db.url));
    let events: i64 = db.client().query_one("SELECT count(*) FROM events", &[]).unwrap().get(0);
    let stored = rusqlite::Connection::open(&sqlite).unwrap();
    let expected: i64 = stored.query_row("SELECT count(*) FROM events", [], |r| r.get(0)).unwrap();
    assert_eq!(events, expected);
    assert!(events > 0);
}

/// The REST API's four questions (event pages, a source's story, alerts, one number) answer
/// alike from both readers on the same data, for several sources, numbers and filters.
#[test]
fn postgres_api_reads_equal_sqlite_on_the_same_data() {
    use sipscope::store::query::{AlertQuery, EventQuery};
    use sipscope::store::Filter;
    let (_dir, _db, a, b) = golden_in_both();
    let filters = [
        Filter::default(),
        Filter { from_ns: Some(T0 + DAY), to_ns: None, nodes: vec!["n2".into(), "n3".into()] },
        Filter { from_ns: Some(T0), to_ns: Some(T0 + DAY + 600_000_000), nodes: vec![] },
    ];
    // The time extent the API tells covering ranges by: the same, and around the dataset.
    let extent = a.time_extent().unwrap();
    assert_eq!(extent, b.time_extent().unwrap());
    assert!(extent.is_some_and(|e| e.first_ns <= T0 + DAY && e.last_ns >= T0), "{extent:?}");
    let mut sources: Vec<String> =
        a.top_sources(&Filter::default(), 50).unwrap().into_iter().map(|s| s.source).collect();
    assert!(sources.contains(&"203.0.113.7".to_owned()), "{sources:?}");
    sources.extend(["10.9.9.9", "not an address", "::FFFF:203.0.113.7", "203.0.113.07"].map(String::from));
    let numbers: Vec<String> = a.top_numbers(&Filter::default(), 50).unwrap().into_iter().map(|n| n.number).collect();
    assert!(!numbers.is_empty(), "the dataset dialled numbers");
    let tools: Vec<String> =
        a.tool_flows(&Filter::default()).unwrap().into_iter().filter_map(|t| t.tool).collect::<Vec<_>>();
    let rules = a.alert_rules(&Filter::default()).unwrap();
    assert!(rules.iter().any(|r| r.sources > 1 && r.unproven_sources > 0), "{rules:?}");
    for f in &filters {
        // Alerts per rule (read once and folded in Rust by both readers) with their first
        // evidence, also over ranges that cut the alerts and over one node.
        let cut = Filter { from_ns: Some(extent.map_or(0, |e| (e.first_ns + e.last_ns) / 2)), ..f.clone() };
        for f in [f, &cut, &f.with_nodes(&["n2".into()])] {
            let rules = a.alert_rules(f).unwrap();
            assert_eq!(rules, b.alert_rules(f).unwrap(), "alerts per rule {f:?}");
        }
        for limit in [3, 500] {
            let page = EventQuery { filter: f.clone(), limit, raw: true, ..Default::default() };
            let first = a.events(&page).unwrap();
            assert_eq!(first, b.events(&page).unwrap(), "events {f:?} {limit}");
            if let Some(last) = first.last() {
                let next = EventQuery { before: Some((last.ts_ns, last.id)), raw: false, ..page.clone() };
                assert_eq!(a.events(&next).unwrap(), b.events(&next).unwrap(), "next page {f:?}");
                let feed = EventQuery { after_id: Some(first[0].id - 3), ..page.clone() };
                assert_eq!(a.events(&feed).unwrap(), b.events(&feed).unwrap(), "feed {f:?}");
            }
            // Alert ids are each backend's own (PostgreSQL's sequence skips on upserts): every
            // other field is compared, and the feed starts after the same alert in both.
            let alerts = AlertQuery { filter: f.clone(), limit, ..Default::default() };
            let (x, y) = (a.alerts(&alerts).unwrap(), b.alerts(&alerts).unwrap());
            assert_eq!(no_ids(&x), no_ids(&y), "alerts {f:?}");
            let (ex, ey) = (evidence_of(a.as_ref(), &x), evidence_of(b.as_ref(), &y));
            assert_eq!(ex, ey, "alert evidence {f:?}");
            let ids: Vec<i64> = ex.iter().flatten().filter_map(|e| e.event_id).collect();
            let by_id = EventQuery { ids: ids.clone(), limit: 1000, raw: true, ..Default::default() };
            let (ea, eb) = (a.events(&by_id).unwrap(), b.events(&by_id).unwrap());
            assert_eq!(ea, eb, "evidence events {f:?}");
            assert_eq!(ea.len(), ids.iter().collect::<std::collections::BTreeSet<_>>().len(), "every id found once");
            if let (Some(p), Some(q)) = (x.last(), y.last()) {
                let after = |id| AlertQuery { after_id: Some(id), ..alerts.clone() };
                let (x, y) = (a.alerts(&after(p.id)).unwrap(), b.alerts(&after(q.id)).unwrap());
                assert_eq!(no_ids(&x), no_ids(&y), "alert feed {f:?}");
            }
        }
        for s in &sources {
            let q = EventQuery { filter: f.clone(), source: Some(s.clone()), limit: 100, ..Default::default() };
            assert_eq!(a.events(&q).unwrap(), b.events(&q).unwrap(), "events of {s}");
            for limit in [1, 2, 10] {
                assert_eq!(
                    a.source_profile(f, s, limit).unwrap(),
                    b.source_profile(f, s, limit).unwrap(),
                    "profile of {s} {f:?} {limit}"
                );
            }
            let alerts = AlertQuery { filter: f.clone(), source: Some(s.clone()), limit: 100, ..Default::default() };
            assert_eq!(no_ids(&a.alerts(&alerts).unwrap()), no_ids(&b.alerts(&alerts).unwrap()), "alerts of {s}");
        }
        for n in numbers.iter().map(String::as_str).chain(["+999", "nothing"]) {
            assert_eq!(a.number(f, n).unwrap(), b.number(f, n).unwrap(), "number {n} {f:?}");
            let q = EventQuery {
                filter: f.clone(),
                ruri_users: vec![n.into(), "100".into()],
                limit: 100,
                ..Default::default()
            };
            assert_eq!(a.events(&q).unwrap(), b.events(&q).unwrap(), "events to {n}");
        }
        let narrow = [
            EventQuery { method: Some("REGISTER".into()), ..Default::default() },
            EventQuery { method: Some("INVITE".into()), status: None, ..Default::default() },
            EventQuery { status: Some(401), ..Default::default() },
            EventQuery { user: Some("100".into()), ..Default::default() },
            EventQuery { user: Some("101".into()), method: Some("REGISTER".into()), ..Default::default() },
        ];
        for q in
            narrow.into_iter().chain(tools.iter().map(|t| EventQuery { tool: Some(t.clone()), ..Default::default() }))
        {
            let q = EventQuery { filter: f.clone(), limit: 100, ..q };
            assert_eq!(a.events(&q).unwrap(), b.events(&q).unwrap(), "{q:?}");
        }
    }
    // The questions found something: the comparison is not of empty answers.
    let all = EventQuery { limit: 1000, ..Default::default() };
    let events = b.events(&all).unwrap();
    assert!(events.iter().any(|e| e.tool.is_some()), "some event has its flow's tool");
    let stored = b.alerts(&AlertQuery { limit: 100, ..Default::default() }).unwrap();
    assert!(!stored.is_empty());
    let evidence = evidence_of(b.as_ref(), &stored);
    assert!(evidence.iter().all(|e| !e.is_empty()), "every alert has evidence");
    assert!(evidence.iter().flatten().any(|e| e.event_id.is_some()), "evidence names stored events");
    assert!(b.alert_evidence(&[]).unwrap().is_empty() && b.alert_evidence(&[-1]).unwrap().is_empty());
    let profile = b.source_profile(&Filter::default(), "203.0.113.7", 10).unwrap();
    assert!(profile.messages > 0 && !profile.stages.is_empty() && !profile.passwords.is_empty(), "{profile:?}");
    assert!(b.number(&Filter::default(), &numbers[0]).unwrap().is_some());
}

/// The evidence of `alerts`, asked at once, grouped per alert in their order, without the
/// alerts' ids (each backend numbers its own; event ids are the same in both).
fn evidence_of(
    r: &dyn sipscope::store::StoreReader,
    alerts: &[sipscope::store::query::StoredAlert],
) -> Vec<Vec<sipscope::store::query::AlertEvidence>> {
    let ids: Vec<i64> = alerts.iter().map(|a| a.id).collect();
    let rows = r.alert_evidence(&ids).unwrap();
    alerts
        .iter()
        .map(|a| {
            let mine = rows.iter().filter(|e| e.alert_id == a.id);
            mine.map(|e| sipscope::store::query::AlertEvidence { alert_id: 0, ..e.clone() }).collect()
        })
        .collect()
}

/// Alerts without their ids (each backend numbers its own).
fn no_ids(alerts: &[sipscope::store::query::StoredAlert]) -> Vec<sipscope::store::query::StoredAlert> {
    alerts.iter().map(|a| sipscope::store::query::StoredAlert { id: 0, ..a.clone() }).collect()
}

/// A store written before the rollups (SQLite schema 14, PostgreSQL 3) is migrated when opened:
/// the migration fills the rollups from the rows stored, and every report (whole, and filtered
/// by nodes and time) is the one the writers' own rollups gave, on both backends.
#[test]
fn stores_migrated_to_the_rollups_report_what_their_writers_kept() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::create();
    let sqlite = dir.path().join("s.db");
    let (pg, file) = (Path::new(&db.url), sqlite.to_str().unwrap());
    build(&sqlite);
    build(pg);
    let reports = |store: &str| {
        [
            json(&["report", "--format", "json", "--db", store]),
            json(&["report", "--format", "json", "--db", store, "--node", "n2", "--from", "2026-01-02"]),
            json(&[
                "report",
                "--format",
                "json",
                "--db",
                store,
                "--to",
                &((T0 + DAY / 2) / 1_000_000_000 + 90).to_string(),
            ]),
        ]
    };
    let (kept, kept_pg) = (reports(file), reports(&db.url));
    assert!(kept[0]["sections"].to_string().contains("203.0.113.7"), "the dataset reached the report");
    let drop = "DROP TABLE rollup_traffic; DROP TABLE rollup_sources; DROP TABLE rollup_agents;
                DROP TABLE rollup_users; DROP TABLE rollup_countries; DROP INDEX alerts_rule;
                DROP INDEX stages_node; DROP TABLE kept_reports;";
    let drop_pg = format!("{drop} DROP TABLE event_counts;");
    let conn = rusqlite::Connection::open(&sqlite).unwrap();
    conn.execute_batch(&format!("{drop} DROP TABLE event_count; PRAGMA user_version = 14;")).unwrap();
    conn.close().unwrap();
    db.client().batch_execute(&format!("{drop_pg} DELETE FROM sipscope_schema WHERE version >= 4;")).unwrap();
    let (migrated, migrated_pg) = (reports(file), reports(&db.url));
    for (a, b) in kept.iter().zip(&migrated) {
        assert_eq!(a, b, "SQLite: the migration's rollups are the writer's");
    }
    for (a, b) in kept_pg.iter().zip(&migrated_pg) {
        assert_eq!(a, b, "PostgreSQL: the migration's rollups are the writer's");
    }
    for (a, b) in migrated.iter().zip(&migrated_pg) {
        assert_same_reports(a, b);
    }
    let version: i64 =
        rusqlite::Connection::open(&sqlite).unwrap().pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
    assert_eq!(version, 16);
}

/// The REST API's kept reports (`sinks::kept`): written and read back the same on both
/// backends — by format, newest first, at most `MAX_KEPT_REPORTS`, none over the size limit.
#[test]
fn kept_reports_are_the_same_on_postgres_and_sqlite() {
    use sipscope::sinks::kept::{KeptReport, MAX_KEPT_BYTES, MAX_KEPT_REPORTS};
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::create();
    let sqlite = dir.path().join("k.db");
    let mut read = Vec::new();
    for store in [sqlite.as_path(), Path::new(&db.url)] {
        let mut keeper = sipscope::sinks::open_report_keeper(store).unwrap();
        let report = |key: String, format: &str, built_ns: i64| KeptReport {
            body: format!("{{\"key\": \"{key}\", \"text\": \"é\\u0000\"}}"),
            key,
            format: format.into(),
            built_ns,
        };
        assert!(keeper.keep(&report("*|None|None|[]".into(), "v1", 5)).unwrap());
        assert!(keeper.keep(&report("*|None|None|[]".into(), "v1", 6)).unwrap(), "replaced");
        assert!(keeper.keep(&report("old".into(), "v0", 7)).unwrap());
        let big = KeptReport { body: "x".repeat(MAX_KEPT_BYTES + 1), ..report("big".into(), "v1", 8) };
        assert!(!keeper.keep(&big).unwrap());
        let reader = sipscope::store::open(store).unwrap();
        let first = (reader.kept_reports("v1").unwrap(), reader.kept_reports("v0").unwrap());
        assert_eq!(first.0, [report("*|None|None|[]".into(), "v1", 6)]);
        for i in 0..MAX_KEPT_REPORTS as i64 + 2 {
            keeper.keep(&report(format!("k{i}"), "v1", 10 + i)).unwrap();
        }
        let second = reader.kept_reports("v1").unwrap();
        assert_eq!(second.len(), MAX_KEPT_REPORTS);
        assert!(reader.kept_reports("v0").unwrap().is_empty(), "the oldest went");
        read.push((first, second));
    }
    assert_eq!(read[0], read[1]);
}

/// `serve` over PostgreSQL stops cleanly on SIGTERM: its idle readers' clients are closed off
/// the server's runtime threads (closing one there aborted the process, exit 134). On
/// 127.0.243.15.
#[test]
fn serve_over_postgres_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::create();
    build(Path::new(&db.url));
    let tokens = dir.path().join("t.tokens");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["serve", "--db", &db.url, "--listen", "127.0.243.15:0", "--tokens", tokens.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("dashboard at http://") {
        line.clear();
        assert!(std::io::BufRead::read_line(&mut err, &mut line).unwrap() > 0, "serve ended before its URL");
    }
    let url = line.trim().trim_start_matches("sipscope: dashboard at http://");
    let (addr, token) = url.split_once("/#token=").unwrap();
    let get = |path: &str| {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        );
        std::io::Write::write_all(&mut s, req.as_bytes()).unwrap();
        let mut answer = String::new();
        std::io::Read::read_to_string(&mut s, &mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{path}: {}", answer.lines().next().unwrap_or_default());
        answer
    };
    // The overview, read through the pool of readers (left idle afterwards); then wait until
    // the server has built the quick ranges too, so that the task keeping them ready holds the
    // server's state, idle readers and all, when it stops (the bound only ends a broken run).
    get("/api/v1/report");
    let since = std::time::Instant::now();
    while !get("/metrics").contains("sipscope_api_reports_total{how=\"prebuilt\"} 4") {
        assert!(since.elapsed() < std::time::Duration::from_secs(120), "the quick ranges were never built");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut err, &mut rest);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}: {rest}");
}
