//! The queue between the HEP listeners and the run loop, bounded in bytes. Capture nodes send
//! in bursts (a flood against the PBX they watch arrives as a flood of HEP packets), faster
//! than the pipeline stores them for seconds at a time. A queue bounded by a count of batches
//! held only a fraction of a second of such a burst and the kernel dropped the rest; this one
//! holds up to [`NetLimits::queue_bytes`] of received packets (their bytes and bookkeeping),
//! so a burst is taken whole and stored as the pipeline catches up. When it is full, a UDP
//! listener stops reading (the kernel's receive buffer then fills and drops, counted by the
//! kernel) and a stream's thread stops reading its socket (TCP slows the sender): memory stays
//! bounded either way.
//!
//! [`NetLimits::queue_bytes`]: super::net::NetLimits::queue_bytes

use super::net::Delivery;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Bytes held, and the bound; shared by the senders and the receiver.
struct Held {
    bytes: Mutex<usize>,
    freed: Condvar,
    max: usize,
}

/// The listeners' end (cloned for each listener thread).
#[derive(Clone)]
pub struct QueueTx {
    tx: Sender<(Delivery, usize)>,
    held: Arc<Held>,
}

/// The run loop's end.
pub struct QueueRx {
    rx: Receiver<(Delivery, usize)>,
    held: Arc<Held>,
}

/// A queue holding at most `max_bytes` of deliveries (one delivery larger than that is let
/// through when the queue is empty, so nothing can wait for ever).
pub fn queue(max_bytes: usize) -> (QueueTx, QueueRx) {
    let (tx, rx) = mpsc::channel();
    let held = Arc::new(Held { bytes: Mutex::new(0), freed: Condvar::new(), max: max_bytes });
    (QueueTx { tx, held: Arc::clone(&held) }, QueueRx { rx, held })
}

/// How often a sender waiting for room looks at its stop flag.
const WAIT: Duration = Duration::from_millis(100);

impl QueueTx {
    /// Queues `delivery`, waiting while the queue is full; false once the run loop is gone or
    /// `stop` was set while waiting (the delivery is then dropped: the listener is stopping).
    pub fn send(&self, delivery: Delivery, stop: &AtomicBool) -> bool {
        let size = delivery.size();
        {
            let Ok(mut bytes) = self.held.bytes.lock() else { return false };
            while *bytes > 0 && bytes.saturating_add(size) > self.held.max {
                if stop.load(Ordering::Relaxed) {
                    return false;
                }
                bytes = match self.held.freed.wait_timeout(bytes, WAIT) {
                    Ok((guard, _)) => guard,
                    Err(_) => return false,
                };
            }
            *bytes += size;
        }
        if self.tx.send((delivery, size)).is_ok() {
            return true;
        }
        self.release(size);
        false
    }

    fn release(&self, size: usize) {
        release(&self.held, size);
    }
}

fn release(held: &Held, size: usize) {
    if let Ok(mut bytes) = held.bytes.lock() {
        *bytes = bytes.saturating_sub(size);
    }
    held.freed.notify_all();
}

impl QueueRx {
    /// The next delivery, waiting at most `timeout`; its bytes no longer count against the
    /// queue once taken.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Delivery, RecvTimeoutError> {
        let (delivery, size) = self.rx.recv_timeout(timeout)?;
        release(&self.held, size);
        Ok(delivery)
    }

    /// The next delivery if one is waiting.
    pub fn try_recv(&self) -> Option<Delivery> {
        let (delivery, size) = self.rx.try_recv().ok()?;
        release(&self.held, size);
        Some(delivery)
    }

    /// Bytes queued now.
    pub fn held_bytes(&self) -> usize {
        self.held.bytes.lock().map(|b| *b).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::hep::net::Packets;
    use std::net::SocketAddr;

    fn packets(n: usize, len: usize) -> Delivery {
        let mut p = Packets::default();
        let peer: SocketAddr = "127.0.0.1:9".parse().unwrap();
        for i in 0..n {
            p.push(&vec![b'x'; len], peer, i as i64);
        }
        Delivery::Packets(p)
    }

    #[test]
    fn a_full_queue_holds_the_sender_until_the_loop_takes_a_delivery() {
        let one = packets(4, 1000).size();
        let (tx, rx) = queue(2 * one);
        let stop = AtomicBool::new(false);
        assert!(tx.send(packets(4, 1000), &stop));
        assert!(tx.send(packets(4, 1000), &stop));
        assert_eq!(rx.held_bytes(), 2 * one);
        let sender = {
            let tx = tx.clone();
            std::thread::spawn(move || tx.send(packets(4, 1000), &AtomicBool::new(false)))
        };
        // The third waits: it is not queued until one is taken.
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(rx.held_bytes(), 2 * one, "the third delivery waits for room");
        assert!(rx.recv_timeout(Duration::from_secs(1)).is_ok());
        assert!(sender.join().unwrap());
        assert_eq!(rx.held_bytes(), 2 * one);
        let mut taken = 0;
        while rx.try_recv().is_some() {
            taken += 1;
        }
        assert_eq!((taken, rx.held_bytes()), (2, 0));
    }

    #[test]
    fn a_delivery_larger_than_the_bound_passes_an_empty_queue_and_stop_ends_a_wait() {
        let (tx, rx) = queue(10);
        let stop = AtomicBool::new(false);
        assert!(tx.send(packets(3, 100), &stop), "an empty queue takes anything");
        stop.store(true, Ordering::Relaxed);
        assert!(!tx.send(packets(1, 1), &stop), "a full queue and a stop: given up");
        assert!(matches!(rx.try_recv(), Some(Delivery::Packets(p)) if p.len() == 3));
        assert!(rx.try_recv().is_none());
        drop(rx);
        assert!(!tx.send(packets(1, 1), &AtomicBool::new(false)), "the loop is gone");
    }
}
