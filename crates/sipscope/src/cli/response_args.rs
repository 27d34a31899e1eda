//! The flags of the commands that write events (`ingest`, `capture`) about what follows an
//! alert: the alert outputs (`--alerts-*`, the `[alerts]` keys) and decisions (`--decisions`,
//! `--allow`, `--trunk`, … the `[decisions]` keys). Documented in docs/alerts.md and
//! docs/decisions.md.

use anyhow::Context;
use sipscope::act::policy::{DecisionsConfig, PolicyResponder};
use sipscope::act::{InForce, Responder};
use sipscope::sinks::alerts::AlertsConfig;
use sipscope::sinks::AlertSink;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, clap::Args)]
pub struct ResponseArgs {
    /// Append alerts and decisions as EVE-like JSON Lines to this file.
    #[arg(long, value_name = "FILE")]
    alerts_jsonl: Option<PathBuf>,
    /// Send alerts and decisions to syslog (RFC 5424): udp://host:514 or tcp://host:601.
    #[arg(long, value_name = "URL")]
    alerts_syslog: Option<String>,
    /// POST alerts and decisions to this URL (https, or http to a loopback address), signed.
    #[arg(long, value_name = "URL", requires = "alerts_webhook_secret_file")]
    alerts_webhook: Option<String>,
    /// The file holding the webhook's HMAC-SHA256 secret.
    #[arg(long, value_name = "FILE")]
    alerts_webhook_secret_file: Option<PathBuf>,
    /// Extra trust anchors (PEM) for the webhook's TLS.
    #[arg(long, value_name = "FILE")]
    alerts_webhook_ca_file: Option<PathBuf>,
    /// Take decisions (ban, rate-limit, watch) on what rules ask, stored in the store.
    #[arg(long)]
    decisions: bool,
    /// Never decide against this network or address (repeat for several).
    #[arg(long = "allow", value_name = "CIDR", requires = "decisions")]
    allow: Vec<String>,
    /// A SIP trunk's network or address: never decided against (repeat for several).
    #[arg(long = "trunk", value_name = "CIDR", requires = "decisions")]
    trunks: Vec<String>,
    /// Let bans reach sources that are not proven (plain UDP may be forged).
    #[arg(long, requires = "decisions")]
    ban_unproven: bool,
    /// Allowlist sources that authenticated successfully within this many hours.
    #[arg(long, value_name = "HOURS", requires = "decisions")]
    allow_authenticated_hours: Option<u64>,
}

/// What the flags open: the alert outputs and the decision responder.
pub struct Response {
    /// Alert outputs.
    pub sinks: Vec<Box<dyn AlertSink>>,
    /// The decision policy, when asked for (passive commands record bans; no listener
    /// consults them).
    pub responder: Option<Box<dyn Responder>>,
}

impl ResponseArgs {
    /// The `[alerts]` settings the flags give.
    pub fn alerts(&self) -> AlertsConfig {
        AlertsConfig {
            jsonl: self.alerts_jsonl.clone(),
            syslog: self.alerts_syslog.clone(),
            webhook: self.alerts_webhook.clone(),
            webhook_secret_file: self.alerts_webhook_secret_file.clone(),
            webhook_ca_file: self.alerts_webhook_ca_file.clone(),
            ..AlertsConfig::default()
        }
    }

    /// The `[decisions]` settings the flags give.
    pub fn decisions(&self) -> DecisionsConfig {
        let defaults = DecisionsConfig::default();
        DecisionsConfig {
            enabled: self.decisions,
            allowlist: self.allow.clone(),
            trunks: self.trunks.clone(),
            ban_unproven: self.ban_unproven,
            allow_authenticated_hours: self.allow_authenticated_hours.unwrap_or(defaults.allow_authenticated_hours),
            ..defaults
        }
    }

    /// Whether any flag asks for an output or decisions.
    pub fn requested(&self) -> bool {
        self.decisions || self.alerts().any()
    }

    /// Opens the outputs and the responder over the store at `db` (checked first).
    pub fn open(&self, db: &Path, sensor: &str, nodes: &sipscope::nodes::Nodes) -> anyhow::Result<Response> {
        let (alerts, decisions) = (self.alerts(), self.decisions());
        decisions.check().map_err(anyhow::Error::msg)?;
        let sinks = sipscope::sinks::open_alert_sinks(&alerts, sensor).context("opening the alert outputs")?;
        let responder: Option<Box<dyn Responder>> = if decisions.enabled {
            let own = super::own_addresses();
            let now = sipscope::time::now_ns();
            let r = PolicyResponder::open(
                db,
                &decisions,
                sensor,
                &own,
                nodes,
                InForce::default(),
                None,
                60_000_000_000,
                now,
            )
            .with_context(|| format!("opening the decisions of {}", sipscope::sinks::store_name(db)))?;
            Some(Box::new(r))
        } else {
            None
        };
        Ok(Response { sinks, responder })
    }
}
