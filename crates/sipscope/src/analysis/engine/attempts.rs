//! Authentication attempts read from PBX logs (`sipscope logs`), taken by the engine as the
//! request each one describes, so that a brute force seen only in a PBX's log reaches the same
//! tables as one seen on the wire: the source's activity and flow, the hourly totals, the
//! stages, and (a call to a missing extension) the numbers dialled. Nothing is invented: no
//! message is built, no bytes are stored, and what the log does not say (user agent, the
//! PBX's address on most lines, the method of a security event) stays unknown. A pure
//! function of the attempt, its time included (docs/analysis.md, "Attempts from PBX logs").

use super::{stage_keys, Analyzer, Seen};
use crate::analysis::bounded::{bounded_opt, value_hash};
use crate::analysis::numbers::Dialled;
use crate::analysis::stages::Request;
use crate::event::Direction;
use std::net::IpAddr;

/// One attempt as a PBX logged it: the columns of `auth_attempts` the analysis reads.
#[derive(Debug, Clone, Copy)]
pub struct LoggedAttempt<'a> {
    /// The log line's time, ns.
    pub ts_ns: i64,
    /// The client's address and port, as the PBX printed them.
    pub src: (IpAddr, u16),
    /// The PBX's address and port (unspecified and 0 when the line does not say).
    pub dst: (IpAddr, u16),
    /// Node of the PBX.
    pub node: Option<&'a str>,
    /// Which log and line format (`asterisk_security`, `asterisk_chan_sip`, …).
    pub origin: &'a str,
    /// The log's method: a SIP method, a security event's service, or empty.
    pub method: &'a str,
    /// The account or user named.
    pub username: &'a str,
    /// The extension dialled (calls rejected) or the digest uri.
    pub uri: Option<&'a str>,
    /// The stored outcome (`wrong_password`, `unknown_user`, `accepted`, …).
    pub outcome: &'a str,
}

/// The SIP requests a log line may name.
const SIP_METHODS: [&str; 14] = [
    "REGISTER",
    "INVITE",
    "OPTIONS",
    "ACK",
    "BYE",
    "CANCEL",
    "SUBSCRIBE",
    "NOTIFY",
    "MESSAGE",
    "INFO",
    "PRACK",
    "UPDATE",
    "REFER",
    "PUBLISH",
];

impl LoggedAttempt<'_> {
    /// `None` when the attempt is not about SIP (the manager interface's or IAX2's notices, a
    /// security event of those services); else the SIP method the log names, if it names one.
    pub fn sip_method(&self) -> Option<Option<&str>> {
        if matches!(self.origin, "asterisk_manager" | "asterisk_iax2") {
            return None;
        }
        if self.origin == "asterisk_security" {
            // Security events name the service, never the method.
            return matches!(self.method, "SIP" | "PJSIP").then_some(None);
        }
        Some(SIP_METHODS.contains(&self.method).then_some(self.method))
    }
}

impl Analyzer {
    /// Takes one attempt read from a PBX log (see the module's documentation for what it
    /// counts as). Attempts that are not about SIP are left to the rules and the
    /// authentication tables.
    pub fn observe_attempt(&mut self, a: &LoggedAttempt<'_>) {
        let Some(method) = a.sip_method() else { return };
        let ts = a.ts_ns;
        self.expire_if_due(ts);
        let seen = Seen { ts_ns: ts, src: a.src, dst: a.dst, node: a.node, direction: Direction::In, bytes: 0 };
        self.traffic.logged_request(&seen, method);
        let limit = self.config.max_value_bytes;
        // An INVITE's user is the extension dialled, a REGISTER's the account.
        let invite = method == Some("INVITE");
        let whole = match (invite, a.uri) {
            (true, Some(uri)) => Some(uri),
            _ => Some(a.username).filter(|u| !u.is_empty()),
        };
        let user = bounded_opt(whole, limit);
        let dialled = match (whole, user.as_deref(), invite) {
            (Some(whole), Some(key), true) => Some(self.libraries.classify_number(whole, key)),
            _ => None,
        };
        // The log names no caller to compare: a call to a number is a call attempt.
        let call = match dialled.as_deref() {
            Some(Dialled::Number(n)) => Some(n),
            _ => None,
        };
        let call_number = call.map(|n| self.libraries.number_key(n));
        if let (Some(u), Some(_)) = (user.as_deref(), &dialled) {
            let country = call.map(|n| n.country.as_deref().unwrap_or(""));
            self.traffic.invite(&seen, u, country, call_number.as_deref());
        }
        let source = a.src.0;
        if !self.track_source(source, ts, a.node) {
            return;
        }
        self.activity.observe(source, ts);
        let libraries = &mut self.libraries;
        let new_extras = || super::FlowExtras::new(libraries);
        let (flow, _) = self.flows.flow(source, ts, new_extras, &mut self.closed);
        flow.packets += 1;
        if let Some(m) = method {
            flow.methods.add(m);
        }
        if !a.dst.0.is_unspecified() {
            flow.destinations.insert(a.dst.0);
        }
        if a.dst.1 != 0 {
            flow.dest_ports.insert(a.dst.1);
        }
        if a.src.1 != 0 {
            flow.source_ports.insert(a.src.1);
        }
        if let Some(u) = user.as_deref() {
            flow.users.insert(value_hash(u));
        }
        if let Some(n) = &call_number {
            flow.dialled.insert(value_hash(n));
        }
        if let Some(d) = dialled.as_deref() {
            self.libraries.record_number(ts, source, d, None);
        }
        let credentials = matches!(a.outcome, "wrong_password" | "accepted");
        let exists = match a.outcome {
            "unknown_user" | "extension_not_found" => Some(false),
            "wrong_password" | "accepted" => Some(true),
            _ => None,
        };
        // Refusals (ACLs, transports, malformed requests) reach the source's activity and flow
        // only: the log does not say what the request asked for.
        if exists.is_some() {
            let request = Request {
                ts_ns: ts,
                method: a.method,
                user: user.as_deref(),
                credentials,
                call_attempt: call.is_some(),
                call_id: None,
            };
            let register = method.is_none_or(|m| m == "REGISTER");
            for key in stage_keys(source, a.node) {
                self.stages.entry(key).or_default().logged_request(&request, register, exists, a.outcome == "accepted");
            }
        }
        self.closed_flows_if_any();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::engine::AnalysisConfig;

    fn attempt<'a>(ts: i64, origin: &'a str, method: &'a str, user: &'a str, outcome: &'a str) -> LoggedAttempt<'a> {
        LoggedAttempt {
            ts_ns: ts,
            src: ("203.0.113.21".parse().unwrap(), 5060),
            dst: ("0.0.0.0".parse().unwrap(), 0),
            node: Some("pbx1"),
            origin,
            method,
            username: user,
            uri: None,
            outcome,
        }
    }

    #[test]
    fn a_logged_brute_force_reaches_sources_flows_stages_and_traffic() {
        let mut engine = Analyzer::new(AnalysisConfig::default());
        for i in 0..5 {
            engine.observe_attempt(&attempt(
                i * 1_000_000_000,
                "asterisk_chan_sip",
                "REGISTER",
                "100",
                "wrong_password",
            ));
        }
        engine.observe_attempt(&attempt(9_000_000_000, "asterisk_security", "PJSIP", "100", "accepted"));
        // The manager interface is not SIP: not counted.
        engine.observe_attempt(&attempt(9_000_000_000, "asterisk_security", "AMI", "admin", "wrong_password"));
        // Nor are the manager interface's and IAX2's own notices.
        engine.observe_attempt(&attempt(9_000_000_000, "asterisk_manager", "AMI", "admin", "wrong_password"));
        engine.observe_attempt(&attempt(9_000_000_000, "asterisk_iax2", "IAX2", "100", "unknown_user"));
        let r = engine.finish();
        assert_eq!(r.sources.len(), 1);
        assert_eq!((r.sources[0].messages, r.sources[0].flows, r.sources[0].nodes), (6, 1, 1));
        assert_eq!(r.flows.len(), 1);
        assert_eq!((r.flows[0].packets, r.flows[0].fingerprint.as_deref()), (6, None));
        let stages: Vec<_> = r.stages.iter().map(|s| (s.node.as_deref(), s.stage, s.evidence.count)).collect();
        assert_eq!(
            stages,
            [(None, "registration_hijacking", 6), (Some("pbx1"), "registration_hijacking", 6)],
            "{:?}",
            r.stages
        );
        // The SuccessfulAuth: the account is taken, as a 200 to a credentialed REGISTER says.
        assert!(r.stages.iter().all(|s| s.detail.get("succeeded") == Some(&1)), "{:?}", r.stages);
        let requests: u64 = r.traffic.iter().map(|t| t.messages).sum();
        assert_eq!(requests, 6);
    }

    #[test]
    fn a_call_to_a_missing_extension_is_a_dialled_number() {
        let mut engine = Analyzer::new(AnalysisConfig::default());
        let mut a = attempt(1, "asterisk_chan_sip", "INVITE", "", "extension_not_found");
        a.uri = Some("0046701234567");
        engine.observe_attempt(&a);
        let r = engine.finish();
        assert!(r.stages.iter().any(|s| s.stage == "toll_fraud"), "{:?}", r.stages);
        assert_eq!(r.dialled.len(), 1);
        assert_eq!(r.numbers.len(), 1);
    }
}
