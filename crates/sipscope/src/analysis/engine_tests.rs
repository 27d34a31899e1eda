//! The engine on a simulated clock with the real tools' messages.

use super::engine::{AnalysisConfig, Analyzer};
use crate::event::{Direction, SipEvent, Transport};
use std::net::IpAddr;

const S: i64 = 1_000_000_000;
const T0: i64 = 1_796_000_000 * S;

fn fixture(folder: &str, n: usize) -> Vec<u8> {
    let path = format!("{}/../sip/tests/fixtures/tools/{folder}/{n:04}.sip", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(path).unwrap()
}

/// An event from `src` (port 5061) to `dst` (port 5060); shared with the other engine tests.
pub(super) fn event(
    ts_ns: i64,
    src: &str,
    dst: &str,
    node: Option<&str>,
    direction: Direction,
    raw: Vec<u8>,
) -> SipEvent {
    SipEvent {
        ts_ns,
        sensor: "t".into(),
        node: node.map(str::to_owned),
        transport: Transport::Udp,
        src: (src.parse().unwrap(), 5061),
        dst: (dst.parse().unwrap(), 5060),
        tunnel: None,
        direction,
        origin: None,
        raw,
    }
}

fn feed(a: &mut Analyzer, ev: &SipEvent) {
    let msg = sipscope_sip::parse(&ev.raw).ok();
    a.observe(ev, msg.as_ref());
}

#[test]
fn twenty_minutes_of_silence_split_a_source_into_two_flows() {
    let mut a = Analyzer::new(AnalysisConfig::default());
    let svmap = fixture("svmap", 1);
    feed(&mut a, &event(T0, "192.0.2.7", "198.51.100.1", None, Direction::In, svmap.clone()));
    feed(&mut a, &event(T0 + 19 * 60 * S, "192.0.2.7", "198.51.100.2", None, Direction::In, svmap.clone()));
    // 20 minutes and a second after the last message: a new flow.
    feed(&mut a, &event(T0 + 39 * 60 * S + S, "192.0.2.7", "198.51.100.3", None, Direction::In, svmap.clone()));
    // Another source an hour later makes the engine expire the second flow by event time.
    feed(&mut a, &event(T0 + 120 * 60 * S, "192.0.2.8", "198.51.100.3", None, Direction::In, svmap));
    assert_eq!(a.pending_flows(), 2, "both flows of 192.0.2.7 closed by event time alone");
    let r = a.finish();
    let mine: Vec<(i64, u64)> =
        r.flows.iter().filter(|f| f.source.to_string() == "192.0.2.7").map(|f| (f.first_ns, f.packets)).collect();
    assert_eq!(mine, [(T0, 2), (T0 + 39 * 60 * S + S, 1)]);
    assert_eq!(r.days.iter().filter(|(ip, _, _)| ip.to_string() == "192.0.2.7").map(|d| d.2).sum::<u64>(), 3);
}

#[test]
fn svwar_with_answers_is_an_extension_scan_on_its_node_with_found_and_missing_users() {
    let mut a = Analyzer::new(AnalysisConfig::default());
    let (src, dst) = ("192.0.2.9", "198.51.100.1");
    for i in 1..=7 {
        let req = fixture("svwar", i);
        let ts = T0 + i as i64 * S;
        feed(&mut a, &event(ts, src, dst, Some("n1"), Direction::In, req.clone()));
        // The honeypot's chan_sip answers: 401 for 100 and 101 (files 2 and 3), else 404.
        let msg = sipscope_sip::parse(&req).unwrap();
        let status = if i == 2 || i == 3 { 401 } else { 404 };
        let answer = sipscope_sip::builder::ResponseBuilder::new(&msg, status, "x").to_tag(b"as1").build();
        let mut out = event(ts, dst, src, Some("n1"), Direction::Out, answer);
        out.src.1 = 5060;
        out.dst.1 = 5061;
        feed(&mut a, &out);
    }
    let r = a.finish();
    let stages: Vec<(Option<&str>, &str)> = r.stages.iter().map(|s| (s.node.as_deref(), s.stage)).collect();
    assert_eq!(stages, [(None, "extension_scan"), (Some("n1"), "extension_scan")]);
    let detail = &r.stages[1].detail;
    assert_eq!((detail["users_asked"], detail["users_found"], detail["users_missing"]), (7, 2, 5));
    let flow = &r.flows[0];
    assert_eq!((flow.packets, flow.users, flow.responses.get(&404).copied()), (7, 7, Some(5)));
    assert_eq!(flow.source, src.parse::<IpAddr>().unwrap());
    assert_eq!(flow.ua_class, "attack_tool");
    assert_eq!(r.user_agents[0].user_agent.as_deref(), Some("friendly-scanner"));
}

#[test]
fn open_flows_are_capped_and_evictions_counted() {
    let config = AnalysisConfig { max_open_flows: 3, ..AnalysisConfig::default() };
    let mut a = Analyzer::new(config);
    let svmap = fixture("svmap", 1);
    for i in 0..10u8 {
        feed(
            &mut a,
            &event(T0 + i64::from(i), &format!("192.0.2.{i}"), "198.51.100.1", None, Direction::In, svmap.clone()),
        );
    }
    let r = a.finish();
    assert_eq!((r.flows.len(), r.flows_evicted), (10, 7));
}

#[test]
fn garbage_and_unparsed_events_never_panic() {
    let mut a = Analyzer::new(AnalysisConfig::default());
    for raw in
        [&b""[..], b"\xff\xfe", b"INVITE sip:\xff@x SIP/2.0\r\nTo: <sip:\xfe@x>\r\n\r\n", b"SIP/2.0 200 OK\r\n\r\n"]
    {
        let ev = event(T0, "192.0.2.1", "198.51.100.1", None, Direction::Unknown, raw.to_vec());
        feed(&mut a, &ev);
        a.observe(&ev, None);
    }
    let r = a.finish();
    assert_eq!(r.events, 8);
}

#[test]
fn the_documented_settings_are_the_defaults() {
    let doc = include_str!("../../../../docs/analysis.md");
    let settings = doc.split("## Settings").nth(1).unwrap();
    let toml_block = settings.split("```toml\n").nth(1).unwrap().split("```").next().unwrap();
    let documented: AnalysisConfig = toml::from_str(toml_block).unwrap();
    let d = AnalysisConfig::default();
    assert_eq!(
        (documented.max_traffic_text_bytes, documented.max_value_bytes, documented.max_traffic_entries),
        (d.max_traffic_text_bytes, d.max_value_bytes, d.max_traffic_entries)
    );
    assert_eq!((documented.max_open_flows, documented.max_sources), (d.max_open_flows, d.max_sources));
}

/// The fingerprint table is handed over when it fills (a telescope's random flows each have a
/// fingerprint of their own), so it never holds more than its cap; the rows handed over and
/// the last ones together name every fingerprint.
#[test]
fn a_full_fingerprint_table_is_handed_over() {
    let mut libraries = super::extras::Libraries::builtin();
    libraries.max_fingerprint_rows = 3;
    let mut a = Analyzer::with_libraries(AnalysisConfig::default(), libraries);
    let mut handed = Vec::new();
    for k in 0..10u32 {
        // Each source's message has a header of its own name: a fingerprint of its own. Sources
        // come half an hour apart, so each flow has closed when the next begins.
        let raw = format!(
            "OPTIONS sip:100@198.51.100.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.{k}:5060;branch=z9hG4bK{k}\r\n\
             From: <sip:a@192.0.2.{k}>;tag={k}\r\nTo: <sip:100@198.51.100.1>\r\nCall-ID: {k}\r\nCSeq: 1 OPTIONS\r\n\
             X-Probe-{k}: 1\r\nContent-Length: 0\r\n\r\n"
        );
        let ts = T0 + i64::from(k) * 30 * 60 * S;
        feed(&mut a, &event(ts, &format!("192.0.2.{k}"), "198.51.100.1", None, Direction::In, raw.into_bytes()));
        if a.should_hand_over() {
            let rows = a.hand_over();
            assert!(rows.fingerprints.len() <= 3, "{}", rows.fingerprints.len());
            handed.extend(rows.fingerprints);
        }
    }
    assert!(!handed.is_empty(), "the table filled and was handed over");
    let last = a.finish().fingerprints;
    let mut ids: Vec<String> = handed.iter().chain(&last).map(|f| f.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 10);
}
