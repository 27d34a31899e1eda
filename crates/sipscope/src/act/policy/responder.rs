//! [`PolicyResponder`]: the [`Responder`] the pipeline calls, the impure shell around the pure
//! [`Policy`]. It keeps what the policy asks about (decisions in force, offences, successful
//! authentications, failed attempts seen in alerts), updates the [`InForce`] set the listeners
//! consult at once, hands the set to the [`Enforcer`] on a worker (latest state wins), and
//! writes decisions and offences through a store worker. On `tick` it re-reads the store, so
//! an operator's `sipscope decisions add|delete|flush` reaches a running sensor.
//!
//! The pipeline's thread never waits for a lock: writes and the firewall run on workers;
//! reads (the decisions in force every `refresh_every_ns`, a source's failed attempts when a
//! ban is about to be taken) are indexed queries on a read connection, which a writer never
//! blocks.

use super::workers::{EnforceStatus, EnforceWorker, StoreWorker};
use super::{stale::Attempt, Downgrade, History, Policy, Protection, Verdict};
use crate::act::{Alert, Decision, DecisionKind, DecisionOrigin, Enforcer, InForce, Responder, Scope};
use crate::sinks::decisions::DecisionLog;
use crate::store::StoreReader;
use crate::time::SECOND_NS;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

/// Failed attempts kept per source from alerts.
const ATTEMPTS_PER_SOURCE: usize = 64;
/// Sources, offences and authenticated addresses kept in memory, each.
const TRACKED: usize = 100_000;
/// Failed attempts read from the store for the stale-credentials test.
const STORED_ATTEMPTS: u32 = 64;
/// Writes the store worker holds before it drops (and counts) more.
const STORE_QUEUE: usize = 4096;
/// The label of an alert that reports a successful authentication of its source.
pub const AUTHENTICATED_LABEL: &str = "authenticated";

/// What a responder is built from.
pub struct ResponderParts {
    /// The policy.
    pub policy: Policy,
    /// The sensor name stored with its decisions.
    pub sensor: String,
    /// The store, read.
    pub reader: Box<dyn StoreReader + Send>,
    /// The store's decisions, written.
    pub log: Box<dyn DecisionLog>,
    /// The bans in force the listeners consult.
    pub in_force: InForce,
    /// The firewall, if any.
    pub enforcer: Option<Box<dyn Enforcer>>,
    /// Re-assert the enforced set at least this often, ns (timeouts are re-asserted too).
    pub reconcile_every_ns: i64,
    /// Re-read the decisions in force from the store this often, ns.
    pub refresh_every_ns: i64,
}

/// How many decisions were taken and refused, for summaries.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PolicyCounters {
    /// Bans taken.
    pub bans: u64,
    /// Rate limits taken.
    pub rate_limits: u64,
    /// Watches taken.
    pub watches: u64,
    /// Bans that became a rate limit or watch because the source was not proven.
    pub unproven_downgrades: u64,
    /// Bans that became a watch as stale credentials.
    pub stale_credentials: u64,
    /// Actions refused because the source was protected (allowlists, own addresses …).
    pub protected: u64,
}

/// The decision policy as the pipeline's [`Responder`].
pub struct PolicyResponder {
    policy: Policy,
    reader: Box<dyn StoreReader + Send>,
    store: StoreWorker,
    enforcer: Option<EnforceWorker>,
    in_force: InForce,
    /// Decisions in force (the store's and ours), as last computed.
    active: Vec<Decision>,
    /// Ours not yet known to be in the store, with their sequence number.
    unstored: Vec<(u64, Decision)>,
    sent: u64,
    offences: HashMap<Scope, (u32, i64)>,
    authenticated: HashMap<IpAddr, i64>,
    last_accepted_id: i64,
    attempts: HashMap<IpAddr, VecDeque<Attempt>>,
    reconcile_every_ns: i64,
    refresh_every_ns: i64,
    next_refresh_ns: i64,
    next_reconcile_ns: i64,
    /// The enforced set last posted (to post only changes between reconciles).
    posted: Vec<(Scope, DecisionKind, i64)>,
    counters: PolicyCounters,
    read_errors: u64,
}

impl PolicyResponder {
    /// Starts the workers, loads remembered offences and the decisions in force at `now_ns`.
    pub fn new(parts: ResponderParts, now_ns: i64) -> Result<PolicyResponder, crate::sinks::SinkError> {
        let ResponderParts {
            policy,
            sensor,
            reader,
            mut log,
            in_force,
            enforcer,
            reconcile_every_ns,
            refresh_every_ns,
        } = parts;
        let offences = log
            .offences(policy.forgiven_before(now_ns), TRACKED as u32)?
            .into_iter()
            .map(|o| (o.scope, (o.count, o.last_ns)))
            .collect();
        let spawn_failed = |e: std::io::Error| crate::sinks::SinkError::Writer(format!("starting a worker: {e}"));
        let store = StoreWorker::spawn(log, sensor, STORE_QUEUE).map_err(spawn_failed)?;
        let enforcer = enforcer.map(EnforceWorker::spawn).transpose().map_err(spawn_failed)?;
        let mut responder = PolicyResponder {
            policy,
            reader,
            store,
            enforcer,
            in_force,
            active: Vec::new(),
            unstored: Vec::new(),
            sent: 0,
            offences,
            authenticated: HashMap::new(),
            last_accepted_id: 0,
            attempts: HashMap::new(),
            reconcile_every_ns: reconcile_every_ns.max(1),
            refresh_every_ns: refresh_every_ns.max(1),
            next_refresh_ns: i64::MIN,
            next_reconcile_ns: i64::MIN,
            posted: Vec::new(),
            counters: PolicyCounters::default(),
            read_errors: 0,
        };
        responder.tick(now_ns);
        Ok(responder)
    }

    /// The responder of `config` over the store at `path` (created and migrated when
    /// missing): `own` are the sensor's addresses, `nodes` its nodes file (allowlisted when
    /// `allow_nodes`), `in_force` the set its listeners consult, `enforcer` the firewall.
    #[allow(clippy::too_many_arguments)]
    pub fn open(
        path: &std::path::Path,
        config: &super::DecisionsConfig,
        sensor: &str,
        own: &[IpAddr],
        nodes: &crate::nodes::Nodes,
        in_force: InForce,
        enforcer: Option<Box<dyn Enforcer>>,
        reconcile_every_ns: i64,
        now_ns: i64,
    ) -> Result<PolicyResponder, crate::sinks::SinkError> {
        let invalid = |message: String| crate::sinks::SinkError::Backend { backend: "decisions", message };
        let policy = policy_of(config, own, nodes).map_err(invalid)?;
        let log = crate::sinks::open_decision_log(path)?;
        let reader = crate::store::open(path).map_err(|e| invalid(e.to_string()))?;
        let parts = ResponderParts {
            policy,
            sensor: sensor.to_owned(),
            reader,
            log,
            in_force,
            enforcer,
            reconcile_every_ns,
            refresh_every_ns: SECOND_NS,
        };
        PolicyResponder::new(parts, now_ns)
    }

    /// What it decided so far.
    pub fn counters(&self) -> &PolicyCounters {
        &self.counters
    }

    /// Decisions in force as last computed.
    pub fn active(&self) -> &[Decision] {
        &self.active
    }

    /// What the enforce worker did (none without an enforcer).
    pub fn enforce_status(&self) -> Option<EnforceStatus> {
        self.enforcer.as_ref().map(EnforceWorker::status)
    }

    /// Waits until every decision is written and the latest set applied (tests, an orderly
    /// stop). Never called on the pipeline's hot path.
    pub fn settle(&self) {
        self.store.settle();
        if let Some(e) = &self.enforcer {
            e.settle();
        }
    }

    /// Writes dropped (a full queue) and failed.
    pub fn store_losses(&self) -> (u64, u64) {
        self.store.losses()
    }

    fn read_failed(&mut self, what: &str, e: &dyn std::fmt::Display) {
        self.read_errors += 1;
        if self.read_errors % 1000 == 1 {
            tracing::warn!("decisions: reading {what} failed ({} times): {e}", self.read_errors);
        }
    }

    /// Re-reads the decisions in force (an operator's changes) and new authentications.
    fn refresh(&mut self, now_ns: i64) {
        let written = self.store.written();
        match self.reader.decisions_in_force(now_ns) {
            Ok(rows) => {
                let mut active: Vec<Decision> = Vec::with_capacity(rows.len());
                for d in rows.into_iter().map(|r| r.decision) {
                    let operator = matches!(d.origin, DecisionOrigin::Operator { .. });
                    match self.policy.protection(&d.scope, operator) {
                        Some((ip, why)) => self.read_failed(
                            "decisions",
                            &format!("decision {:?} reaches {ip} ({}): not applied", d.id, protection_name(why)),
                        ),
                        None => active.push(d),
                    }
                }
                self.unstored.retain(|(seq, d)| *seq > written && d.active(now_ns));
                active.extend(self.unstored.iter().map(|(_, d)| d.clone()));
                self.active = active;
            }
            Err(e) => {
                self.read_failed("decisions in force", &e);
                self.active.retain(|d| d.active(now_ns));
            }
        }
        let hours = self.policy.config().allow_authenticated_hours;
        if hours > 0 {
            let since =
                now_ns.saturating_sub(i64::try_from(hours).unwrap_or(i64::MAX / 3600).saturating_mul(3600 * SECOND_NS));
            match self.reader.accepted_auth(self.last_accepted_id, since, 10_000) {
                Ok(rows) => {
                    for r in rows {
                        self.last_accepted_id = r.id;
                        if let Ok(ip) = r.source.parse::<IpAddr>() {
                            remember(&mut self.authenticated, ip, r.ts_ns, |t| *t);
                        }
                    }
                }
                Err(e) => self.read_failed("authentications", &e),
            }
        }
    }

    /// Updates the listeners' set and hands the enforced set over when it changed or a
    /// reconcile is due.
    fn publish(&mut self, now_ns: i64) {
        self.in_force.set(&self.active);
        let Some(enforcer) = &self.enforcer else { return };
        let enforced: Vec<Decision> =
            self.active.iter().filter(|d| d.kind != DecisionKind::Watch && d.active(now_ns)).cloned().collect();
        let shape: Vec<(Scope, DecisionKind, i64)> = enforced.iter().map(|d| (d.scope, d.kind, d.until_ns)).collect();
        if shape != self.posted || now_ns >= self.next_reconcile_ns {
            enforcer.post(now_ns, enforced);
            self.posted = shape;
            self.next_reconcile_ns = now_ns.saturating_add(self.reconcile_every_ns);
        }
    }

    /// Keeps what an alert tells about its source: a failed attempt (user, agent, time) for
    /// the stale-credentials test, or a successful authentication.
    fn observe(&mut self, alert: &Alert) {
        let Some(ip) = alert.src.map(|s| s.0).or_else(|| alert.group.source()) else { return };
        if alert.labels.iter().any(|l| l == AUTHENTICATED_LABEL) {
            remember(&mut self.authenticated, ip, alert.last_ns, |t| *t);
            return;
        }
        let user = alert.group.user().or(alert.sip.from_user.as_deref()).or(alert.sip.to_user.as_deref());
        let Some(user) = user else { return };
        let agent = alert.sip.user_agent.clone();
        let mut times = vec![alert.last_ns];
        // Evidence of a group pinned to one source and one user are that user's attempts.
        if alert.group.user().is_some() && alert.group.source() == Some(ip) {
            times.extend(alert.evidence.iter().filter(|e| e.src.0 == ip).map(|e| e.ts_ns));
        }
        if self.attempts.len() >= TRACKED && !self.attempts.contains_key(&ip) {
            self.attempts.clear();
        }
        let seen = self.attempts.entry(ip).or_default();
        for ts_ns in times {
            if !seen.iter().any(|a| a.ts_ns == ts_ns) {
                if seen.len() == ATTEMPTS_PER_SOURCE {
                    seen.pop_front();
                }
                seen.push_back(Attempt { ts_ns, user: user.to_owned(), agent: agent.clone() });
            }
        }
    }

    fn take(&mut self, now_ns: i64, d: &Decision) {
        match d.kind {
            DecisionKind::Ban => self.counters.bans += 1,
            DecisionKind::RateLimit { .. } => self.counters.rate_limits += 1,
            DecisionKind::Watch => self.counters.watches += 1,
        }
        if d.kind != DecisionKind::Watch {
            let forgiven = self.policy.forgiven_before(now_ns);
            let count = match self.offences.get(&d.scope) {
                Some((n, last)) if *last >= forgiven => n.saturating_add(1),
                _ => 1,
            };
            remember(&mut self.offences, d.scope, (count, now_ns), |v| v.1);
            self.store.offence(d.scope, now_ns, forgiven);
        }
        self.sent += 1;
        self.store.decision(d, now_ns);
        self.unstored.push((self.sent, d.clone()));
        self.active.push(d.clone());
        tracing::debug!("decision: {} {} until {}", d.kind.as_str(), d.scope, crate::time::iso_time(d.until_ns));
    }
}

/// Inserts into a map bounded at [`TRACKED`] entries: when full, the older half (by `time`)
/// is forgotten.
fn remember<K: std::hash::Hash + Eq + Copy, V: Copy>(
    map: &mut HashMap<K, V>,
    key: K,
    value: V,
    time: impl Fn(&V) -> i64,
) {
    if map.len() >= TRACKED && !map.contains_key(&key) {
        let mut times: Vec<i64> = map.values().map(&time).collect();
        times.sort_unstable();
        let median = times.get(times.len() / 2).copied().unwrap_or(i64::MAX);
        map.retain(|_, v| time(v) > median);
    }
    map.insert(key, value);
}

impl History for PolicyResponder {
    fn in_force(&self) -> &[Decision] {
        &self.active
    }

    fn offences(&self, scope: &Scope) -> u32 {
        self.offences.get(scope).map_or(0, |(n, _)| *n)
    }

    fn authenticated_at(&self, ip: IpAddr) -> Option<i64> {
        self.authenticated.get(&ip).copied()
    }

    fn failures(&self, ip: IpAddr, since_ns: i64) -> Vec<Attempt> {
        let mut out: Vec<Attempt> = self
            .attempts
            .get(&ip)
            .map(|a| a.iter().filter(|a| a.ts_ns >= since_ns).cloned().collect())
            .unwrap_or_default();
        // The honeypot's failed authentications (committed ones: a second or so behind).
        if let Ok(rows) = self.reader.failed_auth(ip, since_ns, STORED_ATTEMPTS) {
            for r in rows {
                if !out.iter().any(|a| a.ts_ns == r.ts_ns) {
                    out.push(Attempt { ts_ns: r.ts_ns, user: r.username, agent: r.user_agent });
                }
            }
        }
        out
    }
}

impl Responder for PolicyResponder {
    fn on_alert(&mut self, now_ns: i64, alert: &Alert) -> Vec<Decision> {
        self.observe(alert);
        let mut taken = Vec::new();
        for verdict in self.policy.decide(now_ns, alert, self) {
            match verdict {
                Verdict::Take { decision: d, downgrade } => {
                    match downgrade {
                        Some(Downgrade::StaleCredentials) => self.counters.stale_credentials += 1,
                        Some(Downgrade::Unproven) => self.counters.unproven_downgrades += 1,
                        None => {}
                    }
                    self.take(now_ns, &d);
                    taken.push(d);
                }
                Verdict::Protected(ip, why) => {
                    self.counters.protected += 1;
                    if self.counters.protected % 1000 == 1 {
                        tracing::info!("decisions: {ip} is protected ({}), no decision taken", protection_name(why));
                    }
                }
                Verdict::AlertOnly | Verdict::NoSource | Verdict::AlreadyInForce(_) => {}
            }
        }
        if !taken.is_empty() {
            self.publish(now_ns);
        }
        taken
    }

    fn tick(&mut self, now_ns: i64) {
        if now_ns >= self.next_refresh_ns {
            self.refresh(now_ns);
            self.next_refresh_ns = now_ns.saturating_add(self.refresh_every_ns);
        } else {
            self.active.retain(|d| d.active(now_ns));
        }
        self.publish(now_ns);
    }
}

/// The policy of a sensor's `[decisions]`, its own addresses and its nodes file (allowlisted
/// when `allow_nodes`).
pub fn policy_of(
    config: &super::DecisionsConfig,
    own: &[IpAddr],
    nodes: &crate::nodes::Nodes,
) -> Result<Policy, String> {
    let networks: Vec<crate::act::Prefix> = nodes
        .all()
        .iter()
        .flat_map(|n| n.addresses.iter().map(|c| crate::act::Prefix::new(c.addr(), c.prefix())))
        .collect();
    Policy::new(config.clone(), own, &networks)
}

/// This host's addresses, every interface's (the policy's "own" addresses; read from the
/// system, so called where a responder is opened, never by the policy).
pub fn host_addresses() -> Vec<IpAddr> {
    let Ok(interfaces) = nix::ifaddrs::getifaddrs() else { return Vec::new() };
    interfaces
        .filter_map(|i| i.address)
        .filter_map(|a| {
            a.as_sockaddr_in()
                .map(|v4| IpAddr::V4(v4.ip()))
                .or_else(|| a.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip())))
        })
        .collect()
}

/// A protection's name in logs and docs.
pub fn protection_name(why: Protection) -> &'static str {
    match why {
        Protection::Loopback => "loopback",
        Protection::Own => "the sensor's own address",
        Protection::Allowlist => "allowlist",
        Protection::Trunk => "trunk",
        Protection::Node => "a node's address",
        Protection::Authenticated => "authenticated recently",
    }
}
