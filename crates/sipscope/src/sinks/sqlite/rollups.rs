//! Rollups of the hourly rollups (schema 15, issue 17): what a report asks of `traffic` and
//! `dialled` for any time range, from tables sized by the distinct keys a range reaches rather
//! than by the rows of the store. Each is keyed by run, hour and node (so `Filter::hours` and
//! the filter's nodes apply exactly as to `traffic`/`dialled`) and belongs to its run (`ON
//! DELETE CASCADE`): every path that deletes analysis rows deletes runs, and their rollups go
//! with them. The same `INSERT … SELECT … GROUP BY` fills them in the migration (from every
//! stored row) and in the writer (from the rows just inserted, in the same transaction), so
//! the two cannot disagree.
//!
//! - `rollup_traffic`: messages per hour, node, kind, method and direction (summary, daily);
//! - `rollup_sources`: requests per hour, node and source, first and last time (distinct
//!   sources, top sources, sources per node);
//! - `rollup_agents`: requests per hour, node, User-Agent and source (user agents);
//! - `rollup_users`: the Request-URI users dialled per hour and node (distinct dialled users);
//! - `rollup_countries`: INVITEs per hour, node, source and dialled country (countries).

use rusqlite::Transaction;

// Each statement fills one rollup from the `traffic` or `dialled` rows matching `$cond` (SQL
// over that table's columns; `?1` may appear in it): every stored row in the migration, the
// rows just inserted in the writer.

macro_rules! traffic_sql {
    ($cond:literal) => {
        concat!(
            "INSERT INTO rollup_traffic (run_id, hour, node, kind, method, direction, messages)
             SELECT run_id, hour, node, kind, method, direction, sum(messages) FROM traffic WHERE ",
            $cond,
            " GROUP BY run_id, hour, node, kind, method, direction"
        )
    };
}

macro_rules! sources_sql {
    ($cond:literal) => {
        concat!(
            "INSERT INTO rollup_sources (run_id, hour, node, src_ip, messages, first_ns, last_ns)
             SELECT run_id, hour, node, src_ip, sum(messages), min(first_ns), max(last_ns) FROM traffic WHERE ",
            $cond,
            " AND kind = 'request' AND direction <> 'out' GROUP BY run_id, hour, node, src_ip
             ON CONFLICT (hour, node, src_ip, run_id) DO UPDATE SET
               messages = rollup_sources.messages + excluded.messages,
               first_ns = min(rollup_sources.first_ns, excluded.first_ns),
               last_ns = max(rollup_sources.last_ns, excluded.last_ns)"
        )
    };
}

macro_rules! agents_sql {
    ($cond:literal) => {
        concat!(
            "INSERT INTO rollup_agents (run_id, hour, node, user_agent, src_ip, messages)
             SELECT run_id, hour, node, user_agent, src_ip, sum(messages) FROM traffic WHERE ",
            $cond,
            " AND kind = 'request' AND direction <> 'out' GROUP BY run_id, hour, node, user_agent, src_ip"
        )
    };
}

macro_rules! users_sql {
    ($cond:literal) => {
        concat!(
            "INSERT INTO rollup_users (run_id, hour, node, ruri_user)
             SELECT DISTINCT run_id, hour, node, ruri_user FROM dialled WHERE ",
            $cond,
            " ON CONFLICT DO NOTHING"
        )
    };
}

macro_rules! countries_sql {
    ($cond:literal) => {
        concat!(
            "INSERT INTO rollup_countries (run_id, hour, node, src_ip, number_country, invites)
             SELECT run_id, hour, node, src_ip, number_country, sum(invites) FROM dialled WHERE ",
            $cond,
            " AND number_country IS NOT NULL GROUP BY run_id, hour, node, src_ip, number_country
             ON CONFLICT (hour, node, src_ip, number_country, run_id) DO UPDATE SET
               invites = rollup_countries.invites + excluded.invites"
        )
    };
}

/// Migration 15: the tables, their backfill from every stored row, the covering indexes for
/// alerts per rule and sources per stage, and the kept count of stored events.
pub(super) const MIGRATION: &str = concat!(
    "CREATE TABLE rollup_traffic (
        run_id     INTEGER NOT NULL REFERENCES analysis_runs(id) ON DELETE CASCADE,
        hour       INTEGER NOT NULL,
        node       TEXT NOT NULL,
        kind       TEXT NOT NULL,
        method     TEXT,
        direction  TEXT NOT NULL,
        messages   INTEGER NOT NULL
    );
    CREATE INDEX rollup_traffic_hour ON rollup_traffic (hour);
    CREATE TABLE rollup_sources (
        run_id     INTEGER NOT NULL REFERENCES analysis_runs(id) ON DELETE CASCADE,
        hour       INTEGER NOT NULL,
        node       TEXT NOT NULL,
        src_ip     TEXT NOT NULL,
        messages   INTEGER NOT NULL,
        first_ns   INTEGER NOT NULL,
        last_ns    INTEGER NOT NULL,
        PRIMARY KEY (hour, node, src_ip, run_id)
    ) WITHOUT ROWID;
    CREATE TABLE rollup_agents (
        run_id     INTEGER NOT NULL REFERENCES analysis_runs(id) ON DELETE CASCADE,
        hour       INTEGER NOT NULL,
        node       TEXT NOT NULL,
        user_agent TEXT,
        src_ip     TEXT NOT NULL,
        messages   INTEGER NOT NULL
    );
    CREATE INDEX rollup_agents_hour ON rollup_agents (hour);
    CREATE TABLE rollup_users (
        run_id     INTEGER NOT NULL REFERENCES analysis_runs(id) ON DELETE CASCADE,
        hour       INTEGER NOT NULL,
        node       TEXT NOT NULL,
        ruri_user  TEXT NOT NULL,
        PRIMARY KEY (hour, node, ruri_user, run_id)
    ) WITHOUT ROWID;
    CREATE TABLE rollup_countries (
        run_id         INTEGER NOT NULL REFERENCES analysis_runs(id) ON DELETE CASCADE,
        hour           INTEGER NOT NULL,
        node           TEXT NOT NULL,
        src_ip         TEXT NOT NULL,
        number_country TEXT NOT NULL,
        invites        INTEGER NOT NULL,
        PRIMARY KEY (hour, node, src_ip, number_country, run_id)
    ) WITHOUT ROWID;
    -- Alerts per rule read in rule and source order from this index alone (no sort for the
    -- GROUP BY, no row read): every column `alert_rules` asks for.
    CREATE INDEX alerts_rule ON alerts (rule_id, src_ip, proven, first_ns, node, count, last_ns, name, severity,
                                        actions);
    -- Stages by node (the overall rows are node ''), stage and source: sources per stage
    -- counted in index order, without reading the rows.
    CREATE INDEX stages_node ON stages (node, stage, src_ip, first_ns, count);
    -- The number of stored events, kept by the writer (added at each commit, subtracted with
    -- every delete) so that a report does not count them (tens of ms over 10 M events).
    CREATE TABLE event_count (
        one    INTEGER PRIMARY KEY CHECK (one = 1),
        events INTEGER NOT NULL
    );
    INSERT INTO event_count (one, events) SELECT 1, count(*) FROM events;
    ",
    traffic_sql!("true"),
    ";\n",
    sources_sql!("true"),
    ";\n",
    agents_sql!("true"),
    ";\n",
    users_sql!("true"),
    ";\n",
    countries_sql!("true"),
    ";\n"
);

/// Adds `delta` stored events (negative: deleted) to the kept count, in the caller's
/// transaction.
pub(super) fn count_events(conn: &rusqlite::Connection, delta: i64) -> rusqlite::Result<()> {
    if delta != 0 {
        conn.prepare_cached("UPDATE event_count SET events = events + ?1 WHERE one = 1")?.execute([delta])?;
    }
    Ok(())
}

/// The rowids of `traffic` and `dialled` before a write: the rows inserted after it are the
/// new ones.
#[derive(Debug, Clone, Copy)]
pub(super) struct Marks {
    traffic: i64,
    dialled: i64,
}

/// Where `traffic` and `dialled` end now (inside the writer's transaction).
pub(super) fn marks(tx: &Transaction<'_>) -> rusqlite::Result<Marks> {
    let last =
        |table: &str| tx.query_row(&format!("SELECT coalesce(max(rowid), 0) FROM {table}"), [], |r| r.get::<_, i64>(0));
    Ok(Marks { traffic: last("traffic")?, dialled: last("dialled")? })
}

/// Adds the rows inserted since `marks` to the rollups, in the same transaction.
pub(super) fn add_since(tx: &Transaction<'_>, marks: Marks) -> rusqlite::Result<()> {
    for sql in [traffic_sql!("rowid > ?1"), sources_sql!("rowid > ?1"), agents_sql!("rowid > ?1")] {
        tx.prepare_cached(sql)?.execute([marks.traffic])?;
    }
    for sql in [users_sql!("rowid > ?1"), countries_sql!("rowid > ?1")] {
        tx.prepare_cached(sql)?.execute([marks.dialled])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::Store;
    use crate::analysis::result::{DialledRow, Handover, TrafficRow};
    use crate::sinks::{RunKind, RunScope};
    use rusqlite::Connection;

    fn traffic(
        (hour, node, src): (i64, &str, &str),
        kind: &'static str,
        method: Option<&str>,
        dir: &'static str,
        agent: Option<&str>,
        messages: u64,
        t: i64,
    ) -> TrafficRow {
        TrafficRow {
            hour,
            node: (!node.is_empty()).then(|| node.to_owned()),
            source: src.parse().unwrap(),
            kind,
            method: method.map(str::to_owned),
            direction: dir,
            user_agent: agent.map(str::to_owned),
            messages,
            first_ns: t,
            last_ns: t + 10,
        }
    }

    fn dialled(
        hour: i64,
        node: &str,
        src: &str,
        user: &str,
        country: Option<&str>,
        invites: u64,
        t: i64,
    ) -> DialledRow {
        DialledRow {
            hour,
            node: (!node.is_empty()).then(|| node.to_owned()),
            source: src.parse().unwrap(),
            user: user.into(),
            number_country: country.map(str::to_owned),
            number: country.map(|_| user.to_owned()),
            invites,
            first_ns: t,
            last_ns: t + 5,
        }
    }

    /// Every rollup, summed by its key, in key order (rows of one key may repeat where the
    /// table has no unique key; readers sum them).
    fn snapshot(conn: &Connection) -> Vec<String> {
        let queries = [
            "SELECT run_id, hour, node, kind, method, direction, sum(messages) FROM rollup_traffic
             GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6",
            "SELECT run_id, hour, node, src_ip, messages, first_ns, last_ns FROM rollup_sources ORDER BY 1, 2, 3, 4",
            "SELECT run_id, hour, node, user_agent, src_ip, sum(messages) FROM rollup_agents
             GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5",
            "SELECT run_id, hour, node, ruri_user FROM rollup_users ORDER BY 1, 2, 3, 4",
            "SELECT run_id, hour, node, src_ip, number_country, invites FROM rollup_countries ORDER BY 1, 2, 3, 4, 5",
        ];
        let mut out = Vec::new();
        for sql in queries {
            let mut st = conn.prepare(sql).unwrap();
            let n = st.column_count();
            let mut rows = st.query([]).unwrap();
            while let Some(r) = rows.next().unwrap() {
                let cells: Vec<String> =
                    (0..n).map(|i| format!("{:?}", r.get::<_, rusqlite::types::Value>(i).unwrap())).collect();
                let table = sql.split_whitespace().find(|w| w.starts_with("rollup_")).unwrap_or_default();
                out.push(format!("{table}: {}", cells.join(" | ")));
            }
        }
        out
    }

    #[test]
    fn rollups_kept_by_the_writer_equal_the_migrations_backfill_and_go_with_their_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let mut store = Store::open(&path).unwrap();
        let scope = |kind| RunScope { kind, replace_all: false, file_id: None, sensor: "s".into() };
        let run = store.begin_analysis_run(&scope(RunKind::Ingest), 0).unwrap();
        // The same keys in two hand-overs (an hour handed over in parts), NULL methods and
        // agents, answers, the honeypot's own requests, two nodes, two hours.
        let first = Handover {
            traffic: vec![
                traffic((10, "n1", "192.0.2.1"), "request", Some("OPTIONS"), "in", Some("sipvicious"), 5, 100),
                traffic((10, "n1", "192.0.2.1"), "request", Some("INVITE"), "in", None, 2, 90),
                traffic((10, "", "192.0.2.2"), "invalid", None, "unknown", None, 1, 95),
                traffic((10, "n1", "198.51.100.1"), "response", None, "out", None, 7, 101),
                traffic((10, "n1", "198.51.100.1"), "request", Some("OPTIONS"), "out", Some("PBX"), 3, 102),
            ],
            dialled: vec![
                dialled(10, "n1", "192.0.2.1", "0046701234567", Some("SE"), 2, 90),
                dialled(10, "n1", "192.0.2.1", "100", None, 1, 91),
            ],
            ..Handover::default()
        };
        let second = Handover {
            traffic: vec![
                traffic((10, "n1", "192.0.2.1"), "request", Some("OPTIONS"), "in", Some("sipvicious"), 4, 50),
                traffic((11, "n2", "192.0.2.1"), "request", Some("REGISTER"), "unknown", Some("sipvicious"), 9, 4000),
            ],
            dialled: vec![
                dialled(10, "n1", "192.0.2.1", "0046701234567", Some("SE"), 3, 80),
                dialled(11, "n2", "192.0.2.3", "0046701234567", Some(""), 1, 4001),
            ],
            ..Handover::default()
        };
        store.append_handover(run, &first).unwrap();
        store.append_handover(run, &second).unwrap();
        let other = store.begin_analysis_run(&scope(RunKind::Analyze), 0).unwrap();
        store.append_handover(other, &first).unwrap();
        drop(store);

        let conn = Connection::open(&path).unwrap();
        let kept = snapshot(&conn);
        assert!(
            kept.iter().any(|r| r.contains("rollup_sources") && r.contains("Integer(11) | Integer(50) | Integer(110)")),
            "one row for the source's hour, summed over both hand-overs: {kept:#?}"
        );
        assert!(
            !kept.iter().any(|r| r.contains("198.51.100.1") && !r.contains("rollup_traffic")),
            "answers and the honeypot's own requests are no request sources: {kept:#?}"
        );
        conn.execute_batch(
            "DELETE FROM rollup_traffic; DELETE FROM rollup_sources; DELETE FROM rollup_agents;
             DELETE FROM rollup_users; DELETE FROM rollup_countries;",
        )
        .unwrap();
        for sql in [
            traffic_sql!("true"),
            sources_sql!("true"),
            agents_sql!("true"),
            users_sql!("true"),
            countries_sql!("true"),
        ] {
            conn.execute(sql, []).unwrap();
        }
        assert_eq!(snapshot(&conn), kept, "the writer's rollups are the backfill's");

        conn.execute_batch("PRAGMA foreign_keys = ON;").unwrap();
        conn.execute("DELETE FROM analysis_runs WHERE id = ?1", [run]).unwrap();
        let left = snapshot(&conn);
        assert!(!left.is_empty() && left.iter().all(|r| r.contains(&format!("Integer({other}) |"))), "{left:#?}");
    }
}
