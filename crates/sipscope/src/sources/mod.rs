//! Where SIP messages come from. Each source is a folder: `pcap` (capture files),
//! `live` (capture from an interface, with the `live` feature).
//! Sources turn their input into [`crate::event::SipEvent`]s for the pipeline.

#[cfg(feature = "live")]
pub mod live;
pub mod pcap;
pub mod wire;
