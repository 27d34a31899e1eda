//! The hand-over to the analysis thread when it is behind: a live source's offer never waits,
//! and nothing it offered is lost or reordered.

use super::*;
use crate::analysis::engine::AnalysisConfig;

const OPTIONS: &[u8] = b"OPTIONS sip:100@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK-1\r\nFrom: <sip:a@203.0.113.5>;tag=1\r\nTo: <sip:100@192.0.2.1>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";

fn push_one(worker: &mut Worker, i: i64) {
    let seen = Seen {
        ts_ns: 1_700_000_000_000_000_000 + i,
        src: ("203.0.113.5".parse().unwrap(), 5060),
        dst: ("192.0.2.1".parse().unwrap(), 5060),
        node: None,
        direction: Direction::In,
        bytes: OPTIONS.len(),
    };
    worker.push_message(&seen, Transport::Udp, OPTIONS, true, Taken { ordinal: i as u64, ..Taken::default() });
}

#[test]
fn an_offer_to_a_thread_that_is_behind_keeps_the_batch_and_loses_nothing() {
    let mut rules = None;
    let mut worker = Worker::spawn(Some(AnalysisConfig::default()), &mut rules).expect("the thread starts");
    // Hold the thread: it answers this hand-over on a channel nobody reads yet.
    let (hold, release) = mpsc::sync_channel(0);
    worker.send(Job::HandOver(hold)).unwrap();
    let extra = 3;
    // Offered from another thread, so that an offer that waits fails the test instead of
    // hanging it (a deadlock guard, not a timing: the offers take microseconds).
    let (back, worker_back) = mpsc::channel();
    std::thread::spawn(move || {
        for i in 0..(BATCHES_IN_FLIGHT + extra) as i64 {
            push_one(&mut worker, i);
            worker.offer_batch().unwrap();
        }
        let _ = back.send(worker);
    });
    let mut worker =
        worker_back.recv_timeout(std::time::Duration::from_secs(60)).expect("an offer waited for the held thread");
    // The channel holds BATCHES_IN_FLIGHT jobs (one of them the hand-over, until the thread
    // takes it): every offer after it filled stays in the one batch.
    let kept = worker.batch.items.len();
    assert!(kept == extra || kept == extra + 1, "the offers the thread had no room for stay in the batch ({kept})");
    let handed = release.recv().unwrap();
    assert!(handed.is_empty(), "held before any message");
    let result = worker.finish_run().unwrap();
    assert_eq!(result.events, (BATCHES_IN_FLIGHT + extra) as u64, "every message reached the engine once");
}
