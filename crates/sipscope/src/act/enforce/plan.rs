//! What the firewall should hold at a moment, from the decisions in force: pure data, built
//! from `(now, decisions)` with no I/O, so the nftables batch and the dry export are tested
//! without a kernel. Bans become set elements with their remaining timeouts (overlaps made
//! disjoint), rate limits become rules that end by themselves.

use super::intervals::{disjoint, Span};
use crate::act::{Decision, DecisionKind, Prefix, Scope};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const NS: i64 = 1_000_000_000;

/// Limits of what a plan installs. Defaults: see each field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanLimits {
    /// Widest IPv4 prefix a decision may cover (default 8): a decision over more is not
    /// installed (a /0 would cut the host off the Internet, its operator's session included).
    pub widest_ipv4_prefix: u8,
    /// Widest IPv6 prefix a decision may cover (default 16).
    pub widest_ipv6_prefix: u8,
    /// Rate-limit rules at most (default 256): each is one more rule every packet passes; the
    /// rest (those ending first) are not installed.
    pub max_rate_limit_rules: usize,
    /// Longest timeout given to an element (default 30 days): a longer ban is re-asserted by
    /// every reconcile, and ends at most this long after sipscope stopped maintaining it.
    pub longest_timeout_seconds: u64,
}

impl Default for PlanLimits {
    fn default() -> Self {
        PlanLimits {
            widest_ipv4_prefix: 8,
            widest_ipv6_prefix: 16,
            max_rate_limit_rules: 256,
            longest_timeout_seconds: 30 * 24 * 3600,
        }
    }
}

/// One element of an address set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Element {
    /// One address.
    Single(IpAddr),
    /// A network.
    Prefix(IpAddr, u8),
    /// Any other range, first and last address.
    Range(IpAddr, IpAddr),
}

/// A rate-limit rule: packets from `scope` over `per_second` are dropped until `until_s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateRule {
    /// Who.
    pub scope: Scope,
    /// Packets a second let through (0: none).
    pub per_second: u32,
    /// When the rule stops matching, seconds since the epoch (the kernel's clock).
    pub until_s: i64,
}

/// The firewall's state for one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Banned IPv4 addresses and ranges, with their timeouts in seconds.
    pub ban_v4: Vec<(Element, u64)>,
    /// Banned IPv6 addresses and ranges.
    pub ban_v6: Vec<(Element, u64)>,
    /// Banned IPv4 address and source port pairs.
    pub ban_v4_port: Vec<(Ipv4Addr, u16, u64)>,
    /// Banned IPv6 address and source port pairs.
    pub ban_v6_port: Vec<(Ipv6Addr, u16, u64)>,
    /// Rate limits, one rule each.
    pub rate_limits: Vec<RateRule>,
    /// Every ban's scope, once (their connection-tracking entries are removed).
    pub banned: Vec<Scope>,
    /// Decisions not installed because their prefix was wider than the limits allow.
    pub too_wide: usize,
    /// Rate limits not installed because of `max_rate_limit_rules`.
    pub rate_limits_dropped: usize,
}

impl Plan {
    /// The state that makes the bans and rate limits among `decisions` that hold at `now_ns`
    /// real, each timeout counted from `now_ns` (rounded up to whole seconds).
    pub fn build(now_ns: i64, decisions: &[Decision], limits: &PlanLimits) -> Plan {
        let mut plan = Plan::default();
        let longest = i64::try_from(limits.longest_timeout_seconds).unwrap_or(i64::MAX / NS).max(1);
        let timeout = |until_ns: i64| {
            let left = until_ns.saturating_sub(now_ns);
            (left / NS + i64::from(left % NS > 0)).clamp(1, longest) as u64
        };
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        let mut ports: BTreeMap<(IpAddr, u16), u64> = BTreeMap::new();
        let mut banned: BTreeMap<Scope, ()> = BTreeMap::new();
        // Per scope, the strictest rate (and of equal rates, the latest end).
        let mut rates: BTreeMap<Scope, (u32, i64)> = BTreeMap::new();
        for d in decisions.iter().filter(|d| d.active(now_ns)) {
            let scope = canonical(d.scope);
            if too_wide(&scope, limits) {
                plan.too_wide += 1;
                continue;
            }
            match d.kind {
                DecisionKind::Ban => {
                    banned.insert(scope, ());
                    let t = timeout(d.until_ns);
                    match scope {
                        Scope::AddressPort(a, p) => {
                            let slot = ports.entry((a, p)).or_insert(t);
                            *slot = (*slot).max(t);
                        }
                        Scope::Address(a) => push_span(&mut v4, &mut v6, Prefix::new(a, 128), t),
                        Scope::Prefix(p) => push_span(&mut v4, &mut v6, p, t),
                    }
                }
                DecisionKind::RateLimit { per_second } => {
                    let until = d.until_ns.min(now_ns.saturating_add(longest.saturating_mul(NS)));
                    let slot = rates.entry(scope).or_insert((per_second, until));
                    if (per_second, std::cmp::Reverse(until)) < (slot.0, std::cmp::Reverse(slot.1)) {
                        *slot = (per_second, until);
                    }
                }
                DecisionKind::Watch => {}
            }
        }
        plan.ban_v4 = disjoint(&v4).into_iter().filter_map(|s| element(s, false)).collect();
        plan.ban_v6 = disjoint(&v6).into_iter().filter_map(|s| element(s, true)).collect();
        for ((a, p), t) in ports {
            match a {
                IpAddr::V4(a) => plan.ban_v4_port.push((a, p, t)),
                IpAddr::V6(a) => plan.ban_v6_port.push((a, p, t)),
            }
        }
        plan.banned = banned.into_keys().collect();
        let mut rules: Vec<RateRule> = rates
            .into_iter()
            .map(|(scope, (per_second, until_ns))| RateRule {
                scope,
                per_second,
                until_s: until_ns / NS + i64::from(until_ns % NS > 0),
            })
            .collect();
        if rules.len() > limits.max_rate_limit_rules {
            // Keep those that last longest; the others end soonest anyway.
            rules.sort_by_key(|r| (std::cmp::Reverse(r.until_s), r.scope));
            plan.rate_limits_dropped = rules.len() - limits.max_rate_limit_rules;
            rules.truncate(limits.max_rate_limit_rules);
            rules.sort_by_key(|r| r.scope);
        }
        plan.rate_limits = rules;
        plan
    }

    /// Elements in all sets.
    pub fn elements(&self) -> usize {
        self.ban_v4.len() + self.ban_v6.len() + self.ban_v4_port.len() + self.ban_v6_port.len()
    }
}

/// IPv4 written as IPv6 (`::ffff:192.0.2.1`, as dual-stack sockets report it) is IPv4: packets
/// carry it as IPv4, so the IPv4 set must hold it.
fn canonical(scope: Scope) -> Scope {
    match scope {
        Scope::Address(a) => Scope::Address(a.to_canonical()),
        Scope::AddressPort(a, p) => Scope::AddressPort(a.to_canonical(), p),
        Scope::Prefix(p) => match p.addr {
            IpAddr::V6(a) if p.len >= 96 => match a.to_ipv4_mapped() {
                Some(v4) => Scope::Prefix(Prefix::new(IpAddr::V4(v4), p.len - 96)),
                None => scope,
            },
            _ => scope,
        },
    }
}

fn too_wide(scope: &Scope, limits: &PlanLimits) -> bool {
    match scope {
        Scope::Prefix(p) if p.addr.is_ipv4() => p.len < limits.widest_ipv4_prefix,
        Scope::Prefix(p) => p.len < limits.widest_ipv6_prefix,
        _ => false,
    }
}

fn push_span(v4: &mut Vec<Span<u64>>, v6: &mut Vec<Span<u64>>, p: Prefix, value: u64) {
    let (lo, bits) = match p.addr {
        IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
        IpAddr::V6(a) => (u128::from(a), 128),
    };
    let len = u32::from(p.len).min(bits);
    let host = if len >= bits { 0 } else { u128::MAX >> (128 - bits + len) };
    let span = Span { lo, hi: lo | host, value };
    if bits == 32 {
        v4.push(span);
    } else {
        v6.push(span);
    }
}

/// The element for a span: one address, a prefix when it is one, else a range.
fn element(span: Span<u64>, v6: bool) -> Option<(Element, u64)> {
    let addr = |n: u128| -> Option<IpAddr> {
        if v6 {
            Some(IpAddr::V6(Ipv6Addr::from(n)))
        } else {
            u32::try_from(n).ok().map(|n| IpAddr::V4(Ipv4Addr::from(n)))
        }
    };
    let (lo, hi) = (addr(span.lo)?, addr(span.hi)?);
    let size = (span.hi - span.lo).checked_add(1);
    let bits = if v6 { 128 } else { 32 };
    let element = match size {
        Some(1) => Element::Single(lo),
        Some(n) if n.is_power_of_two() && span.lo.is_multiple_of(n) => {
            Element::Prefix(lo, (bits - n.trailing_zeros()) as u8)
        }
        _ => Element::Range(lo, hi),
    };
    Some((element, span.value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::act::DecisionOrigin;

    const T: i64 = 1_800_000_000 * NS;

    fn decision(kind: DecisionKind, scope: &str, seconds: i64) -> Decision {
        let scope = match scope.parse::<std::net::SocketAddr>() {
            Ok(sa) => Scope::AddressPort(sa.ip(), sa.port()),
            Err(_) if scope.contains('/') => Scope::Prefix(scope.parse().unwrap()),
            Err(_) => Scope::Address(scope.parse().unwrap()),
        };
        Decision {
            id: None,
            kind,
            scope,
            start_ns: T - NS,
            until_ns: T + seconds * NS,
            reason: "test".into(),
            origin: DecisionOrigin::Operator { who: "test".into() },
            offence: 0,
            proven: true,
            evidence: vec![],
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn bans_become_disjoint_elements_with_their_remaining_timeouts() {
        let ds = [
            decision(DecisionKind::Ban, "192.0.2.0/24", 60),
            decision(DecisionKind::Ban, "192.0.2.9", 600),
            decision(DecisionKind::Ban, "::ffff:198.51.100.7", 30),
            decision(DecisionKind::Ban, "2001:db8::/32", 10),
            decision(DecisionKind::Ban, "[2001:db8::1]:5060", 10),
            decision(DecisionKind::Ban, "203.0.113.5:5061", 10),
            decision(DecisionKind::Ban, "203.0.113.5:5061", 20),
        ];
        let plan = Plan::build(T, &ds, &PlanLimits::default());
        assert_eq!(
            plan.ban_v4,
            [
                (Element::Range(ip("192.0.2.0"), ip("192.0.2.8")), 60),
                (Element::Single(ip("192.0.2.9")), 600),
                (Element::Range(ip("192.0.2.10"), ip("192.0.2.255")), 60),
                (Element::Single(ip("198.51.100.7")), 30),
            ]
        );
        assert_eq!(plan.ban_v6, [(Element::Prefix(ip("2001:db8::"), 32), 10)]);
        assert_eq!(plan.ban_v4_port, [("203.0.113.5".parse().unwrap(), 5061, 20)]);
        assert_eq!(plan.ban_v6_port, [("2001:db8::1".parse().unwrap(), 5060, 10)]);
        assert_eq!(plan.banned.len(), 6);
        assert_eq!(plan.elements(), 7);
    }

    #[test]
    fn only_decisions_in_force_count_and_timeouts_round_up_within_limits() {
        let mut ended = decision(DecisionKind::Ban, "192.0.2.1", -1);
        ended.until_ns = T;
        let mut later = decision(DecisionKind::Ban, "192.0.2.2", 10);
        later.start_ns = T + 1;
        let mut fraction = decision(DecisionKind::Ban, "192.0.2.3", 0);
        fraction.until_ns = T + 1;
        let forever = Decision { until_ns: i64::MAX, ..decision(DecisionKind::Ban, "192.0.2.4", 0) };
        let watch = decision(DecisionKind::Watch, "192.0.2.5", 10);
        let plan = Plan::build(T, &[ended, later, fraction, forever, watch], &PlanLimits::default());
        assert_eq!(
            plan.ban_v4,
            [(Element::Single(ip("192.0.2.3")), 1), (Element::Single(ip("192.0.2.4")), 30 * 24 * 3600)]
        );
    }

    #[test]
    fn prefixes_wider_than_the_limits_are_not_installed() {
        let ds = [
            decision(DecisionKind::Ban, "0.0.0.0/0", 10),
            decision(DecisionKind::Ban, "10.0.0.0/7", 10),
            decision(DecisionKind::Ban, "10.0.0.0/8", 10),
            decision(DecisionKind::RateLimit { per_second: 1 }, "::/0", 10),
        ];
        let plan = Plan::build(T, &ds, &PlanLimits::default());
        assert_eq!(plan.too_wide, 3);
        assert_eq!(plan.ban_v4, [(Element::Prefix(ip("10.0.0.0"), 8), 10)]);
        assert!(plan.rate_limits.is_empty());
    }

    #[test]
    fn rate_limits_keep_the_strictest_per_scope_and_are_capped() {
        let ds = [
            decision(DecisionKind::RateLimit { per_second: 10 }, "192.0.2.1", 100),
            decision(DecisionKind::RateLimit { per_second: 5 }, "192.0.2.1", 50),
            decision(DecisionKind::RateLimit { per_second: 5 }, "192.0.2.1", 70),
            decision(DecisionKind::RateLimit { per_second: 20 }, "192.0.2.0/28", 30),
            decision(DecisionKind::RateLimit { per_second: 20 }, "192.0.2.2", 10),
        ];
        let limits = PlanLimits { max_rate_limit_rules: 2, ..PlanLimits::default() };
        let plan = Plan::build(T, &ds, &limits);
        let t = T / NS;
        assert_eq!(
            plan.rate_limits,
            [
                RateRule { scope: Scope::Address(ip("192.0.2.1")), per_second: 5, until_s: t + 70 },
                RateRule { scope: Scope::Prefix("192.0.2.0/28".parse().unwrap()), per_second: 20, until_s: t + 30 },
            ]
        );
        assert_eq!(plan.rate_limits_dropped, 1, "192.0.2.2 ends first");
        assert!(plan.banned.is_empty());
    }
}
