//! `sipscope logs` end to end: the fixtures into a real store (origin, the raw line kept
//! exactly, a second run reading nothing again), the report's authentication sections over
//! log-origin attempts, and `--follow` across rename and copy-truncate rotation and across
//! restarts, with every line stored exactly once.

use rusqlite::Connection;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pbx_logs");

fn logs(db: &Path, format: &str, files: &[&Path], extra: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["logs", "--format", format, "--sensor", "pbx1", "--db"])
        .arg(db)
        .args(extra)
        .args(files)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out
}

fn count(db: &Path, sql: &str) -> i64 {
    Connection::open(db).unwrap().query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn fixtures_into_the_store_once_with_their_lines() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let asterisk = dir.path().join("messages");
    std::fs::copy(format!("{FIXTURES}/asterisk-messages.log"), &asterisk).unwrap();
    let security = dir.path().join("security");
    std::fs::copy(format!("{FIXTURES}/asterisk-security.log"), &security).unwrap();
    let fs = dir.path().join("freeswitch.log");
    std::fs::copy(format!("{FIXTURES}/freeswitch.log"), &fs).unwrap();

    let out = logs(&db, "asterisk", &[&asterisk, &security], &["--json"]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((summary["attempts"].as_u64(), summary["challenges"].as_u64()), (Some(21), Some(1)));
    logs(&db, "freeswitch", &[&fs], &[]);
    assert_eq!(count(&db, "SELECT count(*) FROM auth_attempts WHERE origin = 'freeswitch_sofia'"), 5);
    assert_eq!(count(&db, "SELECT count(*) FROM auth_attempts WHERE origin LIKE 'asterisk_%'"), 21);
    assert_eq!(count(&db, "SELECT count(*) FROM auth_attempts WHERE sensor <> 'pbx1' OR password IS NOT NULL"), 0);

    // Every stored line is one of the file's lines, byte for byte (colour codes included).
    let conn = Connection::open(&db).unwrap();
    let stored: Vec<Vec<u8>> = conn
        .prepare("SELECT log_line FROM auth_attempts WHERE log_file = ?1")
        .unwrap()
        .query_map([asterisk.display().to_string()], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let file = std::fs::read(&asterisk).unwrap();
    let lines: Vec<&[u8]> = file.split(|&b| b == b'\n').collect();
    assert_eq!(stored.len(), 12);
    assert!(stored.iter().all(|s| lines.contains(&s.as_slice())));
    assert!(stored.iter().any(|s| s.contains(&0x1b)));

    // A second run reads nothing again; lines added since are read.
    let out = logs(&db, "asterisk", &[&asterisk, &security], &["--json"]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["lines"].as_u64(), Some(0));
    let line = "[2024-01-10 12:40:00] NOTICE[1] chan_sip.c: Registration from '<sip:777@h>' failed for '203.0.113.77:5060' - Wrong password\n";
    std::fs::OpenOptions::new().append(true).open(&asterisk).unwrap().write_all(line.as_bytes()).unwrap();
    logs(&db, "asterisk", &[&asterisk, &security], &[]);
    assert_eq!(count(&db, "SELECT count(*) FROM auth_attempts"), 27);
    assert_eq!(count(&db, "SELECT count(*) FROM auth_attempts WHERE username = '777' AND src_ip = '203.0.113.77'"), 1);

    // The report's authentication sections read them: per extension, calls to missing
    // extensions aside; no password table rows (the logs have none).
    let out = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["report", "--format", "json", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let tables = report["sections"]["passwords"]["tables"].as_array().unwrap();
    let table = |name: &str| tables.iter().find(|t| t["name"] == name).unwrap().to_string();
    let by_extension = table("passwords_by_extension");
    assert!(by_extension.contains("\"100\"") && by_extension.contains("\"admin\""), "{by_extension}");
    assert!(!by_extension.contains("[\"\","), "a call to a missing extension is no authentication: {by_extension}");
    assert!(table("passwords").contains("\"rows\":[]"), "{}", table("passwords"));
}

/// A registration failure with a unique user `u{n}`.
fn line(n: usize) -> String {
    format!(
        "[2024-01-10 12:00:00] NOTICE[1] chan_sip.c: Registration from '<sip:u{n}@192.0.2.10>' failed for '203.0.113.1:5060' - Wrong password\n"
    )
}

fn append(path: &Path, from: usize, to: usize) {
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
    for n in from..to {
        f.write_all(line(n).as_bytes()).unwrap();
    }
}

/// Waits until the store holds `n` attempts (the follower polls every 20 ms; the deadline
/// only bounds a failing run).
fn wait_for(db: &Path, n: i64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let have = if db.exists() {
            Connection::open(db)
                .and_then(|c| c.query_row("SELECT count(*) FROM auth_attempts", [], |r| r.get(0)))
                .unwrap_or(0)
        } else {
            0
        };
        if have >= n {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{have} of {n} attempts stored");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn follow(db: &Path, log: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["logs", "--format", "asterisk", "--follow", "--poll-ms", "20", "--db"])
        .arg(db)
        .arg(log)
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn stop(child: Child) {
    let status = terminate(child);
    assert!(status.success(), "{status}");
}

fn terminate(mut child: Child) -> std::process::ExitStatus {
    let out = Command::new("kill").args(["-TERM", &child.id().to_string()]).output().unwrap();
    assert!(out.status.success());
    child.wait().unwrap()
}

/// Every user u0..n stored exactly once.
fn exactly_once(db: &Path, n: usize) {
    assert_eq!(count(db, "SELECT count(*) FROM auth_attempts"), n as i64);
    assert_eq!(count(db, "SELECT count(DISTINCT username) FROM auth_attempts"), n as i64);
}

#[test]
fn follow_across_rotation_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let (db, log) = (dir.path().join("s.db"), dir.path().join("messages"));
    append(&log, 0, 10);
    let child = follow(&db, &log);
    wait_for(&db, 10);
    append(&log, 10, 20);
    wait_for(&db, 20);

    // Rename rotation; the PBX writes to the old file once more before it reopens.
    std::fs::rename(&log, dir.path().join("messages.1")).unwrap();
    append(&dir.path().join("messages.1"), 20, 25);
    std::thread::sleep(std::time::Duration::from_millis(100));
    append(&log, 25, 30);
    wait_for(&db, 30);

    // Copy-truncate, with lines the follower has not read yet, and the file written again.
    append(&log, 30, 35);
    std::fs::copy(&log, dir.path().join("messages-20240111")).unwrap();
    std::fs::OpenOptions::new().write(true).truncate(true).open(&log).unwrap();
    append(&log, 35, 40);
    wait_for(&db, 40);
    stop(child);
    exactly_once(&db, 40);

    // Stopped: lines added, then renamed away and a new file started; a run without
    // --follow reads the rest of the old file and the new one.
    append(&log, 40, 45);
    std::fs::rename(&log, dir.path().join("messages.2")).unwrap();
    append(&log, 45, 50);
    logs(&db, "asterisk", &[&log], &[]);
    exactly_once(&db, 50);

    // Stopped again: copy-truncated meanwhile.
    append(&log, 50, 55);
    std::fs::copy(&log, dir.path().join("messages.3")).unwrap();
    std::fs::OpenOptions::new().write(true).truncate(true).open(&log).unwrap();
    append(&log, 55, 58);
    let child = follow(&db, &log);
    wait_for(&db, 58);
    append(&log, 58, 60);
    wait_for(&db, 60);
    stop(child);
    exactly_once(&db, 60);
    // And a last run finds nothing new.
    logs(&db, "asterisk", &[&log], &[]);
    exactly_once(&db, 60);
}

/// A file followed by name that does not exist yet is read once it appears; its absence is
/// one problem (exit status 1), not one per poll.
#[test]
fn a_missing_file_is_read_once_it_appears() {
    let dir = tempfile::tempdir().unwrap();
    let (db, log) = (dir.path().join("s.db"), dir.path().join("messages"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["logs", "--format", "asterisk", "--follow", "--poll-ms", "20", "--db"])
        .arg(&db)
        .arg(&log)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // "following" is printed once the store is open, right before the first poll (the store
    // file alone appears earlier: its schema is written before the follower starts).
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut stderr, &mut first).unwrap();
    assert!(first.contains("following 1 files"), "{first}");
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    std::thread::sleep(std::time::Duration::from_millis(200));
    append(&log, 0, 3);
    wait_for(&db, 3);
    let status = terminate(child);
    assert_eq!(status.code(), Some(1));
    exactly_once(&db, 3);
    let out = logs(&db, "asterisk", &[&log], &["--json"]);
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((s["lines"].as_u64(), s["problems"].as_array().map(Vec::len)), (Some(0), Some(0)));
}

#[test]
fn hostile_lines_are_bounded_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (db, log) = (dir.path().join("s.db"), dir.path().join("messages"));
    let mut bytes = Vec::new();
    bytes.extend_from_slice(line(1).as_bytes());
    // A 1 MiB line, non-UTF-8 bytes, a NUL, a truncated line, an injected From.
    bytes.extend(std::iter::repeat_n(b'A', 1 << 20));
    bytes.push(b'\n');
    bytes.extend_from_slice(b"[x] NOTICE[1] chan_sip.c: Registration from '<sip:\xff\x00@h>' failed for '203.0.113.2:5060' - Wrong password\n");
    bytes.extend_from_slice(b"[x] NOTICE[1] chan_sip.c: Registration from '<sip:cut@h>' failed for '203.0.11\n");
    bytes.extend_from_slice(
        b"[x] NOTICE[1] chan_sip.c: Registration from '<sip:i@h>' failed for '6.6.6.6:5060' - Wrong password' failed for '203.0.113.3:5060' - Wrong password\n",
    );
    std::fs::write(&log, &bytes).unwrap();
    let out = logs(&db, "asterisk", &[&log], &["--json", "--max-line-bytes", "4096"]);
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((s["attempts"].as_u64(), s["oversized"].as_u64(), s["malformed"].as_u64()), (Some(3), Some(1), Some(1)));
    assert_eq!(s["injected"].as_u64(), Some(1));
    assert_eq!(count(&db, "SELECT count(*) FROM auth_attempts WHERE src_ip = '6.6.6.6'"), 0);
    assert_eq!(count(&db, "SELECT count(*) FROM auth_attempts WHERE username = '\\xff' || char(0)"), 1);
}

/// Writes to `file` the first line of fixture `name` that contains `marker`, once for each `s`
/// in `range`, as `vary(line, s)` makes it (a later time, another account or number).
fn repeat_fixture_line(
    name: &str,
    marker: &str,
    range: std::ops::Range<u32>,
    file: &Path,
    vary: impl Fn(&str, u32) -> String,
) {
    let template = std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap();
    let line = template.lines().find(|l| l.contains(marker)).unwrap();
    let lines: String = range.map(|s| format!("{}\n", vary(line, s))).collect();
    std::fs::write(file, lines).unwrap();
}

/// A brute force read from a PBX log raises the same alerts as one seen on the wire: the
/// rules run on the attempts `logs` stores (the OSSEC-style thresholds of the built-in pack),
/// with the address the PBX wrote, and `--no-rules` raises none.
#[test]
fn a_brute_force_in_a_log_raises_the_rules_alert_for_its_source() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("security");
    repeat_fixture_line("asterisk-security.log", "\"InvalidPassword\"", 10..31, &file, |line, s| {
        line.replace("12:34:58]", &format!("12:35:{s}]"))
            .replace("2024-01-10T12:34:58.250", &format!("2024-01-10T12:35:{s}.250"))
            .replace("AccountID=\"100\"", &format!("AccountID=\"1{s}\""))
    });
    let db = dir.path().join("s.db");
    logs(&db, "asterisk", &[&file], &[]);
    let alerts = "SELECT count FROM alerts WHERE rule_id = 'sipscope/pbx-failed-logins' AND src_ip = '203.0.113.5'";
    assert_eq!(count(&db, alerts), 21, "one alert counting the 21 failures");
    let quiet = dir.path().join("quiet.db");
    logs(&quiet, "asterisk", &[&file], &["--no-rules"]);
    assert_eq!(count(&quiet, "SELECT count(*) FROM alerts"), 0);
}

/// chan_sip's "rejected because extension not found", six calls from one address to numbers
/// the PBX does not route: `sipscope/pbx-unknown-extensions` (5 in 2 minutes) raises one alert
/// for that address, counting all six.
#[test]
fn calls_to_missing_extensions_in_a_log_raise_the_rules_alert() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("messages");
    repeat_fixture_line("asterisk-messages.log", "extension not found", 10..16, &file, |line, s| {
        line.replace("12:36:00]", &format!("12:36:{s}]")).replace("0046701234567", &format!("00467012345{s}"))
    });
    let db = dir.path().join("s.db");
    logs(&db, "asterisk", &[&file], &[]);
    assert_eq!(count(&db, "SELECT count(*) FROM auth_attempts WHERE outcome = 'extension_not_found'"), 6);
    let alerts =
        "SELECT count FROM alerts WHERE rule_id = 'sipscope/pbx-unknown-extensions' AND src_ip = '203.0.113.20'";
    assert_eq!(count(&db, alerts), 6, "one alert counting the six calls");
}

/// `logs --follow --metrics` on 127.0.245.0/24: the records counted are the attempts stored;
/// `--metrics` without `--follow` is refused.
#[test]
fn following_logs_serves_metrics_that_agree_with_the_store() {
    use crate::honeypot::metrics::scrape;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let security = dir.path().join("security");
    std::fs::copy(format!("{FIXTURES}/asterisk-security.log"), &security).unwrap();
    let addr = "127.0.245.4:9466";
    let refused = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["logs", "--format", "asterisk", "--metrics", addr, "--db"])
        .arg(&db)
        .arg(&security)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--follow"));
    let child = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["logs", "--format", "asterisk", "--follow", "--poll-ms", "20", "--metrics", addr, "--db"])
        .arg(&db)
        .arg(&security)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let stored = Connection::open(&db)
            .and_then(|c| c.query_row("SELECT count(*) FROM auth_attempts", [], |r| r.get::<_, i64>(0)))
            .unwrap_or(0);
        // The listener starts with the follower: until then the scrape is refused.
        let counted = std::net::TcpStream::connect(addr)
            .ok()
            .map(|_| scrape(addr).sum("sipscope_records_in_total", &[("source", "logs"), ("kind", "auth_attempt")]));
        if stored > 0 && counted == Some(stored as f64) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "stored {stored}, counted {counted:?}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    stop(child);
}

fn report(db: &Path) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["report", "--format", "json", "--db"])
        .arg(db)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The rows of table `name` in section `section`.
fn rows(report: &serde_json::Value, section: &str, name: &str) -> Vec<serde_json::Value> {
    let tables = report["sections"][section]["tables"].as_array().unwrap();
    tables.iter().find(|t| t["name"] == name).unwrap()["rows"].as_array().unwrap().clone()
}

/// Attempts read from PBX logs reach the message analysis as the requests they describe: the
/// sources, days, stages (per node: the log's sensor), dialled numbers and flows of the report
/// come from the logs alone, and `analyze` over the store gives the same tables.
#[test]
fn log_attempts_feed_the_analysis_and_analyze_reproduces_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let file = |name: &str| format!("{FIXTURES}/{name}");
    let (messages, security, fs) =
        (file("asterisk-messages.log"), file("asterisk-security.log"), file("freeswitch.log"));
    logs(&db, "asterisk", &[Path::new(&messages), Path::new(&security)], &[]);
    logs(&db, "freeswitch", &[Path::new(&fs)], &[]);
    // The store holds attempts only, no event, and their node is the log's sensor.
    assert_eq!(count(&db, "SELECT count(*) FROM events"), 0);
    assert_eq!(count(&db, "SELECT count(*) FROM auth_attempts WHERE node IS NOT 'pbx1'"), 0);

    let before = report(&db);
    let sources =
        rows(&before, "sources", "sources").iter().map(|r| r[0].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    // The chan_sip brute force (Wrong password, No matching peer), a PJSIP source and an IPv6 one.
    for source in ["203.0.113.21", "203.0.113.22", "2001:db8:bad::21", "203.0.113.30"] {
        assert!(sources.iter().any(|s| s == source), "{source} in {sources:?}");
    }
    // Per node: the sensor; a failed REGISTER is registration hijacking, a SuccessfulAuth a
    // hijacked account, a call to a missing international extension toll fraud.
    let stages = rows(&before, "stages", "stages");
    assert_eq!(stages.len(), 1, "{stages:?}");
    assert_eq!(stages[0][0], "pbx1");
    assert!(stages[0][4].as_i64().unwrap() >= 3, "registration hijacking: {stages:?}");
    assert_eq!(stages[0][5], 1, "hijack succeeded: {stages:?}");
    assert_eq!(stages[0][6], 1, "toll fraud: {stages:?}");
    let countries = rows(&before, "numbers", "number_countries");
    assert!(countries.iter().any(|r| r[0] == "SE"), "{countries:?}");
    assert!(!rows(&before, "passwords", "passwords_by_extension").is_empty());

    // `analyze` reads the attempts back beside the (no) events: the same tables.
    let out = Command::new(env!("CARGO_BIN_EXE_sipscope")).args(["analyze", "--db"]).arg(&db).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let after = report(&db);
    for section in ["summary", "daily", "stages", "sources", "numbers", "passwords", "tools", "strategies", "spread"] {
        assert_eq!(before["sections"][section], after["sections"][section], "section {section}");
    }
}

/// res_pjsip's other line shapes, the manager interface's, IAX2's and FreePBX's lines, end to
/// end: stored with their origins, and only the SIP ones reach the message analysis (the AMI
/// and IAX2 sources are not in the report's sources, the PJSIP ones are).
#[test]
fn pjsip_manager_iax2_and_freepbx_lines_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let file = |name: &str| format!("{FIXTURES}/{name}");
    let (pjsip, services) = (file("asterisk-pjsip.log"), file("asterisk-services.log"));
    let out = logs(&db, "asterisk", &[Path::new(&pjsip), Path::new(&services)], &["--json"]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((summary["attempts"].as_u64(), summary["ignored"].as_u64()), (Some(16), Some(0)), "{summary}");
    let origins = |origin: &str| count(&db, &format!("SELECT count(*) FROM auth_attempts WHERE origin = '{origin}'"));
    assert_eq!(
        [origins("asterisk_pjsip"), origins("asterisk_manager"), origins("asterisk_iax2"), origins("freepbx_dialplan")],
        [6, 3, 4, 3]
    );
    // Asterisk 13's line names no method: stored empty, never guessed.
    assert_eq!(count(&db, "SELECT count(*) FROM auth_attempts WHERE method = '' AND src_ip = '203.0.113.40'"), 2);
    assert_eq!(
        count(&db, "SELECT count(*) FROM auth_attempts WHERE transport = 'tcp' AND uri = '9011442079460000'"),
        1
    );
    let sources =
        rows(&report(&db), "sources", "sources").iter().map(|r| r[0].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    for sip in ["203.0.113.40", "203.0.113.41", "203.0.113.42", "203.0.113.52"] {
        assert!(sources.iter().any(|s| s == sip), "{sip} in {sources:?}");
    }
    for not_sip in ["203.0.113.50", "203.0.113.51"] {
        assert!(!sources.iter().any(|s| s == not_sip), "{not_sip} in {sources:?}");
    }
}
