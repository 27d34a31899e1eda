//! baresip v1.0.0, a real softphone, registering an extension with the honeypot (what a
//! fraudster does with a cracked account) and unregistering when it quits.

use super::harness::{text, tool, Honeypot};

#[test]
fn baresip_registers_with_digest_auth_and_unregisters_on_quit() {
    let mut hp = Honeypot::start(&[("udp", "127.0.18.2", 5060)], "");
    // Only the account module: no audio or video devices, no stdin interface, no network
    // lookups (the account names an address).
    let dir = hp.dir.path().join("baresip");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("config"),
        "sip_listen\t127.0.18.1:0\nmodule_path\t/usr/lib/baresip/modules\nmodule\taccount.so\n",
    )
    .unwrap();
    std::fs::write(dir.join("accounts"), "<sip:100@127.0.18.2>;auth_pass=100;regint=60\n").unwrap();
    let out = tool("baresip", &["-f", dir.to_str().unwrap(), "-t", "2"], 20);
    let report = text(&out);
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert!(report.contains("100@127.0.18.2: {0/UDP/v4} 200 OK (Asterisk PBX 16.28.0) [1 binding]"), "{report}");
    hp.stop();

    let attempts =
        hp.rows("SELECT method, username, outcome, password, uri, user_agent FROM auth_attempts ORDER BY id");
    assert_eq!(attempts.len(), 2, "register, then unregister: {attempts:?}");
    for a in &attempts {
        assert_eq!(a[..5], ["REGISTER", "100", "accepted", "100", "sip:127.0.18.2"], "{a:?}");
        assert!(a[5].starts_with("baresip v1.0.0 ("), "{a:?}");
    }
    let reg = hp.rows("SELECT username, contact, expires, user_agent FROM registrations ORDER BY id");
    assert_eq!(reg.len(), 2, "{reg:?}");
    assert_eq!(reg[0][1], reg[1][1], "the same contact, unregistered");
    assert!(reg[0][1].starts_with("sip:100-") && reg[0][1].contains("@127.0.18.1:"), "{reg:?}");
    let expires: Vec<(&str, &str)> = reg.iter().map(|r| (r[0].as_str(), r[2].as_str())).collect();
    assert_eq!(expires, [("100", "60"), ("100", "0")]);
    let answers = hp.rows("SELECT status, expires FROM events WHERE direction = 'out' ORDER BY id");
    // The 200s grant what the Contact asked (chan_sip's Expires), then confirm the removal.
    assert_eq!(answers, [["401", "NULL"], ["200", "60"], ["401", "NULL"], ["200", "0"]]);
}
