//! Report answers kept between requests. A whole report over a large store takes seconds
//! (docs/benchmarks.md: about 3 s over 10 M events), far more than a dashboard may wait at
//! every refresh, and it changes only as fast as the analysis hands rows over. So each report
//! (by its query) is built once, kept, and rebuilt in the background once it is older than
//! [`FRESH`]: requests get the last one built at once, never wait for a rebuild after the
//! first. At most [`MAX_ENTRIES`] are kept (the least recently asked for go first); the
//! overview without filters is built when the server starts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// The kept answers, by key (the section and the normalised query).
#[derive(Default)]
pub(crate) struct ReportCache(Mutex<HashMap<String, Entry>>);

/// What a lookup found.
pub(crate) enum Lookup {
    /// A fresh answer.
    Fresh(Arc<String>),
    /// An answer to serve now; the caller rebuilds it in the background.
    Stale(Arc<String>),
    /// Nothing yet: build it now.
    Missing,
}

impl ReportCache {
    pub fn get(&self, key: &str) -> Lookup {
        let Ok(mut all) = self.0.lock() else { return Lookup::Missing };
        let Some(e) = all.get_mut(key) else { return Lookup::Missing };
        e.asked = Instant::now();
        if e.built.elapsed() < FRESH || e.rebuilding {
            Lookup::Fresh(Arc::clone(&e.body))
        } else {
            e.rebuilding = true;
            Lookup::Stale(Arc::clone(&e.body))
        }
    }

    /// Keeps `body` for `key`.
    pub fn put(&self, key: String, body: Arc<String>) {
        let Ok(mut all) = self.0.lock() else { return };
        if all.len() >= MAX_ENTRIES && !all.contains_key(&key) {
            if let Some(oldest) = all.iter().min_by_key(|(_, e)| e.asked).map(|(k, _)| k.clone()) {
                all.remove(&oldest);
            }
        }
        let now = Instant::now();
        all.insert(key, Entry { body, built: now, asked: now, rebuilding: false });
    }

    /// A rebuild failed: the next request tries again.
    pub fn failed(&self, key: &str) {
        if let Ok(mut all) = self.0.lock() {
            if let Some(e) = all.get_mut(key) {
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
        assert!(matches!(c.get("a"), Lookup::Missing));
        c.put("a".into(), Arc::new("1".into()));
        assert!(matches!(c.get("a"), Lookup::Fresh(b) if *b == "1"));
        if let Ok(mut all) = c.0.lock() {
            all.get_mut("a").unwrap().built -= FRESH;
        }
        assert!(matches!(c.get("a"), Lookup::Stale(_)));
        assert!(matches!(c.get("a"), Lookup::Fresh(_)), "one rebuild at a time");
        for i in 0..MAX_ENTRIES + 5 {
            c.put(format!("k{i}"), Arc::new(String::new()));
        }
        assert_eq!(c.0.lock().unwrap().len(), MAX_ENTRIES);
    }
}
