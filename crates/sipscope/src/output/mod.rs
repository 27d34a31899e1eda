//! Output shared by commands: escaping of attacker text for every medium (`escape`), JSON for
//! attacker-supplied bytes (`json`), the `parse` message objects (`message`). A foundation:
//! it knows no stage's types (the EVE shape of alerts lives with the alert outputs, `sinks/eve`).

pub mod escape;
pub mod json;
pub mod message;
