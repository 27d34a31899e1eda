//! Password intelligence: which password each failed digest attempt tried.
//!
//! The PBX hands every attempt it could not match (with its [`PreparedCredentials`]) to
//! [`Intel::submit`], which never blocks: a bounded queue feeds one worker thread, and when
//! the queue is full the attempt is counted in [`Intel::dropped`] and skipped. The worker
//! tests candidate passwords against the digest, at most `max_candidates` per attempt, in the
//! order described in [`candidates`] (patterns from the username and realm first, because
//! crackers try those first; then digit patterns, the built-in list, numbers, the wordlist),
//! and reports a [`RecoveredPassword`] for every attempt through the caller's callback.
//!
//! Cost: two or three MD5 per candidate; for a (username, realm) seen recently, one (see
//! [`recover`]).

pub mod candidates;
pub mod recover;

#[cfg(test)]
mod tests;

use crate::event::fields::lossless_text;
use crate::sources::honeypot::config::IntelConfig;
use recover::Recoverer;
use sipscope_sip::digest::{Credentials, PreparedCredentials, VerifyError};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::thread::JoinHandle;

/// One failed attempt to recover.
#[derive(Debug, Clone)]
pub struct IntelJob {
    /// The attempt's id in the store, copied to the [`RecoveredPassword`].
    pub attempt_id: i64,
    /// The credentials' `username` exactly as the credentials carry it, as lossless text
    /// ([`lossless_text`]: invalid UTF-8 as `\xNN`), which is what the PBX records.
    pub username: String,
    /// The credentials' `realm` (not the honeypot's), likewise.
    pub realm: String,
    /// The credentials, ready for testing.
    pub prepared: PreparedCredentials,
}

impl IntelJob {
    /// A job from parsed credentials, for requests of `method`; fails when the response cannot
    /// be computed (see [`PreparedCredentials::new`]).
    pub fn new(attempt_id: i64, creds: &Credentials<'_>, method: &[u8]) -> Result<IntelJob, VerifyError> {
        let prepared = PreparedCredentials::new(creds, method)?;
        let text = |v: Option<&[u8]>| lossless_text(v.unwrap_or_default());
        Ok(IntelJob { attempt_id, username: text(creds.username), realm: text(creds.realm), prepared })
    }
}

pub use crate::event::record::RecoveredPassword;

/// Why password intelligence could not start.
#[derive(Debug, thiserror::Error)]
pub enum IntelError {
    /// The configured wordlist could not be read.
    #[error("cannot read the intel wordlist {}: {cause}", path.display())]
    Wordlist {
        /// The configured path.
        path: PathBuf,
        /// What went wrong (in the message, not a `source`: a chain prints it once).
        cause: std::io::Error,
    },
    /// The worker thread could not be started.
    #[error("cannot start the intel worker: {0}")]
    Spawn(std::io::Error),
}

/// The handle on the recovery worker. `Sync`: listener threads can share it.
///
/// Dropping it without [`Intel::finish`] lets the worker finish the queued jobs in the
/// background.
pub struct Intel {
    queue: SyncSender<IntelJob>,
    worker: JoinHandle<()>,
    dropped: AtomicU64,
}

impl Intel {
    /// Starts the worker thread; loads the wordlist once (error if unreadable). `on_result` is
    /// called on the worker thread for every finished job. Whether intel is `enabled` is the
    /// caller's decision (do not spawn when it is not).
    ///
    /// `config.queue` jobs wait at most; with 0, a job is taken only while the worker is idle.
    pub fn spawn(
        config: &IntelConfig,
        mut on_result: impl FnMut(RecoveredPassword) + Send + 'static,
    ) -> Result<Intel, IntelError> {
        let list = candidates::StaticList::load(config.wordlist.as_deref(), config.max_candidates)
            .map_err(|cause| IntelError::Wordlist { path: config.wordlist.clone().unwrap_or_default(), cause })?;
        tracing::info!(candidates = list.len(), max_candidates = config.max_candidates, "password intel ready");
        let mut recoverer = Recoverer::new(list, config.max_candidates);
        let (queue, jobs) = sync_channel::<IntelJob>(config.queue);
        let worker = std::thread::Builder::new()
            .name("sipscope-intel".into())
            .spawn(move || {
                for job in jobs {
                    on_result(recoverer.recover(&job));
                }
            })
            .map_err(IntelError::Spawn)?;
        Ok(Intel { queue, worker, dropped: AtomicU64::new(0) })
    }

    /// Queues a job. Never blocks: false (and one more [`Intel::dropped`]) when the queue is
    /// full or the worker is gone.
    pub fn submit(&self, job: IntelJob) -> bool {
        match self.queue.try_send(job) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Jobs refused by [`Intel::submit`] so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Finishes the queued jobs, then stops the worker (at shutdown, so that every recovery
    /// is stored). Blocks until then.
    pub fn finish(self) {
        let Intel { queue, worker, dropped } = self;
        drop(queue);
        if worker.join().is_err() {
            tracing::error!("the password intel worker panicked; the rest of its queue is lost");
        }
        let dropped = dropped.into_inner();
        if dropped > 0 {
            tracing::info!(dropped, "password intel skipped attempts (queue full)");
        }
    }
}
