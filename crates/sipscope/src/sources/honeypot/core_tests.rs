//! The honeypot core driven in process: the real tools' messages and a simulated clock in, the
//! answers and a real store out (through the same pipeline the running honeypot uses). No
//! sockets: what `net/` would stamp and hand over is built here.

use super::config::HoneypotConfig;
use super::core::{Core, Packet};
use super::run::open_core;
use crate::event::Transport;
use rusqlite::Connection;
use std::net::SocketAddr;
use std::sync::Arc;

const S: i64 = 1_000_000_000;
const T0: i64 = 1_796_000_000 * S;

use crate::test_support::tool_message as fixture;

struct Harness {
    dir: tempfile::TempDir,
    core: Arc<Core>,
}

impl Harness {
    fn new(extra: &str) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("s.db");
        let text = format!("store = {:?}\nhuman_log = \"off\"\n{extra}\n[intel]\nenabled = false\n", store);
        let config = HoneypotConfig::parse(&text, "test").unwrap();
        let core = open_core(&config, "sensor".into()).unwrap();
        Harness { dir, core }
    }

    fn send(&self, now_ns: i64, source: &str, bytes: &[u8]) -> Vec<Vec<u8>> {
        let source: SocketAddr = source.parse().unwrap();
        let local: SocketAddr = "127.0.0.1:5060".parse().unwrap();
        self.core.handle(Packet { now_ns, transport: Transport::Udp, source, local, bytes, channel: 1 })
    }

    fn db(&self) -> Connection {
        Connection::open(self.dir.path().join("s.db")).unwrap()
    }

    fn count(&self, sql: &str) -> i64 {
        self.db().query_row(sql, [], |r| r.get(0)).unwrap()
    }
}

fn status(answer: &[u8]) -> u32 {
    sipscope_sip::parse(answer).unwrap().status().unwrap()
}

#[test]
fn requests_answers_and_attempts_reach_the_store_through_the_pipeline() {
    let h = Harness::new("");
    let mut answers = 0;
    for (i, name) in ["svwar/0001.sip", "svwar/0002.sip", "svwar/0003.sip", "svcrack/0001.sip"].iter().enumerate() {
        let replies = h.send(T0 + i as i64 * S, "127.0.0.9:5061", &fixture(name));
        assert!(!replies.is_empty(), "{name} is answered");
        answers += replies.len() as i64;
    }
    // svcrack's second message carries credentials computed for another PBX's nonce: an
    // attempt, refused.
    let replies = h.send(T0 + 10 * S, "127.0.0.9:5061", &fixture("svcrack/0002.sip"));
    assert!(replies.iter().all(|r| status(r) >= 400));
    answers += replies.len() as i64;
    // An empty datagram (nmap's probe) and garbage are stored as what they are.
    h.send(T0 + 11 * S, "127.0.0.9:5061", b"");
    h.send(T0 + 12 * S, "127.0.0.9:5061", b"\x16\x03\x01\x00garbage");
    h.core.finish().unwrap();
    assert_eq!(h.count("SELECT count(*) FROM events WHERE direction = 'in'"), 7);
    assert_eq!(h.count("SELECT count(*) FROM events WHERE direction = 'out'"), answers);
    assert_eq!(h.count("SELECT count(*) FROM events WHERE kind = 'keepalive'"), 1);
    assert_eq!(h.count("SELECT count(*) FROM events WHERE kind = 'invalid'"), 1);
    assert_eq!(h.count("SELECT count(*) FROM auth_attempts WHERE username = '100'"), 1);
    // The analysis ran inside, over requests and answers, and its run is closed.
    assert_eq!(h.count("SELECT sum(messages) FROM traffic"), 7 + answers);
    assert_eq!(h.count("SELECT count(*) FROM analysis_runs WHERE kind = 'honeypot' AND finished_ns IS NOT NULL"), 1);
    assert_eq!(h.count("SELECT count(*) FROM flows WHERE src_ip = '127.0.0.9'"), 1);
}

#[test]
fn ticks_commit_on_the_callers_clock_and_refused_requests_are_still_recorded() {
    let h = Harness::new("[limits]\nper_source_rate = 1.0\nper_source_burst = 1.0\n");
    let options = fixture("svmap/0001.sip");
    assert!(!h.send(T0, "127.0.0.7:5061", &options).is_empty());
    // Over the source's rate: not answered, recorded all the same.
    assert!(h.send(T0 + 1, "127.0.0.7:5061", &options).is_empty());
    h.core.tick(T0).unwrap();
    assert_eq!(h.count("SELECT count(*) FROM events WHERE direction = 'in'"), 2);
    h.send(T0 + 2 * S, "127.0.0.7:5061", &options);
    // Less than a tick later: not committed yet (the pipeline paces itself).
    h.core.tick(T0 + S / 2).unwrap();
    assert_eq!(h.count("SELECT count(*) FROM events WHERE direction = 'in'"), 2);
    h.core.tick(T0 + 2 * S).unwrap();
    assert_eq!(h.count("SELECT count(*) FROM events WHERE direction = 'in'"), 3);
    assert_eq!(h.core.stats.source_rate_limited.load(std::sync::atomic::Ordering::Relaxed), 1);
    h.core.finish().unwrap();
}

#[test]
fn a_banned_source_is_recorded_but_neither_answered_nor_worked_for() {
    use crate::act::{Prefix, Scope};
    let h = Harness::new("");
    let ban = |scope| crate::test_support::ban(scope, T0, T0 + 60 * S);
    let banned_net = Scope::Prefix(Prefix::new("127.0.9.0".parse().unwrap(), 24));
    h.core.in_force().set(&[ban(Scope::Address("127.0.0.9".parse().unwrap())), ban(banned_net)]);
    // svcrack's credentials: from a free source an attempt (answered, recorded, worked on) …
    let credentials = fixture("svcrack/0002.sip");
    assert!(!h.send(T0 + S, "127.0.0.10:5061", &credentials).is_empty());
    // … from a banned one (an address, an address inside a banned prefix): silence.
    assert!(h.send(T0 + S, "127.0.0.9:5061", &credentials).is_empty());
    assert!(h.send(T0 + S, "127.0.9.77:5061", &credentials).is_empty());
    // When the ban ends, the source is answered again.
    let options = fixture("svmap/0001.sip");
    assert!(!h.send(T0 + 60 * S, "127.0.0.9:5061", &options).is_empty());
    h.core.finish().unwrap();
    assert_eq!(h.core.stats.banned.load(std::sync::atomic::Ordering::Relaxed), 2);
    // Every message is stored; the banned ones say why they were not answered.
    assert_eq!(h.count("SELECT count(*) FROM events WHERE direction = 'in'"), 4);
    assert_eq!(h.count("SELECT count(*) FROM events WHERE anomalies LIKE '%banned_source%'"), 2);
    assert_eq!(
        h.count("SELECT count(*) FROM events WHERE direction = 'out' AND dst_ip IN ('127.0.0.9', '127.0.9.77')"),
        1,
        "only the answer after the ban"
    );
    assert_eq!(h.count("SELECT count(*) FROM auth_attempts WHERE src_ip = '127.0.0.10'"), 1);
    assert_eq!(h.count("SELECT count(*) FROM auth_attempts WHERE src_ip <> '127.0.0.10'"), 0);
    // The analysis saw them all (the rules keep seeing the attack).
    assert_eq!(h.count("SELECT count(*) FROM flows WHERE src_ip = '127.0.9.77'"), 1);
}

#[test]
fn retransmissions_are_sent_as_first_sent_within_the_budget_and_recorded() {
    let h = Harness::new("");
    let invite = fixture("sipp-invite-auth/0001.sip");
    let first = h.send(T0, "127.0.0.9:5071", &invite);
    assert_eq!(first.iter().map(|a| status(a)).collect::<Vec<_>>(), [407]);
    // The shell polls the channel when told; every copy is the first answer, byte for byte,
    // until the source's budget (3 × what it sent) is spent.
    let mut copies = 0;
    while let Some(at) = h.core.next_due(1).filter(|at| *at < T0 + 40 * S) {
        for answer in h.core.due(1, at) {
            assert!(answer.retransmission && answer.bytes == first[0]);
            assert_eq!(answer.dest, "127.0.0.9:5071".parse().unwrap());
            copies += 1;
        }
    }
    let stats = &h.core.stats;
    let withheld = stats.retransmissions_withheld.load(std::sync::atomic::Ordering::Relaxed);
    let budget = 3 * (invite.len() + 28) / (first[0].len() + 28);
    assert_eq!(copies + 1, budget as u64, "as many copies as the budget holds");
    assert_eq!(copies + withheld, 10, "timer G fires 10 times before timer H");
    assert_eq!(stats.retransmissions.load(std::sync::atomic::Ordering::Relaxed), copies);
    h.core.finish().unwrap();
    let out = "SELECT count(*) FROM events WHERE direction = 'out' AND status = 407";
    assert_eq!(h.count(out), copies as i64 + 1, "every copy sent is stored");
}

#[test]
fn later_answers_of_a_closed_channel_are_never_sent() {
    let h = Harness::new("");
    h.send(T0, "127.0.0.9:5071", &fixture("sipp-invite-auth/0001.sip"));
    assert!(h.core.next_due(1).is_some());
    h.core.close_channel(1);
    assert!(h.core.next_due(1).is_none() && h.core.due(1, T0 + 40 * S).is_empty());
    h.core.finish().unwrap();
}

#[test]
fn answers_due_later_are_not_sent_to_a_source_banned_meanwhile() {
    let h = Harness::new("");
    h.send(T0, "127.0.0.9:5071", &fixture("sipp-invite-auth/0001.sip"));
    let at = h.core.next_due(1).expect("a retransmission is scheduled");
    let ip = "127.0.0.9".parse().unwrap();
    h.core.in_force().set(&[crate::test_support::ban(crate::act::Scope::Address(ip), T0, T0 + 60 * S)]);
    assert!(h.core.due(1, at).is_empty(), "nothing goes to a banned source");
    h.core.finish().unwrap();
}
