//! Messages recorded from real attack and test tools (`crates/sip/tests/fixtures/tools/`,
//! see its README for the commands and the quirks).

use sipscope_sip::digest::{verify, Credentials, Verification};
use sipscope_sip::{parse, AnomalyKind, HeaderName, Message, ParseError};
use std::path::{Path, PathBuf};

fn tools_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tools")
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(tools_dir().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn all_fixtures() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for dir in std::fs::read_dir(tools_dir()).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&dir).unwrap() {
            let file = file.unwrap().path();
            let name = file.strip_prefix(tools_dir()).unwrap().display().to_string();
            out.push((name, std::fs::read(&file).unwrap()));
        }
    }
    out.sort();
    out
}

fn authorization<'a>(msg: &Message<'a>) -> Credentials<'a> {
    msg.credentials().expect("credentials present")
}

#[test]
fn every_tool_message_parses_losslessly() {
    let fixtures = all_fixtures();
    assert!(fixtures.len() >= 90, "fixtures missing: {}", fixtures.len());
    let mut empty = 0;
    for (name, bytes) in &fixtures {
        if bytes.is_empty() {
            // nmap's UDP port probe: an empty datagram is not a message.
            assert_eq!(parse(bytes).unwrap_err(), ParseError::Empty);
            empty += 1;
            continue;
        }
        let msg = parse(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(msg.is_request(), "{name}");
        assert!(msg.call_id().is_some() && msg.cseq().is_some(), "{name}");
        let head: usize = msg.headers().iter().map(|h| h.line.len()).sum();
        let rebuilt = msg.start_line_raw().len() + 2 + head + 2 + msg.body().len() + msg.trailing().len();
        assert_eq!(rebuilt, bytes.len(), "{name}: every byte is accounted for");
        for a in msg.anomalies() {
            // The tools break no rule of RFC 3261 but one: SIPVicious writes IPv6 addresses
            // without brackets in Via and Contact.
            let known = name.contains("-ipv6/") && a.kind == AnomalyKind::UnbracketedIpv6;
            assert!(known || !a.kind.forbidden_by_rfc3261(), "{name}: {}", a.kind);
        }
    }
    assert_eq!(empty, 4, "nmap sends two empty datagrams per UDP scan");
}

#[test]
fn svcrack_digest_has_qop_but_no_nc_and_still_verifies() {
    let msg_bytes = read("svcrack/0002.sip");
    let msg = parse(&msg_bytes).unwrap();
    assert_eq!(msg.user_agent(), Some(&b"friendly-scanner"[..]));
    let creds = authorization(&msg);
    assert_eq!(creds.nc, None);
    assert_eq!(creds.cnonce, None);
    assert!(creds.qop.is_some());
    assert_eq!(verify(&creds, b"REGISTER", b"100"), Verification::Ok);
    assert_eq!(verify(&creds, b"REGISTER", b"101"), Verification::WrongPassword);
}

#[test]
fn sipsak_right_and_wrong_passwords() {
    let good_bytes = read("sipsak-register/0002.sip");
    let good = parse(&good_bytes).unwrap();
    assert_eq!(verify(&authorization(&good), b"REGISTER", b"100"), Verification::Ok);
    let bad_bytes = read("sipsak-register-badpw/0002.sip");
    let bad = parse(&bad_bytes).unwrap();
    assert_eq!(verify(&authorization(&bad), b"REGISTER", b"100"), Verification::WrongPassword);
    assert_eq!(verify(&authorization(&bad), b"REGISTER", b"wrongpass"), Verification::Ok);
    // sipsak writes From/To without angle brackets and Authorization above Via.
    assert_eq!(good.headers()[0].kind, HeaderName::Authorization);
    assert!(!good.from().unwrap().bracketed);
}

#[test]
fn sipp_signs_a_uri_other_than_the_request_uri() {
    let msg_bytes = read("sipp-invite-auth/0003.sip");
    let msg = parse(&msg_bytes).unwrap();
    assert_eq!(msg.method(), Some(&b"INVITE"[..]));
    let creds = authorization(&msg);
    assert_ne!(creds.uri, msg.request_uri_raw());
    assert_eq!(verify(&creds, b"INVITE", b"100"), Verification::Ok);
}

#[test]
fn svmap_compact_forms_resolve() {
    let msg_bytes = read("svmap-compact/0001.sip");
    let msg = parse(&msg_bytes).unwrap();
    let names: Vec<&[u8]> = msg.headers().iter().take(5).map(|h| h.name).collect();
    assert_eq!(names, [&b"v"[..], b"t", b"f", b"i", b"m"]);
    assert_eq!(msg.vias().count(), 1);
    assert_eq!(msg.from().unwrap().display, Some(&b"sipvicious"[..]));
    assert_eq!(msg.to().unwrap().user(), Some(&b"100"[..]));
    assert_eq!(msg.call_id(), Some(&b"1067836300462113366579151"[..]));
    assert_eq!(msg.contacts().next().unwrap().host(), Some(&b"127.0.0.1"[..]));
}

#[test]
fn nmap_version_probe_is_recognisable() {
    let msg_bytes = read("nmap-sv/0003.sip");
    let msg = parse(&msg_bytes).unwrap();
    assert_eq!(msg.request_uri_raw(), Some(&b"sip:nm"[..]));
    assert_eq!(msg.call_id(), Some(&b"50000"[..]));
    assert_eq!(msg.cseq().unwrap().seq, Some(42));
    assert!(msg.has_anomaly(AnomalyKind::Rfc2543Branch), "branch=foo");
}
