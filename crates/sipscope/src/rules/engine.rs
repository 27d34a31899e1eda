//! The rules engine: every message (and record) the pipeline takes goes through the trackers,
//! then through each rule's conditions; a match counts in its group's window, and a window that
//! reaches its threshold raises an alert. The alert stays open for the rule's dedupe period:
//! further matches of its group only add to its count (one alert per rule and group per
//! period), and when the period ends (by event time) the final count is reported as an update.
//! Pure: time comes with the messages; memory is bounded by [`RuleLimits`].

use super::compile::{GroupBy, Rule};
use super::condition::Test;
use super::facts::{agent, Caches, Derived, Fact, Facts, Observation, Subject, Value};
use super::trackers::Trackers;
use super::window::WindowState;
use super::RuleSet;
use crate::act::{Alert, AlertSip, Evidence, GroupKey, Prefix};
use crate::analysis::bounded::{bounded, MAX_VALUE_BYTES};
use crate::analysis::FastMap;
use crate::event::fields::lossless_text;
use crate::event::record::Record;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;
use std::sync::Arc;

/// Evidence kept per alert: the first matches of its window, and the last.
pub const FIRST_EVIDENCE: usize = 3;

/// An alert raised (`raised`), or closed at the end of its dedupe period with its final count
/// (`grew`: more matches than it was raised with; a closed alert that did not grow is news to
/// nobody but a store that waits for the end before writing).
#[derive(Debug, Clone, PartialEq)]
pub struct AlertChange {
    /// The alert as it stands.
    pub alert: Alert,
    /// First report of this alert (else its close).
    pub raised: bool,
    /// Closed with more matches than it was raised with.
    pub grew: bool,
}

impl AlertChange {
    /// Whether outputs and the responder hear of it: raised, or closed having grown.
    pub fn is_news(&self) -> bool {
        self.raised || self.grew
    }
}

/// Counters per rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleCounters {
    /// Subjects that matched the rule's conditions.
    pub matches: u64,
    /// Alerts raised.
    pub alerts: u64,
    /// Groups dropped because the rule's group table was full.
    pub groups_evicted: u64,
}

struct Open {
    alert: Alert,
    closes_ns: i64,
    reported: u64,
    /// The last absorbed match (evidence, client, server, transport), written into the alert
    /// only when it closes: absorbing a match allocates nothing.
    last: Option<LastMatch>,
}

/// An absorbed match: its evidence, client, server and transport.
type LastMatch = (Evidence, (IpAddr, u16), (IpAddr, u16), &'static str);

struct Group {
    key: GroupKey,
    window: WindowState,
    first: Vec<Evidence>,
    matches: u64,
    last_ns: i64,
    node: Option<Option<String>>,
    open: Option<Box<Open>>,
}

#[derive(Default)]
struct RuleState {
    groups: FastMap<u64, Group>,
    counters: RuleCounters,
}

/// Which rules a subject can match at all, by its kind and, for requests, its method: a
/// message visits only those (in rule order), so the other rules cost nothing for it.
struct RuleIndex {
    /// Per kind (the position of its bit, [`super::facts::KINDS`] order): the rules of that kind.
    by_kind: Vec<Vec<usize>>,
    /// Requests by a method some rule's `method` condition names: the request rules that do
    /// not exclude it (their `method` condition names it, or they have none).
    by_method: Vec<(Box<[u8]>, Vec<usize>)>,
    /// Requests of any other method: the request rules without a `method` list.
    other_method: Vec<usize>,
}

impl RuleIndex {
    fn new(rules: &[Rule]) -> RuleIndex {
        let kinds = super::facts::KINDS.len();
        let by_kind =
            (0..kinds).map(|k| (0..rules.len()).filter(|&i| rules[i].kinds & (1 << k) != 0).collect()).collect();
        let request = super::facts::kind_bit("request");
        // A rule's methods when it names them as a plain list; `None`: it may match any.
        let methods = |rule: &Rule| {
            rule.conditions.iter().find_map(|c| match (&c.fact, &c.test) {
                (Fact::Method, Test::Text(list)) => Some(list.clone()),
                _ => None,
            })
        };
        let mut named: Vec<Box<[u8]>> = Vec::new();
        for rule in rules.iter().filter(|r| r.kinds & request != 0) {
            for m in methods(rule).unwrap_or_default() {
                if !named.contains(&m) {
                    named.push(m);
                }
            }
        }
        let for_method = |m: Option<&[u8]>| -> Vec<usize> {
            (0..rules.len())
                .filter(|&i| rules[i].kinds & request != 0)
                .filter(|&i| match (methods(&rules[i]), m) {
                    (None, _) => true,
                    (Some(list), Some(m)) => list.iter().any(|l| **l == *m),
                    (Some(_), None) => false,
                })
                .collect()
        };
        let by_method = named.iter().map(|m| (m.clone(), for_method(Some(m)))).collect();
        RuleIndex { by_kind, by_method, other_method: for_method(None) }
    }

    /// The rules a subject of `kind_bit` (and `method`, for a request) can match.
    fn rules(&self, kind_bit: u8, method: Option<&[u8]>) -> &[usize] {
        if kind_bit == super::facts::kind_bit("request") {
            if let Some(m) = method {
                return self.by_method.iter().find(|(name, _)| **name == *m).map_or(&self.other_method, |(_, l)| l);
            }
        }
        let position = kind_bit.trailing_zeros() as usize;
        self.by_kind.get(position).map_or(&[], Vec::as_slice)
    }
}

/// The engine: compiled rules, their groups, the trackers and caches.
pub struct RulesEngine {
    set: Arc<RuleSet>,
    index: RuleIndex,
    sensor: String,
    states: Vec<RuleState>,
    trackers: Trackers,
    caches: Caches,
    /// Open alerts by closing time: (closes, rule index, group hash).
    closing: BinaryHeap<Reverse<(i64, usize, u64)>>,
    hasher: ahash::RandomState,
}

impl RulesEngine {
    /// An engine running `set` for sensor `sensor`.
    pub fn new(set: Arc<RuleSet>, sensor: &str) -> RulesEngine {
        let limits = set.limits;
        RulesEngine {
            states: set.rules.iter().map(|_| RuleState::default()).collect(),
            trackers: Trackers::new(limits.trackers, set.uses(super::facts::Fact::Stage)),
            caches: Caches::new(limits.max_cached_values),
            closing: BinaryHeap::new(),
            hasher: ahash::RandomState::new(),
            sensor: sensor.to_owned(),
            index: RuleIndex::new(&set.rules),
            set,
        }
    }

    /// The rules.
    pub fn rules(&self) -> &RuleSet {
        &self.set
    }

    /// Counters of rule `index` (in [`RuleSet::rules`] order).
    pub fn counters(&self, index: usize) -> Option<&RuleCounters> {
        self.states.get(index).map(|s| &s.counters)
    }

    /// Groups held by rule `index` now.
    pub fn groups(&self, index: usize) -> usize {
        self.states.get(index).map_or(0, |s| s.groups.len())
    }

    /// Whether the trackers hold `ip` as proven.
    pub fn trackers_proven(&self, ip: IpAddr) -> bool {
        self.trackers.is_proven(ip)
    }

    /// Takes one message; alerts raised or updated are appended to `out`.
    pub fn observe(&mut self, o: &Observation<'_>, out: &mut Vec<AlertChange>) {
        self.advance(o.ts_ns, out);
        let (derived, to_user) = self.trackers.observe(o);
        let evidence = Evidence { ts_ns: o.ts_ns, src: o.src, dst: o.dst, ordinal: o.ordinal, stored: o.stored };
        let sip = || message_sip(o);
        let method = o.msg.and_then(|m| m.method());
        self.evaluate(Subject::Message(o), &derived, to_user, method, evidence, o.transport.as_str(), &sip, out);
    }

    /// Takes one record (authentication attempt, registration); alerts go to `out`.
    pub fn observe_record(&mut self, record: &Record, ordinal: u64, out: &mut Vec<AlertChange>) {
        let Some(derived) = self.trackers.record(record) else { return };
        let ctx = match record {
            Record::AuthAttempt(a) => &a.ctx,
            Record::Registration(r) => &r.ctx,
            Record::Recovered(_) => return,
        };
        self.advance(ctx.ts_ns, out);
        let evidence = Evidence {
            ts_ns: ctx.ts_ns,
            src: (ctx.src.ip(), ctx.src.port()),
            dst: (ctx.dst.ip(), ctx.dst.port()),
            ordinal,
            stored: None,
        };
        let sip = || record_sip(record);
        let subject = Subject::Record(record, ordinal);
        self.evaluate(subject, &derived, None, None, evidence, ctx.transport.as_str(), &sip, out);
    }

    /// Closes the alerts whose dedupe period ended by `now_ns` (event time).
    pub fn advance(&mut self, now_ns: i64, out: &mut Vec<AlertChange>) {
        while let Some(Reverse((closes, rule, hash))) = self.closing.peek().copied() {
            if closes > now_ns {
                break;
            }
            self.closing.pop();
            if let Some(group) = self.states.get_mut(rule).and_then(|s| s.groups.get_mut(&hash)) {
                if group.open.as_ref().is_some_and(|o| o.closes_ns == closes) {
                    close(group, out);
                }
            }
        }
    }

    /// Closes every open alert (the end of the input).
    pub fn finish(&mut self, out: &mut Vec<AlertChange>) {
        self.advance(i64::MAX, out);
    }

    /// Runs the rules `subject` can match. `to_user`: its To user when the trackers parsed it;
    /// `method`: a request's method (the rules are indexed by it).
    #[allow(clippy::too_many_arguments)]
    fn evaluate<'a>(
        &mut self,
        subject: Subject<'a>,
        derived: &Derived,
        to_user: Option<Option<&'a [u8]>>,
        method: Option<&[u8]>,
        evidence: Evidence,
        transport: &'static str,
        sip: &dyn Fn() -> AlertSip,
        out: &mut Vec<AlertChange>,
    ) {
        let RulesEngine { set, index: rule_index, sensor, states, caches, closing, hasher, .. } = self;
        let mut facts = Facts::new(subject, derived, caches).with_to_user(to_user);
        let node = match subject {
            Subject::Message(o) => o.node,
            Subject::Record(r, _) => record_node(r),
        };
        // A request's rules were chosen by its method: a rule's `method` list names it (or the
        // rule has none), so that condition holds without a test.
        let method_decided = derived.kind_bit == super::facts::kind_bit("request") && method.is_some();
        // Most rules group by source: its hash is computed once per subject.
        let source_hash = hasher.hash_one(derived.client.0);
        for &index in rule_index.rules(derived.kind_bit, method) {
            let Some(rule) = set.rules.get(index) else { continue };
            let holds = rule.conditions.iter().all(|c| {
                if method_decided && c.fact == Fact::Method && matches!(c.test, Test::Text(_)) {
                    return true;
                }
                facts.prepare(c.fact);
                c.test.holds(facts.value(c.fact))
            });
            if !holds {
                continue;
            }
            let hash = match rule.group_by.as_slice() {
                [GroupBy::Source] => source_hash,
                _ => match group_hash(rule, &mut facts, hasher) {
                    Some(h) => h,
                    None => continue,
                },
            };
            // A distinct window counts only subjects that have the value; it is hashed only
            // when the window takes it (not while an open alert absorbs the matches).
            let distinct = rule.window.distinct_of();
            if let Some(of) = distinct {
                facts.prepare(of);
                if facts.value(of) == Value::Absent {
                    continue;
                }
            }
            let Some(state) = states.get_mut(index) else { continue };
            state.counters.matches += 1;
            // The table is full only rarely: the common case is one lookup.
            if state.groups.len() >= set.limits.max_groups_per_rule && !state.groups.contains_key(&hash) {
                evict(state, rule, evidence.ts_ns, out);
                if state.groups.len() >= set.limits.max_groups_per_rule {
                    continue;
                }
            }
            let group = state.groups.entry(hash).or_insert_with(|| Group::new(group_key(rule, &mut facts), rule));
            group.count(evidence.clone(), node);
            let ts = evidence.ts_ns;
            if let Some(open) = group.open.as_mut() {
                let a = &mut open.alert;
                a.count += 1;
                a.last_ns = a.last_ns.max(ts);
                a.proven |= derived.proven;
                open.last = Some((evidence.clone(), derived.client, derived.server, transport));
                continue;
            }
            let value = distinct.and_then(|of| value_hash(facts.value(of), hasher));
            if !group.window.add(&rule.window, ts, value) {
                continue;
            }
            let mut evidence_list = group.first.clone();
            if evidence_list.last() != Some(&evidence) {
                evidence_list.push(evidence.clone());
            }
            let alert = Alert {
                rule_id: rule.id.clone(),
                signature_id: rule.sid,
                name: rule.name.clone(),
                severity: rule.severity,
                labels: rule.labels.clone(),
                group: group.key.clone(),
                first_ns: group.first.first().map_or(ts, |e| e.ts_ns),
                last_ns: ts,
                count: group.matches,
                sensor: sensor.clone(),
                node: group.node.clone().flatten(),
                src: Some(derived.client),
                dst: Some(derived.server),
                proven: derived.proven,
                transport: Some(transport.to_owned()),
                sip: sip(),
                evidence: evidence_list,
                actions: rule.actions.clone(),
            };
            state.counters.alerts += 1;
            let closes_ns = ts.saturating_add(rule.dedupe_ns);
            closing.push(Reverse((closes_ns, index, hash)));
            out.push(AlertChange { alert: alert.clone(), raised: true, grew: false });
            group.open = Some(Box::new(Open { reported: alert.count, alert, closes_ns, last: None }));
        }
    }
}

impl Group {
    fn new(key: GroupKey, rule: &Rule) -> Group {
        Group {
            key,
            window: WindowState::new(&rule.window),
            first: Vec::new(),
            matches: 0,
            last_ns: i64::MIN,
            node: None,
            open: None,
        }
    }

    fn count(&mut self, evidence: Evidence, node: Option<&str>) {
        self.matches += 1;
        self.last_ns = self.last_ns.max(evidence.ts_ns);
        if self.first.len() < FIRST_EVIDENCE {
            self.first.push(evidence);
        }
        match &self.node {
            None => self.node = Some(node.map(str::to_owned)),
            Some(Some(n)) if Some(n.as_str()) != node => self.node = Some(None),
            _ => {}
        }
    }
}

/// Ends a group's open alert (reporting its final count when it grew) and empties its window.
fn close(group: &mut Group, out: &mut Vec<AlertChange>) {
    if let Some(open) = group.open.take() {
        let Open { mut alert, reported, last, .. } = *open;
        if let Some((evidence, src, dst, transport)) = last {
            alert.src = Some(src);
            alert.dst = Some(dst);
            alert.transport = Some(transport.to_owned());
            alert.evidence = group.first.clone();
            if !alert.evidence.contains(&evidence) {
                alert.evidence.push(evidence);
            }
        }
        alert.node = group.node.clone().flatten();
        let grew = alert.count > reported;
        out.push(AlertChange { alert, raised: false, grew });
    }
    group.first.clear();
    group.matches = 0;
    group.node = None;
    group.window = match &group.window {
        WindowState::Count { .. } => WindowState::Count { newest: i64::MIN, counts: [0; super::window::SLOTS] },
        WindowState::Distinct(_) => WindowState::Distinct(FastMap::default()),
        WindowState::Bucket { .. } => WindowState::Bucket { level: 0.0, last_ns: i64::MIN },
    };
}

/// Makes room in a full group table: groups idle for longer than the rule's window and dedupe
/// period first; failing that, the eighth that was idle longest (their open alerts closed).
fn evict(state: &mut RuleState, rule: &Rule, now_ns: i64, out: &mut Vec<AlertChange>) {
    let horizon = rule.window.period_ns().max(rule.dedupe_ns);
    let before = state.groups.len();
    state.groups.retain(|_, g| g.open.is_some() || now_ns.saturating_sub(g.last_ns) <= horizon);
    if state.groups.len() == before {
        let mut idle: Vec<(i64, u64)> = state.groups.iter().map(|(h, g)| (g.last_ns, *h)).collect();
        let n = (idle.len() / 8).max(1);
        idle.select_nth_unstable(n - 1);
        for (_, hash) in idle.into_iter().take(n) {
            if let Some(mut g) = state.groups.remove(&hash) {
                close(&mut g, out);
            }
        }
    }
    state.counters.groups_evicted += (before - state.groups.len()) as u64;
}

/// The hash of the subject's group under `rule`; none when a key fact has no value.
fn group_hash(rule: &Rule, facts: &mut Facts<'_, '_>, hasher: &ahash::RandomState) -> Option<u64> {
    let mut h = hasher.build_hasher();
    let client = facts.derived().client;
    for g in &rule.group_by {
        match *g {
            GroupBy::Source => client.0.hash(&mut h),
            GroupBy::SourcePort => client.hash(&mut h),
            GroupBy::Prefix { v4, v6 } => prefix(client.0, v4, v6).hash(&mut h),
            GroupBy::Username | GroupBy::Node | GroupBy::Tool => {
                let fact = text_fact(*g);
                facts.prepare(fact);
                match facts.value(fact) {
                    Value::Text(t) => t.hash(&mut h),
                    _ => return None,
                }
            }
        }
    }
    Some(h.finish())
}

fn text_fact(g: GroupBy) -> super::facts::Fact {
    use super::facts::Fact;
    match g {
        GroupBy::Username => Fact::Username,
        GroupBy::Node => Fact::Node,
        _ => Fact::Tool,
    }
}

fn prefix(ip: IpAddr, v4: u8, v6: u8) -> Prefix {
    Prefix::new(ip, if ip.is_ipv4() { v4 } else { v6 })
}

/// The group key of the subject (built once per new group).
fn group_key(rule: &Rule, facts: &mut Facts<'_, '_>) -> GroupKey {
    let client = facts.derived().client;
    let mut keys: Vec<GroupKey> = rule
        .group_by
        .iter()
        .map(|g| match *g {
            GroupBy::Source => GroupKey::Source(client.0),
            GroupBy::SourcePort => GroupKey::SourcePort(client.0, client.1),
            GroupBy::Prefix { v4, v6 } => GroupKey::SourcePrefix(prefix(client.0, v4, v6)),
            other => {
                let text = match facts.value(text_fact(other)) {
                    Value::Text(t) => bounded(&lossless_text(t), MAX_VALUE_BYTES).into_owned(),
                    _ => String::new(),
                };
                match other {
                    GroupBy::Username => GroupKey::User(text),
                    GroupBy::Node => GroupKey::Node(text),
                    _ => GroupKey::Tool(text),
                }
            }
        })
        .collect();
    if keys.len() == 1 {
        keys.pop().unwrap_or(GroupKey::Source(client.0))
    } else {
        GroupKey::Many(keys)
    }
}

/// A distinct window's value, hashed; none when the fact has no value.
fn value_hash(v: Value<'_>, hasher: &ahash::RandomState) -> Option<u64> {
    match v {
        Value::Absent => None,
        Value::Text(t) => Some(hasher.hash_one(t)),
        Value::Number(n) => Some(hasher.hash_one(n)),
        Value::Bool(b) => Some(hasher.hash_one(b)),
        Value::Address(a) => Some(hasher.hash_one(a)),
        Value::Anomalies(list) => Some(hasher.hash_one(list.iter().map(|a| a.kind.name()).collect::<Vec<_>>())),
    }
}

fn text(v: Option<&[u8]>) -> Option<String> {
    v.map(|b| bounded(&lossless_text(b), MAX_VALUE_BYTES).into_owned())
}

fn message_sip(o: &Observation<'_>) -> AlertSip {
    let Some(msg) = o.msg else { return AlertSip::default() };
    AlertSip {
        method: text(msg.method().or_else(|| msg.cseq().map(|c| c.method))),
        status: msg.status().and_then(|s| u16::try_from(s).ok()),
        user_agent: text(agent(msg)),
        from_user: text(msg.from().and_then(|f| f.user())),
        to_user: text(o.parsed.to(msg).and_then(|t| t.user())),
        ruri_user: text(o.parsed.request_uri(msg).and_then(|u| u.user)),
        call_id: text(msg.call_id()),
    }
}

fn record_sip(record: &Record) -> AlertSip {
    let bytes = |s: &Option<String>| text(s.as_deref().map(str::as_bytes));
    match record {
        Record::AuthAttempt(a) => AlertSip {
            method: text(Some(a.method.as_bytes())),
            user_agent: bytes(&a.ctx.user_agent),
            to_user: text(Some(a.username.as_bytes())),
            call_id: bytes(&a.ctx.call_id),
            ..AlertSip::default()
        },
        Record::Registration(r) => AlertSip {
            method: Some("REGISTER".into()),
            user_agent: bytes(&r.ctx.user_agent),
            to_user: text(Some(r.username.as_bytes())),
            call_id: bytes(&r.ctx.call_id),
            ..AlertSip::default()
        },
        Record::Recovered(_) => AlertSip::default(),
    }
}

fn record_node(record: &Record) -> Option<&str> {
    match record {
        Record::AuthAttempt(a) => a.ctx.node.as_deref(),
        Record::Registration(r) => r.ctx.node.as_deref(),
        Record::Recovered(_) => None,
    }
}
