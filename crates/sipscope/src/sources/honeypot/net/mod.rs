//! The network shell: sockets in, [`Core`](super::core::Core) in the middle, sockets out. The
//! only place in the honeypot that reads the clock.

pub mod stream;
pub mod tls;
pub mod udp;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Set once to stop every listener (SIGINT/SIGTERM, or a test).
#[derive(Debug, Clone, Default)]
pub struct Stop(pub Arc<AtomicBool>);

impl Stop {
    /// Whether a stop was asked for.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Asks every listener to stop.
    pub fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
