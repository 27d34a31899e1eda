//! Golden tests for `sipscope report`: a fixed dataset built here (the real tools' messages at
//! fixed times, from fixed sources, to three nodes, with the honeypot's answers and some
//! authentication attempts), analysed, then every section in every format compared with
//! `tests/golden/report/` (CSV: one file per table in `csv/`). Re-bless after an intended
//! change: `BLESS=1 cargo test -p sipscope --test it report_golden`.

use sipscope::analysis::engine::{AnalysisConfig, Analyzer};
use sipscope::event::fields::SipFields;
use sipscope::event::record::{AuthAttemptRecord, Record, RecordContext};
use sipscope::event::{Direction, SipEvent, Transport};
use sipscope::sinks::{RunKind, RunScope, SinkConfig};
use std::path::{Path, PathBuf};
use std::process::Command;

pub(crate) const DAY: i64 = 86_400_000_000_000;
pub(crate) const T0: i64 = 1_767_225_600_000_000_000; // 2026-01-01T00:00:00Z

fn fixture(folder: &str, n: usize) -> Vec<u8> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../sip/tests/fixtures/tools/");
    std::fs::read(format!("{dir}{folder}/{n:04}.sip")).unwrap()
}

/// (time, source, node address, node, message, answer status or 0).
pub(crate) type Row = (i64, &'static str, &'static str, &'static str, Vec<u8>, u16);

pub(crate) fn dataset() -> Vec<Row> {
    let nodes = [("198.51.100.1", "n1"), ("198.51.100.2", "n2"), ("198.51.100.3", "n3")];
    let mut out = Vec::new();
    for (i, (addr, node)) in nodes.iter().enumerate() {
        out.push((T0 + i as i64 * 1_000_000, "203.0.113.5", *addr, *node, fixture("svmap-range", i + 1), 200));
    }
    for i in 1..=7 {
        let status = if i == 2 || i == 3 { 401 } else { 404 };
        out.push((T0 + DAY + i as i64 * 1_000_000, "203.0.113.6", "198.51.100.1", "n1", fixture("svwar", i), status));
    }
    for i in 1..=13 {
        let m = fixture("svcrack-miss", i);
        let status = if m.windows(14).any(|w| w == b"Authorization:") { 403 } else { 401 };
        out.push((T0 + DAY + 500_000_000 + i as i64 * 1_000_000, "203.0.113.7", "198.51.100.2", "n2", m, status));
    }
    for (i, status) in [(1, 407), (2, 0), (3, 486), (4, 0)] {
        out.push((
            T0 + 2 * DAY + i as i64 * 1_000_000,
            "192.0.2.20",
            "198.51.100.3",
            "n3",
            fixture("sipp-invite-auth", i),
            status,
        ));
    }
    for i in 1..=3 {
        out.push((
            T0 + 2 * DAY + 10_000_000 + i as i64,
            "198.18.0.9",
            "198.51.100.1",
            "n1",
            fixture("nmap-sv", i),
            200,
        ));
    }
    // Two campaigns: six scanners every week, six others on two consecutive days.
    const WEEKLY: [&str; 6] = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"];
    const BURST: [&str; 6] = ["10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.1.4", "10.0.1.5", "10.0.1.6"];
    for (i, src) in WEEKLY.iter().enumerate() {
        for d in [3, 10, 17] {
            out.push((T0 + d * DAY + i as i64, src, "198.51.100.1", "n1", fixture("svmap", 1), 200));
        }
    }
    for (i, src) in BURST.iter().enumerate() {
        for d in [5, 6] {
            out.push((T0 + d * DAY + i as i64, src, "198.51.100.2", "n2", fixture("sipsak", 1), 200));
        }
    }
    // The same SIPp call again, dialling a Swedish mobile two ways: toll fraud.
    for (k, number) in ["0046701234567", "+46701234567"].iter().enumerate() {
        let invite =
            String::from_utf8(fixture("sipp-invite-auth", 3)).unwrap().replace("sip:100@", &format!("sip:{number}@"));
        out.push((T0 + 2 * DAY + 20_000_000 + k as i64, "192.0.2.20", "198.51.100.3", "n3", invite.into_bytes(), 486));
    }
    out
}

/// A country and an ASN database for the dataset's sources.
pub(crate) fn geo_dbs(dir: &Path) -> (PathBuf, PathBuf) {
    use sipscope::enrich::mmdb_writer::{MmdbWriter, Value};
    let mut country = MmdbWriter::new("GeoLite2-Country", 6);
    for (net, cc) in [("203.0.113.0/24", "BR"), ("192.0.2.0/24", "DE"), ("198.18.0.0/15", "US")] {
        country.insert(net, Value::map([("country", Value::map([("iso_code", cc.into())]))]));
    }
    let mut asn = MmdbWriter::new("GeoLite2-ASN", 6);
    for (net, n, org) in [("203.0.113.0/24", 64500, "Example Hosting"), ("192.0.2.0/24", 64501, "Example Telecom")] {
        asn.insert(
            net,
            Value::map([("autonomous_system_number", Value::U32(n)), ("autonomous_system_organization", org.into())]),
        );
    }
    let (c, a) = (dir.join("country.mmdb"), dir.join("asn.mmdb"));
    country.write(&c).unwrap();
    asn.write(&a).unwrap();
    (c, a)
}

/// The dataset (events, answers, alerts of the built-in rules, analysis, authentication
/// attempts, decisions), written through the backend-neutral traits, so the same builder fills
/// a SQLite file or a PostgreSQL database (`postgres/compare.rs`).
pub(crate) fn build_store(store: &Path) {
    let mut sinks = sipscope::sinks::open(&SinkConfig { store: store.to_path_buf(), ..Default::default() }).unwrap();
    let s = &mut sinks.store;
    let scope = RunScope { kind: RunKind::Analyze, replace_all: true, file_id: None, sensor: "golden".into() };
    let run = s.begin_analysis_run(scope, T0).unwrap();
    let mut analyzer = Analyzer::new(AnalysisConfig::default());
    let mut rules =
        sipscope::rules::RulesEngine::new(std::sync::Arc::new(sipscope::rules::RuleSet::builtin()), "golden");
    let mut changes = Vec::new();
    let mut events = 0u64;
    for (ts, src, dst, node, raw, status) in dataset() {
        let ev = |direction, src: &str, sport, dst: &str, dport, raw: Vec<u8>| SipEvent {
            ts_ns: ts,
            sensor: "golden".into(),
            node: Some(node.into()),
            transport: Transport::Udp,
            src: (src.parse().unwrap(), sport),
            dst: (dst.parse().unwrap(), dport),
            tunnel: None,
            direction,
            origin: None,
            raw,
        };
        let mut batch = vec![ev(Direction::In, src, 5061, dst, 5060, raw.clone())];
        if let (Ok(msg), true) = (sipscope_sip::parse(&raw), status > 0) {
            let answer = sipscope_sip::builder::ResponseBuilder::new(&msg, status, "Golden").to_tag(b"as1").build();
            batch.push(ev(Direction::Out, dst, 5060, src, 5061, answer));
        }
        for e in batch {
            let msg = sipscope_sip::parse(&e.raw).ok();
            analyzer.observe(&e, msg.as_ref());
            let fields = msg.as_ref().map(SipFields::extract).unwrap_or_default();
            let o = sipscope::rules::Observation {
                ts_ns: e.ts_ns,
                ordinal: 0,
                stored: None,
                transport: e.transport,
                src: e.src,
                dst: e.dst,
                direction: e.direction,
                node: e.node.as_deref(),
                msg: msg.as_ref(),
                parsed: &Default::default(),
                blank: false,
            };
            rules.observe(&o, &mut changes);
            s.write(e, fields).unwrap();
            events += 1;
            for c in changes.drain(..) {
                s.alert(&c.alert).unwrap();
            }
        }
    }
    rules.finish(&mut changes);
    for c in changes.drain(..) {
        s.alert(&c.alert).unwrap();
    }
    let attempts = [
        ("101", "101", "wrong_password"),
        ("101", "100", "wrong_password"),
        ("101", "1234", "accepted"),
        ("100", "100", "accepted"),
    ];
    for (id, (user, password, outcome)) in attempts.iter().enumerate() {
        let ctx = RecordContext {
            ts_ns: T0 + DAY + id as i64,
            sensor: "golden".into(),
            node: Some("n2".into()),
            transport: Transport::Udp,
            src: "203.0.113.7:5061".parse().unwrap(),
            dst: "198.51.100.2:5060".parse().unwrap(),
            call_id: Some(format!("c{id}")),
            user_agent: Some("friendly-scanner".into()),
        };
        s.record(Record::AuthAttempt(AuthAttemptRecord {
            id: id as i64 + 1,
            ctx,
            method: "REGISTER".into(),
            username: (*user).into(),
            realm: Some("asterisk".into()),
            uri: Some("sip:198.51.100.2".into()),
            nonce: Some("abcd".into()),
            outcome,
            password: Some((*password).into()),
            log: None,
            published_seq: None,
        }))
        .unwrap();
    }
    s.finish_analysis_run(run, T0, analyzer.finish(), events).unwrap();
    s.flush().unwrap();
    drop(sinks);
    add_decisions(store);
}

/// A rule's ban (a repeat offence, with evidence), a rate limit of an unproven source, and an
/// operator's ban deleted by another operator.
pub(crate) fn add_decisions(path: &Path) {
    use sipscope::act::{Decision, DecisionKind, DecisionOrigin, Evidence};
    use sipscope::sinks::decisions::Deletion;
    let mut log = sipscope::sinks::open_decision_log(path).unwrap();
    let decision = |kind, scope: &str, start: i64, origin, offence, proven| Decision {
        id: None,
        kind,
        scope: scope.parse().unwrap(),
        start_ns: start,
        until_ns: start + 7_200_000_000_000,
        reason: "REGISTER password guessing (sipscope/register-guessing): 13 messages, src=203.0.113.7".into(),
        origin,
        offence,
        proven,
        evidence: vec![Evidence {
            ts_ns: start,
            src: ("203.0.113.7".parse().unwrap(), 5061),
            dst: ("198.51.100.2".parse().unwrap(), 5060),
            ordinal: 13,
            stored: None,
        }],
    };
    let rule = || DecisionOrigin::Rule { rule_id: "sipscope/register-guessing".into() };
    log.insert(
        &decision(DecisionKind::Ban, "203.0.113.7", T0 + DAY + 600_000_000, rule(), 1, true),
        Some("golden"),
        T0,
    )
    .unwrap();
    let limit = DecisionKind::RateLimit { per_second: 10 };
    log.insert(&decision(limit, "203.0.113.6", T0 + DAY + 10_000_000, rule(), 0, false), Some("golden"), T0).unwrap();
    let operator = DecisionOrigin::Operator { who: "alice".into() };
    let id =
        log.insert(&decision(DecisionKind::Ban, "198.18.0.0/24", T0 + 2 * DAY, operator, 0, true), None, T0).unwrap();
    log.delete_id(id, &Deletion { at_ns: T0 + 2 * DAY + 1, who: "bob".into(), why: "a lab network".into() }).unwrap();
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/report")
}

fn check(name: &str, actual: &str) {
    let path = golden_dir().join(name);
    if std::env::var_os("BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e} (BLESS=1 to create)", path.display()));
    assert!(expected == actual, "{name} differs from the golden file; BLESS=1 re-blesses. Got:\n{actual}");
}

fn report(db: &Path, args: &[&str]) -> String {
    let (country, asn) = geo_dbs(db.parent().unwrap());
    let out = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .arg("report")
        .arg("--db")
        .arg(db)
        .arg("--country-db")
        .arg(country)
        .arg("--asn-db")
        .arg(asn)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn report_golden_every_section_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("golden.db");
    build_store(&db);
    check("report.txt", &report(&db, &[]));
    check("report.json", &report(&db, &["--format", "json"]));
    check("report.html", &without_libraries(&report(&db, &["--format", "html"])));
    let csv_dir = dir.path().join("csv");
    report(&db, &["--format", "csv", "--out", csv_dir.to_str().unwrap()]);
    let mut names: Vec<String> =
        std::fs::read_dir(&csv_dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    check("csv/INDEX", &(names.join("\n") + "\n"));
    for name in names {
        check(&format!("csv/{name}"), &std::fs::read_to_string(csv_dir.join(&name)).unwrap());
    }
    // Node addresses and sites from a nodes file, the per-node rows as stored (this file names
    // no n3: applied at report time, it would take n3's events from it).
    let nodes = dir.path().join("nodes.toml");
    std::fs::write(
        &nodes,
        "[[node]]\nname = \"n1\"\nsite = \"Duisburg\"\naddresses = [\"198.51.100.1\"]\n\
         [[node]]\nname = \"n2\"\nsite = \"Essen\"\naddresses = [\"198.51.100.2\", \"2001:db8::/64\"]\n",
    )
    .unwrap();
    check("report-stages-nodes.txt", &report(&db, &["--nodes", nodes.to_str().unwrap(), "--stored-nodes", "stages"]));
    // Filters: one node, and a time range that keeps only the first day.
    check("report-n2.txt", &report(&db, &["--node", "n2", "stages", "passwords"]));
    check("report-day1.txt", &report(&db, &["--to", "2026-01-02", "summary", "daily"]));
    // Two groups of nodes, and this store against a copy of itself.
    check("report-compare-groups.txt", &report(&db, &["--group", "central=n1", "--group", "remote=n2,n3", "compare"]));
    let copy = dir.path().join("copy.db");
    std::fs::copy(&db, &copy).unwrap();
    let copy_arg = copy.to_str().unwrap().to_owned();
    let compared = report(&db, &["--compare-db", &copy_arg, "--format", "json", "compare"]);
    let doc: serde_json::Value = serde_json::from_str(&compared).unwrap();
    let rows = &doc["sections"]["compare"]["tables"][0]["rows"];
    assert_eq!(rows[1][1], rows[0][1], "a store shares every attacker with its copy: {rows}");
    // Without GeoIP databases the report says "unknown" and carries on.
    let plain = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["report", "--db"])
        .arg(&db)
        .args(["summary", "sources", "countries"])
        .output()
        .unwrap();
    check("report-no-geo.txt", &String::from_utf8(plain.stdout).unwrap());
}

/// A nodes file that gives every event the node it was stored with, applied at report time:
/// the store's events analysed again (`store::overlay` between the two analyses) give every
/// table of every section as the stored analysis does; only the notes say how.
#[test]
fn report_time_nodes_like_the_stored_ones_change_no_table() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("golden.db");
    build_store(&db);
    // The dataset is stored out of time order; `analyze` reads it in time order, as the
    // report-time analysis does (flow rates depend on the order).
    let analyzed = Command::new(env!("CARGO_BIN_EXE_sipscope")).arg("analyze").arg("--db").arg(&db).output().unwrap();
    assert!(analyzed.status.success(), "{}", String::from_utf8_lossy(&analyzed.stderr));
    let nodes = dir.path().join("nodes.toml");
    let toml: String =
        (1..=3).map(|i| format!("[[node]]\nname = \"n{i}\"\naddresses = [\"198.51.100.{i}\"]\n")).collect();
    std::fs::write(&nodes, toml).unwrap();
    let tables = |extra: &[&str]| -> (serde_json::Value, Vec<(String, serde_json::Value)>) {
        let mut args = vec!["--format", "json", "--nodes", nodes.to_str().unwrap()];
        args.extend(extra);
        let doc: serde_json::Value = serde_json::from_str(&report(&db, &args)).unwrap();
        let sections = doc["sections"].as_object().unwrap();
        let tables = sections.iter().map(|(name, s)| (name.clone(), s["tables"].clone())).collect();
        (doc, tables)
    };
    let (_, stored) = tables(&["--stored-nodes"]);
    let (doc, applied) = tables(&[]);
    assert_eq!(stored.len(), sipscope::reports::sections::ALL.len());
    for ((name, a), (_, b)) in applied.iter().zip(&stored) {
        assert_eq!(a, b, "section {name}");
    }
    for (name, section) in doc["sections"].as_object().unwrap() {
        let note = section["notes"][0].as_str().unwrap_or_default();
        assert!(note.contains("applied at report time: the 120 stored events"), "{name}: {note}");
    }
}

#[test]
fn unknown_sections_and_missing_stores_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("golden.db");
    build_store(&db);
    let out = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["report", "--db"])
        .arg(&db)
        .arg("nonsense")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no section \"nonsense\""));
    let out =
        Command::new(env!("CARGO_BIN_EXE_sipscope")).args(["report", "--db", "/nonexistent.db"]).output().unwrap();
    assert!(!out.status.success());
}

/// The HTML report in headless Chromium (apt `chromium`, installed by scripts/test.sh): the
/// page loads, every section is in the rendered page, and a PNG is made.
#[test]
fn report_golden_html_renders_in_chromium() {
    let Some(chromium) = ["chromium", "chromium-browser"].into_iter().find(|c| {
        Command::new("sh").args(["-c", &format!("command -v {c}")]).output().is_ok_and(|o| o.status.success())
    }) else {
        panic!("chromium not found (scripts/test.sh installs it)");
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("golden.db");
    build_store(&db);
    let html = dir.path().join("report.html");
    report(&db, &["--format", "html", "--out", html.to_str().unwrap()]);
    let url = format!("file://{}", html.display());
    let headless = ["--headless", "--no-sandbox", "--disable-gpu"];
    let profile = format!("--user-data-dir={}", dir.path().join("profile").display());
    let dom = Command::new("timeout")
        .arg("120")
        .arg(chromium)
        .args(headless)
        .arg(&profile)
        .args(["--dump-dom", &url])
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout);
    for (name, _) in sipscope::reports::sections::ALL {
        assert!(
            dom.contains(&format!("<section id=\"{name}\" class=\"section\">")),
            "{name} missing from the rendered page"
        );
    }
    // Every chart with data is drawn by the inline chart library: a canvas marked drawn.
    let page = std::fs::read_to_string(&html).unwrap();
    let canvases = page.matches("<canvas data-chart=").count();
    assert!(canvases >= 4, "the golden dataset has charts with data");
    assert_eq!(dom.matches("data-drawn=\"1\"").count(), canvases, "every chart drawn");
    assert!(dom.contains(&format!("data-charts-drawn=\"{canvases}\"")));
    let png = dir.path().join("report.png");
    let shot = Command::new("timeout")
        .arg("120")
        .arg(chromium)
        .args(headless)
        .arg(&profile)
        .arg(format!("--screenshot={}", png.display()))
        .args(["--window-size=1200,4000", &url])
        .output()
        .unwrap();
    assert!(shot.status.success(), "{}", String::from_utf8_lossy(&shot.stderr));
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000, "a real screenshot");
}

/// The HTML page with the text of its inline scripts (the vendored chart library, pinned by
/// `scripts/update-chart-lib.sh`, and the drawing code) left out: the golden file keeps the
/// page, its chart data and which scripts it loads.
fn without_libraries(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(start) = rest.find("<script data-lib=") {
        let Some(open_end) = rest[start..].find('>') else { break };
        out.push_str(&rest[..start + open_end + 1]);
        out.push('…');
        let Some(close) = rest[start..].find("</script>") else { break };
        rest = &rest[start + close..];
    }
    out.push_str(rest);
    out
}
