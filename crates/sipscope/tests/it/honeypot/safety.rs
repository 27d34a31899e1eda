//! The honeypot's network behaviour and safety limits, with plain sockets: answers come from
//! the address that was hit (wildcard binds), TCP framing and keep-alives, TLS, no
//! amplification, rate limits, size limits, connection caps, and nothing lost at SIGTERM.

use super::harness::Honeypot;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

fn options(call_id: &str, host: &str) -> Vec<u8> {
    format!(
        "OPTIONS sip:{host} SIP/2.0\r\nVia: SIP/2.0/UDP {host};branch=z9hG4bK{call_id};rport\r\n\
         From: <sip:probe@{host}>;tag={call_id}\r\nTo: <sip:{host}>\r\nCall-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\n\
         User-Agent: safety-test\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

fn udp_client(bind: &str) -> UdpSocket {
    let s = UdpSocket::bind(bind).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s
}

/// Sends and waits for one answer; returns it and the address it came from.
fn ask(s: &UdpSocket, to: &str, msg: &[u8]) -> (String, SocketAddr) {
    s.send_to(msg, to).unwrap();
    let mut buf = [0u8; 4096];
    let (n, from) = s.recv_from(&mut buf).unwrap();
    (String::from_utf8_lossy(&buf[..n]).into_owned(), from)
}

#[test]
fn a_wildcard_bind_answers_from_the_address_each_datagram_reached_and_names_its_node() {
    let nodes = "[[node]]\nname = \"node-a\"\naddresses = [\"127.0.30.7\"]\n[[node]]\nname = \"node-b\"\naddresses = [\"127.0.30.8\", \"::1\"]\n";
    let dir = tempfile::tempdir().unwrap();
    let nodes_path = dir.path().join("nodes.toml");
    std::fs::write(&nodes_path, nodes).unwrap();
    let extra = format!("nodes = \"{}\"\n", nodes_path.display());
    let mut hp = Honeypot::start(&[("udp", "0.0.0.0", 15070), ("udp", "::", 15070)], &extra);
    let c = udp_client("127.0.30.1:0");
    for target in ["127.0.30.7", "127.0.30.8"] {
        let (answer, from) = ask(&c, &format!("{target}:15070"), &options(target, target));
        assert!(answer.starts_with("SIP/2.0 200 OK"), "{answer}");
        assert_eq!(from, format!("{target}:15070").parse::<SocketAddr>().unwrap(), "answered from the address hit");
    }
    let c6 = udp_client("[::1]:0");
    let (answer, from) = ask(&c6, "[::1]:15070", &options("v6", "[::1]"));
    assert!(answer.starts_with("SIP/2.0 200 OK") && from.ip().is_ipv6(), "{answer}");
    hp.stop();
    let rows = hp.rows("SELECT dst_ip, node FROM events WHERE direction = 'in' ORDER BY dst_ip");
    assert_eq!(rows, [["127.0.30.7", "node-a"], ["127.0.30.8", "node-b"], ["::1", "node-b"]]);
    let out = hp.rows("SELECT src_ip, dst_ip FROM events WHERE direction = 'out' ORDER BY src_ip");
    assert_eq!(out, [["127.0.30.7", "127.0.30.1"], ["127.0.30.8", "127.0.30.1"], ["::1", "::1"]]);
}

#[test]
fn tcp_frames_by_content_length_pongs_keepalives_and_keeps_a_cut_off_message() {
    let mut hp = Honeypot::start(&[("tcp", "127.0.31.2", 5060)], "");
    let mut s = TcpStream::connect("127.0.31.2:5060").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    // Two messages in one write, then one split across three writes with a pause.
    let mut two = options("t1", "127.0.31.2");
    two.extend(options("t2", "127.0.31.2"));
    s.write_all(&two).unwrap();
    let third = options("t3", "127.0.31.2");
    for part in [&third[..10], &third[10..60], &third[60..]] {
        s.write_all(part).unwrap();
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut got = String::new();
    let mut buf = [0u8; 8192];
    while got.matches("SIP/2.0 200 OK").count() < 3 {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed early: {got}");
        got.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    for id in ["t1", "t2", "t3"] {
        assert!(got.contains(&format!("Call-ID: {id}\r\n")), "{got}");
    }
    // RFC 5626 keep-alive: CRLFCRLF ping, CRLF pong.
    s.write_all(b"\r\n\r\n").unwrap();
    let n = s.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"\r\n");
    // A message cut off by the close is still stored.
    s.write_all(b"REGISTER sip:127.0.31.2 SIP/2.0\r\nVia: SIP/2.0/TCP x;bra").unwrap();
    drop(s);
    std::thread::sleep(Duration::from_millis(500));
    hp.stop();
    // Three messages, the keep-alive ping and the cut-off message.
    assert_eq!(hp.count("SELECT count(*) FROM events WHERE direction = 'in' AND transport = 'tcp'"), 5);
    let cut: Vec<u8> =
        hp.db().query_row("SELECT raw FROM events WHERE raw LIKE 'REGISTER%'", [], |r| r.get(0)).unwrap();
    assert!(cut.ends_with(b";bra"));
}

#[test]
fn tls_listener_generates_a_certificate_and_answers() {
    let mut hp = Honeypot::start(&[("tls", "127.0.32.2", 5061)], "");
    let script = r#"
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
with socket.create_connection(("127.0.32.2", 5061), timeout=5) as raw:
    with ctx.wrap_socket(raw) as s:
        s.sendall(sys.stdin.buffer.read())
        print(s.recv(4096).decode("latin-1"))
        print("CERT", s.getpeercert(binary_form=True) is not None)
"#;
    let mut child = std::process::Command::new("timeout")
        .args(["20", "python3", "-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&options("tls1", "127.0.32.2")).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("SIP/2.0 200 OK") && text.contains("CERT True"), "{text}");
    hp.stop();
    assert_eq!(hp.count("SELECT count(*) FROM events WHERE transport = 'tls'"), 2);
    assert!(hp.dir.path().join("sipscope-tls-cert.pem").exists(), "generated next to the store");
}

#[test]
fn udp_answers_never_exceed_what_the_source_sent() {
    // Strict: factor 1.
    let mut hp = Honeypot::start(&[("udp", "127.0.33.2", 5060)], "[limits]\namplification_factor = 1.0\n");
    let c = udp_client("127.0.33.1:0");
    c.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    // Minimal requests: the full 200 OK (Allow, Supported, Accept) is larger than each.
    let tiny = |i: u32| {
        format!(
            "OPTIONS sip:h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK{i}\r\nFrom: <sip:a@h>;tag={i}\r\nTo: <sip:h>\r\nCall-ID: {i}\r\nCSeq: 1 OPTIONS\r\n\r\n"
        )
    };
    let mut buf = [0u8; 4096];
    for i in 0..30 {
        c.send_to(tiny(i).as_bytes(), "127.0.33.2:5060").unwrap();
        let _ = c.recv_from(&mut buf);
    }
    let (summary, _) = hp.stop();
    let bytes = |dir: &str| {
        hp.count(&format!("SELECT coalesce(sum(length(raw) + 28), 0) FROM events WHERE direction = '{dir}'"))
    };
    assert!(bytes("out") <= bytes("in"), "out {} > in {}", bytes("out"), bytes("in"));
    assert!(
        hp.count("SELECT count(*) FROM events WHERE direction = 'out'") >= 15,
        "most still get a (compacted) answer"
    );
    assert_eq!(hp.count("SELECT count(*) FROM events WHERE direction = 'in'"), 30, "every request is logged");
    let _ = summary;
}

#[test]
fn rate_and_size_limits_drop_answers_but_never_records() {
    let extra = "[limits]\nper_source_rate = 5.0\nper_source_burst = 5.0\nmax_message_bytes = 1000\n";
    let mut hp = Honeypot::start(&[("udp", "127.0.34.2", 5060)], extra);
    let c = udp_client("127.0.34.1:0");
    for i in 0..50 {
        c.send_to(&options(&format!("r{i}"), "127.0.34.2"), "127.0.34.2:5060").unwrap();
    }
    let other = udp_client("127.0.34.3:0");
    let mut big = options("big", "127.0.34.2");
    big.truncate(big.len() - 2);
    big.extend(format!("X-Pad: {}\r\n\r\n", "a".repeat(1500)).into_bytes());
    other.send_to(&big, "127.0.34.2:5060").unwrap();
    other.send_to(b"\xff\xfe\x00garbage\x1b[2J", "127.0.34.2:5060").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let (summary, _) = hp.stop();
    let limited = summary["source_rate_limited"].as_u64().unwrap();
    assert!((40..=45).contains(&limited), "{summary}");
    assert_eq!(summary["oversized"], 1, "{summary}");
    assert_eq!(hp.count("SELECT count(*) FROM events WHERE direction = 'in'"), 52);
    assert_eq!(hp.count("SELECT count(*) FROM events WHERE direction = 'in' AND length(raw) > 1500"), 1);
    let garbage: Vec<u8> =
        hp.db().query_row("SELECT raw FROM events WHERE kind = 'invalid'", [], |r| r.get(0)).unwrap();
    assert_eq!(garbage, b"\xff\xfe\x00garbage\x1b[2J", "raw bytes kept as received");
    assert!(!hp.human_log().contains('\x1b'), "no terminal escape reaches the log");
}

#[test]
fn connection_caps_and_idle_timeouts_close_tcp_connections() {
    let extra = "[limits]\nmax_connections_per_source = 2\nidle_timeout_seconds = 1\n";
    let mut hp = Honeypot::start(&[("tcp", "127.0.35.2", 5060)], extra);
    let open = || {
        let s = TcpStream::connect("127.0.35.2:5060").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    };
    let (mut a, _b) = (open(), open());
    std::thread::sleep(Duration::from_millis(100));
    let mut third = open();
    let mut buf = [0u8; 16];
    assert_eq!(third.read(&mut buf).unwrap_or(0), 0, "over the per-source cap: closed at once");
    let started = std::time::Instant::now();
    assert_eq!(a.read(&mut buf).unwrap_or(0), 0, "idle connection closed");
    assert!(started.elapsed() < Duration::from_secs(4));
    hp.stop();
}

#[test]
fn sigterm_stores_every_event_received_before_it() {
    let mut hp = Honeypot::start(
        &[("udp", "127.0.36.2", 5060)],
        "[limits]\nper_source_rate = 100000.0\nper_source_burst = 100000.0\namplification_factor = 10.0\n",
    );
    let c = udp_client("127.0.36.1:0");
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 4096];
    for i in 0..2000 {
        c.send_to(&options(&format!("s{i}"), "127.0.36.2"), "127.0.36.2:5060").unwrap();
        // Paced by the answers, so the kernel's socket buffer never overflows.
        if i % 50 == 49 {
            for _ in 0..50 {
                c.recv_from(&mut buf).unwrap();
            }
        }
    }
    let (summary, _) = hp.stop();
    assert_eq!(summary["received"], 2000);
    assert_eq!(hp.count("SELECT count(*) FROM events WHERE direction = 'in'"), 2000);
    assert_eq!(hp.count("SELECT count(*) FROM events WHERE direction = 'out'"), 2000);
}

#[test]
fn root_is_dropped_after_binding_and_events_still_flow_to_store_and_json_lines() {
    if !std::fs::read_to_string("/proc/self/status").unwrap().lines().any(|l| l.starts_with("Uid:\t0\t")) {
        eprintln!("skipping: dropping privileges needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("events.jsonl");
    let extra = format!("user = \"nobody\"\njsonl = \"{}\"\n", jsonl.display());
    let mut hp = Honeypot::start(&[("udp", "127.0.37.2", 5060), ("tcp", "127.0.37.2", 5060)], &extra);
    let status = std::fs::read_to_string(format!("/proc/{}/status", hp.pid())).unwrap();
    let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap().to_owned();
    assert!(uid.split_whitespace().skip(1).all(|id| id == "65534"), "{uid}");
    let c = udp_client("127.0.37.1:0");
    let (answer, _) = ask(&c, "127.0.37.2:5060", &options("priv", "127.0.37.2"));
    assert!(answer.starts_with("SIP/2.0 200 OK"), "{answer}");
    hp.stop();
    assert_eq!(hp.count("SELECT count(*) FROM events"), 2);
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(&jsonl).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!((lines[0]["direction"].as_str(), lines[1]["direction"].as_str()), (Some("in"), Some("out")));
    assert!(lines[0]["raw"].as_str().unwrap().contains("Call-ID: priv"));
}

#[test]
fn by_default_udp_answers_stay_within_three_times_what_the_source_sent() {
    let mut hp = Honeypot::start(&[("udp", "127.0.38.2", 5060)], "");
    let c = udp_client("127.0.38.1:0");
    c.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    // Empty datagrams (nmap's probe) buy 28 bytes each on the wire; REGISTERs for an extension
    // get challenges larger than themselves.
    let mut buf = [0u8; 4096];
    for i in 0..40 {
        let register = format!(
            "REGISTER sip:h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK{i};rport\r\nFrom: <sip:100@h>;tag={i}\r\n\
             To: <sip:100@h>\r\nCall-ID: {i}\r\nCSeq: 1 REGISTER\r\n\r\n"
        );
        c.send_to(if i % 2 == 0 { b"" } else { register.as_bytes() }, "127.0.38.2:5060").unwrap();
        let _ = c.recv_from(&mut buf);
    }
    hp.stop();
    let bytes = |dir: &str| {
        hp.count(&format!("SELECT coalesce(sum(length(raw) + 28), 0) FROM events WHERE direction = '{dir}'"))
    };
    assert!(bytes("out") <= 3 * bytes("in"), "out {} > 3 x in {}", bytes("out"), bytes("in"));
    assert!(hp.count("SELECT count(*) FROM events WHERE direction = 'out' AND status = 401") >= 10);
}
