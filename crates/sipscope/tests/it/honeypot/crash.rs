//! A honeypot killed with SIGKILL (as the OOM killer does) and started again: the analysis
//! run it left unfinished is continued by the next start (its events replayed into the new
//! engine, new input joining the same run), so the report's totals equal the events again;
//! until then the report says the run was interrupted.

use super::harness::Honeypot;
use std::net::UdpSocket;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn options(i: u32, from: &str) -> Vec<u8> {
    format!(
        "OPTIONS sip:100@127.0.90.1 SIP/2.0\r\nVia: SIP/2.0/UDP {from}:5099;branch=z9hG4bK-crash{i}\r\n\
         From: <sip:scan@{from}>;tag={i}\r\nTo: <sip:100@127.0.90.1>\r\nCall-ID: crash-{i}\r\nCSeq: 1 OPTIONS\r\n\
         User-Agent: friendly-scanner\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// The report's message total and its summary notes.
fn report(db: &Path) -> (i64, Vec<String>) {
    let out = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["report", "--format", "json", "--db"])
        .arg(db)
        .arg("summary")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &doc["sections"]["summary"];
    let all = s["tables"][0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[0].as_str().is_some_and(|l| l.starts_with("all messages")))
        .map(|r| r[1].as_i64().unwrap())
        .unwrap();
    (all, s["notes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_owned()).collect())
}

#[test]
fn a_killed_honeypots_analysis_is_continued_at_the_next_start() {
    let listen = [("udp", "127.0.90.1", 5060)];
    let extra = "";
    let hp = Honeypot::start(&listen, extra);
    for (n, from) in ["127.0.90.10", "127.0.90.11", "127.0.90.12"].into_iter().enumerate() {
        let socket = UdpSocket::bind((from, 0)).unwrap();
        for i in 0..30 {
            socket.send_to(&options(n as u32 * 100 + i, from), "127.0.90.1:5060").unwrap();
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    // Every request and its answer stored (the count stops moving), a tick later: kill.
    let (mut last, mut stable_since) = (-1, Instant::now());
    let deadline = Instant::now() + Duration::from_secs(30);
    while stable_since.elapsed() < Duration::from_millis(1500) {
        assert!(Instant::now() < deadline, "events never settled");
        let now = hp.count("SELECT count(*) FROM events");
        if now != last {
            (last, stable_since) = (now, Instant::now());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(last >= 90, "requests stored: {last}");
    let dir = hp.kill();
    let db = dir.path().join("hp.db");
    let (total, notes) = report(&db);
    assert!(notes.iter().any(|n| n.contains("interrupted")), "the report says so: {notes:?}");
    assert!(total < last, "before recovery the results stop early: {total} of {last}");

    // The next start continues the interrupted run: its events replayed, the same run goes on.
    let mut hp = Honeypot::start_again(dir, &listen, extra);
    let (_, log) = hp.stop();
    assert!(log.contains("continuing analysis run 1 (honeypot"), "{log}");
    assert_eq!(hp.count("SELECT count(*) FROM analysis_runs"), 1, "one run, continued");
    assert_eq!(hp.count("SELECT count(*) FROM events WHERE run_id = 1"), last, "every event names it");
    let events = hp.count("SELECT count(*) FROM events");
    assert_eq!(events, last, "nothing was received after the restart");
    let (total, notes) = report(&hp.dir.path().join("hp.db"));
    assert_eq!(total, events, "report total against the events; notes {notes:?}");
    assert!(!notes.iter().any(|n| n.contains("analysis")), "{notes:?}");
    let sources = hp.count("SELECT count(DISTINCT src_ip) FROM traffic WHERE direction = 'in'");
    assert_eq!(sources, 3);
}
