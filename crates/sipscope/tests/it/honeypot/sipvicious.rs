//! SIPVicious 0.3.8 (svmap, svwar, svcrack) against the honeypot.

use super::harness::{text, tool, Honeypot};

#[test]
fn svmap_finds_exactly_the_served_addresses_with_the_profiles_user_agent() {
    let served = ["127.0.10.2", "127.0.10.5", "127.0.10.9"];
    let listen: Vec<_> = served.iter().map(|a| ("udp", *a, 5060)).collect();
    let mut hp = Honeypot::start(&listen, "");
    let out = tool("sipvicious_svmap", &["-b", "127.0.10.1", "127.0.10.1-127.0.10.20"], 60);
    let report = text(&out);
    let mut found: Vec<&str> = report
        .lines()
        .filter(|l| l.contains("Asterisk PBX 16.28.0"))
        .filter_map(|l| l.split('|').nth(1))
        .map(str::trim)
        .collect();
    // svmap lists devices in the order their answers arrived, which a busy machine changes.
    found.sort_unstable();
    let expected: Vec<String> = served.iter().map(|a| format!("{a}:5060")).collect();
    assert_eq!(found, expected, "{report}");
    hp.stop();
    let hit = hp.rows("SELECT DISTINCT dst_ip FROM events WHERE direction = 'in' ORDER BY dst_ip");
    assert_eq!(hit, served.iter().map(|a| vec![a.to_string()]).collect::<Vec<_>>());
    assert_eq!(hp.count("SELECT count(*) FROM events WHERE direction = 'out' AND status = 200"), 3);
    assert_eq!(hp.count("SELECT count(*) FROM events WHERE user_agent = 'friendly-scanner'"), 3);
}

/// `(extension, authentication)` rows of an svwar report table.
fn svwar_table(report: &str) -> Vec<(String, String)> {
    report
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            match cells.as_slice() {
                ["", ext, auth, ""] if ext.bytes().all(|b| b.is_ascii_digit()) => Some(((*ext).into(), (*auth).into())),
                _ => None,
            }
        })
        .collect()
}

/// Distinct To users of the honeypot's answers with `status` to `method` requests.
fn answered(hp: &Honeypot, method: &str, status: u16) -> Vec<String> {
    let sql = format!(
        "SELECT DISTINCT to_user FROM events WHERE direction = 'out' AND cseq_method = '{method}' \
         AND status = {status} ORDER BY CAST(to_user AS INTEGER)"
    );
    hp.rows(&sql).into_iter().map(|r| r[0].clone()).collect()
}

#[test]
fn svwar_finds_exactly_the_enabled_extensions_by_register_invite_and_options() {
    let mut hp = Honeypot::start(&[("udp", "127.0.11.2", 5060)], "");
    let known = ["100", "101", "200"];
    for (method, auth) in [("REGISTER", "reqauth"), ("INVITE", "reqauth"), ("OPTIONS", "noauth")] {
        // 999 exists in the configuration but is disabled: it must look like any missing one.
        let out = tool("sipvicious_svwar", &["-e100-210,999", "-m", method, "127.0.11.2"], 60);
        let report = text(&out);
        let expected: Vec<(String, String)> = known.iter().map(|e| (e.to_string(), auth.to_owned())).collect();
        assert_eq!(svwar_table(&report), expected, "svwar -m {method}: {report}");
        assert_eq!(out.status.code(), Some(40), "40: svwar found extensions: {report}");
    }
    hp.stop();
    let known: Vec<String> = known.iter().map(|e| e.to_string()).collect();
    for (method, found) in [("REGISTER", 401), ("INVITE", 407), ("OPTIONS", 200)] {
        assert_eq!(answered(&hp, method, found), known, "{method}");
        let missing = answered(&hp, method, 404);
        // 102..=199, 201..=210, 999 and svwar's random-extension probe.
        assert_eq!(missing.len(), 98 + 10 + 1 + 1, "{method}: {missing:?}");
        assert!(missing.contains(&"999".to_owned()) && !missing.iter().any(|u| known.contains(u)), "{method}");
        let sql = format!(
            "SELECT DISTINCT status FROM events WHERE direction = 'out' AND cseq_method = '{method}' ORDER BY status"
        );
        let mut expected = vec![found.to_string(), "404".to_owned()];
        expected.sort();
        assert_eq!(hp.rows(&sql).concat(), expected, "{method}: nothing but {found} and 404");
    }
    // svwar ACKs every final answer to its INVITEs; the ACKs are absorbed, never answered.
    let acks = hp.count("SELECT count(*) FROM events WHERE direction = 'in' AND method = 'ACK'");
    let finals = hp.count("SELECT count(*) FROM events WHERE direction = 'out' AND cseq_method = 'INVITE'");
    assert_eq!((acks, finals), (113, 113), "one ACK for each final answer to an INVITE");
    assert_eq!(hp.count("SELECT count(*) FROM events WHERE direction = 'out' AND cseq_method = 'ACK'"), 0);
    assert_eq!(hp.count("SELECT count(*) FROM auth_attempts"), 0, "enumeration sends no credentials");
}

#[test]
fn svwar_learns_nothing_from_pjsip_which_challenges_every_user() {
    let mut hp = Honeypot::start(&[("udp", "127.0.12.2", 5060)], "profile = \"asterisk-pjsip\"\n");
    let out = tool("sipvicious_svwar", &["-e100-210", "127.0.12.2"], 60);
    let report = text(&out);
    assert!(svwar_table(&report).is_empty(), "{report}");
    assert!(
        report.contains(
            "SIP server replied with an authentication request for an unknown extension. Set --force to force a scan."
        ) && report.contains("found nothing"),
        "{report}"
    );
    hp.stop();
    // svwar gave up after its random-extension probe, which PJSIP challenged like anyone.
    let rows = hp.rows("SELECT direction, method, status, to_user FROM events ORDER BY id");
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0][..2], ["in", "REGISTER"]);
    assert_eq!(rows[1][..3], ["out", "NULL", "401"]);
    assert_eq!(rows[0][3], rows[1][3]);
    assert!(rows[0][3].parse::<u64>().is_ok_and(|n| !(100..=210).contains(&n)), "random probe: {rows:?}");
    let challenge = hp.rows("SELECT raw FROM events WHERE status = 401").concat().concat();
    assert!(challenge.contains("qop=\"auth\"") && challenge.contains("Asterisk PBX 18.20.0"), "{challenge}");
}

#[test]
fn svcrack_recovers_the_bait_password_and_intel_recovers_every_guess() {
    let mut hp = Honeypot::start(&[("udp", "127.0.13.2", 5060)], "");
    let out = tool("sipvicious_svcrack", &["-u101", "-r1225-1240", "127.0.13.2"], 60);
    let report = text(&out);
    let cracked: Vec<Vec<&str>> = report
        .lines()
        .map(|l| l.split('|').map(str::trim).collect::<Vec<_>>())
        .filter(|c| c.len() == 4 && c[1].bytes().all(|b| b.is_ascii_digit()))
        .map(|c| c[1..3].to_vec())
        .collect();
    assert_eq!(cracked, [["101", "1234"]], "{report}");
    assert_eq!(out.status.code(), Some(40), "{report}");
    hp.stop();
    let attempts =
        hp.rows("SELECT username, outcome, password, password_source, user_agent FROM auth_attempts ORDER BY id");
    // svcrack tries the username first, then the range until the right one.
    let tried: Vec<&str> = attempts.iter().map(|a| a[2].as_str()).collect();
    let expected: Vec<String> = std::iter::once(101).chain(1225..=1234).map(|n| n.to_string()).collect();
    assert_eq!(tried, expected, "every guess recovered, in order: {attempts:?}");
    for a in &attempts {
        assert_eq!((a[0].as_str(), a[4].as_str()), ("101", "friendly-scanner"), "{a:?}");
        let (outcome, source) = if a[2] == "1234" { ("accepted", "extension") } else { ("wrong_password", "pattern") };
        assert_eq!((a[1].as_str(), a[3].as_str()), (outcome, source), "{a:?}");
    }
    let reg = hp.rows("SELECT username, contact, expires, user_agent FROM registrations");
    assert_eq!(reg, [["101", "sip:101@127.0.13.2", "120", "friendly-scanner"]]);
    // Every wrong guess was refused with 403, and svcrack came back for a new challenge.
    assert_eq!(hp.count("SELECT count(*) FROM events WHERE direction = 'out' AND status = 403"), 10);
    assert_eq!(hp.count("SELECT count(*) FROM events WHERE direction = 'out' AND status = 200"), 1);
}
