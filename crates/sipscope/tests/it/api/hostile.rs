//! Hostile text in every field an attacker controls (script tags, event handlers, terminal
//! escapes, bidirectional overrides, invalid UTF-8) and in request paths: every answer is
//! valid JSON that keeps the text as data, escaped, and no header carries any of it.

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
