//! `sipscope export --format parquet`: a capture built here (a scan, a password guess with
//! credentials, a call to an international number, an answer, a message that is not UTF-8) is
//! ingested, exported, and read back with pyarrow (the reader pandas, DuckDB and Spark users
//! have): row counts equal the store's, fields equal what was sent, raw bytes are byte for
//! byte, the timestamp column is a UTC nanosecond timestamp, and every report table has its
//! file with the report's row count.

use sipscope::sources::pcap::writer::PcapWriter;
use sipscope_packet::testutil as t;
use std::path::Path;
use std::process::Command;

const T0: i64 = 1_767_225_600_000_000_000; // 2026-01-01T00:00:00Z

fn udp(src: [u8; 4], dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
    t::ethernet(0x0800, &t::ipv4(src, dst, 17, &t::udp(5060, 5060, payload)))
}

fn request(method: &str, ruri_user: &str, call_id: &str, extra: &str) -> Vec<u8> {
    format!(
        "{method} sip:{ruri_user}@192.0.2.9 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK-{call_id}\r\n\
From: \"100\" <sip:100@192.0.2.9>;tag=f{call_id}\r\nTo: <sip:{ruri_user}@192.0.2.9>\r\nCall-ID: {call_id}\r\n\
CSeq: 1 {method}\r\nMax-Forwards: 70\r\nUser-Agent: friendly-scanner\r\n{extra}Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// The capture, and the raw bytes of the message that is not UTF-8.
fn capture() -> (Vec<u8>, Vec<u8>) {
    let attacker = [198, 51, 100, 7];
    let mut frames = Vec::new();
    for i in 1..=5u8 {
        frames.push(udp(attacker, [192, 0, 2, i], &request("OPTIONS", "100", &format!("scan{i}"), "")));
    }
    let auth = "Authorization: Digest username=\"1001\", realm=\"asterisk\", nonce=\"abc\", \
uri=\"sip:1001@192.0.2.9\", response=\"0123456789abcdef0123456789abcdef\", algorithm=MD5\r\n";
    frames.push(udp(attacker, [192, 0, 2, 9], &request("REGISTER", "1001", "reg1", auth)));
    frames.push(udp(attacker, [192, 0, 2, 9], &request("INVITE", "0046701234567", "call1", "")));
    frames.push(udp(
        [192, 0, 2, 9],
        attacker,
        b"SIP/2.0 404 Not Found\r\nVia: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK-call1\r\n\
From: <sip:100@192.0.2.9>;tag=fcall1\r\nTo: <sip:0046701234567@192.0.2.9>;tag=x\r\nCall-ID: call1\r\n\
CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
    ));
    let mut odd = request("OPTIONS", "100", "odd", "");
    let at = odd.iter().position(|&b| b == b'f').unwrap_or(0);
    odd.splice(at..at, [0xff, 0xfe, b'<', b's', b'>']);
    frames.push(udp(attacker, [192, 0, 2, 9], &odd));
    let mut w = PcapWriter::new(Vec::new(), 1, true).unwrap();
    for (i, f) in frames.iter().enumerate() {
        w.write(T0 + i as i64 * 1_000_000_000, f, None).unwrap();
    }
    (w.into_inner(), odd)
}

fn sipscope(args: &[&str], paths: &[&Path]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sipscope"));
    cmd.args(args).args(paths);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

const CHECK: &str = r#"
import json, sys, pyarrow.parquet as pq, pyarrow as pa
out, odd_hex, report_path = sys.argv[1], sys.argv[2], sys.argv[3]
t = pq.read_table(out + "/events.parquet")
assert t.schema.field("ts").type == pa.timestamp("ns", tz="UTC"), t.schema.field("ts").type
assert t.schema.metadata[b"sipscope.schema"] == b"sipscope.events.v1"
rows = t.to_pylist()
methods = {}
for r in rows:
    methods[r["method"]] = methods.get(r["method"], 0) + 1
print(json.dumps({"rows": t.num_rows, "methods": {str(k): v for k, v in methods.items()}}))
reg = [r for r in rows if r["method"] == "REGISTER"][0]
assert reg["auth_username"] == "1001" and reg["auth_realm"] == "asterisk" and reg["auth_algorithm"] == "MD5", reg
inv = [r for r in rows if r["method"] == "INVITE"][0]
assert inv["ruri_user"] == "0046701234567" and inv["call_id"] == "call1" and inv["src_ip"] == "198.51.100.7", inv
ans = [r for r in rows if r["status"] == 404][0]
assert ans["kind"] == "response" and ans["reason"] == "Not Found" and ans["src_port"] == 5060, ans
assert any(r["raw"] == bytes.fromhex(odd_hex) for r in rows), "the non-UTF-8 message is not byte for byte"
assert rows[0]["ts"].year == 2026 and rows == sorted(rows, key=lambda r: r["ts"])
report = json.load(open(report_path))
tables = 0
for section in report["sections"].values():
    for table in section["tables"]:
        f = pq.read_table("%s/%s.%s.parquet" % (out, section["name"], table["name"]))
        assert f.num_rows == len(table["rows"]), (section["name"], table["name"], f.num_rows, len(table["rows"]))
        assert f.num_columns == len(table["columns"])
        tables += 1
assert tables > 5, tables
"#;

#[test]
fn export_writes_parquet_that_pyarrow_reads_back() {
    if Command::new("python3").args(["-c", "import pyarrow"]).status().map(|s| !s.success()).unwrap_or(true) {
        panic!("pyarrow is missing: scripts/test.sh installs it (pip install pyarrow)");
    }
    let dir = tempfile::tempdir().unwrap();
    let (pcap, odd) = capture();
    let pcap_path = dir.path().join("mix.pcap");
    std::fs::write(&pcap_path, pcap).unwrap();
    let db = dir.path().join("s.db");
    sipscope(&["ingest", "--quiet", "--sensor", "t", "--db"], &[&db, &pcap_path]);
    let report = sipscope(&["report", "--format", "json", "--db"], &[&db]);
    let report_path = dir.path().join("report.json");
    std::fs::write(&report_path, &report.stdout).unwrap();
    let out = dir.path().join("archive");
    sipscope(&["export", "--format", "parquet", "--db"], &[&db, Path::new("--out"), &out]);
    let check = Command::new("python3")
        .args(["-c", CHECK])
        .arg(&out)
        .arg(hex::encode(&odd))
        .arg(&report_path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&check.stderr));
    let seen: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(seen["rows"], 9, "{seen}");
    assert_eq!(seen["methods"]["OPTIONS"], 6, "{seen}");

    // A filter applies to the events, and an existing archive is never overwritten.
    let narrow = dir.path().join("narrow");
    sipscope(
        &["export", "--events-only", "--from", "2026-01-01T00:00:05Z", "--db"],
        &[&db, Path::new("--out"), &narrow],
    );
    let count = Command::new("python3")
        .args(["-c", "import sys, pyarrow.parquet as pq; print(pq.read_table(sys.argv[1]).num_rows)"])
        .arg(narrow.join("events.parquet"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&count.stdout).trim(), "4");
    let again = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["export", "--events-only", "--db"])
        .arg(&db)
        .arg("--out")
        .arg(&narrow)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("events.parquet"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}
