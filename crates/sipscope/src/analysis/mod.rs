//! Analysis: from events to findings, as pure functions of `(timestamp, event)`. Time comes
//! from the events, never from the clock, so results are reproducible and tests use a
//! simulated clock. One engine runs inside `ingest`, `capture`, `honeypot` and `analyze`.

pub mod fingerprint;
pub mod numbers;
pub mod strategy;
pub mod tools;
pub mod user_agents;
