//! Captures of the later ways in (issue 15): SIP over WebSocket, SIP in SCTP DATA chunks, GRE
//! carrying PPP (PPTP), and packets whose IP length exceeds what was captured. They are golden
//! scenarios (`ingest_golden.rs` keeps their summaries and events), and `sipscope ingest` must
//! count as many SIP messages in them as tshark does.

use sipscope::sources::pcap::writer::PcapWriter;
use sipscope_packet::testutil as t;
use sipscope_packet::TcpFlags;
use std::process::Command;

const T0: i64 = 1_700_000_000_000_000_000;
const ETH_V4: u16 = 0x0800;
const ATTACKER: [u8; 4] = [198, 51, 100, 7];
const SENSOR: [u8; 4] = [192, 0, 2, 2];

fn sip(method: &str, call_id: &str, via: &str, body: &str) -> Vec<u8> {
    format!(
        "{method} sip:100@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/{via} df7jal23ls0d.invalid;branch=z9hG4bK-{call_id}\r\n\
From: <sip:100@192.0.2.2>;tag=f{call_id}\r\nTo: <sip:100@192.0.2.2>\r\nCall-ID: {call_id}\r\nCSeq: 1 {method}\r\n\
Max-Forwards: 70\r\nUser-Agent: JsSIP 3.10.0\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn response(code: u16, call_id: &str, via: &str) -> Vec<u8> {
    format!(
        "SIP/2.0 {code} Whatever\r\nVia: SIP/2.0/{via} df7jal23ls0d.invalid;branch=z9hG4bK-{call_id}\r\n\
From: <sip:100@192.0.2.2>;tag=f{call_id}\r\nTo: <sip:100@192.0.2.2>;tag=t\r\nCall-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\n\
Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

fn pcap(frames: &[(Vec<u8>, Option<u32>)]) -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), 1, true).unwrap();
    for (i, (f, orig)) in frames.iter().enumerate() {
        w.write(T0 + i as i64 * 1_000_000, f, *orig).unwrap();
    }
    w.into_inner()
}

fn whole(frames: Vec<Vec<u8>>) -> Vec<(Vec<u8>, Option<u32>)> {
    frames.into_iter().map(|f| (f, None)).collect()
}

/// One TCP connection: the client's bytes and the server's, each cut at `cuts` into segments,
/// with the handshake and FINs, client and server segments alternating.
fn tcp_connection(client_port: u16, port: u16, client: &[u8], server: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let seg = |to_server: bool, seq: u32, ack: u32, flags: TcpFlags, payload: &[u8]| {
        let (src, dst, sp, dp) =
            if to_server { (ATTACKER, SENSOR, client_port, port) } else { (SENSOR, ATTACKER, port, client_port) };
        t::ethernet(ETH_V4, &t::ipv4(src, dst, 6, &t::tcp(sp, dp, seq, ack, flags, payload)))
    };
    let pieces = |bytes: &[u8]| {
        let mut out = Vec::new();
        let mut from = 0;
        for &cut in cuts.iter().filter(|&&c| c < bytes.len()).chain(std::iter::once(&bytes.len())) {
            if cut > from {
                out.push((from, bytes[from..cut].to_vec()));
            }
            from = cut;
        }
        out
    };
    let (c0, s0) = (1000u32, 9000u32);
    let mut frames = vec![
        seg(true, c0 - 1, 0, TcpFlags::SYN, b""),
        seg(false, s0 - 1, c0, TcpFlags::SYN | TcpFlags::ACK, b""),
        seg(true, c0, s0, TcpFlags::ACK, b""),
    ];
    let (cp, sp) = (pieces(client), pieces(server));
    // Each side acknowledges what the other has sent so far.
    let (mut client_sent, mut server_sent) = (0u32, 0u32);
    for i in 0..cp.len().max(sp.len()) {
        if let Some((off, p)) = cp.get(i) {
            frames.push(seg(true, c0 + *off as u32, s0 + server_sent, TcpFlags::ACK | TcpFlags::PSH, p));
            client_sent = (*off + p.len()) as u32;
        }
        if let Some((off, p)) = sp.get(i) {
            frames.push(seg(false, s0 + *off as u32, c0 + client_sent, TcpFlags::ACK | TcpFlags::PSH, p));
            server_sent = (*off + p.len()) as u32;
        }
    }
    let (cend, send) = (c0 + client.len() as u32, s0 + server.len() as u32);
    frames.push(seg(true, cend, send, TcpFlags::FIN | TcpFlags::ACK, b""));
    frames.push(seg(false, send, cend + 1, TcpFlags::FIN | TcpFlags::ACK, b""));
    frames.push(seg(true, cend + 1, send + 1, TcpFlags::ACK, b""));
    frames
}

const MASK: Option<[u8; 4]> = Some([0x5a, 0x01, 0xc3, 0x7e]);

/// SIP over WebSocket after an upgrade, on port 80 and on 443 captured in the clear: masked
/// and unmasked frames, a message in three frames with a ping between, frames cut across TCP
/// segments, a message that is not SIP.
fn websocket() -> Vec<u8> {
    let mut frames = Vec::new();
    for (client_port, port, via) in [(40010u16, 80u16, "WS"), (40011, 443, "WSS")] {
        let register = sip("REGISTER", &format!("ws-r{port}"), via, "");
        let invite = sip("INVITE", &format!("ws-i{port}"), via, &"a=sendrecv\r\n".repeat(40));
        let mut client = t::WS_UPGRADE_REQUEST.to_vec();
        client.extend(t::ws_frame(true, 1, MASK, &register));
        client.extend(t::ws_frame(false, 1, MASK, &invite[..100]));
        client.extend(t::ws_frame(true, 9, MASK, b"are you there"));
        client.extend(t::ws_frame(false, 0, MASK, &invite[100..300]));
        client.extend(t::ws_frame(true, 0, MASK, &invite[300..]));
        client.extend(t::ws_frame(true, 1, MASK, b"{\"type\":\"keepalive\"}"));
        let mut server = t::WS_UPGRADE_RESPONSE.to_vec();
        server.extend(t::ws_frame(true, 1, None, &response(401, &format!("ws-r{port}"), via)));
        server.extend(t::ws_frame(true, 1, None, &response(100, &format!("ws-i{port}"), via)));
        let head = t::WS_UPGRADE_REQUEST.len();
        let cuts = [head, head + 3, head + 150, head + 500, head + 700];
        frames.extend(tcp_connection(client_port, port, &client, &server, &cuts));
    }
    pcap(&whole(frames))
}

/// A WebSocket connection whose handshake the capture missed: recognised by its frames.
fn websocket_midstream() -> Vec<u8> {
    let mut client = t::ws_frame(true, 1, MASK, &sip("OPTIONS", "mid1", "WS", ""));
    client.extend(t::ws_frame(true, 2, MASK, &sip("OPTIONS", "mid2", "WS", "")));
    let server = t::ws_frame(true, 1, None, &response(200, "mid1", "WS"));
    let frames = tcp_connection(40012, 5066, &client, &server, &[10]);
    pcap(&whole(frames[3..].to_vec()))
}

/// SIP in SCTP: several DATA chunks in a packet with a SACK, a user message in four fragments
/// across packets out of TSN order, an answer, and Diameter on its own port.
fn sctp() -> Vec<u8> {
    let pkt = |src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, vtag: u32, chunks: &[Vec<u8>]| {
        t::ethernet(ETH_V4, &t::ipv4(src, dst, 132, &t::sctp(sport, dport, vtag, chunks)))
    };
    let invite = sip("INVITE", "sctp-i", "SCTP", &"a=rtpmap:0 PCMU/8000\r\n".repeat(120));
    let frags = t::data_fragments(103, 1, 1, 0, &invite, 1000);
    assert_eq!(frags.len(), 3);
    let (to, from) = (0x1111_1111, 0x2222_2222);
    let frames = vec![
        pkt(
            ATTACKER,
            SENSOR,
            5060,
            5060,
            to,
            &[
                t::data_chunk(3, 101, 0, 0, 0, &sip("OPTIONS", "sctp-o", "SCTP", "")),
                t::data_chunk(3, 102, 0, 1, 0, &sip("REGISTER", "sctp-r", "SCTP", "")),
            ],
        ),
        pkt(
            SENSOR,
            ATTACKER,
            5060,
            5060,
            from,
            &[t::sack_chunk(102), t::data_chunk(3, 501, 0, 0, 0, &response(200, "sctp-o", "SCTP"))],
        ),
        pkt(ATTACKER, SENSOR, 5060, 5060, to, &[frags[2].clone(), frags[0].clone()]),
        pkt(SENSOR, ATTACKER, 5060, 5060, from, &[t::sack_chunk(102)]),
        pkt(ATTACKER, SENSOR, 5060, 5060, to, &[frags[1].clone()]),
        pkt(
            SENSOR,
            ATTACKER,
            5060,
            5060,
            from,
            &[t::sack_chunk(105), t::data_chunk(3, 502, 0, 1, 0, &response(401, "sctp-r", "SCTP"))],
        ),
        pkt(
            ATTACKER,
            SENSOR,
            3868,
            3868,
            7,
            &[t::data_chunk(3, 1, 0, 0, 46, b"\x01\x00\x00\x14\x80\x00\x01\x01\x00\x00\x00\x00")],
        ),
    ];
    pcap(&whole(frames))
}

/// PPTP: PPP in enhanced GRE with IPv4 inside (with and without sequence numbers, compressed
/// address and protocol fields), an acknowledgement alone, LCP; and PPP in plain GRE.
fn gre_ppp() -> Vec<u8> {
    let inner = |id: &str| t::ipv4(ATTACKER, SENSOR, 17, &t::udp(5060, 5060, &sip("OPTIONS", id, "UDP", "")));
    let outer = |payload: Vec<u8>| t::ethernet(ETH_V4, &t::ipv4([203, 0, 113, 20], [203, 0, 113, 1], 47, &payload));
    let frames = vec![
        outer(t::pptp_gre(0x0102, Some(1), None, &t::ppp(0x0021, &inner("p1")))),
        outer(t::pptp_gre(0x0102, Some(2), Some(7), &[&[0x21][..], &inner("p2")].concat())),
        outer(t::pptp_gre(0x0102, None, Some(8), b"")),
        outer(t::pptp_gre(0x0102, Some(3), None, &t::ppp(0xc021, &[9, 1, 0, 8, 0, 0, 0, 1]))),
        outer(t::gre(0x880b, Some(5), None, false, &t::ppp(0x0021, &inner("p3")))),
    ];
    pcap(&whole(frames))
}

/// IPv4 packets longer than what was captured: a snap length of 200 bytes, and a total length
/// that lies; the SIP in them is read as far as it goes.
fn ip_truncated() -> Vec<u8> {
    let udp = |id: &str| {
        t::ethernet(ETH_V4, &t::ipv4(ATTACKER, SENSOR, 17, &t::udp(5060, 5060, &sip("REGISTER", id, "UDP", ""))))
    };
    let full = udp("cut1");
    let mut lying = udp("cut2");
    lying[14 + 2..14 + 4].copy_from_slice(&4000u16.to_be_bytes());
    pcap(&[(full[..200].to_vec(), Some(full.len() as u32)), (lying, None), (udp("whole"), None)])
}

/// The scenarios: name and capture bytes.
pub fn scenarios() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("websocket", websocket()),
        ("websocket-midstream", websocket_midstream()),
        ("sctp", sctp()),
        ("gre-ppp", gre_ppp()),
        ("ip-truncated", ip_truncated()),
    ]
}

/// SIP messages tshark finds: one `sip.CSeq` per SIP PDU, comma-joined when a frame carries
/// several (as scripts/check-real-tools.sh counts).
fn tshark_count(pcap: &std::path::Path, extra: &[&str]) -> u64 {
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(pcap)
        .args(extra)
        .args(["-Y", "sip", "-T", "fields", "-e", "sip.CSeq"])
        .output()
        .expect("tshark is installed (scripts/test.sh checks)");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().filter(|l| !l.is_empty()).map(|l| l.split(',').count() as u64).sum()
}

fn ingest_count(pcap: &std::path::Path, db: &std::path::Path) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["ingest", "--quiet", "--json", "--db"])
        .arg(db)
        .arg(pcap)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn websocket_sctp_and_pptp_counts_equal_tsharks() {
    let tmp = tempfile::tempdir().unwrap();
    // tshark reads HTTP on port 80 by itself; 443 would be TLS to it.
    let cases: [(&str, &[&str], u64); 3] =
        [("websocket", &["-d", "tcp.port==443,http"], 8), ("sctp", &[], 5), ("gre-ppp", &[], 3)];
    for (name, extra, expected) in cases {
        let bytes = scenarios().into_iter().find(|s| s.0 == name).unwrap().1;
        let pcap = tmp.path().join(format!("{name}.pcap"));
        std::fs::write(&pcap, bytes).unwrap();
        let summary = ingest_count(&pcap, &tmp.path().join(format!("{name}.db")));
        let ours = summary["sip_messages"].as_u64().unwrap();
        let theirs = tshark_count(&pcap, extra);
        assert_eq!(ours, expected, "{name}: {summary}");
        assert_eq!(ours, theirs, "{name}: sipscope {ours}, tshark {theirs}");
    }
}
