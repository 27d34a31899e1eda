//! Records besides events: what a source learns about an exchange that is not a message of its
//! own (an authentication attempt and its outcome, a registration binding, a password that
//! recovery found later). They travel the pipeline to the sinks like events, in order with them.

use super::Transport;
use std::net::SocketAddr;

/// Where and when a record was made (the columns every record shares).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordContext {
    /// Receive time, ns.
    pub ts_ns: i64,
    /// Sensor name.
    pub sensor: String,
    /// Node name.
    pub node: Option<String>,
    /// How the request came.
    pub transport: Transport,
    /// Attacker address.
    pub src: SocketAddr,
    /// Sensor address.
    pub dst: SocketAddr,
    /// Call-ID of the request.
    pub call_id: Option<String>,
    /// User-Agent of the request.
    pub user_agent: Option<String>,
}

/// Every outcome an authentication attempt record carries ([`AuthAttemptRecord::outcome`]):
/// the honeypot's verdicts (`sources/honeypot/pbx/auth.rs`) and what PBX logs say
/// (`sources/pbx_logs/`: `extension_not_found` is a call to an extension the PBX does not
/// have). The stores, the NATS wire and the rules take the names from this one list, so a
/// record's outcome is never stored, published or matched under a name another part does not
/// know.
pub const AUTH_ATTEMPT_OUTCOMES: [&str; 9] = [
    "accepted",
    "refused",
    "wrong_password",
    "unknown_user",
    "stale_nonce",
    "nonce_reused",
    "wrong_realm",
    "malformed",
    "extension_not_found",
];

/// One authentication attempt (`auth_attempts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthAttemptRecord {
    /// Id chosen by the source (from the store's first free id) so that a later recovery can
    /// name it.
    pub id: i64,
    /// Where and when.
    pub ctx: RecordContext,
    /// Method the credentials were for.
    pub method: String,
    /// Username as sent.
    pub username: String,
    /// Realm as sent.
    pub realm: Option<String>,
    /// Digest uri.
    pub uri: Option<String>,
    /// Nonce.
    pub nonce: Option<String>,
    /// Outcome name (`accepted`, `wrong_password` …).
    pub outcome: &'static str,
    /// The password, when the sensor knows it (the extension's own).
    pub password: Option<String>,
    /// The PBX log line the attempt was read from; `None` when sipscope saw the request
    /// itself (the honeypot).
    pub log: Option<LogLine>,
    /// At a collector: the attempt's id in the store of the sensor that published it (the
    /// collector gives it an `id` of its own), so that a recovery the sensor publishes later
    /// finds it. `None` everywhere else.
    pub published_seq: Option<i64>,
}

/// The origins an attempt read from a PBX log may name (`LogLine::origin`): what the store,
/// the outbox and the NATS wire accept, one list for all of them.
pub const LOG_ORIGINS: [&str; 7] = [
    "asterisk_security",
    "asterisk_chan_sip",
    "asterisk_pjsip",
    "asterisk_manager",
    "asterisk_iax2",
    "freepbx_dialplan",
    "freeswitch_sofia",
];

/// Where an attempt read from a PBX log came from (`sipscope logs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Which log and line format, one of [`LOG_ORIGINS`].
    pub origin: &'static str,
    /// The file it was read from, as named on the command line.
    pub file: String,
    /// The line exactly as read (without its line end), attacker bytes included.
    pub line: Vec<u8>,
}

/// One registration binding accepted, or removed with expires 0 (`registrations`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationRecord {
    /// Where and when.
    pub ctx: RecordContext,
    /// Extension.
    pub username: String,
    /// Contact URI.
    pub contact: String,
    /// Seconds granted.
    pub expires: u64,
}

/// What password recovery found for an earlier attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredPassword {
    /// The attempt's id in this store (see `published_by`).
    pub attempt_id: i64,
    /// At a collector: the sensor that published the attempt, when `attempt_id` is the id the
    /// attempt had in that sensor's store (its `published_seq` here). `None`: `attempt_id` is
    /// this store's own id.
    pub published_by: Option<String>,
    /// The password; none when no candidate matched.
    pub password: Option<String>,
    /// Which candidate generator found it.
    pub source: Option<&'static str>,
    /// Candidates tried.
    pub tried: usize,
}

/// A record on its way to the sinks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// An authentication attempt.
    AuthAttempt(AuthAttemptRecord),
    /// A registration binding.
    Registration(RegistrationRecord),
    /// A recovered (or unrecoverable) password of an earlier attempt.
    Recovered(RecoveredPassword),
}
