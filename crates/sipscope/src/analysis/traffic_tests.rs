//! The rollups with the real tools' messages and a simulated clock.

use super::*;

const S: i64 = 1_000_000_000;
const T0: i64 = 1_796_000_000 * S; // 2026-11-30T00:53:20Z

fn fixture(folder: &str, n: usize) -> Vec<u8> {
    let path = format!("{}/../sip/tests/fixtures/tools/{folder}/{n:04}.sip", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(path).unwrap()
}

fn seen(ts_ns: i64, src: &str, node: Option<&'static str>, direction: Direction) -> Seen<'static> {
    Seen {
        ts_ns,
        src: (src.parse().unwrap(), 5061),
        dst: ("198.51.100.1".parse().unwrap(), 5060),
        node,
        direction,
        bytes: 0,
    }
}

fn feed(r: &mut TrafficRollup, ev: Seen<'_>, raw: &[u8]) {
    let msg = sipscope_sip::parse(raw).ok();
    r.observe(&ev, msg.as_ref());
}

#[test]
fn messages_are_counted_per_hour_source_method_and_agent() {
    let mut r = TrafficRollup::default();
    let svmap = fixture("svmap", 1);
    for i in 0..5 {
        feed(&mut r, seen(T0 + i * S, "192.0.2.7", Some("n1"), Direction::In), &svmap);
    }
    // The next hour, another node, and a datagram that is not SIP.
    feed(&mut r, seen(T0 + 3600 * S, "192.0.2.7", Some("n2"), Direction::In), &svmap);
    feed(&mut r, seen(T0 + 3600 * S, "192.0.2.7", Some("n2"), Direction::In), b"\xff\xfe garbage");
    let (traffic, dialled) = r.drain_all();
    assert!(dialled.is_empty());
    assert_eq!(traffic.len(), 3, "{traffic:#?}");
    let first = &traffic[0];
    assert_eq!(first.hour, T0 / HOUR_NS);
    assert_eq!((first.kind, first.method.as_deref(), first.direction), ("request", Some("OPTIONS"), "in"));
    assert_eq!(first.user_agent.as_deref(), Some("friendly-scanner"));
    assert_eq!((first.messages, first.first_ns, first.last_ns), (5, T0, T0 + 4 * S));
    assert_eq!(first.node.as_deref(), Some("n1"));
    let kinds: Vec<_> = traffic[1..].iter().map(|t| (t.hour - first.hour, t.kind, t.messages)).collect();
    assert!(kinds.contains(&(1, "invalid", 1)) && kinds.contains(&(1, "request", 1)), "{kinds:?}");
}

#[test]
fn answers_have_no_agent_and_invites_count_per_dialled_user_with_its_country() {
    use crate::analysis::engine::{AnalysisConfig, Analyzer};
    use crate::event::{SipEvent, Transport};
    let mut a = Analyzer::new(AnalysisConfig::default());
    let event = |ts_ns, src: &str, direction, raw: Vec<u8>| SipEvent {
        ts_ns,
        sensor: "t".into(),
        node: None,
        transport: Transport::Udp,
        src: (src.parse().unwrap(), 5061),
        dst: ("198.51.100.1".parse().unwrap(), 5060),
        tunnel: None,
        direction,
        origin: None,
        raw,
    };
    let invite = String::from_utf8(fixture("sipp-uac", 1)).unwrap();
    let to_sweden = invite.replace("sip:service@", "sip:0046701234567@").into_bytes();
    // The honeypot's own answer, and an INVITE it sent (never counted as dialled).
    let answer = b"SIP/2.0 100 Trying\r\nVia: SIP/2.0/UDP a;branch=z9hG4bKx\r\nServer: Asterisk PBX 16.28.0\r\n\
From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: 1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    for ev in [
        event(T0, "192.0.2.9", Direction::In, invite.clone().into_bytes()),
        event(T0 + S, "192.0.2.9", Direction::In, invite.clone().into_bytes()),
        event(T0 + S, "192.0.2.9", Direction::In, to_sweden),
        event(T0 + S, "198.51.100.1", Direction::Out, answer.to_vec()),
        event(T0 + S, "198.51.100.1", Direction::Out, invite.into_bytes()),
    ] {
        let msg = sipscope_sip::parse(&ev.raw).ok();
        a.observe(&ev, msg.as_ref());
    }
    let result = a.finish();
    let dialled: Vec<_> =
        result.dialled.iter().map(|d| (d.user.as_str(), d.number_country.as_deref(), d.invites)).collect();
    assert_eq!(dialled, [("0046701234567", Some("SE"), 1), ("service", None, 2)]);
    let response = result.traffic.iter().find(|t| t.kind == "response").unwrap();
    assert_eq!((response.user_agent.as_ref(), response.method.as_ref(), response.direction), (None, None, "out"));
    assert_eq!(result.traffic.iter().map(|t| t.messages).sum::<u64>(), 5);
}

#[test]
fn non_utf8_agents_are_kept_losslessly() {
    let mut r = TrafficRollup::default();
    let raw = b"OPTIONS sip:100@198.51.100.1 SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bKx\r\nUser-Agent: evil\xff\x1b[2J\r\n\
From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: 1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    feed(&mut r, seen(T0, "192.0.2.1", None, Direction::In), raw);
    let (traffic, _) = r.drain_all();
    assert_eq!(traffic[0].user_agent.as_deref(), Some("evil\\xff\x1b[2J"));
}

#[test]
fn finished_hours_go_out_and_the_current_ones_stay() {
    let mut r = TrafficRollup::default();
    let svmap = fixture("svmap", 1);
    feed(&mut r, seen(T0, "192.0.2.7", None, Direction::In), &svmap);
    feed(&mut r, seen(T0 + 3600 * S, "192.0.2.7", None, Direction::In), &svmap);
    assert!(r.drain_finished().0.is_empty(), "the previous hour may still get late messages");
    feed(&mut r, seen(T0 + 2 * 3600 * S, "192.0.2.7", None, Direction::In), &svmap);
    let (out, _) = r.drain_finished();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].first_ns, T0);
    let (rest, _) = r.drain_all();
    assert_eq!(rest.len(), 2);
    assert_eq!(rest.iter().map(|t| t.messages).sum::<u64>(), 2);
}

#[test]
fn a_full_table_hands_everything_over_and_counts_stay_exact() {
    let mut r = TrafficRollup::default();
    let svmap = fixture("svmap", 1);
    let msg = sipscope_sip::parse(&svmap).unwrap();
    let mut handed = 0u64;
    // Every source new: the table fills, is emptied, and fills again; nothing is lost.
    let total = MAX_ENTRIES as u32 + 1000;
    for i in 0..total {
        let src = std::net::Ipv4Addr::from(0x0a00_0000 + i).to_string();
        r.observe(&seen(T0, &src, None, Direction::In), Some(&msg));
        if r.full() {
            handed += r.drain_finished().0.iter().map(|t| t.messages).sum::<u64>();
            assert!(!r.full());
        }
    }
    handed += r.drain_all().0.iter().map(|t| t.messages).sum::<u64>();
    assert_eq!(handed, u64::from(total));
}

/// An OPTIONS from 192.0.2.66 whose User-Agent is `ua`.
fn options_with_agent(ua: &str) -> Vec<u8> {
    format!(
        "OPTIONS sip:100@198.51.100.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.66:5061;branch=z9hG4bK1\r\n\
         From: <sip:a@192.0.2.66>;tag=1\r\nTo: <sip:100@198.51.100.1>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\n\
         User-Agent: {ua}\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

#[test]
fn long_distinct_agents_fill_the_table_by_bytes_and_are_kept_cut() {
    // Few entries, many bytes: entries alone would never ask for a hand-over.
    let mut r = TrafficRollup::with_limits(1_000_000, 64 << 10, 256);
    let mut asked_after = None;
    for i in 0..300 {
        let ua = format!("{i:05}{}", "A".repeat(15_000));
        feed(&mut r, seen(T0 + i * S, "192.0.2.66", None, Direction::In), &options_with_agent(&ua));
        if asked_after.is_none() && r.full() {
            asked_after = Some(i + 1);
        }
    }
    // 64 KiB of texts of 256 bytes (+ overhead) each: about 200 agents; 15 kB each: 4.
    assert_eq!(asked_after, Some(205), "full by bytes once the cut texts pass 64 KiB");
    assert!(r.approx_bytes() < 512 << 10, "{}", r.approx_bytes());
    let (traffic, _) = r.drain_all();
    assert_eq!(traffic.len(), 300, "distinct agents stay distinct rows");
    for row in &traffic {
        let ua = row.user_agent.as_deref().unwrap();
        assert!(ua.len() <= 256 && ua.contains("…[15005 bytes #"), "{}", ua.len());
    }
}

#[test]
fn agents_within_the_value_limit_are_kept_whole() {
    let mut r = TrafficRollup::default();
    let ua = "x".repeat(256);
    feed(&mut r, seen(T0, "192.0.2.66", None, Direction::In), &options_with_agent(&ua));
    let (traffic, _) = r.drain_all();
    assert_eq!(traffic[0].user_agent.as_deref(), Some(ua.as_str()));
}
