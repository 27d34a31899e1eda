//! Testing one attempt's candidates, with HA1s cached per (username, realm).
//!
//! A cracker floods one user with many nonces, so every job for that user walks the same
//! candidate sequence; only the last MD5 (the response over nonce and HA2) depends on the
//! nonce. The cache keeps `hex(md5(user:realm:password))` for each position of the sequence,
//! so a repeated (user, realm) pays one MD5 per candidate instead of two. A job identical to one
//! recently finished (same [`IntelJob::key`]) gets that job's answer without any hashing.
//!
//! A stop flag is read every [`STOP_CHECK_EVERY`] candidates, so a shutdown never waits for
//! more than one batch (a few milliseconds), however long the wordlist.

use super::candidates::{user_patterns, StaticList, PATTERN};
use super::{IntelJob, RecoveredPassword};
use crate::event::fields::lossless_text;
use crate::sources::honeypot::pbx::state::Bounded;
use md5::{Digest, Md5};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};

/// (username, realm) pairs whose HA1s are kept; the least recently used goes first.
pub const CACHE_PAIRS: usize = 4;
/// HA1s kept per pair (32 bytes each: 8 MiB per pair, 32 MiB for all). Candidates further
/// down the sequence are hashed again every time.
pub const CACHE_PER_PAIR: usize = 1 << 18;
/// Candidates tested between two reads of the stop flag (about a millisecond of work).
pub const STOP_CHECK_EVERY: usize = 4096;
/// Answers of finished jobs kept for identical later ones.
pub const RECENT_ANSWERS: usize = 4096;

/// A finished job's answer: the password and its source, candidates tried.
type Answer = (Option<String>, Option<&'static str>, usize);

/// The worker's state: the static candidates and the HA1 cache.
pub struct Recoverer {
    list: StaticList,
    max_candidates: usize,
    cache: Ha1Cache,
    recent: Bounded<[u8; 16], Answer>,
    /// HA1s computed (for tests: cache hits compute none).
    pub ha1_computed: u64,
    /// Candidates tested in all (for tests).
    pub candidates_tested: u64,
}

impl Recoverer {
    /// A recoverer trying at most `max_candidates` per job.
    pub fn new(list: StaticList, max_candidates: usize) -> Self {
        Recoverer {
            list,
            max_candidates,
            cache: Ha1Cache::default(),
            recent: Bounded::new(RECENT_ANSWERS),
            ha1_computed: 0,
            candidates_tested: 0,
        }
    }

    /// Tests the job's candidates in order, until the first match or `max_candidates`.
    #[cfg(test)]
    pub fn recover(&mut self, job: &IntelJob) -> RecoveredPassword {
        self.recover_unless(job, &AtomicBool::new(false)).expect("never stopped")
    }

    /// Tests the job's candidates in order, until the first match or `max_candidates`; none
    /// when `stop` was set (read before every batch of [`STOP_CHECK_EVERY`] candidates).
    pub fn recover_unless(&mut self, job: &IntelJob, stop: &AtomicBool) -> Option<RecoveredPassword> {
        if let Some((password, source, tried)) = self.recent.get(&job.key) {
            let (password, source, tried) = (password.clone(), *source, *tried);
            return Some(RecoveredPassword { attempt_id: job.attempt_id, published_by: None, password, source, tried });
        }
        let stopped = || stop.load(Ordering::Relaxed);
        let own = user_patterns(&job.username, &job.realm);
        let skip: HashSet<&[u8]> = own.iter().map(Vec::as_slice).collect();
        let statics = self.list.iter().filter(|(c, _)| !skip.contains(c));
        let candidates = own.iter().map(|c| (c.as_slice(), PATTERN)).chain(statics).take(self.max_candidates);
        let mut tried = 0;
        let found = if cacheable(job) {
            let ha1s = self.cache.entry(&job.username, &job.realm);
            let mut prefix = Md5::new();
            for part in [job.username.as_bytes(), b":", job.realm.as_bytes(), b":"] {
                prefix.update(part);
            }
            let mut found = None;
            for (pos, (candidate, source)) in candidates.enumerate() {
                if tried % STOP_CHECK_EVERY == 0 && stopped() {
                    self.candidates_tested += tried as u64;
                    return None;
                }
                tried += 1;
                let ha1 = match ha1s.get(pos) {
                    Some(ha1) => *ha1,
                    None => {
                        let mut hasher = prefix.clone();
                        hasher.update(candidate);
                        let mut ha1 = [0u8; 32];
                        // 16 bytes always make 32 hex digits.
                        if hex::encode_to_slice(hasher.finalize(), &mut ha1).is_err() {
                            continue;
                        }
                        self.ha1_computed += 1;
                        if ha1s.len() == pos && pos < CACHE_PER_PAIR {
                            ha1s.push(ha1);
                        }
                        ha1
                    }
                };
                if job.prepared.matches_ha1(&ha1) {
                    found = Some((candidate, source));
                    break;
                }
            }
            found
        } else {
            let mut found = None;
            for (candidate, source) in candidates {
                if tried % STOP_CHECK_EVERY == 0 && stopped() {
                    self.candidates_tested += tried as u64;
                    return None;
                }
                tried += 1;
                if job.prepared.matches(candidate) {
                    found = Some((candidate, source));
                    break;
                }
            }
            found
        };
        self.candidates_tested += tried as u64;
        let (password, source) = (found.map(|(c, _)| lossless_text(c)), found.map(|(_, s)| s));
        self.recent.insert(job.key, (password.clone(), source, tried));
        Some(RecoveredPassword { attempt_id: job.attempt_id, published_by: None, password, source, tried })
    }

    /// (username, realm) pairs cached, most recent first.
    #[cfg(test)]
    pub fn cached_pairs(&self) -> Vec<(&str, &str, usize)> {
        self.cache.pairs.iter().map(|p| (p.username.as_str(), p.realm.as_str(), p.ha1s.len())).collect()
    }
}

/// Whether our HA1 of the job's username and realm is the one the credentials hash.
///
/// The job carries them as lossless text; without a backslash that text is exactly the bytes
/// sent (`lossless_text` writes invalid UTF-8 as `\xNN`). With one, either the text is not
/// the bytes, or the credentials also hash the escape-resolved reading, whose HA1 differs
/// from ours, and `matches_ha1` would check that reading against the wrong HA1: such jobs go
/// through `matches`, which hashes both readings itself. A backslash only in the nonce or
/// URI is harmless: both readings share the HA1.
fn cacheable(job: &IntelJob) -> bool {
    !job.username.contains('\\') && !job.realm.contains('\\')
}

/// HA1s by candidate position for a few (username, realm) pairs, most recent first.
#[derive(Default)]
struct Ha1Cache {
    pairs: Vec<Pair>,
}

struct Pair {
    username: String,
    realm: String,
    ha1s: Vec<[u8; 32]>,
}

impl Ha1Cache {
    /// The pair's HA1s, moved to the front; a new empty entry (evicting the least recently
    /// used) if not cached.
    fn entry(&mut self, username: &str, realm: &str) -> &mut Vec<[u8; 32]> {
        match self.pairs.iter().position(|p| p.username == username && p.realm == realm) {
            Some(i) => {
                let pair = self.pairs.remove(i);
                self.pairs.insert(0, pair);
            }
            None => {
                self.pairs.truncate(CACHE_PAIRS - 1);
                let pair = Pair { username: username.to_owned(), realm: realm.to_owned(), ha1s: Vec::new() };
                self.pairs.insert(0, pair);
            }
        }
        &mut self.pairs[0].ha1s
    }
}
