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
//! The run loop hands each batch it has taken back, emptied, and the listeners fill those
//! again ([`SPARE_BATCHES`] at most are kept, each no larger than a new batch of
//! [`SPARE_PACKETS`]): a batch's buffer is allocated once instead of once per batch, which at
//! 200 k packets/s was page faults costing a sixth of a core.
//!
//! [`NetLimits::queue_bytes`]: super::net::NetLimits::queue_bytes

use super::net::{Delivery, Packets};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Bytes held, and the bound; shared by the senders and the receiver.
struct Held {
    /// Bytes queued, and whether the run loop's end is gone.
    state: Mutex<State>,
    freed: Condvar,
    max: usize,
    /// Emptied batches for the listeners to fill again.
    spare: Mutex<Vec<Packets>>,
}

/// Emptied batches kept for reuse.
pub const SPARE_BATCHES: usize = 32;
/// A batch is kept for reuse only if its buffers are no larger than a new one's for this many
/// packets (the listeners' default batch, 256 KiB of buffer): one that grew with large
/// datagrams (up to 64 KiB each) is freed, so that the spares hold at most ~8.5 MiB whatever
/// was sent, outside the queue's byte bound.
pub const SPARE_PACKETS: usize = 256;

#[derive(Default)]
struct State {
    bytes: usize,
    closed: bool,
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
    let held = Arc::new(Held {
        state: Mutex::new(State::default()),
        freed: Condvar::new(),
        max: max_bytes,
        spare: Mutex::new(Vec::new()),
    });
    (QueueTx { tx, held: Arc::clone(&held) }, QueueRx { rx, held })
}

impl QueueTx {
    /// Queues `delivery`, waiting while the queue is full (the run loop takes what is queued
    /// until every listener has ended, stopping included); false once the run loop is gone.
    pub fn send(&self, delivery: Delivery) -> bool {
        let size = delivery.size();
        {
            let Ok(mut state) = self.held.state.lock() else { return false };
            while !state.closed && state.bytes > 0 && state.bytes.saturating_add(size) > self.held.max {
                state = match self.held.freed.wait(state) {
                    Ok(guard) => guard,
                    Err(_) => return false,
                };
            }
            if state.closed {
                return false;
            }
            state.bytes += size;
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

    /// An empty batch: one the run loop handed back, else a new one for `packets` packets.
    pub fn empty_batch(&self, packets: usize) -> Packets {
        let spare = self.held.spare.lock().ok().and_then(|mut spare| spare.pop());
        spare.unwrap_or_else(|| Packets::with_capacity(packets))
    }
}

fn release(held: &Held, size: usize) {
    if let Ok(mut state) = held.state.lock() {
        state.bytes = state.bytes.saturating_sub(size);
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

    /// Hands a batch that was taken back for the listeners to fill again.
    pub fn recycle(&self, mut packets: Packets) {
        if !packets.fits(SPARE_PACKETS) {
            return;
        }
        packets.clear();
        if let Ok(mut spare) = self.held.spare.lock() {
            if spare.len() < SPARE_BATCHES {
                spare.push(packets);
            }
        }
    }

    /// Bytes queued now.
    pub fn held_bytes(&self) -> usize {
        self.held.state.lock().map(|s| s.bytes).unwrap_or(0)
    }
}

impl Drop for QueueRx {
    /// A listener waiting for room is let go: nobody will take its delivery.
    fn drop(&mut self) {
        if let Ok(mut state) = self.held.state.lock() {
            state.closed = true;
        }
        self.held.freed.notify_all();
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
    fn a_taken_batch_comes_back_empty_with_its_buffer_and_the_spares_are_bounded() {
        let (tx, rx) = queue(1 << 30);
        for _ in 0..SPARE_BATCHES + 5 {
            assert!(tx.send(packets(8, 500)));
        }
        let mut taken = Vec::new();
        while let Some(Delivery::Packets(p)) = rx.try_recv() {
            taken.push(p);
        }
        let buffer = taken[0].buffer_ptr();
        for p in taken {
            rx.recycle(p);
        }
        assert_eq!(tx.held.spare.lock().unwrap().len(), SPARE_BATCHES);
        // The last one handed back is the first reused: empty, with its buffer.
        let mut reused = tx.empty_batch(256);
        assert!(reused.is_empty());
        assert_eq!(reused.size(), 0);
        assert_ne!(reused.buffer_ptr(), buffer, "the first batch was handed back first");
        let peer: SocketAddr = "127.0.0.1:9".parse().unwrap();
        reused.push(b"abc", peer, 7);
        assert_eq!(reused.iter().collect::<Vec<_>>(), vec![(&b"abc"[..], peer, 7)]);
        for _ in 0..SPARE_BATCHES - 2 {
            tx.empty_batch(256);
        }
        assert_eq!(tx.empty_batch(256).buffer_ptr(), buffer, "the first handed back is the last reused");
        // With none left, a new one.
        assert!(tx.held.spare.lock().unwrap().is_empty());
        assert!(tx.empty_batch(256).is_empty());
        // A batch grown by large datagrams is freed, not kept: the spares stay small.
        assert!(tx.send(packets(200, 60_000)));
        let Some(Delivery::Packets(big)) = rx.try_recv() else { panic!("the batch") };
        rx.recycle(big);
        assert!(tx.held.spare.lock().unwrap().is_empty(), "a 12 MB batch is not kept");
    }

    #[test]
    fn a_full_queue_holds_the_sender_until_the_loop_takes_a_delivery() {
        let one = packets(4, 1000).size();
        let (tx, rx) = queue(2 * one);
        assert!(tx.send(packets(4, 1000)));
        assert!(tx.send(packets(4, 1000)));
        assert_eq!(rx.held_bytes(), 2 * one);
        let sender = {
            let tx = tx.clone();
            std::thread::spawn(move || tx.send(packets(4, 1000)))
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
    fn a_delivery_larger_than_the_bound_passes_an_empty_queue_and_a_gone_loop_ends_a_wait() {
        let (tx, rx) = queue(10);
        assert!(tx.send(packets(3, 100)), "an empty queue takes anything");
        assert!(matches!(rx.try_recv(), Some(Delivery::Packets(p)) if p.len() == 3));
        assert!(rx.try_recv().is_none());
        assert!(tx.send(packets(3, 100)));
        let waiting = {
            let tx = tx.clone();
            std::thread::spawn(move || tx.send(packets(1, 1)))
        };
        std::thread::sleep(Duration::from_millis(100));
        drop(rx);
        assert!(!waiting.join().unwrap(), "a full queue whose loop is gone: given up");
        assert!(!tx.send(packets(1, 1)), "the loop is gone");
    }
}
