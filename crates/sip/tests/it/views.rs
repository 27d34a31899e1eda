//! `Message::check_views` against the accessors: the views the checks hand back (From, To, the
//! first Contact, whether a Contact is `*`, CSeq, the Request-URI, the credentials) must be
//! exactly what `from()`, `to()`, `contact()`, `contact_is_star()`, `cseq()`, `request_uri()`
//! and `credentials()` find on their own, and the anomalies the
//! same as `anomalies()` finds on a message checked the usual way; on the corpus, on messages
//! built from the header lines where the two could part (repeated, empty, `*` and unparsable
//! Contacts, Authorization next to Proxy-Authorization, bracketed Request-URIs), on the
//! property generators' bytes and on arbitrary bytes.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

use sipscope_sip::{Framing, HeaderViews, Message, ParseLimits};

use crate::properties::{messages, sip_like_bytes};

fn check(bytes: &[u8]) {
    for framing in [Framing::Datagram, Framing::Stream] {
        let (Ok(checked), Ok(plain)) = (
            Message::parse_with(bytes, framing, ParseLimits::default()),
            Message::parse_with(bytes, framing, ParseLimits::default()),
        ) else {
            continue;
        };
        let views = checked.check_views();
        assert_eq!(views, HeaderViews::parse(&plain), "views of {:?}", String::from_utf8_lossy(bytes));
        assert_eq!(checked.anomalies(), plain.anomalies(), "anomalies of {:?}", String::from_utf8_lossy(bytes));
        // Asked again, after the checks ran: the accessors' views.
        assert_eq!(checked.check_views(), views);
    }
}

#[test]
fn corpus_views_are_the_accessors() {
    for (_, bytes) in messages() {
        check(bytes);
    }
}

#[test]
fn a_checked_message_keeps_the_views_it_parsed() {
    let bytes = b"REGISTER sip:192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bK1\r\n\
From: <sip:100@192.0.2.1>;tag=a\r\nTo: <sip:100@192.0.2.1>\r\nCall-ID: 1@x\r\nCSeq: 1 REGISTER\r\n\
Contact: *, <sip:100@198.51.100.7>\r\nProxy-Authorization: Digest username=\"100\"\r\n\
Authorization: nonsense\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
    let msg = sipscope_sip::parse(bytes).unwrap();
    let views = msg.check_views();
    assert_eq!(views.contact.map(|c| c.uri_raw), Some(&b"sip:100@198.51.100.7"[..]));
    assert!(views.contact_is_star);
    assert_eq!(views.cseq.map(|c| c.method), Some(&b"REGISTER"[..]));
    assert_eq!(views.from.and_then(|f| f.tag()), Some(&b"a"[..]));
    assert_eq!(views.request_uri.map(|u| u.host), Some(&b"192.0.2.1"[..]));
    // Authorization comes first and has a scheme (`nonsense`), so it is the one taken.
    assert_eq!(views.credentials.map(|c| c.scheme), Some(&b"nonsense"[..]));
    check(bytes);
}

const START_LINES: &[&str] = &[
    "REGISTER sip:192.0.2.1 SIP/2.0",
    "INVITE <sip:100@192.0.2.1> SIP/2.0",
    "INVITE sip:100@[2001:db8::1]:5060;user=phone?Subject=x SIP/2.0",
    "OPTIONS sip:100@::1:5061 SIP/2.0",
    "OPTIONS sip:100@192.0.2.1 extra SIP/2.0",
    "OPTIONS nonsense SIP/2.0",
    "SIP/2.0 401 Unauthorized",
];

const HEADER_LINES: &[&str] = &[
    "From: <sip:100@192.0.2.1>;tag=a",
    "From: \"x\" <sip:200@192.0.2.2>",
    "f: sip:300@h;tag=b",
    "To: <sip:100@192.0.2.1>",
    "t: \"unterminated <sip:1@2>",
    "To: <nonsense>",
    "To: ",
    "Contact: *",
    "Contact: *, <sip:1@192.0.2.9>",
    "Contact: , <sip:2@192.0.2.9>;expires=x",
    "m: sip:3@192.0.2.9;expires=60, <sip:4@192.0.2.9>",
    "Contact: <sip:bad@>",
    "Contact: ",
    "Authorization: Digest username=\"100\", realm=\"r\", nonce=\"n\", uri=\"sip:x\", response=\"0123\"",
    "Authorization: nonsense",
    "Authorization: ",
    "Authorization: Digest username=\"unterminated",
    "Proxy-Authorization: Digest username=\"200\", algorithm=MD5, qop=auth",
    "Proxy-Authorization: ,",
    "Call-ID: 1@x",
    "CSeq: 1 REGISTER",
    "CSeq: 2 INVITE",
    "CSeq: x",
    "Contact: <sip:5@192.0.2.9>, *",
    "Via: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bK1",
];

proptest! {
    #[test]
    fn built_messages_views_are_the_accessors(
        start in select(START_LINES),
        lines in vec(select(HEADER_LINES), 0..12),
    ) {
        let mut bytes = format!("{start}\r\n");
        for line in lines {
            bytes.push_str(line);
            bytes.push_str("\r\n");
        }
        bytes.push_str("\r\n");
        check(bytes.as_bytes());
    }

    #[test]
    fn sip_like_bytes_views_are_the_accessors(bytes in sip_like_bytes()) {
        check(&bytes);
    }

    #[test]
    fn arbitrary_bytes_views_are_the_accessors(bytes in vec(any::<u8>(), 0..512)) {
        check(&bytes);
    }
}
