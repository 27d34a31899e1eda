//! The PBX against the real tools' messages (crates/sip/tests/fixtures/tools), on a simulated
//! clock. Credentials in the fixtures were computed for another PBX's nonces, so `resign`
//! recomputes them for ours exactly as the tool does (same fields, same hash form).

use super::*;
use crate::sources::honeypot::config::Extension;
use sipscope_sip::digest::{self as compute, Credentials};
use sipscope_sip::HeaderName;

pub(super) const S: i64 = 1_000_000_000;
pub(super) const T0: i64 = 1_796_000_000 * S;

use crate::test_support::tool_message as fixture;

pub(super) fn ext(user: &str, password: &str, lure: bool) -> Extension {
    Extension { user: user.into(), password: password.into(), enabled: true, lure }
}

pub(super) fn pbx(profile: &str) -> Pbx {
    let exts = [ext("100", "100", true), ext("101", "secret", true), ext("300", "300", false)];
    Pbx::new(Profile::load(profile).unwrap(), &exts, None, 7)
}

pub(super) fn src() -> SocketAddr {
    "127.0.0.1:5061".parse().unwrap()
}

/// The way test messages come: UDP, channel 1, to 127.0.0.1:5060.
pub(super) fn udp_route() -> Route {
    Route { channel: 1, transport: Transport::Udp, local: "127.0.0.1:5060".parse().unwrap() }
}

pub(super) fn send(pbx: &mut Pbx, bytes: &[u8], now_ns: i64) -> Handled {
    pbx.handle(Incoming { now_ns, framing: sipscope_sip::Framing::Datagram, source: src(), bytes, route: udp_route() })
}

pub(super) fn status(reply: &[u8]) -> u16 {
    sipscope_sip::parse(reply).unwrap().status().unwrap() as u16
}

pub(super) fn statuses(h: &Handled) -> Vec<u16> {
    h.replies.iter().map(|r| status(r)).collect()
}

pub(super) fn header(reply: &[u8], name: &str) -> Option<String> {
    let m = sipscope_sip::parse(reply).unwrap();
    let value = m.headers_named(name).next().map(|h| String::from_utf8_lossy(h.value).into_owned());
    value
}

/// The nonce of a challenge.
pub(super) fn nonce_of(reply: &[u8]) -> String {
    let m = sipscope_sip::parse(reply).unwrap();
    let c = m.challenge().unwrap();
    String::from_utf8(c.nonce.unwrap().to_vec()).unwrap()
}

/// Replaces the nonce and response of the request's credentials, keeping everything else as
/// the tool wrote it; RFC 2069 form unless the tool sent nc and cnonce.
pub(super) fn resign(request: &[u8], nonce: &str, password: &str) -> Vec<u8> {
    let m = sipscope_sip::parse(request).unwrap();
    let h = m.header(HeaderName::Authorization).or_else(|| m.header(HeaderName::ProxyAuthorization)).unwrap();
    let c = Credentials::parse(h.value).unwrap();
    let ha1 =
        compute::ha1(c.username.unwrap(), c.realm.unwrap(), password.as_bytes(), c.effective_algorithm(), b"", b"")
            .unwrap();
    let ha2 = compute::ha2(m.method().unwrap(), c.uri.unwrap());
    let resp = compute::response(&ha1, nonce.as_bytes(), b"", b"", None, &ha2);
    let text = String::from_utf8(request.to_vec()).unwrap();
    let old_nonce = std::str::from_utf8(c.nonce.unwrap()).unwrap();
    let old_resp = std::str::from_utf8(c.response.unwrap()).unwrap();
    text.replacen(old_nonce, nonce, 1).replacen(old_resp, std::str::from_utf8(&resp).unwrap(), 1).into_bytes()
}

#[test]
fn svwar_enumeration_sees_404_for_missing_and_401_for_existing_extensions() {
    let mut p = pbx("asterisk-chan-sip");
    // 0001 is svwar's random-extension probe, then extensions 100..105.
    let got: Vec<u16> =
        (1..=7).map(|i| statuses(&send(&mut p, &fixture(&format!("svwar/{i:04}.sip")), T0))[0]).collect();
    assert_eq!(got, [404, 401, 401, 404, 404, 404, 404]);
    let challenge = send(&mut p, &fixture("svwar/0002.sip"), T0).replies.remove(0);
    let www = header(&challenge, "WWW-Authenticate").unwrap();
    assert!(www.starts_with("Digest algorithm=MD5, realm=\"asterisk\", nonce=\""), "{www}");
    assert_eq!(header(&challenge, "Server").as_deref(), Some("Asterisk PBX 16.28.0"));
}

#[test]
fn pjsip_challenges_everyone_so_enumeration_learns_nothing() {
    let mut p = pbx("asterisk-pjsip");
    let got: Vec<u16> =
        (1..=7).map(|i| statuses(&send(&mut p, &fixture(&format!("svwar/{i:04}.sip")), T0))[0]).collect();
    assert_eq!(got, [401; 7]);
    let challenge = send(&mut p, &fixture("svwar/0001.sip"), T0).replies.remove(0);
    let www = header(&challenge, "WWW-Authenticate").unwrap();
    assert!(www.contains("qop=\"auth\"") && www.contains("opaque=\""), "{www}");
}

#[test]
fn brekeke_forbids_registration_outright() {
    let mut p = pbx("brekeke");
    assert_eq!(statuses(&send(&mut p, &fixture("svwar/0002.sip"), T0)), [403]);
    assert_eq!(statuses(&send(&mut p, &fixture("svmap/0001.sip"), T0)), [200]);
}

#[test]
fn svcrack_right_guess_registers_and_echoes_the_from_tag() {
    let mut p = pbx("asterisk-chan-sip");
    let challenge = send(&mut p, &fixture("svcrack/0001.sip"), T0).replies.remove(0);
    assert_eq!(status(&challenge), 401);
    let guess = resign(&fixture("svcrack/0002.sip"), &nonce_of(&challenge), "100");
    let h = send(&mut p, &guess, T0 + S);
    assert_eq!(statuses(&h), [200]);
    // svcrack reads the cracked password back from the From tag of the 200.
    let sent_from = header(&guess, "From").unwrap();
    assert_eq!(header(&h.replies[0], "From").unwrap(), sent_from);
    let auth = h.auth.unwrap();
    assert_eq!((auth.outcome, auth.password.as_deref()), (AuthOutcome::Accepted, Some("100")));
    assert_eq!(h.bindings.len(), 1);
    assert_eq!(h.bindings[0].contact, "sip:100@127.0.0.1");
    assert_eq!(p.bindings_of("100", T0 + 2 * S).len(), 1);
    assert!(header(&h.replies[0], "Date").is_some());
}

#[test]
fn wrong_password_reused_and_stale_nonces_are_told_apart() {
    let mut p = pbx("asterisk-chan-sip");
    let nonce = nonce_of(&send(&mut p, &fixture("svcrack/0001.sip"), T0).replies[0]);
    let wrong = resign(&fixture("svcrack/0002.sip"), &nonce, "hunter2");
    let h = send(&mut p, &wrong, T0 + S);
    assert_eq!(statuses(&h), [403]);
    let auth = h.auth.unwrap();
    assert_eq!(auth.outcome, AuthOutcome::WrongPassword);
    assert!(auth.recoverable.unwrap().prepared.matches(b"hunter2"), "the attempt keeps what recovery needs");

    // The same nonce again: a replay of a challenge, whatever the password.
    let right = resign(&fixture("svcrack/0002.sip"), &nonce, "100");
    let h = send(&mut p, &right, T0 + 2 * S);
    assert_eq!(h.auth.unwrap().outcome, AuthOutcome::NonceReused);
    assert!(header(&h.replies[0], "WWW-Authenticate").unwrap().ends_with("stale=true"));

    // A fresh nonce used after its lifetime: stale=true because the password was right.
    let nonce = nonce_of(&send(&mut p, &fixture("svcrack/0001.sip"), T0).replies[0]);
    let h = send(&mut p, &resign(&fixture("svcrack/0002.sip"), &nonce, "100"), T0 + 31 * S);
    assert_eq!(h.auth.as_ref().unwrap().outcome, AuthOutcome::StaleNonce);
    assert_eq!(statuses(&h), [401]);
    assert!(header(&h.replies[0], "WWW-Authenticate").unwrap().ends_with("stale=true"));

    // A nonce that was never ours: a new challenge without stale for a wrong password.
    let h = send(&mut p, &resign(&fixture("svcrack/0002.sip"), "deadbeef", "nope"), T0);
    assert_eq!(h.auth.as_ref().unwrap().outcome, AuthOutcome::StaleNonce);
    assert!(!header(&h.replies[0], "WWW-Authenticate").unwrap().contains("stale"));
}

#[test]
fn unknown_users_and_non_lure_accounts_never_register() {
    let mut p = pbx("asterisk-chan-sip");
    let nonce = nonce_of(&send(&mut p, &fixture("svcrack/0001.sip"), T0).replies[0]);
    let as_300 =
        String::from_utf8(fixture("svcrack/0002.sip")).unwrap().replace("username=\"100\"", "username=\"300\"");
    let h = send(&mut p, &resign(as_300.as_bytes(), &nonce, "300"), T0);
    assert_eq!((statuses(&h), h.auth.unwrap().outcome), (vec![403], AuthOutcome::Refused));
    let nonce = nonce_of(&send(&mut p, &fixture("svcrack/0001.sip"), T0).replies[0]);
    let as_555 = as_300.replace("username=\"300\"", "username=\"555\"");
    let h = send(&mut p, &resign(as_555.as_bytes(), &nonce, "x"), T0);
    assert_eq!((statuses(&h), h.auth.unwrap().outcome), (vec![404], AuthOutcome::UnknownUser));
    let h = send(&mut p, &resign(as_555.as_bytes(), &nonce, "x"), T0);
    assert!(h.bindings.is_empty());
}

#[test]
fn sipp_call_is_challenged_then_busy_and_never_connects() {
    let mut p = pbx("asterisk-chan-sip");
    let h = send(&mut p, &fixture("sipp-invite-auth/0001.sip"), T0);
    assert_eq!(statuses(&h), [407]);
    let nonce = nonce_of(&h.replies[0]);
    assert!(send(&mut p, &fixture("sipp-invite-auth/0002.sip"), T0).replies.is_empty(), "ACK is absorbed");
    // SIPp signs over a Request-URI without the user part; the digest uri is what counts.
    let h = send(&mut p, &resign(&fixture("sipp-invite-auth/0003.sip"), &nonce, "100"), T0 + S);
    // chan_sip's busy callee: no ringing before 486.
    assert_eq!(statuses(&h), [100, 486]);
    assert!(header(&h.replies[0], "To").unwrap().find("tag=").is_none(), "no To tag on 100 Trying");
    assert!(header(&h.replies[1], "To").unwrap().contains(";tag=as"), "chan_sip's dialog tag");
    assert_eq!(h.auth.unwrap().outcome, AuthOutcome::Accepted);
    // CANCEL for that INVITE: 200 (the transaction exists); BYE: 481 (no dialog ever exists).
    let invite = String::from_utf8(fixture("sipp-invite-auth/0003.sip")).unwrap();
    let cancel = invite.replacen("INVITE sip:", "CANCEL sip:", 1).replace("2 INVITE", "2 CANCEL");
    let cancel = cancel.split("Proxy-Authorization").next().unwrap().to_owned() + "Content-Length: 0\r\n\r\n";
    assert_eq!(statuses(&send(&mut p, cancel.as_bytes(), T0 + 2 * S)), [200]);
    assert_eq!(statuses(&send(&mut p, cancel.as_bytes(), T0 + 60 * S)), [481], "transaction gone");
    let bye = cancel.replace("CANCEL", "BYE");
    assert_eq!(statuses(&send(&mut p, bye.as_bytes(), T0 + 2 * S)), [481]);
}

#[test]
fn a_configured_final_failure_replaces_the_profiles() {
    let busy = Reply { status: 503, reason: "Service Unavailable".into() };
    let mut p = Pbx::new(Profile::load("asterisk-chan-sip").unwrap(), &[ext("100", "100", true)], Some(busy), 1);
    let nonce = nonce_of(&send(&mut p, &fixture("sipp-invite-auth/0001.sip"), T0).replies[0]);
    let h = send(&mut p, &resign(&fixture("sipp-invite-auth/0003.sip"), &nonce, "100"), T0);
    assert_eq!(statuses(&h), [100, 503]);
}

#[test]
fn svwar_invite_and_options_enumeration_tell_extensions_apart() {
    let mut p = pbx("asterisk-chan-sip");
    let mut invites = Vec::new();
    for i in 1..=14 {
        let raw = fixture(&format!("svwar-invite/{i:04}.sip"));
        let h = send(&mut p, &raw, T0);
        if raw.starts_with(b"INVITE") {
            invites.push(statuses(&h)[0]);
        } else {
            assert!(h.replies.is_empty());
        }
    }
    assert_eq!(invites, [404, 407, 407, 404, 404, 404, 404]);
    let options: Vec<u16> =
        (1..=7).map(|i| statuses(&send(&mut p, &fixture(&format!("svwar-options/{i:04}.sip")), T0))[0]).collect();
    assert_eq!(options, [404, 200, 200, 404, 404, 404, 404]);
}

#[test]
fn nmap_probes_get_answers_a_version_scan_recognises() {
    let mut p = pbx("asterisk-chan-sip");
    let empty = send(&mut p, b"", T0);
    assert!(empty.replies.is_empty() && empty.note == "keepalive");
    let h = send(&mut p, &fixture("nmap-sv/0003.sip"), T0);
    assert_eq!(statuses(&h), [200]);
    assert_eq!(header(&h.replies[0], "Server").as_deref(), Some("Asterisk PBX 16.28.0"));
    let via = header(&h.replies[0], "Via").unwrap();
    assert!(via.contains("received=127.0.0.1") && via.contains("rport=5061"), "{via}");
    assert!(header(&h.replies[0], "Allow").unwrap().contains("INVITE"));
}

#[test]
fn malformed_and_unknown_requests_follow_the_profile() {
    let no_cseq = b"OPTIONS sip:100@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: 1\r\n\r\n";
    let mut chan = pbx("asterisk-chan-sip");
    let h = send(&mut chan, no_cseq, T0);
    assert_eq!(sipscope_sip::parse(&h.replies[0]).unwrap().reason(), Some(&b"Bad Request"[..]));
    let mut proxy = pbx("proxy");
    let h = send(&mut proxy, no_cseq, T0);
    assert_eq!(sipscope_sip::parse(&h.replies[0]).unwrap().reason(), Some(&b"Missing CSeq"[..]));
    assert!(send(&mut pbx("brekeke"), no_cseq, T0).replies.is_empty());
    let no_via = b"OPTIONS sip:a SIP/2.0\r\nCall-ID: 1\r\n\r\n";
    assert!(send(&mut chan, no_via, T0).replies.is_empty(), "nowhere to answer");
    assert_eq!(send(&mut chan, b"\x16\x03\x01garbage", T0).note, "unparseable");

    let foo = String::from_utf8(fixture("svmap/0001.sip")).unwrap().replace("OPTIONS", "FOO");
    let h = send(&mut chan, foo.as_bytes(), T0);
    assert_eq!(statuses(&h), [501]);
    assert!(header(&h.replies[0], "Allow").is_some(), "chan_sip lists what it allows on 501");
    // kamailio.cfg: a request naming no user gets 484.
    assert_eq!(statuses(&send(&mut proxy, foo.as_bytes(), T0)), [484]);
    // PJSIP challenges a stranger whatever the method.
    assert_eq!(statuses(&send(&mut pbx("asterisk-pjsip"), foo.as_bytes(), T0)), [401]);
    let msg = String::from_utf8(fixture("svmap/0001.sip")).unwrap().replace("OPTIONS", "MESSAGE");
    assert_eq!(statuses(&send(&mut pbx("asterisk-pjsip"), msg.as_bytes(), T0)), [401]);
    assert!(send(&mut chan, b"SIP/2.0 200 OK\r\nCall-ID: x\r\n\r\n", T0).replies.is_empty());
}

#[test]
fn attacker_bytes_never_break_the_answer() {
    let mut p = pbx("asterisk-chan-sip");
    let evil = b"REGISTER sip:x SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK\xff;rport\r\nFrom: <sip:\xfe\xff@b>;tag=\x01\r\nTo: <sip:\xff@b>\r\nCall-ID: \x1b[31m\r\nCSeq: 1 REGISTER\r\nAuthorization: Digest username=\"\xff\", nonce=\"\xfe\"\r\n\r\n";
    let h = send(&mut p, evil, T0);
    assert_eq!(statuses(&h), [403], "malformed credentials are refused");
    assert_eq!(h.auth.unwrap().outcome, AuthOutcome::Malformed);
    for cut in 0..evil.len() {
        let _ = send(&mut p, &evil[..cut], T0);
    }
}

#[test]
fn baresip_registration_is_granted_what_its_contact_asks_and_unregistration_says_zero() {
    let mut p = pbx("asterisk-chan-sip");
    let contact = "<sip:100-0x557d2d448550@127.0.0.1:49057>";
    // baresip asks for 60 s on its Contact and sends no Expires header.
    let challenge = send(&mut p, &fixture("baresip-register/0001.sip"), T0).replies.remove(0);
    let h = send(&mut p, &resign(&fixture("baresip-register/0002.sip"), &nonce_of(&challenge), "100"), T0 + S);
    assert_eq!(statuses(&h), [200]);
    assert_eq!(header(&h.replies[0], "Expires").as_deref(), Some("60"), "not the default 120");
    assert_eq!(header(&h.replies[0], "Contact"), Some(format!("{contact};expires=60")));
    assert_eq!(h.bindings[0].expires, 60);
    // When it quits: the same Contact with ;expires=0, challenged again.
    let challenge = send(&mut p, &fixture("baresip-register/0003.sip"), T0 + 2 * S).replies.remove(0);
    let h = send(&mut p, &resign(&fixture("baresip-register/0004.sip"), &nonce_of(&challenge), "100"), T0 + 3 * S);
    assert_eq!(statuses(&h), [200]);
    assert_eq!(header(&h.replies[0], "Expires").as_deref(), Some("0"), "the binding is gone");
    assert_eq!(header(&h.replies[0], "Contact"), None);
    assert_eq!((h.bindings[0].expires, h.auth.unwrap().outcome), (0, AuthOutcome::Accepted));
    assert!(p.bindings_of("100", T0 + 3 * S).is_empty());
    // svcrack's Contact asks for no expiry and it sends no Expires header: the default.
    let nonce = nonce_of(&send(&mut p, &fixture("svcrack/0001.sip"), T0).replies[0]);
    let h = send(&mut p, &resign(&fixture("svcrack/0002.sip"), &nonce, "100"), T0);
    assert_eq!(header(&h.replies[0], "Expires").as_deref(), Some("120"));
}
