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
