//! The API's in-memory report index (`store/indexed/`) loaded from PostgreSQL: it holds the
//! same rows as when loaded from SQLite, and answers the report's costly questions as the
//! readers do — checked with the PostgreSQL reader cut off from its database, so that every
//! answer compared is the index's own and none the reader's.

use super::{admin, golden_in_both};
use crate::report_golden::{DAY, T0};
use sipscope::store::indexed::{IndexLimits, Indexed, ReportIndex};
use sipscope::store::{Filter, StoreReader};

#[test]
fn the_report_index_loads_from_postgres_and_answers_as_the_readers() {
    let (_dir, db, a, b) = golden_in_both();
    let (from_sqlite, _) = ReportIndex::load(a.as_ref(), IndexLimits::default()).unwrap().expect("SQLite indexed");
    // Unchanged, the mark is the same; a write moves it. The mark is the server's WAL position,
    // which other tests' writes on the same server move too: a few tries for a quiet moment.
    let mut loaded = None;
    for _ in 0..30 {
        let (index, mark) = ReportIndex::load(b.as_ref(), IndexLimits::default()).unwrap().expect("PostgreSQL indexed");
        if b.change_mark().unwrap() == Some(mark) {
            loaded = Some((index, mark));
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let (index, mark) = loaded.expect("the mark stays while nothing is written");
    assert!(index.rows() > 100, "{}", index.rows());
    assert_eq!(index.rows(), from_sqlite.rows());
    db.client().batch_execute("CREATE TABLE moved (x int); INSERT INTO moved VALUES (1)").unwrap();
    assert_ne!(b.change_mark().unwrap(), Some(mark));

    let filters = [
        Filter::default(),
        Filter { from_ns: Some(T0 + DAY), to_ns: None, nodes: vec!["n2".into(), "n3".into()] },
        Filter { from_ns: Some(T0), to_ns: Some(T0 + DAY + 600_000_000), nodes: vec![] },
        Filter { from_ns: Some(T0 + DAY / 2), to_ns: Some(T0 + 2 * DAY), nodes: vec!["n1".into()] },
    ];
    // Alerts per rule look their first evidence up in the store, and the index answers flows
    // per source and tool only where none has more than two: compared while the store is there.
    let x = Indexed::new(&index, b.as_ref());
    for f in &filters {
        assert_eq!(x.alert_rules(f).unwrap(), a.alert_rules(f).unwrap(), "{f:?}");
    }
    for (from, to) in [(0, i64::MAX), (T0, T0 + DAY), (T0 + DAY, T0 + 3 * DAY)] {
        assert_eq!(x.source_tool_activity(from, to).unwrap(), a.source_tool_activity(from, to).unwrap());
    }
    // The reader cut off: anything it answered now would fail.
    let mut admin = admin();
    admin.batch_execute(&format!("ALTER DATABASE {} ALLOW_CONNECTIONS false", db.name)).unwrap();
    admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", &[&db.name]).unwrap();
    assert!(b.top_sources(&Filter::default(), 5).is_err(), "the reader is cut off");
    for f in &filters {
        for limit in [1, 3, 50] {
            assert_eq!(x.top_sources(f, limit).unwrap(), a.top_sources(f, limit).unwrap(), "{f:?}");
            assert_eq!(x.top_user_agents(f, limit).unwrap(), a.top_user_agents(f, limit).unwrap(), "{f:?}");
            assert_eq!(x.top_numbers(f, limit).unwrap(), a.top_numbers(f, limit).unwrap(), "{f:?}");
            assert_eq!(x.custom_fingerprints(f, limit).unwrap(), a.custom_fingerprints(f, limit).unwrap(), "{f:?}");
        }
        assert_eq!(x.dialled_users(f, None).unwrap(), a.dialled_users(f, None).unwrap(), "{f:?}");
        assert_eq!(x.unified_number_count(f).unwrap(), a.unified_number_count(f).unwrap(), "{f:?}");
        assert_eq!(x.number_countries(f).unwrap(), a.number_countries(f).unwrap(), "{f:?}");
        assert_eq!(x.stage_totals(f).unwrap(), a.stage_totals(f).unwrap(), "{f:?}");
        assert_eq!(x.tool_flows(f).unwrap(), a.tool_flows(f).unwrap(), "{f:?}");
        assert_eq!(x.tools_by_year(f).unwrap(), a.tools_by_year(f).unwrap(), "{f:?}");
        assert_eq!(x.strategy_flows(f).unwrap(), a.strategy_flows(f).unwrap(), "{f:?}");
        assert_eq!(x.source_tool_packets(f).unwrap(), a.source_tool_packets(f).unwrap(), "{f:?}");
        assert_eq!(x.widest_flow(f, None).unwrap(), a.widest_flow(f, None).unwrap(), "{f:?}");
        assert_eq!(x.request_sources(f).unwrap(), a.request_sources(f).unwrap(), "{f:?}");
        assert_eq!(x.source_nodes(f).unwrap(), a.source_nodes(f).unwrap(), "{f:?}");
    }
    // Ranges where no source and tool has more than two flows: the rates' sums are the index's.
    for (from, to) in [(T0, T0 + DAY), (T0 + DAY, T0 + 3 * DAY)] {
        let rates = x.source_tool_activity(from, to).unwrap();
        assert!(!rates.is_empty());
        assert_eq!(rates, a.source_tool_activity(from, to).unwrap());
    }
    let day = T0 / DAY;
    for (from, to) in [(0, i64::MAX), (day, day + 1), (day + 1, day + 9)] {
        assert_eq!(x.source_days(from, to).unwrap(), a.source_days(from, to).unwrap(), "{from}..={to}");
    }
}
