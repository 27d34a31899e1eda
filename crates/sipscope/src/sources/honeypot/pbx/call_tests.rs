//! Calls as time passes, on a simulated clock: 100 Trying at once, the provisional and final
//! answers when due (with jitter), CANCEL before the final answer, retransmitted INVITEs, and
//! final answers retransmitted over UDP until the ACK (SIPp's real messages, re-signed).

use super::tests::{ext, nonce_of, resign, send, status, statuses, udp_route, S, T0};
use super::*;
use crate::test_support::tool_message as fixture;

const MS: i64 = 1_000_000;

/// chan_sip with delayed ringing: 180 after 300 ms, 486 after 2 s, each up to 100 ms later.
fn ringing_pbx() -> Pbx {
    let text = super::super::profile::BUILT_IN[0].1.replace(
        "progress = \"none\"",
        "progress = { status = 180, reason = \"Ringing\" }\nprogress_after_ms = 300\nfinal_after_ms = 2000\njitter_ms = 100",
    );
    let profile = Profile::parse(&text, "ringing").unwrap();
    Pbx::new(profile, &[ext("100", "100", true)], None, 3)
}

/// SIPp's INVITE with Call-ID `call`: first without credentials (its 407's nonce), then
/// signed for that nonce, at `now`. Returns the signed INVITE and what it got.
fn call(p: &mut Pbx, call: &str, now: i64) -> (Vec<u8>, Handled) {
    let with_id = |name: &str| String::from_utf8(fixture(name)).unwrap().replace("1-5092@127.0.0.1", call);
    let challenged = send(p, with_id("sipp-invite-auth/0001.sip").as_bytes(), now);
    let nonce = nonce_of(&challenged.replies[0]);
    p.final_sent(&challenged.final_of.unwrap(), Some(&challenged.replies[0]), now);
    let ack = with_id("sipp-invite-auth/0002.sip");
    assert!(send(p, ack.as_bytes(), now).replies.is_empty());
    let invite = resign(with_id("sipp-invite-auth/0003.sip").as_bytes(), &nonce, "100");
    let h = send(p, &invite, now);
    (invite, h)
}

/// Every answer due on channel 1 until `until`, polled exactly when due, as (ms after `from`,
/// status, kind); final answers are reported sent as they are.
fn drive(p: &mut Pbx, from: i64, until: i64) -> Vec<(i64, u16, DueKind)> {
    let mut seen = Vec::new();
    while let Some(at) = p.next_due(1).filter(|at| *at <= until) {
        for d in p.due(1, at) {
            if d.kind == DueKind::Final {
                p.final_sent(&d.key, Some(&d.bytes), at);
            }
            seen.push(((at - from) / MS, status(&d.bytes), d.kind));
        }
    }
    seen
}

#[test]
fn delayed_ringing_comes_when_due_then_the_failure_is_retransmitted_until_the_ack() {
    let mut p = ringing_pbx();
    let (_, h) = call(&mut p, "c1", T0);
    assert_eq!(statuses(&h), [100], "only 100 Trying at once");
    assert!(h.final_of.is_none(), "the final answer is still to come");
    let seen = drive(&mut p, T0, T0 + 3 * S);
    let kinds: Vec<(u16, DueKind)> = seen.iter().map(|(_, s, k)| (*s, *k)).collect();
    assert_eq!(kinds, [(180, DueKind::Provisional), (486, DueKind::Final), (486, DueKind::Retransmission)], "{seen:?}");
    let (ringing, busy, again) = (seen[0].0, seen[1].0, seen[2].0);
    assert!((300..=400).contains(&ringing) && (2000..=2100).contains(&busy), "{seen:?}");
    assert_eq!(again, busy + 500, "timer G: T1 after the final answer");
    // The ACK (SIPp's, for CSeq 2) stops the retransmissions.
    let ack = String::from_utf8(fixture("sipp-invite-auth/0004.sip")).unwrap().replace("1-5092@127.0.0.1", "c1");
    assert_eq!(send(&mut p, ack.as_bytes(), T0 + 3 * S).note, "ack");
    assert!(p.next_due(1).is_none() && drive(&mut p, T0, T0 + 60 * S).is_empty());
}

#[test]
fn each_call_draws_its_own_jitter() {
    let mut p = ringing_pbx();
    for n in 0..8 {
        call(&mut p, &format!("j{n}"), T0);
    }
    let ringing: std::collections::BTreeSet<i64> =
        drive(&mut p, T0, T0 + S).iter().filter(|(_, s, _)| *s == 180).map(|(at, _, _)| *at).collect();
    assert!(ringing.iter().all(|at| (300..=400).contains(at)), "{ringing:?}");
    assert!(ringing.len() >= 4, "no fixed delay: {ringing:?}");
}

#[test]
fn a_cancel_before_the_final_answer_gets_200_and_the_call_487_retransmitted_until_the_ack() {
    let mut p = ringing_pbx();
    let (invite, _) = call(&mut p, "c2", T0);
    drive(&mut p, T0, T0 + 500 * MS);
    // A retransmitted INVITE (same branch) gets the last answer, 180, and no second attempt.
    let again = send(&mut p, &invite, T0 + 600 * MS);
    assert_eq!((statuses(&again), again.note, again.auth.is_none()), (vec![180], "retransmission", true));
    let text = String::from_utf8(invite).unwrap();
    let cancel = text.replacen("INVITE sip:", "CANCEL sip:", 1).replace("2 INVITE", "2 CANCEL");
    let cancel = cancel.split("Proxy-Authorization").next().unwrap().to_owned() + "Content-Length: 0\r\n\r\n";
    let h = send(&mut p, cancel.as_bytes(), T0 + S);
    assert_eq!(statuses(&h), [200, 487]);
    let cseq = |r: &[u8]| sipscope_sip::parse(r).unwrap().cseq().map(|c| c.method.to_vec());
    assert_eq!((cseq(&h.replies[0]), cseq(&h.replies[1])), (Some(b"CANCEL".to_vec()), Some(b"INVITE".to_vec())));
    let key = h.final_of.expect("the 487 is the INVITE's final answer");
    p.final_sent(&key, Some(&h.replies[1]), T0 + S);
    let seen = drive(&mut p, T0 + S, T0 + 3 * S);
    assert_eq!(seen, [(500, 487, DueKind::Retransmission), (1500, 487, DueKind::Retransmission)], "no 486 after it");
}

#[test]
fn final_answers_are_retransmitted_over_udp_only_and_as_they_were_sent() {
    let mut p = super::tests::pbx("asterisk-chan-sip");
    let invite = fixture("sipp-invite-auth/0001.sip");
    let h = send(&mut p, &invite, T0);
    assert_eq!(statuses(&h), [407]);
    // The core sent a smaller form (its budget): that form is what comes again.
    let sent = compacted(&h.replies[0]).pop().unwrap();
    p.final_sent(&h.final_of.unwrap(), Some(&sent), T0);
    let due = p.due(1, T0 + 500 * MS);
    assert_eq!(due.iter().map(|d| (&d.bytes, d.kind)).collect::<Vec<_>>(), [(&sent, DueKind::Retransmission)]);
    assert_eq!(send(&mut p, &invite, T0 + 600 * MS).replies, [sent], "a retransmitted INVITE gets it too");

    let tcp = Route { transport: Transport::Tcp, ..udp_route() };
    let framing = sipscope_sip::Framing::Stream;
    let h = p.handle(Incoming {
        now_ns: T0,
        framing,
        source: "127.0.0.1:5099".parse().unwrap(),
        bytes: &invite,
        route: tcp,
    });
    assert_eq!((statuses(&h), h.final_of), (vec![407], None), "streams are reliable");
}

mod hostile {
    //! Hostile INVITEs against the timers: a real INVITE cut at every length, with bytes
    //! flipped, or replaced by arbitrary bytes, at any times, through a PBX with delayed
    //! answers. Nothing panics, nothing is due before it was scheduled, and every answer due is
    //! a parseable response.
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn cut_flipped_or_arbitrary_invites_keep_the_timers_sane(
            cut in 0usize..1200,
            flips in proptest::collection::vec((0usize..1200, any::<u8>()), 0..6),
            noise in proptest::collection::vec(any::<u8>(), 0..300),
            steps in proptest::collection::vec(0i64..3_000, 1..8),
        ) {
            let mut p = ringing_pbx();
            let mut invite = fixture("sipp-invite-auth/0001.sip");
            for (at, byte) in flips {
                let len = invite.len();
                if let Some(b) = invite.get_mut(at % len) {
                    *b = byte;
                }
            }
            invite.truncate(cut.min(invite.len()));
            let mut now = T0;
            for (i, step) in steps.into_iter().enumerate() {
                now += step * MS;
                let bytes: &[u8] = if i % 2 == 0 { &invite } else { &noise };
                send(&mut p, bytes, now);
                if let Some(at) = p.next_due(1) {
                    prop_assert!(at >= T0);
                    for d in p.due(1, at.max(now)) {
                        prop_assert!(sipscope_sip::parse(&d.bytes).is_ok_and(|m| m.status().is_some()));
                        if d.kind == DueKind::Final {
                            p.final_sent(&d.key, Some(&d.bytes), at.max(now));
                        }
                    }
                }
            }
        }
    }
}
