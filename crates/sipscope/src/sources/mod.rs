//! Where SIP messages come from. Each source is a folder: `pcap` (capture files).
//! Sources turn their input into [`crate::event::SipEvent`]s for the pipeline.

pub mod pcap;
pub mod wire;
