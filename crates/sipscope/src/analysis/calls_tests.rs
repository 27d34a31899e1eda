//! Toll fraud, dialled numbers and the counts of issue 13 with the real tools' messages: the
//! exchanges recorded against the honeypot (`tests/fixtures/exchanges/`, requests and answers)
//! and the requests-only recordings (`crates/sip/tests/fixtures/tools/`). A probe INVITE
//! (svwar's calibration call to a random number, nmap's and svmap's pings) is extension or
//! server scanning; only a call from a caller to another number is toll fraud and a dialled
//! number.

use super::engine::{AnalysisConfig, Analyzer};
use super::engine_tests::event;
use super::result::AnalysisResult;
use crate::event::Direction;
use std::net::IpAddr;

const S: i64 = 1_000_000_000;
const T0: i64 = 1_796_000_000 * S;
const ATTACKER: &str = "192.0.2.66";
const NODE: &str = "198.51.100.1";

/// The messages of an exchange folder in order: (received by the PBX, raw bytes).
fn exchange(folder: &str) -> Vec<(bool, Vec<u8>)> {
    let dir = format!("{}/tests/fixtures/exchanges/{folder}", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files.iter().map(|p| (p.to_str().unwrap().ends_with(".in.sip"), std::fs::read(p).unwrap())).collect()
}

/// The requests of a tools fixture folder, in order.
fn requests(folder: &str) -> Vec<(bool, Vec<u8>)> {
    let dir = format!("{}{folder}", crate::test_support::TOOL_FIXTURES);
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files.iter().map(|p| (true, std::fs::read(p).unwrap())).collect()
}

/// Replays messages between the attacker and node `n1`, a millisecond apart.
fn replay(a: &mut Analyzer, t0: i64, messages: &[(bool, Vec<u8>)]) {
    for (i, (inbound, raw)) in messages.iter().enumerate() {
        let (src, dst, direction) =
            if *inbound { (ATTACKER, NODE, Direction::In) } else { (NODE, ATTACKER, Direction::Out) };
        let ev = event(t0 + i as i64 * 1_000_000, src, dst, Some("n1"), direction, raw.clone());
        let msg = sipscope_sip::parse(&ev.raw).ok();
        a.observe(&ev, msg.as_ref());
    }
}

fn analyse(messages: &[(bool, Vec<u8>)]) -> AnalysisResult {
    let mut a = Analyzer::new(AnalysisConfig::default());
    replay(&mut a, T0, messages);
    a.finish()
}

/// The stages the attacker reached overall.
fn stages(r: &AnalysisResult) -> Vec<&'static str> {
    r.stages.iter().filter(|s| s.node.is_none()).map(|s| s.stage).collect()
}

fn detail(r: &AnalysisResult, stage: &str, key: &str) -> u64 {
    let row = r.stages.iter().find(|s| s.node.is_none() && s.stage == stage).unwrap();
    row.detail[key]
}

#[test]
fn svwar_calibration_and_enumeration_invites_are_extension_scanning() {
    // Calibration INVITE to 4047666786 (Request-URI, From and To users the same random
    // number), then 46701234560..62: all numbers by their shape, none a call.
    let r = analyse(&exchange("svwar-invite-numbers"));
    assert_eq!(stages(&r), ["extension_scan"], "{:?}", r.stages);
    assert_eq!((detail(&r, "extension_scan", "users_asked"), detail(&r, "extension_scan", "users_missing")), (4, 4));
    assert!(r.numbers.is_empty(), "no dialled number: {:?}", r.numbers);
    assert_eq!(r.flows[0].dialled, 0);
    assert!(r.dialled.iter().all(|d| d.number.is_none() && d.number_country.is_none()), "{:?}", r.dialled);
    assert_eq!(r.dialled.iter().map(|d| d.invites).sum::<u64>(), 4, "the INVITEs are still counted as sent");
    // The recording of svwar -e100-105 -m INVITE: its calibration INVITE goes to 315166985.
    let r = analyse(&requests("svwar-invite"));
    assert_eq!(stages(&r), ["extension_scan"]);
    assert!(r.numbers.is_empty());
}

#[test]
fn a_registered_call_to_a_number_is_toll_fraud_one_call_of_two_invites() {
    let r = analyse(&exchange("sipp-call-number"));
    assert_eq!(stages(&r), ["registration_hijacking", "toll_fraud"]);
    let hijack = r.stages.iter().find(|s| s.node.is_none() && s.stage == "registration_hijacking").unwrap();
    // One credentialed REGISTER, accepted: one attempt (the 200 is not a second one).
    assert_eq!((hijack.evidence.count, hijack.detail["succeeded"]), (1, 1));
    let fraud = r.stages.iter().find(|s| s.node.is_none() && s.stage == "toll_fraud").unwrap();
    assert_eq!(fraud.evidence.count, 2, "two INVITEs: the first and the authenticated retry");
    let n = &r.numbers[..];
    assert_eq!(n.len(), 1);
    assert_eq!(
        (n[0].number.as_str(), n[0].country.as_deref(), n[0].calls, n[0].invites),
        ("+46701234567", Some("SE"), 1, 2)
    );
    assert_eq!(r.flows[0].dialled, 1);
    let dialled: Vec<_> =
        r.dialled.iter().map(|d| (d.number.as_deref(), d.number_country.as_deref(), d.invites)).collect();
    assert_eq!(dialled, [(Some("+46701234567"), Some("SE"), 2)]);
}

#[test]
fn nmap_call_spoof_and_svmap_invite_pings_dial_nothing() {
    // nmap's INVITE has no Request-URI user and From = To = the "extension", even a number.
    let r = analyse(&exchange("nmap-call-spoof"));
    assert_eq!(stages(&r), ["server_scan"]);
    assert!(r.numbers.is_empty() && r.dialled.is_empty());
    let r = analyse(&exchange("svmap-invite"));
    assert_eq!(stages(&r), ["server_scan"]);
    assert!(r.numbers.is_empty());
    assert_eq!(r.dialled.iter().map(|d| d.number.as_deref()).collect::<Vec<_>>(), [None]);
}

#[test]
fn the_same_campaign_counts_numbers_once_calls_by_dialog() {
    // svwar's probes, then the SIPp call three times (three Call-IDs) from the same source:
    // one number dialled, three calls of two INVITEs each.
    let mut a = Analyzer::new(AnalysisConfig::default());
    replay(&mut a, T0, &exchange("svwar-invite-numbers"));
    for k in 0..3 {
        let call = exchange("sipp-call-number")
            .into_iter()
            .map(|(inbound, raw)| (inbound, replace(&raw, b"1-24447@", format!("{k}-24447@").as_bytes())))
            .collect::<Vec<_>>();
        replay(&mut a, T0 + (k + 1) * S, &call);
    }
    let r = a.finish();
    assert_eq!(r.numbers.len(), 1);
    assert_eq!((r.numbers[0].calls, r.numbers[0].invites), (3, 6));
    assert_eq!(r.flows.iter().map(|f| f.dialled).sum::<u64>(), 1);
    let calls: std::collections::BTreeSet<_> = r.dialled.iter().filter_map(|d| d.number.as_deref()).collect();
    assert_eq!(calls.into_iter().collect::<Vec<_>>(), ["+46701234567"]);
    let source: IpAddr = ATTACKER.parse().unwrap();
    assert!(r.stages.iter().all(|s| s.source == source));
}

/// `raw` with every `from` replaced by `to`.
fn replace(raw: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = raw;
    while let Some(i) = rest.windows(from.len()).position(|w| w == from) {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(to);
        rest = &rest[i + from.len()..];
    }
    out.extend_from_slice(rest);
    out
}
