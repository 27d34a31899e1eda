//! The printed and parsed forms of the shared shapes in [`super`]: a scope as an operator types
//! it (`192.0.2.7`, `192.0.2.7:5060`, `[2001:db8::7]:5060`, `192.0.2.0/24`), a group key as
//! outputs show it (`source=192.0.2.7`, `user=100`: `GroupKey`'s `Display` in `act/mod.rs`). One form everywhere: the store's offences,
//! `sipscope decisions`, the exports and the alert outputs.

use super::{Action, DecisionKind, DecisionOrigin, GroupKey, Prefix, Scope, ScopeKind};
use std::fmt;
use std::net::{IpAddr, SocketAddr};

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Scope::Address(a) => write!(f, "{a}"),
            Scope::AddressPort(a, p) => write!(f, "{}", SocketAddr::new(a, p)),
            Scope::Prefix(p) => write!(f, "{p}"),
        }
    }
}

impl std::str::FromStr for Scope {
    type Err = String;
    /// An address, an address and port (`[v6]:port` for IPv6), or a network in CIDR form; a
    /// network of one address (`/32`, `/128`) is that address.
    fn from_str(s: &str) -> Result<Scope, String> {
        let s = s.trim();
        if s.contains('/') {
            let p: Prefix = s.parse()?;
            let full = if p.addr.is_ipv4() { 32 } else { 128 };
            return Ok(if p.len == full { Scope::Address(p.addr) } else { Scope::Prefix(p) });
        }
        if let Ok(a) = s.parse::<IpAddr>() {
            return Ok(Scope::Address(a));
        }
        match s.parse::<SocketAddr>() {
            Ok(sa) => Ok(Scope::AddressPort(sa.ip(), sa.port())),
            Err(_) => Err(format!(
                "expected an address (192.0.2.7), an address and port (192.0.2.7:5060, [2001:db8::7]:5060) \
                 or a network (192.0.2.0/24), not {s:?}"
            )),
        }
    }
}

impl Scope {
    /// The stable name of its kind (`address`, `address-port`, `prefix`; the store's
    /// `scope_kind`).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Scope::Address(_) => "address",
            Scope::AddressPort(..) => "address-port",
            Scope::Prefix(_) => "prefix",
        }
    }

    /// The address it is about (a network's first address).
    pub fn address(&self) -> IpAddr {
        match *self {
            Scope::Address(a) | Scope::AddressPort(a, _) => a,
            Scope::Prefix(p) => p.addr,
        }
    }

    /// The addresses it covers as a network (one address is a /32 or /128).
    pub fn as_prefix(&self) -> Prefix {
        match *self {
            Scope::Address(a) | Scope::AddressPort(a, _) => Prefix::new(a, if a.is_ipv4() { 32 } else { 128 }),
            Scope::Prefix(p) => p,
        }
    }
}

impl Prefix {
    /// Whether the two networks share an address (one contains the other).
    pub fn overlaps(&self, other: &Prefix) -> bool {
        let shorter = self.len.min(other.len);
        self.addr.is_ipv4() == other.addr.is_ipv4()
            && Prefix::new(self.addr, shorter) == Prefix::new(other.addr, shorter)
    }
}

impl GroupKey {
    /// The user the group is about, when it names one (itself or among several keys).
    pub fn user(&self) -> Option<&str> {
        match self {
            GroupKey::User(u) => Some(u),
            GroupKey::Many(keys) => keys.iter().find_map(GroupKey::user),
            _ => None,
        }
    }

    /// The source address the group is about, when it names one.
    pub fn source(&self) -> Option<IpAddr> {
        match self {
            GroupKey::Source(a) | GroupKey::SourcePort(a, _) => Some(*a),
            GroupKey::Many(keys) => keys.iter().find_map(GroupKey::source),
            _ => None,
        }
    }
}

impl std::str::FromStr for DecisionKind {
    type Err = String;
    /// `ban`, `watch`, or `rate-limit` (its rate is set apart; 0 here).
    fn from_str(s: &str) -> Result<DecisionKind, String> {
        match s {
            "ban" => Ok(DecisionKind::Ban),
            "watch" => Ok(DecisionKind::Watch),
            "rate-limit" => Ok(DecisionKind::RateLimit { per_second: 0 }),
            _ => Err(format!("expected ban, rate-limit or watch, not {s:?}")),
        }
    }
}

impl DecisionOrigin {
    /// `rule` or `operator` (the store's `origin`).
    pub fn kind_name(&self) -> &'static str {
        match self {
            DecisionOrigin::Rule { .. } => "rule",
            DecisionOrigin::Operator { .. } => "operator",
        }
    }

    /// The rule's id or the operator's name.
    pub fn name(&self) -> &str {
        match self {
            DecisionOrigin::Rule { rule_id } => rule_id,
            DecisionOrigin::Operator { who } => who,
        }
    }
}

/// How an action reads in the store and in reports: `ban address 3600s`, `rate-limit
/// prefix/24 600s 5/s`, `watch address 86400s`, `alert`.
pub fn action_text(action: &Action) -> String {
    let scope = |s: &ScopeKind| match s {
        ScopeKind::Address => "address".to_owned(),
        ScopeKind::AddressPort => "address_port".to_owned(),
        ScopeKind::Prefix(n) => format!("prefix/{n}"),
    };
    let secs = |ns: i64| ns / 1_000_000_000;
    match action {
        Action::Alert => "alert".into(),
        Action::Ban { scope: s, duration_ns } => format!("ban {} {}s", scope(s), secs(*duration_ns)),
        Action::Watch { scope: s, duration_ns } => format!("watch {} {}s", scope(s), secs(*duration_ns)),
        Action::RateLimit { scope: s, duration_ns, per_second } => {
            format!("rate-limit {} {}s {per_second}/s", scope(s), secs(*duration_ns))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_print_and_parse_back() {
        for text in ["192.0.2.7", "192.0.2.7:5060", "[2001:db8::7]:5060", "192.0.2.0/24", "2001:db8::/32"] {
            let scope: Scope = text.parse().unwrap();
            assert_eq!(scope.to_string(), text);
        }
        assert_eq!("192.0.2.7/32".parse::<Scope>().unwrap(), Scope::Address("192.0.2.7".parse().unwrap()));
        assert_eq!("192.0.2.77/24".parse::<Scope>().unwrap().to_string(), "192.0.2.0/24");
        for bad in ["", "example.com", "192.0.2.7:99999", "192.0.2.0/33", "1.2.3.4; drop"] {
            assert!(bad.parse::<Scope>().is_err(), "{bad}");
        }
    }

    #[test]
    fn prefixes_overlap_when_one_contains_the_other() {
        let p = |s: &str| s.parse::<Prefix>().unwrap();
        assert!(p("192.0.2.0/24").overlaps(&p("192.0.2.7")));
        assert!(p("192.0.2.7").overlaps(&p("192.0.0.0/16")));
        assert!(!p("192.0.2.0/24").overlaps(&p("192.0.3.0/24")));
        assert!(!p("0.0.0.0/0").overlaps(&p("::1")));
    }

    #[test]
    fn groups_print_their_keys() {
        let g = GroupKey::Many(vec![GroupKey::Source("192.0.2.7".parse().unwrap()), GroupKey::User("100".into())]);
        assert_eq!(g.to_string(), "source=192.0.2.7 user=100");
        assert_eq!(g.user(), Some("100"));
        assert_eq!(g.source(), Some("192.0.2.7".parse().unwrap()));
    }
}
