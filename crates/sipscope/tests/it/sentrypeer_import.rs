//! `sipscope import sentrypeer`: JSON logs and `honey` tables written here from SentryPeer's
//! formats (its JSON log writer and its `database.c` schema), good and hostile, imported into a
//! store; `report` then counts them.

use rusqlite::Connection;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output};

const NODE: &str = "350f30e4-ce1d-4d53-9004-dd40a1c4abc8";

/// A SIPVicious-like INVITE from `src` for `number`, as SentryPeer re-serialises it.
fn invite(src: &str, number: &str, ua: &str) -> String {
    format!(
        "INVITE sip:{number}@203.0.113.5 SIP/2.0\r\nVia: SIP/2.0/UDP {src}:5060;branch=z9hG4bK-{number}\r\n\
         From: <sip:100@{src}>;tag=abc\r\nTo: <sip:{number}@203.0.113.5>\r\nCall-ID: {number}-{src}\r\n\
         CSeq: 1 INVITE\r\nContact: <sip:100@{src}:5060>\r\nMax-Forwards: 70\r\nUser-Agent: {ua}\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

fn bad_actor(ts: &str, src: &str, transport: &str, number: &str, message: &str) -> Value {
    json!({
        "app_name": "sentrypeer", "app_version": "4.0.0", "event_timestamp": ts,
        "event_uuid": "460f30e4-ce1d-4d53-9004-dd40a1c4abc9", "created_by_node_id": NODE,
        "collected_method": "responsive", "transport_type": transport, "source_ip": src,
        "destination_ip": "203.0.113.5", "called_number": number, "sip_method": "INVITE",
        "sip_user_agent": "friendly-scanner", "sip_message": message,
    })
}

fn sipscope(db: &Path, args: &[&str], files: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sipscope")).args(args).arg("--db").arg(db).args(files).output().unwrap()
}

fn import(db: &Path, extra: &[&str], files: &[&Path]) -> (Value, Output) {
    let args: Vec<&str> = ["import", "sentrypeer", "--json"].iter().chain(extra).copied().collect();
    let out = sipscope(db, &args, files);
    let summary =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    (summary, out)
}

/// ts_ns, sensor, transport, src_ip, src_port, dst_ip, packet_no, user_agent, anomalies.
type StoredEvent = (i64, String, String, String, i64, String, i64, String, String);

#[test]
fn a_json_log_with_hostile_lines_is_imported_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (log, db) = (dir.path().join("sentrypeer.json"), dir.path().join("s.db"));
    let mut text = Vec::new();
    let mut line = |v: &[u8]| {
        text.extend_from_slice(v);
        text.push(b'\n');
    };
    for (i, n) in ["900972599991234", "0046812345678", "100"].iter().enumerate() {
        let ts = format!("2024-03-01 12:00:0{i}.123456789");
        line(
            bad_actor(&ts, "198.51.100.7", "UDP", n, &invite("198.51.100.7", n, "friendly-scanner"))
                .to_string()
                .as_bytes(),
        );
    }
    line(b""); // blank: skipped, not counted
    line(br#"{"source_ip": "198.51.100.8", "event_timestamp": "2024-03-01 12:00:05", "sip_mess"#); // line 5: cut off
    line(br#"{"source_ip": 198, "event_timestamp": "2024-03-01 12:00:05"}"#); // 6: wrong type
    line(b"{\"source_ip\": \"198.51.100.9\", \"sip_message\": \"\xff\xfe\"}"); // 7: not UTF-8
    let huge = "x".repeat(300 << 10);
    line(bad_actor("2024-03-01 12:00:07", "198.51.100.10", "UDP", "1", &huge).to_string().as_bytes()); // 8: over the message limit
    line(b"[\"sentrypeer\"]"); // 9: not an object
    line(bad_actor("2024-03-01 12:00:09", "198.51.100.11", "UDP", "1", "").to_string().as_bytes()); // 10: no message text
    line(bad_actor("someday", "198.51.100.12", "UDP", "1", "x").to_string().as_bytes()); // 11: bad time
                                                                                         // 12: TCP, one hour east of UTC, from IPv6; 13: no transport
    line(
        bad_actor("2024-03-01 13:00:10", "2001:db8::7", "TCP", "200", &invite("[2001:db8::7]", "200", "sipcli/v1.8"))
            .to_string()
            .as_bytes(),
    );
    line(
        bad_actor("2024-03-01 13:00:11", "2001:db8::7", "", "201", &invite("[2001:db8::7]", "201", "sipcli/v1.8"))
            .to_string()
            .as_bytes(),
    );
    std::fs::write(&log, &text).unwrap();

    // Lines 12 and 13 say 13:00 local; with +01:00 lines 1-3 (12:00 local) are 11:00 UTC.
    let (s, out) = import(&db, &["--utc-offset", "+01:00"], &[&log]);
    assert_eq!(out.status.code(), Some(1), "refused lines make the exit status 1");
    assert_eq!(
        (s["rows"].as_u64(), s["messages"].as_u64(), s["events_stored"].as_u64()),
        (Some(12), Some(5), Some(5)),
        "{s:#}"
    );
    assert_eq!(s["rows_refused"], 6);
    assert_eq!(s["rows_without_message"], json!({"INVITE": 1}));
    assert_eq!(s["transport_unknown"], 1);
    let problems: Vec<&str> = s["problem_list"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    for (n, why) in [
        (5, "not JSON"),
        (6, "source_ip is not a string"),
        (7, "not JSON"),
        (8, "sip_message is 307"),
        (9, "not a JSON object"),
        (11, "event_timestamp"),
    ] {
        assert!(
            problems.iter().any(|p| p.contains(&format!("line {n}: ")) && p.contains(why)),
            "line {n} ({why}) in {problems:#?}"
        );
    }

    let store = Connection::open(&db).unwrap();
    let rows: Vec<StoredEvent> = store
        .prepare("SELECT ts_ns, sensor, transport, src_ip, src_port, dst_ip, packet_no, user_agent, anomalies FROM events ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let eleven_utc = 1_709_290_800i64 * 1_000_000_000; // 2024-03-01T11:00:00Z
    assert_eq!(rows[0].0, eleven_utc + 123_456_789);
    assert_eq!(rows[0].1, format!("sentrypeer:{NODE}"));
    assert_eq!(
        (rows[0].2.as_str(), rows[0].3.as_str(), rows[0].4, rows[0].5.as_str(), rows[0].6),
        ("udp", "198.51.100.7", 0, "203.0.113.5", 1)
    );
    assert_eq!(
        (rows[3].2.as_str(), rows[3].3.as_str(), rows[3].6, rows[3].7.as_str()),
        ("tcp", "2001:db8::7", 12, "sipcli/v1.8")
    );
    assert_eq!(rows[3].0, eleven_utc + 3600 * 1_000_000_000 + 10 * 1_000_000_000);
    assert!(rows[4].8.contains("transport_unknown"), "{:?}", rows[4]);
    assert!(!rows[3].8.contains("transport_unknown"));

    // The same file again is not imported twice.
    let (again, _) = import(&db, &[], &[&log]);
    assert_eq!((again["files_already_imported"].as_u64(), again["events_stored"].as_u64()), (Some(1), Some(0)));

    let report = sipscope(&db, &["report"], &[]);
    assert!(report.status.success(), "{}", String::from_utf8_lossy(&report.stderr));
    let text = String::from_utf8_lossy(&report.stdout);
    let value_of = |measure: &str| -> Option<u64> {
        text.lines().find(|l| l.starts_with(measure))?.split_whitespace().last()?.parse().ok()
    };
    assert_eq!(value_of("INVITE messages"), Some(5), "{text}");
    assert_eq!(value_of("unique source addresses"), Some(2), "{text}");
    assert!(text.contains("friendly-scanner") && text.contains("sipcli/v1.8"), "{text}");
}

/// SentryPeer's `honey` table, as its `database.c` creates it.
const HONEY: &str = "CREATE TABLE honey (honey_id INTEGER PRIMARY KEY, event_timestamp TEXT, event_uuid TEXT,
    collected_method TEXT, source_ip TEXT, called_number TEXT, transport_type TEXT, method TEXT,
    user_agent TEXT, sip_message TEXT, created_by_node_id TEXT,
    created_at DATETIME DEFAULT(STRFTIME('%Y-%m-%d %H:%M:%f', 'NOW')))";

#[test]
fn a_honey_table_is_imported_and_foreign_or_corrupt_databases_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (honey, db) = (dir.path().join("sentrypeer.db"), dir.path().join("s.db"));
    {
        let c = Connection::open(&honey).unwrap();
        c.execute(HONEY, []).unwrap();
        let insert = "INSERT INTO honey (event_timestamp, event_uuid, collected_method, source_ip, called_number,
            transport_type, method, user_agent, sip_message, created_by_node_id, created_at) VALUES (?1, 'u', 'responsive', ?2, ?3, ?4, 'INVITE', 'friendly-scanner', ?5, ?6, ?7)";
        let add = |ts: Option<&str>,
                   src: rusqlite::types::Value,
                   transport: &str,
                   msg: rusqlite::types::Value,
                   created: &str| {
            c.execute(insert, rusqlite::params![ts, src, "100", transport, msg, NODE, created]).unwrap();
        };
        use rusqlite::types::Value as V;
        let msg = |n: &str| V::Text(invite("198.51.100.20", n, "friendly-scanner"));
        add(
            Some("2024-03-02 08:00:00.000001000"),
            V::Text("198.51.100.20".into()),
            "UDP",
            msg("101"),
            "2024-03-02 08:00:00.001",
        );
        add(None, V::Text("198.51.100.20".into()), "TLS", msg("102"), "2024-03-02 08:00:01.500"); // created_at (UTC) stands in
        add(Some("2024-03-02 08:00:02"), V::Blob(b"198.51.100.20".to_vec()), "UDP", msg("103"), "x"); // wrong type (TEXT affinity turns numbers into text, not blobs)
        add(Some("2024-03-02 08:00:03"), V::Text("198.51.100.21".into()), "UDP", V::Null, "x"); // no message
        add(
            Some("2024-03-02 08:00:04"),
            V::Text("198.51.100.22".into()),
            "UDP",
            V::Blob(b"\xff\xfe not SIP".to_vec()),
            "x",
        );
    }
    let (s, out) = import(&db, &["--sensor", "old-honeypot"], &[&honey]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        (s["rows"].as_u64(), s["events_stored"].as_u64(), s["rows_refused"].as_u64()),
        (Some(5), Some(3), Some(1)),
        "{s:#}"
    );
    assert_eq!((s["sip_messages"].as_u64(), s["unparsed_messages"].as_u64()), (Some(2), Some(1)));
    assert!(s["problem_list"][0].as_str().unwrap().contains("honey_id 3: field source_ip is not a string"), "{s:#}");
    let store = Connection::open(&db).unwrap();
    let got: Vec<(i64, String, String, i64, String)> = store
        .prepare("SELECT ts_ns, sensor, transport, packet_no, kind FROM events ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let eight = 1_709_366_400i64 * 1_000_000_000; // 2024-03-02T08:00:00Z
    assert_eq!(got[0], (eight + 1000, "old-honeypot".into(), "udp".into(), 1, "request".into()));
    assert_eq!(got[1], (eight + 1_500_000_000, "old-honeypot".into(), "tls".into(), 2, "request".into()));
    assert_eq!((got[2].3, got[2].4.as_str()), (5, "invalid"));

    // A SQLite file that is not SentryPeer's (our own store), and one that is damaged.
    let (s, out) = import(&dir.path().join("other.db"), &[], &[&db]);
    assert_eq!(out.status.code(), Some(1));
    assert!(s["problem_list"][0].as_str().unwrap().contains("not a SentryPeer database"), "{s:#}");
    let corrupt = dir.path().join("corrupt.db");
    let mut bytes = std::fs::read(&honey).unwrap();
    bytes.truncate(100);
    bytes.extend(std::iter::repeat_n(0xa5u8, 8000));
    std::fs::write(&corrupt, bytes).unwrap();
    let (s, out) = import(&dir.path().join("other.db"), &[], &[&corrupt]);
    assert_eq!((out.status.code(), s["files_failed"].as_u64()), (Some(1), Some(1)), "{s:#}");
    assert!(s["problem_list"][0].as_str().unwrap().contains("corrupt.db: "), "{s:#}");
}
