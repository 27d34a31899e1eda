//! Real HEP senders from Debian packages: Kamailio 5.6 siptrace (`hep_mode_on`, HEPv3 with a
//! capture id and auth key) and sngrep 1.6 (`-H udp:…`, reading a capture file).

use super::{rows, Collector, EVENT_COLUMNS};
use std::process::{Command, Stdio};

const KAMAILIO_KEYS: &str = "[[node]]\nsensor = \"kamailio-1\"\nid = 2001\nkey = \"kamailio-key-0123456789\"\n";

/// Kamailio on 127.0.230.2:`port` tracing every request it gets to the collector at
/// 127.0.230.1:`hep_port` with `key`, answering 404.
fn kamailio(dir: &std::path::Path, port: u16, hep_port: u16, key: &str) -> std::process::Child {
    let cfg = format!(
        r#"#!KAMAILIO
debug=2
log_stderror=yes
children=1
listen=udp:127.0.230.2:{port}
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
loadmodule "sl.so"
loadmodule "siptrace.so"
modparam("siptrace", "duplicate_uri", "sip:127.0.230.1:{hep_port}")
modparam("siptrace", "hep_mode_on", 1)
modparam("siptrace", "hep_version", 3)
modparam("siptrace", "hep_capture_id", 2001)
modparam("siptrace", "auth_key", "{key}")
modparam("siptrace", "trace_to_database", 0)
modparam("siptrace", "trace_on", 1)
request_route {{
    sip_trace();
    sl_send_reply("404", "Not Here");
    exit;
}}
"#
    );
    let path = dir.join("kamailio.cfg");
    std::fs::write(&path, cfg).unwrap();
    let child = Command::new("kamailio")
        .args(["-DD", "-E", "-f"])
        .arg(&path)
        .arg("-Y")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("kamailio (apt-get install kamailio)");
    child
}

/// sipsak sends OPTIONS until Kamailio answers 404; while Kamailio is still starting, the
/// port refuses (ICMP) and sipsak is run again, up to 100 times.
fn options_to_kamailio(port: u16) {
    let mut last = String::new();
    for _ in 0..100 {
        let out = Command::new("sipsak").args(["-v", "-s", &format!("sip:100@127.0.230.2:{port}")]).output().unwrap();
        last = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        if last.contains("404 Not Here") {
            return;
        }
        assert!(last.contains("Connection refused"), "{last}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("Kamailio never answered: {last}");
}

/// A collector on 127.0.230.1:`hep_port` and a Kamailio on `sip_port` tracing to it with
/// `key`; one OPTIONS traced. Returns the collector and its summary.
fn trace_one_options(hep_port: u16, sip_port: u16, key: &str) -> (Collector, serde_json::Value) {
    let listen = format!("udp:127.0.230.1:{hep_port}");
    let mut hep = Collector::start(Some(KAMAILIO_KEYS), &["--listen", &listen, "--count", "1"]);
    let mut kam = kamailio(hep.dir.path(), sip_port, hep_port, key);
    options_to_kamailio(sip_port);
    let summary = hep.wait();
    stop_kamailio(&mut kam);
    (hep, summary)
}

/// Kamailio's main process ends its workers on SIGTERM; SIGKILL would leave them running,
/// holding the port for the next test. Killed after 10 s if it has not ended.
fn stop_kamailio(kam: &mut std::process::Child) {
    let _ = Command::new("kill").args(["-TERM", &kam.id().to_string()]).status();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = kam.try_wait() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = kam.kill();
    let _ = kam.wait();
}

#[test]
fn kamailio_siptrace_is_stored_under_its_key_and_refused_with_another() {
    let (hep, summary) = trace_one_options(9063, 5060, "kamailio-key-0123456789");
    assert_eq!(summary["hep"]["accepted"], 1, "{summary}");
    let events = rows(&hep.db(), "SELECT sensor, transport, dst_ip, dst_port, method, CAST(raw AS TEXT) FROM events");
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        events[0][..5],
        ["Text(\"kamailio-1\")", "Text(\"udp\")", "Text(\"127.0.230.2\")", "Integer(5060)", "Text(\"OPTIONS\")"]
    );
    assert!(events[0][5].contains("sip:100@127.0.230.2:5060"), "{events:?}");

    // The same Kamailio with another key: refused, counted, nothing stored.
    let (hep, summary) = trace_one_options(9064, 5061, "not-the-key-0123456789");
    assert_eq!((summary["hep"]["wrong_key"].as_u64(), summary["hep"]["accepted"].as_u64()), (Some(1), Some(0)));
    assert_eq!(rows(&hep.db(), "SELECT count(*) FROM events"), [["Integer(0)"]]);
}

/// sngrep reads a capture and sends each SIP message in HEP; the collector's rows are the
/// rows `sipscope ingest` makes of the same capture (only the sensor and the file differ).
#[test]
fn sngrep_hep_lands_in_the_same_rows_as_ingesting_the_capture() {
    let pcap = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/ingest/udp-basic.pcap");
    // sngrep 1.6 writes its 16-bit capture id into the 32-bit chunk in host order: 2002
    // arrives as 0x07d20000 (docs/hep.md).
    let keys = "[[node]]\nsensor = \"sngrep-1\"\nid = 131203072\nkey = \"sngrep-key-0123456789\"\n";
    let mut hep = Collector::start(Some(keys), &["--listen", "udp:127.0.230.1:9065", "--count", "5"]);
    let rc = hep.dir.path().join("sngreprc");
    std::fs::write(&rc, "set eep.send.id 2002\nset eep.send.pass sngrep-key-0123456789\n").unwrap();
    let out = Command::new("sngrep")
        .args(["-F", "-f"])
        .arg(&rc)
        .args(["-N", "-q", "-I", pcap, "-H", "udp:127.0.230.1:9065"])
        .output()
        .expect("sngrep (apt-get install sngrep)");
    assert!(out.status.success(), "{out:?}");
    let summary = hep.wait();
    assert_eq!(summary["hep"]["accepted"], 5, "{summary}");

    let wire = tempfile::tempdir().unwrap();
    let wire_db = wire.path().join("wire.db");
    let ingest = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["ingest", "--quiet", "--db"])
        .arg(&wire_db)
        .arg(pcap)
        .output()
        .unwrap();
    assert!(ingest.status.code().is_some_and(|c| c <= 1), "{ingest:?}");
    let wire_db = rusqlite::Connection::open(&wire_db).unwrap();
    let from_hep = rows(&hep.db(), EVENT_COLUMNS);
    let from_wire = rows(&wire_db, &EVENT_COLUMNS.replace("FROM events", "FROM events WHERE kind <> 'keepalive'"));
    assert_eq!(from_hep.len(), 5);
    assert_eq!(from_hep, from_wire);
    assert_eq!(rows(&hep.db(), "SELECT DISTINCT sensor FROM events"), [["Text(\"sngrep-1\")"]]);
    // The analysis counted them like the wire's.
    let traffic = "SELECT sum(messages) FROM traffic";
    assert_eq!(rows(&hep.db(), traffic), rows(&wire_db, traffic));
}
