//! The rules inside the honeypot, against the real tools (127.0.215.0/24): svwar's enumeration
//! and svcrack's guessing raise their alerts, stored with evidence that names the stored
//! events. svwar never echoes what it is sent (its address stays unproven, as a spoofed one
//! would); svcrack echoes the nonces it was sent, so its address is proven; sipsak over TCP is
//! proven by its handshake. (The tools all send from 127.0.0.1, so each runs against a
//! honeypot of its own.)

use super::harness::{tool, Honeypot};

/// `(rule, proven)` of every alert, and the evidence rows that do not name their stored event.
fn alerts_of(hp: &Honeypot) -> (Vec<(String, String)>, i64) {
    let rows = hp.rows("SELECT DISTINCT rule_id, proven FROM alerts ORDER BY rule_id, proven");
    let unresolved = hp.count(
        "SELECT count(*) FROM alert_evidence e LEFT JOIN events v ON v.id = e.event_id AND v.ts_ns = e.ts_ns \
         AND v.src_ip = e.src_ip WHERE v.id IS NULL",
    );
    (rows.into_iter().map(|r| (r[0].clone(), r[1].clone())).collect(), unresolved)
}

fn has(alerts: &[(String, String)], rule: &str, proven: &str) -> bool {
    alerts.iter().any(|(r, p)| r == rule && p == proven)
}

#[test]
fn svwar_enumeration_raises_unproven_alerts_in_the_honeypot() {
    let mut hp = Honeypot::start(&[("udp", "127.0.215.2", 5060)], "");
    tool("sipvicious_svwar", &["-e100-140", "-m", "REGISTER", "127.0.215.2"], 60);
    hp.stop();
    let (alerts, unresolved) = alerts_of(&hp);
    assert!(has(&alerts, "sipscope/enum-answers", "0"), "{alerts:?}");
    assert!(has(&alerts, "sipscope/enum-requests", "0"), "{alerts:?}");
    assert!(has(&alerts, "sipscope/attack-agent", "0"), "{alerts:?}");
    assert!(!alerts.iter().any(|(_, p)| p == "1"), "svwar echoes nothing: {alerts:?}");
    assert_eq!(unresolved, 0, "every piece of evidence names its stored event");
}

#[test]
fn svcrack_guessing_raises_proven_alerts_and_sipsak_over_tcp_is_proven() {
    let mut hp = Honeypot::start(&[("udp", "127.0.215.3", 5060), ("tcp", "127.0.215.3", 5060)], "");
    tool("sipvicious_svcrack", &["-u101", "-r1-30", "127.0.215.3"], 60);
    hp.stop();
    let (alerts, unresolved) = alerts_of(&hp);
    // svcrack echoes every nonce it gets: its guesses come from a proven address.
    assert!(has(&alerts, "sipscope/guess-source", "1"), "{alerts:?}");
    assert!(has(&alerts, "sipscope/pbx-failed-logins", "1"), "the honeypot's records: {alerts:?}");
    assert_eq!(unresolved, 0);
    let mut hp = Honeypot::start(&[("tcp", "127.0.215.4", 5060)], "");
    tool("sipsak", &["-s", "sip:100@127.0.215.4", "--transport=tcp"], 30);
    hp.stop();
    let (alerts, _) = alerts_of(&hp);
    assert_eq!(alerts, [("sipscope/attack-agent".to_owned(), "1".to_owned())], "the TCP handshake proves sipsak");
}
