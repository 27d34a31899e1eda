//! The `[alerts]` table of a configuration (and the `--alerts-*` flags): where alerts and
//! decisions go besides the store — an EVE-like JSON Lines file, syslog, a webhook — and the
//! limits of the network outputs' queues and retries. [`super::open_alert_sinks`] opens them.

use super::delivery::DeliveryLimits;
use super::endpoint::Endpoint;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// `[alerts]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// Append alerts and decisions as EVE-like JSON Lines to this file.
    #[serde(default)]
    pub jsonl: Option<PathBuf>,
    /// Send them to syslog: `udp://host:514` or `tcp://host:601`.
    #[serde(default)]
    pub syslog: Option<String>,
    /// The syslog facility. Default `local0`.
    #[serde(default = "default_facility")]
    pub syslog_facility: String,
    /// POST them to this URL (`https://…`; plain `http://` only to a loopback address).
    #[serde(default)]
    pub webhook: Option<String>,
    /// The file holding the webhook's HMAC secret (required with `webhook`).
    #[serde(default)]
    pub webhook_secret_file: Option<PathBuf>,
    /// Extra trust anchors (PEM) for the webhook's TLS; Mozilla's roots otherwise.
    #[serde(default)]
    pub webhook_ca_file: Option<PathBuf>,
    /// Connect, write and read timeout of the network outputs, seconds. Default 10.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// Items a network output holds while its peer is slow or down; beyond, the oldest are
    /// dropped and counted. Default 10000.
    #[serde(default = "default_queue")]
    pub queue_items: usize,
    /// Tries per item before it is given up. Default 8.
    #[serde(default = "default_attempts")]
    pub retry_attempts: u32,
    /// The first wait before a retry, milliseconds; doubles per try (with jitter). Default 500.
    #[serde(default = "default_initial_ms")]
    pub retry_initial_ms: u64,
    /// The longest wait between tries, milliseconds. Default 60000.
    #[serde(default = "default_max_ms")]
    pub retry_max_ms: u64,
}

impl Default for AlertsConfig {
    fn default() -> AlertsConfig {
        AlertsConfig {
            jsonl: None,
            syslog: None,
            syslog_facility: default_facility(),
            webhook: None,
            webhook_secret_file: None,
            webhook_ca_file: None,
            timeout_seconds: default_timeout(),
            queue_items: default_queue(),
            retry_attempts: default_attempts(),
            retry_initial_ms: default_initial_ms(),
            retry_max_ms: default_max_ms(),
        }
    }
}

impl AlertsConfig {
    /// Whether any output is configured.
    pub fn any(&self) -> bool {
        self.jsonl.is_some() || self.syslog.is_some() || self.webhook.is_some()
    }

    /// The syslog endpoint, if one is configured.
    pub fn syslog_endpoint(&self) -> Result<Option<Endpoint>, String> {
        let parse = |u: &String| Endpoint::parse(u, super::syslog::SCHEMES).map_err(|e| format!("alerts.syslog: {e}"));
        self.syslog.as_ref().map(parse).transpose()
    }

    /// The webhook endpoint, if one is configured.
    pub fn webhook_endpoint(&self) -> Result<Option<Endpoint>, String> {
        let parse =
            |u: &String| Endpoint::parse(u, super::webhook::SCHEMES).map_err(|e| format!("alerts.webhook: {e}"));
        self.webhook.as_ref().map(parse).transpose()
    }

    /// The network outputs' queue and retry limits.
    pub fn limits(&self) -> DeliveryLimits {
        DeliveryLimits {
            queue_items: self.queue_items,
            attempts: self.retry_attempts,
            initial_backoff: Duration::from_millis(self.retry_initial_ms),
            max_backoff: Duration::from_millis(self.retry_max_ms),
            ..DeliveryLimits::default()
        }
    }

    /// Refuses values that make no sense (the message names the key).
    pub fn check(&self) -> Result<(), String> {
        self.syslog_endpoint()?;
        super::syslog::message::facility(&self.syslog_facility).map_err(|e| format!("alerts.syslog_facility: {e}"))?;
        if self.webhook_endpoint()?.is_some() && self.webhook_secret_file.is_none() {
            return Err("alerts.webhook needs alerts.webhook_secret_file (the HMAC key)".into());
        }
        if self.queue_items == 0 || self.retry_attempts == 0 || self.timeout_seconds == 0 {
            return Err("alerts.queue_items, retry_attempts and timeout_seconds must be at least 1".into());
        }
        if self.retry_max_ms < self.retry_initial_ms {
            return Err("alerts.retry_max_ms must be at least retry_initial_ms".into());
        }
        Ok(())
    }
}

fn default_facility() -> String {
    "local0".into()
}
fn default_timeout() -> u64 {
    10
}
fn default_queue() -> usize {
    10_000
}
fn default_attempts() -> u32 {
    8
}
fn default_initial_ms() -> u64 {
    500
}
fn default_max_ms() -> u64 {
    60_000
}
