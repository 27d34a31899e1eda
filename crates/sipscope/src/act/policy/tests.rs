//! The policy with a simulated clock: pure verdicts over plain history, then the responder
//! over a real SQLite store with an in-memory enforcer.

use super::*;
use crate::act::{EnforceError, Enforcer, InForce, Responder};
use crate::sinks::decisions::Deletion;
use crate::test_support::alert;
use std::sync::{Arc, Mutex};

const T0: i64 = 1_800_000_000 * SECOND_NS;
const HOUR: i64 = 3600 * SECOND_NS;

fn ban() -> Action {
    Action::Ban { scope: ScopeKind::Address, duration_ns: 0 }
}

/// History as plain values.
#[derive(Default)]
struct Plain {
    in_force: Vec<Decision>,
    offences: u32,
    authenticated: Option<i64>,
    failures: Vec<Attempt>,
}

impl History for Plain {
    fn in_force(&self) -> &[Decision] {
        &self.in_force
    }
    fn offences(&self, _: &Scope) -> u32 {
        self.offences
    }
    fn authenticated_at(&self, _: IpAddr) -> Option<i64> {
        self.authenticated
    }
    fn failures(&self, _: IpAddr, since_ns: i64) -> Vec<Attempt> {
        self.failures.iter().filter(|a| a.ts_ns >= since_ns).cloned().collect()
    }
}

fn policy(edit: impl FnOnce(&mut DecisionsConfig)) -> Policy {
    let mut config = DecisionsConfig { enabled: true, ..DecisionsConfig::default() };
    edit(&mut config);
    let nodes = ["203.0.113.0/28".parse().unwrap()];
    Policy::new(config, &["192.0.2.250".parse().unwrap()], &nodes).unwrap()
}

fn taken(verdicts: Vec<Verdict>) -> Decision {
    match verdicts.into_iter().next() {
        Some(Verdict::Take { decision, .. }) => decision,
        other => panic!("expected a decision, got {other:?}"),
    }
}

#[test]
fn a_proven_source_is_banned_for_the_base_duration() {
    let d = taken(policy(|_| {}).decide(T0, &alert("192.0.2.7", true, T0, vec![ban()]), &Plain::default()));
    assert_eq!(d.kind, DecisionKind::Ban);
    assert_eq!(d.scope, Scope::Address("192.0.2.7".parse().unwrap()));
    assert_eq!((d.start_ns, d.until_ns, d.offence), (T0, T0 + HOUR, 0));
    assert!(d.reason.contains("sipscope/register-guessing"), "{}", d.reason);
    assert_eq!(d.origin, DecisionOrigin::Rule { rule_id: "sipscope/register-guessing".into() });
}

#[test]
fn allowlists_win_over_every_rule() {
    let p = policy(|c| {
        c.allowlist = vec!["192.0.2.0/28".into()];
        c.trunks = vec!["198.51.100.64/26".into()];
        c.allow_authenticated_hours = 24;
    });
    let cases = [
        ("192.0.2.7", Protection::Allowlist),
        ("198.51.100.70", Protection::Trunk),
        ("203.0.113.5", Protection::Node),
        ("192.0.2.250", Protection::Own),
        ("127.0.0.1", Protection::Loopback),
        ("::1", Protection::Loopback),
        ("0.0.0.0", Protection::Loopback),
    ];
    for (src, why) in cases {
        let verdicts = p.decide(T0, &alert(src, true, T0, vec![ban()]), &Plain::default());
        assert_eq!(verdicts, [Verdict::Protected(src.parse().unwrap(), why)], "{src}");
    }
    // The address the attack was sent to is never decided against (a forged source).
    let mut to_us = alert("198.51.100.1", true, T0, vec![ban()]);
    to_us.src = Some(("198.51.100.1".parse().unwrap(), 5060));
    assert!(matches!(p.decide(T0, &to_us, &Plain::default())[..], [Verdict::Protected(_, Protection::Own)]));
    // Authenticated 23 hours ago: allowlisted; 25 hours ago: no longer.
    let recent = Plain { authenticated: Some(T0 - 23 * HOUR), ..Plain::default() };
    let old = Plain { authenticated: Some(T0 - 25 * HOUR), ..Plain::default() };
    let a = alert("192.0.2.99", true, T0, vec![ban()]);
    assert!(matches!(p.decide(T0, &a, &recent)[..], [Verdict::Protected(_, Protection::Authenticated)]));
    assert_eq!(taken(p.decide(T0, &a, &old)).kind, DecisionKind::Ban);
    // Off by default: a honeypot's lures accept attackers' guesses.
    assert_eq!(taken(policy(|_| {}).decide(T0, &a, &recent)).kind, DecisionKind::Ban);
}

#[test]
fn a_network_scope_that_reaches_a_protected_address_shrinks_to_the_source() {
    let p = policy(|c| c.allowlist = vec!["192.0.2.0/28".into()]);
    let wide = vec![Action::Ban { scope: ScopeKind::Prefix(24), duration_ns: 0 }];
    let d = taken(p.decide(T0, &alert("192.0.2.77", true, T0, wide.clone()), &Plain::default()));
    assert_eq!(d.scope, Scope::Address("192.0.2.77".parse().unwrap()));
    let d = taken(p.decide(T0, &alert("198.18.0.9", true, T0, wide), &Plain::default()));
    assert_eq!(d.scope, Scope::Prefix("198.18.0.0/24".parse().unwrap()));
    // A rule asking for a /0 gets no wider than the configured /16.
    let everything = vec![Action::Ban { scope: ScopeKind::Prefix(0), duration_ns: 0 }];
    let d = taken(p.decide(T0, &alert("198.18.0.9", true, T0, everything), &Plain::default()));
    assert_eq!(d.scope, Scope::Prefix("198.18.0.0/16".parse().unwrap()));
    // A network around a protected source is not narrowed to it: refused.
    let watch = vec![Action::Watch { scope: ScopeKind::Prefix(24), duration_ns: 0 }];
    let verdicts = p.decide(T0, &alert("127.0.0.9", true, T0, watch), &Plain::default());
    assert_eq!(verdicts, [Verdict::Protected("127.0.0.9".parse().unwrap(), Protection::Loopback)]);
}

#[test]
fn an_unproven_source_is_never_banned_unless_the_operator_opts_in() {
    let a = alert("192.0.2.7", false, T0, vec![ban()]);
    let d = match policy(|_| {}).decide(T0, &a, &Plain::default()).remove(0) {
        Verdict::Take { decision, downgrade } => {
            assert_eq!(downgrade, Some(Downgrade::Unproven));
            decision
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(d.kind, DecisionKind::RateLimit { per_second: 10 });
    assert!(!d.proven && d.reason.contains("not proven"), "{}", d.reason);
    let watch = taken(policy(|c| c.unproven = Unproven::Watch).decide(T0, &a, &Plain::default()));
    assert_eq!(watch.kind, DecisionKind::Watch);
    let opted_in = taken(policy(|c| c.ban_unproven = true).decide(T0, &a, &Plain::default()));
    assert_eq!(opted_in.kind, DecisionKind::Ban);
}

#[test]
fn escalation_multiplies_per_offence_and_stops_at_the_maximum() {
    let p = policy(|c| {
        c.base_duration_seconds = 600;
        c.max_duration_seconds = 3000;
    });
    let a = alert("192.0.2.7", true, T0, vec![ban()]);
    let durations: Vec<i64> = (0..5)
        .map(|offences| {
            let d = taken(p.decide(T0, &a, &Plain { offences, ..Plain::default() }));
            assert_eq!(d.offence, offences);
            (d.until_ns - d.start_ns) / SECOND_NS
        })
        .collect();
    assert_eq!(durations, [600, 1200, 2400, 3000, 3000]);
    assert_eq!(p.escalated(600 * SECOND_NS, u32::MAX), 3000 * SECOND_NS);
    // A rule's own duration is the base.
    let own =
        alert("192.0.2.7", true, T0, vec![Action::Ban { scope: ScopeKind::Address, duration_ns: 60 * SECOND_NS }]);
    let d = taken(p.decide(T0, &own, &Plain { offences: 1, ..Plain::default() }));
    assert_eq!(d.until_ns - d.start_ns, 120 * SECOND_NS);
    // … but never beyond the operator's maximum, even at a first offence.
    let long =
        alert("192.0.2.7", true, T0, vec![Action::Ban { scope: ScopeKind::Address, duration_ns: 7200 * SECOND_NS }]);
    let d = taken(p.decide(T0, &long, &Plain::default()));
    assert_eq!(d.until_ns - d.start_ns, 3000 * SECOND_NS);
}

#[test]
fn a_decision_in_force_is_not_taken_again_but_a_stronger_one_is() {
    let p = policy(|_| {});
    let a = alert("192.0.2.7", true, T0, vec![ban()]);
    let first = taken(p.decide(T0, &a, &Plain::default()));
    let held = Plain { in_force: vec![first.clone()], ..Plain::default() };
    assert_eq!(p.decide(T0 + 1, &a, &held), [Verdict::AlreadyInForce(first.scope)]);
    // Expired: taken again.
    assert_eq!(taken(p.decide(first.until_ns, &a, &held)).kind, DecisionKind::Ban);
    // A watch in force does not stop a ban.
    let watch = Decision { kind: DecisionKind::Watch, ..first.clone() };
    let watched = Plain { in_force: vec![watch], ..Plain::default() };
    assert_eq!(taken(p.decide(T0 + 1, &a, &watched)).kind, DecisionKind::Ban);
}

#[test]
fn stale_credentials_become_a_watch_that_says_so() {
    let p = policy(|_| {});
    let failures: Vec<Attempt> = (0..6)
        .map(|i| Attempt { ts_ns: T0 - (6 - i) * 60 * SECOND_NS, user: "102".into(), agent: Some("Yealink".into()) })
        .collect();
    let history = Plain { failures, ..Plain::default() };
    match p.decide(T0, &alert("192.0.2.7", true, T0, vec![ban()]), &history).remove(0) {
        Verdict::Take { decision, downgrade } => {
            assert_eq!(downgrade, Some(Downgrade::StaleCredentials));
            assert_eq!(decision.kind, DecisionKind::Watch);
            assert!(decision.reason.starts_with("stale credentials: account \"102\""), "{}", decision.reason);
            assert!(decision.reason.contains("every 60 s"), "{}", decision.reason);
        }
        other => panic!("{other:?}"),
    }
    // Switched off: banned.
    let off = policy(|c| c.stale_credentials.enabled = false);
    assert_eq!(taken(off.decide(T0, &alert("192.0.2.7", true, T0, vec![ban()]), &history)).kind, DecisionKind::Ban);
}

#[test]
fn bad_configurations_are_refused_with_the_key() {
    for (edit, key) in [
        (
            Box::new(|c: &mut DecisionsConfig| c.allowlist = vec!["10.0.0.0/33".into()]) as Box<dyn Fn(&mut _)>,
            "allowlist",
        ),
        (Box::new(|c: &mut DecisionsConfig| c.escalation_factor = 0.5), "escalation_factor"),
        (Box::new(|c: &mut DecisionsConfig| c.max_duration_seconds = 1), "max_duration_seconds"),
        (Box::new(|c: &mut DecisionsConfig| c.stale_credentials.min_rounds = 1), "min_rounds"),
    ] {
        let mut config = DecisionsConfig::default();
        edit(&mut config);
        let err = Policy::new(config, &[], &[]).unwrap_err();
        assert!(err.contains(key), "{err}");
    }
}

/// Each reconcile: its time and the decisions.
type Reconciles = Vec<(i64, Vec<Decision>)>;

/// Every set of decisions it was asked to enforce.
#[derive(Clone, Default)]
struct MemoryEnforcer(Arc<Mutex<Reconciles>>);

impl Enforcer for MemoryEnforcer {
    fn reconcile(&mut self, now_ns: i64, active: &[Decision]) -> Result<(), EnforceError> {
        self.0.lock().unwrap().push((now_ns, active.to_vec()));
        Ok(())
    }
    fn remove_all(&mut self) -> Result<(), EnforceError> {
        self.0.lock().unwrap().clear();
        Ok(())
    }
}

impl MemoryEnforcer {
    fn last(&self) -> (i64, Vec<Decision>) {
        self.0.lock().unwrap().last().cloned().unwrap()
    }
}

fn responder(
    path: &std::path::Path,
    p: Policy,
    in_force: &InForce,
    enforcer: &MemoryEnforcer,
    now: i64,
) -> PolicyResponder {
    drop(crate::sinks::sqlite::Store::open(path).unwrap());
    let parts = ResponderParts {
        policy: p,
        sensor: "test".into(),
        reader: crate::store::open(path).unwrap(),
        log: crate::sinks::open_decision_log(path).unwrap(),
        in_force: in_force.clone(),
        enforcer: Some(Box::new(enforcer.clone())),
        reconcile_every_ns: 60 * SECOND_NS,
        refresh_every_ns: SECOND_NS,
    };
    PolicyResponder::new(parts, now).unwrap()
}

#[test]
fn the_responder_bans_at_once_enforces_on_its_worker_and_escalation_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let (in_force, enforcer) = (InForce::default(), MemoryEnforcer::default());
    let ip: IpAddr = "192.0.2.7".parse().unwrap();
    let mut r = responder(&path, policy(|_| {}), &in_force, &enforcer, T0);
    let first = r.on_alert(T0, &alert("192.0.2.7", true, T0, vec![ban()]));
    assert_eq!(first.len(), 1);
    assert!(in_force.banned(ip, 1, T0 + 1), "the listeners see the ban before the call returns");
    // An update of the same alert while the ban holds takes nothing.
    assert!(r.on_alert(T0 + SECOND_NS, &alert("192.0.2.7", true, T0 + SECOND_NS, vec![ban()])).is_empty());
    r.settle();
    assert_eq!(enforcer.last().1, first);
    // Expired: the next offence lasts twice as long.
    let later = first[0].until_ns + SECOND_NS;
    r.tick(later);
    assert!(!in_force.banned(ip, 1, later));
    let second = r.on_alert(later, &alert("192.0.2.7", true, later, vec![ban()]));
    assert_eq!((second[0].offence, second[0].until_ns - later), (1, 2 * HOUR));
    r.settle();
    drop(r);
    // A new process on the same store remembers both offences.
    let much_later = second[0].until_ns + SECOND_NS;
    let mut r = responder(&path, policy(|_| {}), &in_force, &enforcer, much_later);
    let third = r.on_alert(much_later, &alert("192.0.2.7", true, much_later, vec![ban()]));
    assert_eq!((third[0].offence, third[0].until_ns - much_later), (2, 4 * HOUR));
    r.settle();
    let stored = crate::store::open(&path).unwrap().decisions(&crate::store::Filter::default(), 10).unwrap();
    assert_eq!(stored.len(), 3);
    assert_eq!(stored[0].sensor.as_deref(), Some("test"));
    assert_eq!(stored[0].decision.evidence, third[0].evidence);
}

#[test]
fn operator_decisions_reach_a_running_responder_on_tick() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let (in_force, enforcer) = (InForce::default(), MemoryEnforcer::default());
    let mut r = responder(&path, policy(|_| {}), &in_force, &enforcer, T0);
    let ip: IpAddr = "198.18.0.1".parse().unwrap();
    let mut log = crate::sinks::open_decision_log(&path).unwrap();
    let by_operator = |scope: Scope| Decision {
        id: None,
        kind: DecisionKind::Ban,
        scope,
        start_ns: T0,
        until_ns: T0 + HOUR,
        reason: "seen in the PBX log".into(),
        origin: DecisionOrigin::Operator { who: "alice".into() },
        offence: 0,
        proven: true,
        evidence: vec![],
    };
    let id = log.insert(&by_operator(Scope::Prefix("198.18.0.0/24".parse().unwrap())), None, T0).unwrap();
    // An operator's ban of loopback is never applied.
    log.insert(&by_operator(Scope::Address("127.0.0.1".parse().unwrap())), None, T0).unwrap();
    assert!(!in_force.banned(ip, 1, T0 + 1));
    r.tick(T0 + SECOND_NS);
    assert!(in_force.banned(ip, 1, T0 + SECOND_NS));
    assert!(!in_force.banned("127.0.0.1".parse().unwrap(), 1, T0 + SECOND_NS));
    r.settle();
    assert_eq!(enforcer.last().1.len(), 1);
    let by = Deletion { at_ns: T0 + 2 * SECOND_NS, who: "alice".into(), why: "mistake".into() };
    assert!(log.delete_id(id, &by).unwrap());
    r.tick(T0 + 3 * SECOND_NS);
    assert!(!in_force.banned(ip, 1, T0 + 3 * SECOND_NS));
    r.settle();
    assert!(enforcer.last().1.is_empty());
    // Re-asserted on every reconcile interval even when nothing changed.
    let before = enforcer.0.lock().unwrap().len();
    r.tick(T0 + 120 * SECOND_NS);
    r.settle();
    assert_eq!(enforcer.0.lock().unwrap().len(), before + 1);
}

#[test]
fn the_responder_finds_stale_credentials_in_the_honeypots_failed_attempts() {
    use crate::event::record::{AuthAttemptRecord, Record, RecordContext};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let mut store = crate::sinks::sqlite::Store::open(&path).unwrap();
    let office: std::net::SocketAddr = "192.0.2.7:5060".parse().unwrap();
    let attempt = |id: i64, ts_ns: i64, user: &str, outcome: &'static str| {
        Record::AuthAttempt(AuthAttemptRecord {
            id,
            ctx: RecordContext {
                ts_ns,
                sensor: "test".into(),
                node: None,
                transport: crate::event::Transport::Udp,
                src: office,
                dst: "198.51.100.1:5060".parse().unwrap(),
                call_id: None,
                user_agent: Some("Yealink SIP-T46S".into()),
            },
            method: "REGISTER".into(),
            username: user.into(),
            realm: None,
            uri: None,
            nonce: None,
            outcome,
            password: None,
            log: None,
            published_seq: None,
        })
    };
    // Phone 102 keeps failing every 90 s; 100 and 101 behind the same NAT register fine.
    for i in 0..8 {
        let t = T0 - (8 - i) * 90 * SECOND_NS;
        store.insert_record(&attempt(3 * i + 1, t, "102", "wrong_password")).unwrap();
        store.insert_record(&attempt(3 * i + 2, t + SECOND_NS, "100", "accepted")).unwrap();
        store.insert_record(&attempt(3 * i + 3, t + 2 * SECOND_NS, "101", "accepted")).unwrap();
    }
    store.flush_now().unwrap();
    let (in_force, enforcer) = (InForce::default(), MemoryEnforcer::default());
    let mut r = responder(&path, policy(|_| {}), &in_force, &enforcer, T0);
    let mut a = alert("192.0.2.7", true, T0, vec![ban()]);
    a.sip.from_user = Some("102".into());
    a.sip.user_agent = Some("Yealink SIP-T46S".into());
    let d = r.on_alert(T0, &a);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].kind, DecisionKind::Watch, "{}", d[0].reason);
    assert!(d[0].reason.starts_with("stale credentials"));
    assert!(!in_force.banned(office.ip(), 5060, T0 + 1));
    assert_eq!(r.counters().stale_credentials, 1);
    // An attacker guessing fast from elsewhere is banned.
    let d = r.on_alert(T0, &alert("198.18.0.66", true, T0, vec![ban()]));
    assert_eq!(d[0].kind, DecisionKind::Ban);
}

#[test]
fn this_hosts_addresses_include_loopback() {
    let own = responder::host_addresses();
    assert!(own.contains(&"127.0.0.1".parse().unwrap()), "{own:?}");
}
