//! Analysis: from events to findings, as pure functions of `(timestamp, event)`. Time comes
//! from the events, never from the clock, so results are reproducible and tests use a
//! simulated clock. One engine runs inside `ingest`, `capture`, `honeypot` and `analyze`.

pub mod activity;
pub mod bounded;
pub mod campaigns;
pub mod engine;
mod extras;
pub mod fingerprint;
pub mod flows;
pub mod numbers;
pub mod result;
pub mod stages;
pub mod strategy;
pub mod summary;
pub mod tools;
pub mod traffic;
pub mod user_agents;

/// The engine's tables keyed by addresses, interned ids and fingerprint ids: aHash with a
/// random key per process (DoS-resistant where SipHash is several times slower on these short
/// keys). Tables keyed by the attacker's text keep the standard library's SipHash.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, ahash::RandomState>;

#[cfg(test)]
mod calls_tests;
#[cfg(test)]
mod engine_tests;
#[cfg(test)]
mod memory_tests;
#[cfg(test)]
mod test_rng;
