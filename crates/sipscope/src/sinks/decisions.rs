//! Where decisions are written: the backend-neutral [`DecisionLog`] that the decision policy
//! (its store worker) and `sipscope decisions` write through, so that an operator's decision
//! and a running sensor's meet in one store. Decisions are never erased: deleting one records
//! when, by whom and why. Reading them back is the store's ([`crate::store::StoreReader`]).

use super::SinkError;
use crate::act::{Decision, Scope};

/// Who removed decisions, when and why (`sipscope decisions delete|flush`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deletion {
    /// When, ns.
    pub at_ns: i64,
    /// Who (the operator's name).
    pub who: String,
    /// Why, in words.
    pub why: String,
}

/// How often a scope was decided against (escalation remembers it across restarts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offence {
    /// The scope.
    pub scope: Scope,
    /// Decisions taken against it since it was last forgiven.
    pub count: u32,
    /// The first of them, ns.
    pub first_ns: i64,
    /// The last of them, ns.
    pub last_ns: i64,
}

/// Writes decisions and offences.
pub trait DecisionLog: Send {
    /// Stores a decision taken at `created_ns` by `sensor` (none: an operator's); returns its id.
    fn insert(&mut self, decision: &Decision, sensor: Option<&str>, created_ns: i64) -> Result<i64, SinkError>;
    /// Marks decision `id` deleted; false when there is no such decision not yet deleted.
    fn delete_id(&mut self, id: i64, deletion: &Deletion) -> Result<bool, SinkError>;
    /// Marks every decision not yet deleted whose scope is exactly `scope` deleted; returns
    /// how many.
    fn delete_scope(&mut self, scope: &Scope, deletion: &Deletion) -> Result<u64, SinkError>;
    /// Marks every decision not yet deleted deleted (`decisions flush`); returns how many.
    fn delete_all(&mut self, deletion: &Deletion) -> Result<u64, SinkError>;
    /// Counts one more offence of `scope` at `now_ns`; an offence whose last one is older than
    /// `forgiven_before_ns` starts again from one. Returns the new count.
    fn add_offence(&mut self, scope: &Scope, now_ns: i64, forgiven_before_ns: i64) -> Result<u32, SinkError>;
    /// The offences whose last one is at or after `since_ns`, newest first, at most `limit`.
    fn offences(&mut self, since_ns: i64, limit: u32) -> Result<Vec<Offence>, SinkError>;
}

/// A decision's evidence as every store keeps it: a JSON array of `{ts_ns, src, dst, ordinal}`
/// (addresses as `ip:port` text), one form for SQLite and PostgreSQL so that readers of
/// either parse the same thing.
pub(crate) fn evidence_json(d: &Decision) -> String {
    let items: Vec<serde_json::Value> = d
        .evidence
        .iter()
        .map(|e| {
            serde_json::json!({
                "ts_ns": e.ts_ns,
                "src": std::net::SocketAddr::from(e.src).to_string(),
                "dst": std::net::SocketAddr::from(e.dst).to_string(),
                "ordinal": e.ordinal,
            })
        })
        .collect();
    serde_json::Value::Array(items).to_string()
}
