//! One classification per dialled number for the whole process. The analysis engine (on its
//! own thread) and the rules (on the pipeline's) both ask what an INVITE's Request-URI user is,
//! for the same messages, moments apart; libphonenumber's answer is the costliest thing either
//! does per INVITE. [`classify_shared`] remembers [`super::classify`]'s answer by the exact
//! input text, so whichever asks first pays and the other finds it. The memo changes no
//! result (the function is pure); it only saves the second computation. Bounded: two
//! generations of at most [`SHARED_CLASSES`]` / 2` entries each, whatever an attacker dials.

use super::Dialled;
use crate::analysis::FastMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Numbers remembered at most (both generations). Enough for the analysis thread to find what
/// the rules classified while it lags behind them by a batch or two. Default 16,384.
pub const SHARED_CLASSES: usize = 16_384;

/// Longest input remembered (bytes); longer ones are classified every time.
const MAX_KEY_BYTES: usize = 256;

#[derive(Default)]
struct Classes {
    current: FastMap<Box<str>, Arc<Dialled>>,
    previous: FastMap<Box<str>, Arc<Dialled>>,
}

impl Classes {
    fn get(&self, user: &str) -> Option<Arc<Dialled>> {
        self.current.get(user).or_else(|| self.previous.get(user)).cloned()
    }

    fn insert(&mut self, user: &str, d: Arc<Dialled>) {
        if self.current.len() >= SHARED_CLASSES / 2 {
            // The old previous generation's table is emptied and reused (no reallocation).
            std::mem::swap(&mut self.current, &mut self.previous);
            self.current.clear();
        }
        self.current.insert(user.into(), d);
    }
}

fn classes() -> &'static Mutex<Classes> {
    static CLASSES: OnceLock<Mutex<Classes>> = OnceLock::new();
    CLASSES.get_or_init(Mutex::default)
}

/// [`super::classify`] of `user`, computed once for the process while it is remembered.
pub fn classify_shared(user: &str) -> Arc<Dialled> {
    if user.len() > MAX_KEY_BYTES {
        return Arc::new(super::classify(user));
    }
    // A poisoned lock only means another thread panicked while holding it; the map itself is
    // always consistent (every write is one insert), so it is used as it is.
    if let Some(hit) = classes().lock().unwrap_or_else(|e| e.into_inner()).get(user) {
        return hit;
    }
    // Computed outside the lock: the other thread is never kept waiting for libphonenumber.
    let d = Arc::new(super::classify(user));
    classes().lock().unwrap_or_else(|e| e.into_inner()).insert(user, Arc::clone(&d));
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_answers_are_the_function_s() {
        for user in ["0046701234567", "+4319001234", "100", "*97", "admin", "", "0900123456"] {
            let first = classify_shared(user);
            let again = classify_shared(user);
            assert_eq!(*first, super::super::classify(user), "{user}");
            assert_eq!(first, again, "{user}");
        }
        let long = "1".repeat(MAX_KEY_BYTES + 1);
        assert_eq!(*classify_shared(&long), super::super::classify(&long));
    }

    #[test]
    fn holds_at_most_its_limit() {
        let mut c = Classes::default();
        let d = Arc::new(Dialled::Invalid);
        for i in 0..SHARED_CLASSES * 3 {
            c.insert(&i.to_string(), Arc::clone(&d));
            assert!(c.current.len() + c.previous.len() <= SHARED_CLASSES);
        }
        assert!(c.get(&(SHARED_CLASSES * 3 - 1).to_string()).is_some());
        assert!(c.get("0").is_none());
    }
}
