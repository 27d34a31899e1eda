//! **HEP as a source** (`sipscope hep`): capture nodes (Kamailio siptrace, OpenSIPS, Asterisk
//! `res_hep`, FreeSWITCH, heplify, sngrep) forward the SIP they see in HEP, and sipscope takes
//! it as if it had captured it: the capture node becomes the sensor, the packet's time the
//! event's time, its addresses and transport the event's, its payload the raw bytes, exactly.
//! Everything goes through the one pipeline.
//!
//! Unlike HOMER's collector, which stores the auth key and never checks it, sipscope
//! authenticates every packet against a keys file ([`keys`]), in constant time; refusals are
//! counted by reason and logged rate-limited ([`ingest`]). The codec is the sans-IO
//! `sipscope-hep` crate; [`net`] holds the UDP, TCP and TLS listeners, [`queue`] the queue
//! (bounded in bytes) that holds their bursts for the loop, and [`run`] the loop.

pub mod ingest;
pub mod keys;
pub mod net;
pub mod queue;
pub mod run;
