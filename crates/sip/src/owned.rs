//! Owned messages, for when a message must outlive its receive buffer (queues, stores).
//!
//! The owned form is the raw bytes plus how they arrived; the parsed view is rebuilt on demand.
//! Parsing is cheap and deterministic, so this keeps one source of truth and no self-reference.

use crate::message::{Framing, Message, ParseError, ParseLimits};

/// A message that owns its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedMessage {
    raw: Box<[u8]>,
    framing: Framing,
}

impl OwnedMessage {
    /// Copies the bytes a message was parsed from.
    pub fn from_message(msg: &Message<'_>, framing: Framing) -> OwnedMessage {
        OwnedMessage { raw: msg.raw().into(), framing }
    }

    /// Takes ownership of raw bytes, checking that they parse.
    pub fn from_bytes(raw: Vec<u8>, framing: Framing) -> Result<OwnedMessage, ParseError> {
        Message::parse_with(&raw, framing, ParseLimits::default())?;
        Ok(OwnedMessage { raw: raw.into_boxed_slice(), framing })
    }

    /// The raw bytes.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The parsed view (with default limits).
    pub fn message(&self) -> Result<Message<'_>, ParseError> {
        Message::parse_with(&self.raw, self.framing, ParseLimits::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_outlives_buffer() {
        let owned = {
            let buf = b"OPTIONS sip:a SIP/2.0\r\nCall-ID: x\r\n\r\n".to_vec();
            let msg = crate::parse(&buf).unwrap();
            OwnedMessage::from_message(&msg, Framing::Datagram)
        };
        assert_eq!(owned.message().unwrap().call_id(), Some(&b"x"[..]));
        assert!(OwnedMessage::from_bytes(b"garbage".to_vec(), Framing::Datagram).is_err());
    }
}
