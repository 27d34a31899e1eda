//! The decision policy: what is done about an alert. A rule asks (ban, rate-limit, watch); the
//! policy decides, as a pure function of (time, alert, history):
//! - **protected** addresses are never decided against, whatever a rule asks: loopback and
//!   unspecified addresses, the sensor's own, the alert's destination (the sensor or the PBX
//!   it watches), the allowlist, trunks, the nodes file's addresses, and sources that
//!   authenticated successfully within N hours; a network scope that would reach one shrinks
//!   to the source address;
//! - **spoof-aware**: a source that is not proven (plain UDP can be forged) gets a rate limit
//!   or a watch instead of a ban, unless `ban_unproven`;
//! - **stale credentials**: a ban candidate whose source keeps failing with one account and
//!   one agent at a regular interval gets a watch that says so ([`stale`]);
//! - **escalation**: each earlier offence of the scope multiplies the duration (doubling by
//!   default) up to a maximum; offences are stored, so they survive restarts;
//! - a decision already in force (as strong, covering the scope) is not taken again.
//!
//! [`responder`] is the impure shell around it: the store, the enforcer, the bans in force.

pub mod config;
pub mod responder;
pub mod shared;
pub mod stale;
mod workers;

#[cfg(test)]
mod tests;

pub use config::{DecisionsConfig, StaleConfig, Unproven};
pub use responder::{PolicyResponder, ResponderParts};
pub use stale::Attempt;

use super::{Action, Alert, Decision, DecisionKind, DecisionOrigin, Prefix, Scope, ScopeKind};
use crate::time::SECOND_NS;
use std::net::IpAddr;

/// Why an address is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    /// Loopback or unspecified.
    Loopback,
    /// One of the sensor's own addresses, or the address the alert's messages were sent to.
    Own,
    /// The allowlist.
    Allowlist,
    /// A trunk.
    Trunk,
    /// A node of the nodes file.
    Node,
    /// It authenticated successfully within the configured hours.
    Authenticated,
}

/// What the policy needs to know besides the alert: decisions in force, offences, successful
/// authentications and failed attempts. The responder answers from memory and the store;
/// tests answer from plain values.
pub trait History {
    /// Decisions in force now.
    fn in_force(&self) -> &[Decision];
    /// Offences of `scope` remembered (not forgiven).
    fn offences(&self, scope: &Scope) -> u32;
    /// When `ip` last authenticated successfully.
    fn authenticated_at(&self, ip: IpAddr) -> Option<i64>;
    /// Failed attempts from `ip` since `since_ns`.
    fn failures(&self, ip: IpAddr, since_ns: i64) -> Vec<Attempt>;
}

/// What the policy made of one action of an alert.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Take this decision; `downgrade` says when it is less than the rule asked for.
    Take {
        /// The decision.
        decision: Decision,
        /// Why it is weaker than the rule's action, if it is.
        downgrade: Option<Downgrade>,
    },
    /// The action asks for nothing beyond the alert.
    AlertOnly,
    /// The alert names no source to act on.
    NoSource,
    /// The source is protected.
    Protected(IpAddr, Protection),
    /// A decision as strong, covering the scope, is in force.
    AlreadyInForce(Scope),
}

/// Why a decision is weaker than the rule asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Downgrade {
    /// The source is not proven: a rate limit or watch instead of a ban.
    Unproven,
    /// Stale credentials: a watch instead of a ban or rate limit.
    StaleCredentials,
}

/// The policy with its configuration resolved.
#[derive(Debug, Clone)]
pub struct Policy {
    config: DecisionsConfig,
    protected: Vec<(Prefix, Protection)>,
}

impl Policy {
    /// The policy of `config`; `own` are the sensor's addresses, `nodes` the nodes file's
    /// networks (allowlisted when `allow_nodes`).
    pub fn new(config: DecisionsConfig, own: &[IpAddr], nodes: &[Prefix]) -> Result<Policy, String> {
        config.check()?;
        let full = |ip: IpAddr| Prefix::new(ip, if ip.is_ipv4() { 32 } else { 128 });
        let mut protected: Vec<(Prefix, Protection)> = [
            ("127.0.0.0/8", Protection::Loopback),
            ("::1/128", Protection::Loopback),
            ("::ffff:127.0.0.0/104", Protection::Loopback),
            ("0.0.0.0/32", Protection::Loopback),
            ("::/128", Protection::Loopback),
        ]
        .iter()
        .filter_map(|(p, why)| p.parse().ok().map(|p| (p, *why)))
        .collect();
        protected.extend(own.iter().map(|ip| (full(*ip), Protection::Own)));
        protected.extend(config.allowlist_prefixes()?.into_iter().map(|p| (p, Protection::Allowlist)));
        protected.extend(config.trunk_prefixes()?.into_iter().map(|p| (p, Protection::Trunk)));
        if config.allow_nodes {
            protected.extend(nodes.iter().map(|p| (*p, Protection::Node)));
        }
        Ok(Policy { config, protected })
    }

    /// The configuration.
    pub fn config(&self) -> &DecisionsConfig {
        &self.config
    }

    /// Why a decision on `scope` must not be taken, if it must not (a network scope reaching
    /// a protected address counts). Operators' decisions are checked against loopback and own
    /// addresses only (`operator`), rules' against everything.
    pub fn protection(&self, scope: &Scope, operator: bool) -> Option<(IpAddr, Protection)> {
        let reach = scope.as_prefix();
        self.protected
            .iter()
            .filter(|(_, why)| !operator || matches!(why, Protection::Loopback | Protection::Own))
            .find(|(p, _)| p.overlaps(&reach))
            .map(|(p, why)| (if p.contains(reach.addr) { reach.addr } else { p.addr }, *why))
    }

    /// The verdict on each action of `alert` at `now_ns`.
    pub fn decide(&self, now_ns: i64, alert: &Alert, history: &dyn History) -> Vec<Verdict> {
        alert.actions.iter().map(|action| self.decide_action(now_ns, alert, *action, history)).collect()
    }

    fn decide_action(&self, now_ns: i64, alert: &Alert, action: Action, history: &dyn History) -> Verdict {
        let (scope_kind, duration_ns, kind) = match action {
            Action::Alert => return Verdict::AlertOnly,
            Action::Ban { scope, duration_ns } => (scope, duration_ns, DecisionKind::Ban),
            Action::RateLimit { scope, duration_ns, per_second } => {
                (scope, duration_ns, DecisionKind::RateLimit { per_second: per_second.max(1) })
            }
            Action::Watch { scope, duration_ns } => (scope, duration_ns, DecisionKind::Watch),
        };
        let Some(ip) = alert.src.map(|s| s.0).or_else(|| alert.group.source()) else {
            return Verdict::NoSource;
        };
        let mut scope = self.bind(scope_kind, ip, alert);
        // The address the attack was sent to is ours (or the PBX we watch).
        if alert.dst.is_some_and(|d| scope.as_prefix().contains(d.0)) {
            return Verdict::Protected(ip, Protection::Own);
        }
        if let Some(why) = self.authenticated(ip, now_ns, history) {
            return Verdict::Protected(ip, why);
        }
        if let Some((at, why)) = self.protection(&scope, false) {
            match self.protection(&Scope::Address(ip), false) {
                Some((_, why)) => return Verdict::Protected(ip, why),
                None if matches!(scope, Scope::Prefix(_)) => scope = Scope::Address(ip),
                None => return Verdict::Protected(at, why),
            }
        }
        let mut reason = format!("{} ({}): {} messages, {}", alert.name, alert.rule_id, alert.count, alert.group);
        let mut kind = kind;
        let mut downgrade = None;
        if kind == DecisionKind::Ban && !alert.proven && !self.config.ban_unproven {
            kind = match self.config.unproven {
                Unproven::RateLimit => DecisionKind::RateLimit { per_second: self.config.unproven_rate_per_second },
                Unproven::Watch => DecisionKind::Watch,
            };
            reason.push_str(&format!("; the source is not proven, so a {} instead of a ban", kind.as_str()));
            downgrade = Some(Downgrade::Unproven);
        }
        let held =
            |kind| history.in_force().iter().find(|d| d.active(now_ns) && covers(d, &scope, kind)).map(|d| d.scope);
        if let Some(held) = held(kind) {
            return Verdict::AlreadyInForce(held);
        }
        if kind != DecisionKind::Watch && self.config.stale_credentials.enabled {
            let lookback_ns = hours_ns(self.config.stale_credentials.lookback_hours);
            let failures = history.failures(ip, now_ns.saturating_sub(lookback_ns));
            if let Some(stale) = stale::classify(&failures, &self.config.stale_credentials) {
                kind = DecisionKind::Watch;
                downgrade = Some(Downgrade::StaleCredentials);
                reason = format!(
                    "stale credentials: account {:?} failed in {} rounds about every {} s with agent {:?}; \
                     a device with an old password, not an attack ({} asked for a {})",
                    stale.user,
                    stale.rounds,
                    stale.interval_ns / SECOND_NS,
                    stale.agent.as_deref().unwrap_or(""),
                    alert.rule_id,
                    action_name(action),
                );
            }
        }
        if let Some(held) = held(kind) {
            return Verdict::AlreadyInForce(held);
        }
        let base_ns = if duration_ns > 0 { duration_ns } else { seconds_ns(self.config.base_duration_seconds) };
        let offence = if kind == DecisionKind::Watch { 0 } else { history.offences(&scope) };
        let duration_ns = self.escalated(base_ns, offence);
        if offence > 0 {
            reason.push_str(&format!("; repeat offence {}", offence + 1));
        }
        let decision = Decision {
            id: None,
            kind,
            scope,
            start_ns: now_ns,
            until_ns: now_ns.saturating_add(duration_ns),
            reason,
            origin: DecisionOrigin::Rule { rule_id: alert.rule_id.clone() },
            offence,
            proven: alert.proven,
            evidence: alert.evidence.clone(),
        };
        Verdict::Take { decision, downgrade }
    }

    /// The scope a rule's scope kind names for `ip` (a network never wider than configured).
    fn bind(&self, kind: ScopeKind, ip: IpAddr, alert: &Alert) -> Scope {
        match kind {
            ScopeKind::Address => Scope::Address(ip),
            ScopeKind::AddressPort => match alert.src {
                Some((a, port)) if a == ip => Scope::AddressPort(ip, port),
                _ => Scope::Address(ip),
            },
            ScopeKind::Prefix(len) => {
                let widest = if ip.is_ipv4() { self.config.widest_prefix_v4 } else { self.config.widest_prefix_v6 };
                let p = Prefix::new(ip, len.max(widest));
                if p.len == if ip.is_ipv4() { 32 } else { 128 } {
                    Scope::Address(ip)
                } else {
                    Scope::Prefix(p)
                }
            }
        }
    }

    fn authenticated(&self, ip: IpAddr, now_ns: i64, history: &dyn History) -> Option<Protection> {
        let hours = self.config.allow_authenticated_hours;
        let at = history.authenticated_at(ip)?;
        (hours > 0 && at >= now_ns.saturating_sub(hours_ns(hours))).then_some(Protection::Authenticated)
    }

    /// `base_ns` times the escalation factor per earlier offence, at most the maximum: the
    /// operator's `max_duration_seconds` bounds every decision, a rule's own duration too.
    pub fn escalated(&self, base_ns: i64, offence: u32) -> i64 {
        let max_ns = seconds_ns(self.config.max_duration_seconds);
        if base_ns >= max_ns {
            return max_ns;
        }
        let grown = base_ns as f64 * self.config.escalation_factor.powi(offence.min(1024) as i32);
        if grown >= max_ns as f64 {
            max_ns
        } else {
            grown as i64
        }
    }

    /// Offences last counted before this are forgiven.
    pub fn forgiven_before(&self, now_ns: i64) -> i64 {
        now_ns.saturating_sub(hours_ns(self.config.offence_memory_hours))
    }
}

/// How strong a kind is: a ban covers a rate limit covers a watch.
fn strength(kind: DecisionKind) -> u8 {
    match kind {
        DecisionKind::Watch => 0,
        DecisionKind::RateLimit { .. } => 1,
        DecisionKind::Ban => 2,
    }
}

/// Whether decision `held` makes a new `kind` on `scope` pointless.
fn covers(held: &Decision, scope: &Scope, kind: DecisionKind) -> bool {
    if strength(held.kind) < strength(kind) {
        return false;
    }
    let (h, s) = (held.scope.as_prefix(), scope.as_prefix());
    let reaches = h.len <= s.len && h.contains(s.addr);
    match (held.scope, scope) {
        (Scope::AddressPort(a, p), Scope::AddressPort(b, q)) => a == *b && p == *q,
        (Scope::AddressPort(..), _) => false,
        _ => reaches,
    }
}

fn action_name(action: Action) -> &'static str {
    match action {
        Action::Alert => "alert",
        Action::Ban { .. } => "ban",
        Action::RateLimit { .. } => "rate-limit",
        Action::Watch { .. } => "watch",
    }
}

fn seconds_ns(s: u64) -> i64 {
    i64::try_from(s).unwrap_or(i64::MAX).saturating_mul(SECOND_NS)
}

fn hours_ns(h: u64) -> i64 {
    seconds_ns(h.saturating_mul(3600))
}
