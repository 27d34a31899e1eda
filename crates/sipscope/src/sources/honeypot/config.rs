//! The honeypot's configuration file (TOML). `sipscope init` writes an annotated example
//! (`example.toml`, tested to parse); `docs/configuration.md` documents every field.

use serde::Deserialize;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// The annotated example that `sipscope init` writes.
pub const EXAMPLE: &str = include_str!("example.toml");

/// A failure to read the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Unreadable file.
    #[error("reading {0}: {1}")]
    Read(PathBuf, std::io::Error),
    /// Not valid TOML or unknown fields.
    #[error("{0}: {1}")]
    Invalid(String, toml::de::Error),
    /// Valid TOML with values that do not make sense together.
    #[error("{0}: {1}")]
    Inconsistent(String, String),
}

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoneypotConfig {
    /// Sensor name stored with every event; the host name when absent.
    #[serde(default)]
    pub sensor: Option<String>,
    /// The store: a SQLite file, or a PostgreSQL database (`postgres://…`, docs/postgres.md).
    #[serde(default = "default_store")]
    pub store: PathBuf,
    /// Also write every event as JSON Lines here.
    #[serde(default)]
    pub jsonl: Option<PathBuf>,
    /// One human line per message: `stderr`, `off`, or a file path.
    #[serde(default = "default_human_log")]
    pub human_log: String,
    /// The nodes file shared with `ingest` (which node an address belongs to).
    #[serde(default)]
    pub nodes: Option<PathBuf>,
    /// A built-in profile name or a profile file.
    #[serde(default = "default_profile")]
    pub profile: String,
    /// User to switch to after binding, when started as root.
    #[serde(default)]
    pub user: Option<String>,
    /// Addresses and ports to listen on.
    #[serde(default = "default_listen")]
    pub listen: Vec<Listen>,
    /// Certificate and key for TLS listeners.
    #[serde(default)]
    pub tls: TlsConfig,
    /// The PBX's extensions.
    #[serde(default = "default_extensions")]
    pub extension: Vec<Extension>,
    /// How authenticated calls end.
    #[serde(default)]
    pub calls: CallsConfig,
    /// Safety limits.
    #[serde(default)]
    pub limits: HoneypotLimits,
    /// Password intelligence.
    #[serde(default)]
    pub intel: IntelConfig,
    /// Run the analysis engine (flows, tools, stages, numbers …) over every message, storing
    /// its results at the end of each analysis run (closed flows as they close).
    #[serde(default = "yes")]
    pub analysis: bool,
    /// Length of an analysis run, seconds: the run-wide results (sources, stages, numbers …)
    /// are stored at the end of each, and a run a crash interrupts is recovered from its
    /// events at the next start. Default 3600.
    #[serde(default = "default_analysis_segment_seconds")]
    pub analysis_segment_seconds: u64,
    /// Firewall enforcement of the decisions in force (nftables; off by default).
    #[serde(default)]
    pub enforce: crate::act::enforce::EnforceConfig,
    /// Where alerts and decisions go besides the store (`[alerts]`).
    #[serde(default)]
    pub alerts: crate::sinks::alerts::AlertsConfig,
    /// Whether and how rules' actions become decisions (`[decisions]`).
    #[serde(default)]
    pub decisions: crate::act::policy::DecisionsConfig,
    /// Detection rules: the built-in pack, files of one's own, rules left out
    /// (docs/rules.md).
    #[serde(default)]
    pub rules: crate::rules::RulesConfig,
    /// `[nats]`: publish the store to NATS JetStream (the store is the outbox) and, with
    /// `watch_decisions`, enforce the decisions a collector shares (docs/collector.md).
    #[serde(default)]
    pub nats: crate::sinks::nats::NatsConfig,
    /// Prometheus metrics (`[metrics]`; docs/metrics.md).
    #[serde(default)]
    pub metrics: crate::metrics::MetricsConfig,
    /// Every event (or some methods') forwarded in HEPv3 to a HOMER collector (`[hep_out]`;
    /// off when absent): what `--hep-out` is for the other commands (docs/hep.md).
    #[serde(default)]
    pub hep_out: Option<HepOut>,
    /// The REST API and live dashboard in the same process (`[api]`, or `--dashboard ADDR`).
    #[serde(default)]
    pub api: ApiSection,
}

/// `[hep_out]`: the `--hep-out` flags of the other commands, as a table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HepOut {
    /// The collector, `ADDR:PORT`.
    pub to: std::net::SocketAddr,
    /// Send over TCP instead of UDP.
    #[serde(default)]
    pub tcp: bool,
    /// Capture id of the packets. Default 2001.
    #[serde(default = "default_hep_out_id")]
    pub id: u32,
    /// Auth key chunk, for collectors that check one.
    #[serde(default)]
    pub key: Option<String>,
    /// Only requests of these methods and the responses to them (by CSeq); all when absent.
    #[serde(default)]
    pub methods: Option<Vec<String>>,
}

fn default_hep_out_id() -> u32 {
    2001
}

impl HepOut {
    /// The sink's configuration.
    pub fn sink_config(&self) -> crate::sinks::hep::HepOutConfig {
        use crate::sinks::hep::{HepOutConfig, HepOutTransport, DEFAULT_QUEUE_PACKETS};
        HepOutConfig {
            to: self.to,
            transport: if self.tcp { HepOutTransport::Tcp } else { HepOutTransport::Udp },
            capture_id: self.id,
            key: self.key.clone(),
            node_name: None,
            methods: self.methods.clone(),
            queue_packets: DEFAULT_QUEUE_PACKETS,
        }
    }
}

/// `[api]`: the REST API and dashboard served by the honeypot itself, over its store, with
/// events, alerts and decisions pushed live as they happen (docs/api.md). Off unless `listen`
/// is set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSection {
    /// Address and port (`127.0.0.1:8080`); no API when absent.
    #[serde(default)]
    pub listen: Option<std::net::SocketAddr>,
    /// PEM certificate chain: HTTPS (with `tls_key`).
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key.
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
    /// The tokens file (`sipscope token add`); the store's path with `.tokens` when absent.
    #[serde(default)]
    pub tokens: Option<PathBuf>,
    /// Serve `/metrics` without a token.
    #[serde(default)]
    pub metrics_public: bool,
    /// Requests a second each token may make, sustained (default 20).
    #[serde(default)]
    pub requests_per_second: Option<f64>,
    /// Requests each token may make at once (default 100).
    #[serde(default)]
    pub burst: Option<f64>,
    /// Requests a second each client address may make without a valid token: the
    /// dashboard's page and assets, missing or refused tokens (default 10).
    #[serde(default)]
    pub anonymous_requests_per_second: Option<f64>,
    /// Requests each client address may make at once without a valid token (default 50).
    #[serde(default)]
    pub anonymous_burst: Option<f64>,
}

fn default_analysis_segment_seconds() -> u64 {
    3600
}

/// One listening socket.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listen {
    /// `udp`, `tcp`, `tls`, `ws` or `wss`.
    pub transport: ListenTransport,
    /// Address to bind; `0.0.0.0` or `::` learn each datagram's destination.
    pub address: IpAddr,
    /// Port (5060, 5061 for TLS; 8088 and 8089 are Asterisk's ws and wss).
    pub port: u16,
    /// `ws`/`wss` only: the HTTP path that opens a WebSocket ([`DEFAULT_WS_PATH`] when
    /// absent); other paths are answered 404.
    #[serde(default)]
    pub path: Option<String>,
}

/// The path a `ws`/`wss` listener upgrades on when none is given (Asterisk's and most
/// WebRTC softphones' default).
pub const DEFAULT_WS_PATH: &str = "/ws";

impl Listen {
    /// The WebSocket path of a `ws`/`wss` listener; `None` for the others.
    pub fn ws_path(&self) -> Option<&str> {
        self.transport.is_websocket().then(|| self.path.as_deref().unwrap_or(DEFAULT_WS_PATH))
    }
}

/// Transports a listener can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListenTransport {
    /// Datagrams.
    Udp,
    /// Streams.
    Tcp,
    /// Streams over TLS.
    Tls,
    /// SIP over WebSocket (RFC 7118) on TCP.
    Ws,
    /// SIP over WebSocket on TLS.
    Wss,
}

impl ListenTransport {
    /// `ws` or `wss`.
    pub fn is_websocket(self) -> bool {
        matches!(self, ListenTransport::Ws | ListenTransport::Wss)
    }

    /// `tls` or `wss`: needs the certificate.
    pub fn is_tls(self) -> bool {
        matches!(self, ListenTransport::Tls | ListenTransport::Wss)
    }
}

/// TLS material.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain; generated (self-signed) with `key` when both are absent.
    #[serde(default)]
    pub cert: Option<PathBuf>,
    /// PEM private key.
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// Where a generated certificate is kept between starts; next to the store by default.
    #[serde(default)]
    pub generated_dir: Option<PathBuf>,
    /// Host name in a generated certificate.
    #[serde(default = "default_tls_name")]
    pub name: String,
}

/// An extension of the emulated PBX.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extension {
    /// User part (`100`, `alice`).
    pub user: String,
    /// Its password: a weak bait by default.
    pub password: String,
    /// Off: the extension does not exist.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// A lure: the right password is accepted (REGISTER 200, calls reach ringing). Off: the
    /// extension exists and challenges, but every password is refused.
    #[serde(default = "yes")]
    pub lure: bool,
}

/// How an authenticated INVITE ends.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallsConfig {
    /// Final status (486, 480, 503, 403 …); the profile's when absent.
    #[serde(default)]
    pub final_status: Option<u16>,
    /// Its reason phrase; a standard one when absent.
    #[serde(default)]
    pub final_reason: Option<String>,
}

/// Safety limits. Defaults suit an Internet-facing sensor.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoneypotLimits {
    /// Largest message accepted, bytes.
    #[serde(default = "default_max_message")]
    pub max_message_bytes: usize,
    /// Requests per second answered per source address (token bucket refill).
    #[serde(default = "default_per_source_rate")]
    pub per_source_rate: f64,
    /// Burst per source address.
    #[serde(default = "default_per_source_burst")]
    pub per_source_burst: f64,
    /// Requests per second answered in total.
    #[serde(default = "default_global_rate")]
    pub global_rate: f64,
    /// UDP: bytes sent to a source never exceed this factor times the bytes received from it
    /// over the window (on-the-wire bytes, IP and UDP headers included). 3 by default, the
    /// limit QUIC sets for addresses it has not validated; 1 is strict no-amplification, which
    /// leaves most tools' first challenge unanswered.
    #[serde(default = "default_amplification")]
    pub amplification_factor: f64,
    /// The sliding window for the amplification budget, seconds.
    #[serde(default = "default_amplification_window")]
    pub amplification_window_seconds: u64,
    /// Open TCP/TLS connections in total.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Open TCP/TLS connections per source address.
    #[serde(default = "default_max_connections_per_source")]
    pub max_connections_per_source: usize,
    /// A TCP/TLS connection with nothing received for this long is closed.
    #[serde(default = "default_idle")]
    pub idle_timeout_seconds: u64,
    /// Source addresses tracked for rate limits before the idlest are forgotten.
    #[serde(default = "default_tracked_sources")]
    pub tracked_sources: usize,
    /// While the store cannot write (a full disk): events, records and analysis rows kept in
    /// memory to retry; beyond this the newest are dropped and counted.
    #[serde(default = "default_store_backlog_items")]
    pub store_backlog_items: usize,
    /// … and their estimated size in bytes.
    #[serde(default = "default_store_backlog_bytes")]
    pub store_backlog_bytes: usize,
    /// Longest Contact URI a REGISTER may bind, bytes (PJSIP's `PJSIP_MAX_URL_SIZE`); a longer
    /// one gets a 400 and nothing is stored.
    #[serde(default = "default_max_contact_bytes")]
    pub max_contact_bytes: usize,
    /// Contacts listed in a REGISTER 200 at most (the request's own first), however many
    /// bindings the profile's `max_contacts` lets an extension hold.
    #[serde(default = "default_max_listed_contacts")]
    pub max_listed_contacts: usize,
    // --- stream connections and answers (network shell) ---
    /// Open TLS connections in total: a pool of their own, so that TLS handshakes cannot
    /// take TCP's slots (`max_connections` is TCP's). Per-source caps apply to each pool.
    #[serde(default = "default_max_tls_connections")]
    pub max_tls_connections: usize,
    /// Open TCP/TLS connections per IPv4 /24 (0: no such cap). `max_connections_per_source`
    /// counts an IPv6 source by its /64, the block one host usually has.
    #[serde(default = "default_max_connections_per_ipv4_24")]
    pub max_connections_per_ipv4_24: usize,
    /// A TCP/TLS message (or TLS handshake) must be complete this long after its first byte;
    /// else what came is recorded and the connection closed (the idle timer restarts on every
    /// byte, this deadline does not).
    #[serde(default = "default_message_deadline")]
    pub message_deadline_seconds: u64,
    /// Rows recorded per second for connections refused over a cap; more are counted only.
    #[serde(default = "default_refused_records_per_second")]
    pub refused_records_per_second: f64,
    /// TCP/TLS: bytes answered to a source never exceed this factor times the bytes received
    /// from it over `amplification_window_seconds` (the source is real, so this bounds the
    /// work one request buys rather than reflection).
    #[serde(default = "default_stream_amplification")]
    pub stream_amplification_factor: f64,
    /// The largest single answer sent on any transport, bytes; a larger one is sent in a
    /// smaller form or withheld.
    #[serde(default = "default_max_answer")]
    pub max_answer_bytes: usize,
    /// INVITE transactions with answers still to send (delayed ringing and final answers,
    /// final answers retransmitted over UDP until the ACK) at most; past it the oldest is
    /// forgotten, its remaining answers never sent.
    #[serde(default = "default_max_open_invites")]
    pub max_open_invites: usize,
    /// … and the bytes of answers they hold at most (attackers choose the headers answers copy).
    #[serde(default = "default_max_open_invite_bytes")]
    pub max_open_invite_bytes: usize,
}

/// Password intelligence: which password an attempt tried.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntelConfig {
    /// Off: no recovery.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// A wordlist (one password per line), tried after the built-in patterns.
    #[serde(default)]
    pub wordlist: Option<PathBuf>,
    /// Candidates tested per attempt at most.
    #[serde(default = "default_max_candidates")]
    pub max_candidates: usize,
    /// Attempts waiting for recovery at most; more are counted and skipped.
    #[serde(default = "default_intel_queue")]
    pub queue: usize,
    /// Bytes the waiting attempts may hold at most (attackers choose the credentials' length).
    #[serde(default = "default_intel_queue_bytes")]
    pub queue_bytes: usize,
    /// Attempts from one source address waiting at most: one flooding source cannot take the
    /// whole queue.
    #[serde(default = "default_intel_per_source")]
    pub max_pending_per_source: usize,
    /// At shutdown, recovery goes on with the queue for at most this long, then stops
    /// (between two candidate batches) and skips what is left.
    #[serde(default = "default_intel_grace")]
    pub shutdown_grace_seconds: u64,
}

fn yes() -> bool {
    true
}
fn default_store() -> PathBuf {
    PathBuf::from("sipscope.db")
}
fn default_human_log() -> String {
    "stderr".into()
}
fn default_profile() -> String {
    "asterisk-chan-sip".into()
}
fn default_tls_name() -> String {
    "pbx.local".into()
}
fn default_listen() -> Vec<Listen> {
    let any = IpAddr::from([0, 0, 0, 0]);
    vec![
        Listen { transport: ListenTransport::Udp, address: any, port: 5060, path: None },
        Listen { transport: ListenTransport::Tcp, address: any, port: 5060, path: None },
    ]
}
fn default_extensions() -> Vec<Extension> {
    [("100", "100"), ("101", "1234"), ("200", "password")]
        .iter()
        .map(|(u, p)| Extension { user: (*u).into(), password: (*p).into(), enabled: true, lure: true })
        .collect()
}
fn default_max_message() -> usize {
    16 * 1024
}
fn default_per_source_rate() -> f64 {
    100.0
}
fn default_per_source_burst() -> f64 {
    400.0
}
fn default_global_rate() -> f64 {
    50_000.0
}
fn default_amplification() -> f64 {
    // QUIC's limit for unvalidated addresses (RFC 9000 §8.1). 1.0 cannot carry a digest
    // challenge to most tools' first request (svcrack: 341 bytes in, 377 out), so a strict
    // sensor would never be cracked against; 3× gives a spoofer no useful reflection.
    3.0
}
fn default_amplification_window() -> u64 {
    60
}
fn default_max_connections() -> usize {
    512
}
fn default_max_connections_per_source() -> usize {
    8
}
fn default_idle() -> u64 {
    30
}
fn default_tracked_sources() -> usize {
    100_000
}
fn default_store_backlog_items() -> usize {
    crate::sinks::health::StoreBacklog::DEFAULT_ITEMS
}
fn default_store_backlog_bytes() -> usize {
    crate::sinks::health::StoreBacklog::DEFAULT_BYTES
}
fn default_max_contact_bytes() -> usize {
    256
}
fn default_max_listed_contacts() -> usize {
    10
}
fn default_max_tls_connections() -> usize {
    256
}
fn default_max_connections_per_ipv4_24() -> usize {
    64
}
fn default_message_deadline() -> u64 {
    10
}
fn default_refused_records_per_second() -> f64 {
    10.0
}
fn default_stream_amplification() -> f64 {
    10.0
}
fn default_max_answer() -> usize {
    16 * 1024
}
fn default_max_open_invites() -> usize {
    4096
}
fn default_max_open_invite_bytes() -> usize {
    16 * 1024 * 1024
}
fn default_max_candidates() -> usize {
    200_000
}
fn default_intel_queue() -> usize {
    10_000
}
fn default_intel_queue_bytes() -> usize {
    16 * 1024 * 1024
}
fn default_intel_per_source() -> usize {
    256
}
fn default_intel_grace() -> u64 {
    2
}

impl Default for HoneypotLimits {
    fn default() -> Self {
        toml::from_str("").expect("every limit has a default")
    }
}

impl Default for IntelConfig {
    fn default() -> Self {
        toml::from_str("").expect("every intel field has a default")
    }
}

impl HoneypotConfig {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<HoneypotConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read(path.to_owned(), e))?;
        HoneypotConfig::parse(&text, &path.display().to_string())
    }

    /// Parses and checks configuration text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<HoneypotConfig, ConfigError> {
        let config: HoneypotConfig = toml::from_str(text).map_err(|e| ConfigError::Invalid(origin.to_owned(), e))?;
        let bad = |why: String| Err(ConfigError::Inconsistent(origin.to_owned(), why));
        if config.listen.is_empty() {
            return bad("at least one [[listen]] is needed".into());
        }
        for l in &config.listen {
            match (l.transport.is_websocket(), l.path.as_deref()) {
                (false, Some(_)) => {
                    return bad(format!("listen {}:{}: path is for ws and wss only", l.address, l.port))
                }
                (true, Some(p)) if !p.starts_with('/') || !p.bytes().all(|b| b.is_ascii_graphic()) => {
                    return bad(format!(
                        "listen {}:{}: path {p:?} must start with / and have no spaces",
                        l.address, l.port
                    ))
                }
                _ => {}
            }
        }
        let mut users = std::collections::HashSet::new();
        for ext in &config.extension {
            if ext.user.is_empty() || !users.insert(ext.user.as_str()) {
                return bad(format!("extension user {:?} is empty or listed twice", ext.user));
            }
        }
        if let Some(status) = config.calls.final_status {
            if !(300..700).contains(&status) {
                return bad(format!("calls.final_status {status} must be a final failure (300-699)"));
            }
        }
        let l = &config.limits;
        if !(l.per_source_rate > 0.0 && l.per_source_burst >= 1.0 && l.global_rate > 0.0) {
            return bad("limits: rates must be positive and bursts at least 1".into());
        }
        if !(l.amplification_factor > 0.0 && l.amplification_window_seconds > 0) {
            return bad("limits: amplification_factor and its window must be positive".into());
        }
        if l.max_listed_contacts == 0 {
            return bad("limits: max_listed_contacts must be at least 1 (a 200 lists the Contact it bound)".into());
        }
        if !(l.stream_amplification_factor > 0.0 && l.max_answer_bytes > 0 && l.message_deadline_seconds > 0) {
            return bad(
                "limits: stream_amplification_factor, max_answer_bytes and message_deadline_seconds must be positive"
                    .into(),
            );
        }
        if config.tls.cert.is_some() != config.tls.key.is_some() {
            return bad("tls: give both cert and key, or neither (one is generated)".into());
        }
        if let Err(why) = config.enforce.check() {
            return bad(why);
        }
        if config.enforce.nftables && config.user.is_some() {
            // After switching user nothing this process runs keeps CAP_NET_ADMIN, so every
            // ban would fail. Ambient capabilities (systemd) keep it without root.
            return bad(
                "enforce.nftables needs CAP_NET_ADMIN, which `user` gives up after binding: start the honeypot \
                 as that user with the ambient capabilities CAP_NET_ADMIN and CAP_NET_BIND_SERVICE instead \
                 (docs/enforcement.md, privileges), or without `user`"
                    .into(),
            );
        }
        if let Err(why) = config.alerts.check().and_then(|()| config.decisions.check()) {
            return bad(why);
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_and_decisions_are_read_and_checked() {
        let text = "[alerts]\njsonl = \"alerts.jsonl\"\nsyslog = \"tcp://127.0.0.1:601\"\n\
                    [decisions]\nenabled = true\nallowlist = [\"192.0.2.0/24\"]\nunproven = \"watch\"\n\
                    [decisions.stale_credentials]\nmin_rounds = 5\n";
        let c = HoneypotConfig::parse(text, "t").unwrap();
        assert!(c.decisions.enabled && c.alerts.any());
        assert_eq!(c.decisions.unproven, crate::act::policy::Unproven::Watch);
        assert_eq!(c.decisions.stale_credentials.min_rounds, 5);
        for (bad, key) in [
            ("[decisions]\nallowlist = [\"192.0.2.0/40\"]", "decisions.allowlist"),
            ("[alerts]\nsyslog = \"ftp://x\"", "alerts.syslog"),
            ("[alerts]\nwebhook = \"https://x/\"", "webhook_secret_file"),
            ("[decisions]\nescalation_factor = 0.1", "escalation_factor"),
        ] {
            let err = HoneypotConfig::parse(bad, "t").unwrap_err().to_string();
            assert!(err.contains(key), "{bad}: {err}");
        }
        assert!(HoneypotConfig::parse("[decisions]\nbanish = true", "t").is_err(), "unknown keys are refused");
    }

    #[test]
    fn hep_out_is_the_flags_as_a_table() {
        let c = HoneypotConfig::parse("[hep_out]\nto = \"127.0.241.9:9060\"\n", "t").unwrap();
        let out = c.hep_out.unwrap().sink_config();
        assert_eq!((out.to.port(), out.capture_id, out.key, out.methods), (9060, 2001, None, None));
        assert_eq!(out.transport, crate::sinks::hep::HepOutTransport::Udp);
        let text = "[hep_out]\nto = \"[::1]:9061\"\ntcp = true\nid = 7\nkey = \"k\"\nmethods = [\"INVITE\"]\n";
        let out = HoneypotConfig::parse(text, "t").unwrap().hep_out.unwrap().sink_config();
        assert_eq!(out.transport, crate::sinks::hep::HepOutTransport::Tcp);
        assert_eq!((out.capture_id, out.key.as_deref(), out.methods), (7, Some("k"), Some(vec!["INVITE".to_owned()])));
        assert!(HoneypotConfig::parse("[hep_out]\nto = \"nowhere\"\n", "t").is_err());
        assert!(HoneypotConfig::parse("[hep_out]\nto = \"127.0.0.1:1\"\nvia = 1\n", "t").is_err());
        assert!(HoneypotConfig::parse("", "t").unwrap().hep_out.is_none());
    }

    #[test]
    fn the_example_parses_and_names_a_built_in_profile() {
        let c = HoneypotConfig::parse(EXAMPLE, "example.toml").unwrap();
        assert!(super::super::profile::Profile::load(&c.profile).is_ok());
        assert!(c.listen.iter().any(|l| l.transport == ListenTransport::Tls));
        // Its ws/wss listeners, uncommented, are valid, on the default path.
        let uncommented = EXAMPLE.replace("# [[listen]]", "[[listen]]").replace("# transport", "transport");
        let uncommented =
            uncommented.replace("# address", "address").replace("# port", "port").replace("# path", "path");
        let c = HoneypotConfig::parse(&uncommented, "example.toml").unwrap();
        let ws: Vec<_> = c.listen.iter().filter_map(Listen::ws_path).collect();
        assert_eq!(ws, [DEFAULT_WS_PATH, DEFAULT_WS_PATH], "a ws and a wss listener on the default path");
        assert!(c.extension.iter().any(|e| e.lure));
    }

    #[test]
    fn an_empty_file_gives_a_working_default() {
        let c = HoneypotConfig::parse("", "x").unwrap();
        assert_eq!(c.listen.len(), 2);
        assert_eq!(c.extension.len(), 3);
        assert_eq!(c.limits.amplification_factor, 3.0);
    }

    #[test]
    fn mistakes_are_reported() {
        for text in [
            "colour = 1",
            "[[listen]]\ntransport = \"sctp\"\naddress = \"::\"\nport = 1",
            "[[extension]]\nuser = \"1\"\npassword = \"a\"\n[[extension]]\nuser = \"1\"\npassword = \"b\"",
            "[calls]\nfinal_status = 200",
            "[tls]\ncert = \"a.pem\"",
            "[limits]\nper_source_rate = 0",
            "[enforce]\ntable = \"my-table\"",
            "[enforce]\nreconcile_seconds = 0",
            "[enforce]\nnft = true",
            "user = \"sipscope\"\n[enforce]\nnftables = true",
            "[[listen]]\ntransport = \"tcp\"\naddress = \"::\"\nport = 1\npath = \"/ws\"",
            "[[listen]]\ntransport = \"ws\"\naddress = \"::\"\nport = 1\npath = \"ws\"",
            "[[listen]]\ntransport = \"wss\"\naddress = \"::\"\nport = 1\npath = \"/a b\"",
        ] {
            assert!(HoneypotConfig::parse(text, "x").is_err(), "{text}");
        }
    }
}
