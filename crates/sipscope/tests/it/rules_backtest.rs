//! Backtest golden test: `sipscope rules test` over the golden ingest captures and over
//! captures built here from the real tools' recorded requests (each folder of
//! `crates/sip/tests/fixtures/tools/` from its own address, answered as the recording
//! responder answered), compared with `tests/golden/rules/backtest.json`. Re-bless after an
//! intended change: `BLESS=1 cargo test -p sipscope --test it golden`.
//! Also: `rules check` on good and bad files, and the same rules over a store (`--db`).

use sipscope::sources::pcap::writer::PcapWriter;
use sipscope_packet::testutil as t;
use std::path::{Path, PathBuf};
use std::process::Command;

const T0: i64 = 1_767_225_600_000_000_000; // 2026-01-01T00:00:00Z
const PBX: [u8; 4] = [198, 51, 100, 1];

fn tools_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../sip/tests/fixtures/tools")
}

/// What the recording responder answered (its README's table), simplified: no digest is
/// checked, credentials are refused.
fn answer(request: &[u8]) -> Option<Vec<u8>> {
    let msg = sipscope_sip::parse(request).ok()?;
    let method = msg.method()?;
    let has = |name: sipscope_sip::HeaderName| msg.header(name).is_some();
    let credentials = has(sipscope_sip::HeaderName::Authorization) || has(sipscope_sip::HeaderName::ProxyAuthorization);
    let to_user = msg.to().and_then(|t| t.user()).unwrap_or_default();
    let ruri_user = msg.request_uri().and_then(|u| u.user).unwrap_or_default();
    let known = |u: &[u8]| [b"100".as_slice(), b"101", b"200"].contains(&u);
    let (status, challenge) = match method {
        b"OPTIONS" if ruri_user.is_empty() || known(ruri_user) => (200, None),
        b"OPTIONS" => (404, None),
        b"REGISTER" if credentials => (403, None),
        b"REGISTER" if known(to_user) => (401, Some("WWW-Authenticate")),
        b"REGISTER" => (404, None),
        b"INVITE" if !known(ruri_user) => (404, None),
        b"INVITE" if credentials => (403, None),
        b"INVITE" => (407, Some("Proxy-Authenticate")),
        b"ACK" => return None,
        b"BYE" | b"CANCEL" => (481, None),
        _ => (501, None),
    };
    let value = b"Digest algorithm=MD5, realm=\"asterisk\", nonce=\"5e1f00d1\"";
    let mut b = sipscope_sip::builder::ResponseBuilder::new(&msg, status, "Answer").to_tag(b"as1");
    if let Some(name) = challenge {
        b = b.header(name, value);
    }
    Some(b.build())
}

/// One capture of every recorded tool folder, each folder from its own address, 10 ms apart.
fn tools_capture() -> Vec<u8> {
    let mut folders: Vec<PathBuf> =
        std::fs::read_dir(tools_dir()).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    folders.sort();
    let mut w = PcapWriter::new(Vec::new(), 1, true).unwrap();
    let mut ts = T0;
    for (i, folder) in folders.iter().enumerate() {
        let attacker = [203, 0, 113, 10 + i as u8];
        let mut files: Vec<PathBuf> = std::fs::read_dir(folder).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        for file in files.iter().filter(|f| f.extension().is_some_and(|e| e == "sip")) {
            let request = std::fs::read(file).unwrap();
            let frame = t::ethernet(0x0800, &t::ipv4(attacker, PBX, 17, &t::udp(5061, 5060, &request)));
            w.write(ts, &frame, None).unwrap();
            if let Some(reply) = answer(&request) {
                let frame = t::ethernet(0x0800, &t::ipv4(PBX, attacker, 17, &t::udp(5060, 5061, &reply)));
                w.write(ts + 1_000_000, &frame, None).unwrap();
            }
            ts += 10_000_000;
        }
        ts += 60_000_000_000;
    }
    w.into_inner()
}

fn sipscope(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sipscope")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn rules_backtest_golden() {
    let dir = tempfile::tempdir().unwrap();
    let tools = dir.path().join("tools.pcap");
    std::fs::write(&tools, tools_capture()).unwrap();
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut args = vec!["rules".to_owned(), "test".into(), "--json".into(), tools.display().to_string()];
    let mut captures: Vec<PathBuf> = std::fs::read_dir(golden.join("ingest"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    captures.sort();
    args.extend(captures.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, stdout, stderr) = sipscope(&args);
    assert_eq!(code, 0, "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let rendered = serde_json::to_string_pretty(&doc["sections"]["alerts"]).unwrap() + "\n";
    let path = golden.join("rules/backtest.json");
    if std::env::var_os("BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &rendered).unwrap();
        std::fs::write(golden.join("rules/tools.pcap"), tools_capture()).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        expected == rendered,
        "backtest differs; re-bless with BLESS=1 cargo test -p sipscope --test it golden. Got:\n{rendered}"
    );
    // The expected alerts of the real tools, named here so that a re-bless cannot lose them.
    let rules: Vec<&str> = doc["sections"]["alerts"]["tables"][0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0].as_str().unwrap())
        .collect();
    for expected in ["sipscope/attack-agent", "sipscope/attack-fingerprint"] {
        assert!(rules.contains(&expected), "{expected} missing from {rules:?}");
    }
}

#[test]
fn rules_check_reports_every_problem_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "[[rule]]\nid = \"site/night-calls\"\nsid = 1\nname = \"INVITE at night\"\nseverity = \"info\"\n\
         match = { kind = \"request\", method = \"INVITE\" }\nwindow = { count = 1, seconds = 60 }\n",
    )
    .unwrap();
    let (code, stdout, _) = sipscope(&["rules", "check", good.to_str().unwrap()]);
    assert_eq!((code, stdout.contains("1 rules ok")), (0, true), "{stdout}");
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[rule]]\nid = \"a\"\nsid = 1\nname = \"a\"\nseverity = \"low\"\nmatch = {}\nwindow = { count = 1, seconds = 0 }\n\n\
         [[rule]]\nid = \"b\"\nsid = 2\nname = \"b\"\nseverity = \"low\"\nmatch = { methd = \"INVITE\" }\nwindow = { count = 1, seconds = 1 }\n",
    )
    .unwrap();
    let (code, stdout, _) = sipscope(&["rules", "check", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    let shown = bad.display().to_string();
    assert!(stdout.contains(&format!("{shown}:7: a: window")), "{stdout}");
    assert!(stdout.contains(&format!("{shown}:14: b: unknown fact")) && stdout.contains("methd"), "{stdout}");
    // A bad file stops a command that would run it, before anything is written.
    let db = dir.path().join("s.db");
    let (code, _, stderr) =
        sipscope(&["ingest", "--rules", bad.to_str().unwrap(), "--db", db.to_str().unwrap(), good.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(stderr.contains(":7:") && !db.exists(), "{stderr}");
}

#[test]
fn ingest_stores_alerts_and_a_backtest_of_the_store_finds_them_again() {
    let dir = tempfile::tempdir().unwrap();
    let tools = dir.path().join("tools.pcap");
    std::fs::write(&tools, tools_capture()).unwrap();
    let db = dir.path().join("s.db");
    let (code, stdout, stderr) =
        sipscope(&["ingest", "--quiet", "--json", "--db", db.to_str().unwrap(), tools.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let raised = summary["alerts_raised"].as_u64().unwrap();
    assert!(raised > 5, "{summary}");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let stored: u64 = conn.query_row("SELECT count(*) FROM alerts", [], |r| r.get(0)).unwrap();
    assert_eq!(stored, raised);
    let resolved: u64 =
        conn.query_row("SELECT count(*) FROM alert_evidence WHERE event_id IS NOT NULL", [], |r| r.get(0)).unwrap();
    assert!(resolved >= stored, "evidence names stored events");
    // Each names the event it was: the writer knows most by position, the rest it searches for.
    let wrong: u64 = conn
        .query_row(
            "SELECT count(*) FROM alert_evidence e JOIN events v ON v.id = e.event_id
             WHERE (v.ts_ns, v.src_ip, v.src_port, v.dst_ip, v.dst_port) IS NOT (e.ts_ns, e.src_ip, e.src_port, e.dst_ip, e.dst_port)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(wrong, 0, "evidence names another event");
    // The report's alerts section, and the same rules replayed over the store.
    let (_, report, _) = sipscope(&["report", "--db", db.to_str().unwrap(), "--format", "json", "alerts"]);
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    let (_, replay, _) = sipscope(&["rules", "test", "--json", "--db", db.to_str().unwrap()]);
    let replay: serde_json::Value = serde_json::from_str(&replay).unwrap();
    let per_rule = |doc: &serde_json::Value| {
        doc["sections"]["alerts"]["tables"][0]["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r[0].clone(), r[3].clone(), r[4].clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(per_rule(&report), per_rule(&replay));
    // --no-rules: no alerts.
    let quiet = dir.path().join("quiet.db");
    let (_, stdout, _) = sipscope(&[
        "ingest",
        "--quiet",
        "--json",
        "--no-rules",
        "--db",
        quiet.to_str().unwrap(),
        tools.to_str().unwrap(),
    ]);
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["alerts_raised"], 0);
}
