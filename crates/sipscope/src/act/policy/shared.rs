//! Decisions shared between sensors through a NATS KV bucket (issue 16; docs/collector.md):
//! `sipscope collect` puts the decisions in force in its store there, and every sensor that
//! watches the bucket (`[nats] watch_decisions`) writes the ones its own policy allows (its
//! allowlists, trunks, own and loopback addresses: [`Policy::protection`]) into its store,
//! where its responder picks them up like any other decision and the listeners and the
//! enforcer act on them. A source banned anywhere is then banned everywhere.

use super::Policy;
use crate::act::{Decision, DecisionKind, DecisionOrigin, Scope};
use crate::sinks::nats::NatsConfig;
use futures_util::StreamExt;
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

/// A decision as it travels in the bucket (JSON, version 1).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SharedDecision {
    /// The format's version (1).
    pub v: u32,
    /// `ban`, `rate-limit` or `watch`.
    pub kind: String,
    /// Packets a second (rate-limit only).
    pub per_second: Option<u32>,
    /// The scope as sipscope prints it (`192.0.2.7`, `192.0.2.7:5060`, `192.0.2.0/24`).
    pub scope: String,
    /// From, ns.
    pub start_ns: i64,
    /// Until, ns.
    pub until_ns: i64,
    /// Why.
    pub reason: String,
    /// The rule that took it, when a rule did.
    pub rule_id: Option<String>,
    /// The collector that shared it.
    pub by: String,
    /// The decision's id in the collector's store.
    pub id: i64,
}

impl SharedDecision {
    /// The shared form of a stored decision of collector `by`.
    pub fn of(d: &Decision, by: &str) -> SharedDecision {
        SharedDecision {
            v: 1,
            kind: d.kind.as_str().to_owned(),
            per_second: match d.kind {
                DecisionKind::RateLimit { per_second } => Some(per_second),
                _ => None,
            },
            scope: d.scope.to_string(),
            start_ns: d.start_ns,
            until_ns: d.until_ns,
            reason: d.reason.clone(),
            rule_id: match &d.origin {
                DecisionOrigin::Rule { rule_id } => Some(rule_id.clone()),
                DecisionOrigin::Operator { .. } => None,
            },
            by: by.to_owned(),
            id: d.id.unwrap_or(0),
        }
    }

    /// The bucket key: one per collector and decision.
    pub fn key(&self) -> String {
        format!("{}.{}", crate::sinks::nats::subject_token(&self.by), self.id)
    }

    /// The decision a sensor stores: taken by a rule (so that the sensor's whole policy
    /// applies), its reason naming the collector and its id (how a restart recognises it).
    pub fn decision(&self) -> Option<Decision> {
        let kind = match (self.kind.as_str(), self.per_second) {
            ("ban", _) => DecisionKind::Ban,
            ("rate-limit", Some(per_second)) => DecisionKind::RateLimit { per_second },
            ("watch", _) => DecisionKind::Watch,
            _ => return None,
        };
        let scope: Scope = self.scope.parse().ok()?;
        Some(Decision {
            id: None,
            kind,
            scope,
            start_ns: self.start_ns,
            until_ns: self.until_ns,
            reason: format!("{} [{}]", self.reason, self.marker()),
            origin: DecisionOrigin::Rule { rule_id: self.rule_id.clone().unwrap_or_else(|| "shared".to_owned()) },
            offence: 0,
            proven: true,
            evidence: Vec::new(),
        })
    }

    /// What the stored reason ends with: `shared by <collector> #<id>`.
    pub fn marker(&self) -> String {
        format!("shared by {} #{}", self.by, self.id)
    }
}

/// Watches the bucket and writes the decisions `policy` allows into the store at `store`.
/// Runs on a thread of its own until the process ends; failures are logged (once per cause,
/// then at powers of two) and retried.
pub fn spawn_watcher(nats: NatsConfig, bucket: String, store: PathBuf, policy: Policy) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    std::thread::Builder::new().name("nats-decisions".into()).spawn(move || {
        let mut failures = 0u64;
        let mut seen: HashSet<String> = HashSet::new();
        loop {
            let r = runtime.block_on(watch(&nats, &bucket, &store, &policy, &mut seen));
            failures += 1;
            if let Err(e) = r {
                if failures.is_power_of_two() {
                    tracing::warn!(failures, "shared decisions: {e}; retrying");
                }
            }
            std::thread::sleep(Duration::from_secs(failures.min(10)));
        }
    })?;
    Ok(())
}

async fn watch(
    nats: &NatsConfig,
    bucket: &str,
    store: &std::path::Path,
    policy: &Policy,
    seen: &mut HashSet<String>,
) -> Result<(), String> {
    let client = nats.connect("sipscope decisions watcher").await.map_err(|e| e.to_string())?;
    let js = nats.jetstream(client).await.map_err(|e| e.to_string())?;
    let kv = open_bucket(&js, bucket).await?;
    let mut log = crate::sinks::open_decision_log(store).map_err(|e| e.to_string())?;
    let reader = crate::store::open(store).map_err(|e| e.to_string())?;
    let mut entries = kv.watch_all_from_revision(1).await.map_err(|e| format!("watching {bucket}: {e}"))?;
    while let Some(entry) = entries.next().await {
        let entry = entry.map_err(|e| format!("watching {bucket}: {e}"))?;
        if entry.operation != async_nats::jetstream::kv::Operation::Put || seen.contains(&entry.key) {
            continue;
        }
        seen.insert(entry.key.clone());
        let Ok(shared) = serde_json::from_slice::<SharedDecision>(&entry.value) else {
            tracing::warn!(
                "shared decisions: entry {:?} does not decode",
                crate::output::escape::terminal(&entry.key, 80)
            );
            continue;
        };
        let now = crate::time::now_ns();
        let Some(decision) = shared.decision().filter(|d| d.until_ns > now) else { continue };
        if let Some((ip, why)) = policy.protection(&decision.scope, false) {
            tracing::info!(
                "shared decisions: {} reaches {ip} ({}): not applied",
                decision.scope,
                super::responder::protection_name(why)
            );
            continue;
        }
        let marker = shared.marker();
        let known = reader
            .decisions_in_force(now)
            .map_err(|e| e.to_string())?
            .iter()
            .any(|row| row.decision.reason.ends_with(&format!("[{marker}]")));
        if known {
            continue;
        }
        log.insert(&decision, Some(&format!("collector:{}", shared.by)), now).map_err(|e| e.to_string())?;
        tracing::info!(
            "shared decisions: {} {} until {} ({marker})",
            decision.kind.as_str(),
            decision.scope,
            decision.until_ns
        );
    }
    Err(format!("the watch of {bucket} ended"))
}

/// The bucket, created when missing (history 1, entries kept 30 days). Its stream is made
/// here with the KV conventions (`KV_<bucket>`, subjects `$KV.<bucket>.>`, rollups, no
/// deletes, direct gets) rather than by the client's `create_key_value`, which first asks for
/// account information in a form servers before 2.10 do not answer.
pub async fn open_bucket(
    js: &async_nats::jetstream::Context,
    bucket: &str,
) -> Result<async_nats::jetstream::kv::Store, String> {
    if let Ok(kv) = js.get_key_value(bucket).await {
        return Ok(kv);
    }
    let config = async_nats::jetstream::stream::Config {
        name: format!("KV_{bucket}"),
        subjects: vec![format!("$KV.{bucket}.>")],
        max_messages_per_subject: 1,
        max_age: Duration::from_secs(30 * 24 * 3600),
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: async_nats::jetstream::stream::DiscardPolicy::New,
        storage: async_nats::jetstream::stream::StorageType::File,
        num_replicas: 1,
        ..Default::default()
    };
    js.get_or_create_stream(config).await.map_err(|e| format!("bucket {bucket}: {e}"))?;
    js.get_key_value(bucket).await.map_err(|e| format!("bucket {bucket}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_decision_round_trips_and_names_its_origin() {
        let d = Decision {
            id: Some(7),
            kind: DecisionKind::RateLimit { per_second: 5 },
            scope: "198.51.100.0/24".parse().unwrap(),
            start_ns: 1,
            until_ns: 2,
            reason: "r".into(),
            origin: DecisionOrigin::Operator { who: "ops".into() },
            offence: 0,
            proven: false,
            evidence: Vec::new(),
        };
        let s = SharedDecision::of(&d, "central.example");
        assert_eq!(s.key(), "central_example.7");
        let json = serde_json::to_vec(&s).unwrap();
        let back: SharedDecision = serde_json::from_slice(&json).unwrap();
        let got = back.decision().unwrap();
        assert_eq!((got.kind, got.scope, got.until_ns), (d.kind, d.scope, d.until_ns));
        assert!(got.reason.ends_with("[shared by central.example #7]"));
        let bad = SharedDecision { kind: "explode".into(), ..s };
        assert!(bad.decision().is_none());
    }
}
