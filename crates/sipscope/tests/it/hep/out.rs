//! HEP out: `sipscope ingest --hep-out` forwards what it stores to a collector (here another
//! sipscope, `hep --no-auth`), whose rows equal the ingest's.

use super::{rows, Collector, EVENT_COLUMNS};
use std::process::Command;

#[test]
fn ingest_forwards_the_methods_asked_for_to_a_collector_that_stores_the_same_rows() {
    let pcap = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/ingest/udp-basic.pcap");
    let mut hep = Collector::start(None, &["--listen", "udp:127.0.230.1:9068", "--count", "5"]);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("wire.db");
    let out = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["ingest", "--quiet", "--sensor", "edge-7", "--hep-out", "127.0.230.1:9068"])
        .args(["--hep-out-methods", "OPTIONS,REGISTER,INVITE", "--db"])
        .arg(&db)
        .arg(pcap)
        .output()
        .unwrap();
    assert!(out.status.code().is_some_and(|c| c <= 1), "{out:?}");
    let summary = hep.wait();
    assert_eq!(summary["hep"]["accepted"], 5, "{summary}");
    let wire = rusqlite::Connection::open(&db).unwrap();
    let sip_only = EVENT_COLUMNS.replace("FROM events", "FROM events WHERE kind <> 'keepalive'");
    assert_eq!(rows(&hep.db(), EVENT_COLUMNS), rows(&wire, &sip_only));
    // The node name chunk carried the ingest's sensor; without keys it names the sensor.
    assert_eq!(rows(&hep.db(), "SELECT DISTINCT sensor FROM events"), [["Text(\"edge-7\")"]]);
}

/// The honeypot's `[hep_out]` (the same settings as `--hep-out`) forwards what it stores: an
/// OPTIONS and the honeypot's answer reach the collector with the bytes the honeypot stored.
/// (Loopback 127.0.241.0/24.)
#[test]
fn the_honeypot_forwards_what_it_stores_to_a_collector() {
    let mut hep = Collector::start(None, &["--listen", "udp:127.0.241.1:9068", "--count", "2"]);
    let extra = "[hep_out]\nto = \"127.0.241.1:9068\"\nid = 7\nmethods = [\"OPTIONS\"]\n";
    let mut hp = crate::honeypot::harness::Honeypot::start(&[("udp", "127.0.241.2", 5060)], extra);
    let client = std::net::UdpSocket::bind("127.0.241.3:0").unwrap();
    let port = client.local_addr().unwrap().port();
    let options = format!(
        "OPTIONS sip:100@127.0.241.2 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.241.3:{port};branch=z9hG4bK-hepout\r\n\
         From: <sip:probe@127.0.241.3>;tag=1\r\nTo: <sip:100@127.0.241.2>\r\nCall-ID: hep-out-1\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    client.send_to(options.as_bytes(), "127.0.241.2:5060").unwrap();
    client.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = client.recv_from(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"SIP/2.0 200"), "{}", String::from_utf8_lossy(&buf[..n]));
    let summary = hep.wait();
    hp.stop();
    assert_eq!(summary["hep"]["accepted"], 2, "{summary}");
    let stored = rusqlite::Connection::open(hp.dir.path().join("hp.db")).unwrap();
    assert_eq!(
        rows(&hep.db(), "SELECT raw FROM events ORDER BY ts_ns, id"),
        rows(&stored, "SELECT raw FROM events ORDER BY ts_ns, id")
    );
    // The node name chunk named the honeypot's sensor.
    assert_eq!(rows(&hep.db(), "SELECT DISTINCT sensor FROM events"), [["Text(\"test\")"]]);
}
