//! The merge, the address substitution, keys, caps and the text.

use super::*;
use sha2::{Digest, Sha256};
use std::net::SocketAddr;

const SRC: &str = "192.0.2.10:5062";
const DST: &str = "198.51.100.7:5060";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn message(start: &str, headers: &[&str], body: &str) -> Vec<u8> {
    format!("{start}\r\n{}\r\n\r\n{body}", headers.join("\r\n")).into_bytes()
}

fn build(packets: &[Vec<u8>], src: &str, dst: &str) -> Fingerprint {
    let mut builder = FingerprintBuilder::new();
    for bytes in packets {
        builder.add(&sipscope_sip::parse(bytes).unwrap(), addr(src), addr(dst));
    }
    assert_eq!(builder.packets(), packets.len() as u64);
    builder.fingerprint()
}

fn options(headers: &[&str]) -> Vec<u8> {
    message("OPTIONS sip:nm SIP/2.0", headers, "")
}

#[test]
fn the_papers_example_keeps_what_agrees_and_dashes_the_rest() {
    let fp = build(&[options(&["From: <sip:nm@nm>;tag=1526"]), options(&["From: <sip:nm@nm>;tag=8711"])], SRC, DST);
    assert_eq!(fp.value("from").unwrap().text(), "<sip:nm@nm>;tag=----");
    assert!(!fp.value("from").unwrap().is_constant());
    // Positions only some values reach are placeholders too.
    let fp = build(&[options(&["To: abc"]), options(&["To: abcde"]), options(&["To: abXde"])], SRC, DST);
    let to = fp.value("to").unwrap();
    assert_eq!(to.text(), "ab---");
    assert_eq!((to.min_len(), to.max_len(), to.present()), (3, 5, 3));
    assert_eq!(to.head().get(0), Some(b'a'));
    assert_eq!(to.head().get(2), None);
}

#[test]
fn addresses_and_ports_become_tokens_but_only_whole_ones() {
    let fp = build(
        &[options(&[
            "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK5062;x=15062",
            "Contact: <sip:100@192.0.2.10:5062>",
            "To: <sip:100@198.51.100.7:5060>",
            "Call-ID: 5060-192.0.2.100@192.0.2.10.5",
            "X-Other: 5060.5 25060 5060",
        ])],
        SRC,
        DST,
    );
    let text = |k: &str| fp.value(k).unwrap().text();
    assert_eq!(text("via"), "SIP/2.0/UDP SourceIP:SourcePort;branch=z9hG4bK5062;x=15062");
    assert_eq!(text("contact"), "<sip:100@SourceIP:SourcePort>");
    assert_eq!(text("to"), "<sip:100@DestIP:DestPort>");
    assert_eq!(text("call-id"), "DestPort-192.0.2.100@192.0.2.10.5");
    assert_eq!(text("x-other"), "5060.5 25060 DestPort");
    assert!(!fp.same_ip() && !fp.same_port());
}

#[test]
fn ipv6_addresses_are_replaced_bracketed_and_bare() {
    let subst = Substitution::new(addr("[2001:db8::1]:5061"), addr("[2001:db8::2]:5060"));
    let apply = |v: &str| String::from_utf8(subst.apply(v.as_bytes())).unwrap();
    assert_eq!(apply("sip:100@[2001:db8::2]"), "sip:100@DestIP");
    assert_eq!(apply("SIP/2.0/UDP 2001:db8::1:5061;rport"), "SIP/2.0/UDP SourceIP:SourcePort;rport");
    assert_eq!(apply("sip:100@[2001:DB8::1]:5061"), "sip:100@SourceIP:SourcePort");
    assert_eq!(apply("2001:db8::10 fe80::2001:db8::1x"), "2001:db8::10 fe80::2001:db8::1x");
    let loopback = Substitution::new(addr("[::1]:5061"), addr("[::1]:5060"));
    assert_eq!(loopback.apply(b"fe80::1 ::1:5061 [::1]"), b"fe80::1 SourceIP:SourcePort SourceIP");
    // An IPv4-mapped source is looked for in its IPv4 form; an unspecified one not at all.
    let mapped = Substitution::new(addr("[::ffff:192.0.2.10]:5062"), addr("0.0.0.0:0"));
    assert_eq!(mapped.apply(b"192.0.2.10:5062 0.0.0.0:0"), b"SourceIP:SourcePort 0.0.0.0:0");
}

#[test]
fn the_source_wins_when_source_and_destination_are_equal() {
    let fp = build(&[options(&["To: <sip:100@127.0.0.1:5060>"])], "127.0.0.1:5060", "127.0.0.1:5060");
    assert_eq!(fp.value("to").unwrap().text(), "<sip:100@SourceIP:SourcePort>");
    assert!(fp.same_ip() && fp.same_port());
    assert!(fp.text().ends_with("\nsame:ip,port\n"), "{}", fp.text());
}

#[test]
fn compact_and_full_names_are_one_key_and_the_spelling_is_kept_in_the_order() {
    let compact = options(&["v: SIP/2.0/UDP nm", "f: <sip:a@a>", "i: 1", "m: <sip:a@a>", "l: 0"]);
    let full = options(&["Via: SIP/2.0/UDP nm", "From: <sip:a@a>", "Call-ID: 1", "Contact: <sip:a@a>", "l: 0"]);
    let fp = build(std::slice::from_ref(&compact), SRC, DST);
    assert_eq!(fp.text().lines().last(), Some("order:v,f,i,m,l"));
    let fp = build(&[compact, full], SRC, DST);
    let keys: Vec<&str> = fp.keys().iter().map(|k| k.key.as_str()).collect();
    assert_eq!(keys, ["via", "from", "call-id", "contact", "content-length"]);
    assert!(fp.keys().iter().all(|k| k.value.present() == 2 && k.value.is_constant()));
    assert_eq!(fp.text().lines().last(), Some("order:---,----,-------,-------,l"));
}

#[test]
fn sdp_lines_are_keys_and_repeated_lines_are_joined() {
    let body = "v=0\r\no=- 1419316 9824590 IN IP4 192.0.2.10\r\ns=svwar\r\nm=audio 6061 RTP/AVP 0 8\r\n\
                a=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n";
    let invite = message(
        "INVITE sip:100@198.51.100.7 SIP/2.0",
        &["Via: SIP/2.0/UDP a", "Via: SIP/2.0/UDP b", "Content-Type: application/sdp"],
        body,
    );
    let fp = build(&[invite], SRC, DST);
    assert_eq!(fp.value("sdp:o").unwrap().text(), "- 1419316 9824590 IN IP4 SourceIP");
    assert_eq!(fp.value("sdp:s").unwrap().text(), "svwar");
    assert_eq!(fp.value("sdp:a").unwrap().text(), "rtpmap:0 PCMU/8000 | sendrecv");
    assert_eq!(fp.value("via").unwrap().text(), "SIP/2.0/UDP a | SIP/2.0/UDP b");
    assert_eq!(fp.value(REQUEST_URI_KEY).unwrap().text(), "sip:100@DestIP");
    assert!(fp.text().starts_with("start:INVITE sip:100@DestIP\n"));
    assert!(fp.text().ends_with("order:Via,Content-Type,sdp:v,sdp:o,sdp:s,sdp:m,sdp:a\n"));
}

#[test]
fn values_keys_and_methods_are_capped_and_counted() {
    let long = format!("Subject: {}{}", "a".repeat(600), "END");
    let many: Vec<String> = (0..70).map(|i| format!("X-H{i:02}: {i}")).collect();
    let mut headers: Vec<&str> = vec![&long];
    headers.extend(many.iter().map(String::as_str));
    let fp = build(&[options(&headers)], SRC, DST);
    let subject = fp.value("subject").unwrap();
    assert_eq!((subject.head().len(), subject.tail().len(), subject.max_len()), (MAX_VALUE_LEN, MAX_VALUE_LEN, 603));
    assert_eq!(subject.tail().get(0), Some(b'D'));
    assert_eq!(fp.truncated_values(), 1);
    assert_eq!(fp.keys().len(), MAX_KEYS);
    assert_eq!(fp.dropped_keys(), 71 - MAX_KEYS as u64);

    let methods: Vec<Vec<u8>> = (0..20).map(|i| message(&format!("M{i} sip:x SIP/2.0"), &["To: x"], "")).collect();
    let fp = build(&methods, SRC, DST);
    assert_eq!(fp.methods().count(), MAX_METHODS);
    assert_eq!(fp.dropped_methods(), 20 - MAX_METHODS as u64);
}

#[test]
fn non_utf8_bytes_survive_as_escapes() {
    let mut bytes = b"OPTIONS sip:nm SIP/2.0\r\nUser-Agent: ab\xff\x01c\\d\r\nX-\xfe: 1\r\n\r\n".to_vec();
    let fp = build(&[bytes.clone()], SRC, DST);
    assert_eq!(fp.value("user-agent").unwrap().text(), "ab\\xff\\x01c\\\\d");
    assert_eq!(fp.value("user-agent").unwrap().head().get(2), Some(0xff));
    assert!(fp.text().contains("x-\\xfe:1\n"), "{}", fp.text());
    bytes[30] = 0x80;
    let _ = build(&[bytes], SRC, DST).text();
}

#[test]
fn the_text_and_id_do_not_depend_on_packet_order() {
    let invite = message(
        "INVITE sip:100@198.51.100.7 SIP/2.0",
        &["Via: SIP/2.0/UDP x;branch=1", "To: <sip:100@x>", "Contact: <sip:a@x>", "CSeq: 1 INVITE", "Accept: a/b"],
        "",
    );
    let ack = message(
        "ACK sip:100@198.51.100.7 SIP/2.0",
        &["Via: SIP/2.0/UDP x;branch=1", "To: <sip:100@x>;tag=9", "CSeq: 1 ACK"],
        "",
    );
    let auth = message(
        "INVITE sip:100@198.51.100.7 SIP/2.0",
        &["Via: SIP/2.0/UDP x;branch=2", "To: <sip:100@x>", "CSeq: 2 INVITE", "Authorization: Digest x"],
        "",
    );
    let forward = build(&[invite.clone(), ack.clone(), auth.clone()], SRC, DST);
    for order in [[&ack, &invite, &auth], [&auth, &ack, &invite], [&ack, &auth, &invite]] {
        let other = build(&order.map(|p| p.clone()), SRC, DST);
        assert_eq!(other.text(), forward.text());
        assert_eq!(other.id(), forward.id());
    }
    assert!(forward.text().ends_with("order:Via,To,Contact?,CSeq,Accept?,Authorization?\n"), "{}", forward.text());
    assert!(forward.text().starts_with("start:ACK,INVITE sip:100@DestIP\n"));
    assert!(forward.is_optional("contact") && !forward.is_optional("via"));
    assert!(!forward.order_varied());
    let swapped = message("OPTIONS sip:x SIP/2.0", &["To: <sip:100@x>", "Via: SIP/2.0/UDP x;branch=1"], "");
    assert!(build(&[invite, swapped], SRC, DST).order_varied());
}

#[test]
fn the_id_is_sixteen_hex_digits_of_the_texts_sha256() {
    let fp = build(&[options(&["From: <sip:nm@nm>;tag=root", "Call-ID: 50000"])], SRC, DST);
    let digest = Sha256::digest(fp.text().as_bytes());
    assert_eq!(fp.id(), hex::encode(&digest[..8]));
    assert_eq!(fp.text(), "start:OPTIONS sip:nm\ncall-id:50000\nfrom:<sip:nm@nm>;tag=root\norder:From,Call-ID\n");
    // Pinned: changing the text format changes every stored id, so it must be deliberate.
    assert_eq!(fp.id(), "a19681658ebfd2af");
    assert_ne!(build(&[options(&["Call-ID: 50001"])], SRC, DST).id(), fp.id());
    assert_eq!(FingerprintBuilder::new().fingerprint().text(), "start:\norder:\n");
}

#[test]
fn responses_count_their_status_code_as_the_method() {
    let ok = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 198.51.100.7:5060\r\nServer: x\r\n\r\n".to_vec();
    let fp = build(&[ok], SRC, DST);
    assert_eq!(fp.methods().collect::<Vec<_>>(), ["200"]);
    assert_eq!(fp.value("via").unwrap().text(), "SIP/2.0/UDP DestIP:DestPort");
    assert!(fp.value(REQUEST_URI_KEY).is_none());
}
