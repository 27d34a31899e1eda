//! nmap 7.93 (UDP port scan, the sip-methods, sip-enum-users and sip-brute NSE scripts, and the
//! `-sV` version probe) against the honeypot.

use super::harness::{text, tool, Honeypot};

/// The Allow header of a built-in profile, read from its file.
fn profile_allow(name: &str) -> String {
    let path = format!("{}/src/sources/honeypot/profiles/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    let profile = std::fs::read_to_string(path).unwrap();
    let line = profile.lines().find(|l| l.starts_with("allow = ")).unwrap();
    line.trim_start_matches("allow = ").trim_matches('"').to_owned()
}

/// The lines of one NSE script's block in nmap's report, without the `|` / `|_` prefix.
fn script_block<'a>(report: &'a str, script: &str) -> Vec<&'a str> {
    let mut lines = report.lines().skip_while(|l| !l.starts_with(&format!("| {script}:")));
    let mut block = Vec::new();
    for line in lines.by_ref() {
        block.push(line.trim_start_matches(['|', '_']).trim());
        if line.starts_with("|_") {
            break;
        }
    }
    block
}

#[test]
fn nmap_scripts_list_the_methods_find_the_users_and_brute_force_their_passwords() {
    let mut hp = Honeypot::start(&[("udp", "127.0.14.2", 5060)], "");
    let (users, passwords) = (hp.dir.path().join("users.txt"), hp.dir.path().join("passwords.txt"));
    std::fs::write(&users, "100\n101\n").unwrap();
    std::fs::write(&passwords, "1234\n100\nsecret\n").unwrap();
    let args = format!(
        "sip-enum-users.minext=100,sip-enum-users.maxext=105,userdb={},passdb={}",
        users.display(),
        passwords.display()
    );
    let scripts = "sip-methods,sip-enum-users,sip-brute";
    let out =
        tool("nmap", &["-n", "-Pn", "-sU", "-p5060", "--script", scripts, "--script-args", &args, "127.0.14.2"], 120);
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    assert!(report.contains("5060/udp open  sip"), "{report}");
    let allow = profile_allow("asterisk-chan-sip");
    assert!(report.contains(&format!("|_sip-methods: {allow}\n")), "the profile's Allow: {report}");

    let enum_users = script_block(&report, "sip-enum-users");
    let found: Vec<&str> = enum_users.iter().filter(|l| l.ends_with("Auth required -")).copied().collect();
    assert_eq!(found, ["100: Auth required -", "101: Auth required -"], "{report}");

    let mut valid: Vec<&str> =
        script_block(&report, "sip-brute").into_iter().filter_map(|l| l.strip_suffix(" - Valid credentials")).collect();
    valid.sort();
    assert_eq!(valid, ["100:100", "101:1234"], "{report}");
    hp.stop();

    // sip-enum-users: a random extension first (it gives up unless that is a 404), then 100..105.
    let challenged =
        hp.rows("SELECT DISTINCT to_user FROM events WHERE direction = 'out' AND status = 401 ORDER BY to_user");
    assert_eq!(challenged.concat(), ["100", "101"]);
    for ext in 102..=105 {
        let sql = format!("SELECT count(*) FROM events WHERE direction = 'out' AND status = 404 AND to_user = '{ext}'");
        assert_eq!(hp.count(&sql), 1, "{ext}");
    }
    assert_eq!(hp.count("SELECT count(*) FROM events WHERE kind = 'keepalive'"), 2, "the empty UDP port probes");

    // sip-brute: every guess is recorded with its outcome and the password it tried: the right
    // ones known, the wrong ones recovered (all are in the candidate list).
    let attempts = hp.rows(
        "SELECT username, password, outcome, password_source FROM auth_attempts \
         WHERE user_agent = 'Nmap NSE' ORDER BY username, password",
    );
    let accepted: Vec<&[String]> = attempts.iter().filter(|a| a[2] == "accepted").map(|a| &a[..2]).collect();
    assert_eq!(accepted, [["100", "100"], ["101", "1234"]], "{attempts:?}");
    for a in &attempts {
        let source = if a[2] == "accepted" { "extension" } else { "pattern" };
        assert!(
            ["100", "101", "1234", "secret"].contains(&a[1].as_str()) && a[3] == source,
            "a guess from the lists or the username, recovered: {a:?}"
        );
        assert!(a[2] == "accepted" || a[2] == "wrong_password", "{a:?}");
    }
    assert!(
        attempts.iter().any(|a| a[..3] == ["101", "101", "wrong_password"]),
        "the brute engine also tries the username as password: {attempts:?}"
    );
    assert_eq!(hp.count("SELECT count(*) FROM registrations WHERE user_agent = 'Nmap NSE' AND expires = 0"), 2);
}

#[test]
fn nmap_version_scan_names_the_pbx_from_its_server_header() {
    let mut hp = Honeypot::start(&[("udp", "127.0.15.2", 5060)], "");
    let out = tool("nmap", &["-n", "-Pn", "-sU", "-sV", "-p5060", "127.0.15.2"], 120);
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    let line = report.lines().find(|l| l.starts_with("5060/udp")).unwrap_or_default();
    let cells: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(cells, ["5060/udp", "open", "sip-proxy", "Asterisk", "PBX", "16.28.0"], "{report}");
    assert!(report.contains("Service Info: Device: PBX"), "{report}");
    hp.stop();
    // The SIPOptions probe (`OPTIONS sip:nm`, no User-Agent) got a 200 with the Server header.
    let probe = hp.rows(
        "SELECT e.request_uri, e.user_agent, a.status FROM events e JOIN events a \
         ON a.call_id = e.call_id AND a.direction = 'out' WHERE e.direction = 'in' AND e.method = 'OPTIONS'",
    );
    assert_eq!(probe, [["sip:nm", "NULL", "200"]]);
    let answer = hp.rows("SELECT raw FROM events WHERE direction = 'out'").concat().concat();
    assert!(answer.contains("\r\nServer: Asterisk PBX 16.28.0\r\n"), "{answer}");
}
