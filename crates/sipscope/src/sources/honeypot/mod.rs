//! The honeypot: a PBX that attackers believe. `profile` and `config` are data; `pbx` is the
//! sans-IO state machine; `core` joins it to limits and sinks; `net` moves bytes; `run` starts
//! and stops it all.

pub mod config;
pub mod core;
#[cfg(test)]
mod core_tests;
pub mod error;
pub mod human_log;
pub mod intel;
pub mod limits;
pub mod net;
pub mod pbx;
pub mod profile;
pub mod run;

pub use error::HoneypotError;
