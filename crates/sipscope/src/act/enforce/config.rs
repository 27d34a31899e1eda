//! The `[enforce]` section of a configuration file: whether decisions reach nftables, in which
//! table, and how often the enforced state is reconciled. Shared by every command that enforces
//! (the honeypot today), so the keys mean the same everywhere.

use serde::Deserialize;

/// `[enforce]`: firewall enforcement of the decisions in force. Off by default.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnforceConfig {
    /// Install bans and rate limits in nftables (needs CAP_NET_ADMIN; docs/enforcement.md).
    #[serde(default)]
    pub nftables: bool,
    /// The `inet` table sipscope owns (created, kept equal to the decisions, deleted on flush).
    #[serde(default = "default_table")]
    pub table: String,
    /// Seconds between two reconciles: the sets are made equal to the decisions in force and
    /// every element's remaining timeout is re-asserted. Default 60.
    #[serde(default = "default_reconcile_seconds")]
    pub reconcile_seconds: u64,
}

fn default_table() -> String {
    "sipscope".into()
}

fn default_reconcile_seconds() -> u64 {
    60
}

impl Default for EnforceConfig {
    fn default() -> Self {
        EnforceConfig { nftables: false, table: default_table(), reconcile_seconds: default_reconcile_seconds() }
    }
}

/// The longest table name accepted (nftables allows 255 bytes; a short name is a readable one).
pub const MAX_TABLE_NAME: usize = 64;

impl EnforceConfig {
    /// Checks the values: a table name nftables takes as an identifier (a letter, then letters,
    /// digits and `_`), a reconcile interval of at least a second.
    pub fn check(&self) -> Result<(), String> {
        check_table_name(&self.table)?;
        if self.reconcile_seconds == 0 {
            return Err("enforce.reconcile_seconds must be at least 1".into());
        }
        Ok(())
    }

    /// The reconcile interval, ns.
    pub fn reconcile_every_ns(&self) -> i64 {
        i64::try_from(self.reconcile_seconds.max(1)).unwrap_or(i64::MAX / 1_000_000_000).saturating_mul(1_000_000_000)
    }
}

/// Whether `name` is a table name sipscope accepts (see [`EnforceConfig::check`]).
pub fn check_table_name(name: &str) -> Result<(), String> {
    let mut bytes = name.bytes();
    let starts_with_letter = bytes.next().is_some_and(|b| b.is_ascii_alphabetic());
    if !starts_with_letter || name.len() > MAX_TABLE_NAME || !bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(format!(
            "enforce.table {:?}: a letter, then letters, digits or _, at most {MAX_TABLE_NAME} bytes",
            crate::output::escape::terminal(name, 80)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_off_in_table_sipscope_every_minute() {
        let c: EnforceConfig = toml::from_str("").unwrap();
        assert_eq!(c, EnforceConfig::default());
        assert!(!c.nftables);
        assert_eq!(c.table, "sipscope");
        assert_eq!(c.reconcile_every_ns(), 60_000_000_000);
        assert!(c.check().is_ok());
    }

    #[test]
    fn bad_names_and_intervals_are_refused() {
        for table in ["", "1abc", "a-b", "a b", "tab\u{1b}[2J", &"x".repeat(65)] {
            let c = EnforceConfig { table: table.into(), ..EnforceConfig::default() };
            assert!(c.check().is_err(), "{table:?}");
        }
        let c = EnforceConfig { reconcile_seconds: 0, ..EnforceConfig::default() };
        assert!(c.check().is_err());
        assert!(toml::from_str::<EnforceConfig>("nft = true").is_err(), "unknown keys are refused");
        let ok = EnforceConfig { table: "sipscope_2".into(), ..EnforceConfig::default() };
        assert!(ok.check().is_ok());
    }
}
