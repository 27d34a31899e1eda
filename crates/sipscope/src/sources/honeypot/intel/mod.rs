//! Password intelligence: which password each failed digest attempt tried.
//!
//! The PBX hands every attempt it could not match (with its [`PreparedCredentials`]) to
//! [`Intel::submit`], which never blocks: a bounded queue ([`queue`]: jobs, bytes, jobs per
//! source; repeats of a waiting attempt join it) feeds one worker thread, and what does not fit
//! is counted in [`Skipped`] and skipped. The worker tests candidate passwords against the
//! digest, at most `max_candidates` per attempt, in the order described in [`candidates`]
//! (patterns from the username and realm first, because crackers try those first; then digit
//! patterns, the built-in list, numbers, the wordlist), and reports a [`RecoveredPassword`] for
//! every attempt through the caller's callback. [`Intel::finish`] lets it work on for at most
//! `shutdown_grace_seconds`, then stops it between two candidate batches, whatever is queued.
//!
//! Cost: two or three MD5 per candidate; for a (username, realm) seen recently, one (see
//! [`recover`]).

pub mod candidates;
pub mod queue;
pub mod recover;

#[cfg(test)]
mod shed_tests;
#[cfg(test)]
mod tests;

use crate::event::fields::lossless_text;
use crate::sources::honeypot::config::IntelConfig;
use md5::{Digest, Md5};
pub use queue::Skipped;
use queue::{JobQueue, Offer, QueueLimits, Waiting};
use recover::Recoverer;
use sipscope_sip::digest::{Credentials, PreparedCredentials, VerifyError};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

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
    /// The same for identical credentials ([`Recoverable::key`]).
    pub key: [u8; 16],
    /// Bytes the job holds, about ([`Recoverable::footprint`]).
    pub footprint: usize,
    /// Where the attempt came from (the queue bounds the jobs waiting per source).
    pub source: IpAddr,
}

impl IntelJob {
    /// A job from parsed credentials, for requests of `method`, from no particular source
    /// (set [`IntelJob::source`]); fails when the response cannot be computed (see
    /// [`PreparedCredentials::new`]).
    pub fn new(attempt_id: i64, creds: &Credentials<'_>, method: &[u8]) -> Result<IntelJob, VerifyError> {
        let Recoverable { prepared, key, footprint } = Recoverable::new(creds, method)?;
        let text = |v: Option<&[u8]>| lossless_text(v.unwrap_or_default());
        let source = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        Ok(IntelJob {
            attempt_id,
            username: text(creds.username),
            realm: text(creds.realm),
            prepared,
            key,
            footprint,
            source,
        })
    }
}

/// Credentials whose password recovery can look for, with what the queue needs to know.
#[derive(Clone)]
pub struct Recoverable {
    /// Ready for testing.
    pub prepared: PreparedCredentials,
    /// A hash of everything the response depends on and of the response itself (method,
    /// username, realm, nonce, uri, qop, nc, cnonce, algorithm, response): identical attempts,
    /// which a flood repeats, have the same key and the same answer.
    pub key: [u8; 16],
    /// Bytes a job for them holds, about (the credentials' values are kept twice over, plus
    /// hash states): what the queue's byte bound counts.
    pub footprint: usize,
}

impl Recoverable {
    /// From parsed credentials, for requests of `method`; fails as [`PreparedCredentials::new`].
    pub fn new(creds: &Credentials<'_>, method: &[u8]) -> Result<Recoverable, VerifyError> {
        let prepared = PreparedCredentials::new(creds, method)?;
        let param = |name: &[u8]| creds.param(name).map(|p| p.value);
        let values = [
            Some(method),
            creds.username,
            creds.realm,
            creds.nonce,
            creds.uri,
            param(b"qop"),
            creds.nc,
            creds.cnonce,
            param(b"algorithm"),
            creds.response,
        ];
        let mut h = Md5::new();
        let mut len = 0;
        for v in values {
            // Length-prefixed, so no two different lists hash the same bytes.
            match v {
                Some(v) => {
                    h.update((v.len() as u64).to_le_bytes());
                    h.update(v);
                    len += v.len();
                }
                None => h.update(u64::MAX.to_le_bytes()),
            }
        }
        let footprint = std::mem::size_of::<IntelJob>() + 3 * len + 512;
        Ok(Recoverable { prepared, key: h.finalize().into(), footprint })
    }
}

impl std::fmt::Debug for Recoverable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recoverable").field("footprint", &self.footprint).finish_non_exhaustive()
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
    shared: Arc<Shared>,
    worker: JoinHandle<()>,
    /// Closed (disconnected) when the worker ends.
    ended: std::sync::mpsc::Receiver<()>,
    grace: Duration,
}

/// What the listeners and the worker share.
struct Shared {
    queue: Mutex<JobQueue>,
    /// Signalled when a job is queued, the queue closes or the worker must stop.
    wake: Condvar,
    /// Set at shutdown: the worker stops between two candidate batches.
    stop: AtomicBool,
    /// The worker is waiting for work.
    idle: AtomicBool,
}

impl Intel {
    /// Starts the worker thread; loads the wordlist once (error if unreadable). `on_result` is
    /// called on the worker thread for every finished attempt. Whether intel is `enabled` is
    /// the caller's decision (do not spawn when it is not).
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
        let limits =
            QueueLimits { jobs: config.queue, bytes: config.queue_bytes, per_source: config.max_pending_per_source };
        let shared = Arc::new(Shared {
            queue: Mutex::new(JobQueue::new(limits)),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
            idle: AtomicBool::new(true),
        });
        let (ended_tx, ended) = std::sync::mpsc::channel::<()>();
        let theirs = Arc::clone(&shared);
        let worker = std::thread::Builder::new()
            .name("sipscope-intel".into())
            .spawn(move || {
                let _ended = ended_tx;
                work(&theirs, &mut recoverer, &mut on_result);
            })
            .map_err(IntelError::Spawn)?;
        let grace = Duration::from_secs(config.shutdown_grace_seconds);
        Ok(Intel { shared, worker, ended, grace })
    }

    /// Queues a job for an attempt received at `now_ns`. Never blocks: false (the attempt
    /// counted in [`Intel::skipped`]) when it does not fit; true when queued or joined to an
    /// identical waiting job.
    pub fn submit(&self, job: IntelJob, now_ns: i64) -> bool {
        let Ok(mut queue) = self.shared.queue.lock() else { return false };
        let idle = self.shared.idle.load(Ordering::Relaxed);
        let offer = queue.offer(job, idle, now_ns);
        drop(queue);
        if offer == Offer::Queued {
            self.shared.wake.notify_one();
        }
        offer != Offer::Shed
    }

    /// Attempts skipped so far, by reason.
    pub fn skipped(&self) -> Skipped {
        self.shared.queue.lock().map(|q| q.skipped()).unwrap_or_default()
    }

    /// Attempts skipped so far.
    pub fn dropped(&self) -> u64 {
        self.skipped().total()
    }

    /// At shutdown: accepts no more jobs, lets the worker go on with the queue for at most the
    /// configured grace (`shutdown_grace_seconds`), then stops it between two candidate batches
    /// and skips what is left. Returns every attempt skipped, by reason.
    pub fn finish(self) -> Skipped {
        let grace = self.grace;
        self.finish_within(grace)
    }

    /// [`Intel::finish`] with this grace.
    pub fn finish_within(self, grace: Duration) -> Skipped {
        let Intel { shared, worker, ended, .. } = self;
        if let Ok(mut queue) = shared.queue.lock() {
            queue.closed = true;
        }
        shared.wake.notify_all();
        // Disconnected when the worker is done; a timeout when it is still at work.
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = ended.recv_timeout(grace) {
            let _guard = shared.queue.lock();
            shared.stop.store(true, Ordering::Relaxed);
            shared.wake.notify_all();
        }
        if worker.join().is_err() {
            tracing::error!("the password intel worker panicked; the rest of its queue is lost");
        }
        let skipped = shared.queue.lock().map(|q| q.skipped()).unwrap_or_default();
        if skipped.total() > 0 {
            tracing::info!(
                queue_full = skipped.queue_full,
                source_full = skipped.source_full,
                repeated = skipped.repeated,
                stopped = skipped.stopped,
                "password recovery skipped {} attempts",
                skipped.total()
            );
        }
        skipped
    }
}

/// The worker: takes jobs until the queue is closed and empty, or until told to stop.
fn work(shared: &Shared, recoverer: &mut Recoverer, on_result: &mut impl FnMut(RecoveredPassword)) {
    loop {
        let next = {
            let Ok(mut queue) = shared.queue.lock() else { return };
            loop {
                if shared.stop.load(Ordering::Relaxed) {
                    queue.abandon(0);
                    return;
                }
                if let Some(w) = queue.take() {
                    shared.idle.store(false, Ordering::Relaxed);
                    break w;
                }
                if queue.closed {
                    return;
                }
                shared.idle.store(true, Ordering::Relaxed);
                queue = match shared.wake.wait(queue) {
                    Ok(q) => q,
                    Err(_) => return,
                };
            }
        };
        let Waiting { job, joined } = next;
        match recoverer.recover_unless(&job, &shared.stop) {
            Some(result) => {
                let answer = result.clone();
                on_result(result);
                for id in joined {
                    on_result(RecoveredPassword { attempt_id: id, ..answer.clone() });
                }
            }
            None => {
                if let Ok(mut queue) = shared.queue.lock() {
                    queue.abandon(1 + joined.len() as u64);
                }
                return;
            }
        }
    }
}
