//! Output shared by commands: escaping of attacker text for every medium (`escape`), JSON for
//! attacker-supplied bytes (`json`), the `parse` message objects (`message`), alerts and
//! decisions as EVE-like objects (`eve`).

pub mod escape;
pub mod eve;
pub mod json;
pub mod message;
