//! SIP over WebSocket (RFC 7118) on the honeypot's `ws` and `wss` listeners, on
//! 127.0.248.0/24: a real client (Python's `websockets`) registers and calls over ws and wss,
//! and hostile clients (raw sockets) send what RFC 6455 forbids. Everything must be answered
//! as a server would and stored with the transport `ws`.

use super::harness::Honeypot;
use sipscope_packet::testutil::ws_frame;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

/// The client: REGISTER, INVITE, a ping, a close; prints the start line of every answer.
const CLIENT: &str = r#"
import ssl, sys
from websockets.sync.client import connect
url, host = sys.argv[1], sys.argv[2]
ctx = None
if url.startswith("wss"):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
def req(method, cseq):
    return (f"{method} sip:{'100@' if method == 'INVITE' else ''}{host} SIP/2.0\r\n"
            f"Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bK{method}{cseq}\r\n"
            f"From: <sip:100@{host}>;tag=ws{cseq}\r\nTo: <sip:100@{host}>\r\nCall-ID: wscall{cseq}\r\n"
            f"CSeq: {cseq} {method}\r\nContact: <sip:100@df7jal23ls0d.invalid;transport=ws>\r\nMax-Forwards: 70\r\n"
            f"User-Agent: ws-test\r\nContent-Length: 0\r\n\r\n")
with connect(url, subprotocols=["sip"], ssl=ctx, open_timeout=5) as ws:
    print("subprotocol", ws.subprotocol)
    for cseq, method in ((1, "REGISTER"), (2, "INVITE")):
        ws.send(req(method, cseq))
        while True:
            answer = ws.recv(timeout=5)
            line = answer.split("\r\n")[0]
            print(line)
            if not line.startswith("SIP/2.0 1"):
                break
    ws.ping(b"hi").wait(timeout=5)
    print("pong")
"#;

fn client(url: &str, host: &str) -> String {
    let out = Command::new("python3").args(["-c", CLIENT, url, host]).output().expect("python3");
    assert!(out.status.success(), "client failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_real_client_registers_and_calls_over_ws_and_wss() {
    let ip = "127.0.248.2";
    let mut hp = Honeypot::start(&[("ws", ip, 8088), ("wss", ip, 8089)], "");
    for url in [format!("ws://{ip}:8088/ws"), format!("wss://{ip}:8089/ws")] {
        let out = client(&url, ip);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.first(), Some(&"subprotocol sip"), "{out}");
        assert!(lines.iter().any(|l| l.starts_with("SIP/2.0 401")), "REGISTER challenged: {out}");
        assert_eq!(lines.last(), Some(&"pong"), "{out}");
        assert!(lines.len() >= 4, "an answer to the INVITE: {out}");
    }
    let (summary, log) = hp.stop();
    assert!(summary["received"].as_u64().unwrap() >= 10, "{summary} {log}");
    let rows = hp.rows(
        "SELECT e.transport, e.method, e.anomalies FROM events e \
         WHERE e.direction = 'in' ORDER BY e.id",
    );
    let by = |method: &str, tls: bool| {
        rows.iter().filter(|r| r[1] == method && r[0] == "ws" && r[2].contains("ws_over_tls") == tls).count()
    };
    for tls in [false, true] {
        assert_eq!(by("REGISTER", tls), 1, "{rows:?}");
        assert_eq!(by("INVITE", tls), 1, "{rows:?}");
    }
    let upgrades = rows.iter().filter(|r| r[2].contains("ws_upgrade")).count();
    let pings = rows.iter().filter(|r| r[2].contains("ws_control_frame")).count();
    assert_eq!(upgrades, 2, "{rows:?}");
    assert!(pings >= 4, "a ping and a close per connection: {rows:?}");
    assert!(rows.iter().all(|r| r[0] == "ws"), "{rows:?}");
}

const MASK: Option<[u8; 4]> = Some([1, 2, 3, 4]);

fn upgrade_request(path: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n\r\n"
    )
}

/// Connects, sends `bytes`, returns all the server sent until it closed.
fn exchange(to: &str, parts: &[Vec<u8>]) -> Vec<u8> {
    let mut s = TcpStream::connect(to).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for p in parts {
        s.write_all(p).unwrap();
    }
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    got
}

fn options(call_id: &str) -> Vec<u8> {
    format!(
        "OPTIONS sip:127.0.249.2 SIP/2.0\r\nVia: SIP/2.0/WS a.invalid;branch=z9hG4bK{call_id}\r\n\
         From: <sip:p@a.invalid>;tag=1\r\nTo: <sip:127.0.249.2>\r\nCall-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\n\r\n"
    )
    .into_bytes()
}

#[test]
fn hostile_websocket_clients_are_answered_like_a_server_and_stored() {
    let to = "127.0.249.2:8088";
    let mut hp = Honeypot::start(&[("ws", "127.0.249.2", 8088)], "[limits]\nmax_message_bytes = 4096\n");
    let head = upgrade_request("/ws").into_bytes();
    let text = |got: &[u8]| String::from_utf8_lossy(got).into_owned();
    // Not an upgrade, another path, an old version, no key: the HTTP error, then close.
    let got = text(&exchange(to, &[b"GET /ws HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()]));
    assert!(got.starts_with("HTTP/1.1 426 "), "{got}");
    assert!(text(&exchange(to, &[upgrade_request("/admin").into_bytes()])).starts_with("HTTP/1.1 404 "));
    let old = upgrade_request("/ws").replace("Version: 13", "Version: 8");
    assert!(text(&exchange(to, &[old.into_bytes()])).starts_with("HTTP/1.1 426 "));
    let keyless = upgrade_request("/ws").replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "");
    assert!(text(&exchange(to, &[keyless.into_bytes()])).starts_with("HTTP/1.1 400 "));
    // Plain SIP on the WebSocket port: not HTTP, closed unanswered.
    assert!(exchange(to, &[options("plain")]).is_empty());
    // A fragmented binary message is one SIP message; a ping gets its pong between fragments.
    let msg = options("fragmented");
    let (a, b) = msg.split_at(40);
    let parts = [head.clone(), ws_frame(false, 2, MASK, a), ws_frame(true, 9, MASK, b"p"), ws_frame(true, 0, MASK, b)];
    let mut parts = parts.to_vec();
    parts.push(ws_frame(true, 8, MASK, &1000u16.to_be_bytes()));
    let got = exchange(to, &parts);
    let got_text = text(&got);
    assert!(
        got_text.starts_with("HTTP/1.1 101 ")
            && got_text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
    assert!(got.windows(3).any(|w| w == [0x8a, 1, b'p']), "a pong: {got_text}");
    assert!(got_text.contains("SIP/2.0 200 OK"), "the OPTIONS answered: {got_text}");
    assert!(got.ends_with(&[0x88, 2, 0x03, 0xe8]), "the close echoed: {got:?}");
    // An unmasked frame: close 1002. A frame over max_message_bytes: close 1009.
    let got = exchange(to, &[head.clone(), ws_frame(true, 1, None, &options("unmasked"))]);
    assert!(got.ends_with(&[0x88, 2, 0x03, 0xea]), "{got:?}");
    let big = ws_frame(true, 1, MASK, &vec![b'x'; 5000]);
    let got = exchange(to, &[head.clone(), big[..100].to_vec()]);
    assert!(got.ends_with(&[0x88, 2, 0x03, 0xf1]), "{got:?}");
    // A message cut off by the close.
    exchange(to, &[head, ws_frame(false, 1, MASK, b"OPTIONS sip:cut")]);
    hp.stop();
    let anomalies = hp.rows("SELECT e.anomalies FROM events e WHERE e.direction = 'in' ORDER BY e.id");
    let count = |name: &str| anomalies.iter().filter(|r| r[0].contains(name)).count();
    assert_eq!(count("ws_handshake_refused"), 5, "{anomalies:?}");
    assert_eq!(count("ws_upgrade"), 4, "{anomalies:?}");
    assert_eq!(count("ws_protocol_error"), 1, "{anomalies:?}");
    assert_eq!(count("stream_over_limit"), 1, "{anomalies:?}");
    assert_eq!(count("ws_control_frame"), 2, "the ping and the close: {anomalies:?}");
    assert_eq!(count("stream_cut_off"), 1, "{anomalies:?}");
    assert_eq!(hp.count("SELECT count(*) FROM events WHERE transport <> 'ws'"), 0);
    let options = hp.count("SELECT count(*) FROM events e WHERE e.method = 'OPTIONS' AND e.direction = 'in'");
    assert!(options >= 1, "the fragmented OPTIONS stored as one message");
}
