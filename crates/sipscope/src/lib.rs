//! sipscope: the application. The tree is laid out as folders in the order data flows:
//! `sources` (where messages come from) → `pipeline` (events, analysis session, fan-out) →
//! `analysis` → `sinks` (write side) → `store` (read side) → `reports`. `event`, `time`,
//! `output`, `owner`, `nodes`, `fsutil` and `metrics` are the foundations every stage shares. See ARCHITECTURE.md for the
//! map and the invariants.

pub mod act;
pub mod analysis;
pub mod api;
pub mod archive;
pub mod enrich;
pub mod event;
pub mod fsutil;
pub mod metrics;
pub mod nodes;
pub mod output;
pub mod owner;
pub mod pipeline;
pub mod reports;
pub mod rules;
pub mod sinks;
pub mod sources;
pub mod store;
pub mod time;

#[cfg(test)]
mod test_support;
