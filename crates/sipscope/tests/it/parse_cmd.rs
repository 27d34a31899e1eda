//! `sipscope parse`: output decoded into test-side types, so the JSON contract is checked field
//! by field (as ripgrep tests its JSON output).
#![allow(dead_code)] // Every field is decoded (deny_unknown_fields) to pin the contract; not all are asserted.

use serde::Deserialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    source: String,
    offset: u64,
    kind: String,
    method: Option<String>,
    request_uri: Option<RequestUri>,
    status: Option<serde_json::Value>,
    reason: Option<String>,
    headers: Vec<(String, String)>,
    call_id: Option<String>,
    from: Option<Party>,
    to: Option<Party>,
    cseq: Option<Cseq>,
    via: Vec<Via>,
    contact: serde_json::Value,
    user_agent: Option<String>,
    server: Option<String>,
    max_forwards: Option<u64>,
    content_length: Option<u64>,
    body_len: u64,
    trailing_len: u64,
    auth: Option<Auth>,
    anomalies: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestUri {
    raw: String,
    scheme: Option<String>,
    user: Option<String>,
    host: Option<String>,
    port: Option<u16>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Party {
    display: Option<String>,
    uri: String,
    user: Option<String>,
    host: Option<String>,
    tag: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cseq {
    seq: Option<u64>,
    method: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Via {
    transport: String,
    host: String,
    port: Option<u16>,
    branch: Option<String>,
    received: Option<String>,
    rport: serde_json::Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Auth {
    scheme: String,
    username: Option<String>,
    realm: Option<String>,
    nonce: Option<String>,
    uri: Option<String>,
    response: Option<String>,
    algorithm: Option<String>,
    qop: Option<String>,
    nc: Option<String>,
    cnonce: Option<String>,
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../sip/tests/fixtures")
}

fn sipscope(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sipscope runs");
    let mut pipe = child.stdin.take().unwrap();
    pipe.write_all(stdin.unwrap_or_default()).unwrap();
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn lines(out: &Output) -> Vec<Line> {
    String::from_utf8(out.stdout.clone())
        .expect("output is UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn every_corpus_message_becomes_one_json_line() {
    let dirs: Vec<String> = ["valid", "invalid", "application_layer", "transaction_layer", "backward_compat", "extra"]
        .iter()
        .map(|d| fixtures().join("rfc4475").join(d).to_string_lossy().into_owned())
        .collect();
    let mut args = vec!["parse"];
    args.extend(dirs.iter().map(String::as_str));
    let out = sipscope(&args, None);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let parsed = lines(&out);
    assert_eq!(parsed.len(), 50);
    assert!(parsed.iter().all(|l| l.kind == "request" || l.kind == "response"));
}

#[test]
fn fields_of_a_tortuous_invite() {
    let file = fixtures().join("rfc4475/valid/wsinv.dat");
    let out = sipscope(&["parse", "--strict", file.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0));
    let [line] = <[Line; 1]>::try_from(lines(&out)).unwrap();
    assert_eq!(line.method.as_deref(), Some("INVITE"));
    let uri = line.request_uri.unwrap();
    assert_eq!((uri.scheme.as_deref(), uri.user.as_deref()), (Some("sip"), Some("vivekg")));
    assert_eq!(uri.host.as_deref(), Some("chair-dnrc.example.com"));
    assert_eq!(line.headers[0].0, "TO");
    assert_eq!(line.headers.len(), 14);
    assert_eq!(line.to.unwrap().tag.as_deref(), Some("1918181833n"));
    let from = line.from.unwrap();
    assert_eq!(from.user.as_deref(), Some("jdrosen"));
    assert_eq!(from.display.as_deref(), Some(r#"J Rosenberg \\\""#));
    assert_eq!(line.cseq.map(|c| (c.seq, c.method)), Some((Some(9), "INVITE".to_string())));
    assert_eq!(line.via.len(), 3);
    assert_eq!(line.via[2].branch.as_deref(), Some("z9hG4bK30239"));
    assert_eq!(line.max_forwards, Some(68));
    assert_eq!((line.content_length, line.body_len), (Some(150), 150));
    assert_eq!(line.call_id.as_deref(), Some("wsinv.ndaksdj@192.0.2.1"));
    // Its first Via has an RFC 2543 branch: a notice, not a violation.
    assert_eq!(line.anomalies, ["rfc2543_branch"]);
}

#[test]
fn strict_fails_on_violations_only() {
    let invalid = fixtures().join("rfc4475/invalid/mismatch01.dat");
    let out = sipscope(&["parse", "--strict", invalid.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(lines(&out)[0].anomalies, ["cseq_method_mismatch"]);
    // Trailing bytes are a notice, not a violation.
    let dblreq = fixtures().join("rfc4475/valid/dblreq.dat");
    let out = sipscope(&["parse", "--strict", dblreq.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0));
    let line = &lines(&out)[0];
    assert_eq!(line.anomalies, ["trailing_bytes_after_body"]);
    assert!(line.trailing_len > 0);
    let out = sipscope(&["parse", invalid.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0), "without --strict anomalies are allowed");
}

#[test]
fn non_utf8_is_escaped_never_dropped() {
    let msg = b"OPTIONS sip:100@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2;branch=z9hG4bK1\r\n\
From: <sip:a@b>;tag=1\r\nTo: <sip:100@127.0.0.1>\r\nCall-ID: \xff\xfe@x\r\nCSeq: 1 OPTIONS\r\n\
User-Agent: \x1b[2Jevil\xc0\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
    let out = sipscope(&["parse", "-"], Some(msg));
    assert_eq!(out.status.code(), Some(0));
    let line = &lines(&out)[0];
    assert_eq!(line.source, "-");
    assert_eq!(line.call_id.as_deref(), Some(r"\xff\xfe@x"));
    assert_eq!(line.user_agent.as_deref(), Some("\u{1b}[2Jevil\\xc0"));
    assert!(line.anomalies.contains(&"non_utf8_bytes".to_string()));
    assert!(line.anomalies.contains(&"control_characters".to_string()));
    // The escape character itself never reaches the terminal raw.
    assert!(!out.stdout.contains(&0x1b));
}

#[test]
fn responses_auth_and_contact_star() {
    let msg = b"REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:5061;rport;branch=z9hG4bK-9\r\n\
From: <sip:100@127.0.0.1>;tag=a\r\nTo: <sip:100@127.0.0.1>\r\ni: c1\r\nCSeq: 2 REGISTER\r\nm: *\r\nExpires: 0\r\n\
Max-Forwards: 70\r\nAuthorization: Digest username=\"100\",realm=\"asterisk\",nonce=\"abc\",uri=\"sip:127.0.0.1\",\
response=\"0123456789abcdef0123456789abcdef\",algorithm=MD5\r\nl: 0\r\n\r\n";
    let out = sipscope(&["parse", "-"], Some(msg));
    let line = &lines(&out)[0];
    assert_eq!(line.contact, serde_json::json!("*"));
    assert_eq!(line.via[0].rport, serde_json::json!(true));
    let auth = line.auth.as_ref().unwrap();
    assert_eq!(auth.username.as_deref(), Some("100"));
    assert_eq!(auth.algorithm.as_deref(), Some("MD5"));
    assert_eq!(auth.response.as_deref(), Some("0123456789abcdef0123456789abcdef"));
    let resp = fixtures().join("rfc4475/invalid/bigcode.dat");
    let out = sipscope(&["parse", resp.to_str().unwrap()], None);
    let line = &lines(&out)[0];
    assert_eq!(line.kind, "response");
    assert_eq!(line.status, Some(serde_json::json!("4294967301")));
    assert_eq!(line.reason.as_deref(), Some("better not break the receiver"));
}

#[test]
fn stream_mode_splits_messages_and_reports_truncation() {
    let a = std::fs::read(fixtures().join("rfc4475/valid/lwsdisp.dat")).unwrap();
    let b = std::fs::read(fixtures().join("rfc4475/valid/noreason.dat")).unwrap();
    let mut stream = a.clone();
    stream.extend_from_slice(b"\r\n\r\n");
    stream.extend_from_slice(&b);
    stream.extend_from_slice(&a[..100]);
    let out = sipscope(&["parse", "--stream", "-"], Some(&stream));
    assert_eq!(out.status.code(), Some(2), "a truncated message is reported");
    let parsed = lines(&out);
    assert_eq!(parsed.len(), 3);
    // A frame starts where the previous one ended: the CRLF keep-alives belong to it.
    assert_eq!(parsed[1].offset, a.len() as u64);
    assert_eq!(parsed[1].status, Some(serde_json::json!(100)));
    assert!(parsed[2].anomalies.contains(&"headers_not_terminated".to_string()));
    assert!(String::from_utf8_lossy(&out.stderr).contains("stream ends inside a message"));
}

#[test]
fn unreadable_and_non_sip_inputs_are_clear_errors() {
    let out = sipscope(&["parse", "/nonexistent/file.sip"], None);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1);
    assert!(err.contains("cannot read /nonexistent/file.sip"), "{err}");
    let out = sipscope(&["parse", "-"], Some(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a SIP message"));
    let out = sipscope(&["parse", "-"], Some(b""));
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty input"));
}
