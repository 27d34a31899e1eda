//! The network shell: sockets in, [`Core`](super::core::Core) in the middle, sockets out. The
//! only place in the honeypot that reads the clock.

pub mod client_hello;
pub mod notes;
pub mod pool;
pub mod stream;
pub mod tls;
mod tls_handshake;
pub mod udp;
mod ws;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long a listener may block waiting for input: until the next answer it must send is
/// due (at least a millisecond, as a zero timeout blocks for ever), and never longer than
/// `poll` (it wakes to check for a stop).
pub fn wait_for(next_due_ns: Option<i64>, now_ns: i64, poll: Duration) -> Duration {
    match next_due_ns {
        Some(due) => {
            let ns = u64::try_from(due.saturating_sub(now_ns)).unwrap_or(0);
            Duration::from_nanos(ns).clamp(Duration::from_millis(1), poll)
        }
        None => poll,
    }
}

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

/// What the listeners and the stream and answer limits did (part of the core's `Stats`).
#[derive(Debug, Default)]
pub struct NetStats {
    /// Datagrams the kernel dropped because a UDP socket's buffer was full (`SO_RXQ_OVFL`, as
    /// of the last datagram received).
    pub kernel_drops: AtomicU64,
    /// TCP/TLS connections refused over a cap (closed before reading).
    pub connections_refused: AtomicU64,
    /// Of those, refusals counted but not recorded as events (over `refused_records_per_second`).
    pub refusals_not_recorded: AtomicU64,
    /// Connections closed to make room for a new one when a pool was full.
    pub connections_evicted: AtomicU64,
    /// Connections closed because a message or TLS handshake missed its deadline.
    pub deadlines_missed: AtomicU64,
    /// Connections to a TLS listener whose handshake failed (their first bytes are recorded).
    pub tls_handshakes_failed: AtomicU64,
    /// TCP/TLS answers withheld by the stream answer budget.
    pub stream_answers_withheld: AtomicU64,
    /// Answers withheld because even their smallest form is over `max_answer_bytes`.
    pub answers_over_size: AtomicU64,
}

impl NetStats {
    fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters as they are now.
    pub fn summary(&self) -> NetSummary {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        NetSummary {
            kernel_drops: get(&self.kernel_drops),
            connections_refused: get(&self.connections_refused),
            refusals_not_recorded: get(&self.refusals_not_recorded),
            connections_evicted: get(&self.connections_evicted),
            deadlines_missed: get(&self.deadlines_missed),
            tls_handshakes_failed: get(&self.tls_handshakes_failed),
            stream_answers_withheld: get(&self.stream_answers_withheld),
            answers_over_size: get(&self.answers_over_size),
        }
    }
}

/// [`NetStats`] at exit, in the honeypot's summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct NetSummary {
    /// UDP datagrams the kernel dropped (socket buffer full).
    pub kernel_drops: u64,
    /// TCP/TLS connections refused over a cap.
    pub connections_refused: u64,
    /// Refused connections not recorded (over the record rate).
    pub refusals_not_recorded: u64,
    /// Connections closed to make room when a pool was full.
    pub connections_evicted: u64,
    /// Connections closed at the message deadline.
    pub deadlines_missed: u64,
    /// TLS handshakes that failed.
    pub tls_handshakes_failed: u64,
    /// TCP/TLS answers withheld (stream answer budget).
    pub stream_answers_withheld: u64,
    /// Answers withheld (over `max_answer_bytes`).
    pub answers_over_size: u64,
}

impl NetSummary {
    /// One line of the text summary.
    pub fn to_text(&self) -> String {
        format!(
            "network: {} datagrams dropped by the kernel; {} connections refused ({} not recorded), {} evicted, \
             {} past the message deadline, {} failed TLS handshakes; answers withheld: {} stream budget, {} over size\n",
            self.kernel_drops,
            self.connections_refused,
            self.refusals_not_recorded,
            self.connections_evicted,
            self.deadlines_missed,
            self.tls_handshakes_failed,
            self.stream_answers_withheld,
            self.answers_over_size
        )
    }
}
