//! A commit under way on a store's writer thread (`EventStore::commit_collected`): the collector
//! goes on decoding and parsing the next rows while the store commits the last ones, and
//! acknowledges a batch to its broker only once [`Committing`] says it is committed.

use super::SinkError;
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};

/// The outcome of a commit, once the writer has it.
#[derive(Debug)]
pub struct Committing(Receiver<Result<(), SinkError>>);

/// A commit asked of a writer thread: the collector's positions, and where the outcome goes.
pub(crate) struct CommitRequest {
    /// (sensor, kind, highest sequence) to raise in the batch.
    pub positions: Vec<(String, String, i64)>,
    /// When (`collector_positions.stored_ns`).
    pub now_ns: i64,
    reply: SyncSender<Result<(), SinkError>>,
}

impl CommitRequest {
    /// Gives the outcome to the waiting [`Committing`] (gone: nobody to tell).
    pub fn answer(self, result: Result<(), SinkError>) {
        let _ = self.reply.send(result);
    }
}

impl Committing {
    /// Sends a commit request through `send` (to a writer thread, which answers it in order
    /// with what was written before); the outcome comes through the returned [`Committing`].
    pub(crate) fn request(
        positions: Vec<(String, String, i64)>,
        now_ns: i64,
        send: impl FnOnce(CommitRequest) -> Result<(), SinkError>,
    ) -> Result<Committing, SinkError> {
        let (reply, committing) = Committing::pending();
        send(CommitRequest { positions, now_ns, reply })?;
        Ok(committing)
    }

    /// A commit whose outcome the writer thread sends through the returned sender.
    pub fn pending() -> (SyncSender<Result<(), SinkError>>, Committing) {
        let (tx, rx) = mpsc::sync_channel(1);
        (tx, Committing(rx))
    }

    /// A commit that already happened (a store without a writer thread of its own).
    pub fn done(result: Result<(), SinkError>) -> Committing {
        let (tx, committing) = Committing::pending();
        // The receiver is alive: the send cannot fail.
        let _ = tx.send(result);
        committing
    }

    /// The outcome when known, without waiting (`None`: still committing). Asked again after
    /// an outcome was given, it says the writer is gone.
    pub fn poll(&self) -> Option<Result<(), SinkError>> {
        match self.0.try_recv() {
            Ok(result) => Some(result),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Err(gone())),
        }
    }

    /// Waits for the outcome.
    pub fn wait(&self) -> Result<(), SinkError> {
        self.0.recv().unwrap_or_else(|_| Err(gone()))
    }
}

/// A writer that dropped the sender without an answer stopped.
fn gone() -> SinkError {
    SinkError::Writer("the store writer thread stopped before the commit".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outcome_is_given_once_and_a_dropped_writer_is_an_error() {
        let done = Committing::done(Ok(()));
        assert!(matches!(done.poll(), Some(Ok(()))));
        assert!(matches!(done.poll(), Some(Err(SinkError::Writer(_)))));
        let (tx, pending) = Committing::pending();
        assert!(pending.poll().is_none());
        tx.send(Err(SinkError::Writer("x".into()))).unwrap();
        assert!(matches!(pending.wait(), Err(SinkError::Writer(m)) if m == "x"));
        let (tx, dropped) = Committing::pending();
        drop(tx);
        assert!(matches!(dropped.wait(), Err(SinkError::Writer(_))));
    }
}
