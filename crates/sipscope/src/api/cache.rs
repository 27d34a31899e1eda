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

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How long an answer is served before it is rebuilt (in the background).
pub(crate) const FRESH: Duration = Duration::from_secs(10);
/// Answers kept.
pub(crate) const MAX_ENTRIES: usize = 64;

struct Entry {
    body: Arc<String>,
    built: Instant,
    asked: Instant,
    rebuilding: bool,
}

/// The kept answers, by key (the section and the normalised query), and the first builds
/// under way (their waiters are told the answer, or that the build was given up: the sender
/// dropped without a value).
#[derive(Default)]
pub(crate) struct ReportCache(Mutex<Kept>);

#[derive(Default)]
struct Kept {
    done: HashMap<String, Entry>,
    building: HashMap<String, watch::Receiver<Option<Arc<String>>>>,
}

/// What a lookup found.
pub(crate) enum Lookup {
    /// A fresh answer.
    Fresh(Arc<String>),
    /// An answer to serve now; the caller rebuilds it in the background.
    Stale(Arc<String>),
    /// Nothing yet: build it now, then [`ReportCache::put`] it (which tells those waiting) or
    /// [`ReportCache::failed`].
    Missing(Building),
    /// Another request is building it for the first time: wait for its answer.
    Pending(Waiting),
}

/// The right to build an answer first, and the channel its waiters listen on.
pub(crate) struct Building(watch::Sender<Option<Arc<String>>>);

/// A wait for another request's first build.
pub(crate) struct Waiting(watch::Receiver<Option<Arc<String>>>);

impl Waiting {
    /// The answer built by the other request; `None` when that build failed or was dropped
    /// (the caller builds it itself).
    pub async fn answer(mut self) -> Option<Arc<String>> {
        let found = self.0.wait_for(Option::is_some).await.ok()?;
        found.as_ref().map(Arc::clone)
    }
}

impl ReportCache {
    pub fn get(&self, key: &str) -> Lookup {
        let Ok(mut all) = self.0.lock() else { return Lookup::Missing(Building(watch::channel(None).0)) };
        if let Some(e) = all.done.get_mut(key) {
            e.asked = Instant::now();
            return if e.built.elapsed() < FRESH || e.rebuilding {
                Lookup::Fresh(Arc::clone(&e.body))
            } else {
                e.rebuilding = true;
                Lookup::Stale(Arc::clone(&e.body))
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

    /// Keeps `body` for `key`, and hands it to the requests waiting for its first build.
    pub fn put(&self, key: String, body: Arc<String>, building: Option<Building>) {
        if let Some(Building(tx)) = building {
            tx.send_replace(Some(Arc::clone(&body)));
        }
        let Ok(mut all) = self.0.lock() else { return };
        all.building.remove(&key);
        if all.done.len() >= MAX_ENTRIES && !all.done.contains_key(&key) {
            if let Some(oldest) = all.done.iter().min_by_key(|(_, e)| e.asked).map(|(k, _)| k.clone()) {
                all.done.remove(&oldest);
            }
        }
        let now = Instant::now();
        all.done.insert(key, Entry { body, built: now, asked: now, rebuilding: false });
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

    #[test]
    fn answers_are_kept_bounded_and_rebuilt_once_when_stale() {
        let c = ReportCache::default();
        assert!(matches!(c.get("a"), Lookup::Missing(_)));
        c.put("a".into(), Arc::new("1".into()), None);
        assert!(matches!(c.get("a"), Lookup::Fresh(b) if *b == "1"));
        if let Ok(mut all) = c.0.lock() {
            all.done.get_mut("a").unwrap().built -= FRESH;
        }
        assert!(matches!(c.get("a"), Lookup::Stale(_)));
        assert!(matches!(c.get("a"), Lookup::Fresh(_)), "one rebuild at a time");
        for i in 0..MAX_ENTRIES + 5 {
            c.put(format!("k{i}"), Arc::new(String::new()), None);
        }
        assert_eq!(c.0.lock().unwrap().done.len(), MAX_ENTRIES);
    }

    #[tokio::test]
    async fn a_request_for_an_answer_being_built_waits_for_that_build() {
        let c = ReportCache::default();
        let Lookup::Missing(first) = c.get("k") else { panic!("nothing kept yet") };
        let Lookup::Pending(waiting) = c.get("k") else { panic!("the first build is under way") };
        let waiter = tokio::spawn(waiting.answer());
        c.put("k".into(), Arc::new("built once".into()), Some(first));
        assert_eq!(waiter.await.unwrap().as_deref().map(String::as_str), Some("built once"));
        assert!(matches!(c.get("k"), Lookup::Fresh(b) if *b == "built once"));

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
}
