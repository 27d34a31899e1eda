//! Floods and shutdowns: the recovery queue sheds and counts what does not fit, repeats share
//! one recovery, and a stop is obeyed within one candidate batch whatever is queued.

use super::queue::{JobQueue, Offer, QueueLimits, JOINED_PER_JOB};
use super::recover::{Recoverer, STOP_CHECK_EVERY};
use super::tests::{built_job, slow_consumer, SlowConsumer};
use super::*;
use std::io::Write;

fn from(source: &str, job: IntelJob) -> IntelJob {
    IntelJob { source: source.parse().unwrap(), ..job }
}

/// A miss: no candidate matches.
fn miss(user: &str, nonce: &str, id: i64) -> IntelJob {
    built_job(user, b"zz-not-a-candidate", nonce, id)
}

#[test]
fn a_flood_is_shed_by_reason_and_counted() {
    let limits = QueueLimits { jobs: 4, bytes: usize::MAX, per_source: 2 };
    let mut q = JobQueue::new(limits);
    let a = |n: &str, id| from("192.0.2.1", miss("100", n, id));
    assert_eq!(q.offer(a("n1", 1), false, 0), Offer::Queued);
    assert_eq!(q.offer(a("n2", 2), false, 0), Offer::Queued);
    // The source's share is taken; other sources still get in, up to the queue's limit.
    assert_eq!(q.offer(a("n3", 3), false, 0), Offer::Shed);
    for (i, src) in ["192.0.2.2", "192.0.2.3"].iter().enumerate() {
        assert_eq!(q.offer(from(src, miss("100", &format!("m{i}"), 10 + i as i64)), false, 0), Offer::Queued);
    }
    assert_eq!(q.offer(from("192.0.2.4", miss("100", "n9", 20)), false, 0), Offer::Shed);
    // Repeats of a waiting attempt join it, up to a bound, whatever the limits.
    for i in 0..JOINED_PER_JOB {
        assert_eq!(q.offer(a("n1", 100 + i as i64), false, 0), Offer::Joined);
    }
    assert_eq!(q.offer(a("n1", 999), false, 0), Offer::Shed);
    let s = q.skipped();
    assert_eq!((s.source_full, s.queue_full, s.repeated, s.stopped), (1, 1, 1, 0));
    assert_eq!(q.len(), 4);
    let first = q.take().unwrap();
    assert_eq!((first.job.attempt_id, first.joined.len()), (1, JOINED_PER_JOB));
    // Taking frees the source's share; the taken key is no longer joined.
    assert_eq!(q.offer(a("n1", 1000), false, 0), Offer::Queued);
    // At shutdown, everything still waiting is counted as stopped, joined repeats included.
    q.closed = true;
    assert_eq!(q.offer(a("n5", 1001), false, 0), Offer::Shed);
    q.abandon(1);
    assert_eq!(q.skipped().stopped, 1 + 1 + 4);
    assert!(q.is_empty() && q.bytes() == 0);
}

#[test]
fn the_queue_holds_a_bounded_number_of_bytes() {
    let job = |id| from("192.0.2.1", miss(&"u".repeat(2000), &format!("n{id}"), id));
    let footprint = job(0).footprint;
    assert!(footprint > 6000, "long credentials weigh more: {footprint}");
    let mut q = JobQueue::new(QueueLimits { jobs: 1000, bytes: 3 * footprint, per_source: 1000 });
    let offers: Vec<Offer> = (0..10).map(|i| q.offer(job(i), false, 0)).collect();
    assert_eq!(offers.iter().filter(|o| **o == Offer::Queued).count(), 3);
    assert_eq!(q.skipped().queue_full, 7);
    assert!(q.bytes() <= 3 * footprint);
}

#[test]
fn identical_attempts_share_one_recovery_and_each_gets_the_answer() {
    let (on_result, SlowConsumer { entered, release, results }) = slow_consumer();
    let intel = Intel::spawn(&IntelConfig::default(), on_result).unwrap();
    let job = |id| IntelJob { attempt_id: id, ..super::tests::fixture_job("svcrack-miss/0004.sip", 0) };
    assert!(intel.submit(job(1), 0));
    assert_eq!(entered.recv().unwrap(), 1);
    // While the worker holds 1: 2 waits, 3..=20 repeat it.
    for id in 2..=20 {
        assert!(intel.submit(job(id), 0));
    }
    drop(release);
    assert_eq!(intel.finish().total(), 0);
    let mut results = results.lock().unwrap().clone();
    results.sort_by_key(|r| r.attempt_id);
    assert_eq!(results.iter().map(|r| r.attempt_id).collect::<Vec<_>>(), (1..=20).collect::<Vec<_>>());
    assert!(results.iter().all(|r| r.password.as_deref() == Some("100")));
}

#[test]
fn a_job_finished_recently_is_answered_again_without_hashing() {
    let mut rec = Recoverer::new(candidates::StaticList::load(None, 5_000).unwrap(), 5_000);
    let first = rec.recover(&miss("100", "n1", 1));
    assert_eq!((first.password.as_deref(), first.tried), (None, 5_000));
    let (tested, hashed) = (rec.candidates_tested, rec.ha1_computed);
    let again = rec.recover(&miss("100", "n1", 2));
    assert_eq!((again.attempt_id, again.tried, again.password), (2, 5_000, None));
    assert_eq!((rec.candidates_tested, rec.ha1_computed), (tested, hashed), "no work");
}

#[test]
fn a_stopped_recovery_tests_at_most_one_batch() {
    let mut rec = Recoverer::new(candidates::StaticList::load(None, 5_000).unwrap(), 5_000);
    let stop = AtomicBool::new(true);
    assert!(rec.recover_unless(&miss("100", "n1", 1), &stop).is_none());
    assert_eq!(rec.candidates_tested, 0);
    // Uncached jobs (a backslash in the username) obey it too.
    assert!(rec.recover_unless(&miss("a\\b", "n1", 2), &stop).is_none());
    assert_eq!(rec.candidates_tested, 0);
    // Unstopped, the same job runs to the end, in batches of STOP_CHECK_EVERY.
    let done = rec.recover_unless(&miss("100", "n1", 3), &AtomicBool::new(false)).unwrap();
    assert_eq!(done.tried, 5_000);
    const { assert!(STOP_CHECK_EVERY < 5_000) };
}

#[test]
fn shutdown_with_a_full_queue_and_a_big_wordlist_skips_what_is_left() {
    // 300,000 words, every one tried for every attempt: minutes of work queued.
    let mut file = tempfile::NamedTempFile::new().unwrap();
    let mut words = String::with_capacity(300_000 * 12);
    for i in 0..300_000 {
        words.push_str(&format!("word-{i:06}\n"));
    }
    file.write_all(words.as_bytes()).unwrap();
    let config = IntelConfig {
        wordlist: Some(file.path().to_owned()),
        max_candidates: 400_000,
        shutdown_grace_seconds: 0,
        ..IntelConfig::default()
    };
    let results = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = results.clone();
    let intel = Intel::spawn(&config, move |r| sink.lock().unwrap().push(r)).unwrap();
    let submitted = 200;
    for i in 0..submitted {
        assert!(intel.submit(from("192.0.2.1", miss(&format!("u{i}"), "n", i)), 0));
    }
    let skipped = intel.finish();
    let done = results.lock().unwrap().len() as u64;
    // Whatever was running when the stop came was abandoned at its next batch; nothing else ran.
    assert_eq!(done + skipped.stopped, submitted as u64, "done {done}, {skipped:?}");
    assert!(done <= 1, "{done} jobs of 300,000+ candidates finished");
    assert_eq!(skipped.total(), skipped.stopped);
}
