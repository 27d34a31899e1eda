//! Hostile text in every field an attacker controls (script tags, event handlers, terminal
//! escapes, bidirectional overrides, invalid UTF-8) and in request paths: every answer is
//! valid JSON that keeps the text as data, escaped, and no header carries any of it. Hostile
//! HTTP: oversized request lines, headers and bodies, slow headers, more connections than
//! allowed, bad percent-encoding: each gets its 4xx or a closed connection, and the server
//! keeps answering.

use super::*;
use sipscope::event::fields::SipFields;
use sipscope::event::record::{AuthAttemptRecord, RecordContext};
use sipscope::event::{Direction, SipEvent, Transport};

const ATTACKER: &str = "203.0.113.66";

fn hostile_message() -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(b"INVITE sip:<script>alert(1)</script>@198.51.100.1 SIP/2.0\r\n");
    m.extend_from_slice(b"Via: SIP/2.0/UDP 203.0.113.66:5060;branch=z9hG4bK1\r\n");
    m.extend_from_slice(b"From: <sip:<img src=x onerror=alert(1)>@h>;tag=1\r\n");
    m.extend_from_slice(b"To: <sip:\x1b[2J\xe2\x80\xaeevil@h>\r\n");
    m.extend_from_slice(b"Call-ID: \"><script>alert(2)</script>\r\n");
    m.extend_from_slice(b"CSeq: 1 INVITE\r\n");
    m.extend_from_slice(
        b"User-Agent: evil\x1b]0;pwned\x07 <script>alert(3)</script>\r\n\r\nSet-Cookie: x=1 \xff\xfe\r\n",
    );
    m.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    m
}

fn hostile_store(dir: &Path) -> PathBuf {
    let db = dir.join("api.db");
    let mut store = sipscope::sinks::sqlite::Store::open(&db).unwrap();
    let raw = hostile_message();
    let msg = sipscope_sip::parse(&raw).unwrap();
    let event = SipEvent {
        ts_ns: 1_767_225_600_000_000_000,
        sensor: "hostile".into(),
        node: Some("<b onmouseover=alert(4)>n</b>".into()),
        transport: Transport::Udp,
        src: (ATTACKER.parse().unwrap(), 5060),
        dst: ("198.51.100.1".parse().unwrap(), 5060),
        tunnel: None,
        direction: Direction::In,
        origin: None,
        raw: raw.clone(),
    };
    store.insert_event(&event, &SipFields::extract(&msg)).unwrap();
    let ctx = RecordContext {
        ts_ns: event.ts_ns,
        sensor: "hostile".into(),
        node: None,
        transport: Transport::Udp,
        src: format!("{ATTACKER}:5060").parse().unwrap(),
        dst: "198.51.100.1:5060".parse().unwrap(),
        call_id: None,
        user_agent: Some("\u{1b}[31mred".into()),
    };
    store
        .insert_auth_attempt(&AuthAttemptRecord {
            id: 1,
            ctx,
            method: "REGISTER".into(),
            username: "<svg/onload=alert(5)>".into(),
            realm: None,
            uri: None,
            nonce: None,
            outcome: "wrong_password",
            password: Some("\u{202e}drowssap\u{1b}[0m</script>".into()),
            log: None,
            published_seq: None,
        })
        .unwrap();
    store.flush_now().unwrap();
    drop(store);
    let out =
        Command::new(env!("CARGO_BIN_EXE_sipscope")).args(["analyze", "--db", db.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    db
}

/// Nothing raw that a terminal or a page would act on, and no hostile text in a header.
fn inert(a: &Answer, what: &str) {
    let body = a.text();
    for c in ['\u{1b}', '\u{7}', '\u{202e}', '\u{0}'] {
        assert!(!body.contains(c), "{what}: raw {c:?} in {body}");
    }
    for (name, value) in &a.headers {
        for bad in ["script", "onerror", "alert", "pwned", "Set-Cookie", "\u{1b}"] {
            assert!(
                !value.contains(bad) && !name.contains(&bad.to_ascii_lowercase()),
                "{what}: header {name}: {value}"
            );
        }
    }
}

#[test]
fn api_hostile_text_stays_escaped_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = hostile_store(dir.path());
    let server = serve(dir, &db, 5, &[]);
    let t = Some(server.token.as_str());
    let reason = r#"{"scope":"203.0.113.66","action":"ban","duration_seconds":60,"reason":"<script>alert(6)</script>\u001b[2J\u202e"}"#;
    assert_eq!(request(server.addr, "POST", "/api/v1/decisions", t, Some(reason)).status, 201);
    for path in [
        "/api/v1/events?raw=1",
        "/api/v1/sources/203.0.113.66",
        "/api/v1/passwords",
        "/api/v1/decisions",
        "/api/v1/report",
        "/api/v1/report/user-agents",
        "/ip-addresses",
        "/blocklist.json",
    ] {
        let a = request(server.addr, "GET", path, t, None);
        assert_eq!(a.status, 200, "{path}: {}", a.text());
        assert_eq!(a.header("content-type"), Some("application/json"), "{path}");
        inert(&a, path);
        a.json();
    }
    // The text is kept as data: escaped in the JSON, the same text once decoded.
    let events = get_json(&server, "/api/v1/events?raw=1");
    let e = &events["events"][0];
    assert_eq!(e["call_id"], "\"><script>alert(2)</script>");
    assert_eq!(e["ruri_user"], "<script>alert(1)</script>");
    assert_eq!(e["user_agent"], "evil\u{1b}]0;pwned\u{7} <script>alert(3)</script>");
    assert!(e["raw"].as_str().unwrap().contains("<sip:\u{1b}[2J\u{202e}evil@h>"));
    assert!(e["raw"].as_str().unwrap().contains("\\xff\\xfe"), "invalid UTF-8 as \\xNN");
    assert_eq!(e["node"], "<b onmouseover=alert(4)>n</b>");
    let source = get_json(&server, "/api/v1/sources/203.0.113.66");
    assert_eq!(source["passwords"][0]["name"], "\u{202e}drowssap\u{1b}[0m</script>");
    assert_eq!(source["users"][0]["name"], "<svg/onload=alert(5)>");
    // Hostile paths and parameters: JSON errors, clean headers.
    for path in [
        "/api/v1/sources/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "/numbers/%1B%5D0%3Bpwned%07",
        "/api/v1/events?source=%3Cscript%3E",
        "/api/v1/report/%3Cscript%3E",
        "/assets/..%2F..%2Fetc%2Fpasswd",
        "/%3Cscript%3Ealert(1)",
    ] {
        let a = request(server.addr, "GET", path, t, None);
        assert!((400..500).contains(&a.status), "{path}: {}", a.status);
        inert(&a, path);
    }
}

/// Sends `bytes` on a new connection and reads until the server closes it or `wait` passes:
/// the status of the answer, or `None` when it closed without one.
fn raw_exchange(addr: SocketAddr, bytes: &[u8], wait: Duration) -> Option<u16> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    // The server may answer and close before it has read everything: a failed write is fine.
    let _ = s.write_all(bytes);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let head = String::from_utf8_lossy(raw.get(..raw.len().min(64)).unwrap_or_default()).into_owned();
    head.strip_prefix("HTTP/1.1 ").and_then(|rest| rest.get(..3)).and_then(|code| code.parse().ok())
}

/// The server still answers an ordinary request.
fn still_up(server: &Server, after: &str) {
    let a = request(server.addr, "GET", "/api/v1/decisions", Some(&server.token), None);
    assert_eq!(a.status, 200, "the server answers after {after}");
}

#[test]
fn api_hostile_http_gets_4xx_or_a_closed_connection_and_the_server_stays_up() {
    let dir = tempfile::tempdir().unwrap();
    let db = hostile_store(dir.path());
    let server = serve(dir, &db, 12, &["--max-connections", "4", "--header-timeout", "2"]);
    let addr = server.addr;
    let host = format!("Host: {addr}\r\n");
    let wait = Duration::from_secs(20);

    // A request line of 40 KB, a header of 20 KB, 200 header fields: 431 (or 414 for the URI).
    let long_line = format!("GET /api/v1/events?user={} HTTP/1.1\r\n{host}\r\n", "a".repeat(40_000));
    let status = raw_exchange(addr, long_line.as_bytes(), wait);
    assert!(matches!(status, Some(414 | 431)), "an oversized request line: {status:?}");
    still_up(&server, "an oversized request line");
    let long_header = format!("GET / HTTP/1.1\r\n{host}X-Pad: {}\r\n\r\n", "b".repeat(20_000));
    assert_eq!(raw_exchange(addr, long_header.as_bytes(), wait), Some(431), "an oversized header");
    let many: String = (0..200).map(|i| format!("X-Field-{i}: {i}\r\n")).collect();
    let many = format!("GET / HTTP/1.1\r\n{host}{many}\r\n");
    assert_eq!(raw_exchange(addr, many.as_bytes(), wait), Some(431), "too many header fields");
    still_up(&server, "oversized headers");

    // A body over the limit (64 KiB), declared or chunked: 413, nothing stored.
    let body = format!("{{\"scope\":\"203.0.113.66\",\"action\":\"ban\",\"reason\":\"{}\"}}", "c".repeat(70_000));
    let post = format!(
        "POST /api/v1/decisions HTTP/1.1\r\n{host}Authorization: Bearer {}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        server.token,
        body.len()
    );
    assert_eq!(raw_exchange(addr, post.as_bytes(), wait), Some(413), "an oversized body");
    let chunked = format!(
        "POST /api/v1/decisions HTTP/1.1\r\n{host}Authorization: Bearer {}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        server.token,
        body.len()
    );
    assert_eq!(raw_exchange(addr, chunked.as_bytes(), wait), Some(413), "an oversized chunked body");
    let decisions = get_json(&server, "/api/v1/decisions");
    assert!(!decisions.to_string().contains("cccccccc"), "nothing of the oversized bodies was stored");

    // Bad percent-encoding in query parameters and paths: 400 with a JSON error.
    for path in [
        "/api/v1/events?node=%zz",
        "/api/v1/events?user=%",
        "/api/v1/events?user=abc%4",
        "/api/v1/events?user=%ff%fe",
        "/api/v1/alerts?from=%C3",
        "/api/v1/sources/%zz",
        "/ip-addresses/%C0%AF",
    ] {
        let a = request(addr, "GET", path, Some(&server.token), None);
        assert_eq!(a.status, 400, "{path}: {}", a.text());
        assert!(a.json()["error"].is_string(), "{path}");
        inert(&a, path);
    }
    still_up(&server, "bad percent-encoding");

    // Slow headers: a head not finished within --header-timeout (2 s) is cut off.
    let started = std::time::Instant::now();
    let status = raw_exchange(addr, format!("GET / HTTP/1.1\r\n{host}X-Slow: 1\r\n").as_bytes(), wait);
    assert!(matches!(status, None | Some(408)), "a slow head: {status:?}");
    assert!(started.elapsed() < Duration::from_secs(15), "cut off after its deadline: {:?}", started.elapsed());

    // Twice --max-connections (4) slow clients at once: the ones beyond wait to be accepted,
    // every one is cut off at its deadline, and an ordinary request is answered after them.
    let slow: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"GET / HTTP/1.1\r\n").unwrap();
            s
        })
        .collect();
    let started = std::time::Instant::now();
    let a = request(addr, "GET", "/api/v1/decisions", Some(&server.token), None);
    assert_eq!(a.status, 200, "an ordinary client is served once the slow ones are cut off");
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
    for mut s in slow {
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        let answered = String::from_utf8_lossy(&rest).into_owned();
        assert!(rest.is_empty() || answered.starts_with("HTTP/1.1 408"), "a slow client got {answered}");
    }
    still_up(&server, "too many connections");
}
