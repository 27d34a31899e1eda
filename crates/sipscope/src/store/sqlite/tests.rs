//! The SQLite reader on a small analysed store: values from the command line are bound (a
//! node name made of SQL matches nothing and breaks nothing), stages are asked for by the
//! typed [`Stage`], two readers compare, and events come back in time order.

use super::*;
use crate::analysis::engine::{AnalysisConfig, Analyzer};
use crate::event::fields::SipFields;
use crate::event::{Direction, Transport};
use crate::reports::model::Cell;
use crate::reports::{self, Comparison, HilbertChoice, Inputs};

const T0: i64 = 1_767_225_600_000_000_000; // 2026-01-01T00:00:00Z

fn options(n: u32) -> Vec<u8> {
    format!(
        "OPTIONS sip:{n}@198.51.100.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK{n}\r\n\
From: <sip:a@b>;tag=1\r\nTo: <sip:{n}@b>\r\nCall-ID: {n}\r\nCSeq: 1 OPTIONS\r\n\
Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// `count` OPTIONS from `src` to node `node`, a minute apart (written in reverse order, so
/// time order is not insertion order), analysed.
fn store(src: &str, node: &str, count: u32) -> (tempfile::TempDir, SqliteReader) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let mut store = Store::open(&path).unwrap();
    let mut analyzer = Analyzer::new(AnalysisConfig::default());
    let mut events: Vec<SipEvent> = (0..count)
        .map(|i| SipEvent {
            ts_ns: T0 + i64::from(i) * 60_000_000_000,
            sensor: "t".into(),
            node: Some(node.into()),
            transport: Transport::Udp,
            src: (src.parse().unwrap(), 5060),
            dst: ("198.51.100.1".parse().unwrap(), 5060),
            tunnel: None,
            direction: Direction::In,
            origin: None,
            raw: options(i),
        })
        .collect();
    for ev in &events {
        analyzer.observe(ev, sipscope_sip::parse(&ev.raw).ok().as_ref());
    }
    events.reverse();
    for ev in &events {
        store.insert_event(ev, &SipFields::extract(&sipscope_sip::parse(&ev.raw).unwrap())).unwrap();
    }
    store.store_analysis("analyze", T0, T0, &analyzer.finish(), true).unwrap();
    store.flush_now().unwrap();
    drop(store);
    let reader = SqliteReader::open(&path).unwrap();
    (dir, reader)
}

#[test]
fn node_names_made_of_sql_are_bound_not_run() {
    let (_dir, reader) = store("192.0.2.1", "n1", 10);
    let all = reader.traffic_summary(&Filter::default()).unwrap();
    assert_eq!((all.all_messages, all.request_sources), (10, 1));
    for evil in ["n1' OR '1'='1", "n1'); DROP TABLE traffic; --", "') OR 1=1 OR node IN ('"] {
        let f = Filter { nodes: vec![evil.into()], ..Filter::default() };
        assert_eq!(reader.traffic_summary(&f).unwrap(), TrafficSummary::default(), "{evil}");
        assert!(reader.request_sources(&f).unwrap().is_empty(), "{evil}");
        assert_eq!(reader.stage_sources(&f, Stage::ServerScan).unwrap(), 0, "{evil}");
        assert!(reader.node_stages(&f).unwrap().is_empty(), "{evil}");
        assert!(reader.main_agent(&f, evil).unwrap().is_none(), "{evil}");
        assert_eq!(reader.dialled_users(&f, Some(evil)).unwrap(), 0, "{evil}");
    }
    // Nothing was dropped: the totals are all still there.
    assert_eq!(reader.traffic_summary(&Filter::default()).unwrap(), all);
    let n1 = Filter { nodes: vec!["n1".into()], ..Filter::default() };
    assert_eq!(reader.traffic_summary(&n1).unwrap(), all);
}

#[test]
fn stages_are_asked_for_by_their_typed_name() {
    let (_dir, reader) = store("192.0.2.1", "n1", 10);
    let reached: Vec<Stage> =
        Stage::ALL.into_iter().filter(|s| reader.stage_sources(&Filter::default(), *s).unwrap() > 0).collect();
    // Ten users asked for: a server scan that went on to scan extensions.
    assert_eq!(reached, [Stage::ServerScan, Stage::ExtensionScan]);
    let totals = reader.stage_totals(&Filter::default()).unwrap();
    let names: Vec<&str> = totals.iter().map(|t| t.stage.as_str()).collect();
    assert_eq!(names, [Stage::ExtensionScan.as_str(), Stage::ServerScan.as_str()]);
    // Per node: the named node's rows; another node has none.
    let at = |node: &str| Filter { nodes: vec![node.into()], ..Filter::default() };
    assert_eq!(reader.stage_sources(&at("n1"), Stage::ServerScan).unwrap(), 1);
    assert_eq!(reader.stage_sources(&at("n2"), Stage::ServerScan).unwrap(), 0);
    let per_node = reader.node_stages(&Filter::default()).unwrap();
    assert_eq!(per_node.len(), 1);
    let n1 = &per_node[0];
    assert_eq!((n1.node.as_str(), n1.server_scan, n1.extension_scan, n1.toll_fraud), ("n1", 1, 1, 0));
}

#[test]
fn compare_runs_over_two_readers() {
    let (_a, here) = store("192.0.2.1", "n1", 10);
    let (_b, there) = store("192.0.2.2", "n2", 1);
    let comparison = Comparison::Store("other".into(), Box::new(there));
    let inputs = Inputs {
        store: &here,
        filter: &Filter::default(),
        geo: &crate::enrich::Enricher::default(),
        comparison: Some(&comparison),
        nodes: None,
        report_time_nodes: None,
        hilbert: HilbertChoice::default(),
    };
    let report = reports::build(&inputs, &["compare".into()]).unwrap();
    let tables = &report.sections[0].tables;
    let row = |t: usize, label: &str| tables[t].rows.iter().find(|r| r[0] == Cell::from(label)).unwrap()[1..].to_vec();
    assert_eq!(row(0, "attackers"), [Cell::Int(1), Cell::Int(1)]);
    assert_eq!(row(0, "seen by both"), [Cell::Int(0), Cell::Int(0)]);
    assert_eq!(row(1, "server_scan"), [Cell::Int(1), Cell::Int(1)]);
    assert_eq!(row(1, "extension_scan"), [Cell::Int(1), Cell::Int(0)], "one user is no extension scan");
    assert_eq!(row(1, "toll_fraud"), [Cell::Int(0), Cell::Int(0)]);
}

#[test]
fn events_come_back_in_time_order() {
    let (_dir, reader) = store("192.0.2.1", "n1", 5);
    let mut times = Vec::new();
    let n = reader.each_event(&mut |ev| times.push(ev.ts_ns)).unwrap();
    assert_eq!(n, 5);
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
    assert!(reader.contents().unwrap().events && reader.contents().unwrap().traffic);
}

#[test]
fn a_newer_store_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    drop(Store::open(&path).unwrap());
    Connection::open(&path).unwrap().pragma_update(None, "user_version", 999).unwrap();
    assert!(matches!(SqliteReader::open(&path), Err(StoreError::NewerSchema { found: 999, .. })));
}

/// Two runs that each called the same number, spelled differently, and probed: numbers sum
/// their calls and INVITEs over the runs and list every spelling once; a source's dialled
/// numbers are the unified numbers of its calls, not its probes' users.
#[test]
fn numbers_and_dialled_numbers_over_two_runs() {
    use crate::analysis::result::{AnalysisResult, DialledRow, NumberRow};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let mut store = Store::open(&path).unwrap();
    let source: std::net::IpAddr = "192.0.2.20".parse().unwrap();
    let number = |spelling: &str, calls, invites| NumberRow {
        number: "+46701234567".into(),
        e164: Some("+46701234567".into()),
        country: Some("SE".into()),
        country_inferred: false,
        number_type: "mobile".into(),
        calls,
        invites,
        variants: 1,
        sources: 1,
        first_ns: T0,
        last_ns: T0,
        variant_samples: vec![spelling.into(), "0046701234567".into()],
    };
    let dialled = |user: &str, number: Option<&str>| DialledRow {
        hour: T0 / 3_600_000_000_000,
        node: None,
        source,
        user: user.into(),
        number_country: number.map(|_| "SE".into()),
        number: number.map(str::to_owned),
        invites: 2,
        first_ns: T0,
        last_ns: T0,
    };
    let inferred = NumberRow {
        number: "+447700900123".into(),
        country: Some("GB".into()),
        country_inferred: true,
        variant_samples: vec!["00447700900123".into()],
        ..number("00447700900123", 1, 1)
    };
    let first = AnalysisResult {
        numbers: vec![number("9011 46701234567", 1, 2), inferred],
        dialled: vec![dialled("9011 46701234567", Some("+46701234567")), dialled("4047666786", None)],
        ..AnalysisResult::default()
    };
    let second = AnalysisResult {
        numbers: vec![number("+46701234567", 2, 3)],
        dialled: vec![dialled("+46701234567", Some("+46701234567")), dialled("100", None)],
        ..AnalysisResult::default()
    };
    store.store_analysis("ingest", T0, T0, &first, false).unwrap();
    store.store_analysis("ingest", T0, T0, &second, false).unwrap();
    drop(store);
    let reader = SqliteReader::open(&path).unwrap();
    let f = Filter::default();
    let top = reader.top_numbers(&f, 10).unwrap();
    assert_eq!((top[0].number.as_str(), top[0].attempts, top[0].invites), ("+46701234567", 3, 5));
    assert_eq!(top[0].variant_samples, ["9011 46701234567", "0046701234567", "+46701234567"]);
    assert!(!top[0].country_inferred);
    assert_eq!((top[1].country.as_deref(), top[1].country_inferred), (Some("GB"), true));
    assert_eq!(reader.dialled_numbers(&f, Some("192.0.2.20")).unwrap(), 1);
    assert_eq!(reader.dialled_numbers(&f, None).unwrap(), 1);
    assert_eq!(reader.dialled_users(&f, Some("192.0.2.20")).unwrap(), 4, "every Request-URI user, probes included");
    let se = reader.number_countries(&f).unwrap().into_iter().find(|c| c.country.as_deref() == Some("SE")).unwrap();
    assert_eq!((se.numbers, se.attempts, se.invites), (1, 3, 5));
}

/// The first evidence of each rule: among the alerts at the rule's earliest time, by group
/// and id; past them, in the same order, when none of those kept evidence.
#[test]
fn a_rules_first_evidence_is_its_earliest_alerts_then_the_next_with_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store = Store::open(&path).unwrap();
    let alert = |id: i64, rule: &str, group: &str, first: i64| {
        store
            .connection()
            .execute(
                "INSERT INTO alerts (id, sensor, rule_id, sid, name, severity, labels, group_key, first_ns, last_ns,
                 count, src_ip, proven, actions) VALUES (?1, 's', ?2, 1, 'n', 'low', '[]', ?3, ?4, ?4, 1, '192.0.2.1', 1, '[]')",
                rusqlite::params![id, rule, group, first],
            )
            .unwrap();
    };
    let evidence = |alert: i64, position: i64, ts: i64| {
        store
            .connection()
            .execute(
                "INSERT INTO alert_evidence (alert_id, position, ts_ns, src_ip, src_port, dst_ip, dst_port)
                 VALUES (?1, ?2, ?3, '192.0.2.1', 5060, '198.51.100.1', 5060)",
                rusqlite::params![alert, position, ts],
            )
            .unwrap();
    };
    // Rule a: two alerts at its earliest time; group "g1" comes first, its position 0 first.
    alert(1, "a", "g2", 100);
    alert(2, "a", "g1", 100);
    alert(3, "a", "g0", 300);
    evidence(1, 0, 101);
    evidence(2, 1, 103);
    evidence(2, 0, 102);
    evidence(3, 0, 301);
    // Rule b: its earliest alert kept no evidence; the next one in order did.
    alert(4, "b", "g", 100);
    alert(5, "b", "g", 200);
    alert(6, "b", "g", 250);
    evidence(6, 0, 251);
    evidence(5, 0, 201);
    drop(store);
    let reader = SqliteReader::open(&path).unwrap();
    let rules = reader.alert_rules(&Filter::default()).unwrap();
    let first = |rule: &str| rules.iter().find(|r| r.rule_id == rule).unwrap().first_evidence.as_ref().unwrap().ts_ns;
    assert_eq!(first("a"), 102);
    assert_eq!(first("b"), 201);
    // A range that starts after rule a's earliest alerts: the earliest within it.
    let later = Filter { from_ns: Some(200), ..Filter::default() };
    let rules = reader.alert_rules(&later).unwrap();
    assert_eq!(rules.iter().find(|r| r.rule_id == "a").unwrap().first_evidence.as_ref().unwrap().ts_ns, 301);
}

/// Reports the REST API keeps across restarts: written through the sinks' keeper, read back
/// by their format only, the newest few, none over the size limit.
#[test]
fn kept_reports_come_back_by_format_newest_first_and_bounded() {
    use crate::sinks::kept::{KeptReport, ReportKeeper, MAX_KEPT_BYTES, MAX_KEPT_REPORTS};
    use crate::sinks::sqlite::SqliteReportKeeper;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.db");
    let mut keeper = SqliteReportKeeper::open(&path).unwrap();
    let report = |key: &str, format: &str, built_ns: i64| KeptReport {
        key: key.into(),
        format: format.into(),
        built_ns,
        body: format!("{{\"key\": \"{key}\", \"at\": {built_ns}}}"),
    };
    assert!(keeper.keep(&report("*|None|None|[]", "v1", 10)).unwrap());
    // The same key again replaces it; another format's report is kept beside it, not read.
    assert!(keeper.keep(&report("*|None|None|[]", "v1", 20)).unwrap());
    assert!(keeper.keep(&report("campaigns|x", "v0", 30)).unwrap());
    let reader = SqliteReader::open(&path).unwrap();
    assert_eq!(reader.kept_reports("v1").unwrap(), [report("*|None|None|[]", "v1", 20)]);
    assert_eq!(reader.kept_reports("v0").unwrap(), [report("campaigns|x", "v0", 30)]);
    assert!(reader.kept_reports("v2").unwrap().is_empty());

    // Too large: not kept.
    let big = KeptReport { body: "x".repeat(MAX_KEPT_BYTES + 1), ..report("big", "v1", 40) };
    assert!(!keeper.keep(&big).unwrap());
    // At most MAX_KEPT_REPORTS, the newest by build time (of any format).
    for i in 0..MAX_KEPT_REPORTS as i64 + 3 {
        keeper.keep(&report(&format!("k{i}"), "v1", 100 + i)).unwrap();
    }
    let kept = reader.kept_reports("v1").unwrap();
    assert_eq!(kept.len(), MAX_KEPT_REPORTS);
    assert_eq!(kept.first().map(|r| r.built_ns), Some(100 + MAX_KEPT_REPORTS as i64 + 2));
    assert!(kept.windows(2).all(|w| w[0].built_ns > w[1].built_ns));
    assert!(reader.kept_reports("v0").unwrap().is_empty(), "the oldest went");
    let rows: i64 = reader.conn.query_row("SELECT count(*) FROM kept_reports", [], |r| r.get(0)).unwrap();
    assert_eq!(rows, MAX_KEPT_REPORTS as i64);
    // A row larger than the limit written by something else is not read.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("DELETE FROM kept_reports", []).unwrap();
    conn.execute(
        "INSERT INTO kept_reports (key, format, built_ns, body) VALUES ('huge', 'v1', 1, ?1)",
        [("é".repeat(MAX_KEPT_BYTES / 2 + 1))],
    )
    .unwrap();
    assert!(reader.kept_reports("v1").unwrap().is_empty(), "its bytes count, not its characters");
}
