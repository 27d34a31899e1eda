//! SIPVicious 0.3.8 (svmap, svwar, svcrack) against the honeypot.

use super::harness::{text, tool, Honeypot};

#[test]
fn svmap_finds_exactly_the_served_addresses_with_the_profiles_user_agent() {
    let served = ["127.0.10.2", "127.0.10.5", "127.0.10.9"];
    let listen: Vec<_> = served.iter().map(|a| ("udp", *a, 5060)).collect();
    let mut hp = Honeypot::start(&listen, "");
    let out = tool("sipvicious_svmap", &["-b", "127.0.10.1", "127.0.10.1-127.0.10.20"], 60);
    let report = text(&out);
    let found: Vec<&str> = report
        .lines()
        .filter(|l| l.contains("Asterisk PBX 16.28.0"))
        .filter_map(|l| l.split('|').nth(1))
        .map(str::trim)
        .collect();
    let expected: Vec<String> = served.iter().map(|a| format!("{a}:5060")).collect();
    assert_eq!(found, expected, "{report}");
    hp.stop();
    let hit = hp.rows("SELECT DISTINCT dst_ip FROM events WHERE direction = 'in' ORDER BY dst_ip");
    assert_eq!(hit, served.iter().map(|a| vec![a.to_string()]).collect::<Vec<_>>());
    assert_eq!(hp.count("SELECT count(*) FROM events WHERE direction = 'out' AND status = 200"), 3);
    assert_eq!(hp.count("SELECT count(*) FROM events WHERE user_agent = 'friendly-scanner'"), 3);
}
