//! The `[decisions]` table of a configuration (and the flags that set the same keys): whether
//! rules' actions become decisions, the allowlists no rule overrides, what an unproven source
//! can get, durations and escalation, and the stale-credentials test. docs/configuration.md
//! documents every key; [`DecisionsConfig::check`] refuses values that make no sense.

use crate::act::Prefix;
use serde::Deserialize;

/// `[decisions]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionsConfig {
    /// Take decisions at all (off: rules only raise alerts). Default off.
    #[serde(default)]
    pub enabled: bool,
    /// Networks never decided against (CIDRs or addresses).
    #[serde(default)]
    pub allowlist: Vec<String>,
    /// The nodes file's addresses are allowlisted too. Default on.
    #[serde(default = "yes")]
    pub allow_nodes: bool,
    /// A source that authenticated successfully within this many hours is allowlisted (0:
    /// off, the default; never on a honeypot, whose lures accept attackers' guesses).
    #[serde(default)]
    pub allow_authenticated_hours: u64,
    /// SIP trunks (providers' networks): allowlisted.
    #[serde(default)]
    pub trunks: Vec<String>,
    /// Let a ban reach a source that is not proven (plain UDP can be forged). Default off.
    #[serde(default)]
    pub ban_unproven: bool,
    /// What a ban becomes for an unproven source: `rate-limit` (default) or `watch`.
    #[serde(default)]
    pub unproven: Unproven,
    /// The rate an unproven source is limited to, packets a second. Default 10.
    #[serde(default = "default_unproven_rate")]
    pub unproven_rate_per_second: u32,
    /// A decision's duration when the rule names none, seconds. Default 3600.
    #[serde(default = "default_base_duration")]
    pub base_duration_seconds: u64,
    /// The longest any decision lasts, seconds: a rule's own duration and a repeat offender's
    /// escalation are cut to it. Default 604800 (a week).
    #[serde(default = "default_max_duration")]
    pub max_duration_seconds: u64,
    /// Each earlier offence multiplies the duration by this (2: doubling). Default 2.
    #[serde(default = "default_escalation")]
    pub escalation_factor: f64,
    /// Offences older than this many hours are forgiven (escalation starts again). Default 720.
    #[serde(default = "default_offence_memory")]
    pub offence_memory_hours: u64,
    /// A rule's prefix scope is never wider than this for IPv4. Default 16.
    #[serde(default = "default_widest_v4")]
    pub widest_prefix_v4: u8,
    /// … and for IPv6. Default 32.
    #[serde(default = "default_widest_v6")]
    pub widest_prefix_v6: u8,
    /// The stale-credentials test.
    #[serde(default)]
    pub stale_credentials: StaleConfig,
}

/// What a ban on an unproven source becomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unproven {
    /// A rate limit of `unproven_rate_per_second`.
    #[default]
    RateLimit,
    /// Only a watch.
    Watch,
}

/// `[decisions.stale_credentials]`: a ban candidate whose source keeps failing with one
/// account and one user agent at a regular interval is a device with an old password.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaleConfig {
    /// Run the test. Default on.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Rounds of failures needed (attempts closer than `round_seconds` are one round). Default 4.
    #[serde(default = "default_min_rounds")]
    pub min_rounds: u32,
    /// Attempts this close together are one round (a device retrying at once). Default 5.
    #[serde(default = "default_round_seconds")]
    pub round_seconds: u64,
    /// The typical interval between rounds must be at least this, seconds (a tool guessing
    /// is faster). Default 20.
    #[serde(default = "default_min_interval")]
    pub min_interval_seconds: u64,
    /// How far an interval may stray from the typical one (or a multiple of it, a missed
    /// round), as a fraction. Default 0.25.
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
    /// How far back failures are looked at, hours. Default 24.
    #[serde(default = "default_lookback")]
    pub lookback_hours: u64,
}

impl Default for StaleConfig {
    fn default() -> StaleConfig {
        StaleConfig {
            enabled: true,
            min_rounds: default_min_rounds(),
            round_seconds: default_round_seconds(),
            min_interval_seconds: default_min_interval(),
            tolerance: default_tolerance(),
            lookback_hours: default_lookback(),
        }
    }
}

impl Default for DecisionsConfig {
    fn default() -> DecisionsConfig {
        DecisionsConfig {
            enabled: false,
            allowlist: Vec::new(),
            allow_nodes: true,
            allow_authenticated_hours: 0,
            trunks: Vec::new(),
            ban_unproven: false,
            unproven: Unproven::default(),
            unproven_rate_per_second: default_unproven_rate(),
            base_duration_seconds: default_base_duration(),
            max_duration_seconds: default_max_duration(),
            escalation_factor: default_escalation(),
            offence_memory_hours: default_offence_memory(),
            widest_prefix_v4: default_widest_v4(),
            widest_prefix_v6: default_widest_v6(),
            stale_credentials: StaleConfig::default(),
        }
    }
}

impl DecisionsConfig {
    /// The allowlist's networks, or what is wrong with one.
    pub fn allowlist_prefixes(&self) -> Result<Vec<Prefix>, String> {
        parse_all("allowlist", &self.allowlist)
    }

    /// The trunks' networks, or what is wrong with one.
    pub fn trunk_prefixes(&self) -> Result<Vec<Prefix>, String> {
        parse_all("trunks", &self.trunks)
    }

    /// Refuses values that make no sense together (the message names the key).
    pub fn check(&self) -> Result<(), String> {
        self.allowlist_prefixes()?;
        self.trunk_prefixes()?;
        if self.base_duration_seconds == 0 {
            return Err("decisions.base_duration_seconds must be at least 1".into());
        }
        if self.max_duration_seconds < self.base_duration_seconds {
            return Err("decisions.max_duration_seconds must be at least base_duration_seconds".into());
        }
        if !(self.escalation_factor.is_finite() && self.escalation_factor >= 1.0) {
            return Err("decisions.escalation_factor must be a number of at least 1".into());
        }
        if self.unproven == Unproven::RateLimit && self.unproven_rate_per_second == 0 {
            return Err("decisions.unproven_rate_per_second must be at least 1".into());
        }
        if self.widest_prefix_v4 > 32 || self.widest_prefix_v6 > 128 {
            return Err("decisions.widest_prefix_v4 is at most 32 and widest_prefix_v6 at most 128".into());
        }
        let s = &self.stale_credentials;
        if s.min_rounds < 3 {
            return Err("decisions.stale_credentials.min_rounds must be at least 3 (two intervals)".into());
        }
        if !(s.tolerance.is_finite() && (0.0..1.0).contains(&s.tolerance)) {
            return Err("decisions.stale_credentials.tolerance must be at least 0 and below 1".into());
        }
        Ok(())
    }
}

fn parse_all(key: &str, items: &[String]) -> Result<Vec<Prefix>, String> {
    items.iter().map(|s| s.parse::<Prefix>().map_err(|e| format!("decisions.{key}: {e}"))).collect()
}

fn yes() -> bool {
    true
}
fn default_unproven_rate() -> u32 {
    10
}
fn default_base_duration() -> u64 {
    3600
}
fn default_max_duration() -> u64 {
    7 * 86_400
}
fn default_escalation() -> f64 {
    2.0
}
fn default_offence_memory() -> u64 {
    720
}
fn default_widest_v4() -> u8 {
    16
}
fn default_widest_v6() -> u8 {
    32
}
fn default_min_rounds() -> u32 {
    4
}
fn default_round_seconds() -> u64 {
    5
}
fn default_min_interval() -> u64 {
    20
}
fn default_tolerance() -> f64 {
    0.25
}
fn default_lookback() -> u64 {
    24
}
