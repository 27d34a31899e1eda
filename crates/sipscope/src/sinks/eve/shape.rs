//! Alerts and decisions as Suricata-EVE-like JSON objects, the shape SIEMs already read: one
//! object per line in the alerts file, the body of a webhook, `sipscope decisions list
//! --json`. Every string goes through [`JsonWriter`], so attacker text (user agents, users,
//! Call-IDs) is escaped and inert. docs/alerts.md documents the shape.

use crate::act::{Alert, Decision, DecisionKind, DecisionOrigin, Evidence, Scope, Severity};
use crate::output::json::JsonWriter;
use crate::time::{rfc3339_micros, SECOND_NS};
use std::net::IpAddr;

/// An alert as one EVE `alert` object (no newline).
pub fn alert_json(alert: &Alert) -> String {
    let mut w = JsonWriter::new();
    w.begin_object();
    text(&mut w, "timestamp", &rfc3339_micros(alert.last_ns));
    text(&mut w, "event_type", "alert");
    text(&mut w, "host", &alert.sensor);
    endpoint(&mut w, "src", alert.src);
    endpoint(&mut w, "dest", alert.dst);
    if let Some(t) = &alert.transport {
        text(&mut w, "proto", proto(t));
    }
    text(&mut w, "app_proto", "sip");
    w.key("alert");
    w.begin_object();
    text(&mut w, "action", "allowed");
    number(&mut w, "gid", 1);
    number(&mut w, "signature_id", u64::from(alert.signature_id));
    number(&mut w, "rev", 1);
    text(&mut w, "signature", &alert.name);
    text(&mut w, "category", &category(alert));
    number(&mut w, "severity", u64::from(alert.severity.eve_number()));
    w.key("metadata");
    w.begin_object();
    list(&mut w, "rule_id", [alert.rule_id.as_str()]);
    list(&mut w, "severity", [alert.severity.as_str()]);
    list(&mut w, "labels", alert.labels.iter().map(String::as_str));
    w.end_object();
    w.end_object();
    w.key("sip");
    w.begin_object();
    let s = &alert.sip;
    for (key, value) in [
        ("method", &s.method),
        ("user_agent", &s.user_agent),
        ("from_user", &s.from_user),
        ("to_user", &s.to_user),
        ("ruri_user", &s.ruri_user),
        ("call_id", &s.call_id),
    ] {
        if let Some(v) = value {
            text(&mut w, key, v);
        }
    }
    if let Some(status) = s.status {
        number(&mut w, "status", u64::from(status));
    }
    w.end_object();
    w.key("sipscope");
    w.begin_object();
    text(&mut w, "rule_id", &alert.rule_id);
    text(&mut w, "group", &alert.group.to_string());
    number(&mut w, "count", alert.count);
    w.key("proven");
    w.boolean(alert.proven);
    text(&mut w, "first", &rfc3339_micros(alert.first_ns));
    text(&mut w, "last", &rfc3339_micros(alert.last_ns));
    if let Some(node) = &alert.node {
        text(&mut w, "node", node);
    }
    if let Some(t) = &alert.transport {
        text(&mut w, "transport", t);
    }
    evidence(&mut w, &alert.evidence);
    w.end_object();
    w.end_object();
    finish(w)
}

/// A decision as one EVE-like `decision` object (no newline).
pub fn decision_json(d: &Decision) -> String {
    let mut w = JsonWriter::new();
    w.begin_object();
    text(&mut w, "timestamp", &rfc3339_micros(d.start_ns));
    text(&mut w, "event_type", "decision");
    let port = match d.scope {
        Scope::AddressPort(_, p) => Some(p),
        _ => None,
    };
    text(&mut w, "src_ip", &d.scope.address().to_string());
    if let Some(port) = port {
        number(&mut w, "src_port", u64::from(port));
    }
    w.key("decision");
    w.begin_object();
    if let Some(id) = d.id {
        w.key("id");
        w.number(id.max(0).unsigned_abs());
    }
    text(&mut w, "kind", d.kind.as_str());
    if let DecisionKind::RateLimit { per_second } = d.kind {
        number(&mut w, "per_second", u64::from(per_second));
    }
    text(&mut w, "scope", &d.scope.to_string());
    text(&mut w, "scope_kind", d.scope.kind_name());
    text(&mut w, "start", &rfc3339_micros(d.start_ns));
    text(&mut w, "until", &rfc3339_micros(d.until_ns));
    number(&mut w, "duration_seconds", (d.until_ns.saturating_sub(d.start_ns) / SECOND_NS).max(0).unsigned_abs());
    text(&mut w, "reason", &d.reason);
    text(&mut w, "origin", d.origin.kind_name());
    match &d.origin {
        DecisionOrigin::Rule { rule_id } => text(&mut w, "rule_id", rule_id),
        DecisionOrigin::Operator { who } => text(&mut w, "who", who),
    }
    number(&mut w, "offence", u64::from(d.offence));
    w.key("proven");
    w.boolean(d.proven);
    evidence(&mut w, &d.evidence);
    w.end_object();
    w.end_object();
    finish(w)
}

/// The EVE `proto` of a transport name.
fn proto(transport: &str) -> &'static str {
    match transport {
        "udp" => "UDP",
        "sctp" => "SCTP",
        _ => "TCP",
    }
}

/// Suricata's `alert.category`: a `category:` label when the rule has one, else the classtype
/// description of "misc-attack" (medium and above) or "misc-activity".
fn category(alert: &Alert) -> String {
    alert
        .labels
        .iter()
        .find_map(|l| l.strip_prefix("category:"))
        .map(str::to_owned)
        .unwrap_or_else(|| if alert.severity >= Severity::Medium { "Misc Attack" } else { "Misc activity" }.to_owned())
}

fn text(w: &mut JsonWriter, key: &str, value: &str) {
    w.key(key);
    w.bytes(value.as_bytes());
}

fn number(w: &mut JsonWriter, key: &str, value: u64) {
    w.key(key);
    w.number(value);
}

fn list<'a>(w: &mut JsonWriter, key: &str, items: impl IntoIterator<Item = &'a str>) {
    w.key(key);
    w.begin_array();
    for item in items {
        w.bytes(item.as_bytes());
    }
    w.end_array();
}

/// `{prefix}_ip` and `{prefix}_port`, when known.
fn endpoint(w: &mut JsonWriter, prefix: &str, at: Option<(IpAddr, u16)>) {
    if let Some((ip, port)) = at {
        text(w, &format!("{prefix}_ip"), &ip.to_string());
        number(w, &format!("{prefix}_port"), u64::from(port));
    }
}

fn evidence(w: &mut JsonWriter, items: &[Evidence]) {
    w.key("evidence");
    w.begin_array();
    for e in items {
        w.begin_object();
        text(w, "timestamp", &rfc3339_micros(e.ts_ns));
        endpoint(w, "src", Some(e.src));
        endpoint(w, "dest", Some(e.dst));
        number(w, "ordinal", e.ordinal);
        w.end_object();
    }
    w.end_array();
}

/// The finished object. [`JsonWriter`] leaves the bidirectional overrides raw; `inert`
/// escapes them too.
fn finish(mut w: JsonWriter) -> String {
    crate::output::json::inert(String::from_utf8_lossy(&w.take()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::act::{Action, DecisionOrigin};
    use serde_json::Value;

    #[test]
    fn an_alert_has_the_eve_shape_and_attacker_text_stays_inert() {
        let mut a =
            crate::test_support::alert("192.0.2.7", true, 1_796_017_906 * SECOND_NS + 5_000, vec![Action::Alert]);
        a.sip.user_agent = Some("evil\u{1b}[2J\u{202e}\"}".into());
        let line = alert_json(&a);
        assert!(!line.contains('\u{1b}') && !line.contains('\u{202e}') && !line.contains('\n'), "{line}");
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["timestamp"], "2026-11-30T05:51:46.000005+00:00");
        assert_eq!(v["event_type"], "alert");
        assert_eq!((v["src_ip"].as_str(), v["src_port"].as_u64()), (Some("192.0.2.7"), Some(5070)));
        assert_eq!((v["dest_ip"].as_str(), v["dest_port"].as_u64()), (Some("198.51.100.1"), Some(5060)));
        assert_eq!(v["proto"], "UDP");
        assert_eq!(v["alert"]["signature_id"], 9_100_001);
        assert_eq!(v["alert"]["severity"], 2);
        assert_eq!(v["alert"]["category"], "Misc Attack");
        assert_eq!(v["alert"]["metadata"]["rule_id"][0], "sipscope/register-guessing");
        assert_eq!(v["sip"]["user_agent"], "evil\u{1b}[2J\u{202e}\"}");
        assert_eq!(v["sipscope"]["group"], "source=192.0.2.7");
        assert_eq!(v["sipscope"]["count"], 25);
        assert_eq!(v["sipscope"]["evidence"][0]["ordinal"], 7);
    }

    #[test]
    fn a_decision_line_says_what_who_and_until_when() {
        let d = Decision {
            id: Some(4),
            kind: DecisionKind::RateLimit { per_second: 10 },
            scope: "[2001:db8::7]:5060".parse().unwrap(),
            start_ns: 0,
            until_ns: 3600 * SECOND_NS,
            reason: "flood\u{7}".into(),
            origin: DecisionOrigin::Operator { who: "alice".into() },
            offence: 1,
            proven: false,
            evidence: vec![],
        };
        let line = decision_json(&d);
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["event_type"], "decision");
        assert_eq!((v["src_ip"].as_str(), v["src_port"].as_u64()), (Some("2001:db8::7"), Some(5060)));
        let inner = &v["decision"];
        assert_eq!(
            (inner["id"].as_u64(), inner["kind"].as_str(), inner["per_second"].as_u64()),
            (Some(4), Some("rate-limit"), Some(10))
        );
        assert_eq!((inner["who"].as_str(), inner["duration_seconds"].as_u64()), (Some("alice"), Some(3600)));
        assert!(line.contains("flood\\u0007"));
    }
}
