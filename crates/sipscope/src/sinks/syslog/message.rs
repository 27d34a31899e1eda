//! RFC 5424 syslog messages of alerts and decisions: the header (priority from a facility and
//! the alert's severity, RFC 3339 time with microseconds, host, `sipscope`, pid, `alert` or
//! `decision`), structured data under the documentation enterprise number 32473 (RFC 5612)
//! with every PARAM-VALUE escaped (`"`, `\`, `]`, and the project's dangerous characters made
//! visible), and a short text. Pure functions; the transport frames and sends.

use crate::act::{Alert, Decision, DecisionKind, Severity};
use crate::output::escape::terminal;
use crate::time::{rfc3339_micros, SECOND_NS};

/// Attacker values are cut to this many characters before escaping.
const MAX_VALUE_CHARS: usize = 128;

/// A facility by its name (`local0` … `local7`, `daemon`, `auth`, `user` …).
pub fn facility(name: &str) -> Result<u8, String> {
    const NAMES: [&str; 12] =
        ["kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp"];
    if let Some(n) = name.strip_prefix("local").and_then(|d| d.parse::<u8>().ok()).filter(|d| *d < 8) {
        return Ok(16 + n);
    }
    NAMES
        .iter()
        .position(|n| *n == name)
        .map(|i| i as u8)
        .ok_or_else(|| format!("unknown syslog facility {name:?} (local0 … local7, daemon, auth, user …)"))
}

/// The header's host: printable ASCII without spaces, at most 255 characters, `-` when empty.
fn hostname(sensor: &str) -> String {
    let host: String = sensor.chars().filter(|c| c.is_ascii_graphic()).take(255).collect();
    if host.is_empty() {
        "-".into()
    } else {
        host
    }
}

/// A PARAM-VALUE: cut, dangerous characters visible and `"` `\` escaped as for a terminal
/// (the same backslash escapes RFC 5424 asks for), and `]` escaped too.
fn value(text: &str) -> String {
    terminal(text, MAX_VALUE_CHARS).replace(']', "\\]")
}

/// `[id name="value" …]` with the pairs whose value is present.
fn element(id: &str, params: &[(&str, Option<String>)]) -> String {
    let mut out = format!("[{id}");
    for (name, v) in params {
        if let Some(v) = v {
            out.push_str(&format!(" {name}=\"{}\"", value(v)));
        }
    }
    out.push(']');
    out
}

/// The header up to and including the MSGID.
fn header(facility: u8, severity: u8, ts_ns: i64, host: &str, pid: u32, msgid: &str) -> String {
    let pri = u16::from(facility) * 8 + u16::from(severity);
    format!("<{pri}>1 {} {} sipscope {pid} {msgid}", rfc3339_micros(ts_ns), hostname(host))
}

/// MSG: ASCII stays as it is; anything else is marked UTF-8 with a BOM, as RFC 5424 asks.
fn msg(text: &str) -> String {
    let safe = terminal(text, 200);
    if safe.is_ascii() {
        safe
    } else {
        format!("\u{feff}{safe}")
    }
}

/// Syslog's severity of an alert: critical 2, high 3 (error), medium 4 (warning), low 5
/// (notice), info 6.
fn alert_severity(s: Severity) -> u8 {
    match s {
        Severity::Critical => 2,
        Severity::High => 3,
        Severity::Medium => 4,
        Severity::Low => 5,
        Severity::Info => 6,
    }
}

/// An alert as one RFC 5424 message (no framing).
pub fn alert(a: &Alert, facility: u8, pid: u32) -> String {
    let s = |v: &Option<String>| v.clone();
    let alert_sd = element(
        "alert@32473",
        &[
            ("rule_id", Some(a.rule_id.clone())),
            ("sid", Some(a.signature_id.to_string())),
            ("severity", Some(a.severity.as_str().into())),
            ("group", Some(a.group.to_string())),
            ("count", Some(a.count.to_string())),
            ("proven", Some(a.proven.to_string())),
            ("src", a.src.map(|s| s.0.to_string())),
            ("sport", a.src.map(|s| s.1.to_string())),
            ("dst", a.dst.map(|d| d.0.to_string())),
            ("dport", a.dst.map(|d| d.1.to_string())),
            ("transport", s(&a.transport)),
            ("node", s(&a.node)),
            ("first", Some(rfc3339_micros(a.first_ns))),
        ],
    );
    let sip_sd = element(
        "sip@32473",
        &[
            ("method", s(&a.sip.method)),
            ("status", a.sip.status.map(|st| st.to_string())),
            ("user_agent", s(&a.sip.user_agent)),
            ("from_user", s(&a.sip.from_user)),
            ("to_user", s(&a.sip.to_user)),
            ("ruri_user", s(&a.sip.ruri_user)),
            ("call_id", s(&a.sip.call_id)),
        ],
    );
    let src = a.src.map_or_else(|| a.group.to_string(), |s| s.0.to_string());
    format!(
        "{} {alert_sd}{sip_sd} {}",
        header(facility, alert_severity(a.severity), a.last_ns, &a.sensor, pid, "alert"),
        msg(&format!("{} from {src} ({} messages)", a.name, a.count))
    )
}

/// A decision as one RFC 5424 message (no framing); `host` names the sensor.
pub fn decision(d: &Decision, facility: u8, host: &str, pid: u32) -> String {
    let severity = match d.kind {
        DecisionKind::Ban => 4,
        DecisionKind::RateLimit { .. } => 5,
        DecisionKind::Watch => 6,
    };
    let rate = match d.kind {
        DecisionKind::RateLimit { per_second } => Some(per_second.to_string()),
        _ => None,
    };
    let sd = element(
        "decision@32473",
        &[
            ("id", d.id.map(|i| i.to_string())),
            ("kind", Some(d.kind.as_str().into())),
            ("per_second", rate),
            ("scope", Some(d.scope.to_string())),
            ("until", Some(rfc3339_micros(d.until_ns))),
            ("duration", Some((d.until_ns.saturating_sub(d.start_ns) / SECOND_NS).to_string())),
            ("origin", Some(d.origin.kind_name().into())),
            ("by", Some(d.origin.name().into())),
            ("offence", Some(d.offence.to_string())),
            ("proven", Some(d.proven.to_string())),
        ],
    );
    format!(
        "{} {sd} {}",
        header(facility, severity, d.start_ns, host, pid, "decision"),
        msg(&format!("{} {}: {}", d.kind.as_str(), d.scope, d.reason))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::act::Action;

    #[test]
    fn an_alert_is_one_rfc5424_line_with_escaped_values() {
        let mut a = crate::test_support::alert("192.0.2.7", true, 1_796_017_906 * SECOND_NS, vec![Action::Alert]);
        a.sip.user_agent = Some("x\"] [evil@1 a=\"b\\\n\u{1b}".into());
        let m = alert(&a, facility("local0").unwrap(), 42);
        assert!(m.starts_with("<132>1 2026-11-30T05:51:46.000000+00:00 test sipscope 42 alert [alert@32473 rule_id=\"sipscope/register-guessing\""), "{m}");
        assert!(m.contains(r#"user_agent="x\"\] [evil@1 a=\"b\\\x0a\x1b""#), "{m}");
        assert!(!m.contains('\n') && !m.contains('\u{1b}'));
        assert!(m.ends_with(" REGISTER password guessing from 192.0.2.7 (25 messages)"), "{m}");
    }

    #[test]
    fn facilities_and_hosts() {
        assert_eq!((facility("kern"), facility("local7"), facility("daemon")), (Ok(0), Ok(23), Ok(3)));
        assert!(facility("local8").is_err() && facility("").is_err());
        assert_eq!(hostname("my sensor\u{e9}"), "mysensor");
        assert_eq!(hostname(" "), "-");
    }
}
