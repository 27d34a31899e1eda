//! Output shared by commands: escaping of attacker text for every medium (`escape`), JSON for
//! attacker-supplied bytes (`json`), the `parse` message objects (`message`).

pub mod escape;
pub mod json;
pub mod message;
