//! The analysis results (every count of a report) follow the stored events whatever happens
//! to a run: a capture ingested again with `--force`, an ingest killed mid-file and run
//! again, a compressed copy or the finished version of a capture ingested before. Each case
//! checks the report's message total against the events in the store.

use rusqlite::Connection;
use sipscope::sources::pcap::writer::PcapWriter;
use sipscope_packet::testutil as t;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const T0: i64 = 1_780_000_000_000_000_000;

/// `n` SIP requests: source k (k = i / 5) sends five, one a second, and sources follow each
/// other a minute apart, so flows close (20 minutes of silence) all along the capture.
/// Captures of another `net` hold other records (other sources).
fn write_capture(path: &Path, n: u64, net: u8) {
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut w = PcapWriter::new(file, 1, false).unwrap();
    for i in 0..n {
        let k = i / 5;
        let src = [198, 18 + net, (k / 256 % 256) as u8, (k % 256) as u8];
        let dst = [192, 0, 2, 10];
        let method = ["OPTIONS", "REGISTER", "INVITE", "OPTIONS", "REGISTER"][(i % 5) as usize];
        let payload = format!(
            "{method} sip:{}@192.0.2.10 SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.0.1:5060;branch=z9hG4bK-{i}\r\n\
             From: <sip:{k}@192.0.2.10>;tag={i}\r\nTo: <sip:{}@192.0.2.10>\r\nCall-ID: c{i}\r\n\
             CSeq: 1 {method}\r\nUser-Agent: friendly-scanner\r\nContent-Length: 0\r\n\r\n",
            100 + i % 50,
            100 + i % 50
        );
        let frame = t::ethernet(0x0800, &t::ipv4(src, dst, 17, &t::udp(5060, 5060, payload.as_bytes())));
        let ts = T0 + k as i64 * 60_000_000_000 + (i % 5) as i64 * 1_000_000_000;
        w.write(ts, &frame, None).unwrap();
    }
    use std::io::Write;
    w.into_inner().into_inner().unwrap().flush().unwrap();
}

fn sipscope() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sipscope"))
}

fn ingest(db: &Path, files: &[&Path], extra: &[&str]) -> serde_json::Value {
    let out: Output =
        sipscope().args(["ingest", "--quiet", "--json", "--db"]).arg(db).args(extra).args(files).output().unwrap();
    assert!(out.status.success(), "ingest failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn events(db: &Path) -> i64 {
    Connection::open(db).unwrap().query_row("SELECT count(*) FROM events", [], |r| r.get(0)).unwrap()
}

/// The report's total of messages and its notes (summary section).
fn report(db: &Path) -> (i64, Vec<String>) {
    let out = sipscope().args(["report", "--format", "json", "--db"]).arg(db).arg("summary").output().unwrap();
    assert!(out.status.success(), "report failed: {}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let summary = &doc["sections"]["summary"];
    let rows = summary["tables"][0]["rows"].as_array().unwrap();
    let all = rows.iter().find(|r| r[0].as_str().is_some_and(|l| l.starts_with("all messages"))).unwrap();
    let notes = summary["notes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_owned()).collect();
    (all[1].as_i64().unwrap(), notes)
}

fn assert_follows(db: &Path, expected_events: i64) {
    let (total, notes) = report(db);
    assert_eq!(events(db), expected_events, "events stored");
    assert_eq!(total, expected_events, "report total against {expected_events} events; notes {notes:?}");
    assert!(!notes.iter().any(|n| n.contains("analysis")), "no coverage note expected: {notes:?}");
}

#[test]
fn force_reingest_replaces_the_files_analysis_with_its_events() {
    let dir = tempfile::tempdir().unwrap();
    let (db, a, b) = (dir.path().join("s.db"), dir.path().join("a.pcap"), dir.path().join("b.pcap"));
    write_capture(&a, 2_000, 0);
    write_capture(&b, 500, 1);
    ingest(&db, &[&a, &b], &[]);
    assert_follows(&db, 2_500);
    let again = ingest(&db, &[&a], &["--force"]);
    assert_eq!(again["events_replaced"], 2_000);
    assert_follows(&db, 2_500);
    // One run per file: the replaced file's run went with its events.
    let runs: i64 =
        Connection::open(&db).unwrap().query_row("SELECT count(*) FROM analysis_runs", [], |r| r.get(0)).unwrap();
    assert_eq!(runs, 2);
}

#[test]
fn an_ingest_killed_mid_file_counts_once_after_the_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let (db, small, big) = (dir.path().join("s.db"), dir.path().join("a.pcap"), dir.path().join("big.pcap"));
    write_capture(&small, 500, 0);
    write_capture(&big, 120_000, 1);
    let mut child = sipscope()
        .args(["ingest", "--quiet", "--db"])
        .arg(&db)
        .args([&small, &big])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once the big file's run has handed rows over (closed flows) and some of its
    // events are committed: what a kill -9 (the OOM killer) leaves.
    let deadline = Instant::now() + Duration::from_secs(300);
    let probe = "SELECT (SELECT count(*) FROM events WHERE file_id = 2),
                        (SELECT count(*) FROM flows f JOIN analysis_runs r ON f.run_id = r.id WHERE r.file_id = 2),
                        (SELECT count(*) FROM ingested_files WHERE id = 2 AND status = 'complete')";
    loop {
        assert!(Instant::now() < deadline, "the big file's analysis rows never appeared");
        let seen = Connection::open(&db).ok().and_then(|c| {
            c.busy_timeout(Duration::from_secs(5)).ok()?;
            c.query_row(probe, [], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))).ok()
        });
        if let Some((events, flows, complete)) = seen {
            assert_eq!(complete, 0, "the ingest finished before it could be killed: make the capture larger");
            if events > 0 && flows > 0 {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let (_, notes) = report(&db);
    assert!(notes.iter().any(|n| n.contains("interrupted")), "the report says so: {notes:?}");
    let rerun = ingest(&db, &[&small, &big], &[]);
    assert_eq!(rerun["files_already_ingested"], 1);
    assert_follows(&db, 120_500);
}

#[test]
fn a_compressed_copy_and_the_finished_capture_supersede_what_they_contain() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let (growing, full) = (dir.path().join("growing.pcap"), dir.path().join("full.pcap"));
    write_capture(&full, 1_000, 0);
    // The capture as it was when first ingested: its first 400 records.
    write_capture(&growing, 400, 0);
    ingest(&db, &[&growing], &[]);
    assert_follows(&db, 400);
    let finished = ingest(&db, &[&full], &[]);
    assert_eq!((finished["files_superseded"].as_i64(), finished["events_replaced"].as_i64()), (Some(1), Some(400)));
    assert_follows(&db, 1_000);
    // The same capture compressed: different bytes, the same records.
    let status = Command::new("gzip").args(["-k", "-9"]).arg(&full).status().unwrap();
    assert!(status.success());
    let copy = ingest(&db, &[&dir.path().join("full.pcap.gz")], &[]);
    assert_eq!(copy["files_superseded"], 1);
    assert_follows(&db, 1_000);
}
