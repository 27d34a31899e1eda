//! Enforcement in nftables: the bans and rate limits in force made real in the kernel, so a
//! banned source's packets are dropped before they reach anything (docs/enforcement.md).
//! [`NftEnforcer`] implements [`Enforcer`]: every reconcile is one atomic `nft -j -f -`
//! transaction that makes sipscope's `inet` table equal to the decisions and re-asserts each
//! element's remaining timeout; newly banned sources lose their connection-tracking entries;
//! [`Enforcer::remove_all`] deletes the table. [`reconcile_json`] is the same transaction as
//! text (the dry form, for exports and tests).

mod config;
pub mod intervals;
pub mod nft_json;
pub mod plan;
pub mod tools;

pub use config::{check_table_name, EnforceConfig};
pub use plan::{Plan, PlanLimits};

use crate::act::{Decision, EnforceError, Enforcer, Scope};
use std::collections::HashSet;
use std::path::PathBuf;
use tools::NftError;

/// How an [`NftEnforcer`] works. Defaults: see each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NftSettings {
    /// The `inet` table sipscope owns (default `sipscope`).
    pub table: String,
    /// What a ruleset may hold.
    pub limits: PlanLimits,
    /// Bans whose connection-tracking entries are removed in one reconcile at most (default
    /// 256; one `conntrack` run each): the rest are removed by the next reconciles.
    pub max_flow_purges: usize,
}

impl NftSettings {
    /// The defaults, for `table`.
    pub fn new(table: &str) -> NftSettings {
        NftSettings { table: table.to_owned(), limits: PlanLimits::default(), max_flow_purges: 256 }
    }
}

/// What the last reconcile did (for logs, summaries and tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Applied {
    /// Set elements installed.
    pub elements: usize,
    /// Rate-limit rules installed.
    pub rate_limits: usize,
    /// Decisions left out: prefix wider than the limits.
    pub too_wide: usize,
    /// Rate limits left out: over `max_rate_limit_rules`.
    pub rate_limits_dropped: usize,
    /// Connection-tracking entries removed.
    pub flows_removed: u64,
    /// `conntrack` runs that failed.
    pub purge_failures: u64,
    /// The table had to be deleted and built again (it had a shape `add` cannot change).
    pub rebuilt: bool,
}

/// Makes the decisions in force real in nftables (see the module comment).
#[derive(Debug)]
pub struct NftEnforcer {
    settings: NftSettings,
    nft: PathBuf,
    conntrack: Option<PathBuf>,
    /// Bans in force whose flows were removed already.
    purged: HashSet<Scope>,
    /// The last conntrack failure logged (each different one is logged once).
    last_purge_error: Option<String>,
    last: Applied,
}

impl NftEnforcer {
    /// Finds `nft` (an error names where it looked when it is missing) and `conntrack`
    /// (optional: without it the flows of banned sources end by their own timeouts, which a
    /// warning says).
    pub fn new(settings: NftSettings) -> Result<NftEnforcer, EnforceError> {
        check_table_name(&settings.table).map_err(EnforceError)?;
        let nft = tools::find("nft").ok_or_else(|| {
            EnforceError(format!(
                "nft not found in PATH or {}: install nftables to enforce decisions",
                tools::SBIN.join(", ")
            ))
        })?;
        let conntrack = tools::find("conntrack");
        if conntrack.is_none() {
            tracing::warn!(
                "conntrack not found: flows of banned sources are not removed (they end by their own timeouts); \
                 install conntrack-tools"
            );
        }
        Ok(NftEnforcer::with_tools(settings, nft, conntrack))
    }

    /// An enforcer running these tools.
    pub fn with_tools(settings: NftSettings, nft: PathBuf, conntrack: Option<PathBuf>) -> NftEnforcer {
        NftEnforcer {
            settings,
            nft,
            conntrack,
            purged: HashSet::new(),
            last_purge_error: None,
            last: Applied::default(),
        }
    }

    /// The enforcer `config` asks for (`None` when `nftables` is off).
    pub fn from_config(config: &EnforceConfig) -> Result<Option<NftEnforcer>, EnforceError> {
        if !config.nftables {
            return Ok(None);
        }
        NftEnforcer::new(NftSettings::new(&config.table)).map(Some)
    }

    /// What the last reconcile did.
    pub fn last(&self) -> Applied {
        self.last
    }

    /// Removes the connection-tracking entries of bans not purged yet (bounded per call).
    fn purge_flows(&mut self, plan: &Plan, applied: &mut Applied) {
        self.purged.retain(|s| plan.banned.binary_search(s).is_ok());
        let Some(conntrack) = &self.conntrack else { return };
        let mut first_error = None;
        let fresh: Vec<Scope> = plan
            .banned
            .iter()
            .filter(|s| !self.purged.contains(s))
            .take(self.settings.max_flow_purges)
            .copied()
            .collect();
        for scope in fresh {
            let done = tools::conntrack_purge(conntrack, &scope, &mut first_error);
            applied.flows_removed += done.flows;
            applied.purge_failures += done.failures;
            // Also after a failure: a conntrack that fails (no module, no privilege) would
            // fail again, and the drop rule holds either way.
            self.purged.insert(scope);
        }
        if first_error.is_some() && first_error != self.last_purge_error {
            tracing::warn!(
                "removing flows of banned sources failed {} times: {}",
                applied.purge_failures,
                first_error.as_deref().unwrap_or_default()
            );
            self.last_purge_error = first_error;
        }
    }
}

impl Enforcer for NftEnforcer {
    fn reconcile(&mut self, now_ns: i64, active: &[Decision]) -> Result<(), EnforceError> {
        let plan = Plan::build(now_ns, active, &self.settings.limits);
        let table = self.settings.table.clone();
        let table = table.as_str();
        let mut applied = Applied {
            elements: plan.elements(),
            rate_limits: plan.rate_limits.len(),
            too_wide: plan.too_wide,
            rate_limits_dropped: plan.rate_limits_dropped,
            ..Applied::default()
        };
        match tools::nft_apply(&self.nft, &to_json(&nft_json::reconcile(table, &plan, false))?) {
            Ok(()) => {}
            Err(e @ (NftError::NotPermitted(_) | NftError::Run(..))) => return Err(e.into()),
            Err(first) => {
                // A table of this name whose sets or chain have another shape (an older
                // version's, someone else's): built again from nothing, in one transaction.
                tools::nft_apply(&self.nft, &to_json(&nft_json::reconcile(table, &plan, true))?)
                    .map_err(|e| EnforceError(format!("{first}; building table inet {table} again failed too: {e}")))?;
                tracing::warn!("table inet {table} was not as sipscope installs it ({first}); built it again");
                applied.rebuilt = true;
            }
        }
        let left_out = (plan.too_wide, plan.rate_limits_dropped);
        // Said when it changes, not at every reconcile.
        if left_out != (0, 0) && left_out != (self.last.too_wide, self.last.rate_limits_dropped) {
            tracing::warn!(
                "not enforced: {} decisions wider than the prefix limits, {} rate limits over the rule limit",
                plan.too_wide,
                plan.rate_limits_dropped
            );
        }
        self.purge_flows(&plan, &mut applied);
        tracing::debug!(?applied, "table inet {table} reconciled");
        self.last = applied;
        Ok(())
    }

    fn remove_all(&mut self) -> Result<(), EnforceError> {
        tools::nft_apply(&self.nft, &to_json(&nft_json::removal(&self.settings.table))?)?;
        self.purged.clear();
        self.last = Applied::default();
        Ok(())
    }
}

fn to_json(batch: &nft_json::Batch) -> Result<String, EnforceError> {
    batch.to_json().map_err(|e| EnforceError(format!("writing the nftables JSON: {e}")))
}

/// The transaction a reconcile at `now_ns` applies, as nftables JSON (`nft -j -f -` reads
/// it): the dry form, for `decisions export` and tests.
pub fn reconcile_json(settings: &NftSettings, now_ns: i64, active: &[Decision]) -> Result<String, EnforceError> {
    to_json(&nft_json::reconcile(&settings.table, &Plan::build(now_ns, active, &settings.limits), false))
}

/// The transaction [`Enforcer::remove_all`] applies, as nftables JSON.
pub fn removal_json(table: &str) -> Result<String, EnforceError> {
    to_json(&nft_json::removal(table))
}
