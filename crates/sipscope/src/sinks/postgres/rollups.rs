//! The rollups of `traffic` and `dialled` in PostgreSQL (migration 4; the SQLite store's
//! `sinks/sqlite/rollups.rs` says what each holds and why): the same tables, each row under
//! its run (`ON DELETE CASCADE`, so every deletion of analysis rows takes them along), filled
//! by the same `INSERT … SELECT … GROUP BY` from every stored row in the migration and from the
//! rows of one write in the writer. The writer copies a hand-over's rows into temporary tables
//! first (`traffic_in`, `dialled_in`, emptied at commit), then into `traffic`/`dialled` and the
//! rollups from there, in the same transaction.

use super::pg_error;
use crate::sinks::SinkError;

// Each statement fills one rollup from the rows of `$from` (`traffic` or `traffic_in`,
// `dialled` or `dialled_in`).

macro_rules! traffic_sql {
    ($from:literal) => {
        concat!(
            "INSERT INTO rollup_traffic (run_id, hour, node, kind, method, direction, messages)
             SELECT run_id, hour, node, kind, method, direction, sum(messages) FROM ",
            $from,
            " GROUP BY run_id, hour, node, kind, method, direction"
        )
    };
}

macro_rules! sources_sql {
    ($from:literal) => {
        concat!(
            "INSERT INTO rollup_sources AS r (run_id, hour, node, src_ip, messages, first_ns, last_ns)
             SELECT run_id, hour, node, src_ip, sum(messages), min(first_ns), max(last_ns) FROM ",
            $from,
            " WHERE kind = 'request' AND direction <> 'out' GROUP BY run_id, hour, node, src_ip
             ON CONFLICT (hour, node, src_ip, run_id) DO UPDATE SET
               messages = r.messages + excluded.messages,
               first_ns = least(r.first_ns, excluded.first_ns),
               last_ns = greatest(r.last_ns, excluded.last_ns)"
        )
    };
}

macro_rules! agents_sql {
    ($from:literal) => {
        concat!(
            "INSERT INTO rollup_agents (run_id, hour, node, user_agent, src_ip, messages)
             SELECT run_id, hour, node, user_agent, src_ip, sum(messages) FROM ",
            $from,
            " WHERE kind = 'request' AND direction <> 'out' GROUP BY run_id, hour, node, user_agent, src_ip"
        )
    };
}

macro_rules! users_sql {
    ($from:literal) => {
        concat!(
            "INSERT INTO rollup_users (run_id, hour, node, ruri_user)
             SELECT DISTINCT run_id, hour, node, ruri_user FROM ",
            $from,
            " ON CONFLICT DO NOTHING"
        )
    };
}

macro_rules! countries_sql {
    ($from:literal) => {
        concat!(
            "INSERT INTO rollup_countries AS r (run_id, hour, node, src_ip, number_country, invites)
             SELECT run_id, hour, node, src_ip, number_country, sum(invites) FROM ",
            $from,
            " WHERE number_country IS NOT NULL GROUP BY run_id, hour, node, src_ip, number_country
             ON CONFLICT (hour, node, src_ip, number_country, run_id) DO UPDATE SET
               invites = r.invites + excluded.invites"
        )
    };
}

/// Migration 4: the tables, their backfill from every stored row, the indexes for alerts per
/// rule and sources per stage, and the kept count of stored events (`counts.rs`).
pub(super) const MIGRATION: &str = concat!(
    "CREATE TABLE rollup_traffic (
        run_id     bigint NOT NULL REFERENCES analysis_runs(id) ON DELETE CASCADE,
        hour       bigint NOT NULL,
        node       text NOT NULL,
        kind       text NOT NULL,
        method     text,
        direction  text NOT NULL,
        messages   bigint NOT NULL
    );
    CREATE INDEX rollup_traffic_hour ON rollup_traffic (hour);
    CREATE INDEX rollup_traffic_run ON rollup_traffic (run_id);
    CREATE TABLE rollup_sources (
        run_id     bigint NOT NULL REFERENCES analysis_runs(id) ON DELETE CASCADE,
        hour       bigint NOT NULL,
        node       text NOT NULL,
        src_ip     text NOT NULL,
        messages   bigint NOT NULL,
        first_ns   bigint NOT NULL,
        last_ns    bigint NOT NULL,
        PRIMARY KEY (hour, node, src_ip, run_id)
    );
    CREATE INDEX rollup_sources_run ON rollup_sources (run_id);
    CREATE TABLE rollup_agents (
        run_id     bigint NOT NULL REFERENCES analysis_runs(id) ON DELETE CASCADE,
        hour       bigint NOT NULL,
        node       text NOT NULL,
        user_agent text,
        src_ip     text NOT NULL,
        messages   bigint NOT NULL
    );
    CREATE INDEX rollup_agents_hour ON rollup_agents (hour);
    CREATE INDEX rollup_agents_run ON rollup_agents (run_id);
    CREATE TABLE rollup_users (
        run_id     bigint NOT NULL REFERENCES analysis_runs(id) ON DELETE CASCADE,
        hour       bigint NOT NULL,
        node       text NOT NULL,
        ruri_user  text NOT NULL,
        PRIMARY KEY (hour, node, ruri_user, run_id)
    );
    CREATE INDEX rollup_users_run ON rollup_users (run_id);
    CREATE TABLE rollup_countries (
        run_id         bigint NOT NULL REFERENCES analysis_runs(id) ON DELETE CASCADE,
        hour           bigint NOT NULL,
        node           text NOT NULL,
        src_ip         text NOT NULL,
        number_country text NOT NULL,
        invites        bigint NOT NULL,
        PRIMARY KEY (hour, node, src_ip, number_country, run_id)
    );
    CREATE INDEX rollup_countries_run ON rollup_countries (run_id);
    CREATE INDEX alerts_rule ON alerts (rule_id, src_ip, proven, first_ns, node, count, last_ns)
        INCLUDE (name, severity, actions);
    CREATE INDEX stages_node ON stages (node, stage, src_ip, first_ns, count);
    -- Stored events per writing process, kept by the writers (`counts.rs`).
    CREATE TABLE event_counts (
        writer  text PRIMARY KEY,
        events  bigint NOT NULL
    );
    INSERT INTO event_counts (writer, events) SELECT 'migration', count(*) FROM events;
    ",
    traffic_sql!("traffic"),
    ";\n",
    sources_sql!("traffic"),
    ";\n",
    agents_sql!("traffic"),
    ";\n",
    users_sql!("dialled"),
    ";\n",
    countries_sql!("dialled"),
    ";\n"
);

/// Creates, once per session, the temporary tables a write copies its `traffic` and `dialled`
/// rows into (emptied at every commit). Asked first rather than `IF NOT EXISTS`, which would
/// send a notice on every write.
pub(super) fn stage(tx: &mut postgres::Transaction<'_>) -> Result<(), SinkError> {
    let missing: bool = tx.query_one("SELECT to_regclass('pg_temp.traffic_in') IS NULL", &[]).map_err(pg_error)?.get(0);
    if missing {
        tx.batch_execute(
            "CREATE TEMPORARY TABLE traffic_in (LIKE traffic) ON COMMIT DELETE ROWS;
             CREATE TEMPORARY TABLE dialled_in (LIKE dialled) ON COMMIT DELETE ROWS",
        )
        .map_err(pg_error)?;
    }
    Ok(())
}

/// Moves the rows staged in `traffic_in` and `dialled_in` into `traffic`, `dialled` and the
/// rollups (in the writer's transaction).
pub(super) fn move_staged(tx: &mut postgres::Transaction<'_>) -> Result<(), SinkError> {
    tx.batch_execute(concat!(
        "INSERT INTO traffic SELECT * FROM traffic_in;\n",
        traffic_sql!("traffic_in"),
        ";\n",
        sources_sql!("traffic_in"),
        ";\n",
        agents_sql!("traffic_in"),
        ";\n",
        "INSERT INTO dialled SELECT * FROM dialled_in;\n",
        users_sql!("dialled_in"),
        ";\n",
        countries_sql!("dialled_in"),
        ";\n",
        "DELETE FROM traffic_in;\nDELETE FROM dialled_in"
    ))
    .map_err(pg_error)
}
