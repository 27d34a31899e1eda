//! The rules inside the honeypot, against the real tools (127.0.215.0/24): svwar's enumeration
//! and svcrack's guessing raise their alerts, stored with evidence that names the stored
//! events; svcrack echoes the nonces it was sent, so its address is proven; sipsak over TCP is
//! proven by its handshake.

use super::harness::{tool, Honeypot};

#[test]
fn real_tools_raise_their_alerts_inside_the_honeypot() {
    let mut hp = Honeypot::start(&[("udp", "127.0.215.2", 5060), ("tcp", "127.0.215.2", 5060)], "");
    tool("sipvicious_svwar", &["-e100-140", "-m", "REGISTER", "127.0.215.2"], 60);
    tool("sipvicious_svcrack", &["-u101", "-r1-30", "127.0.215.2"], 60);
    tool("sipsak", &["-s", "sip:100@127.0.215.2", "--transport=tcp"], 30);
    let (summary, _) = hp.stop();
    assert!(summary["received"].as_u64().unwrap() > 60, "{summary}");
    let alerts = hp.rows("SELECT rule_id, proven FROM alerts GROUP BY rule_id, proven ORDER BY rule_id");
    let has = |rule: &str, proven: &str| alerts.iter().any(|r| r[0] == rule && r[1] == proven);
    assert!(has("sipscope/enum-answers", "0"), "{alerts:?}");
    assert!(has("sipscope/attack-agent", "0") || has("sipscope/attack-agent", "1"), "{alerts:?}");
    // svcrack echoes every nonce it gets: its guesses come from a proven address.
    assert!(has("sipscope/guess-source", "1"), "{alerts:?}");
    assert!(has("sipscope/pbx-failed-logins", "1"), "the honeypot's records: {alerts:?}");
    // sipsak over TCP: the handshake proves it (its agent names a test tool).
    assert_eq!(
        hp.count("SELECT count(*) FROM alerts WHERE rule_id = 'sipscope/attack-agent' AND transport = 'tcp' AND proven = 1"),
        1
    );
    // Every piece of evidence names a stored event of the same time and addresses.
    let unresolved = hp.count("SELECT count(*) FROM alert_evidence WHERE event_id IS NULL");
    let resolved = hp.count(
        "SELECT count(*) FROM alert_evidence e JOIN events v ON v.id = e.event_id AND v.ts_ns = e.ts_ns AND v.src_ip = e.src_ip",
    );
    assert_eq!(unresolved, 0);
    assert!(resolved >= 4, "{resolved}");
}
