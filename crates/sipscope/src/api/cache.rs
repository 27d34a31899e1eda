//! Report answers kept between requests. A whole report over a large store takes seconds
//! (docs/benchmarks.md: about 3 s over 10 M events), far more than a dashboard may wait at
//! every refresh, and it changes only as fast as the analysis hands rows over. So each report
//! (by its query) is built once, kept, and rebuilt in the background once it is older than
//! [`FRESH`]: requests get the last one built at once, never wait for a rebuild after the
//! first. At most [`MAX_ENTRIES`] are kept (the least recently asked for go first); the
//! overview without filters is built when the server starts. A request for an answer being
//! built for the first time waits for that build instead of starting another one beside it
//! (the first request after start used to build the overview a second time while the start-up
//! build ran: two builds sharing two cores, twice as long).
//!
//! Answers built ahead of requests (the overview, the dashboard's quick ranges) are also kept
//! in the store, at most every [`KEEP_EVERY`] (`api/kept.rs`), and a server started again puts
//! them back here first ([`ReportCache::restore`]): served at once, as a stale answer is, until
//! this run has built its own. Every answer says when its build began ([`Answer::built_ns`])
//! and whether an earlier run built it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How long an answer is served before it is rebuilt (in the background).
pub(crate) const FRESH: Duration = Duration::from_secs(10);
/// Answers kept.
pub(crate) const MAX_ENTRIES: usize = 64;
/// How often an answer built ahead of requests is written to the store at most (its first
/// build in a run is written at once; the rebuilds every [`FRESH`] are not all written, and
/// one the same as the last written is not written again: a store nothing writes to any more
/// is not written to every minute while a dashboard watches it).
pub(crate) const KEEP_EVERY: Duration = Duration::from_secs(60);

/// An answer and when it was made.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    /// The JSON served.
    pub body: Arc<String>,
    /// When its build began (the wall clock, ns): it holds what the store held then.
    pub built_ns: i64,
    /// Built by an earlier run of the server and kept in the store, not by this run.
    pub earlier: bool,
}

struct Entry {
    answer: Answer,
    built: Instant,
    asked: Instant,
    rebuilding: bool,
    /// Built ahead of requests: kept in the store too.
    ahead: bool,
    /// When it was last handed to the store, and what was.
    stored: Option<(Instant, Arc<String>)>,
}

/// The kept answers, by key (the section and the normalised query), and the first builds
/// under way (their waiters are told the answer, or that the build was given up: the sender
/// dropped without a value).
#[derive(Default)]
pub(crate) struct ReportCache(Mutex<Kept>);

#[derive(Default)]
struct Kept {
    done: HashMap<String, Entry>,
    building: HashMap<String, watch::Receiver<Option<Answer>>>,
}

/// What a lookup found.
pub(crate) enum Lookup {
    /// A fresh answer.
    Fresh(Answer),
    /// An answer to serve now (older than [`FRESH`], or an earlier run's); the caller rebuilds
    /// it (in the background, for a request).
    Stale(Answer),
    /// Nothing yet: build it now, then [`ReportCache::put`] it (which tells those waiting) or
    /// [`ReportCache::failed`].
    Missing(Building),
    /// Another request is building it for the first time: wait for its answer.
    Pending(Waiting),
}

/// The right to build an answer first, and the channel its waiters listen on.
pub(crate) struct Building(watch::Sender<Option<Answer>>);

/// A wait for another request's first build.
pub(crate) struct Waiting(watch::Receiver<Option<Answer>>);

impl Waiting {
    /// The answer built by the other request; `None` when that build failed or was dropped
    /// (the caller builds it itself).
    pub async fn answer(mut self) -> Option<Answer> {
        let found = self.0.wait_for(Option::is_some).await.ok()?;
        found.clone()
    }
}

impl ReportCache {
    pub fn get(&self, key: &str) -> Lookup {
        let Ok(mut all) = self.0.lock() else { return Lookup::Missing(Building(watch::channel(None).0)) };
        if let Some(e) = all.done.get_mut(key) {
            e.asked = Instant::now();
            return if e.rebuilding || (e.built.elapsed() < FRESH && !e.answer.earlier) {
                Lookup::Fresh(e.answer.clone())
            } else {
                e.rebuilding = true;
                Lookup::Stale(e.answer.clone())
            };
        }
        // A build whose request went away (its future dropped) left a closed channel: build
        // again rather than wait for nothing.
        if let Some(rx) = all.building.get(key) {
            if rx.has_changed().is_ok() {
                return Lookup::Pending(Waiting(rx.clone()));
            }
        }
        // Those dropped before anyone asked again go too (bounded by the requests under way).
        all.building.retain(|_, rx| rx.has_changed().is_ok());
        let (tx, rx) = watch::channel(None);
        all.building.insert(key.to_owned(), rx);
        Lookup::Missing(Building(tx))
    }

    /// Keeps `answer` for `key`, and hands it to the requests waiting for its first build.
    /// `ahead`: built ahead of requests (an answer once so stays so). True when it is due to be
    /// written to the store (built ahead, and not written in the last [`KEEP_EVERY`]).
    pub fn put(&self, key: String, answer: Answer, building: Option<Building>, ahead: bool) -> bool {
        if let Some(Building(tx)) = building {
            tx.send_replace(Some(answer.clone()));
        }
        let Ok(mut all) = self.0.lock() else { return false };
        all.building.remove(&key);
        let before = all.done.get(&key).map(|e| (e.ahead, e.stored.clone()));
        if before.is_none() && all.done.len() >= MAX_ENTRIES {
            if let Some(oldest) = all.done.iter().min_by_key(|(_, e)| e.asked).map(|(k, _)| k.clone()) {
                all.done.remove(&oldest);
            }
        }
        let now = Instant::now();
        let (was_ahead, stored) = before.unwrap_or((false, None));
        let ahead = ahead || was_ahead;
        let due = ahead
            && stored.as_ref().is_none_or(|(at, body)| now.duration_since(*at) >= KEEP_EVERY && *body != answer.body);
        let stored = if due { Some((now, Arc::clone(&answer.body))) } else { stored };
        // Fresh for FRESH from when its build began, not from now, when that was less than FRESH
        // ago: an answer built from the report index (`api/index.rs`) holds the store as of the
        // index's load. (An earlier run's part, or a clock that jumped: from now.)
        let age =
            Duration::from_nanos(u64::try_from(crate::time::now_ns().saturating_sub(answer.built_ns)).unwrap_or(0));
        let built = match (answer.earlier, age < FRESH) {
            (false, true) => now.checked_sub(age).unwrap_or(now),
            _ => now,
        };
        all.done.insert(key, Entry { answer, built, asked: now, rebuilding: false, ahead, stored });
        due
    }

    /// Puts back an answer an earlier run kept in the store, unless this run has one: served
    /// as a stale answer is (at once, rebuilt by the first lookup), built ahead of requests.
    pub fn restore(&self, key: String, answer: Answer) {
        let Ok(mut all) = self.0.lock() else { return };
        if all.done.len() >= MAX_ENTRIES || all.done.contains_key(&key) || all.building.contains_key(&key) {
            return;
        }
        let now = Instant::now();
        let answer = Answer { earlier: true, ..answer };
        all.done.insert(key, Entry { answer, built: now, asked: now, rebuilding: false, ahead: true, stored: None });
    }

    /// A build failed: the next request tries again (those waiting for a first build are
    /// told, when its [`Building`] is dropped, and build it themselves).
    pub fn failed(&self, key: &str) {
        if let Ok(mut all) = self.0.lock() {
            all.building.remove(key);
            if let Some(e) = all.done.get_mut(key) {
                e.rebuilding = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: &str) -> Answer {
        Answer { body: Arc::new(body.to_owned()), built_ns: 7, earlier: false }
    }

    #[test]
    fn answers_are_kept_bounded_and_rebuilt_once_when_stale() {
        let c = ReportCache::default();
        assert!(matches!(c.get("a"), Lookup::Missing(_)));
        assert!(!c.put("a".into(), answer("1"), None, false), "asked for: not kept in the store");
        assert!(matches!(c.get("a"), Lookup::Fresh(b) if *b.body == "1"));
        if let Ok(mut all) = c.0.lock() {
            all.done.get_mut("a").unwrap().built -= FRESH;
        }
        assert!(matches!(c.get("a"), Lookup::Stale(_)));
        assert!(matches!(c.get("a"), Lookup::Fresh(_)), "one rebuild at a time");
        for i in 0..MAX_ENTRIES + 5 {
            c.put(format!("k{i}"), answer(""), None, false);
        }
        assert_eq!(c.0.lock().unwrap().done.len(), MAX_ENTRIES);
    }

    #[test]
    fn an_answer_is_fresh_for_fresh_from_when_its_build_began() {
        let c = ReportCache::default();
        let began = crate::time::now_ns() - 9 * crate::time::SECOND_NS;
        c.put("i".into(), Answer { body: Arc::new("x".into()), built_ns: began, earlier: false }, None, false);
        assert!(c.0.lock().unwrap().done["i"].built.elapsed() >= Duration::from_secs(9));
        // Begun longer ago than FRESH (a clock that jumped): fresh from now.
        c.put("j".into(), answer("y"), None, false);
        assert!(c.0.lock().unwrap().done["j"].built.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn a_request_for_an_answer_being_built_waits_for_that_build() {
        let c = ReportCache::default();
        let Lookup::Missing(first) = c.get("k") else { panic!("nothing kept yet") };
        let Lookup::Pending(waiting) = c.get("k") else { panic!("the first build is under way") };
        let waiter = tokio::spawn(waiting.answer());
        c.put("k".into(), answer("built once"), Some(first), false);
        assert_eq!(waiter.await.unwrap().map(|a| a.body.to_string()).as_deref(), Some("built once"));
        assert!(matches!(c.get("k"), Lookup::Fresh(b) if *b.body == "built once"));

        // A build given up (its request gone): the waiters build it themselves, and so does
        // the next request.
        let Lookup::Missing(dropped) = c.get("other") else { panic!() };
        let Lookup::Pending(waiting) = c.get("other") else { panic!() };
        drop(dropped);
        assert!(waiting.answer().await.is_none());
        assert!(matches!(c.get("other"), Lookup::Missing(_)));
        c.failed("other");
        assert!(c.0.lock().unwrap().building.is_empty());
    }

    #[test]
    fn an_earlier_runs_answer_is_served_until_this_run_rebuilt_it() {
        let c = ReportCache::default();
        c.restore("o".into(), Answer { body: Arc::new("old".into()), built_ns: 1, earlier: false });
        // The first lookup serves it and rebuilds it (however young its entry is), the next
        // ones serve it while that rebuild runs.
        let Lookup::Stale(first) = c.get("o") else { panic!("an earlier run's answer is stale") };
        assert_eq!((first.body.as_str(), first.built_ns, first.earlier), ("old", 1, true));
        assert!(matches!(c.get("o"), Lookup::Fresh(a) if a.earlier && *a.body == "old"));
        // This run's build replaces it, and is due to be written to the store at once.
        assert!(c.put("o".into(), answer("new"), None, false), "restored answers are built ahead");
        assert!(matches!(c.get("o"), Lookup::Fresh(a) if !a.earlier && *a.body == "new"));
        // A rebuild soon after is not written again; one a while later is, unless it is the
        // same as the one written.
        assert!(!c.put("o".into(), answer("newer"), None, false));
        let age = |c: &ReportCache| {
            if let Ok(mut all) = c.0.lock() {
                let e = all.done.get_mut("o").unwrap();
                e.stored = e.stored.take().map(|(at, body)| (at - KEEP_EVERY, body));
            }
        };
        age(&c);
        assert!(!c.put("o".into(), answer("new"), None, false), "the same as the one written");
        assert!(c.put("o".into(), answer("newest"), None, false));
        age(&c);
        assert!(c.put("o".into(), answer("newer"), None, false));
        assert!(!c.put("o".into(), answer("newest"), None, false), "written a moment ago");
        // A failed rebuild of an earlier run's answer is tried again by the next lookup.
        c.restore("p".into(), answer("kept"));
        assert!(matches!(c.get("p"), Lookup::Stale(_)));
        c.failed("p");
        assert!(matches!(c.get("p"), Lookup::Stale(_)));
        // Never over this run's own answer.
        c.restore("o".into(), answer("older"));
        assert!(matches!(c.get("o"), Lookup::Fresh(a) if *a.body == "newest"));
    }
}
