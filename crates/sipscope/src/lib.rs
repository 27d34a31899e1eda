//! sipscope: the application. The pipeline is laid out as folders, in the order data flows:
//! `sources` (where messages come from) → `analysis` → `sinks` → `reports`; `output` holds the
//! formats commands print. See ARCHITECTURE.md for the map and the invariants.

pub mod analysis;
pub mod enrich;
pub mod event;
pub mod honeypot;
pub mod ingest;
pub mod nodes;
pub mod output;
pub mod reports;
pub mod sinks;
pub mod sources;
pub mod store;
