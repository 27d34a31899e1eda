//! Password recovery against the real tools' credentials (crates/sip/tests/fixtures/tools): their
//! responses were computed for another PBX's nonces, but they are still valid digests of the
//! passwords the tools guessed.

use super::candidates::{StaticList, BUILTIN, PATTERN, WORDLIST};
use super::recover::{Recoverer, CACHE_PAIRS};
use super::*;
use sipscope_sip::digest::{Algorithm, CredentialsSpec};
use std::io::Write;
use std::sync::mpsc::channel;
use std::sync::{Arc, Mutex};

pub(super) fn fixture_job(path: &str, attempt_id: i64) -> IntelJob {
    let bytes = crate::test_support::tool_message(path);
    let msg = sipscope_sip::parse(&bytes).unwrap();
    let creds = msg.credentials().expect("an Authorization header");
    IntelJob::new(attempt_id, &creds, msg.method().unwrap()).unwrap()
}

/// A job for credentials an RFC-conforming client would send, qop=auth.
pub(super) fn built_job(user: &str, password: &[u8], nonce: &str, attempt_id: i64) -> IntelJob {
    let spec = CredentialsSpec {
        username: user.as_bytes(),
        password,
        realm: b"asterisk",
        nonce: nonce.as_bytes(),
        method: b"REGISTER",
        uri: b"sip:127.0.0.1",
        qop: Some(sipscope_sip::digest::ClientQop { nc: 1, cnonce: b"c0ffee" }),
        opaque: None,
        algorithm: Some(Algorithm::Md5),
    };
    let mut value = Vec::new();
    spec.write_value(&mut value).unwrap();
    IntelJob::new(attempt_id, &Credentials::parse(&value).unwrap(), b"REGISTER").unwrap()
}

fn recoverer(max_candidates: usize, wordlist: Option<&std::path::Path>) -> Recoverer {
    Recoverer::new(StaticList::load(wordlist, max_candidates).unwrap(), max_candidates)
}

fn found(r: &RecoveredPassword) -> (Option<&str>, Option<&str>) {
    (r.password.as_deref(), r.source)
}

#[test]
fn svcrack_guesses_are_recovered_in_order() {
    // `svcrack -u101 -r100-104`: the username first, then the range.
    let mut rec = recoverer(200_000, None);
    let guesses = ["101", "100", "101", "102", "103", "104"];
    for (i, guess) in guesses.iter().enumerate() {
        let job = fixture_job(&format!("svcrack-miss/{:04}.sip", 2 * i + 2), i as i64);
        let r = rec.recover(&job);
        assert_eq!((r.attempt_id, found(&r)), (i as i64, (Some(*guess), Some(PATTERN))), "guess {i}");
    }
    // The username is the very first candidate, as for svcrack itself.
    assert_eq!(rec.recover(&fixture_job("svcrack-miss/0002.sip", 0)).tried, 1);
    let r = rec.recover(&fixture_job("svcrack/0002.sip", 7));
    assert_eq!((found(&r), r.tried), ((Some("100"), Some(PATTERN)), 1));
}

#[test]
fn nmap_sip_brute_guesses_are_recovered() {
    // passdb 1234,100,secret, and each username as its own password.
    let mut rec = recoverer(200_000, None);
    let expected = [
        ("0016", "100", PATTERN),
        ("0017", "101", PATTERN),
        ("0018", "1234", PATTERN),
        ("0019", "1234", PATTERN),
        ("0020", "100", PATTERN),
        ("0023", "secret", BUILTIN),
    ];
    for (file, password, source) in expected {
        let r = rec.recover(&fixture_job(&format!("nmap/{file}.sip"), 0));
        assert_eq!(found(&r), (Some(password), Some(source)), "{file}");
    }
}

#[test]
fn max_candidates_caps_each_job() {
    let job = fixture_job("svcrack-miss/0012.sip", 1); // 104
    let r = recoverer(5, None).recover(&job);
    assert_eq!((r.password, r.source, r.tried), (None, None, 5));
    let r = recoverer(0, None).recover(&job);
    assert_eq!((r.password, r.tried), (None, 0));
    let r = recoverer(1, None).recover(&fixture_job("svcrack-miss/0002.sip", 1)); // 101
    assert_eq!((found(&r), r.tried), ((Some("101"), Some(PATTERN)), 1));
    // Uncached, the same cap holds.
    let job = built_job("a\\b", b"zz-not-a-candidate", "n1", 3);
    assert!(job.username.contains('\\'));
    assert_eq!(recoverer(7, None).recover(&job).tried, 7);
}

#[test]
fn wordlist_is_tried_last_and_deduplicated() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(b"\r\npassword\r\ncorrect horse\r\n\n\xffpw\nhunter2\nlast-line").unwrap();
    let mut rec = recoverer(200_000, Some(file.path()));
    let statics = StaticList::load(Some(file.path()), usize::MAX).unwrap();
    let words: Vec<_> = statics.iter().filter(|(_, s)| *s == WORDLIST).map(|(c, _)| c.to_vec()).collect();
    // Empty lines and entries already in the list ("password" is built in) are left out.
    assert_eq!(words, [&b"correct horse"[..], b"\xffpw", b"hunter2", b"last-line"]);
    let own = super::candidates::user_patterns("200", "asterisk");
    let distinct: std::collections::HashSet<&[u8]> =
        statics.iter().map(|(c, _)| c).chain(own.iter().map(Vec::as_slice)).collect();

    let r = rec.recover(&built_job("200", b"correct horse", "a1", 1));
    assert_eq!(found(&r), (Some("correct horse"), Some(WORDLIST)));
    assert_eq!(r.tried, distinct.len() - 3);
    let r = rec.recover(&built_job("200", b"last-line", "a2", 2));
    assert_eq!(found(&r), (Some("last-line"), Some(WORDLIST)));
    // Non-UTF-8 lines are tested as the raw bytes and reported with escapes.
    let r = rec.recover(&built_job("200", b"\xffpw", "a3", 3));
    assert_eq!(found(&r), (Some("\\xffpw"), Some(WORDLIST)));
    let r = rec.recover(&built_job("200", b"password", "a4", 4));
    assert_eq!(found(&r), (Some("password"), Some(BUILTIN)));
    let r = rec.recover(&built_job("200", b"not in any list", "a5", 5));
    assert_eq!((r.password, r.tried), (None, distinct.len()));

    let missing = IntelConfig { wordlist: Some("/nonexistent/words.txt".into()), ..IntelConfig::default() };
    assert!(matches!(Intel::spawn(&missing, |_| {}), Err(IntelError::Wordlist { .. })));
}

#[test]
fn repeated_user_pays_for_ha1_once() {
    let mut rec = recoverer(200_000, None);
    let r = rec.recover(&fixture_job("svcrack-miss/0012.sip", 1)); // 104
    assert_eq!(r.password.as_deref(), Some("104"));
    assert_eq!(rec.ha1_computed, r.tried as u64);
    // Other nonces, same user: every HA1 up to the match comes from the cache.
    let r = rec.recover(&fixture_job("svcrack-miss/0010.sip", 2)); // 103
    assert_eq!(r.password.as_deref(), Some("103"));
    let r = rec.recover(&fixture_job("nmap/0023.sip", 3)); // 101 / secret, earlier in the list
    assert_eq!(r.password.as_deref(), Some("secret"));
    let before = rec.ha1_computed;
    assert!(before < 20_000, "{before}");
    let r = rec.recover(&built_job("101", b"104", "fresh", 4));
    assert_eq!(r.password.as_deref(), Some("104"));
    assert_eq!(rec.ha1_computed, before, "cached");
    // A miss fills the cache to max_candidates; the next miss computes nothing.
    let miss = built_job("101", b"not a candidate", "n", 5);
    let tried = rec.recover(&miss).tried as u64;
    let after_miss = rec.ha1_computed;
    assert_eq!(rec.recover(&miss).tried as u64, tried);
    assert_eq!(rec.ha1_computed, after_miss);

    // A few pairs at most, least recently used out first.
    for (i, user) in ["u1", "u2", "u3", "u4"].iter().enumerate() {
        rec.recover(&built_job(user, user.as_bytes(), "n", i as i64));
    }
    let pairs: Vec<&str> = rec.cached_pairs().iter().map(|p| p.0).collect();
    assert_eq!(pairs.len(), CACHE_PAIRS);
    assert_eq!(pairs, ["u4", "u3", "u2", "u1"]);
    rec.recover(&built_job("u2", b"u2", "m", 9));
    assert_eq!(rec.cached_pairs()[0].0, "u2");
}

#[test]
fn escaped_username_is_checked_both_ways() {
    // The client hashed the escape-resolved username `a\b` but sent it escaped, `a\\b`.
    let ha1 = sipscope_sip::digest::ha1(b"a\\b", b"asterisk", b"secret", Algorithm::Md5, b"", b"").unwrap();
    let ha2 = sipscope_sip::digest::ha2(b"REGISTER", b"sip:127.0.0.1");
    let response = sipscope_sip::digest::response(&ha1, b"n0", b"", b"", None, &ha2);
    let value = format!(
        "Digest username=\"a\\\\b\", realm=\"asterisk\", nonce=\"n0\", uri=\"sip:127.0.0.1\", response=\"{}\"",
        std::str::from_utf8(&response).unwrap()
    );
    let job = IntelJob::new(1, &Credentials::parse(value.as_bytes()).unwrap(), b"REGISTER").unwrap();
    assert_eq!(job.username, "a\\\\b");
    let mut rec = recoverer(200_000, None);
    let r = rec.recover(&job);
    assert_eq!(found(&r), (Some("secret"), Some(BUILTIN)));
    assert_eq!(rec.ha1_computed, 0, "not through the HA1 cache");
    assert!(rec.cached_pairs().is_empty());
    // A backslash only in the nonce keeps the cache: both readings share the HA1.
    let job = built_job("100", b"secret", "n\\\"x", 2);
    assert_eq!(found(&rec.recover(&job)), (Some("secret"), Some(BUILTIN)));
    assert!(rec.ha1_computed > 0);
}

/// The other ends of an `on_result` that reports entering, then waits for `release` (once it
/// is closed, no more waiting).
pub(super) struct SlowConsumer {
    pub(super) entered: std::sync::mpsc::Receiver<i64>,
    pub(super) release: std::sync::mpsc::Sender<()>,
    pub(super) results: Arc<Mutex<Vec<RecoveredPassword>>>,
}

pub(super) fn slow_consumer() -> (impl FnMut(RecoveredPassword) + Send + 'static, SlowConsumer) {
    let (entered_tx, entered) = channel();
    let (release, release_rx) = channel::<()>();
    let results = Arc::new(Mutex::new(Vec::new()));
    let sink = results.clone();
    let on_result = move |r: RecoveredPassword| {
        let _ = entered_tx.send(r.attempt_id);
        let _ = release_rx.recv();
        sink.lock().unwrap().push(r);
    };
    (on_result, SlowConsumer { entered, release, results })
}

#[test]
fn full_queue_drops_without_blocking() {
    let config = IntelConfig { queue: 1, ..IntelConfig::default() };
    let (on_result, SlowConsumer { entered, release, results }) = slow_consumer();
    let intel = Intel::spawn(&config, on_result).unwrap();
    let job = |file: &str, id| IntelJob { attempt_id: id, ..fixture_job(&format!("svcrack-miss/{file}.sip"), 0) };
    assert!(intel.submit(job("0004", 1), 0));
    assert_eq!(entered.recv().unwrap(), 1); // the worker holds job 1; the queue is empty
    assert!(intel.submit(job("0006", 2), 0));
    assert!(!intel.submit(job("0008", 3), 0));
    assert!(!intel.submit(job("0010", 4), 0));
    assert_eq!(intel.dropped(), 2);
    assert_eq!(intel.skipped().queue_full, 2);
    drop(release);
    let skipped = intel.finish();
    assert_eq!(skipped.total(), 2);
    let results = results.lock().unwrap();
    let ids: Vec<i64> = results.iter().map(|r| r.attempt_id).collect();
    assert_eq!(ids, [1, 2]);
    assert_eq!(results.iter().map(|r| r.password.as_deref().unwrap()).collect::<Vec<_>>(), ["100", "101"]);
}

#[test]
fn finish_drains_the_queue() {
    let (on_result, SlowConsumer { entered, release, results }) = slow_consumer();
    let intel = Intel::spawn(&IntelConfig::default(), on_result).unwrap();
    let files = ["0002", "0004", "0006", "0008", "0010", "0012"];
    for (i, file) in files.iter().cycle().take(30).enumerate() {
        assert!(intel.submit(fixture_job(&format!("svcrack-miss/{file}.sip"), i as i64), 0));
    }
    assert_eq!(entered.recv().unwrap(), 0);
    assert_eq!(intel.dropped(), 0);
    drop(release);
    let skipped = intel.finish();
    assert_eq!(skipped.total(), 0, "{skipped:?}");
    // Every attempt has its answer (repeats of a waiting one right after it).
    let mut results = results.lock().unwrap().clone();
    results.sort_by_key(|r| r.attempt_id);
    assert_eq!(results.iter().map(|r| r.attempt_id).collect::<Vec<_>>(), (0..30).collect::<Vec<_>>());
    let passwords: Vec<&str> = results.iter().take(6).map(|r| r.password.as_deref().unwrap()).collect();
    assert_eq!(passwords, ["101", "100", "101", "102", "103", "104"]);
    assert!(results.iter().skip(6).all(|r| r.password == results[r.attempt_id as usize % 6].password));
}
