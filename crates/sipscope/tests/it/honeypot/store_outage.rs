//! The honeypot through a full disk: it keeps recording once space returns, its exit summary
//! says what was lost; and the process hygiene seen from outside (no colour codes in a log
//! that is not a terminal, no-new-privileges). On 127.0.91.0/24.

use super::harness::Honeypot;
use crate::small_disk::SmallDisk;
use std::net::UdpSocket;
use std::time::Duration;

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
