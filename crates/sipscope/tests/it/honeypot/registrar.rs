//! A cracked extension cannot be turned into an amplifier or a memory sink: over TCP, an
//! attacker with the bait password registers hundreds of Contacts, and the answer to its next
//! REGISTER stays a few hundred bytes; and a flood of failed attempts to recover, with a big
//! wordlist, is shed and counted and does not hold up the shutdown.

use super::harness::Honeypot;
use sipscope_sip::digest::{Algorithm, CredentialsSpec};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const HOST: &str = "127.0.84.1";

/// A REGISTER of extension 100 over TCP with these Contacts, signed for `nonce` with
/// `password` when given.
fn register(seq: usize, contacts: &[String], signed: Option<(&str, &str)>) -> Vec<u8> {
    let mut text = format!(
        "REGISTER sip:{HOST} SIP/2.0\r\nVia: SIP/2.0/TCP {HOST}:40000;branch=z9hG4bK{seq}\r\n\
         From: <sip:100@{HOST}>;tag=t{seq}\r\nTo: <sip:100@{HOST}>\r\nCall-ID: reg-{seq}\r\nCSeq: {seq} REGISTER\r\n"
    );
    for c in contacts {
        text.push_str(&format!("Contact: {c}\r\n"));
    }
    if let Some((nonce, password)) = signed {
        let uri = format!("sip:{HOST}");
        let spec = CredentialsSpec {
            username: b"100",
            password: password.as_bytes(),
            realm: b"asterisk",
            nonce: nonce.as_bytes(),
            method: b"REGISTER",
            uri: uri.as_bytes(),
            qop: None,
            opaque: None,
            algorithm: Some(Algorithm::Md5),
        };
        let mut value = Vec::new();
        spec.write_value(&mut value).unwrap();
        text.push_str(&format!("Authorization: {}\r\n", String::from_utf8(value).unwrap()));
    }
    text.push_str("Content-Length: 0\r\n\r\n");
    text.into_bytes()
}

/// Reads one answer (ours have no body) from the stream.
fn answer(s: &mut TcpStream, pending: &mut Vec<u8>) -> Vec<u8> {
    let mut buf = [0u8; 65536];
    loop {
        if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            return pending.drain(..end + 4).collect();
        }
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed");
        pending.extend_from_slice(&buf[..n]);
    }
}

/// Challenge, then the signed REGISTER: the second answer.
fn authenticated(s: &mut TcpStream, pending: &mut Vec<u8>, seq: usize, contacts: &[String], password: &str) -> Vec<u8> {
    s.write_all(&register(seq, contacts, None)).unwrap();
    let challenge = answer(s, pending);
    let m = sipscope_sip::parse(&challenge).unwrap();
    let nonce = String::from_utf8(m.challenge().unwrap().nonce.unwrap().to_vec()).unwrap();
    s.write_all(&register(seq, contacts, Some((&nonce, password)))).unwrap();
    answer(s, pending)
}

fn status(answer: &[u8]) -> u32 {
    sipscope_sip::parse(answer).unwrap().status().unwrap()
}

fn contacts(answer: &[u8]) -> usize {
    sipscope_sip::parse(answer).unwrap().headers_named("Contact").count()
}

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect((HOST, port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

#[test]
fn hundreds_of_bindings_over_tcp_leave_the_register_answer_small() {
    // A profile that lets an extension hold 100,000 Contacts: only the listing cap keeps the
    // answer small (the built-in profiles keep one binding per extension).
    let dir = tempfile::tempdir().unwrap();
    let built_in = concat!(env!("CARGO_MANIFEST_DIR"), "/src/sources/honeypot/profiles/asterisk-chan-sip.toml");
    let text = std::fs::read_to_string(built_in).unwrap().replace("max_contacts = 1\n", "max_contacts = 100000\n");
    let profile = dir.path().join("many.toml");
    std::fs::write(&profile, text).unwrap();
    let extra = format!(
        "profile = \"{}\"\n[limits]\nper_source_rate = 100000.0\nper_source_burst = 100000.0\n[intel]\nenabled = false\n",
        profile.display()
    );
    let mut hp = Honeypot::start(&[("tcp", HOST, 5060)], &extra);
    let mut s = connect(5060);
    let mut pending = Vec::new();
    let n = 300;
    let mut sent = 0;
    for i in 0..n {
        let contact = format!("<sip:100@198.51.100.{}:{}>", i % 250 + 1, 10_000 + i);
        let a = authenticated(&mut s, &mut pending, i, &[contact], "100");
        assert_eq!(status(&a), 200, "{}", String::from_utf8_lossy(&a));
        sent += 1;
    }
    // The next authenticated REGISTER (about 300 bytes) gets a few Contacts, not hundreds.
    let request = register(n, &[], None).len();
    let last = authenticated(&mut s, &mut pending, n, &["<sip:100@198.51.100.1:9>".into()], "100");
    assert_eq!(status(&last), 200);
    assert_eq!(contacts(&last), 10, "max_listed_contacts");
    assert!(last.len() < 1000, "{} bytes answered to a {request}-byte request", last.len());
    drop(s);
    let (summary, _log) = hp.stop();
    assert_eq!(summary["auth_attempts"], sent + 1);
    let bound = hp.count("SELECT count(*) FROM registrations");
    assert_eq!(bound, n as i64 + 1);
}

#[test]
fn the_default_profile_holds_one_binding_per_extension() {
    let extra = "\n[limits]\nper_source_rate = 100000.0\nper_source_burst = 100000.0\n[intel]\nenabled = false\n";
    let mut hp = Honeypot::start(&[("tcp", HOST, 5062)], extra);
    let mut s = connect(5062);
    let mut pending = Vec::new();
    let mut sizes = Vec::new();
    for i in 0..200 {
        let contact = format!("<sip:100@198.51.100.{}:{}>", i % 250 + 1, 10_000 + i);
        let a = authenticated(&mut s, &mut pending, i, &[contact], "100");
        assert_eq!((status(&a), contacts(&a)), (200, 1));
        sizes.push(a.len());
    }
    assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() < 16, "{sizes:?}");
    // Thirty Contacts in one REGISTER: refused (one at most), nothing bound.
    let many: Vec<String> = (0..30).map(|i| format!("<sip:100@203.0.113.9:{i}>")).collect();
    assert_eq!(status(&authenticated(&mut s, &mut pending, 999, &many, "100")), 403);
    drop(s);
    hp.stop();
    assert_eq!(hp.count("SELECT count(*) FROM registrations WHERE contact LIKE '%203.0.113.9:%'"), 0);
}

#[test]
fn a_recovery_flood_is_shed_and_counted_and_shutdown_does_not_wait_for_the_queue() {
    // 300,000 words tried for every failed attempt: the queue holds hours of work.
    let dir = tempfile::tempdir().unwrap();
    let wordlist = dir.path().join("words.txt");
    let words: String = (0..300_000).map(|i| format!("word-{i:06}\n")).collect();
    std::fs::write(&wordlist, words).unwrap();
    let extra = format!(
        "\n[limits]\nper_source_rate = 100000.0\nper_source_burst = 100000.0\n\
         [intel]\nwordlist = \"{}\"\nmax_candidates = 400000\nmax_pending_per_source = 50\n\
         shutdown_grace_seconds = 0\n",
        wordlist.display()
    );
    let mut hp = Honeypot::start(&[("tcp", HOST, 5064)], &extra);
    let mut s = connect(5064);
    let mut pending = Vec::new();
    let attempts = 300;
    for i in 0..attempts {
        let a = authenticated(&mut s, &mut pending, i, &["<sip:100@198.51.100.1>".into()], &format!("guess-{i}"));
        assert_eq!(status(&a), 403);
    }
    drop(s);
    let (summary, log) = hp.stop();
    let skipped = &summary["intel_skipped_by"];
    let (source_full, stopped) = (skipped["source_full"].as_u64().unwrap(), skipped["stopped"].as_u64().unwrap());
    // At most 50 waited at a time: the flood was shed as it came, and what waited at the stop
    // was skipped, not worked through (no grace here: the worker stops at once).
    assert!(source_full > 0 && stopped > 0, "{summary}");
    assert_eq!(
        summary["intel_skipped"].as_u64().unwrap(),
        skipped["queue_full"].as_u64().unwrap() + source_full + skipped["repeated"].as_u64().unwrap() + stopped
    );
    let recovered = hp.count("SELECT count(*) FROM auth_attempts WHERE candidates_tried IS NOT NULL");
    assert_eq!(recovered as u64 + source_full + stopped, attempts as u64, "{summary}");
    assert!(log.contains("password recovery skipped"), "{log}");
}
