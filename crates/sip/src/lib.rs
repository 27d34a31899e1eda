//! # sipscope-sip
//!
//! Sans-IO SIP messages for sipscope: no sockets, no clock, no global state.
//!
//! - **Lossless and zero-copy.** [`Message`] borrows the bytes it was parsed from; headers keep
//!   their order, raw names (`TO`, `i`, `content-lnegth`) and exact bytes, folds included.
//! - **Anomalies are data.** A message whose start line is recognisable is always returned;
//!   every defect is an [`Anomaly`] with a stable snake_case name. Only bytes that cannot be a
//!   SIP message at all are a [`ParseError`].
//! - **Typed views on demand**: [`Uri`], [`typed::NameAddr`], [`typed::Via`], [`typed::CSeq`],
//!   [`digest`] credentials and challenges, [`sdp::Sdp`]. [`Message::check_views`] runs the
//!   checks and hands back the views they parsed ([`HeaderViews`]), for callers that want both.
//! - **Streams**: [`framing::frame`] splits messages out of a TCP/TLS buffer.
//! - **Writing**: [`builder`] makes responses (RFC 3261 §8.2.6) and requests.
//!
//! ```
//! let bytes = b"OPTIONS sip:100@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK1\r\n\
//! From: <sip:100@192.0.2.1>;tag=a\r\nTo: <sip:100@192.0.2.1>\r\ni: 1@x\r\nCSeq: 1 OPTIONS\r\n\
//! Max-Forwards: 70\r\ncontent-lnegth: 0\r\n\r\n";
//! let msg = sipscope_sip::parse(bytes).unwrap();
//! assert_eq!(msg.method(), Some(&b"OPTIONS"[..]));
//! assert_eq!(msg.call_id(), Some(&b"1@x"[..]));
//! assert!(msg.has_anomaly(sipscope_sip::AnomalyKind::UnknownHeaderResembles));
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod anomaly;
pub mod builder;
pub mod digest;
pub mod framing;
pub mod header_name;
pub mod message;
pub mod owned;
pub mod sdp;
pub mod start_line;
pub mod text;
pub mod typed;
pub mod uri;
mod validate;

pub use anomaly::{Anomaly, AnomalyClass, AnomalyKind};
pub use header_name::HeaderName;
pub use message::{parse, Framing, Header, Message, ParseError, ParseLimits};
pub use start_line::StartLine;
pub use uri::{HostKind, Scheme, Uri};
pub use validate::HeaderViews;
