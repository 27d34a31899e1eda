//! The server's in-memory report index (`store/indexed/`): loaded in the background when the
//! server starts (beside the start-up build) and again when the store has changed, one load at
//! a time, on a reader of its own (its change marks are that connection's). A report build
//! uses it only when it holds what the store holds now — the store's change mark is the one
//! read when the load began — or when its load began less than [`FRESH`] ago, as a kept answer
//! is served: then the answer's build time is when the load began, so `Last-Modified` and
//! `Sipscope-Report-Built` stay true. When the store changed since a load that began less than
//! [`STALE_INDEX_MAX`] ago, the build still uses it (as of its load, said the same way) while
//! the next loads in the background; past that, the build reads the store itself and a load
//! starts in the background. A store the index cannot hold (more rows than
//! [`IndexLimits::max_rows`], a backend without change marks) is read as before.

use super::cache::FRESH;
use super::server::State;
use crate::store::indexed::{IndexLimits, ReportIndex};
use crate::store::StoreReader;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A loaded index and when.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub index: ReportIndex,
    /// The store's change mark, read before the load's snapshot.
    mark: i64,
    /// When the load began (wall clock, ns, and monotonic).
    began_ns: i64,
    began: Instant,
}

/// The index a build may use, with the time its answer holds the store as of (`None`: now).
pub(crate) type ForBuild = Option<(Arc<Loaded>, Option<i64>)>;

/// The index, its loader's reader, and whether a load is under way.
#[derive(Default)]
pub(crate) struct IndexSlot {
    current: Mutex<Option<Arc<Loaded>>>,
    /// The reader loads and change marks are read on; taken out while a load runs.
    reader: Mutex<Option<Box<dyn StoreReader + Send>>>,
    loading: AtomicBool,
    /// The change mark of the store when a load last found it could not be indexed (too
    /// large): not tried again until the store changes.
    refused: Mutex<Option<i64>>,
    limits: IndexLimits,
    /// Whether "not indexed" was logged (once).
    told: AtomicBool,
}

impl IndexSlot {
    fn current(&self) -> Option<Arc<Loaded>> {
        self.current.lock().ok().and_then(|c| c.clone())
    }
}

/// Starts a load in the background unless one is under way.
pub(crate) fn reload(state: &Arc<State>) {
    if state.index.loading.swap(true, Ordering::AcqRel) {
        return;
    }
    let state = Arc::clone(state);
    tokio::task::spawn_blocking(move || {
        let slot = &state.index;
        let taken = slot.reader.lock().ok().and_then(|mut r| r.take());
        let reader = match taken {
            Some(r) => Some(r),
            None => (state.backend.readers)().ok(),
        };
        if let Some(reader) = reader {
            let (began_ns, began) = (crate::time::now_ns(), Instant::now());
            // No marks (a backend that cannot tell): never indexed, never tried again; refused before and
            // unchanged since: not tried again.
            let mark = reader.change_mark().ok().flatten();
            let refused = slot.refused.lock().ok().and_then(|r| *r);
            let load = match mark {
                Some(m) if refused != Some(m) => ReportIndex::load(reader.as_ref(), slot.limits),
                _ => Ok(None),
            };
            match load {
                Ok(Some((index, mark))) => {
                    tracing::debug!(
                        "API: report index loaded: {} rows, about {} MB, in {:?}",
                        index.rows(),
                        index.bytes() >> 20,
                        began.elapsed()
                    );
                    if let Ok(mut current) = slot.current.lock() {
                        *current = Some(Arc::new(Loaded { index, mark, began_ns, began }));
                    }
                }
                Ok(None) => {
                    if let (Some(mark), Ok(mut refused)) = (mark, slot.refused.lock()) {
                        *refused = Some(mark);
                    }
                    if !slot.told.swap(true, Ordering::Relaxed) {
                        tracing::info!(
                            "API: no in-memory report index (the store cannot hand its tables over, or holds more \
                             than {} rows): reports read the store",
                            slot.limits.max_rows
                        );
                    }
                }
                Err(e) => tracing::warn!("API: loading the report index: {e}"),
            }
            if let Ok(mut kept) = slot.reader.lock() {
                *kept = Some(reader);
            }
        }
        slot.loading.store(false, Ordering::Release);
    });
}

/// How long after its load began an index still answers builds once the store has changed,
/// while the next one loads: such an answer holds the store as of that load and says so in
/// its build time, as a kept answer older than [`FRESH`] is served once while it is rebuilt.
/// Without it, on a store written all the time (a honeypot's), the first range asked for after
/// a quiet spell of [`FRESH`] would read the store (a whole build: 0.25–0.35 s over 10 M events)
/// while the index loads again.
pub(crate) const STALE_INDEX_MAX: Duration = Duration::from_secs(60);

/// What a build does with the index there is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Use it; the answer holds the store as of the index's load (it began under [`FRESH`] ago).
    AsOfLoad,
    /// Use it; the store has not changed since its load.
    AsNow,
    /// Use it, as of its load, and load the next (the store changed; it is young enough).
    AsOfLoadWhileReloading,
    /// Read the store and load the next.
    ReadStoreWhileReloading,
}

/// The verdict for an index whose load began `age` ago; `unchanged` tells whether the store
/// is as it was then (asked only when the age alone does not decide).
fn verdict(age: Duration, unchanged: impl FnOnce() -> bool) -> Verdict {
    if age < FRESH {
        Verdict::AsOfLoad
    } else if unchanged() {
        Verdict::AsNow
    } else if age < STALE_INDEX_MAX {
        Verdict::AsOfLoadWhileReloading
    } else {
        Verdict::ReadStoreWhileReloading
    }
}

/// The index a build beginning now may use; starts a load when there is none or the store
/// changed since.
pub(crate) async fn for_build(state: &Arc<State>) -> ForBuild {
    let Some(loaded) = state.index.current() else {
        reload(state);
        return None;
    };
    let age = loaded.began.elapsed();
    let unchanged = if age < FRESH {
        true
    } else {
        let check = Arc::clone(state);
        let mark = tokio::task::spawn_blocking(move || {
            // Busy loading: the store changed (that is why it loads).
            let reader = check.index.reader.lock().ok()?;
            reader.as_ref()?.change_mark().ok().flatten()
        })
        .await
        .ok()
        .flatten();
        mark == Some(loaded.mark)
    };
    let began_ns = loaded.began_ns;
    match verdict(age, || unchanged) {
        Verdict::AsOfLoad => Some((loaded, Some(began_ns))),
        Verdict::AsNow => Some((loaded, None)),
        Verdict::AsOfLoadWhileReloading => {
            reload(state);
            Some((loaded, Some(began_ns)))
        }
        Verdict::ReadStoreWhileReloading => {
            reload(state);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_young_or_current_index_answers_and_a_changed_store_is_read_only_past_the_stale_bound() {
        let asked = std::cell::Cell::new(false);
        let ask = |answer: bool| {
            asked.set(true);
            answer
        };
        // Under FRESH the store is not even asked.
        assert_eq!(verdict(FRESH / 2, || ask(false)), Verdict::AsOfLoad);
        assert!(!asked.get());
        assert_eq!(verdict(FRESH, || ask(true)), Verdict::AsNow);
        assert_eq!(verdict(STALE_INDEX_MAX * 10, || ask(true)), Verdict::AsNow);
        assert_eq!(verdict(FRESH, || ask(false)), Verdict::AsOfLoadWhileReloading);
        assert_eq!(verdict(STALE_INDEX_MAX - Duration::from_millis(1), || false), Verdict::AsOfLoadWhileReloading);
        assert_eq!(verdict(STALE_INDEX_MAX, || false), Verdict::ReadStoreWhileReloading);
        assert!(FRESH < STALE_INDEX_MAX);
    }
}
