//! Helpers shared by the unit tests (compiled for tests only): the real tools' messages kept
//! in `crates/sip/tests/fixtures/tools/` (see its README for how they were recorded).

/// The folder of the real tools' messages.
pub const TOOL_FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../sip/tests/fixtures/tools/");

/// One recorded message, e.g. `tool_message("svcrack/0002.sip")`.
pub fn tool_message(path: &str) -> Vec<u8> {
    let full = format!("{TOOL_FIXTURES}{path}");
    std::fs::read(&full).unwrap_or_else(|e| panic!("reading {full}: {e}"))
}

/// An alert as the rules engine raises one: rule `sipscope/register-guessing` on source
/// `src`:5070 (proven or not) against 198.51.100.1:5060, asking for `actions`, at `ts_ns`.
pub fn alert(src: &str, proven: bool, ts_ns: i64, actions: Vec<crate::act::Action>) -> crate::act::Alert {
    use crate::act::{Alert, AlertSip, Evidence, GroupKey, Severity};
    let ip: std::net::IpAddr = src.parse().unwrap_or(std::net::IpAddr::from([192, 0, 2, 1]));
    let dst: std::net::IpAddr = std::net::IpAddr::from([198, 51, 100, 1]);
    Alert {
        rule_id: "sipscope/register-guessing".into(),
        signature_id: 9_100_001,
        name: "REGISTER password guessing".into(),
        severity: Severity::Medium,
        labels: vec!["attack.t1110.001".into()],
        group: GroupKey::Source(ip),
        first_ns: ts_ns - 1_000_000_000,
        last_ns: ts_ns,
        count: 25,
        sensor: "test".into(),
        node: None,
        src: Some((ip, 5070)),
        dst: Some((dst, 5060)),
        proven,
        transport: Some("udp".into()),
        sip: AlertSip {
            method: Some("REGISTER".into()),
            status: None,
            user_agent: Some("friendly-scanner".into()),
            from_user: Some("100".into()),
            to_user: Some("100".into()),
            ruri_user: None,
            call_id: Some("abc".into()),
        },
        evidence: vec![Evidence { ts_ns, src: (ip, 5070), dst: (dst, 5060), ordinal: 7, stored: None }],
        actions,
    }
}

/// An operator's ban of `scope` from `start_ns` until `until_ns` (proven, no evidence).
pub fn ban(scope: crate::act::Scope, start_ns: i64, until_ns: i64) -> crate::act::Decision {
    use crate::act::{Decision, DecisionKind, DecisionOrigin};
    Decision {
        id: None,
        kind: DecisionKind::Ban,
        scope,
        start_ns,
        until_ns,
        reason: "test".into(),
        origin: DecisionOrigin::Operator { who: "test".into() },
        offence: 0,
        proven: true,
        evidence: vec![],
    }
}

/// A REGISTER attempt with a wrong password for extension 200 from 192.0.2.1:5060 to
/// 198.51.100.1:5060, by `sensor`, with id `id`, at `id` µs.
pub fn auth_attempt(id: i64, sensor: &str) -> crate::event::record::AuthAttemptRecord {
    use crate::event::record::{AuthAttemptRecord, RecordContext};
    AuthAttemptRecord {
        id,
        ctx: RecordContext {
            ts_ns: id * 1000,
            sensor: sensor.into(),
            node: None,
            transport: crate::event::Transport::Udp,
            src: std::net::SocketAddr::from(([192, 0, 2, 1], 5060)),
            dst: std::net::SocketAddr::from(([198, 51, 100, 1], 5060)),
            call_id: None,
            user_agent: None,
        },
        method: "REGISTER".into(),
        username: "200".into(),
        realm: None,
        uri: None,
        nonce: None,
        outcome: "wrong_password",
        password: None,
        log: None,
        published_seq: None,
    }
}
