//! Typed views of header values. Each parser borrows the value's bytes and reports defects
//! through a callback, so the message parser and the accessors share one implementation.

pub mod name_addr;
pub mod scalar;
pub mod via;

pub use name_addr::NameAddr;
pub use scalar::CSeq;
pub use via::Via;
