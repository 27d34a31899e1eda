//! `sipscope capture --metrics` on the loopback interface, filtered to 127.0.245.6 (this test's
//! address): the messages captured, counted and committed agree with the store. Needs the right
//! to capture (root or CAP_NET_RAW): skipped, with a message, without it.

use crate::honeypot::metrics::scrape;
use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const METRICS: &str = "127.0.245.6:9467";

fn options(n: usize) -> String {
    format!(
        "OPTIONS sip:100@127.0.245.6 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.245.7:5060;branch=z9hG4bKm{n}\r\n\
         From: <sip:a@127.0.245.7>;tag={n}\r\nTo: <sip:100@127.0.245.6>\r\nCall-ID: cap{n}\r\nCSeq: 1 OPTIONS\r\n\
         Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
}

#[test]
fn capture_serves_metrics_that_agree_with_its_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cap.db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["capture", "--iface", "lo", "--filter", "udp and dst host 127.0.245.6 and dst port 5060"])
        .args(["--count", "5", "--json", "--metrics", METRICS, "--db"])
        .arg(&db)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap_or(0) > 0 && !line.contains("capturing on") {}
    if !line.contains("capturing on") {
        let _ = child.wait();
        eprintln!("skipped: cannot capture on lo: {line}");
        return;
    }
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    let sender = UdpSocket::bind("127.0.245.7:0").unwrap();
    for n in 0..4 {
        sender.send_to(options(n).as_bytes(), "127.0.245.6:5060").unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let m = scrape(METRICS);
        let stored: i64 = rusqlite::Connection::open(&db)
            .and_then(|c| c.query_row("SELECT count(*) FROM events", [], |r| r.get(0)))
            .unwrap_or(0);
        let captured = m.sum("sipscope_messages_in_total", &[("source", "capture"), ("transport", "udp")]);
        let committed = m.sum("sipscope_events_out_total", &[("sink", "sqlite")]);
        if stored == 4 && captured == 4.0 && committed == 4.0 {
            assert_eq!(m.sum("sipscope_messages_in_total", &[]), 4.0);
            break;
        }
        assert!(Instant::now() < deadline, "stored {stored}, captured {captured}, committed {committed}");
        std::thread::sleep(Duration::from_millis(300));
    }
    sender.send_to(options(4).as_bytes(), "127.0.245.6:5060").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["events_stored"], 5, "{summary}");
}
