//! The line parsers against the fixtures (`tests/fixtures/pbx_logs/`, see its README) and
//! against hostile lines: injected address fields, truncation, non-UTF-8, colour codes.

use super::stamp::TimeContext;
use super::*;
use std::net::SocketAddr;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pbx_logs");

/// 2024-01-10T12:34:56Z.
const T: i64 = 1_704_890_096_000_000_000;

fn parser(format: LogFormat) -> LineParser {
    LineParser::new(format, TimeContext { utc_offset_s: 0, reference_ns: T + crate::time::DAY_NS })
}

fn fixture(name: &str) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(format!("{FIXTURES}/{name}")).unwrap();
    bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec).collect()
}

/// A summary of one line's result: (outcome or what, source, username, seconds after T).
fn summary(p: &Parsed<'_>) -> String {
    match p {
        Parsed::Event(e) => {
            let what = match e.happened {
                Happened::Attempt(o) => o.to_owned(),
                Happened::Challenge => "challenge".to_owned(),
                Happened::Other(n) => format!("other:{n}"),
            };
            let user = e.username.map(|u| String::from_utf8_lossy(u).into_owned()).unwrap_or_default();
            let secs = e.ts_ns.map(|t| ((t - T) as f64 / 1e9).to_string()).unwrap_or_else(|| "-".into());
            format!("{} {what} {} {user} {secs}", e.kind.as_str(), e.src)
        }
        Parsed::Ignored => "ignored".to_owned(),
        Parsed::Refused(r) => format!("refused:{}", r.as_str()),
    }
}

fn summaries(format: LogFormat, name: &str) -> Vec<String> {
    let mut p = parser(format);
    fixture(name).iter().map(|l| summary(&p.parse(l))).collect()
}

#[test]
fn asterisk_security_events() {
    assert_eq!(
        summaries(LogFormat::Asterisk, "asterisk-security.log"),
        [
            "asterisk_security unknown_user 203.0.113.5:5071 admin 0.101",
            "asterisk_security challenge 203.0.113.5:5071 100 1",
            "asterisk_security wrong_password 203.0.113.5:5071 100 2.25",
            "asterisk_security accepted 198.51.100.7:5060 101 3",
            "asterisk_security refused 203.0.113.9:5060 102 4",
            // The older EventTV form, seconds-microseconds.
            "asterisk_security unknown_user 203.0.113.5:5060 1001 5.5",
            "asterisk_security wrong_password 203.0.113.5:5060 1002 6",
            "asterisk_security unknown_user [2001:db8:bad::5]:5060 200 7",
            "asterisk_security malformed 203.0.113.12:40322 300 8",
            "asterisk_security other:LoadAverageLimit 203.0.113.13:5060  9",
            "asterisk_security refused 203.0.113.14:51234 admin 10",
        ]
    );
}

#[test]
fn asterisk_security_event_fields() {
    let lines = fixture("asterisk-security.log");
    let mut p = parser(LogFormat::Asterisk);
    let Parsed::Event(e) = p.parse(&lines[2]) else { panic!() };
    assert_eq!(e.name, b"InvalidPassword");
    assert_eq!(e.dst, Some("192.0.2.10:5060".parse().unwrap()));
    assert_eq!(e.transport, Some(crate::event::Transport::Udp));
    assert_eq!(e.method, Some(&b"PJSIP"[..]));
    assert_eq!(e.call_id, Some(&b"7d1e0a93-55aa"[..]));
    assert!(!e.injected);
    // chan_sip's session ID is a pointer, not a Call-ID.
    let Parsed::Event(e) = p.parse(&lines[5]) else { panic!() };
    assert_eq!(e.call_id, None);
    let Parsed::Event(e) = p.parse(&lines[8]) else { panic!() };
    assert_eq!(e.transport, Some(crate::event::Transport::Tcp));
}

#[test]
fn asterisk_notices_with_every_prefix() {
    assert_eq!(
        summaries(LogFormat::Asterisk, "asterisk-messages.log"),
        [
            "asterisk_chan_sip extension_not_found 203.0.113.20:5070  64",
            "asterisk_chan_sip wrong_password 203.0.113.21:5060 100 65",
            "asterisk_chan_sip unknown_user 203.0.113.21:5060 9999 66",
            "asterisk_chan_sip refused [2001:db8:bad::21]:5060 101 67",
            "asterisk_pjsip unknown_user 203.0.113.22:5060 500 68",
            "asterisk_pjsip unknown_user 203.0.113.22:5061 friendly 69",
            "asterisk_pjsip wrong_password [2001:db8:bad::22]:5060 100 70",
            "ignored",
            "asterisk_pjsip unknown_user 203.0.113.23:5060 100 72",
            "asterisk_security unknown_user 203.0.113.24:5060 700 73",
            "asterisk_chan_sip wrong_password 203.0.113.25:5060 102 74",
            "asterisk_chan_sip wrong_password 203.0.113.26:5060 103 75",
            // Older chan_sip: no reason, no port.
            "asterisk_chan_sip refused 203.0.113.27:0 104 76",
        ]
    );
    let lines = fixture("asterisk-messages.log");
    let mut p = parser(LogFormat::Asterisk);
    let Parsed::Event(e) = p.parse(&lines[0]) else { panic!() };
    assert_eq!(e.extension, Some(&b"0046701234567"[..]));
    assert_eq!(e.method, Some(&b"INVITE"[..]));
    let Parsed::Event(e) = p.parse(&lines[5]) else { panic!() };
    assert_eq!((e.tries, e.name, e.call_id), (Some(5), &b"No matching endpoint found"[..], Some(&b"97a5c3e1"[..])));
    assert_eq!(e.method, Some(&b"INVITE"[..]));
}

#[test]
fn asterisk_pjsip_line_shapes() {
    assert_eq!(
        summaries(LogFormat::Asterisk, "asterisk-pjsip.log"),
        [
            "asterisk_pjsip unknown_user 203.0.113.40:5060 100 184",
            "asterisk_pjsip wrong_password 203.0.113.40:5060 101 185",
            "asterisk_pjsip unknown_user 203.0.113.41:5070 102 186",
            "asterisk_pjsip extension_not_found 203.0.113.42:61470  187",
            "asterisk_pjsip extension_not_found 203.0.113.43:5080  188",
            "asterisk_pjsip extension_not_found [2001:db8:bad::44]:5060  189",
        ]
    );
    let lines = fixture("asterisk-pjsip.log");
    let mut p = parser(LogFormat::Asterisk);
    // Asterisk 13's line names no method; the record says so with an empty one.
    let Parsed::Event(e) = p.parse(&lines[0]) else { panic!() };
    assert_eq!((e.method, e.call_id), (None, Some(&b"4f1a0c"[..])));
    let Parsed::Event(e) = p.parse(&lines[2]) else { panic!() };
    assert_eq!((e.method, e.tries, e.injected), (Some(&b"INVITE"[..]), Some(3), false));
    let Parsed::Event(e) = p.parse(&lines[3]) else { panic!() };
    assert_eq!(e.transport, Some(crate::event::Transport::Tcp));
    assert_eq!((e.extension, e.username), (Some(&b"9011442079460000"[..]), None));
    let Parsed::Event(e) = p.parse(&lines[4]) else { panic!() };
    assert_eq!((e.transport, e.extension), (Some(crate::event::Transport::Udp), Some(&b"0046701234568"[..])));
    // FreeSWITCH with a date format without the year.
    let line =
        b"01-10 12:38:06.026292 [WARN] [SOFIA] [sofia_reg.c:4130] Can't find user [1001@192.0.2.10] from 203.0.113.45";
    assert_eq!(
        summary(&parser(LogFormat::FreeSwitch).parse(line)),
        "freeswitch_sofia unknown_user 203.0.113.45:0 1001 190.026292"
    );
}

#[test]
fn asterisk_manager_iax2_and_freepbx() {
    assert_eq!(
        summaries(LogFormat::Asterisk, "asterisk-services.log"),
        [
            "asterisk_manager unknown_user 203.0.113.50:0 admin 244",
            "asterisk_manager wrong_password 203.0.113.50:0 manager 245",
            "asterisk_manager refused [2001:db8:bad::50]:0 admin 246",
            "asterisk_iax2 wrong_password 203.0.113.51:0 100 247",
            "asterisk_iax2 wrong_password 203.0.113.51:0 101 248",
            "asterisk_iax2 unknown_user 203.0.113.51:0 trunk1 249",
            "asterisk_iax2 refused 203.0.113.51:0 trunk2 250",
            "freepbx_dialplan refused 203.0.113.52:0  251",
            "freepbx_dialplan refused [2001:db8:bad::52]:5060  252",
            "freepbx_dialplan refused 203.0.113.52:5062  253",
        ]
    );
    let lines = fixture("asterisk-services.log");
    let mut p = parser(LogFormat::Asterisk);
    let Parsed::Event(e) = p.parse(&lines[1]) else { panic!() };
    assert_eq!(
        (e.method, e.transport, e.name),
        (Some(&b"AMI"[..]), Some(crate::event::Transport::Tcp), &b"failed to authenticate as"[..])
    );
    let Parsed::Event(e) = p.parse(&lines[7]) else { panic!() };
    assert_eq!(e.method, Some(&b"INVITE"[..]));
    // Every line kind's stored name is one the store and the wire accept.
    for kind in [
        LineKind::AsteriskSecurity,
        LineKind::ChanSip,
        LineKind::Pjsip,
        LineKind::Manager,
        LineKind::Iax2,
        LineKind::Dialplan,
        LineKind::Sofia,
    ] {
        assert!(crate::event::record::LOG_ORIGINS.contains(&kind.as_str()), "{}", kind.as_str());
    }
}

#[test]
fn injected_service_fields_do_not_move_the_source() {
    let m = "[2024-01-10 12:39:00] NOTICE[4242]: manager.c:2350 authenticate: ";
    // The account (after the address) holds a whole fake notice.
    let line = format!("{m}203.0.113.50 failed to authenticate as 'x: 6.6.6.6 failed to authenticate as 'y'");
    let mut parsed = parser(LogFormat::Asterisk);
    let Parsed::Event(e) = parsed.parse(line.as_bytes()) else { panic!() };
    assert_eq!((e.src, e.injected), ("203.0.113.50:0".parse().unwrap(), true));
    // No address where the PBX puts it: refused, not searched for elsewhere.
    let line = format!("{m}somehost failed to authenticate as '6.6.6.6'");
    assert_eq!(src_of(LogFormat::Asterisk, &line), Err("refused:malformed".into()));
    let i = "[2024-01-10 12:39:05] NOTICE[4243] chan_iax2.c: ";
    // The peer name holds `(from 6.6.6.6)`: the line's end is the PBX's.
    let line = format!("{i}No registration for peer 'a' (from 6.6.6.6)' (from 203.0.113.51)");
    assert_eq!(src_of(LogFormat::Asterisk, &line), Ok("203.0.113.51:0".parse().unwrap()));
    let line = format!("{i}No registration for peer 'a' (from 203.0.113.51)' (from 6.6.6.6) trailing");
    assert_eq!(src_of(LogFormat::Asterisk, &line), Err("refused:malformed".into()));
    let line = format!("{i}Host 203.0.113.51 failed to authenticate as 'Host 6.6.6.6 failed to authenticate as 'z'");
    assert_eq!(src_of(LogFormat::Asterisk, &line), Ok("203.0.113.51:0".parse().unwrap()));
    // FreePBX: the dialled extension before the warning holds a fake one.
    let w = "[2024-01-10 12:39:07] WARNING[4244][C-00000040] Ext. ";
    let line = format!(
        r#"{w}Rejecting unknown SIP connection from 6.6.6.6: "Rejecting unknown SIP connection from 203.0.113.52""#
    );
    assert_eq!(src_of(LogFormat::Asterisk, &line), Ok("203.0.113.52:0".parse().unwrap()));
    // A bare IPv6 address whose last group is all digits is not an address and a port.
    let line = format!(r#"{w}s: "Rejecting unknown SIP connection from 2001:db8:bad::52:5060""#);
    assert_eq!(src_of(LogFormat::Asterisk, &line), Ok("[2001:db8:bad::52:5060]:0".parse().unwrap()));
    let line = format!(r#"{w}s: "Rejecting unknown SIP connection from 203.0.113.52" and 6.6.6.6"#);
    assert_eq!(src_of(LogFormat::Asterisk, &line), Err("refused:malformed".into()));
}

#[test]
fn freeswitch_sofia() {
    assert_eq!(
        summaries(LogFormat::FreeSwitch, "freeswitch.log"),
        [
            "freeswitch_sofia wrong_password 203.0.113.30:0 100 124.123456",
            "freeswitch_sofia challenge 203.0.113.31:0 0046701234567 125",
            "freeswitch_sofia unknown_user 203.0.113.32:0 1000 126",
            "ignored",
            "ignored",
            "freeswitch_sofia wrong_password [2001:db8:bad::33]:0 101 127",
            "freeswitch_sofia wrong_password 203.0.113.34:0 102 128",
            "ignored",
            "freeswitch_sofia wrong_password 203.0.113.35:0 103 130",
        ]
    );
    // The other format's lines are not read.
    assert!(summaries(LogFormat::Asterisk, "freeswitch.log").iter().all(|s| s == "ignored"));
}

fn src_of(format: LogFormat, line: &str) -> Result<SocketAddr, String> {
    match parser(format).parse(line.as_bytes()) {
        Parsed::Event(e) => Ok(e.src),
        other => Err(summary(&other)),
    }
}

const PREFIX: &str = "[2024-01-10 12:34:56] SECURITY[4242] res_security_log.c: ";
const FAKE: &str = r#"LocalAddress="IPV4/UDP/192.0.2.10/5060",RemoteAddress="IPV4/UDP/6.6.6.6/5060""#;

/// A Call-ID (PJSIP's SessionID) or account holding a whole fake address pair never moves
/// the source: for events where only PBX text follows the addresses, the last pair is the
/// PBX's.
#[test]
fn injected_security_fields_do_not_move_the_source() {
    let real = r#"LocalAddress="IPV4/UDP/192.0.2.10/5060",RemoteAddress="IPV4/UDP/203.0.113.5/5071""#;
    let head = r#"SecurityEvent="InvalidAccountID",EventTV="2024-01-10T12:34:56.000+0000",Severity="Error",Service="PJSIP",EventVersion="1""#;
    for (account, session, shaped) in [
        (format!(r#"x",{FAKE},AccountID="x"#), "s".to_owned(), true),
        ("100".to_owned(), format!(r#"abc",{FAKE},SessionID="abc"#), true),
        ("100".to_owned(), format!(r#"abc",{FAKE},X="y"#), true),
        // Not even shaped like the PBX's pair (a quote follows it).
        (format!(r#"RemoteAddress="IPV4/UDP/6.6.6.6/5060",{FAKE}"#), FAKE.to_owned(), false),
    ] {
        let line = format!(r#"{PREFIX}{head},AccountID="{account}",SessionID="{session}",{real}"#);
        assert_eq!(src_of(LogFormat::Asterisk, &line), Ok("203.0.113.5:5071".parse().unwrap()), "{line}");
        let mut p = parser(LogFormat::Asterisk);
        let Parsed::Event(e) = p.parse(line.as_bytes()) else { panic!() };
        assert_eq!(e.injected, shaped, "{line}");
    }
    // A session ID that is only a RemoteAddress (no pair) is not an address at all.
    let line = format!(
        r#"{PREFIX}{head},AccountID="1",SessionID="RemoteAddress="IPV4/UDP/6.6.6.6/5060"",{real},Module="chan_pjsip""#
    );
    assert_eq!(src_of(LogFormat::Asterisk, &line), Ok("203.0.113.5:5071".parse().unwrap()));
}

/// When attacker text may stand on both sides of the addresses (InvalidPassword's
/// ReceivedHash), a second pair that disagrees makes the line ambiguous: refused, never
/// attributed to 6.6.6.6.
#[test]
fn injection_on_both_sides_is_refused_not_attributed() {
    let head = r#"SecurityEvent="InvalidPassword",EventTV="2024-01-10T12:34:56.000+0000",Severity="Error",Service="PJSIP",EventVersion="2",AccountID="100""#;
    let real = r#"LocalAddress="IPV4/UDP/192.0.2.10/5060",RemoteAddress="IPV4/UDP/203.0.113.5/5071""#;
    let tail = r#"Challenge="n",ReceivedChallenge="n""#;
    let after = format!(r#"{PREFIX}{head},SessionID="c",{real},{tail},ReceivedHash="h",{FAKE},X="""#);
    let before = format!(r#"{PREFIX}{head},SessionID="c",{FAKE},SessionID="c",{real},{tail},ReceivedHash="h""#);
    for line in [after, before] {
        assert_eq!(src_of(LogFormat::Asterisk, &line), Err("refused:ambiguous_source".into()), "{line}");
    }
    // The same injection repeating the real address changes nothing.
    let same = format!(r#"{PREFIX}{head},SessionID="c",{real},{tail},ReceivedHash="h",{real}"#);
    assert_eq!(src_of(LogFormat::Asterisk, &same), Ok("203.0.113.5:5071".parse().unwrap()));
}

#[test]
fn injected_notice_fields_do_not_move_the_source() {
    let n = "[2024-01-10 12:36:01] NOTICE[1873] chan_sip.c: ";
    // A To header holding a whole fake failure: the last `' failed for '` is the PBX's.
    let line = format!(
        "{n}Registration from '<sip:1@h>' failed for '6.6.6.6:5060' - Wrong password' failed for '203.0.113.21:5060' - Wrong password"
    );
    assert_eq!(src_of(LogFormat::Asterisk, &line), Ok("203.0.113.21:5060".parse().unwrap()));
    // A PJSIP Call-ID holding a fake address and reason.
    let p = "[2024-01-10 12:36:04] NOTICE[4242] res_pjsip/pjsip_distributor.c:676 in log_failed_request: ";
    let line = format!(
        "{p}Request 'REGISTER' from '<sip:500@192.0.2.10>' failed for '203.0.113.22:5060' (callid: x' failed for '6.6.6.6:5060' (callid: y) - Failed to authenticate) - No matching endpoint found"
    );
    let mut parsed = parser(LogFormat::Asterisk);
    let Parsed::Event(e) = parsed.parse(line.as_bytes()) else { panic!() };
    assert_eq!((e.src, e.happened), ("203.0.113.22:5060".parse().unwrap(), Happened::Attempt("unknown_user")));
    assert!(e.injected);
    // Here 6.6.6.6 is where the packet came from, and the Call-ID holds 203.0.113.22: the
    // first `' failed for '` is still the PBX's.
    let line = format!(
        "{p}Request 'REGISTER' from '<sip:a@b>' failed for '6.6.6.6:5060' (callid: q) - x' failed for '203.0.113.22:5060' (callid: c) - No matching endpoint found"
    );
    assert_eq!(src_of(LogFormat::Asterisk, &line), Ok("6.6.6.6:5060".parse().unwrap()));
    // Only the PBX's address is directly followed by `' (callid: `: a From holding a fake
    // `failed for` without one does not move the source.
    let line = format!(
        "{p}Request 'REGISTER' from '<sip:a' failed for '6.6.6.6:5060' b@c>' failed for '203.0.113.22:5060' (callid: c) - No matching endpoint found"
    );
    assert_eq!(src_of(LogFormat::Asterisk, &line), Ok("203.0.113.22:5060".parse().unwrap()));
    // A quoted display name holding a whole fake address and Call-ID, with and without a
    // method, with an escaped quote inside: the address after the display name is the PBX's.
    for head in ["Request 'REGISTER' from", "Request from"] {
        let line = format!(
            r#"{p}{head} '"x' failed for '6.6.6.6:5060' (callid: \" y" <sip:100@h>' failed for '203.0.113.22:5060' (callid: c) - Failed to authenticate"#
        );
        let mut parsed = parser(LogFormat::Asterisk);
        let Parsed::Event(e) = parsed.parse(line.as_bytes()) else { panic!("{line}") };
        assert_eq!((e.src, e.username, e.injected), ("203.0.113.22:5060".parse().unwrap(), Some(&b"100"[..]), true));
    }
    // A display name whose quote never closes is cut short.
    let line = format!(r#"{p}Request from '"x' failed for '6.6.6.6:5060' (callid: c) - Failed to authenticate"#);
    assert_eq!(src_of(LogFormat::Asterisk, &line), Err("refused:malformed".into()));
    // res_pjsip's call lines: the extension (the attacker's) holds a fake address.
    let s = "[2024-01-10 12:38:04] NOTICE[4242] res_pjsip_session.c: ";
    let line = format!(
        "{s}anonymous: Call (UDP:203.0.113.43:5080) to extension '1: Call (UDP:6.6.6.6:5060) to extension '2' rejected because extension not found in context 'x'."
    );
    let mut parsed = parser(LogFormat::Asterisk);
    let Parsed::Event(e) = parsed.parse(line.as_bytes()) else { panic!() };
    assert_eq!((e.src, e.injected), ("203.0.113.43:5080".parse().unwrap(), true));
    let line = format!(
        "{s}Call from 'anonymous' (TCP:203.0.113.42:5060) to extension '1' (UDP:6.6.6.6:5060) to extension '2' rejected because extension not found in context 'x'."
    );
    assert_eq!(src_of(LogFormat::Asterisk, &line), Err("refused:ambiguous_source".into()));
    // chan_sip's call line: caller name and extension both hold a fake address.
    let c = "[2024-01-10 12:36:00] NOTICE[1873] chan_sip.c: ";
    let line = format!(
        "{c}Call from 'x' (6.6.6.6:5060) to extension '1' (203.0.113.20:5070) to extension '2' rejected because extension not found in context 'public'."
    );
    assert_eq!(src_of(LogFormat::Asterisk, &line), Err("refused:ambiguous_source".into()));
    // FreeSWITCH: the user holds `from ip`; the line's end is the PBX's.
    let line = "2024-01-10 12:37:00.123456 [WARNING] sofia_reg.c:1794 SIP auth failure (REGISTER) on sofia profile 'internal' for [1] from ip 6.6.6.6@x] from ip 203.0.113.30";
    assert_eq!(src_of(LogFormat::FreeSwitch, line), Ok("203.0.113.30:0".parse().unwrap()));
    let line = "2024-01-10 12:37:00.123456 [WARNING] sofia_reg.c:3210 Can't find user [1@x] from 6.6.6.6 [1@x] from 203.0.113.32";
    assert_eq!(src_of(LogFormat::FreeSwitch, line), Ok("203.0.113.32:0".parse().unwrap()));
}

/// A whole line of another format written into an attacker's field never decides how the
/// line is read: the marker first in the line is the PBX's own.
#[test]
fn a_fake_line_inside_a_field_does_not_choose_the_parser() {
    let fake_security = r#"SecurityEvent="InvalidPassword",EventTV="1-0",AccountID="1",LocalAddress="IPV4/UDP/192.0.2.10/5060",RemoteAddress="IPV4/UDP/6.6.6.6/5060""#;
    let fake_pjsip =
        "Request 'REGISTER' from '<sip:1@h>' failed for '6.6.6.6:5060' (callid: c) - Failed to authenticate";
    let n = "[2024-01-10 12:36:01] NOTICE[1873] chan_sip.c: ";
    // A To header holding a security event.
    let line =
        format!("{n}Registration from '<sip:{fake_security}@h>' failed for '203.0.113.21:5060' - Wrong password");
    assert_eq!(src_of(LogFormat::Asterisk, &line), Ok("203.0.113.21:5060".parse().unwrap()));
    // A dialled extension holding a PJSIP failure.
    let line = format!(
        "{n}Call from '' (203.0.113.20:5070) to extension '{fake_pjsip}' rejected because extension not found in context 'public'."
    );
    let mut p = parser(LogFormat::Asterisk);
    let Parsed::Event(e) = p.parse(line.as_bytes()) else { panic!("{line}") };
    assert_eq!((e.src, e.happened), ("203.0.113.20:5070".parse().unwrap(), Happened::Attempt("extension_not_found")));
    // An AMI account holding a registration failure.
    let line = "[2024-01-10 12:39:01] NOTICE[4242]: manager.c:2387 authenticate: 203.0.113.50 failed to authenticate as 'Registration from '<sip:1@h>' failed for '6.6.6.6:5060' - Wrong password'";
    assert_eq!(src_of(LogFormat::Asterisk, line), Ok("203.0.113.50:0".parse().unwrap()));
    // FreePBX: the extension (before the warning) holds a registration failure.
    let line = r#"[2024-01-10 12:39:07] WARNING[4244][C-00000040] Ext. Registration from '<sip:1@h>' failed for '6.6.6.6:5060' - Wrong password: "Rejecting unknown SIP connection from 203.0.113.52""#;
    assert_eq!(src_of(LogFormat::Asterisk, line), Ok("203.0.113.52:0".parse().unwrap()));
    // Another dialplan line is not read.
    let line = "[2024-01-10 12:39:07] VERBOSE[4244][C-00000040] Ext. 100:1 in @ from-internal: Dial(\"PJSIP/100\")";
    assert_eq!(parser(LogFormat::Asterisk).parse(line.as_bytes()), Parsed::Ignored);
    // FreeSWITCH: a user holding the other marker.
    let line = "2024-01-10 12:37:00.123456 [WARNING] sofia_reg.c:3210 Can't find user [SIP auth failure (REGISTER) on sofia profile 'x' for [1@h] from ip 6.6.6.6@x] from 203.0.113.32";
    assert_eq!(src_of(LogFormat::FreeSwitch, line), Ok("203.0.113.32:0".parse().unwrap()));
}

/// Lines of thousands of markers cost linear time: the searches after each marker are bounded
/// by an address's length.
#[test]
fn many_markers_in_one_line_are_read_in_bounded_work() {
    let p = "[2024-01-10 12:36:04] NOTICE[4242] res_pjsip/pjsip_distributor.c: ";
    let noise = "' failed for '".repeat(1_000);
    let line = format!("{p}Request 'REGISTER' from '<sip:1@h>{noise}' failed for '203.0.113.22:5060' (callid: c) - Failed to authenticate");
    assert_eq!(src_of(LogFormat::Asterisk, &line), Ok("203.0.113.22:5060".parse().unwrap()));
    let c = "[2024-01-10 12:36:00] NOTICE[1873] chan_sip.c: ";
    let noise = ") to extension '".repeat(1_000);
    let line = format!("{c}Call from 'x' (203.0.113.20:5070) to extension '{noise}' rejected because extension not found in context 'p'.");
    assert_eq!(src_of(LogFormat::Asterisk, &line), Ok("203.0.113.20:5070".parse().unwrap()));
}

#[test]
fn truncated_and_mangled_lines_are_refused() {
    let mut p = parser(LogFormat::Asterisk);
    for name in ["asterisk-security.log", "asterisk-messages.log", "asterisk-pjsip.log", "asterisk-services.log"] {
        for line in fixture(name) {
            for cut in 0..line.len() {
                // Never panics; a cut line is either still whole enough, ignored or refused.
                let _ = p.parse(&line[..cut]);
            }
        }
    }
    let cut = br#"[x] SECURITY[1] res_security_log.c: SecurityEvent="InvalidAccountID",EventTV="1-0",AccountID="1",LocalAddress="IPV4/UDP/192.0.2.10/5060",RemoteAddress="IPV4/UDP/203.0.11"#;
    assert_eq!(p.parse(cut), Parsed::Refused(Refusal::Malformed));
    let mut f = parser(LogFormat::FreeSwitch);
    for line in fixture("freeswitch.log") {
        for cut in 0..line.len() {
            let _ = f.parse(&line[..cut]);
        }
    }
}

#[test]
fn non_utf8_and_colour_codes() {
    let mut line = b"[2024-01-10 12:36:01] NOTICE[1] chan_sip.c: Registration from '<sip:\xff\xfe@h>' failed for '203.0.113.21:5060' - Wrong password".to_vec();
    let mut p = parser(LogFormat::Asterisk);
    let Parsed::Event(e) = p.parse(&line) else { panic!() };
    assert_eq!(e.username, Some(&b"\xff\xfe"[..]));
    let record = to_record(&e, &line, &record::LineSource { sensor: "s", file: "f", fallback_ns: 0 }, 1).unwrap();
    assert_eq!(record.username, "\\xff\\xfe");
    assert_eq!(record.log.unwrap().line, line);
    // An escape sequence split across the whole line end, and a lone ESC.
    line.extend_from_slice(b"\x1b[");
    assert!(matches!(parser(LogFormat::Asterisk).parse(&line), Parsed::Event(_) | Parsed::Refused(_)));
    assert_eq!(parser(LogFormat::Asterisk).parse(b"\x1b"), Parsed::Ignored);
}

#[test]
fn records_carry_origin_and_fill_in_visibly() {
    let lines = fixture("freeswitch.log");
    let mut p = parser(LogFormat::FreeSwitch);
    let source = record::LineSource { sensor: "pbx1", file: "/var/log/freeswitch.log", fallback_ns: 7 };
    let Parsed::Event(e) = p.parse(&lines[0]) else { panic!() };
    let r = to_record(&e, &lines[0], &source, 42).unwrap();
    assert_eq!((r.id, r.outcome, r.method.as_str(), r.username.as_str()), (42, "wrong_password", "REGISTER", "100"));
    assert_eq!(r.ctx.dst, "0.0.0.0:0".parse().unwrap());
    assert_eq!(r.ctx.ts_ns, T + 124_123_456_000);
    let log = r.log.unwrap();
    assert_eq!((log.origin, log.file.as_str()), ("freeswitch_sofia", "/var/log/freeswitch.log"));
    // A challenge is not an attempt.
    let Parsed::Event(e) = p.parse(&lines[1]) else { panic!() };
    assert!(to_record(&e, &lines[1], &source, 43).is_none());
}

#[test]
fn every_attempt_outcome_in_the_fixtures_is_one_records_carry() {
    let outcomes = crate::event::record::AUTH_ATTEMPT_OUTCOMES;
    let files = [
        (LogFormat::Asterisk, "asterisk-security.log"),
        (LogFormat::Asterisk, "asterisk-messages.log"),
        (LogFormat::Asterisk, "asterisk-pjsip.log"),
        (LogFormat::Asterisk, "asterisk-services.log"),
        (LogFormat::FreeSwitch, "freeswitch.log"),
    ];
    let mut seen = std::collections::BTreeSet::new();
    for (format, name) in files {
        let mut p = parser(format);
        for line in fixture(name) {
            if let Parsed::Event(LogEvent { happened: Happened::Attempt(o), .. }) = p.parse(&line) {
                assert!(outcomes.contains(&o), "{name}: {o} is not a record outcome");
                seen.insert(o);
            }
        }
    }
    // The fixtures reach the outcomes the logs can say, `extension_not_found` among them.
    for o in ["accepted", "refused", "wrong_password", "unknown_user", "malformed", "extension_not_found"] {
        assert!(seen.contains(o), "no fixture line says {o}");
    }
}
