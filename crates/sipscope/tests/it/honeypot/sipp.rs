//! SIPp v3.6.1 against the honeypot: a toll-fraud run (scripts/sipp/register-then-call.xml)
//! that registers a cracked extension and calls an international number from it.

use super::harness::{sipp_register_then_call, text, Honeypot};

const NUMBER: &str = "0046701234567";

#[test]
fn sipp_registers_then_calls_an_international_number_which_rings_and_is_busy() {
    let mut hp = Honeypot::start(&[("udp", "127.0.17.2", 5060)], "");
    let out = sipp_register_then_call(NUMBER, "127.0.17.1", "127.0.17.2:5060");
    let report = text(&out);
    assert_eq!(out.status.code(), Some(0), "SIPp ran the whole scenario: {report}");
    assert!(report.contains("Successful call        |        0                  |        1"), "{report}");
    hp.stop();

    let invites = hp.rows(
        "SELECT request_uri, ruri_user, to_user, from_user, auth_username, auth_uri FROM events \
         WHERE direction = 'in' AND method = 'INVITE' ORDER BY id",
    );
    let uri = format!("sip:{NUMBER}@127.0.17.2:5060");
    assert_eq!(
        invites,
        [
            [uri.as_str(), NUMBER, NUMBER, "100", "NULL", "NULL"],
            // SIPp signs over sip:<remote_ip>:<remote_port>, not the Request-URI.
            [uri.as_str(), NUMBER, NUMBER, "100", "100", "sip:127.0.17.2:5060"],
        ]
    );
    let answers = |cseq: u32| {
        hp.rows(&format!(
            "SELECT status FROM events WHERE direction = 'out' AND cseq_method = 'INVITE' AND cseq_seq = {cseq} \
             ORDER BY id"
        ))
        .concat()
    };
    assert_eq!(answers(1), ["407"]);
    assert_eq!(answers(2), ["100", "180", "486"], "Trying, Ringing, Busy Here: never answered");
    let acks = hp.rows("SELECT cseq_seq, to_tag <> 'NULL' FROM events WHERE method = 'ACK' ORDER BY id");
    assert_eq!(acks, [["1", "1"], ["2", "1"]], "both final answers ACKed, with their To tag");
    assert_eq!(hp.count("SELECT count(*) FROM events WHERE direction = 'out' AND cseq_method = 'ACK'"), 0);

    let attempts =
        hp.rows("SELECT method, username, outcome, password, password_source, uri FROM auth_attempts ORDER BY id");
    assert_eq!(
        attempts,
        [
            ["REGISTER", "100", "accepted", "100", "extension", "sip:127.0.17.2:5060"],
            ["INVITE", "100", "accepted", "100", "extension", "sip:127.0.17.2:5060"],
        ]
    );
    let reg = hp.rows("SELECT username, contact, expires, user_agent FROM registrations");
    assert_eq!(reg, [["100", "sip:100@127.0.17.1:5071", "60", "SIPp"]]);
}
