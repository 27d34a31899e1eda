//! SIPp v3.6.1 against the honeypot: a toll-fraud run (scripts/sipp/register-then-call.xml)
//! that registers a cracked extension and calls an international number from it, and a
//! scripted dialler (scripts/sipp/uac-auth.xml) that expects a busy callee's 100 then 486 and
//! aborts the call on anything else.

use super::harness::{sipp_register_then_call, sipp_scenario, text, Honeypot};

const NUMBER: &str = "0046701234567";

#[test]
fn sipp_registers_then_calls_an_international_number_which_is_busy() {
    let mut hp = Honeypot::start(&[("udp", "127.0.17.2", 5060)], "");
    let out = sipp_register_then_call(NUMBER, "127.0.17.1", "127.0.17.2:5060");
    let report = text(&out);
    assert_eq!(out.status.code(), Some(0), "SIPp ran the whole scenario: {report}");
    assert!(report.contains("Successful call        |        0                  |        1"), "{report}");
    hp.stop();

    // Under load SIPp may send a request again, and the honeypot a final answer, before the
    // other side's answer or ACK comes: copies are grouped.
    let invites = hp.rows(
        "SELECT request_uri, ruri_user, to_user, from_user, auth_username, auth_uri FROM events \
         WHERE direction = 'in' AND method = 'INVITE' GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY min(id)",
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
    let answers = |cseq: u32| invite_answers(&hp, cseq);
    assert_eq!(answers(1), ["407"]);
    assert_eq!(answers(2), ["100", "486"], "Trying, then Busy Here at once, as chan_sip: never answered");
    let acks = hp.rows("SELECT DISTINCT cseq_seq, to_tag <> 'NULL' FROM events WHERE method = 'ACK' ORDER BY 1");
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

/// The statuses answered to the INVITE with CSeq `cseq`, each once, in the order first sent.
fn invite_answers(hp: &Honeypot, cseq: u32) -> Vec<String> {
    hp.rows(&format!(
        "SELECT status FROM events WHERE direction = 'out' AND cseq_method = 'INVITE' AND cseq_seq = {cseq} \
         GROUP BY status ORDER BY min(id)"
    ))
    .concat()
}

/// SIPp's summary line for successful or failed calls: (cumulative count).
fn calls(report: &str, what: &str) -> Option<u32> {
    let line = report.lines().rfind(|l| l.trim_start().starts_with(what))?;
    line.split('|').nth(2)?.trim().parse().ok()
}

#[test]
fn a_scripted_dialler_expecting_100_then_486_completes_its_call_against_a_busy_callee() {
    // The chan_sip profile's callee is busy: 100 Trying, then 486 at once.
    let mut hp = Honeypot::start(&[("udp", "127.0.210.2", 5060)], "");
    let out = sipp_scenario("uac-auth.xml", "100", "127.0.210.1", "127.0.210.2:5060");
    let report = text(&out);
    assert_eq!(out.status.code(), Some(0), "SIPp ran the whole scenario: {report}");
    assert_eq!((calls(&report, "Successful call"), calls(&report, "Failed call")), (Some(1), Some(0)), "{report}");
    hp.stop();
    assert_eq!(invite_answers(&hp, 2), ["100", "486"]);
    let acks = hp.rows("SELECT DISTINCT cseq_seq FROM events WHERE direction = 'in' AND method = 'ACK' ORDER BY 1");
    assert_eq!(acks.concat(), ["1", "2"], "both final answers ACKed");

    // The same script against a PBX whose callee rings first: SIPp aborts the call on the
    // unexpected 180, which is what made the honeypot a tell before ringing became a choice.
    let dir = tempfile::tempdir().unwrap();
    let ringing = dir.path().join("ringing.toml");
    let chan_sip = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/sources/honeypot/profiles/asterisk-chan-sip.toml"
    ))
    .unwrap();
    std::fs::write(
        &ringing,
        chan_sip.replace("progress = \"none\"", "progress = { status = 180, reason = \"Ringing\" }"),
    )
    .unwrap();
    let mut hp = Honeypot::start(&[("udp", "127.0.210.3", 5060)], &format!("profile = \"{}\"\n", ringing.display()));
    let out = sipp_scenario("uac-auth.xml", "100", "127.0.210.1", "127.0.210.3:5060");
    let report = text(&out);
    assert_ne!(out.status.code(), Some(0), "{report}");
    assert_eq!((calls(&report, "Successful call"), calls(&report, "Failed call")), (Some(0), Some(1)), "{report}");
    hp.stop();
    assert_eq!(invite_answers(&hp, 2)[..2], ["100", "180"]);
}
