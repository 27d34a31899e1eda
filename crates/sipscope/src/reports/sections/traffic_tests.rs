//! Message-count sections on a small store: they count from the hourly totals, say when a
//! range is not on the hour, and say when the events were never analysed.

use super::*;
use crate::analysis::engine::{AnalysisConfig, Analyzer};
use crate::event::fields::SipFields;
use crate::event::{Direction, SipEvent, Transport};
use crate::sinks::sqlite::Store;
use crate::store::SqliteReader;

const HOUR: i64 = 3_600_000_000_000;
const T0: i64 = 1_767_225_600_000_000_000; // 2026-01-01T00:00:00Z

fn options(n: u32) -> Vec<u8> {
    format!(
        "OPTIONS sip:{n}@198.51.100.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK{n}\r\n\
From: <sip:a@b>;tag=1\r\nTo: <sip:{n}@b>\r\nCall-ID: {n}\r\nCSeq: 1 OPTIONS\r\nUser-Agent: friendly-scanner\r\n\
Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// Ten OPTIONS at T0 + 0..10 minutes and five two hours later; analysed unless `bare`.
fn store(bare: bool) -> (tempfile::TempDir, SqliteReader) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let mut store = Store::open(&path).unwrap();
    let mut analyzer = Analyzer::new(AnalysisConfig::default());
    let times = (0..10).map(|i| T0 + i * 60_000_000_000).chain((0..5).map(|i| T0 + 2 * HOUR + i));
    for (i, ts) in times.enumerate() {
        let ev = SipEvent {
            ts_ns: ts,
            sensor: "t".into(),
            node: Some("n1".into()),
            transport: Transport::Udp,
            src: ("192.0.2.1".parse().unwrap(), 5060),
            dst: ("198.51.100.1".parse().unwrap(), 5060),
            tunnel: None,
            direction: Direction::In,
            origin: None,
            raw: options(i as u32),
        };
        let msg = sipscope_sip::parse(&ev.raw).unwrap();
        analyzer.observe(&ev, Some(&msg));
        store.insert_event(&ev, &SipFields::extract(&msg)).unwrap();
    }
    if !bare {
        store.store_analysis("analyze", T0, T0, &analyzer.finish(), true).unwrap();
    }
    store.flush_now().unwrap();
    drop(store);
    let reader = SqliteReader::open(&path).unwrap();
    (dir, reader)
}

fn value(s: &Section, measure: &str) -> Cell {
    let row = s.tables[0].rows.iter().find(|r| r[0] == Cell::from(measure)).unwrap();
    row[1].clone()
}

#[test]
fn counts_come_from_the_hourly_totals() {
    let (_dir, reader) = store(false);
    let geo = Enricher::default();
    let s = summary(&reader, &Filter::default(), &geo).unwrap();
    assert_eq!(value(&s, "all messages (received and sent)"), Cell::Int(15));
    assert_eq!(value(&s, "unique source addresses"), Cell::Int(1));
    assert!(s.notes.iter().all(|n| !n.contains("hourly")), "{:?}", s.notes);
    // The second hour alone: exact, on the hour.
    let f = Filter { from_ns: Some(T0 + 2 * HOUR), to_ns: Some(T0 + 3 * HOUR), nodes: vec![] };
    assert_eq!(value(&summary(&reader, &f, &geo).unwrap(), "all messages (received and sent)"), Cell::Int(5));
    // Half an hour into the first: the whole hour counts, and the section says so.
    let f = Filter { from_ns: Some(T0 + HOUR / 2), to_ns: Some(T0 + HOUR), nodes: vec![] };
    let s = summary(&reader, &f, &geo).unwrap();
    assert_eq!(value(&s, "all messages (received and sent)"), Cell::Int(10));
    assert!(s.notes.iter().any(|n| n.contains("whole UTC hour")), "{:?}", s.notes);
    // Another node: nothing.
    let f = Filter { nodes: vec!["n2".into()], ..Filter::default() };
    assert_eq!(value(&summary(&reader, &f, &geo).unwrap(), "all messages (received and sent)"), Cell::Int(0));
    let ua = user_agents(&reader, &Filter::default()).unwrap();
    assert_eq!(ua.tables[0].rows[0], vec![Cell::from("friendly-scanner"), Cell::Int(15), Cell::Int(1)]);
    let src = sources(&reader, &Filter::default(), &geo).unwrap();
    let row = &src.tables[0].rows[0];
    assert_eq!(
        (&row[0], &row[3], row.last().unwrap()),
        (&Cell::from("192.0.2.1"), &Cell::Int(15), &Cell::from("friendly-scanner"))
    );
}

#[test]
fn a_source_s_agent_is_named_over_none_on_a_tie() {
    let (dir, reader) = store(false);
    drop(reader);
    let path = dir.path().join("t.db");
    // As many requests without a User-Agent as with one.
    Store::open(&path)
        .unwrap()
        .connection()
        .execute_batch(
            "INSERT INTO traffic (run_id, hour, node, src_ip, kind, method, direction, user_agent, messages, first_ns, last_ns)
             SELECT run_id, hour, node, src_ip, kind, method, direction, NULL, messages, first_ns, last_ns FROM traffic",
        )
        .unwrap();
    let reader = SqliteReader::open(&path).unwrap();
    let src = sources(&reader, &Filter::default(), &Enricher::default()).unwrap();
    assert_eq!(src.tables[0].rows[0].last(), Some(&Cell::from("friendly-scanner")));
}

#[test]
fn events_never_analysed_are_named_not_silently_zero() {
    let (_dir, reader) = store(true);
    let s = daily(&reader, &Filter::default()).unwrap();
    assert!(s.tables[0].rows.is_empty());
    assert!(s.notes.iter().any(|n| n.contains("sipscope analyze")), "{:?}", s.notes);
}
