//! Where SIP messages come from. Each source is a folder that turns its input into
//! [`crate::pipeline::Arrival`]s and hands them to the pipeline; only what is specific to the
//! source lives here:
//! - `files` (`sipscope ingest`): capture files, hashed and registered, read to the end;
//! - `live` (`sipscope capture`, cargo feature `live`): an interface through libpcap;
//! - `honeypot`: a PBX that answers, and records every request and answer;
//! - `pcap` and `wire` are shared by files and live: the capture format, and frames → SIP
//!   messages (decapsulation, defragmentation, TCP reassembly, SIP framing);
//! - `hep` (`sipscope hep`): SIP forwarded in HEP by other capture nodes, authenticated;
//! - `pbx_logs` (`sipscope logs`): PBX security logs (Asterisk, FreeSWITCH), read and
//!   followed across rotation; their events are authentication attempts, not messages;
//! - `sentrypeer` (`sipscope import sentrypeer`): SentryPeer's JSON log and database, imported;
//! - `replay`: the store itself, read back (`sipscope analyze`, and recovery of analysis runs
//!   that a killed process left unfinished).
//!
//! `udp_batch` is no source: the UDP listeners' way of reading many datagrams per system call.

pub mod collect;
pub mod files;
pub mod hep;
pub mod honeypot;
#[cfg(feature = "live")]
pub mod live;
pub mod pbx_logs;
pub mod pcap;
pub mod replay;
pub mod sentrypeer;
pub mod summary;
pub mod udp_batch;
pub mod wire;
