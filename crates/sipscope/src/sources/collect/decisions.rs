//! The collector's side of shared decisions: the decisions in force in its store (taken by its
//! rules' policy or by an operator with `sipscope decisions add`) are put in the KV bucket
//! every sensor watches (`act::policy::shared`), each once, checked about once a second.

use crate::act::policy::shared::{open_bucket, SharedDecision};
use crate::store::StoreReader;
use std::collections::HashSet;
use std::path::PathBuf;

/// Which bucket, which store, which collector.
#[derive(Debug, Clone)]
pub struct DecisionShare {
    /// The KV bucket (`sipscope-decisions`).
    pub bucket: String,
    /// The collector's store, where its decisions are.
    pub store: PathBuf,
    /// The collector's name (in each shared decision).
    pub by: String,
}

/// The bucket open, what was shared.
pub struct Sharing {
    kv: async_nats::jetstream::kv::Store,
    /// Always set until dropped (taken then, to be closed outside the runtime's context).
    reader: Option<Box<dyn StoreReader + Send>>,
    by: String,
    shared: HashSet<i64>,
    next_ns: i64,
}

impl DecisionShare {
    /// Opens the bucket (created when missing) and the store's reader.
    pub async fn open(&self, js: &async_nats::jetstream::Context) -> Result<Sharing, String> {
        let kv = open_bucket(js, &self.bucket).await?;
        let reader = super::blocking(|| crate::store::open(&self.store)).map_err(|e| e.to_string())?;
        Ok(Sharing { kv, reader: Some(reader), by: self.by.clone(), shared: HashSet::new(), next_ns: 0 })
    }
}

impl Sharing {
    /// Puts the decisions in force not shared yet; returns how many.
    pub async fn share(&mut self, now_ns: i64) -> u64 {
        if now_ns < self.next_ns {
            return 0;
        }
        self.next_ns = now_ns.saturating_add(crate::time::SECOND_NS);
        let Some(reader) = self.reader.as_mut() else { return 0 };
        let rows = match super::blocking(|| reader.decisions_in_force(now_ns)) {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!("collect: reading decisions in force: {e}");
                return 0;
            }
        };
        let mut n = 0;
        for row in rows {
            let Some(id) = row.decision.id else { continue };
            if self.shared.contains(&id) {
                continue;
            }
            let shared = SharedDecision::of(&row.decision, &self.by);
            let Ok(json) = serde_json::to_vec(&shared) else { continue };
            match self.kv.put(shared.key(), json.into()).await {
                Ok(_) => {
                    self.shared.insert(id);
                    n += 1;
                }
                Err(e) => {
                    tracing::warn!("collect: sharing decision {id}: {e}");
                    break;
                }
            }
        }
        n
    }
}

impl Drop for Sharing {
    /// A PostgreSQL reader closes its connection by blocking on a runtime of its own, which
    /// panics inside the collector's runtime ('Cannot start a runtime from within a runtime':
    /// the collector's graceful stop, and every reconnection to the broker, dropped it there).
    fn drop(&mut self) {
        if let Some(reader) = self.reader.take() {
            super::blocking(move || drop(reader));
        }
    }
}
