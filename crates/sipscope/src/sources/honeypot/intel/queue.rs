//! The recovery queue, between the listeners (which never wait) and the worker: a flood of
//! failed attempts must not grow memory, starve other sources or outlast a shutdown. Bounded in
//! jobs and bytes in all and in jobs per source; an attempt identical to one waiting (a flood
//! repeats them) joins it instead of queueing a second recovery; what does not fit is shed,
//! counted by reason, and logged at most once per [`LOG_EVERY_NS`].
//!
//! Sans clock: the caller passes the receive time of the attempt.

use super::IntelJob;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

/// Attempt ids that may join one waiting job; further repeats are shed.
pub const JOINED_PER_JOB: usize = 64;
/// Shed attempts are logged at most this often (with the count since the last line).
pub const LOG_EVERY_NS: i64 = 10_000_000_000;

/// How much may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimits {
    /// Jobs waiting at most (0: none; the worker then only gets work while idle).
    pub jobs: usize,
    /// Bytes the waiting jobs hold at most (their [`IntelJob::footprint`]s).
    pub bytes: usize,
    /// Jobs one source address may have waiting at most.
    pub per_source: usize,
}

/// Attempts whose password was not looked for, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    /// The queue held its limit of jobs or bytes.
    pub queue_full: u64,
    /// The source already had its limit of jobs waiting.
    pub source_full: u64,
    /// Repeated more than [`JOINED_PER_JOB`] times while the first waited.
    pub repeated: u64,
    /// Still waiting (or being tested) when the honeypot stopped.
    pub stopped: u64,
}

impl Skipped {
    /// All of them.
    pub fn total(&self) -> u64 {
        self.queue_full + self.source_full + self.repeated + self.stopped
    }
}

/// What became of an offered job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// Queued.
    Queued,
    /// Joined an identical waiting job: its result is reported for this attempt too.
    Joined,
    /// Not queued (counted in [`Skipped`]).
    Shed,
}

/// A job the worker takes, with the attempts that repeated it while it waited.
#[derive(Debug)]
pub struct Waiting {
    /// The job.
    pub job: IntelJob,
    /// Ids of identical attempts: each gets the same result.
    pub joined: Vec<i64>,
}

/// The queue.
pub struct JobQueue {
    limits: QueueLimits,
    waiting: VecDeque<Waiting>,
    /// Sequence number of `waiting[0]`; a key maps to the sequence number of its job.
    first_seq: u64,
    by_key: HashMap<[u8; 16], u64>,
    per_source: HashMap<IpAddr, usize>,
    bytes: usize,
    /// No more jobs are accepted (shutting down).
    pub closed: bool,
    skipped: Skipped,
    unlogged: Skipped,
    logged_ns: Option<i64>,
    /// Its depth in the metrics (`sipscope_queue_depth{queue="intel"}`).
    depth: crate::metrics::DepthTracker,
}

impl JobQueue {
    /// An empty queue.
    pub fn new(limits: QueueLimits) -> JobQueue {
        JobQueue {
            limits,
            waiting: VecDeque::new(),
            first_seq: 0,
            by_key: HashMap::new(),
            per_source: HashMap::new(),
            bytes: 0,
            closed: false,
            skipped: Skipped::default(),
            unlogged: Skipped::default(),
            logged_ns: None,
            depth: crate::metrics::DepthTracker::new(crate::metrics::Queue::Intel),
        }
    }

    /// Queues `job` (received at `now_ns`), joins it to an identical waiting one, or sheds it.
    /// `idle`: the worker waits for work, so one job may be queued even with a limit of 0.
    pub fn offer(&mut self, job: IntelJob, idle: bool, now_ns: i64) -> Offer {
        if self.closed {
            return self.shed(|s| &mut s.stopped, now_ns);
        }
        let id_bytes = std::mem::size_of::<i64>();
        if let Some(&seq) = self.by_key.get(&job.key) {
            let over_bytes = self.bytes + id_bytes > self.limits.bytes;
            let slot = usize::try_from(seq - self.first_seq).ok().and_then(|i| self.waiting.get_mut(i));
            return match slot {
                Some(w) if w.joined.len() < JOINED_PER_JOB && !over_bytes => {
                    w.joined.push(job.attempt_id);
                    self.bytes += id_bytes;
                    Offer::Joined
                }
                _ => self.shed(|s| &mut s.repeated, now_ns),
            };
        }
        let jobs_limit = if idle && self.waiting.is_empty() { self.limits.jobs.max(1) } else { self.limits.jobs };
        if self.waiting.len() >= jobs_limit || self.bytes + job.footprint > self.limits.bytes.max(job.footprint) {
            return self.shed(|s| &mut s.queue_full, now_ns);
        }
        let pending = self.per_source.entry(job.source).or_insert(0);
        if *pending >= self.limits.per_source.max(1) {
            return self.shed(|s| &mut s.source_full, now_ns);
        }
        *pending += 1;
        self.bytes += job.footprint;
        self.by_key.insert(job.key, self.first_seq + self.waiting.len() as u64);
        self.waiting.push_back(Waiting { job, joined: Vec::new() });
        self.depth.set(self.waiting.len());
        Offer::Queued
    }

    /// The oldest waiting job.
    pub fn take(&mut self) -> Option<Waiting> {
        let w = self.waiting.pop_front()?;
        self.depth.set(self.waiting.len());
        self.first_seq += 1;
        self.by_key.remove(&w.job.key);
        if let Some(n) = self.per_source.get_mut(&w.job.source) {
            *n -= 1;
            if *n == 0 {
                self.per_source.remove(&w.job.source);
            }
        }
        self.bytes = self.bytes.saturating_sub(w.job.footprint + w.joined.len() * std::mem::size_of::<i64>());
        Some(w)
    }

    /// Jobs waiting.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Whether none waits.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Bytes the waiting jobs hold.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Drops every waiting job at shutdown, counting its attempts as stopped; `in_hand`
    /// attempts the worker abandoned are counted too.
    pub fn abandon(&mut self, in_hand: u64) {
        let mut n = in_hand;
        while let Some(w) = self.take() {
            n += 1 + w.joined.len() as u64;
        }
        self.skipped.stopped += n;
    }

    /// Attempts skipped so far.
    pub fn skipped(&self) -> Skipped {
        self.skipped
    }

    fn shed(&mut self, reason: impl Fn(&mut Skipped) -> &mut u64, now_ns: i64) -> Offer {
        *reason(&mut self.skipped) += 1;
        *reason(&mut self.unlogged) += 1;
        if self.logged_ns.is_none_or(|t| now_ns.saturating_sub(t) >= LOG_EVERY_NS) {
            let u = std::mem::take(&mut self.unlogged);
            tracing::warn!(
                queue_full = u.queue_full,
                source_full = u.source_full,
                repeated = u.repeated,
                stopping = u.stopped,
                "password recovery skipped {} attempts since the last such line (queue full, a source over its share, or repeats)",
                u.total()
            );
            self.logged_ns = Some(now_ns);
        }
        Offer::Shed
    }
}
