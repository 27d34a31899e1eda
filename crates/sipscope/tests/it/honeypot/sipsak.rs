//! sipsak 0.9.8.1 against the honeypot: registration with right and wrong credentials, and
//! OPTIONS pings over UDP and TCP.

use super::harness::{text, tool, Honeypot};

#[test]
fn sipsak_registers_with_the_right_password_fails_with_a_wrong_one_and_pings_over_udp_and_tcp() {
    let mut hp = Honeypot::start(&[("udp", "127.0.16.2", 5060), ("tcp", "127.0.16.2", 5060)], "");
    let target = "sip:100@127.0.16.2";

    let right = tool("sipsak", &["-U", "-a", "100", "-u", "100", "-s", target], 30);
    assert_eq!(right.status.code(), Some(0), "{}", text(&right));
    // A wrong password that is in password intelligence's candidates.
    let wrong = tool("sipsak", &["-U", "-a", "1234", "-u", "100", "-s", target], 30);
    let wrong_report = text(&wrong);
    assert_eq!(wrong.status.code(), Some(1), "{wrong_report}");
    assert!(wrong_report.contains("error: didn't received '200 OK' on register"), "{wrong_report}");
    assert!(wrong_report.contains("SIP/2.0 403 Forbidden"), "{wrong_report}");

    for transport in ["udp", "tcp"] {
        let out = tool("sipsak", &["-vv", &format!("--transport={transport}"), "-s", target], 30);
        let report = text(&out);
        assert_eq!(out.status.code(), Some(0), "{report}");
        assert!(report.contains("** reply received after") && report.contains("final received"), "{report}");
        let via = format!("Via: SIP/2.0/{} 127.0.0.1:", transport.to_uppercase());
        assert!(report.contains("SIP/2.0 200 OK") && report.contains(&via), "{report}");
        assert!(report.contains("Server: Asterisk PBX 16.28.0") && report.contains("\nAllow: INVITE, ACK"), "{report}");
    }
    hp.stop();

    let attempts =
        hp.rows("SELECT username, outcome, password, password_source, user_agent FROM auth_attempts ORDER BY id");
    assert_eq!(
        attempts,
        [
            ["100", "accepted", "100", "extension", "sipsak 0.9.8.1"],
            ["100", "wrong_password", "1234", "pattern", "sipsak 0.9.8.1"]
        ]
    );
    let reg = hp.rows("SELECT username, contact, expires, transport FROM registrations");
    assert_eq!(reg.len(), 1, "{reg:?}");
    assert_eq!((reg[0][0].as_str(), reg[0][2].as_str(), reg[0][3].as_str()), ("100", "15", "udp"), "{reg:?}");
    assert!(reg[0][1].starts_with("sip:100@127.0.0.1:"), "{reg:?}");
    // Each registration: REGISTER, 401, REGISTER with Authorization, then 200 or 403.
    let register_answers = hp.rows(
        "SELECT status FROM events WHERE direction = 'out' AND cseq_method = 'REGISTER' AND status <> 401 ORDER BY id",
    );
    assert_eq!(register_answers.concat(), ["200", "403"]);
    let pings =
        hp.rows("SELECT transport, status FROM events WHERE direction = 'out' AND cseq_method = 'OPTIONS' ORDER BY id");
    assert_eq!(pings, [["udp", "200"], ["tcp", "200"]]);
    // Over UDP sipsak's Via names another port than the one it sends from: answered at the source.
    let udp = hp.rows(
        "SELECT i.src_port, o.dst_port, i.raw FROM events i JOIN events o ON o.call_id = i.call_id \
         AND o.direction = 'out' WHERE i.direction = 'in' AND i.method = 'OPTIONS' AND i.transport = 'udp'",
    );
    assert_eq!(udp.len(), 1);
    assert_eq!(udp[0][0], udp[0][1]);
    assert!(!udp[0][2].contains(&format!(":{};", udp[0][0])), "Via port differs from the source port: {udp:?}");
}
