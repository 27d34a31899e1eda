//! The stored fields against a plain reference: every field taken through the message's own
//! accessors (each parsing its header again) and converted with `lossless_text`, the anomalies
//! from a message checked the usual way. `SipFields::extract` takes the views the checks
//! parsed and cuts text from the head checked once; both must give the same fields, on every
//! message of the SIP crate's corpus (RFC 4475/5118, real tools), on messages built from
//! header lines that could tell them apart, and on those with bytes that are not UTF-8.

use super::*;
use proptest::prelude::*;

/// The fields as `SipFields::extract` found them before it shared the checks' views.
fn reference(bytes: &[u8]) -> Option<SipFields> {
    let msg = sipscope_sip::parse(bytes).ok()?;
    let lossless_text = |b: &[u8]| FieldText::from(lossless_text(b));
    let text = |b: Option<&[u8]>| b.map(lossless_text);
    let mut f = SipFields::default();
    match *msg.start_line() {
        StartLine::Request { method, uri, .. } => {
            f.kind = MessageKind::Request;
            f.method = Some(lossless_text(method));
            f.request_uri = Some(lossless_text(uri));
            if let Some(u) = msg.request_uri() {
                f.ruri_user = text(u.user);
                f.ruri_host = text(Some(u.host).filter(|h| !h.is_empty()));
            }
            f.user_agent = text(msg.user_agent());
        }
        StartLine::Response { code, reason, .. } => {
            f.kind = MessageKind::Response;
            f.status = code;
            f.reason = Some(lossless_text(reason));
            f.user_agent = text(msg.server().or_else(|| msg.user_agent()));
        }
    }
    if let Some(from) = msg.from() {
        f.from = (text(from.user()), text(from.host()), text(from.param("tag")));
    }
    if let Some(to) = msg.to() {
        f.to = (text(to.user()), text(to.host()), text(to.param("tag")));
    }
    f.call_id = text(msg.call_id());
    if let Some(c) = msg.cseq() {
        f.cseq = (c.seq.and_then(|n| i64::try_from(n).ok()), Some(lossless_text(c.method)));
    }
    f.contact =
        if msg.contact_is_star() { Some("*".into()) } else { msg.contacts().next().map(|c| lossless_text(c.uri_raw)) };
    f.expires = msg.expires().and_then(|e| i64::try_from(e).ok());
    if let Some(c) = msg.credentials() {
        f.auth = Some(AuthFields {
            username: text(c.username),
            realm: text(c.realm),
            nonce: text(c.nonce),
            uri: text(c.uri),
            response: text(c.response),
            algorithm: text(c.param(b"algorithm").map(|p| p.value)),
            qop: text(c.param(b"qop").map(|p| p.value)),
        });
    }
    f.anomalies = msg.anomalies().iter().map(|a| a.kind.name()).collect::<Vec<_>>().join(" ");
    Some(f)
}

fn check(bytes: &[u8]) {
    let Some(expected) = reference(bytes) else { return };
    let Ok(msg) = sipscope_sip::parse(bytes) else { panic!("parsed once, not twice") };
    assert_eq!(SipFields::extract(&msg), expected, "{:?}", String::from_utf8_lossy(bytes));
    let unchecked = SipFields { anomalies: String::new(), ..expected };
    let Ok(msg) = sipscope_sip::parse(bytes) else { panic!("parsed once, not twice") };
    assert_eq!(SipFields::extract_without_anomalies(&msg), unchecked);
}

fn corpus(dir: &std::path::Path, out: &mut Vec<Vec<u8>>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            corpus(&path, out);
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push(bytes);
        }
    }
}

#[test]
fn corpus_fields_are_the_reference() {
    let mut messages = Vec::new();
    corpus(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sip/tests/fixtures"), &mut messages);
    assert!(messages.len() > 100, "the corpus is there: {} files", messages.len());
    for bytes in &messages {
        check(bytes);
    }
}

const START_LINES: &[&[u8]] = &[
    b"REGISTER sip:192.0.2.1 SIP/2.0",
    b"INVITE <sip:\xc3\xa9t\xc3\xa9@192.0.2.1> SIP/2.0",
    b"OPTIONS sip:100@::1:5061 SIP/2.0",
    b"OPTIONS sip:10\xff0@h SIP/2.0",
    b"INVITE tel:+1555 SIP/2.0",
    b"SIP/2.0 401 Unauthoriz\xe9d",
    b"SIP/2.0 200 OK",
];

const HEADER_LINES: &[&[u8]] = &[
    b"From: \"\xc3\xa9\" <sip:\xc3\xa9@192.0.2.1>;tag=\xc3\xa9",
    b"From: <sip:100@192.0.2.1>;TAG=a;tag=b",
    b"f: sip:3\xff00@h;tag=\"q\"",
    b"To: <sip:100@192.0.2.1>;tag",
    b"t: \"unterminated <sip:1@2>",
    b"To: <nonsense>",
    b"Contact: *",
    b"Contact: , <sip:2@192.0.2.9>;expires=x",
    b"m: sip:3@192.0.2.9;expires=60, <sip:4@192.0.2.9>",
    b"Contact: <sip:\xff@h>",
    b"Authorization: Digest username=\"\xc3\xa9\", realm=\"r\", nonce=\"n\", uri=\"sip:x\", response=\"0123\", qop=auth",
    b"Authorization: nonsense",
    b"Proxy-Authorization: Digest username=\"2\xff0\", algorithm=MD5",
    b"Call-ID: 1@\xff",
    b"CSeq: 1 REG\xc3\xa9",
    b"CSeq: 99999999999999999999 INVITE",
    b"User-Agent: friendly-scanner \xf0\x9f\x98\x80",
    b"Server: Asterisk \xff",
    b"Expires: 3600",
    b"Via: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bK1",
];

proptest! {
    #[test]
    fn built_messages_fields_are_the_reference(
        start in proptest::sample::select(START_LINES),
        lines in proptest::collection::vec(proptest::sample::select(HEADER_LINES), 0..12),
        body in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..16)),
    ) {
        let mut bytes = start.to_vec();
        bytes.extend_from_slice(b"\r\n");
        for line in lines {
            bytes.extend_from_slice(line);
            bytes.extend_from_slice(b"\r\n");
        }
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(&body.unwrap_or_default());
        check(&bytes);
    }

    #[test]
    fn arbitrary_bytes_fields_are_the_reference(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        check(&bytes);
    }
}
