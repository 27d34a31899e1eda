//! Delivery to a network peer that may be slow, down or failing (syslog, webhooks), without
//! ever holding up the pipeline: a bounded queue that drops its oldest item when full (and
//! counts it), a worker thread that sends, and retries with exponential backoff and jitter.
//! A push takes a mutex for a moment and returns; everything slow happens on the worker.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Limits of one output's delivery. Defaults suit a SIEM that may be down for minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryLimits {
    /// Items waiting at most; beyond, the oldest is dropped and counted. Default 10 000.
    pub queue_items: usize,
    /// Tries per item before it is given up (and counted). Default 8.
    pub attempts: u32,
    /// The first wait before a retry; doubles per try. Default 500 ms.
    pub initial_backoff: Duration,
    /// The longest wait between tries. Default 60 s.
    pub max_backoff: Duration,
    /// On shutdown, how long what is queued may still take before it is left. Default 5 s.
    pub drain: Duration,
}

impl Default for DeliveryLimits {
    fn default() -> DeliveryLimits {
        DeliveryLimits {
            queue_items: 10_000,
            attempts: 8,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
            drain: Duration::from_secs(5),
        }
    }
}

/// Why a send failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// Worth trying again later (unreachable, a timeout, a 5xx).
    Retry(String),
    /// Trying again cannot help (a 4xx): the item is given up.
    GiveUp(String),
}

/// Sends one item to the peer (on the worker thread: it may block, within its own timeouts).
pub trait Transport<T>: Send {
    /// Sends `item`.
    fn send(&mut self, item: &T) -> Result<(), SendError>;
}

/// What a delivery did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryCounters {
    /// Items delivered.
    pub sent: u64,
    /// Items dropped because the queue was full (the oldest go first).
    pub dropped: u64,
    /// Items given up after their tries or a permanent refusal.
    pub failed: u64,
    /// Tries that failed and were retried.
    pub retries: u64,
    /// The last failure.
    pub last_error: Option<String>,
}

struct State<T> {
    queue: VecDeque<T>,
    stop: bool,
    done: bool,
    counters: DeliveryCounters,
    /// The queue's depth in the metrics (`sipscope_queue_depth{queue="alert_delivery"}`).
    depth: crate::metrics::DepthTracker,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    wake: Condvar,
}

/// A bounded queue and the worker that empties it into a [`Transport`].
pub struct Delivery<T: Send + 'static> {
    shared: Arc<Shared<T>>,
    limits: DeliveryLimits,
    name: &'static str,
    handle: Option<JoinHandle<()>>,
}

impl<T: Send + 'static> Delivery<T> {
    /// Starts the worker (thread `name`) around `transport`.
    pub fn spawn(
        name: &'static str,
        transport: Box<dyn Transport<T>>,
        limits: DeliveryLimits,
    ) -> std::io::Result<Delivery<T>> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                stop: false,
                done: false,
                counters: DeliveryCounters::default(),
                depth: crate::metrics::DepthTracker::new(crate::metrics::Queue::AlertDelivery),
            }),
            wake: Condvar::new(),
        });
        let theirs = Arc::clone(&shared);
        let handle =
            std::thread::Builder::new().name(name.into()).spawn(move || work(&theirs, transport, limits, name))?;
        Ok(Delivery { shared, limits, name, handle: Some(handle) })
    }

    /// Queues `item`; when the queue is full the oldest item is dropped (and counted). Never
    /// waits for the peer.
    pub fn push(&self, item: T) {
        let Ok(mut state) = self.shared.state.lock() else { return };
        if state.queue.len() >= self.limits.queue_items.max(1) {
            state.queue.pop_front();
            state.counters.dropped += 1;
            if state.counters.dropped % 1000 == 1 {
                tracing::warn!(
                    "{}: the queue is full, dropping the oldest ({} so far)",
                    self.name,
                    state.counters.dropped
                );
            }
        }
        state.queue.push_back(item);
        let len = state.queue.len();
        state.depth.set(len);
        self.shared.wake.notify_all();
    }

    /// What it did so far.
    pub fn counters(&self) -> DeliveryCounters {
        self.shared.state.lock().map(|s| s.counters.clone()).unwrap_or_default()
    }

    /// Items waiting (not counting one being sent).
    pub fn queued(&self) -> usize {
        self.shared.state.lock().map(|s| s.queue.len()).unwrap_or(0)
    }
}

impl<T: Send + 'static> Drop for Delivery<T> {
    /// Gives what is queued `drain` to go out (one try each), then leaves the worker.
    fn drop(&mut self) {
        let deadline = Instant::now() + self.limits.drain;
        let Ok(mut state) = self.shared.state.lock() else { return };
        state.stop = true;
        self.shared.wake.notify_all();
        while !state.done {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                tracing::warn!("{}: {} items not delivered at exit", self.name, state.queue.len());
                return;
            }
            state = match self.shared.wake.wait_timeout(state, left) {
                Ok((s, _)) => s,
                Err(_) => return,
            };
        }
        drop(state);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// The wait before try `attempt` (1 = the first retry): doubling from `initial`, at most
/// `max`, with "equal jitter" (half fixed, half random) so that senders do not retry in step.
pub fn backoff(limits: &DeliveryLimits, attempt: u32) -> Duration {
    use rand::Rng;
    let doubled = limits.initial_backoff.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let full = doubled.min(limits.max_backoff);
    let half = full / 2;
    half + half.mul_f64(rand::rng().random::<f64>())
}

fn work<T>(shared: &Shared<T>, mut transport: Box<dyn Transport<T>>, limits: DeliveryLimits, name: &str) {
    loop {
        let (item, mut stopping) = {
            let Ok(mut state) = shared.state.lock() else { return };
            while state.queue.is_empty() && !state.stop {
                state = match shared.wake.wait(state) {
                    Ok(s) => s,
                    Err(_) => return,
                };
            }
            let next = state.queue.pop_front();
            let len = state.queue.len();
            state.depth.set(len);
            match next {
                Some(item) => (item, state.stop),
                None => {
                    state.done = true;
                    shared.wake.notify_all();
                    return;
                }
            }
        };
        let mut attempt = 0;
        let outcome = loop {
            attempt += 1;
            match transport.send(&item) {
                Ok(()) => break Ok(()),
                Err(SendError::GiveUp(e)) => break Err(e),
                Err(SendError::Retry(e)) if stopping || attempt >= limits.attempts.max(1) => break Err(e),
                Err(SendError::Retry(e)) => {
                    let Ok(mut state) = shared.state.lock() else { return };
                    state.counters.retries += 1;
                    state.counters.last_error = Some(e);
                    // Waits the backoff, or less when asked to stop (then tries once more).
                    match shared.wake.wait_timeout_while(state, backoff(&limits, attempt), |s| !s.stop) {
                        Ok((state, _)) => stopping = state.stop,
                        Err(_) => return,
                    }
                }
            }
        };
        let Ok(mut state) = shared.state.lock() else { return };
        match outcome {
            Ok(()) => state.counters.sent += 1,
            Err(e) => {
                state.counters.failed += 1;
                if state.counters.failed % 1000 == 1 {
                    tracing::warn!("{name}: giving up an item ({} so far): {e}", state.counters.failed);
                }
                state.counters.last_error = Some(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// Fails the first `failures` tries, then reports each item it delivered.
    struct Flaky {
        failures: u32,
        delivered: mpsc::Sender<u32>,
    }

    impl Transport<u32> for Flaky {
        fn send(&mut self, item: &u32) -> Result<(), SendError> {
            if self.failures > 0 {
                self.failures -= 1;
                return Err(SendError::Retry("down".into()));
            }
            let _ = self.delivered.send(*item);
            Ok(())
        }
    }

    fn limits() -> DeliveryLimits {
        DeliveryLimits {
            queue_items: 3,
            attempts: 5,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(4),
            drain: Duration::from_secs(5),
        }
    }

    #[test]
    fn retries_deliver_in_order_after_failures() {
        let (tx, rx) = mpsc::channel();
        let d = Delivery::spawn("test", Box::new(Flaky { failures: 3, delivered: tx }), limits()).unwrap();
        d.push(1);
        d.push(2);
        assert_eq!((rx.recv().unwrap(), rx.recv().unwrap()), (1, 2));
        drop(d);
    }

    /// Blocks every send until told to go on.
    struct Gate(Arc<(Mutex<bool>, Condvar)>);

    impl Transport<u32> for Gate {
        fn send(&mut self, _: &u32) -> Result<(), SendError> {
            let (open, cv) = &*self.0;
            let mut open = open.lock().unwrap();
            while !*open {
                open = cv.wait(open).unwrap();
            }
            Ok(())
        }
    }

    #[test]
    fn a_hanging_peer_never_blocks_a_push_and_the_bound_holds() {
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let d = Delivery::spawn("test", Box::new(Gate(Arc::clone(&gate))), limits()).unwrap();
        for i in 0..100 {
            d.push(i);
        }
        assert!(d.queued() <= 3);
        let c = d.counters();
        // One item may be in the worker's hands; the rest beyond the bound were dropped.
        assert!(c.dropped >= 96 && c.dropped <= 97, "{c:?}");
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        drop(d);
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_maximum() {
        let l = DeliveryLimits {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            ..limits()
        };
        for (attempt, full) in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1000), (30, 1000)] {
            let b = backoff(&l, attempt).as_millis();
            assert!((full / 2..=full).contains(&b), "attempt {attempt}: {b} ms");
        }
    }

    #[test]
    fn an_item_is_given_up_after_its_tries() {
        let (tx, rx) = mpsc::channel();
        let d = Delivery::spawn("test", Box::new(Flaky { failures: 5, delivered: tx }), limits()).unwrap();
        d.push(1);
        d.push(2);
        assert_eq!(rx.recv().unwrap(), 2, "the first used up its five tries");
        while d.counters().sent < 1 {
            std::thread::yield_now();
        }
        let c = d.counters();
        assert_eq!((c.failed, c.sent, c.retries), (1, 1, 4));
    }
}
