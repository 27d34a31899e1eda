//! The lab seen by a passive sensor (issue 13, items 2 and 3): real tools in namespace A attack
//! five node addresses of the honeypot in namespace B (a wildcard bind answering from the
//! address hit), tcpdump records the wire in B, and the capture is ingested as any capture is,
//! with no direction known. svmap scans every node, svwar enumerates extensions on n2, svcrack
//! finds 101's password on n3, sipsak pings n4 and nmap's sip-methods and sip-enum-users probe
//! n5, SIPp places three calls at n1 (one Israeli number in two spellings, one UK number), each
//! from its own source address (a route per target picks it).
//!
//! Then: `ingest --nodes` gives each node its stage outcomes (the answers, sent by the nodes,
//! belong to them: hijack succeeded on n3 only, users found on n2 and n5 only); `ingest`
//! without nodes followed by `report --nodes` gives the same per-node tables without writing to
//! the store, and `analyze --nodes` the same stage rows. Needs root and `ip netns` (skipped
//! without); namespaces are named `sb<pid>-…`.

use super::harness::{rows_of, text, Honeypot, NMAP_SIP_SCRIPTS};
use crate::netns::{ip, Namespaces, A_ADDR, B_ADDR};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// Node `nI` is 198.51.100.I.
const NODES: usize = 5;
const SVMAP: &str = "192.0.2.10";
const SVWAR: &str = "192.0.2.11";
const SVCRACK: &str = "192.0.2.12";
const SIPSAK: &str = "192.0.2.13";
const NMAP: &str = "192.0.2.14";
const SIPP: &str = "192.0.2.15";
/// What SIPp dials at n1 (extension 100, password 100): one Israeli mobile number in two
/// spellings (011 after a North American dial-around code, and 9 then 011), and a UK mobile
/// number of Ofcom's drama range, possible but not valid, whose country is inferred from +44.
const DIALLED: [&str; 3] = ["1010222011972526123586", "9011972526123586", "00447700900123"];

/// tcpdump on B's end of the pair, taking every packet from the kernel at once (immediate mode:
/// otherwise the last packets wait in a buffer block that SIGINT discards) and writing it at once
/// (`-U`); stopped with SIGINT.
struct Tcpdump(Child);

impl Tcpdump {
    fn start(ns: &Namespaces, file: &Path) -> Tcpdump {
        let mut child = ns
            .exec(&ns.b, "tcpdump")
            .args(["-i", "veth1", "--immediate-mode", "-U", "-n", "-Z", "root", "-w"])
            .arg(file)
            .args(["udp", "port", "5060"])
            .stderr(Stdio::piped())
            .spawn()
            .expect("tcpdump");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let listening = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
        assert!(listening.contains("listening on"), "tcpdump: {listening}");
        Tcpdump(child)
    }

    fn stop(mut self) {
        let _ = Command::new("kill").args(["-INT", &self.0.id().to_string()]).status();
        let _ = self.0.wait();
    }
}

impl Drop for Tcpdump {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `sipscope` with `args`, `TMPDIR` set to `tmp`; it must succeed.
fn sipscope(args: &[&str], tmp: &Path) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_sipscope")).args(args).env("TMPDIR", tmp).output().unwrap();
    assert!(out.status.success(), "sipscope {args:?}: {}", text(&out));
    out
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Rows of a query on the store at `db`, as strings.
fn rows(db: &Path, sql: &str) -> Vec<Vec<String>> {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    rows_of(&conn, sql)
}

/// The stage rows of a store: source, node, stage, detail.
fn stages(db: &Path) -> Vec<Vec<String>> {
    rows(db, "SELECT src_ip, node, stage, detail FROM stages ORDER BY src_ip, node, stage")
}

/// The per-node sections of `report --format json` (tables only: notes say how they were made).
fn per_node_tables(db: &Path, nodes: &Path, extra: &[&str], tmp: &Path) -> (Value, Vec<Value>) {
    let mut args = vec!["report", "--format", "json", "--db", path(db), "--nodes", path(nodes)];
    args.extend(extra);
    args.extend(["stages", "spread", "overlap"]);
    let doc: Value = serde_json::from_slice(&sipscope(&args, tmp).stdout).unwrap();
    let tables = ["stages", "spread", "overlap"].map(|s| doc["sections"][s]["tables"].clone()).to_vec();
    (doc, tables)
}

/// Per node of the `stages` table: (extension scan, hijack succeeded).
fn outcomes(stages_tables: &Value) -> Vec<(String, i64, i64)> {
    let table = &stages_tables[0];
    let col = |name: &str| table["columns"].as_array().unwrap().iter().position(|c| c == name).unwrap();
    let (scan, hijack) = (col("extension scan"), col("hijack succeeded"));
    table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r[0].as_str().unwrap().to_owned(), r[scan].as_i64().unwrap(), r[hijack].as_i64().unwrap()))
        .collect()
}

/// Runs a tool inside the attackers' namespace with a time limit.
fn attack(ns: &Namespaces, limit_s: u32, program: &str, args: &[&str]) -> String {
    let out = ns.exec(&ns.a, "timeout").arg(limit_s.to_string()).arg(program).args(args).output().unwrap();
    text(&out)
}

/// Attacks the nodes with the real tools and captures it; returns the capture.
fn capture_the_lab(ns: &Namespaces, dir: &Path) -> PathBuf {
    for source in [SVMAP, SVWAR, SVCRACK, SIPSAK, NMAP, SIPP] {
        ip(&["-n", &ns.a, "addr", "add", &format!("{source}/32"), "dev", "veth0"]);
    }
    for i in 1..=NODES {
        ip(&["-n", &ns.b, "addr", "add", &format!("198.51.100.{i}/32"), "dev", "veth1"]);
    }
    ip(&["-n", &ns.b, "route", "add", "192.0.2.0/24", "via", A_ADDR]);
    // svwar and svcrack bind the wildcard: a route per target picks each tool's source.
    ip(&["-n", &ns.a, "route", "add", "198.51.100.0/24", "via", B_ADDR, "src", SVMAP]);
    for (target, source) in [("198.51.100.2", SVWAR), ("198.51.100.3", SVCRACK), ("198.51.100.4", SIPSAK)] {
        ip(&["-n", &ns.a, "route", "add", &format!("{target}/32"), "via", B_ADDR, "src", source]);
    }
    ip(&["-n", &ns.a, "route", "add", "198.51.100.5/32", "via", B_ADDR, "src", NMAP]);

    let mut hp = Honeypot::start_in(Some(&ns.b), &[("udp", "0.0.0.0", 5060)], "");
    let pcap = dir.join("lab.pcap");
    let tcpdump = Tcpdump::start(ns, &pcap);
    let svmap = attack(ns, 60, "sipvicious_svmap", &["-b", SVMAP, "198.51.100.1-198.51.100.5"]);
    assert!(svmap.contains("198.51.100.5:5060"), "{svmap}");
    let svwar = attack(ns, 60, "sipvicious_svwar", &["-e100-110", "198.51.100.2"]);
    assert!(svwar.contains("reqauth"), "{svwar}");
    let svcrack = attack(ns, 60, "sipvicious_svcrack", &["-u101", "-r1230-1240", "198.51.100.3"]);
    assert!(svcrack.contains("1234"), "{svcrack}");
    let sipsak = ns.exec(&ns.a, "sipsak").args(["-k", SIPSAK, "-H", SIPSAK, "-s", "sip:100@198.51.100.4"]).output();
    assert!(sipsak.as_ref().is_ok_and(|o| o.status.success()), "{sipsak:?}");
    let nmap_args = [&NMAP_SIP_SCRIPTS[..], &["198.51.100.5"]].concat();
    let nmap = attack(ns, 120, "nmap", &nmap_args);
    assert!(nmap.contains("sip-methods") && nmap.contains("101"), "{nmap}");
    let scenario = format!("{}/../../scripts/sipp/register-then-call.xml", env!("CARGO_MANIFEST_DIR"));
    for number in DIALLED {
        let args = [
            "-sf",
            &scenario,
            "-key",
            "caller",
            "100",
            "-au",
            "100",
            "-ap",
            "100",
            "-s",
            number,
            "-m",
            "1",
            "-i",
            SIPP,
            "-p",
            "5071",
            "-nostdin",
            "-timeout",
            "20s",
            "198.51.100.1:5060",
        ];
        let sipp = ns.exec(&ns.a, "timeout").arg("30").arg("sipp").args(args).output().unwrap();
        assert!(sipp.status.success(), "sipp {number}: {}", text(&sipp));
    }
    tcpdump.stop();
    hp.stop();
    pcap
}

#[test]
fn per_node_outcomes_of_a_capture_with_nodes_at_ingest_report_or_analyze() {
    let pid = std::process::id();
    let Some(ns) = Namespaces::create_named(format!("sb{pid}-atk"), format!("sb{pid}-pbx")) else { return };
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let pcap = capture_the_lab(&ns, dir.path());
    let nodes = dir.path().join("nodes.toml");
    let nodes_toml: String =
        (1..=NODES).map(|i| format!("[[node]]\nname = \"n{i}\"\naddresses = [\"198.51.100.{i}\"]\n")).collect();
    std::fs::write(&nodes, nodes_toml).unwrap();

    // Nodes at ingest: the answers belong to the nodes that sent them.
    let with = dir.path().join("with.db");
    sipscope(&["ingest", "--quiet", "--nodes", path(&nodes), "--db", path(&with), path(&pcap)], &tmp);
    let answers = rows(&with, "SELECT count(*), count(node) FROM events WHERE kind = 'response'");
    assert_eq!(answers[0][0], answers[0][1], "every answer has its node");
    let at = |db: &Path, src: &str, stage: &str| -> Vec<(String, String)> {
        stages(db).into_iter().filter(|r| r[0] == src && r[2] == stage).map(|r| (r[1].clone(), r[3].clone())).collect()
    };
    let succeeded = |db: &Path| -> Vec<String> {
        stages(db)
            .into_iter()
            .filter(|r| r[2] == "registration_hijacking" && r[3].contains("\"succeeded\":1"))
            .map(|r| format!("{} {}", r[0], r[1]))
            .collect()
    };
    let expected_hijacks = [format!("{SVCRACK} "), format!("{SVCRACK} n3"), format!("{SIPP} "), format!("{SIPP} n1")];
    assert_eq!(succeeded(&with), expected_hijacks, "svcrack's hijack succeeded at n3, SIPp's registration at n1");
    for (source, node) in [(SVWAR, "n2"), (NMAP, "n5")] {
        let scans = at(&with, source, "extension_scan");
        assert_eq!(scans.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["", node], "{source}: {scans:?}");
        let found: Value = serde_json::from_str(&scans[1].1).unwrap();
        assert!(found["users_found"].as_i64().unwrap() > 0, "{source} found users at {node}: {scans:?}");
    }
    // The numbers SIPp dialled: calls (not INVITEs: each call was challenged once), the
    // spellings unified, the countries (one inferred from a shared calling code).
    let numbers = rows(
        &with,
        "SELECT number, country, country_inferred, attempts, invites, variants FROM numbers ORDER BY number",
    );
    assert_eq!(
        numbers,
        [["+447700900123", "GB", "1", "1", "2", "1"], ["+972526123586", "IL", "0", "2", "4", "2"]],
        "(number, country, inferred, calls, INVITEs, spellings)"
    );
    let dialled = rows(&with, "SELECT count(DISTINCT number) FROM dialled WHERE number IS NOT NULL");
    assert_eq!(dialled, [["2"]], "two numbers dialled, whatever the spellings");
    let toll_fraud = rows(&with, "SELECT DISTINCT src_ip FROM stages WHERE stage = 'toll_fraud' ORDER BY 1");
    assert_eq!(toll_fraud, [[SIPP]], "only SIPp's calls are toll fraud (svwar's and nmap's probes are not)");
    let (_, ingest_tables) = per_node_tables(&with, &nodes, &["--stored-nodes"], &tmp);
    let expected: Vec<(String, i64, i64)> =
        (1..=NODES).map(|i| (format!("n{i}"), i64::from(i == 2 || i == 5), i64::from(i == 1 || i == 3))).collect();
    assert_eq!(outcomes(&ingest_tables[0]), expected, "(node, extension scan, hijack succeeded)");

    // No nodes at ingest: no per-node rows, until the nodes file is given to `report`.
    let without = dir.path().join("without.db");
    sipscope(&["ingest", "--quiet", "--db", path(&without), path(&pcap)], &tmp);
    let stored_analysis = |db: &Path| (rows(db, "SELECT id, kind, finished_ns FROM analysis_runs"), stages(db));
    let before = stored_analysis(&without);
    assert!(before.1.iter().all(|r| r[1].is_empty()), "no node without a nodes file");
    let (doc, report_tables) = per_node_tables(&without, &nodes, &[], &tmp);
    assert_eq!(report_tables, ingest_tables, "report --nodes: as if the file had been given at ingest");
    let note = doc["sections"]["stages"]["notes"][0].as_str().unwrap();
    assert!(note.contains("applied at report time"), "{note}");
    assert_eq!(stored_analysis(&without), before, "report wrote nothing to the store");
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0, "its scratch store is gone");

    // `analyze --nodes` keeps that analysis: the same stage rows as with nodes at ingest.
    sipscope(&["analyze", "--db", path(&without), "--nodes", path(&nodes)], &tmp);
    assert_eq!(stages(&without), stages(&with));
    let (_, analyzed_tables) = per_node_tables(&without, &nodes, &["--stored-nodes"], &tmp);
    assert_eq!(analyzed_tables, ingest_tables);

    // A store without its events cannot take nodes after the fact, and says so; a sampled one
    // says what its report-time analysis is missing.
    let counts_only = dir.path().join("counts.db");
    sipscope(&["ingest", "--quiet", "--events", "none", "--db", path(&counts_only), path(&pcap)], &tmp);
    let refused = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["report", "--db", path(&counts_only), "--nodes", path(&nodes), "stages"])
        .output()
        .unwrap();
    assert!(!refused.status.success() && text(&refused).contains("keeps no events"), "{}", text(&refused));
    let sampled = dir.path().join("sampled.db");
    sipscope(&["ingest", "--quiet", "--events", "sample:2", "--db", path(&sampled), path(&pcap)], &tmp);
    let (doc, _) = per_node_tables(&sampled, &nodes, &[], &tmp);
    let note = doc["sections"]["stages"]["notes"][0].as_str().unwrap();
    assert!(note.contains("missing here"), "{note}");
}
