//! The honeypot through a full disk: it keeps recording once space returns, its exit summary
//! says what was lost; through a store another writer holds: it answers and retransmits on
//! time meanwhile and records everything after; and the process hygiene seen from outside (no
//! colour codes in a log that is not a terminal, no-new-privileges). On 127.0.91.0/24.

use super::harness::Honeypot;
use crate::small_disk::SmallDisk;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

/// Sends `n` OPTIONS with Call-IDs `{tag}-{i}`, each after the answer to the one before
/// (so none is lost in a socket buffer); returns how many were answered.
fn options(socket: &UdpSocket, target: &str, tag: &str, n: usize) -> usize {
    let mut buf = [0u8; 4096];
    let mut answered = 0;
    for i in 0..n {
        let msg = format!(
            "OPTIONS sip:100@127.0.91.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.91.2:5099;branch=z9hG4bK{tag}{i}\r\n\
             From: <sip:probe@127.0.91.2>;tag={i}\r\nTo: <sip:100@127.0.91.1>\r\nCall-ID: {tag}-{i}\r\n\
             CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        );
        socket.send_to(msg.as_bytes(), target).unwrap();
        if socket.recv(&mut buf).is_ok() {
            answered += 1;
        }
    }
    answered
}

#[test]
fn after_a_full_disk_the_honeypot_stores_again_and_its_summary_says_what_was_lost() {
    // 6 MiB: room for the store and its WAL after the filler goes (each commit also writes the
    // page of the kept event count, schema 15: at 4 MiB the WAL filled the disk again).
    let Some(disk) = SmallDisk::mount("6m") else { return };
    let store = disk.path().join("hp.db");
    let extra = format!(
        "store = \"{}\"\nanalysis = false\n[intel]\nenabled = false\n[limits]\nstore_backlog_items = 1000\n\
         per_source_rate = 100000\nper_source_burst = 100000\n",
        store.display()
    );
    let mut hp = Honeypot::start(&[("udp", "127.0.91.1", 5060)], &extra);
    let status = std::fs::read_to_string(format!("/proc/{}/status", hp.pid())).unwrap();
    assert!(status.lines().any(|l| l == "NoNewPrivs:\t1"), "no-new-privileges is set");
    let socket = UdpSocket::bind("127.0.91.2:5099").unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    assert_eq!(options(&socket, "127.0.91.1:5060", "early", 10), 10);
    disk.fill();
    // The disk is full: the PBX still answers; what it sees waits in the backlog, then drops.
    assert_eq!(options(&socket, "127.0.91.1:5060", "full", 3000), 3000);
    disk.free();
    assert_eq!(options(&socket, "127.0.91.1:5060", "after", 1000), 1000);
    let (summary, log) = hp.stop();
    let count = |like: &str| {
        let db = rusqlite::Connection::open(&store).unwrap();
        db.query_row("SELECT count(*) FROM events WHERE direction = 'in' AND call_id LIKE ?1", [like], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap()
    };
    assert_eq!(count("after-%"), 1000, "every request after space returned is stored: {summary}\n{log}");
    assert_eq!(count("early-%"), 10);
    let store_status = &summary["store"];
    assert_eq!(store_status["outages"], 1, "{summary}");
    assert_eq!(store_status["unavailable"], false, "{summary}");
    let dropped = store_status["dropped_events"].as_u64().unwrap();
    let stored_full = count("full-%") as u64;
    assert!(dropped > 0 && stored_full < 3000, "{summary}");
    assert!(log.contains("store unavailable: "), "a warning while it lasts: {log}");
    assert!(log.contains("store writing again"), "{log}");
    assert!(!log.contains('\x1b'), "no colour codes when stderr is not a terminal");
}

/// Another writer (an operator's `sqlite3`, a backup) holds the store's write lock for
/// 6 seconds, so every commit waits: answers must not. An INVITE's challenge is retransmitted
/// at T1 and 3·T1 (RFC 3261 timer G) and every OPTIONS is answered while the lock is held,
/// then everything is in the store once it is released.
#[test]
fn a_store_another_writer_holds_delays_no_answer_and_no_retransmission() {
    let mut hp = Honeypot::start(&[("udp", "127.0.91.5", 5060)], "[intel]\nenabled = false\n");
    let socket = UdpSocket::bind("127.0.91.6:5099").unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let target = "127.0.91.5:5060";
    assert_eq!(options(&socket, target, "before", 1), 1);
    // Committed once: the store and its tables exist.
    let deadline = Instant::now() + Duration::from_secs(20);
    while hp.count("SELECT count(*) FROM events WHERE call_id = 'before-0'") < 2 {
        assert!(Instant::now() < deadline, "the first OPTIONS was never committed");
        std::thread::sleep(Duration::from_millis(100));
    }
    let held = hp.db();
    held.execute_batch("BEGIN IMMEDIATE").unwrap();
    let held_at = Instant::now();
    let invite = "INVITE sip:0046701234567@127.0.91.5 SIP/2.0\r\n\
                  Via: SIP/2.0/UDP 127.0.91.6:5099;branch=z9hG4bKheld;rport\r\nMax-Forwards: 70\r\n\
                  From: <sip:100@127.0.91.5>;tag=held\r\nTo: <sip:0046701234567@127.0.91.5>\r\n\
                  Call-ID: held-invite\r\nCSeq: 1 INVITE\r\nContact: <sip:100@127.0.91.6:5099>\r\n\
                  Content-Length: 0\r\n\r\n";
    socket.send_to(invite.as_bytes(), target).unwrap();
    let sent = Instant::now();
    let mut buf = [0u8; 4096];
    let mut copies: Vec<(Vec<u8>, Duration)> = Vec::new();
    // The first answer and two retransmissions come by 1.5 s; 2.5 s leaves a second to spare.
    while sent.elapsed() < Duration::from_millis(2_500) && copies.len() < 3 {
        socket.set_read_timeout(Some(Duration::from_millis(2_500).saturating_sub(sent.elapsed()).max(MS))).unwrap();
        let Ok(n) = socket.recv(&mut buf) else { break };
        copies.push((buf[..n].to_vec(), sent.elapsed()));
    }
    let arrivals: Vec<Duration> = copies.iter().map(|c| c.1).collect();
    assert_eq!(copies.len(), 3, "the answer and two retransmissions while the store was held: at {arrivals:?}");
    assert!(copies.iter().all(|(b, _)| *b == copies[0].0), "retransmissions repeat the answer");
    assert!(copies[1].1 >= Duration::from_millis(500), "not before T1");
    socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(options(&socket, target, "held", 20), 20, "every OPTIONS answered while the store was held");
    assert!(held_at.elapsed() < Duration::from_secs(6), "all of it while the lock was held");
    std::thread::sleep(Duration::from_secs(6).saturating_sub(held_at.elapsed()));
    held.execute_batch("COMMIT").unwrap();
    let ack = invite.replace("INVITE sip", "ACK sip").replace("1 INVITE", "1 ACK");
    let to = String::from_utf8_lossy(&copies[0].0).lines().find(|l| l.starts_with("To:")).unwrap().to_owned();
    let ack = ack.replace("To: <sip:0046701234567@127.0.91.5>", &to);
    socket.send_to(ack.as_bytes(), target).unwrap();
    let (summary, log) = hp.stop();
    assert_eq!(summary["recorder_waits"], 0, "no listener waited for the recorder: {summary}");
    let count = |sql: &str| hp.count(sql);
    assert_eq!(count("SELECT count(*) FROM events WHERE direction = 'in' AND call_id LIKE 'held-%'"), 22, "{log}");
    assert_eq!(
        count("SELECT count(*) FROM events WHERE direction = 'out' AND call_id LIKE 'held-%'"),
        20 + 1 + retransmitted(&summary),
        "{log}"
    );
}

const MS: Duration = Duration::from_millis(1);

/// The retransmissions the exit summary counts (at least the two the test waited for).
fn retransmitted(summary: &serde_json::Value) -> i64 {
    let n = summary["retransmissions"].as_i64().unwrap_or(0);
    assert!(n >= 2, "{summary}");
    n
}
