//! Registrations as a real PBX keeps them: a few Contacts per extension (`max_contacts`), the
//! oldest replaced or the REGISTER refused (`remove_existing`), a short 200 whatever an attacker
//! registered, bounded Contact URIs, and nonces bound to the address they were issued to.

use super::*;
use crate::sources::honeypot::config::Extension;
use sipscope_sip::digest::{Algorithm, CredentialsSpec};

const S: i64 = 1_000_000_000;
const T0: i64 = 1_796_000_000 * S;

fn pbx_from(profile: Profile) -> Pbx {
    let exts = [Extension { user: "100".into(), password: "100".into(), enabled: true, lure: true }];
    Pbx::new(profile, &exts, None, 11)
}

/// A built-in profile with `[register]` lines set (replaced, or added after `max_expires`).
fn profile_with(name: &str, register_lines: &str) -> Profile {
    let mut text = super::super::profile::BUILT_IN.iter().find(|(n, _)| *n == name).unwrap().1.to_owned();
    for line in register_lines.lines() {
        let key = format!("\n{} ", line.split('=').next().unwrap().trim());
        if let Some(at) = text.find(&key) {
            let end = at + 1 + text[at + 1..].find('\n').unwrap();
            text.replace_range(at..end, "");
        }
    }
    let at = text.find("max_expires").unwrap();
    let end = at + text[at..].find('\n').unwrap() + 1;
    let text = format!("{}{register_lines}\n{}", &text[..end], &text[end..]);
    Profile::parse(&text, name).unwrap()
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn send_from(pbx: &mut Pbx, source: SocketAddr, bytes: &[u8], now_ns: i64) -> Handled {
    let framing = sipscope_sip::Framing::Datagram;
    pbx.handle(Incoming { now_ns, framing, source, bytes, route: super::tests::udp_route() })
}

fn status(reply: &[u8]) -> u16 {
    sipscope_sip::parse(reply).unwrap().status().unwrap() as u16
}

/// A REGISTER for extension 100 with these Contact header values; signed with `nonce` and
/// `password` when a nonce is given.
fn register(call_id: &str, contacts: &[String], signed: Option<(&str, &str)>) -> Vec<u8> {
    let mut text = format!(
        "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK{call_id}\r\n\
         From: <sip:100@127.0.0.1>;tag={call_id}\r\nTo: <sip:100@127.0.0.1>\r\nCall-ID: {call_id}\r\n\
         CSeq: 1 REGISTER\r\n"
    );
    for c in contacts {
        text.push_str(&format!("Contact: {c}\r\n"));
    }
    if let Some((nonce, password)) = signed {
        let spec = CredentialsSpec {
            username: b"100",
            password: password.as_bytes(),
            realm: b"asterisk",
            nonce: nonce.as_bytes(),
            method: b"REGISTER",
            uri: b"sip:127.0.0.1",
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

/// Challenge, then the signed REGISTER, both from `source`: the answer to the second.
fn registered(pbx: &mut Pbx, source: SocketAddr, contacts: &[String], now_ns: i64) -> Handled {
    let challenge = send_from(pbx, source, &register("c0", contacts, None), now_ns);
    let nonce = challenge_nonce(&challenge.replies[0]);
    send_from(pbx, source, &register("c1", contacts, Some((&nonce, "100"))), now_ns)
}

fn challenge_nonce(reply: &[u8]) -> String {
    let m = sipscope_sip::parse(reply).unwrap();
    String::from_utf8(m.challenge().unwrap().nonce.unwrap().to_vec()).unwrap()
}

fn contact(i: usize) -> String {
    format!("<sip:100@192.0.2.{}:{}>", i % 250 + 1, 5000 + i)
}

fn contacts_in(reply: &[u8]) -> Vec<String> {
    let m = sipscope_sip::parse(reply).unwrap();
    m.headers_named("Contact").map(|h| String::from_utf8_lossy(h.value).into_owned()).collect()
}

#[test]
fn chan_sip_keeps_one_contact_per_extension_and_a_new_one_replaces_it() {
    let mut p = pbx_from(Profile::load("asterisk-chan-sip").unwrap());
    let src = addr("127.0.0.1:5061");
    for i in 0..200 {
        let h = registered(&mut p, src, &[contact(i)], T0 + i as i64 * S);
        assert_eq!(h.replies.iter().map(|r| status(r)).collect::<Vec<_>>(), [200], "REGISTER {i}");
        assert_eq!(contacts_in(&h.replies[0]), [format!("{};expires=120", contact(i))]);
    }
    let now = T0 + 200 * S;
    let held: Vec<String> = p.bindings_of("100", now).into_iter().map(|(c, _)| c).collect();
    assert_eq!(held, [contact(199).trim_matches(['<', '>']).to_owned()], "only the newest is kept");
}

#[test]
fn without_remove_existing_a_full_extension_refuses_like_pjsip() {
    let profile = profile_with("asterisk-pjsip", "max_contacts = 2\nremove_existing = false");
    let mut p = pbx_from(profile);
    let src = addr("127.0.0.1:5061");
    assert_eq!(status(&registered(&mut p, src, &[contact(1)], T0).replies[0]), 200);
    let h = registered(&mut p, src, &[contact(2)], T0 + S);
    assert_eq!(contacts_in(&h.replies[0]).len(), 2);
    // A third Contact would exceed max_contacts: 403, nothing stored, nothing recorded.
    let h = registered(&mut p, src, &[contact(3)], T0 + 2 * S);
    assert_eq!(h.replies.iter().map(|r| status(r)).collect::<Vec<_>>(), [403]);
    assert!(h.bindings.is_empty());
    assert_eq!(h.auth.unwrap().outcome, AuthOutcome::Accepted, "the password was right all the same");
    assert_eq!(p.bindings_of("100", T0 + 2 * S).len(), 2);
    // Refreshing a Contact it holds is still fine; so is removing one and adding another.
    assert_eq!(status(&registered(&mut p, src, &[contact(2)], T0 + 3 * S).replies[0]), 200);
    let swap = [format!("{};expires=0", contact(1)), contact(3)];
    let h = registered(&mut p, src, &swap, T0 + 4 * S);
    assert_eq!(status(&h.replies[0]), 200);
    let held: Vec<String> = p.bindings_of("100", T0 + 4 * S).into_iter().map(|(c, _)| c).collect();
    assert_eq!(held, [&contact(2), &contact(3)].map(|c| c.trim_matches(['<', '>']).to_owned()));
}

#[test]
fn one_register_cannot_add_more_contacts_than_max_contacts_even_with_remove_existing() {
    let mut p = pbx_from(Profile::load("asterisk-pjsip").unwrap());
    let many: Vec<String> = (0..50).map(contact).collect();
    let h = registered(&mut p, addr("127.0.0.1:5061"), &many, T0);
    assert_eq!(h.replies.iter().map(|r| status(r)).collect::<Vec<_>>(), [403]);
    assert!(h.bindings.is_empty() && p.bindings_of("100", T0).is_empty());
}

#[test]
fn with_remove_existing_the_contact_soonest_to_expire_goes_first() {
    let profile = profile_with("proxy", "max_contacts = 2\nremove_existing = true");
    let mut p = Pbx::new(
        profile,
        &[Extension { user: "100".into(), password: "100".into(), enabled: true, lure: true }],
        None,
        3,
    );
    // The proxy profile's realm differs: sign for it.
    let src = addr("127.0.0.1:5061");
    let sign = |p: &mut Pbx, contacts: &[String], now: i64| {
        let challenge = send_from(p, src, &register("c0", contacts, None), now);
        let nonce = challenge_nonce(&challenge.replies[0]);
        let text = String::from_utf8(register("c1", contacts, Some((&nonce, "100")))).unwrap();
        // Re-sign for realm sip.example.net.
        let spec = CredentialsSpec {
            username: b"100",
            password: b"100",
            realm: b"sip.example.net",
            nonce: nonce.as_bytes(),
            method: b"REGISTER",
            uri: b"sip:127.0.0.1",
            qop: None,
            opaque: None,
            algorithm: Some(Algorithm::Md5),
        };
        let mut value = Vec::new();
        spec.write_value(&mut value).unwrap();
        let head = text.split("Authorization: ").next().unwrap().to_owned();
        let msg = format!("{head}Authorization: {}\r\nContent-Length: 0\r\n\r\n", String::from_utf8(value).unwrap());
        send_from(p, src, msg.as_bytes(), now)
    };
    assert_eq!(status(&sign(&mut p, &[format!("{};expires=600", contact(1))], T0).replies[0]), 200);
    assert_eq!(status(&sign(&mut p, &[format!("{};expires=60", contact(2))], T0).replies[0]), 200);
    assert_eq!(status(&sign(&mut p, &[format!("{};expires=300", contact(3))], T0 + S).replies[0]), 200);
    let held: Vec<String> = p.bindings_of("100", T0 + S).into_iter().map(|(c, _)| c).collect();
    assert_eq!(held, [&contact(1), &contact(3)].map(|c| c.trim_matches(['<', '>']).to_owned()));
}

#[test]
fn the_200_lists_a_few_contacts_however_many_are_bound() {
    let profile = profile_with("asterisk-pjsip", "max_contacts = 1000");
    let mut p = pbx_from(profile).with_limits(PbxLimits { max_listed_contacts: 4, ..PbxLimits::default() });
    let src = addr("127.0.0.1:5061");
    let mut last = Vec::new();
    for i in 0..50 {
        let own = format!("{};expires=60", contact(i));
        let h = registered(&mut p, src, &[own], T0 + i as i64 * S);
        assert_eq!(status(&h.replies[0]), 200);
        last = h.replies[0].clone();
    }
    assert_eq!(p.bindings_of("100", T0 + 50 * S).len(), 50, "all kept, as configured");
    let listed = contacts_in(&last);
    assert_eq!(listed.len(), 4);
    assert!(listed[0].starts_with(&contact(49)), "the request's own Contact comes first: {listed:?}");
    assert!(last.len() < 1200, "{} bytes", last.len());
}

#[test]
fn an_overlong_contact_is_refused_and_never_stored() {
    let mut p = pbx_from(Profile::load("asterisk-chan-sip").unwrap());
    let src = addr("127.0.0.1:5061");
    let long = format!("<sip:{}@192.0.2.1>", "a".repeat(PbxLimits::default().max_contact_bytes));
    let h = registered(&mut p, src, &[long], T0);
    assert_eq!(h.replies.iter().map(|r| status(r)).collect::<Vec<_>>(), [400]);
    assert!(h.bindings.is_empty() && p.bindings_of("100", T0).is_empty());
    // Just under the limit is fine.
    let fits = format!("<sip:{}@192.0.2.1>", "a".repeat(PbxLimits::default().max_contact_bytes - 20));
    assert_eq!(status(&registered(&mut p, src, &[fits], T0).replies[0]), 200);
}

#[test]
fn removing_contacts_that_are_not_bound_changes_nothing_and_records_a_few() {
    let mut p = pbx_from(Profile::load("asterisk-chan-sip").unwrap());
    let gone: Vec<String> = (0..100).map(|i| format!("{};expires=0", contact(i))).collect();
    let h = registered(&mut p, addr("127.0.0.1:5061"), &gone, T0);
    assert_eq!(status(&h.replies[0]), 200);
    // nmap's sip-brute unregisters what it never registered: its trace is kept, but one
    // request cannot write a hundred records.
    assert_eq!(h.bindings.len(), 1, "max_contacts records at most");
    assert_eq!((h.bindings[0].contact.as_str(), h.bindings[0].expires), (&contact(0)[1..contact(0).len() - 1], 0));
    assert!(p.bindings_of("100", T0).is_empty());
}

#[test]
fn a_nonce_used_from_another_address_is_stale() {
    let mut p = pbx_from(Profile::load("asterisk-chan-sip").unwrap());
    let (issued_to, other) = (addr("127.0.0.1:5061"), addr("127.0.0.2:5061"));
    let challenge = send_from(&mut p, issued_to, &register("c0", &[contact(1)], None), T0);
    let nonce = challenge_nonce(&challenge.replies[0]);
    let signed = register("c1", &[contact(1)], Some((&nonce, "100")));
    // Right password, but not the address the nonce was given to: a new challenge, stale.
    let h = send_from(&mut p, other, &signed, T0 + S);
    assert_eq!(h.replies.iter().map(|r| status(r)).collect::<Vec<_>>(), [401]);
    let m = sipscope_sip::parse(&h.replies[0]).unwrap();
    assert!(m.challenge().unwrap().stale, "stale=true");
    assert_eq!(h.auth.unwrap().outcome, AuthOutcome::StaleNonce);
    assert!(p.bindings_of("100", T0 + S).is_empty());
    // Another port of the same address is the same client (NAT, a new TCP connection) …
    let h = send_from(&mut p, addr("127.0.0.1:40000"), &signed, T0 + S);
    assert_eq!(status(&h.replies[0]), 200, "the stranger's try did not use the nonce up");
}
