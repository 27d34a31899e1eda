//! The questions the REST API (`api/`) asks besides the reports': pages of events with
//! filters, one source's whole story, alerts with every field, one unified number. Plain
//! values like [`super::rows`]; every backend answers them with bound parameters.

use super::Filter;

/// Which events, in which order, how many.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventQuery {
    /// Time range and nodes.
    pub filter: Filter,
    /// Only from this source address (as stored).
    pub source: Option<String>,
    /// Only requests with this method.
    pub method: Option<String>,
    /// Only responses with this status.
    pub status: Option<i64>,
    /// Only with this user in From, To or the Request-URI, or as the digest username.
    pub user: Option<String>,
    /// Only with one of these Request-URI users (a unified number's spellings).
    pub ruri_users: Vec<String>,
    /// Only from sources whose flow at the event's time was recognised as this tool.
    pub tool: Option<String>,
    /// Newest first, strictly before this `(time, id)` (the cursor of the previous page).
    pub before: Option<(i64, i64)>,
    /// Oldest id first, ids above this one (the live feed polling the store); `before` and
    /// the time order are ignored then.
    pub after_id: Option<i64>,
    /// Only these ids (an alert's evidence); any when empty.
    pub ids: Vec<i64>,
    /// At most this many.
    pub limit: u32,
    /// Include the raw message.
    pub raw: bool,
}

/// One stored event with the fields the API shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventRecord {
    /// The store's id (0 when not stored yet: the live feed of an embedded server).
    pub id: i64,
    /// Time, ns.
    pub ts_ns: i64,
    /// Sensor.
    pub sensor: String,
    /// Node.
    pub node: Option<String>,
    /// Transport name.
    pub transport: String,
    /// Source address and port.
    pub src: (String, i64),
    /// Destination address and port.
    pub dst: (String, i64),
    /// in, out, unknown.
    pub direction: String,
    /// request, response, invalid, keepalive.
    pub kind: String,
    /// Request method.
    pub method: Option<String>,
    /// Response status.
    pub status: Option<i64>,
    /// Call-ID.
    pub call_id: Option<String>,
    /// From user.
    pub from_user: Option<String>,
    /// To user.
    pub to_user: Option<String>,
    /// Request-URI user.
    pub ruri_user: Option<String>,
    /// User-Agent or Server.
    pub user_agent: Option<String>,
    /// The tool of the source's flow at that time, when one was recognised.
    pub tool: Option<String>,
    /// Anomaly names, space-separated.
    pub anomalies: String,
    /// The raw message, when asked for.
    pub raw: Option<Vec<u8>>,
}

/// A count of one named thing (a tool, a password, a user …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedCount {
    /// The name; `None` when the thing had none (no User-Agent, a custom fingerprint).
    pub name: Option<String>,
    /// How many.
    pub count: i64,
}

/// One stage a source reached at one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceStage {
    /// The node ('' when the events had none).
    pub node: String,
    /// The stage's stored name.
    pub stage: String,
    /// First message of the stage, ns.
    pub first_ns: i64,
    /// Last, ns.
    pub last_ns: i64,
    /// Messages that count towards it.
    pub count: i64,
}

/// Everything the store knows about one source (the API's source page).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceProfile {
    /// First message, ns (none when nothing was stored from it).
    pub first_ns: Option<i64>,
    /// Last message, ns.
    pub last_ns: Option<i64>,
    /// Messages (hourly totals: requests, answers and what could not be parsed).
    pub messages: i64,
    /// Stages per node (and across nodes, node ''), by node then stage.
    pub stages: Vec<SourceStage>,
    /// Tools of its flows, by packets.
    pub tools: Vec<NamedCount>,
    /// User-Agents of its requests, by requests.
    pub agents: Vec<NamedCount>,
    /// Unified numbers it called, by INVITEs.
    pub numbers: Vec<NamedCount>,
    /// Passwords it tried (known or recovered), by attempts.
    pub passwords: Vec<NamedCount>,
    /// Accounts it tried (digest usernames), by attempts.
    pub users: Vec<NamedCount>,
}

/// Which alerts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertQuery {
    /// Time range (of the first match) and nodes.
    pub filter: Filter,
    /// Only with this source address.
    pub source: Option<String>,
    /// Oldest id first, ids above this one (the live feed); else latest first match first.
    pub after_id: Option<i64>,
    /// At most this many.
    pub limit: u32,
}

/// One message that is part of an alert's evidence (the rules keep the first few matches and
/// the last).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertEvidence {
    /// The alert's id.
    pub alert_id: i64,
    /// Its place among the alert's evidence, from 0.
    pub position: i64,
    /// The message's time, ns.
    pub ts_ns: i64,
    /// Its source address and port.
    pub src: (String, i64),
    /// Its destination address and port.
    pub dst: (String, i64),
    /// The stored event's id; `None` when the message was not stored (`--events none` or
    /// `sample`).
    pub event_id: Option<i64>,
}

/// A stored alert with every field (the EVE-like shape is built from it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredAlert {
    /// Its id.
    pub id: i64,
    /// Sensor.
    pub sensor: String,
    /// Rule id.
    pub rule_id: String,
    /// Signature id.
    pub signature_id: i64,
    /// Rule name.
    pub name: String,
    /// Severity name.
    pub severity: String,
    /// Labels.
    pub labels: Vec<String>,
    /// The group, as text (`source=…`).
    pub group: String,
    /// First match, ns.
    pub first_ns: i64,
    /// Last match, ns.
    pub last_ns: i64,
    /// Matches.
    pub count: i64,
    /// Node.
    pub node: Option<String>,
    /// Source of the last match.
    pub src: Option<(String, i64)>,
    /// Destination of the last match.
    pub dst: Option<(String, i64)>,
    /// Whether the source was proven.
    pub proven: bool,
    /// Transport.
    pub transport: Option<String>,
    /// SIP details of the last match: method, user agent, from, to, Request-URI user, Call-ID.
    pub method: Option<String>,
    /// Status.
    pub status: Option<i64>,
    /// User-Agent.
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
