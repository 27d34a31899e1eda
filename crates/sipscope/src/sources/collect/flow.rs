//! What the collector holds between the broker and the store: the rows in hand (taken, not
//! yet committed), the batches committing on the store's writer thread, and the deliveries
//! seen. Kept apart from the consuming loop so that its rules can be tested without a broker:
//!
//! * a batch is acknowledged only after its commit, and batches in the order they were taken
//!   (the consumer acknowledges all up to a message);
//! * every delivery of the consumer is seen: its sequence counts one by one, so a delivery lost
//!   on the way (the server drops a slow consumer's connection with what it was sending) is
//!   noticed before anything after it is taken — acknowledging past it would acknowledge it
//!   unread;
//! * a message delivered again while it was committing (a commit slower than the ack wait) is
//!   recognised by its stream sequence and not taken twice.

use crate::sinks::{Committing, SinkError};
use std::collections::VecDeque;
use std::time::Duration;

/// Batches committing at once: one on the store's writer thread while the next is parsed.
pub const MAX_COMMITTING: usize = 2;
/// The consumer's `max_ack_pending`, in batches: the batch in hand, those committing, and what
/// is pulled ahead, with room to spare (the server stops delivering at the limit).
pub const ACK_PENDING_BATCHES: usize = 8;
/// Rows in hand are committed when no message came for this long (at low rates this is the
/// latency of storing).
pub const IDLE_COMMIT: Duration = Duration::from_millis(200);
/// Bytes one pull request may bring (raised to the broker's `max_payload` when that is larger,
/// so that the largest message fits). The client holds at most about one and a half pulls:
/// far below what the server lets wait for a client (64 MiB by default) before it drops the
/// connection as a slow consumer, with what it was sending.
pub const PULL_BYTES: usize = 8 << 20;
/// How long a pull request lasts before the next one is sent.
pub const PULL_EXPIRES: Duration = Duration::from_secs(10);
/// The server's idle heartbeat while a pull waits: a broker gone quiet is noticed after two.
pub const PULL_HEARTBEAT: Duration = Duration::from_secs(3);

/// A batch committing, with the message that acknowledges it.
struct Batch<M> {
    committing: Committing,
    last: M,
    stream_seq: u64,
}

/// The collector's state for one consumer (made again at each connection).
pub struct Flow<M = async_nats::jetstream::Message> {
    /// The last message taken and not yet committed.
    last: Option<M>,
    /// Rows taken since the last commit.
    pub rows: u64,
    /// The highest stream sequence taken (committed, committing or in hand).
    taken_seq: u64,
    /// The consumer sequence of the last delivery seen (the consumer counts from 1).
    delivered: u64,
    batches: VecDeque<Batch<M>>,
}

/// A message's place in the stream and in its consumer's deliveries.
pub trait Delivery {
    /// (stream sequence, consumer sequence), or why the message has none.
    fn sequences(&self) -> Result<(u64, u64), String>;
}

impl Delivery for async_nats::jetstream::Message {
    fn sequences(&self) -> Result<(u64, u64), String> {
        let info = self.info().map_err(|e| format!("a message without its JetStream sequences: {e}"))?;
        Ok((info.stream_sequence, info.consumer_sequence))
    }
}

impl<M: Delivery> Flow<M> {
    /// A new consumer's flow; `committed_seq` is the stream position committed before.
    pub fn new(committed_seq: u64) -> Flow<M> {
        Flow { last: None, rows: 0, taken_seq: committed_seq, delivered: 0, batches: VecDeque::new() }
    }

    /// Checks a delivery: its stream sequence when it is to be taken, `None` when it was taken
    /// before, an error when a delivery before it never arrived.
    pub fn delivered(&mut self, message: &M) -> Result<Option<u64>, String> {
        let (stream_seq, consumer_seq) = message.sequences()?;
        if consumer_seq != self.delivered.saturating_add(1) {
            return Err(format!(
                "delivery {} of the consumer never arrived (the next was {consumer_seq}): consuming again from \
                 the committed position",
                self.delivered.saturating_add(1)
            ));
        }
        self.delivered = consumer_seq;
        Ok((stream_seq > self.taken_seq).then_some(stream_seq))
    }

    /// Notes a message taken (`rows` rows handed to the pipeline).
    pub fn took(&mut self, message: M, stream_seq: u64, rows: u64) {
        self.taken_seq = self.taken_seq.max(stream_seq);
        self.rows += rows;
        self.last = Some(message);
    }

    /// Whether rows were taken since the last commit.
    pub fn in_hand(&self) -> bool {
        self.last.is_some()
    }

    /// Whether nothing is in hand or committing.
    pub fn idle(&self) -> bool {
        self.last.is_none() && self.batches.is_empty()
    }

    /// The stream position the next commit records.
    pub fn taken_seq(&self) -> u64 {
        self.taken_seq
    }

    /// Batches committing.
    pub fn committing(&self) -> usize {
        self.batches.len()
    }

    /// The rows in hand are committing: their last message waits for the outcome.
    pub fn committed(&mut self, committing: Committing) {
        if let Some(last) = self.last.take() {
            self.batches.push_back(Batch { committing, last, stream_seq: self.taken_seq });
            self.rows = 0;
        }
    }

    /// The oldest batch's outcome when known (waiting for it when `wait`): its last message
    /// and stream position to acknowledge, or the store's error.
    pub fn outcome(&mut self, wait: bool) -> Option<Result<(M, u64), SinkError>> {
        let front = self.batches.front()?;
        let outcome = if wait {
            // The store's writer thread answers; the pipeline's thread waits (outside the
            // runtime's context).
            super::blocking(|| front.committing.wait())
        } else {
            front.committing.poll()?
        };
        let batch = self.batches.pop_front()?;
        Some(outcome.map(|()| (batch.last, batch.stream_seq)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message as the tests see it: (stream sequence, consumer sequence).
    #[derive(Debug, Clone, Copy, PartialEq)]
    struct Msg(u64, u64);

    impl Delivery for Msg {
        fn sequences(&self) -> Result<(u64, u64), String> {
            Ok((self.0, self.1))
        }
    }

    fn take(flow: &mut Flow<Msg>, m: Msg) -> Option<u64> {
        let seq = flow.delivered(&m).unwrap();
        if let Some(seq) = seq {
            flow.took(m, seq, 10);
        }
        seq
    }

    #[test]
    fn batches_are_acknowledged_in_order_after_their_commit() {
        let mut flow = Flow::new(0);
        assert_eq!(take(&mut flow, Msg(1, 1)), Some(1));
        assert_eq!(take(&mut flow, Msg(2, 2)), Some(2));
        assert_eq!(flow.rows, 20);
        let (first, committing) = Committing::pending();
        flow.committed(committing);
        assert!(!flow.in_hand() && flow.rows == 0 && flow.committing() == 1);
        take(&mut flow, Msg(3, 3));
        let (second, committing) = Committing::pending();
        flow.committed(committing);
        // The second commit ends first: nothing is acknowledged before the first.
        second.send(Ok(())).unwrap();
        assert!(flow.outcome(false).is_none());
        first.send(Ok(())).unwrap();
        assert_eq!(flow.outcome(false).unwrap().unwrap(), (Msg(2, 2), 2));
        assert_eq!(flow.outcome(false).unwrap().unwrap(), (Msg(3, 3), 3));
        assert!(flow.outcome(false).is_none() && flow.idle());
    }

    #[test]
    fn a_failed_commit_is_the_stores_error_and_acknowledges_nothing() {
        let mut flow = Flow::new(0);
        take(&mut flow, Msg(1, 1));
        flow.committed(Committing::done(Err(SinkError::Writer("disk full".into()))));
        assert!(matches!(flow.outcome(true), Some(Err(SinkError::Writer(m))) if m == "disk full"));
    }

    #[test]
    fn a_lost_delivery_stops_the_flow_before_anything_after_it_is_taken() {
        let mut flow = Flow::new(0);
        take(&mut flow, Msg(1, 1));
        let error = flow.delivered(&Msg(3, 3)).unwrap_err();
        assert!(error.contains("delivery 2 of the consumer never arrived"), "{error}");
        // The first delivery of a new consumer is its first.
        assert!(Flow::<Msg>::new(5).delivered(&Msg(7, 2)).is_err());
    }

    #[test]
    fn a_message_delivered_again_or_committed_before_is_not_taken_twice() {
        let mut flow = Flow::new(4);
        // Below the committed stream position: taken by an earlier consumer.
        assert_eq!(take(&mut flow, Msg(4, 1)), None);
        assert_eq!(take(&mut flow, Msg(5, 2)), Some(5));
        // Delivered again (a new consumer sequence, the same stream sequence).
        assert_eq!(take(&mut flow, Msg(5, 3)), None);
        assert_eq!(take(&mut flow, Msg(6, 4)), Some(6));
        assert_eq!(flow.taken_seq(), 6);
    }
}
