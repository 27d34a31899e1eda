//! Output formats shared by commands: JSON for attacker-supplied bytes, message objects.

pub mod json;
pub mod message;
