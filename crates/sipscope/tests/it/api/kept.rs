//! Reports kept across restarts (`api/kept.rs`): a `serve` started again on a store it served
//! before answers its first `/api/v1/report` from the report the earlier run kept in the store
//! — told apart here by a marker put into the kept copy, and by its build time, earlier than
//! the restart — and then the fresh one this run built; a kept report of another format, or
//! one that is no JSON, is never served. On 127.0.243.14.

use super::*;
use serde_json::Value;
use std::time::Instant;

/// The overview's key in the store (`routes/reports.rs`: section, from, to, nodes).
const OVERVIEW: &str = "*|None|None|[]";

fn kept_row(db: &Path) -> Option<(String, i64)> {
    let conn = rusqlite::Connection::open(db).ok()?;
    conn.query_row("SELECT format, built_ns FROM kept_reports WHERE key = ?1", [OVERVIEW], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
    .ok()
}

/// `serve` on the store until its overview is kept in the store; its answer then.
fn serve_until_kept(db: &Path) -> (Server, Answer) {
    let server = serve(tempfile::tempdir().unwrap(), db, 14, &[]);
    let since = Instant::now();
    while kept_row(db).is_none_or(|(_, built)| built < started_after(since)) {
        assert!(since.elapsed() < Duration::from_secs(120), "the overview was never kept in the store");
        std::thread::sleep(Duration::from_millis(50));
    }
    let a = request(server.addr, "GET", "/api/v1/report", Some(&server.token), None);
    (server, a)
}

/// The wall clock (ns) a moment before `at`.
fn started_after(at: Instant) -> i64 {
    now_ns() - i64::try_from(at.elapsed().as_nanos()).unwrap() - 1_000_000_000
}

fn now_ns() -> i64 {
    i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()).unwrap()
}

/// When the answer's build began, from `Sipscope-Report-Built`.
fn built(a: &Answer) -> i64 {
    let text = a.header("sipscope-report-built").expect("every report answer says when it was built");
    let secs = text.get(..19).unwrap().to_owned() + "Z";
    let whole = sipscope::time::parse_time(&secs).unwrap();
    whole + text.get(20..29).unwrap().parse::<i64>().unwrap()
}

fn sections(a: &Answer) -> Value {
    a.json()["sections"].clone()
}

#[test]
fn api_a_restarted_server_answers_at_once_from_the_kept_report_then_the_fresh_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = golden_store(dir.path());

    // The first run builds the overview at start and keeps it in the store.
    let (first, fresh) = serve_until_kept(&db);
    assert_eq!(fresh.status, 200);
    assert_eq!(fresh.header("sipscope-report-earlier-run"), None);
    assert!(fresh.header("last-modified").is_some_and(|v| v.ends_with(" GMT")));
    drop(first);
    let (format, kept_at) = kept_row(&db).unwrap();
    assert!(kept_at <= built(&fresh));

    // Mark the kept copy (still valid JSON, with attacker-like text in it), so that an answer
    // from it is told from a fresh build: the marker is in no report this server builds.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let body: String =
        conn.query_row("SELECT body FROM kept_reports WHERE key = ?1", [OVERVIEW], |r| r.get(0)).unwrap();
    let mut marked: Value = serde_json::from_str(&body).unwrap();
    marked["kept_marker"] = Value::from("kept \u{202e}gnp.exe");
    conn.execute("UPDATE kept_reports SET body = ?1 WHERE key = ?2", (marked.to_string(), OVERVIEW)).unwrap();
    drop(conn);

    let restarted = Instant::now();
    let server = serve(tempfile::tempdir().unwrap(), &db, 14, &[]);
    let first_answer = request(server.addr, "GET", "/api/v1/report", Some(&server.token), None);
    assert_eq!(first_answer.status, 200);
    // The kept report, at once: built before this run started, said so, attacker text inert.
    assert_eq!(first_answer.json()["kept_marker"], "kept \u{202e}gnp.exe");
    assert!(!first_answer.text().contains('\u{202e}'), "served inert");
    assert_eq!(first_answer.header("sipscope-report-earlier-run"), Some("true"));
    assert_eq!(built(&first_answer), kept_at);
    assert!(built(&first_answer) < started_after(restarted) + 1_000_000_000);
    assert_eq!(sections(&first_answer), sections(&fresh));
    // Then the fresh one this run built (polled: the bound only ends a broken run).
    let fresh_again = loop {
        let a = request(server.addr, "GET", "/api/v1/report", Some(&server.token), None);
        if a.header("sipscope-report-earlier-run").is_none() {
            break a;
        }
        assert!(restarted.elapsed() < Duration::from_secs(120), "never rebuilt");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(fresh_again.json().get("kept_marker").is_none());
    assert!(built(&fresh_again) >= started_after(restarted));
    assert_eq!(sections(&fresh_again), sections(&fresh), "the same store, the same report");
    // This run's build replaced the kept one in the store.
    let since = Instant::now();
    while kept_row(&db).is_none_or(|(_, at)| at < built(&fresh_again)) {
        assert!(since.elapsed() < Duration::from_secs(60), "the fresh overview was never kept");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(server);

    // A kept report of another format (an older build), or one that is no JSON, is ignored:
    // the first answer is this run's build.
    for (tamper, why) in [
        ("UPDATE kept_reports SET format = ?3 || ' older', body = ?1 WHERE key = ?2", "another format"),
        ("UPDATE kept_reports SET format = ?3, body = substr(?1, 1, 200) WHERE key = ?2", "no JSON"),
    ] {
        let conn = rusqlite::Connection::open(&db).unwrap();
        assert_eq!(conn.execute(tamper, (marked.to_string(), OVERVIEW, &format)).unwrap(), 1);
        drop(conn);
        let restarted = Instant::now();
        let server = serve(tempfile::tempdir().unwrap(), &db, 14, &[]);
        let a = request(server.addr, "GET", "/api/v1/report", Some(&server.token), None);
        assert_eq!(a.status, 200, "{why}");
        assert!(a.json().get("kept_marker").is_none(), "{why}");
        assert_eq!(a.header("sipscope-report-earlier-run"), None, "{why}");
        assert!(built(&a) >= started_after(restarted), "{why}");
        assert_eq!(sections(&a), sections(&fresh), "{why}");
    }
}
