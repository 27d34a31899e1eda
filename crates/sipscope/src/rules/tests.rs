//! Scenario tests of the rules, as CrowdSec tests its scenarios: for every built-in rule, the
//! messages (or records) of an attack that must raise it and of a near miss that must not,
//! through the real engine with event time; a legitimate phone's registration and calls raise
//! nothing. Plus the trackers (proven sources, spoofed UDP), dedupe, memory bounds, and rule
//! files with mistakes.

use super::*;
use crate::event::record::{AuthAttemptRecord, Record, RecordContext};
use crate::event::{Direction, Transport};
use crate::test_support::tool_message;
use std::collections::BTreeSet;

const S: i64 = 1_000_000_000;
const T0: i64 = 1_796_000_000 * S;
const PBX: &str = "198.51.100.1";

/// A request, written the way a plain client writes one.
struct Req<'a> {
    method: &'a str,
    ruri_user: Option<&'a str>,
    to_user: &'a str,
    from_user: &'a str,
    call_id: String,
    cseq: u32,
    agent: &'a str,
    /// (username, nonce) of digest credentials.
    auth: Option<(&'a str, &'a str)>,
    to_tag: Option<&'a str>,
}

impl<'a> Req<'a> {
    fn new(method: &'a str, user: &'a str, call_id: &str) -> Req<'a> {
        Req {
            method,
            ruri_user: if method == "REGISTER" { None } else { Some(user) },
            to_user: user,
            from_user: user,
            call_id: call_id.to_owned(),
            cseq: 1,
            agent: "Yealink SIP-T46S 66.86.0.15",
            auth: None,
            to_tag: None,
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let ruri = match self.ruri_user {
            Some(u) => format!("sip:{u}@{PBX}"),
            None => format!("sip:{PBX}"),
        };
        let to_tag = self.to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
        let auth = self
            .auth
            .map(|(u, n)| {
                format!(
                    "Authorization: Digest username=\"{u}\",realm=\"asterisk\",nonce=\"{n}\",uri=\"{ruri}\",\
                     response=\"0123456789abcdef0123456789abcdef\",algorithm=MD5\r\n"
                )
            })
            .unwrap_or_default();
        format!(
            "{m} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 203.0.113.9:5060;branch=z9hG4bK{c}{q}\r\nMax-Forwards: 70\r\n\
             From: <sip:{f}@{PBX}>;tag=ft{c}\r\nTo: <sip:{t}@{PBX}>{to_tag}\r\nCall-ID: {c}\r\nCSeq: {q} {m}\r\n\
             User-Agent: {a}\r\n{auth}Content-Length: 0\r\n\r\n",
            m = self.method,
            f = self.from_user,
            t = self.to_user,
            c = self.call_id,
            q = self.cseq,
            a = self.agent,
        )
        .into_bytes()
    }
}

/// The built-in pack (or other rules) over messages with event time.
struct Run {
    engine: RulesEngine,
    ordinal: u64,
    changes: Vec<AlertChange>,
}

impl Run {
    fn builtin() -> Run {
        Run::with(RuleSet::builtin())
    }

    fn with(set: RuleSet) -> Run {
        Run { engine: RulesEngine::new(Arc::new(set), "test"), ordinal: 0, changes: Vec::new() }
    }

    fn message(
        &mut self,
        ts: i64,
        src: (&str, u16),
        dst: (&str, u16),
        transport: Transport,
        direction: Direction,
        bytes: &[u8],
    ) {
        let parsed = sipscope_sip::Message::parse_with(bytes, transport.framing(), Default::default()).ok();
        // Every other message comes with the views the pipeline's stored fields parsed;
        // the others make the rules parse them: both must find the same.
        let views = match (&parsed, self.ordinal % 2) {
            (Some(m), 0) => {
                let mut views = Default::default();
                crate::event::fields::SipFields::extract_noting(m, Some(&m.check_views()), &mut views);
                views
            }
            _ => Default::default(),
        };
        let o = Observation {
            ts_ns: ts,
            ordinal: self.ordinal,
            stored: None,
            transport,
            src: (src.0.parse().unwrap(), src.1),
            dst: (dst.0.parse().unwrap(), dst.1),
            direction,
            node: Some("n1"),
            msg: parsed.as_ref(),
            parsed: &views,
            blank: bytes.iter().all(u8::is_ascii_whitespace),
        };
        self.ordinal += 1;
        self.engine.observe(&o, &mut self.changes);
    }

    /// A UDP request from `src` to the PBX.
    fn request(&mut self, ts: i64, src: &str, bytes: &[u8]) {
        self.message(ts, (src, 5060), (PBX, 5060), Transport::Udp, Direction::Unknown, bytes);
    }

    /// The PBX's answer to `request` (sent to `src`), with a To-tag and, for 401/407, a nonce.
    fn answer(&mut self, ts: i64, src: &str, request: &[u8], status: u16, nonce: &str) {
        let msg = sipscope_sip::parse(request).unwrap();
        let challenge = format!("Digest realm=\"asterisk\", nonce=\"{nonce}\", algorithm=MD5");
        let mut b = sipscope_sip::builder::ResponseBuilder::new(&msg, status, "Answer").to_tag(b"pbxtag");
        if status == 401 {
            b = b.header("WWW-Authenticate", challenge.as_bytes());
        }
        if status == 407 {
            b = b.header("Proxy-Authenticate", challenge.as_bytes());
        }
        let bytes = b.build();
        self.message(ts, (PBX, 5060), (src, 5060), Transport::Udp, Direction::Unknown, &bytes);
    }

    fn record(&mut self, ts: i64, src: &str, username: &str, outcome: &'static str) {
        let ctx = RecordContext {
            ts_ns: ts,
            sensor: "test".into(),
            node: Some("n1".into()),
            transport: Transport::Udp,
            src: format!("{src}:5060").parse().unwrap(),
            dst: format!("{PBX}:5060").parse().unwrap(),
            call_id: None,
            user_agent: Some("friendly-scanner".into()),
        };
        let r = Record::AuthAttempt(AuthAttemptRecord {
            id: 1,
            ctx,
            method: "REGISTER".into(),
            username: username.into(),
            realm: None,
            uri: None,
            nonce: None,
            outcome,
            password: None,
            log: None,
            published_seq: None,
        });
        self.engine.observe_record(&r, self.ordinal, &mut self.changes);
    }

    /// Every alert at the end (final counts), by rule id.
    fn finish(mut self) -> Vec<crate::act::Alert> {
        self.engine.finish(&mut self.changes);
        let mut latest: Vec<crate::act::Alert> = Vec::new();
        for c in self.changes {
            let same = |a: &crate::act::Alert| {
                (&a.rule_id, &a.group, a.first_ns) == (&c.alert.rule_id, &c.alert.group, c.alert.first_ns)
            };
            match latest.iter_mut().find(|a| same(a)) {
                Some(a) => *a = c.alert,
                None => latest.push(c.alert),
            }
        }
        latest
    }

    fn fired(self) -> BTreeSet<String> {
        self.finish().into_iter().map(|a| a.rule_id).collect()
    }
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).to_owned()).collect()
}

/// Every built-in rule has its scenario below (the ids named in this file).
#[test]
fn the_builtin_pack_compiles_and_every_rule_has_a_scenario() {
    let limits = RuleLimits::default();
    let mut ids = BTreeSet::new();
    for (name, text) in BUILTIN {
        for rule in compile::parse(text, name, &limits).unwrap_or_else(|e| panic!("{name}: {e:?}")) {
            assert!(rule.id.starts_with("sipscope/"), "{}", rule.id);
            assert!((9_140_000..9_150_000).contains(&rule.sid), "{}", rule.id);
            ids.insert(rule.id);
        }
    }
    assert_eq!(RuleSet::builtin().rules.len(), ids.len());
    let this_file = include_str!("tests.rs");
    for id in &ids {
        assert!(
            this_file.contains(&format!("(\"{id}\"")) || this_file.contains(&format!("[\"{id}\"")),
            "{id} has no scenario here"
        );
    }
}

#[test]
fn a_phone_registering_and_calling_raises_nothing_and_is_proven() {
    let mut run = Run::builtin();
    let phone = "192.0.2.10";
    let mut t = T0;
    for round in 0..3 {
        let first = Req::new("REGISTER", "100", &format!("reg{round}"));
        run.request(t, phone, &first.bytes());
        run.answer(t + 1, phone, &first.bytes(), 401, &format!("n{round}"));
        let nonce = format!("n{round}");
        let second =
            Req { cseq: 2, auth: Some(("100", &nonce)), ..Req::new("REGISTER", "100", &format!("reg{round}")) };
        run.request(t + 2, phone, &second.bytes());
        run.answer(t + 3, phone, &second.bytes(), 200, "");
        for (i, callee) in ["200", "201", "+4930123456"].iter().enumerate() {
            let call = format!("call{round}-{i}");
            let invite = Req { from_user: "100", ..Req::new("INVITE", callee, &call) };
            run.request(t + 10, phone, &invite.bytes());
            run.answer(t + 11, phone, &invite.bytes(), 407, "pn");
            let again =
                Req { cseq: 2, from_user: "100", auth: Some(("100", "pn")), ..Req::new("INVITE", callee, &call) };
            run.request(t + 12, phone, &again.bytes());
            run.answer(t + 13, phone, &again.bytes(), 200, "");
        }
        t += 3600 * S;
    }
    assert!(run.engine.trackers_proven(phone.parse().unwrap()), "the phone echoed its nonce");
    assert_eq!(run.fired(), BTreeSet::new());
}

#[test]
fn options_sweep_needs_30_addresses_within_3_seconds() {
    let sweep = |addresses: u64, spacing: i64| {
        let mut run = Run::builtin();
        let bytes = Req { agent: "custom", ..Req::new("OPTIONS", "100", "sweep") }.bytes();
        for i in 0..addresses {
            let dst = format!("198.51.100.{}", i + 1);
            run.message(
                T0 + i as i64 * spacing,
                ("203.0.113.5", 5060),
                (&dst, 5060),
                Transport::Udp,
                Direction::Unknown,
                &bytes,
            );
        }
        run.fired()
    };
    assert!(sweep(30, S / 20).contains("sipscope/options-sweep"));
    assert!(!sweep(29, S / 20).contains("sipscope/options-sweep"));
    assert!(!sweep(60, S).contains("sipscope/options-sweep"), "one a second is no sweep");
}

/// svwar against an Asterisk: REGISTERs for many users, 404 for the missing, 401 for the rest.
fn enumeration(users: u32, answers: bool) -> BTreeSet<String> {
    let mut run = Run::builtin();
    for u in 0..users {
        let user = format!("{}", 100 + u);
        let req = Req { agent: "custom", ..Req::new("REGISTER", &user, &format!("e{u}")) }.bytes();
        let ts = T0 + i64::from(u) * S / 10;
        run.request(ts, "203.0.113.6", &req);
        if answers {
            run.answer(ts + 1, "203.0.113.6", &req, if u % 5 == 0 { 401 } else { 404 }, "x");
        }
    }
    run.fired()
}

#[test]
fn extension_enumeration_from_answers_and_from_requests() {
    assert_eq!(enumeration(12, true), set(&["sipscope/enum-answers"]));
    assert_eq!(enumeration(25, false), set(&["sipscope/enum-requests"]));
    assert_eq!(enumeration(9, true), set(&[]));
    assert_eq!(enumeration(19, false), set(&[]));
}

/// `n` guesses (REGISTER with credentials, 403) for `user` from each of `sources`.
fn guessing(sources: &[String], user: &str, n: usize) -> BTreeSet<String> {
    let mut run = Run::builtin();
    let mut ts = T0;
    for src in sources {
        for i in 0..n {
            let req =
                Req { agent: "custom", auth: Some((user, "abc")), ..Req::new("REGISTER", user, &format!("g{src}{i}")) };
            run.request(ts, src, &req.bytes());
            run.answer(ts + 1, src, &req.bytes(), 403, "");
            ts += S;
        }
    }
    run.fired()
}

#[test]
fn password_guessing_per_source_and_per_account() {
    let one = vec!["203.0.113.7".to_owned()];
    assert_eq!(guessing(&one, "100", 10), set(&["sipscope/guess-source"]));
    assert_eq!(guessing(&one, "100", 9), set(&[]));
    let many: Vec<String> = (1..=20).map(|i| format!("203.0.113.{i}")).collect();
    assert_eq!(guessing(&many, "100", 1), set(&["sipscope/guess-account"]));
    assert_eq!(guessing(&many[..19], "100", 1), set(&[]));
}

fn dial(numbers: &[&str], sources: &[&str], credentials: bool) -> BTreeSet<String> {
    let mut run = Run::builtin();
    for (i, number) in numbers.iter().enumerate() {
        let src = sources[i % sources.len()];
        let auth = credentials.then_some(("100", "n"));
        let req = Req { agent: "custom", from_user: "100", auth, ..Req::new("INVITE", number, &format!("d{i}")) };
        run.request(T0 + i as i64 * S, src, &req.bytes());
    }
    run.fired()
}

#[test]
fn toll_fraud_premium_and_many_destinations() {
    assert_eq!(dial(&["00449098765432"], &["203.0.113.8"], false), set(&["sipscope/fraud-premium"]));
    let five = ["0046701234567", "0049301234567", "00442079460000", "0033142685300", "0034912345678"];
    assert_eq!(dial(&five, &["203.0.113.8"], false), set(&["sipscope/fraud-destinations-source"]));
    assert_eq!(dial(&five[..4], &["203.0.113.8"], false), set(&[]));
    let sources = ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4", "203.0.113.5"];
    assert_eq!(dial(&five, &sources, true), set(&["sipscope/fraud-destinations-account"]));
    assert_eq!(dial(&["100", "101", "102", "103", "104", "105"], &["203.0.113.8"], false), set(&[]), "extensions");
}

#[test]
fn a_registration_from_a_new_address_is_a_hijack() {
    let mut run = Run::builtin();
    let register = |run: &mut Run, ts: i64, src: &str, id: &str| {
        let req = Req { auth: Some(("100", "n")), ..Req::new("REGISTER", "100", id) }.bytes();
        run.request(ts, src, &req);
        run.answer(ts + 1, src, &req, 200, "");
    };
    register(&mut run, T0, "192.0.2.10", "a");
    register(&mut run, T0 + 600 * S, "192.0.2.10", "b");
    let quiet = Run::builtin().fired();
    assert!(quiet.is_empty());
    register(&mut run, T0 + 1200 * S, "203.0.113.66", "c");
    let alerts = run.finish();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(set(&[alerts[0].rule_id.as_str()]), set(&["sipscope/registration-hijack"]));
    assert_eq!(alerts[0].src.unwrap().0, "203.0.113.66".parse::<std::net::IpAddr>().unwrap());
}

#[test]
fn known_tools_by_agent_and_by_fingerprint_once_per_source() {
    let mut run = Run::builtin();
    for i in 0..5 {
        run.request(T0 + i * S, "203.0.113.9", &tool_message("svmap/0001.sip"));
    }
    // svmap with another User-Agent: its shape gives it away.
    let disguised =
        String::from_utf8(tool_message("svmap/0001.sip")).unwrap().replace("friendly-scanner", "Yealink SIP-T46S");
    run.request(T0, "203.0.113.10", disguised.as_bytes());
    let alerts = run.finish();
    let by_rule: Vec<(&str, u64)> = alerts.iter().map(|a| (a.rule_id.as_str(), a.count)).collect();
    assert_eq!(by_rule, [("sipscope/attack-agent", 5), ("sipscope/attack-fingerprint", 1)]);
    assert_eq!(alerts[0].sip.user_agent.as_deref(), Some("friendly-scanner"));
    let none = {
        let mut run = Run::builtin();
        run.request(T0, "192.0.2.10", &tool_message("baresip-register/0001.sip"));
        run.fired()
    };
    assert_eq!(none, set(&[]), "a softphone is no attack tool");
}

#[test]
fn floods_of_registers_invites_4xx_and_requests() {
    let flood = |method: &str, n: i64, per_second: i64, answer: u16| {
        let mut run = Run::builtin();
        for i in 0..n {
            let req = Req { agent: "custom", ..Req::new(method, "100", &format!("f{i}")) }.bytes();
            let ts = T0 + i * S / per_second;
            run.request(ts, "203.0.113.11", &req);
            if answer > 0 {
                run.answer(ts, "203.0.113.11", &req, answer, "");
            }
        }
        run.fired()
    };
    assert_eq!(flood("REGISTER", 30, 20, 0), set(&["sipscope/register-flood"]));
    assert_eq!(flood("INVITE", 30, 20, 0), set(&["sipscope/invite-flood"]));
    assert_eq!(flood("INVITE", 30, 5, 0), set(&[]), "30 in 6 s");
    assert_eq!(flood("OPTIONS", 30, 20, 404), set(&["sipscope/4xx-flood"]));
    assert_eq!(flood("OPTIONS", 600, 1000, 0), set(&["sipscope/request-flood"]));
    assert_eq!(flood("OPTIONS", 6000, 90, 0), set(&[]), "90 a second for a minute");
}

#[test]
fn pbx_log_thresholds_over_authentication_records() {
    let records =
        |n: usize, user: &dyn Fn(usize) -> String, outcome: &'static str, source: &dyn Fn(usize) -> String| {
            let mut run = Run::builtin();
            for i in 0..n {
                run.record(T0 + i as i64 * S, &source(i), &user(i), outcome);
            }
            run.fired()
        };
    let one = |_| "203.0.113.12".to_owned();
    let fixed = |_| "100".to_owned();
    assert_eq!(records(8, &fixed, "wrong_password", &one), set(&["sipscope/pbx-failed-logins"]));
    assert_eq!(records(7, &fixed, "wrong_password", &one), set(&[]));
    assert_eq!(records(7, &fixed, "accepted", &one), set(&[]));
    let users = |i| format!("u{i}");
    assert_eq!(records(5, &users, "unknown_user", &one), set(&["sipscope/pbx-unknown-users"]));
    let many = |i| format!("203.0.113.{}", i + 1);
    assert_eq!(records(20, &fixed, "wrong_password", &many), set(&["sipscope/pbx-account-attacked"]));
    assert_eq!(records(19, &fixed, "wrong_password", &many), set(&[]));
    // Asterisk's "rejected because extension not found": calls from one address to
    // extensions the PBX does not have.
    assert_eq!(records(5, &fixed, "extension_not_found", &one), set(&["sipscope/pbx-unknown-extensions"]));
    assert_eq!(records(4, &fixed, "extension_not_found", &one), set(&[]));
}

/// Every outcome a record can carry is a value `auth_outcome` accepts in a rule, and a record
/// with it has that fact (a name missing from the rules' list would compile nowhere and match
/// nothing).
#[test]
fn every_record_outcome_is_an_auth_outcome_rules_match() {
    let limits = RuleLimits::default();
    for outcome in crate::event::record::AUTH_ATTEMPT_OUTCOMES {
        let text = format!(
            "[[rule]]\nid = \"t/o\"\nsid = 1\nname = \"o\"\nseverity = \"low\"\n\
             match = {{ kind = \"auth_attempt\", auth_outcome = \"{outcome}\" }}\ngroup_by = [\"source\"]\n\
             window = {{ count = 1, seconds = 60 }}\n"
        );
        let rules = compile::parse(&text, "t.toml", &limits).unwrap_or_else(|e| panic!("{outcome}: {e:?}"));
        let mut run = Run::with(RuleSet { rules, limits });
        run.record(T0, "203.0.113.30", "100", outcome);
        assert_eq!(run.fired(), set(&["t/o"]), "{outcome}");
    }
}

#[test]
fn proven_sources_and_spoofed_udp() {
    let mut run = Run::builtin();
    // Spoofed UDP: the challenge goes to 203.0.113.20, which never sees it; the spoofer's
    // guessed nonce proves nothing, and neither does the real nonce used from elsewhere.
    let spoofed = "203.0.113.20";
    let req = Req::new("REGISTER", "100", "s1").bytes();
    run.request(T0, spoofed, &req);
    run.answer(T0 + 1, spoofed, &req, 401, "secret-nonce");
    let guess = Req { cseq: 2, auth: Some(("100", "guessed")), ..Req::new("REGISTER", "100", "s1") }.bytes();
    run.request(T0 + 2, spoofed, &guess);
    let elsewhere = Req { cseq: 2, auth: Some(("100", "secret-nonce")), ..Req::new("REGISTER", "100", "s1") }.bytes();
    run.request(T0 + 3, "203.0.113.21", &elsewhere);
    assert!(!run.engine.trackers_proven(spoofed.parse().unwrap()));
    assert!(!run.engine.trackers_proven("203.0.113.21".parse().unwrap()));
    // The real sender echoes the nonce it was sent.
    run.request(T0 + 4, spoofed, &elsewhere);
    assert!(run.engine.trackers_proven(spoofed.parse().unwrap()));
    // A To-tag sent to an address, echoed by it (an ACK or a BYE in the dialog).
    let invite = Req::new("INVITE", "200", "t1").bytes();
    run.request(T0, "203.0.113.22", &invite);
    run.answer(T0 + 1, "203.0.113.22", &invite, 404, "");
    let ack = Req { to_tag: Some("pbxtag"), ..Req::new("ACK", "200", "t1") }.bytes();
    run.request(T0 + 2, "203.0.113.22", &ack);
    assert!(run.engine.trackers_proven("203.0.113.22".parse().unwrap()));
    // TCP received by the sensor's own stack: the handshake completed.
    let opt = Req::new("OPTIONS", "100", "o1").bytes();
    run.message(T0, ("203.0.113.23", 40000), (PBX, 5060), Transport::Tcp, Direction::In, &opt);
    assert!(run.engine.trackers_proven("203.0.113.23".parse().unwrap()));
    // TCP in a passive capture: proven once a request follows an answer on the connection.
    run.message(T0, ("203.0.113.24", 40000), (PBX, 5060), Transport::Tcp, Direction::Unknown, &opt);
    assert!(!run.engine.trackers_proven("203.0.113.24".parse().unwrap()));
    let ok = sipscope_sip::builder::ResponseBuilder::new(&sipscope_sip::parse(&opt).unwrap(), 200, "OK").build();
    run.message(T0 + 1, (PBX, 5060), ("203.0.113.24", 40000), Transport::Tcp, Direction::Unknown, &ok);
    run.message(T0 + 2, ("203.0.113.24", 40000), (PBX, 5060), Transport::Tcp, Direction::Unknown, &opt);
    assert!(run.engine.trackers_proven("203.0.113.24".parse().unwrap()));
}

#[test]
fn one_alert_per_rule_and_group_per_period_with_its_final_count() {
    let mut run = Run::builtin();
    let bytes = tool_message("svmap/0001.sip");
    for i in 0..10 {
        run.request(T0 + i * S, "203.0.113.30", &bytes);
    }
    let raised: Vec<&AlertChange> = run.changes.iter().filter(|c| c.alert.rule_id == "sipscope/attack-agent").collect();
    assert_eq!(raised.len(), 1);
    assert!(raised[0].raised && raised[0].alert.count == 1);
    // The period (1 h) ends by event time: the final count is reported, and the next match
    // raises a new alert.
    run.request(T0 + 3700 * S, "203.0.113.30", &bytes);
    let agent: Vec<&AlertChange> = run.changes.iter().filter(|c| c.alert.rule_id == "sipscope/attack-agent").collect();
    assert_eq!(agent.len(), 3, "{agent:#?}");
    assert!(!agent[1].raised && agent[1].alert.count == 10);
    assert_eq!(agent[1].alert.evidence.len(), 4, "the first three and the last");
    assert!(agent[2].raised && agent[2].alert.first_ns == T0 + 3700 * S);
}

#[test]
fn group_tables_stay_within_their_limit() {
    let mut set = RuleSet::builtin();
    set.limits.max_groups_per_rule = 50;
    let mut run = Run::with(set);
    let bytes = tool_message("svmap/0001.sip");
    for i in 0..2_000u32 {
        let src = std::net::Ipv4Addr::from(0xCB00_7100 + i).to_string();
        run.request(T0 + i64::from(i) * S / 1000, &src, &bytes);
    }
    let index = run.engine.rules().rules.iter().position(|r| r.id == "sipscope/attack-agent").unwrap();
    let counters = run.engine.counters(index).unwrap().clone();
    assert!(counters.groups_evicted >= 1_950, "{counters:?}");
    assert!(run.engine.groups(index) <= 50);
    assert_eq!(counters.alerts, 2_000, "every source still alerted once");
}

#[test]
fn rule_files_with_mistakes_are_refused_with_their_line() {
    let check = |text: &str| compile::parse(text, "r.toml", &RuleLimits::default()).unwrap_err();
    let head = "[[rule]]\nid = \"x/a\"\nsid = 1\nname = \"a\"\nseverity = \"low\"\n";
    let e = check(&format!("{head}match = {{ kind = \"request\" }}\nwindow = {{ count = 3, seconds = 0 }}\n"));
    assert_eq!((e[0].line, e[0].to_string().contains("longer than zero")), (7, true), "{e:?}");
    let e = check(&format!("{head}match = {{ kinde = \"request\" }}\nwindow = {{ count = 3, seconds = 1 }}\n"));
    assert!(e[0].line == 6 && e[0].message.contains("unknown fact \"kinde\""), "{e:?}");
    let e = check(&format!("{head}match = {{}}\nwindow = {{ count = 3, seconds = 1 }}\ncolour = 1\n"));
    assert!(e[0].line == 8 && e[0].message.contains("unknown field `colour`"), "{e:?}");
    let e = check(&format!(
        "{}match = {{ user_agent = {{ regex = \"((a{{100}}){{100}}){{100}}\" }} }}\nwindow = {{ count = 1, seconds = 1 }}\n",
        head.replace("\"low\"", "\"urgent\"")
    ));
    assert!(e[0].line == 5 && e[0].message.contains("severity"), "{e:?}");
    let e = check(&format!("{head}match = {{ user_agent = {{ regex = \"((a{{100}}){{100}}){{100}}\" }} }}\nwindow = {{ count = 1, seconds = 1 }}\n"));
    assert!(e[0].line == 6 && e[0].message.contains("limit"), "{e:?}");
    let e = check(&format!("{head}match = {{}}\nwindow = {{ distinct = 3, seconds = 1 }}\n"));
    assert!(e[0].message.contains("needs `of`"), "{e:?}");
    let e = check(&format!("{head}match = {{}}\ngroup_by = [\"campaign\"]\nwindow = {{ count = 1, seconds = 1 }}\n"));
    assert!(e[0].line == 7 && e[0].message.contains("report time"), "{e:?}");
    let e = check(&format!("{head}match = {{}}\nwindow = {{ bucket = 5, leak_per_second = 0 }}\n"));
    assert!(e[0].message.contains("must leak"), "{e:?}");
    let e = check("[[rule]\nid = ");
    assert_eq!(e[0].line, 1, "{e:?}");
    let e = check(&format!("{head}match = {{}}\nwindow = {{ count = 1, seconds = 1 }}\n{head}match = {{}}\nwindow = {{ count = 1, seconds = 1 }}\n"));
    assert!(e[0].line == 8 && e[0].message.contains("defined twice"), "{e:?}");
}

#[test]
fn files_replace_builtin_rules_and_disable_takes_ids_and_prefixes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mine.toml");
    std::fs::write(
        &file,
        "[[rule]]\nid = \"sipscope/options-sweep\"\nsid = 9140001\nname = \"sweep, tuned\"\nseverity = \"high\"\n\
         match = { kind = \"request\", method = \"OPTIONS\" }\nwindow = { distinct = 6, of = \"destination\", seconds = 1 }\n\
         [[rule]]\nid = \"site/invite-night\"\nsid = 1\nname = \"INVITE\"\nseverity = \"info\"\n\
         match = { method = \"INVITE\" }\nwindow = { count = 1, seconds = 60 }\n",
    )
    .unwrap();
    let config =
        RulesConfig { files: vec![file.clone()], disable: vec!["sipscope/pbx-*".into()], ..RulesConfig::default() };
    let set = RuleSet::load(&config).unwrap().unwrap();
    let sweep = set.rules.iter().find(|r| r.id == "sipscope/options-sweep").unwrap();
    assert_eq!(sweep.name, "sweep, tuned");
    assert!(set.rules.iter().any(|r| r.id == "site/invite-night"));
    assert!(!set.rules.iter().any(|r| r.id.starts_with("sipscope/pbx-")));
    assert!(RuleSet::load(&RulesConfig { enabled: false, ..config.clone() }).unwrap().is_none());
    std::fs::write(&file, "[[rule]]\nid = \"dup\"\nsid = 9140001\nname = \"x\"\nseverity = \"low\"\nmatch = {}\nwindow = { count = 1, seconds = 1 }\n")
        .unwrap();
    let err = RuleSet::load(&RulesConfig { files: vec![file], ..RulesConfig::default() }).unwrap_err();
    assert!(err.to_string().contains("sid 9140001"), "{err}");
}
