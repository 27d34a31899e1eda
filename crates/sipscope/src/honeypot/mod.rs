//! The honeypot: a PBX that attackers believe. `profile` and `config` are data; `pbx` is the
//! sans-IO state machine; the rest moves bytes between sockets, the PBX and the sinks.

pub mod config;
pub mod limits;
pub mod pbx;
pub mod profile;
