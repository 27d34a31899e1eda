//! The rows a [`StoreReader`](super::StoreReader) returns: plain values, one struct per query,
//! so that reports and analysis never see a backend's types. Text is as stored (attacker text
//! included: callers escape it when they print); `None` is a missing value, which reports
//! present in their own words ("(none)", "(custom)", "?").

use std::net::IpAddr;

/// Message totals of the hourly `traffic` rollup over a range (0 when there are none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrafficSummary {
    /// REGISTER requests received.
    pub register_messages: i64,
    /// INVITE requests received.
    pub invite_messages: i64,
    /// Distinct sources of requests received.
    pub request_sources: i64,
    /// Distinct UTC days with any message.
    pub days: i64,
    /// Messages that could not be parsed.
    pub invalid_messages: i64,
    /// Every message, received and sent.
    pub all_messages: i64,
}

/// Requests received on one UTC day with one method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyRequests {
    /// UTC days since 1970-01-01.
    pub day: i64,
    /// The method, when the request had one.
    pub method: Option<String>,
    /// Requests.
    pub messages: i64,
}

/// A source's requests received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRequests {
    /// The source address, as stored.
    pub source: String,
    /// Requests received from it.
    pub requests: i64,
    /// Its first message, ns.
    pub first_ns: i64,
    /// Its last message, ns.
    pub last_ns: i64,
}

/// Requests received with one User-Agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRequests {
    /// The agent; `None` for requests without one.
    pub user_agent: Option<String>,
    /// Requests.
    pub requests: i64,
    /// Distinct sources that sent them.
    pub sources: i64,
}

/// User agents of one class (the analysis' `user_agents` table, all runs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentClass {
    /// The class (attack tool, softphone, random-looking, …).
    pub class: String,
    /// Messages with agents of the class.
    pub messages: i64,
    /// Distinct agents (no agent counts as one).
    pub agents: i64,
}

/// A source that sent requests to a node, and when it first did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceNode {
    /// The source address.
    pub source: String,
    /// The node.
    pub node: String,
    /// Its first message to the node, ns.
    pub first_ns: i64,
}

/// INVITEs from one source to numbers of one country (one row of the `dialled` rollup, not
/// summed: the caller sums, which is far cheaper than a sorted GROUP BY on a million rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DialledCountry<'a> {
    /// The source address.
    pub source: &'a str,
    /// The calling code's country ('' when unknown).
    pub country: &'a str,
    /// INVITEs.
    pub invites: i64,
}

/// A number dialled, unified over dialling prefixes (the analysis' `numbers`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberAttempts {
    /// The unified number.
    pub number: String,
    /// Its country, when known.
    pub country: Option<String>,
    /// The country is the main region of a shared calling code (the number's ranges named
    /// none).
    pub country_inferred: bool,
    /// Mobile, fixed line, …
    pub number_type: String,
    /// Calls (dialogs), over every run.
    pub attempts: i64,
    /// INVITEs, over every run.
    pub invites: i64,
    /// Prefix variants dialled.
    pub variants: i64,
    /// Sources that dialled it.
    pub sources: i64,
    /// The spellings kept (at most a few per run), in the order first seen, each once.
    pub variant_samples: Vec<String>,
}

impl NumberAttempts {
    /// The distinct spellings of the runs' kept samples (newline-separated JSON arrays, as
    /// both stores aggregate them), in order of first appearance; what does not parse is
    /// skipped.
    pub(crate) fn merge_samples(arrays: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for spelling in arrays.lines().filter_map(|a| serde_json::from_str::<Vec<String>>(a).ok()).flatten() {
            if !out.contains(&spelling) {
                out.push(spelling);
            }
        }
        out
    }
}

/// Calls to numbers of one destination country.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountryAttempts {
    /// The country, when known.
    pub country: Option<String>,
    /// Distinct numbers.
    pub numbers: i64,
    /// Calls.
    pub attempts: i64,
    /// INVITEs.
    pub invites: i64,
}

/// One password tried at the honeypot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordAttempts {
    /// The password (known or recovered).
    pub password: String,
    /// Attempts with it.
    pub attempts: i64,
    /// Distinct extensions it was tried on.
    pub extensions: i64,
    /// Distinct sources.
    pub sources: i64,
    /// Attempts accepted.
    pub accepted: i64,
}

/// Attempts on one extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionAttempts {
    /// The extension (user name).
    pub extension: String,
    /// Attempts.
    pub attempts: i64,
    /// Attempts whose password is known.
    pub passwords_recovered: i64,
    /// Distinct sources.
    pub sources: i64,
    /// Attempts accepted.
    pub accepted: i64,
}

/// Sources per attack stage at one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStages {
    /// The node.
    pub node: String,
    /// Sources that reached any stage there.
    pub attackers: i64,
    /// Sources in server scan.
    pub server_scan: i64,
    /// Sources in extension scan.
    pub extension_scan: i64,
    /// Sources in registration hijacking.
    pub registration_hijacking: i64,
    /// Of those, sources whose hijack succeeded.
    pub hijack_succeeded: i64,
    /// Sources in toll fraud.
    pub toll_fraud: i64,
}

/// Sources and messages of one stage over all nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageTotals {
    /// The stage's stored name (see [`crate::analysis::stages::Stage::as_str`]).
    pub stage: String,
    /// Distinct sources.
    pub sources: i64,
    /// Messages that count towards it.
    pub messages: i64,
}

/// Flows of one tool, variant and verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolFlows {
    /// The tool; `None` for custom fingerprints.
    pub tool: Option<String>,
    /// The variant, when there is one.
    pub variant: Option<String>,
    /// exact, derived or custom.
    pub verdict: String,
    /// The first flow's start, ns.
    pub first_ns: i64,
    /// Packets.
    pub packets: i64,
    /// Distinct sources.
    pub sources: i64,
    /// Flows.
    pub flows: i64,
    /// The most common decided scan strategy of the tool and variant, if any.
    pub strategy: Option<String>,
}

/// Flows with one fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FingerprintFlows {
    /// The fingerprint.
    pub fingerprint: Option<String>,
    /// Flows.
    pub flows: i64,
    /// Packets.
    pub packets: i64,
    /// Distinct sources.
    pub sources: i64,
}

/// Sources of one tool whose flows began in one UTC year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolYear {
    /// The year.
    pub year: Option<i64>,
    /// The tool; `None` for custom fingerprints.
    pub tool: Option<String>,
    /// Distinct sources.
    pub sources: i64,
    /// Packets.
    pub packets: i64,
}

/// Flows of one scan strategy.
#[derive(Debug, Clone, PartialEq)]
pub struct StrategyFlows {
    /// The strategy (sequential, random, …, undecided).
    pub strategy: String,
    /// Flows.
    pub flows: i64,
    /// Distinct sources.
    pub sources: i64,
    /// Packets.
    pub packets: i64,
    /// Mean distinct destinations per flow.
    pub mean_destinations: f64,
}

/// Packets of one source's flows with one tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceToolPackets {
    /// The source address.
    pub source: String,
    /// The tool; `None` for custom fingerprints.
    pub tool: Option<String>,
    /// Packets.
    pub packets: i64,
}

/// One flow's source and time window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowWindow {
    /// The source address, as stored.
    pub source: String,
    /// Its first message, ns.
    pub first_ns: i64,
    /// Its last message, ns.
    pub last_ns: i64,
}

/// A UTC day on which a source was active (any analysis run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceDay {
    /// The source address.
    pub source: String,
    /// UTC days since 1970-01-01.
    pub day: i64,
}

/// A source's flows with one tool, summed over every analysis run.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceToolActivity {
    /// The source address.
    pub source: String,
    /// The tool; `None` for custom fingerprints.
    pub tool: Option<String>,
    /// Packets.
    pub packets: i64,
    /// The flows' packets per second, summed (divide by `flows` for the mean).
    pub packets_per_second_sum: f64,
    /// Flows.
    pub flows: i64,
}

/// The earliest and latest time (ns, inclusive) of anything a report section selects by time:
/// hourly totals (their whole hours), flows, stages, numbers, alerts, authentication attempts
/// and events. A range that holds it selects every such row, as no range would
/// ([`crate::reports::range_covers`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeExtent {
    /// The earliest, ns.
    pub first_ns: i64,
    /// The latest, ns.
    pub last_ns: i64,
}

impl TimeExtent {
    /// The extent of `times` (each a table's (earliest, latest), `None` when it is empty).
    pub fn of(times: impl IntoIterator<Item = (Option<i64>, Option<i64>)>) -> Option<TimeExtent> {
        let mut out: Option<TimeExtent> = None;
        for (first, last) in times {
            for t in [first, last].into_iter().flatten() {
                out = Some(match out {
                    None => TimeExtent { first_ns: t, last_ns: t },
                    Some(e) => TimeExtent { first_ns: e.first_ns.min(t), last_ns: e.last_ns.max(t) },
                });
            }
        }
        out
    }

    /// The earliest and latest ns of the hours `first..=last` (hourly totals), saturating.
    pub fn hours(first: Option<i64>, last: Option<i64>) -> (Option<i64>, Option<i64>) {
        let h = crate::time::HOUR_NS;
        (first.map(|f| f.saturating_mul(h)), last.map(|l| l.saturating_add(1).saturating_mul(h).saturating_sub(1)))
    }
}

/// Which kinds of data a store holds at all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreContents {
    /// Any event.
    pub events: bool,
    /// Any hourly traffic total (the events were analysed).
    pub traffic: bool,
}

/// How far the analysis results follow the stored events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AnalysisCoverage {
    /// Events stored.
    pub events: i64,
    /// Stored events the finished analysis runs include.
    pub analysed: i64,
    /// Unfinished runs whose process is gone (or that name none: written before schema 6).
    pub interrupted_runs: i64,
    /// Events of those runs.
    pub interrupted_events: i64,
    /// Unfinished runs whose process still runs (or runs on another host).
    pub running_runs: i64,
}

/// A stored decision, with what the store adds to it.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionRow {
    /// The decision (its `id` set).
    pub decision: crate::act::Decision,
    /// The sensor whose policy took it; none for an operator's.
    pub sensor: Option<String>,
    /// When it was stored, ns.
    pub created_ns: i64,
    /// When, by whom and why it was deleted, if it was.
    pub deleted: Option<crate::sinks::decisions::Deletion>,
}

/// An authentication attempt that failed (the honeypot's `auth_attempts`), for the policy's
/// "stale credentials" test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedAuth {
    /// When, ns.
    pub ts_ns: i64,
    /// The account tried.
    pub username: String,
    /// The User-Agent of the request.
    pub user_agent: Option<String>,
}

/// An authentication attempt read from a PBX log, as `analyze` takes it
/// (`analysis::engine::LoggedAttempt`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedAttemptRow {
    /// When, ns.
    pub ts_ns: i64,
    /// Its node, as stored.
    pub node: Option<String>,
    /// The client's address and port.
    pub src: (IpAddr, u16),
    /// The PBX's address and port (unspecified and 0 when the log did not say).
    pub dst: (IpAddr, u16),
    /// Which log and line format.
    pub origin: String,
    /// The log's method (a SIP method, a service, or empty).
    pub method: String,
    /// The account or user named.
    pub username: String,
    /// The extension dialled or the digest uri.
    pub uri: Option<String>,
    /// The stored outcome.
    pub outcome: String,
}

/// A successful authentication (the "authenticated within N hours" allowlist).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedAuth {
    /// Its row id (read on from here next time).
    pub id: i64,
    /// The source address, as stored.
    pub source: String,
    /// When, ns.
    pub ts_ns: i64,
}

/// The alerts of one rule over a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRuleRow {
    /// The rule's id.
    pub rule_id: String,
    /// Its name.
    pub name: String,
    /// Its severity name.
    pub severity: String,
    /// Alerts raised.
    pub alerts: i64,
    /// Matching messages they counted.
    pub matches: i64,
    /// Distinct source addresses.
    pub sources: i64,
    /// Of which never proven when alerted (spoofable: no firewall ban by default).
    pub unproven_sources: i64,
    /// First alert's first match, ns.
    pub first_ns: i64,
    /// Last match, ns.
    pub last_ns: i64,
    /// The actions the rule asks for (JSON array of `ban address 3600s` …).
    pub actions: String,
    /// The first piece of evidence of its first alert.
    pub first_evidence: Option<AlertEvidenceRow>,
}

/// One piece of an alert's evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertEvidenceRow {
    /// Time, ns.
    pub ts_ns: i64,
    /// Source `address:port`.
    pub src: String,
    /// Destination `address:port`.
    pub dst: String,
    /// The stored event, when the message was stored.
    pub event_id: Option<i64>,
}

/// An address and port as the alert rows show them (`ip:port`, `[ip]:port` for IPv6, the
/// address alone without a port), the same from every backend.
pub(crate) fn address_text(ip: Option<String>, port: Option<i64>) -> Option<String> {
    let ip = ip?;
    Some(match (ip.contains(':'), port) {
        (true, Some(p)) => format!("[{ip}]:{p}"),
        (false, Some(p)) => format!("{ip}:{p}"),
        (_, None) => ip,
    })
}

/// One alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRow {
    /// First match, ns.
    pub first_ns: i64,
    /// Last match, ns.
    pub last_ns: i64,
    /// The rule.
    pub rule_id: String,
    /// Severity name.
    pub severity: String,
    /// What it was grouped by (`source=…`, `user=…`).
    pub group_key: String,
    /// Matching messages.
    pub count: i64,
    /// The last match's source `address:port`.
    pub src: Option<String>,
    /// Whether the source was proven.
    pub proven: bool,
    /// The node, when one.
    pub node: Option<String>,
    /// Method of the message that raised it.
    pub method: Option<String>,
    /// User agent of the message that raised it.
    pub user_agent: Option<String>,
}
