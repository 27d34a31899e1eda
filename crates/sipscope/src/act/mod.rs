//! Acting on what the rules found: the alert a rule raises, the decision taken on it (ban,
//! rate-limit, watch), and the seams through which decisions are taken, stored and enforced.
//! This module holds only the shared types and traits, so that the rules (`rules/`), the
//! decision policy, the alert outputs (`sinks/`) and enforcement (nftables) agree on one shape.
//! Everything here is plain data: time is passed in, nothing reads a clock.

pub mod enforce;
pub mod export;
pub mod policy;
mod text;

pub use text::action_text;

use std::net::IpAddr;

/// How serious an alert is (Suricata's scale read the other way round: 1 is informational).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Worth recording, not worth waking anyone.
    Info,
    /// Reconnaissance (scans, sweeps).
    Low,
    /// Enumeration and guessing.
    Medium,
    /// Access gained or attempted with intent (a hijack, toll-fraud dialling).
    High,
    /// Money or service is being lost now.
    Critical,
}

impl Severity {
    /// The stable lower-case name (rule files, JSON, the store).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Suricata EVE's `alert.severity` (1 = most severe … 4 = least) and syslog's severity
    /// follow from this one scale.
    pub fn eve_number(self) -> u8 {
        match self {
            Severity::Critical => 1,
            Severity::High => 1,
            Severity::Medium => 2,
            Severity::Low => 3,
            Severity::Info => 4,
        }
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Severity, String> {
        Ok(match s {
            "info" => Severity::Info,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return Err(format!("expected info, low, medium, high or critical, not {s:?}")),
        })
    }
}

/// An address range: an address with a prefix length (32/128 for one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix {
    /// The network address (host bits zero).
    pub addr: IpAddr,
    /// Prefix length in bits.
    pub len: u8,
}

impl Prefix {
    /// The range of `len` bits around `addr` (host bits cleared; `len` clamped to the family).
    pub fn new(addr: IpAddr, len: u8) -> Prefix {
        match addr {
            IpAddr::V4(a) => {
                let len = len.min(32);
                let mask = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len)) };
                Prefix { addr: IpAddr::V4((u32::from(a) & mask).into()), len }
            }
            IpAddr::V6(a) => {
                let len = len.min(128);
                let mask = if len == 0 { 0 } else { u128::MAX << (128 - u32::from(len)) };
                Prefix { addr: IpAddr::V6((u128::from(a) & mask).into()), len }
            }
        }
    }

    /// Whether `ip` lies in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => Prefix::new(ip, self.len) == *self,
            _ => false,
        }
    }
}

impl std::fmt::Display for Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl std::str::FromStr for Prefix {
    type Err = String;
    /// `192.0.2.1`, `192.0.2.0/24`, `2001:db8::/32`.
    fn from_str(s: &str) -> Result<Prefix, String> {
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = addr.trim().parse().map_err(|_| format!("not an address: {s:?}"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match len {
            Some(l) => {
                l.trim().parse::<u8>().ok().filter(|l| *l <= max).ok_or(format!("bad prefix length in {s:?}"))?
            }
            None => max,
        };
        Ok(Prefix::new(addr, len))
    }
}

/// What an alert is grouped by: one alert per rule and group per window.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GroupKey {
    /// The source address.
    Source(IpAddr),
    /// The source address and port.
    SourcePort(IpAddr, u16),
    /// The source's network (the rule says how wide).
    SourcePrefix(Prefix),
    /// The account (user name) attacked.
    User(String),
    /// The node attacked.
    Node(String),
    /// The tool recognised.
    Tool(String),
    /// The campaign.
    Campaign(String),
    /// Several keys at once, in the rule's order.
    Many(Vec<GroupKey>),
}

impl std::fmt::Display for GroupKey {
    /// `source=203.0.113.5`, `source=203.0.113.5:5060`, `prefix=203.0.113.0/24`, `user=100`,
    /// `node=n1`, `tool=SIPVicious`; several keys separated by spaces. Attacker text (users,
    /// tools) is written as it is: escape it for the medium it goes to.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GroupKey::Source(ip) => write!(f, "source={ip}"),
            GroupKey::SourcePort(ip, port) => write!(f, "source={}", std::net::SocketAddr::new(*ip, *port)),
            GroupKey::SourcePrefix(p) => write!(f, "prefix={p}"),
            GroupKey::User(u) => write!(f, "user={u}"),
            GroupKey::Node(n) => write!(f, "node={n}"),
            GroupKey::Tool(t) => write!(f, "tool={t}"),
            GroupKey::Campaign(c) => write!(f, "campaign={c}"),
            GroupKey::Many(keys) => {
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{k}")?;
                }
                Ok(())
            }
        }
    }
}

/// One event that is evidence of an alert, as the pipeline saw it. The store resolves it to the
/// stored event's id (the pipeline does not know ids: the store assigns them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// The event's time, ns.
    pub ts_ns: i64,
    /// Its source address and port.
    pub src: (IpAddr, u16),
    /// Its destination address and port.
    pub dst: (IpAddr, u16),
    /// The ordinal of the message in the pipeline (messages accepted before it).
    pub ordinal: u64,
    /// The position at which the pipeline handed the message's event to its store (the n-th
    /// `Sink::write` is position n), so that the store that numbered the rows can name the
    /// event without searching for it; none when the message was not stored here (a record,
    /// `--events none`, a replay of stored events).
    pub stored: Option<u64>,
}

/// What the SIP message that raised (or last fed) an alert said, for the alert's `sip` object.
/// Attacker text, kept as lossless text; escaped by every output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertSip {
    /// Request method.
    pub method: Option<String>,
    /// Response status.
    pub status: Option<u16>,
    /// User-Agent or Server.
    pub user_agent: Option<String>,
    /// From user.
    pub from_user: Option<String>,
    /// To user.
    pub to_user: Option<String>,
    /// Request-URI user.
    pub ruri_user: Option<String>,
    /// Call-ID.
    pub call_id: Option<String>,
}

/// An alert: a rule matched, for one group, in one window. Deduplicated by the rules engine:
/// the same rule and group within the window updates `count` and `last_ns` instead of raising a
/// second alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// The rule's stable id (`sipscope/enum-404-users`).
    pub rule_id: String,
    /// A numeric signature id (Suricata's `signature_id`), stable per rule.
    pub signature_id: u32,
    /// The rule's human name.
    pub name: String,
    /// How serious.
    pub severity: Severity,
    /// Labels such as MITRE ATT&CK techniques (`attack.t1110.001`).
    pub labels: Vec<String>,
    /// The group it was raised for.
    pub group: GroupKey,
    /// First and last matching message, ns.
    pub first_ns: i64,
    /// Last matching message, ns.
    pub last_ns: i64,
    /// Matching messages counted in this alert.
    pub count: u64,
    /// The sensor that saw it.
    pub sensor: String,
    /// The node, when every matching message had the same one.
    pub node: Option<String>,
    /// The source of the last matching message.
    pub src: Option<(IpAddr, u16)>,
    /// The destination of the last matching message.
    pub dst: Option<(IpAddr, u16)>,
    /// Whether the source is proven (completed a handshake, or echoed something only a real
    /// sender could know): decisions against unproven sources never reach a firewall unless
    /// the operator opts in.
    pub proven: bool,
    /// The transport of the last matching message (`udp`, `tcp`, …).
    pub transport: Option<String>,
    /// The last matching message's SIP details.
    pub sip: AlertSip,
    /// Events that are its evidence (the first few and the last).
    pub evidence: Vec<Evidence>,
    /// What the rule asks to be done (the policy decides what is done).
    pub actions: Vec<Action>,
}

/// What a rule asks for when it raises an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Only the alert.
    Alert,
    /// Ban the scope for the rule's duration (the policy may refuse or downgrade it).
    Ban { scope: ScopeKind, duration_ns: i64 },
    /// Limit the scope's rate.
    RateLimit { scope: ScopeKind, duration_ns: i64, per_second: u32 },
    /// Watch: record more, answer as before.
    Watch { scope: ScopeKind, duration_ns: i64 },
}

/// How wide a decision reaches, before it is bound to an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScopeKind {
    /// The source address.
    Address,
    /// The source address and port.
    AddressPort,
    /// The source's network of this many bits.
    Prefix(u8),
}

/// The scope of a decision, bound to an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// One address.
    Address(IpAddr),
    /// One address and port (UDP/TCP source port).
    AddressPort(IpAddr, u16),
    /// A network.
    Prefix(Prefix),
}

impl Scope {
    /// Whether a packet from `ip`:`port` falls under the decision.
    pub fn covers(&self, ip: IpAddr, port: u16) -> bool {
        match *self {
            Scope::Address(a) => a == ip,
            Scope::AddressPort(a, p) => a == ip && p == port,
            Scope::Prefix(p) => p.contains(ip),
        }
    }
}

/// What a decision does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecisionKind {
    /// Drop everything from the scope (firewall, and the honeypot stops answering).
    Ban,
    /// Let at most this many packets a second through.
    RateLimit {
        /// Packets a second.
        per_second: u32,
    },
    /// Answer as before, record more.
    Watch,
}

impl DecisionKind {
    /// The stable name (`ban`, `rate-limit`, `watch`).
    pub fn as_str(&self) -> &'static str {
        match self {
            DecisionKind::Ban => "ban",
            DecisionKind::RateLimit { .. } => "rate-limit",
            DecisionKind::Watch => "watch",
        }
    }
}

/// Who took a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecisionOrigin {
    /// A rule, through the policy.
    Rule {
        /// The rule's id.
        rule_id: String,
    },
    /// An operator (`sipscope decisions add`, the API), with their name.
    Operator {
        /// Who.
        who: String,
    },
}

/// A decision: what is done about a scope, from when to when, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The store's id, once stored.
    pub id: Option<i64>,
    /// What is done.
    pub kind: DecisionKind,
    /// To whom.
    pub scope: Scope,
    /// From, ns.
    pub start_ns: i64,
    /// Until, ns (exclusive).
    pub until_ns: i64,
    /// Why, in words.
    pub reason: String,
    /// Who took it.
    pub origin: DecisionOrigin,
    /// How many decisions the scope had before this one (escalation: each doubles the duration
    /// up to a maximum).
    pub offence: u32,
    /// Whether the source was proven when it was taken.
    pub proven: bool,
    /// The alert's evidence, when a rule took it.
    pub evidence: Vec<Evidence>,
}

impl Decision {
    /// Whether the decision holds at `now_ns`.
    pub fn active(&self, now_ns: i64) -> bool {
        self.start_ns <= now_ns && now_ns < self.until_ns
    }
}

/// Takes alerts as the pipeline raises them and decides what is done about them (policy:
/// allowlists, spoof-awareness, escalation, stale credentials), stores and enforces decisions.
/// The pipeline calls it in message order with the message's time; it must never block (slow
/// work such as firewall changes runs elsewhere).
pub trait Responder: Send {
    /// An alert was raised or updated at `now_ns`: returns the decisions taken on it.
    fn on_alert(&mut self, now_ns: i64, alert: &Alert) -> Vec<Decision>;
    /// Periodic work (expiry, reconcile) at `now_ns`.
    fn tick(&mut self, now_ns: i64);
}

/// Why enforcement failed (the firewall refused a change, the tool is missing, no privilege).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct EnforceError(pub String);

/// Makes the decisions in force real outside sipscope (a firewall). Runs on a worker of its own,
/// never on the pipeline's thread: its calls may block.
pub trait Enforcer: Send {
    /// Makes `active` (bans and rate limits in force at `now_ns`) the enforced set, atomically;
    /// idempotent, and re-asserts remaining timeouts on every call.
    fn reconcile(&mut self, now_ns: i64, active: &[Decision]) -> Result<(), EnforceError>;
    /// Removes everything it ever installed (`decisions flush`, uninstall).
    fn remove_all(&mut self) -> Result<(), EnforceError>;
}

/// The decisions in force, shared between the responder that takes them (one writer) and the
/// listeners that consult them for every packet (the honeypot records a banned source's
/// messages but no longer answers them). Cheap to clone; a lookup takes a read lock.
#[derive(Debug, Clone, Default)]
pub struct InForce(std::sync::Arc<std::sync::RwLock<InForceSet>>);

/// The set behind [`InForce`]: bans by address, address and port, and prefix, with their ends.
#[derive(Debug, Default)]
pub struct InForceSet {
    addresses: std::collections::HashMap<IpAddr, i64>,
    address_ports: std::collections::HashMap<(IpAddr, u16), i64>,
    prefixes: Vec<(Prefix, i64)>,
}

impl InForce {
    /// Replaces the set with the bans among `decisions` (other kinds are not the listeners').
    pub fn set(&self, decisions: &[Decision]) {
        let mut next = InForceSet::default();
        for d in decisions.iter().filter(|d| d.kind == DecisionKind::Ban) {
            match d.scope {
                Scope::Address(a) => {
                    let end = next.addresses.entry(a).or_insert(d.until_ns);
                    *end = (*end).max(d.until_ns);
                }
                Scope::AddressPort(a, p) => {
                    let end = next.address_ports.entry((a, p)).or_insert(d.until_ns);
                    *end = (*end).max(d.until_ns);
                }
                Scope::Prefix(p) => next.prefixes.push((p, d.until_ns)),
            }
        }
        if let Ok(mut set) = self.0.write() {
            *set = next;
        }
    }

    /// Whether a packet from `ip`:`port` at `now_ns` falls under a ban.
    pub fn banned(&self, ip: IpAddr, port: u16, now_ns: i64) -> bool {
        let Ok(set) = self.0.read() else { return false };
        set.addresses.get(&ip).is_some_and(|end| now_ns < *end)
            || set.address_ports.get(&(ip, port)).is_some_and(|end| now_ns < *end)
            || set.prefixes.iter().any(|(p, end)| now_ns < *end && p.contains(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_clear_host_bits_and_contain_their_addresses() {
        let p: Prefix = "192.0.2.77/24".parse().unwrap();
        assert_eq!(p.to_string(), "192.0.2.0/24");
        assert!(p.contains("192.0.2.1".parse().unwrap()));
        assert!(!p.contains("192.0.3.1".parse().unwrap()));
        assert!(!p.contains("::1".parse().unwrap()));
        let v6: Prefix = "2001:db8::1/64".parse().unwrap();
        assert_eq!(v6.to_string(), "2001:db8::/64");
        assert!("10.0.0.1/33".parse::<Prefix>().is_err());
        assert!("nonsense".parse::<Prefix>().is_err());
        assert_eq!("10.0.0.1".parse::<Prefix>().unwrap().len, 32);
    }

    #[test]
    fn scopes_cover_what_they_name() {
        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        assert!(Scope::Address(ip).covers(ip, 5060));
        assert!(Scope::AddressPort(ip, 5060).covers(ip, 5060));
        assert!(!Scope::AddressPort(ip, 5060).covers(ip, 5061));
        assert!(Scope::Prefix(Prefix::new(ip, 24)).covers("198.51.100.200".parse().unwrap(), 1));
    }

    #[test]
    fn bans_in_force_end_when_their_decisions_end() {
        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        let ban = |scope, until_ns| crate::test_support::ban(scope, 0, until_ns);
        let in_force = InForce::default();
        in_force.set(&[ban(Scope::Address(ip), 100), ban(Scope::Prefix(Prefix::new(ip, 24)), 50)]);
        assert!(in_force.banned(ip, 1, 99));
        assert!(!in_force.banned(ip, 1, 100));
        assert!(in_force.banned("198.51.100.1".parse().unwrap(), 1, 49));
        assert!(!in_force.banned("198.51.100.1".parse().unwrap(), 1, 50));
        assert!(!in_force.banned("192.0.2.1".parse().unwrap(), 1, 0));
    }
}
