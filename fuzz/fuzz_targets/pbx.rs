//! The honeypot's PBX (`sipscope::sources::honeypot::pbx`, sans IO): a PBX with a built-in
//! profile (byte 0, bits 0–2; 0 is the default `asterisk-chan-sip`) and three extensions,
//! over UDP or TCP (bit 3). The rest is a run of messages, each
//! `[length: u16 BE][time step: u8][source: u8][bytes]`: four sources, each on a channel of its
//! own; times advance by the step × 50 ms. After every message the answers due on every
//! channel are taken, and at the end those due in the far future.
//!
//! What the PBX itself promises (the byte budget is applied by the caller, `core.rs`, to the
//! forms `compacted` offers): every answer is a SIP response; each compacted form is smaller
//! than the one before and still the same response; an answer due later goes to the source
//! and the way of the INVITE it answers (its channel and route), never elsewhere; a
//! retransmission is exactly the bytes reported sent; after timer H nothing is due any more.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipscope::event::Transport;
use sipscope::sources::honeypot::config::Extension;
use sipscope::sources::honeypot::pbx::{compacted, DueKind, Incoming, InviteKey, Pbx, Route};
use sipscope::sources::honeypot::profile::Profile;
use sipscope_sip::Framing;
use std::collections::HashMap;
use std::net::SocketAddr;

const PROFILES: [&str; 5] = ["asterisk-chan-sip", "asterisk-pjsip", "freepbx", "brekeke", "proxy"];
const STEP_NS: i64 = 50_000_000;

/// A response's status code, checking that the answer parses as a response.
fn status(answer: &[u8]) -> u16 {
    let msg = sipscope_sip::parse(answer).unwrap_or_else(|e| panic!("an answer that does not parse ({e:?})"));
    msg.status().unwrap_or_else(|| panic!("an answer that is not a response")) as u16
}

/// The answer and its compacted forms: each parses, is the same response, and is smaller.
fn check_answer(answer: &[u8]) {
    let code = status(answer);
    let mut last = answer.len();
    for form in compacted(answer) {
        assert!(form.len() < last, "a compacted form that is not smaller");
        last = form.len();
        assert_eq!(status(&form), code, "compacting changed the response");
    }
}

fn ext(user: &str, password: &str, lure: bool) -> Extension {
    Extension { user: user.into(), password: password.into(), enabled: true, lure }
}

struct Check {
    sources: [SocketAddr; 4],
    routes: [Route; 4],
    sent: HashMap<InviteKey, Vec<u8>>,
}

impl Check {
    /// Takes what is due on every channel at `now`, as a listener would, and reports what it
    /// sent of each final answer (its smallest form for odd channels, to vary it).
    fn take_due(&mut self, pbx: &mut Pbx, now: i64) {
        for channel in 0..4u64 {
            for due in pbx.due(channel, now) {
                let c = channel as usize;
                assert_eq!(due.dest, self.sources[c], "an answer to another address");
                assert_eq!(due.route, self.routes[c], "an answer another way");
                assert_eq!(due.key.0, due.dest.ip());
                check_answer(&due.bytes);
                match due.kind {
                    DueKind::Provisional => {}
                    DueKind::Final => {
                        let sent =
                            if c % 2 == 1 { compacted(&due.bytes).pop().unwrap_or(due.bytes) } else { due.bytes };
                        pbx.final_sent(&due.key, Some(&sent), now);
                        self.sent.insert(due.key, sent);
                    }
                    DueKind::Retransmission => {
                        assert_eq!(self.sent.get(&due.key), Some(&due.bytes), "a retransmission of other bytes");
                    }
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, mut rest)) = data.split_first() else { return };
    let Ok(profile) = Profile::load(PROFILES[usize::from(control & 7) % PROFILES.len()]) else { return };
    let (transport, framing) =
        if control & 8 == 0 { (Transport::Udp, Framing::Datagram) } else { (Transport::Tcp, Framing::Stream) };
    let exts = [ext("100", "100", true), ext("101", "secret", true), ext("300", "300", false)];
    let mut pbx = Pbx::new(profile, &exts, None, 7);
    let sources = [
        "192.0.2.1:5060".parse().unwrap(),
        "192.0.2.2:5062".parse().unwrap(),
        "[2001:db8::3]:5060".parse().unwrap(),
        "192.0.2.1:40000".parse().unwrap(),
    ];
    let local: SocketAddr = "198.51.100.1:5060".parse().unwrap();
    let routes = [0, 1, 2, 3].map(|channel| Route { channel, transport, local });
    let mut check = Check { sources, routes, sent: HashMap::new() };
    let mut now = 1_796_000_000_000_000_000i64;
    while let Some((&[hi, lo, step, src], tail)) = rest.split_first_chunk::<4>() {
        let (bytes, next) = tail.split_at(usize::from(u16::from_be_bytes([hi, lo])).min(tail.len()));
        rest = next;
        now += i64::from(step) * STEP_NS;
        let c = usize::from(src & 3);
        let incoming = Incoming { now_ns: now, framing, source: sources[c], bytes, route: routes[c] };
        let handled = pbx.handle(incoming);
        for answer in &handled.replies {
            check_answer(answer);
        }
        if let (Some(key), Some(last)) = (handled.final_of, handled.replies.last()) {
            assert_eq!(key.0, sources[c].ip(), "a final answer filed under another source");
            pbx.final_sent(&key, Some(last), now);
            check.sent.insert(key, last.clone());
        }
        check.take_due(&mut pbx, now);
    }
    // Past every delay and timer H: everything due is sent once, then nothing is left.
    for _ in 0..3 {
        now += 3_600_000_000_000;
        check.take_due(&mut pbx, now);
    }
    for channel in 0..4 {
        assert_eq!(pbx.next_due(channel), None, "an answer still due an hour after the last message");
    }
});
