//! Golden tests for `sipscope ingest`: small captures built here, byte for byte the same on
//! every run, each with its expected summary in `tests/golden/ingest/<name>.json` (the pcap is
//! written beside it for tshark and people to look at). Re-bless after an intended change:
//! `BLESS=1 cargo test -p sipscope --test it golden`.

use sipscope::sources::pcap::writer::{PcapNgWriter, PcapWriter};
use sipscope_packet::testutil as t;
use sipscope_packet::TcpFlags;
use std::path::{Path, PathBuf};
use std::process::Command;

const T0: i64 = 1_700_000_000_000_000_000;
const ETH_V4: u16 = 0x0800;
const ETH_V6: u16 = 0x86dd;

fn sip(method: &str, call_id: &str, body: &str) -> Vec<u8> {
    let ct = if body.is_empty() { String::new() } else { "Content-Type: application/sdp\r\n".into() };
    format!(
        "{method} sip:100@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK-{call_id}\r\n\
From: \"100\" <sip:100@192.0.2.2>;tag=f{call_id}\r\nTo: \"100\" <sip:100@192.0.2.2>\r\nCall-ID: {call_id}\r\n\
CSeq: 1 {method}\r\nMax-Forwards: 70\r\nUser-Agent: friendly-scanner\r\n{ct}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn response(code: u16, call_id: &str) -> Vec<u8> {
    format!(
        "SIP/2.0 {code} Whatever\r\nVia: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK-{call_id}\r\n\
From: \"100\" <sip:100@192.0.2.2>;tag=f{call_id}\r\nTo: \"100\" <sip:100@192.0.2.2>;tag=t\r\nCall-ID: {call_id}\r\n\
CSeq: 1 OPTIONS\r\nServer: Asterisk PBX 16.28.0\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

fn v4_udp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    t::ipv4(src, dst, 17, &t::udp(sport, dport, payload))
}

const ATTACKER: [u8; 4] = [198, 51, 100, 7];
const SENSOR: [u8; 4] = [192, 0, 2, 2];

fn pcap(frames: &[Vec<u8>], link: u32) -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), link, true).unwrap();
    for (i, f) in frames.iter().enumerate() {
        w.write(T0 + i as i64 * 1_000_000, f, None).unwrap();
    }
    w.into_inner()
}

/// Every scenario: name, capture bytes, nodes file.
fn scenarios() -> Vec<(&'static str, Vec<u8>, Option<&'static str>)> {
    let eth = |ip: Vec<u8>| t::ethernet(ETH_V4, &ip);
    let mut out = Vec::new();

    // Plain UDP: requests, responses, an empty nmap probe, garbage on 5060, DNS.
    out.push((
        "udp-basic",
        pcap(
            &[
                eth(v4_udp(ATTACKER, SENSOR, 5060, 5060, &sip("OPTIONS", "a1", ""))),
                eth(v4_udp(SENSOR, ATTACKER, 5060, 5060, &response(200, "a1"))),
                eth(v4_udp(ATTACKER, SENSOR, 5070, 5060, &sip("REGISTER", "a2", ""))),
                eth(v4_udp(SENSOR, ATTACKER, 5060, 5070, &response(401, "a2"))),
                eth(v4_udp(ATTACKER, SENSOR, 40000, 5060, b"")),
                eth(v4_udp(ATTACKER, SENSOR, 40000, 5060, b"\x00\x01\x02garbage")),
                eth(v4_udp(ATTACKER, SENSOR, 40000, 5080, &sip("INVITE", "a3", "v=0\r\n"))),
                eth(v4_udp(ATTACKER, [192, 0, 2, 53], 4000, 53, b"\x12\x34\x01\x00dns")),
            ],
            1,
        ),
        None,
    ));

    // VLAN and QinQ, and MPLS.
    let inner = v4_udp(ATTACKER, SENSOR, 5060, 5060, &sip("OPTIONS", "v1", ""));
    out.push((
        "vlan-qinq-mpls",
        pcap(
            &[
                t::ethernet_tagged(&[(0x8100, 10)], ETH_V4, &inner),
                t::ethernet_tagged(&[(0x88a8, 100), (0x8100, 20)], ETH_V4, &inner),
                t::ethernet(
                    0x8847,
                    &t::mpls(&[16, 17], &v4_udp(ATTACKER, SENSOR, 5060, 5060, &sip("OPTIONS", "m1", ""))),
                ),
            ],
            1,
        ),
        None,
    ));

    // Link layers in one pcapng with several interfaces and two sections.
    let mut ng = PcapNgWriter::new(Vec::new()).unwrap();
    let ip = |id: &str| v4_udp(ATTACKER, SENSOR, 5060, 5060, &sip("OPTIONS", id, ""));
    for link in [1u16, 113, 276, 101, 0] {
        ng.interface(link).unwrap();
    }
    ng.packet(0, T0, &t::ethernet(ETH_V4, &ip("l1"))).unwrap();
    ng.packet(1, T0 + 1, &t::sll(ETH_V4, &ip("l2"))).unwrap();
    ng.packet(2, T0 + 2, &t::sll2(ETH_V4, &ip("l3"))).unwrap();
    ng.packet(3, T0 + 3, &ip("l4")).unwrap();
    ng.packet(4, T0 + 4, &t::null(2, true, &ip("l5"))).unwrap();
    ng.new_section().unwrap();
    ng.interface(229).unwrap();
    ng.packet(0, T0 + 5, &t::ipv6(t::V6_SRC, t::V6_DST, 17, &t::udp(5060, 5060, &sip("OPTIONS", "l6", "")))).unwrap();
    out.push(("link-layers", ng.into_inner(), None));

    // IPv6 with extension headers, and IPv6 fragments.
    let udp6 = t::udp(5060, 5060, &sip("REGISTER", "six", ""));
    let mut frames =
        vec![t::ethernet(ETH_V6, &t::ipv6(t::V6_SRC, t::V6_DST, 0, &t::ipv6_options(43, &t::ipv6_routing(17, &udp6))))];
    let big = sip("INVITE", "six-frag", &"a=x\r\n".repeat(400));
    for f in t::ipv6_fragments(17, &t::udp(5060, 5060, &big), 1000, 77) {
        frames.push(t::ethernet(ETH_V6, &f));
    }
    out.push(("ipv6-ext-frag", pcap(&frames, 1), None));

    // IPv4 fragments: in order, reversed, overlapping duplicate, and one never completed.
    let big = sip("INVITE", "frag", &"a=x\r\n".repeat(600));
    let ip = t::Ipv4::new(ATTACKER, SENSOR, 17);
    let mut frames = Vec::new();
    let parts = ip.fragments(&t::udp(5060, 5060, &big), 1200);
    frames.extend(parts.iter().map(|f| eth(f.clone())));
    let reversed = t::Ipv4 { id: 2, ..ip.clone() }.fragments(&t::udp(5060, 5060, &big), 1200);
    frames.extend(reversed.iter().rev().map(|f| eth(f.clone())));
    let dup = t::Ipv4 { id: 3, ..ip.clone() }.fragments(&t::udp(5060, 5060, &big), 1200);
    frames.push(eth(dup[0].clone()));
    frames.push(eth(dup[0].clone()));
    frames.extend(dup[1..].iter().map(|f| eth(f.clone())));
    let lost = t::Ipv4 { id: 4, ..ip.clone() }.fragments(&t::udp(5060, 5060, &big), 1200);
    frames.push(eth(lost[0].clone()));
    out.push(("ipv4-fragments", pcap(&frames, 1), None));

    // Tunnels from remote nodes: GRE (key, seq, Ethernet + VLAN inside), ERSPAN II and III,
    // VXLAN, IP-in-IP. The nodes file names the nodes by tunnel endpoint and by address.
    let inner_eth = |id: &str| {
        t::ethernet_tagged(&[(0x8100, 5)], ETH_V4, &v4_udp(ATTACKER, SENSOR, 5060, 5060, &sip("OPTIONS", id, "")))
    };
    let outer = |src: [u8; 4], proto: u8, payload: &[u8]| eth(t::ipv4(src, [203, 0, 113, 1], proto, payload));
    let frames = vec![
        outer([203, 0, 113, 10], 47, &t::gre(0x6558, Some(7), Some(1), false, &inner_eth("g1"))),
        outer(
            [203, 0, 113, 10],
            47,
            &t::gre(0x0800, None, None, true, &v4_udp(ATTACKER, SENSOR, 5060, 5060, &sip("OPTIONS", "g2", ""))),
        ),
        outer([203, 0, 113, 11], 47, &t::gre(0x88be, None, Some(2), false, &t::erspan2(9, 0, &inner_eth("e2")))),
        outer([203, 0, 113, 11], 47, &t::gre(0x22eb, None, Some(3), false, &t::erspan3(9, true, &inner_eth("e3")))),
        outer([203, 0, 113, 12], 17, &t::udp(40000, 4789, &t::vxlan(5000, &inner_eth("x1")))),
        outer([203, 0, 113, 12], 4, &v4_udp(ATTACKER, [192, 0, 2, 99], 5060, 5060, &sip("OPTIONS", "i1", ""))),
    ];
    out.push((
        "tunnels-nodes",
        pcap(&frames, 1),
        Some(
            "[[node]]\nname = \"essen\"\ntunnel = \"203.0.113.10\"\n\n[[node]]\nname = \"bochum\"\ntunnel = \"203.0.113.11\"\n\n\
[[node]]\nname = \"central-99\"\naddresses = [\"192.0.2.99\"]\n",
        ),
    ));

    // TCP: SIP split in odd places, out of order, a retransmission, two messages in one
    // segment, a keep-alive, TLS on 5061, and a message the capture cut short.
    let a = sip("REGISTER", "t1", "");
    let b = sip("INVITE", "t2", "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\n");
    let c = sip("OPTIONS", "t3", "");
    let mut stream = a.clone();
    stream.extend_from_slice(&b);
    stream.extend_from_slice(b"\r\n\r\n");
    stream.extend_from_slice(&c);
    let seg = |seq: u32, flags: TcpFlags, payload: &[u8]| {
        eth(t::ipv4(ATTACKER, SENSOR, 6, &t::tcp(40001, 5060, seq, 1, flags, payload)))
    };
    let cuts = [7, a.len() + 1, a.len() + 200, stream.len() - 3, stream.len()];
    let mut segs = vec![seg(99, TcpFlags::SYN, b"")];
    let mut from = 0;
    for cut in cuts {
        segs.push(seg(100 + from as u32, TcpFlags::ACK | TcpFlags::PSH, &stream[from..cut]));
        from = cut;
    }
    segs.swap(2, 3);
    segs.push(segs[2].clone());
    segs.push(seg(100 + stream.len() as u32, TcpFlags::FIN | TcpFlags::ACK, b""));
    let tls = [0x16u8, 3, 1, 0, 200, 1, 0, 0, 196, 3, 3].repeat(10);
    segs.push(eth(t::ipv4(ATTACKER, SENSOR, 6, &t::tcp(40002, 5061, 1, 1, TcpFlags::ACK, &tls))));
    let cut = sip("REGISTER", "t4", "");
    segs.push(eth(t::ipv4(ATTACKER, SENSOR, 6, &t::tcp(40003, 5060, 1, 1, TcpFlags::ACK, &cut[..cut.len() - 10]))));
    out.push(("tcp-streams", pcap(&segs, 1), None));

    // Damage: an impossible record length in the middle, a snap-length cut, and a file that
    // ends inside its last packet.
    let good = eth(v4_udp(ATTACKER, SENSOR, 5060, 5060, &sip("OPTIONS", "d1", "")));
    let mut w = PcapWriter::new(Vec::new(), 1, true).unwrap();
    w.write(T0, &good, None).unwrap();
    w.write(T0 + 1, &good[..60], Some(good.len() as u32)).unwrap();
    let mut bytes = w.into_inner();
    let bad_at = bytes.len();
    bytes.extend_from_slice(&pcap(std::slice::from_ref(&good), 1)[24..]);
    bytes[bad_at + 8..bad_at + 12].copy_from_slice(&0x00ff_ffffu32.to_le_bytes());
    bytes.extend_from_slice(&pcap(&[eth(v4_udp(ATTACKER, SENSOR, 5060, 5060, &sip("OPTIONS", "d2", "")))], 1)[24..]);
    let tail = pcap(&[good], 1);
    bytes.extend_from_slice(&tail[24..tail.len() - 20]);
    out.push(("damaged", bytes, None));

    // WebSocket, SCTP, PPTP and packets the capture cut (ingest_encap.rs).
    out.extend(crate::ingest_encap::scenarios().into_iter().map(|(name, bytes)| (name, bytes, None)));
    out
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/ingest")
}

fn ingest(pcap: &Path, db: &Path, nodes: Option<&Path>, extra: &[&str]) -> (i32, serde_json::Value, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sipscope"));
    cmd.args(["ingest", "--quiet", "--json", "--sensor", "golden", "--db"]).arg(db);
    if let Some(n) = nodes {
        cmd.arg("--nodes").arg(n);
    }
    cmd.args(extra).arg(pcap);
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let mut summary: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout} {}", String::from_utf8_lossy(&out.stderr)));
    summary.as_object_mut().unwrap().remove("elapsed_s");
    // Paths differ between machines: keep only the file name in damage reports.
    if let Some(list) = summary["problem_list"].as_array_mut() {
        for p in list {
            let text = p.as_str().unwrap().replace(&pcap.display().to_string(), "CAPTURE");
            *p = text.into();
        }
    }
    (out.status.code().unwrap_or(-1), summary, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn golden_ingest_summaries() {
    let bless = std::env::var_os("BLESS").is_some();
    let tmp = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (name, bytes, nodes) in scenarios() {
        let pcap = tmp.path().join(format!("{name}.pcap"));
        std::fs::write(&pcap, &bytes).unwrap();
        let nodes_path = nodes.map(|text| {
            let p = tmp.path().join(format!("{name}.nodes.toml"));
            std::fs::write(&p, text).unwrap();
            p
        });
        let db = tmp.path().join(format!("{name}.db"));
        let (code, summary, stderr) = ingest(&pcap, &db, nodes_path.as_deref(), &[]);
        let mut actual = serde_json::json!({ "exit_code": code, "summary": summary });
        // What the store holds, per event: enough to see node attribution and transports.
        let conn = rusqlite::Connection::open(&db).unwrap();
        let mut stmt = conn
            .prepare("SELECT transport, src_ip, dst_ip, node, tunnel_src, method, status, call_id, anomalies FROM events ORDER BY id")
            .unwrap();
        let rows: Vec<String> = stmt
            .query_map([], |r| {
                let cols: Vec<String> = (0..9)
                    .map(|i| r.get::<_, Option<rusqlite::types::Value>>(i).map(|v| format!("{v:?}")))
                    .collect::<Result<_, _>>()?;
                Ok(cols.join(" | "))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        actual["events"] = rows.into();
        let expected_path = golden_dir().join(format!("{name}.json"));
        let rendered = serde_json::to_string_pretty(&actual).unwrap() + "\n";
        if bless {
            std::fs::write(&expected_path, &rendered).unwrap();
            std::fs::write(golden_dir().join(format!("{name}.pcap")), &bytes).unwrap();
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != rendered {
            failures.push(format!(
                "{name}: summary differs (stderr: {stderr})\n--- expected\n{expected}\n--- actual\n{rendered}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\nre-bless with BLESS=1 cargo test -p sipscope --test it golden",
        failures.join("\n")
    );
}

#[test]
fn reingest_is_detected_and_force_replaces() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, bytes, _) = scenarios().into_iter().next().unwrap();
    let pcap = tmp.path().join("a.pcap");
    std::fs::write(&pcap, &bytes).unwrap();
    let db = tmp.path().join("s.db");
    let (code, first, _) = ingest(&pcap, &db, None, &[]);
    assert_eq!(code, 0);
    let stored = first["events_stored"].as_u64().unwrap();
    assert!(stored > 0);
    let (_, again, _) = ingest(&pcap, &db, None, &[]);
    assert_eq!(again["files_already_ingested"], 1);
    assert_eq!(again["events_stored"], 0);
    let (_, forced, _) = ingest(&pcap, &db, None, &["--force"]);
    assert_eq!(forced["events_replaced"].as_u64(), Some(stored));
    let conn = rusqlite::Connection::open(&db).unwrap();
    let n: i64 = conn.query_row("SELECT count(*) FROM events", [], |r| r.get(0)).unwrap();
    assert_eq!(n as u64, stored, "no duplicates after a forced re-run");
    // --events none keeps counts only; sample:2 keeps every other message.
    let (_, none, _) = ingest(&pcap, &tmp.path().join("none.db"), None, &["--events", "none"]);
    assert_eq!(none["events_stored"], 0);
    assert_eq!(none["sip_messages"], first["sip_messages"]);
    let (_, half, _) = ingest(&pcap, &tmp.path().join("half.db"), None, &["--events", "sample:2"]);
    assert_eq!(half["events_stored"].as_u64(), Some(stored.div_ceil(2)));
}

#[test]
fn compressed_and_unreadable_inputs() {
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();
    let (_, bytes, _) = scenarios().into_iter().next().unwrap();
    let gz = tmp.path().join("a.pcap.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&bytes).unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    let (code, summary, _) = ingest(&gz, &tmp.path().join("gz.db"), None, &[]);
    assert_eq!(code, 0);
    assert_eq!(summary["sip_messages"], 5);
    let text = tmp.path().join("notes.txt");
    std::fs::write(&text, "not a capture").unwrap();
    let (code, summary, _) = ingest(&text, &tmp.path().join("t.db"), None, &[]);
    assert_eq!(code, 1, "a skipped input sets the exit code");
    assert_eq!(summary["files_unreadable"], 1);
    assert!(summary["problem_list"][0].as_str().unwrap().contains("not a pcap or pcapng file"));
}
