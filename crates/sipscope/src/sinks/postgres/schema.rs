//! Versioned migrations of the PostgreSQL store. A migration is appended, never edited: the
//! store records the version it reached in `sipscope_schema`, each step in its own transaction
//! (PostgreSQL's DDL is transactional), under an advisory lock so that two writers starting at
//! once do not both migrate.
//!
//! The tables mirror the SQLite store's (same names and columns, so that the readers ask the
//! same questions), with PostgreSQL's types: raw bytes as `bytea`, the addresses of events and
//! records as `inet`, counts as `bigint`, flags as `boolean`. `events` is partitioned by day
//! (`sinks/postgres/partitions.rs`). Its indexes are what readers use and nothing more: each
//! costs every stored event (docs/benchmarks.md measured each), so migration 6 dropped the
//! unique `(sensor, sequence, ts_ns)` (a collector is exactly-once by its committed positions,
//! `collector_positions`, written in the transaction of its rows) and the partial
//! `events_run` (the count and replay of an interrupted run read `id > after AND run_id = r`
//! through `events_id`).

use crate::sinks::SinkError;
use postgres::Client;

/// Each entry upgrades the store from version `index` to `index + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: everything the SQLite store holds at its schema 10.
    r#"
    CREATE TABLE ingested_files (
        id             bigserial PRIMARY KEY,
        sha256         text NOT NULL UNIQUE,
        path           text NOT NULL,
        size           bigint NOT NULL,
        sensor         text NOT NULL,
        started_ns     bigint NOT NULL,
        finished_ns    bigint,
        status         text NOT NULL CHECK (status IN ('partial', 'complete')),
        packets        bigint,
        messages       bigint,
        skipped        bigint,
        records        bigint,
        content_sha256 text,
        superseded_by  bigint
    );
    CREATE SEQUENCE events_id_seq;
    CREATE TABLE events (
        id             bigint NOT NULL,
        sequence       bigint NOT NULL,
        ts_ns          bigint NOT NULL,
        sensor         text NOT NULL,
        node           text,
        transport      text NOT NULL,
        src_ip         inet NOT NULL,
        src_port       integer NOT NULL,
        dst_ip         inet NOT NULL,
        dst_port       integer NOT NULL,
        tunnel_src     inet,
        tunnel_dst     inet,
        direction      text NOT NULL,
        file_id        bigint,
        packet_no      bigint,
        kind           text NOT NULL,
        method         text,
        status         bigint,
        reason         text,
        request_uri    text,
        ruri_user      text,
        ruri_host      text,
        from_user      text,
        from_host      text,
        from_tag       text,
        to_user        text,
        to_host        text,
        to_tag         text,
        call_id        text,
        cseq_seq       bigint,
        cseq_method    text,
        user_agent     text,
        contact        text,
        expires        bigint,
        auth_username  text,
        auth_realm     text,
        auth_nonce     text,
        auth_uri       text,
        auth_response  text,
        auth_algorithm text,
        auth_qop       text,
        anomalies      text NOT NULL,
        raw            bytea NOT NULL,
        run_id         bigint,
        UNIQUE (sensor, sequence, ts_ns)
    ) PARTITION BY RANGE (ts_ns);
    -- Times outside the window of daily partitions (see partitions.rs) land here.
    CREATE TABLE events_default PARTITION OF events DEFAULT;
    CREATE INDEX events_ts ON events (ts_ns, id);
    CREATE INDEX events_src ON events (src_ip, ts_ns);
    CREATE INDEX events_id ON events (id);
    CREATE INDEX events_file ON events (file_id) WHERE file_id IS NOT NULL;
    CREATE TABLE auth_attempts (
        id               bigint PRIMARY KEY,
        ts_ns            bigint NOT NULL,
        sensor           text NOT NULL,
        node             text,
        transport        text NOT NULL,
        src_ip           inet NOT NULL,
        src_port         integer NOT NULL,
        dst_ip           inet NOT NULL,
        dst_port         integer NOT NULL,
        method           text NOT NULL,
        username         text NOT NULL,
        realm            text,
        uri              text,
        nonce            text,
        call_id          text,
        user_agent       text,
        outcome          text NOT NULL,
        password         text,
        password_source  text,
        candidates_tried bigint,
        origin           text,
        log_file         text,
        log_line         bytea
    );
    CREATE INDEX auth_attempts_src ON auth_attempts (src_ip, ts_ns);
    CREATE INDEX auth_attempts_user ON auth_attempts (username);
    CREATE TABLE registrations (
        id          bigserial PRIMARY KEY,
        ts_ns       bigint NOT NULL,
        sensor      text NOT NULL,
        node        text,
        transport   text NOT NULL,
        src_ip      inet NOT NULL,
        src_port    integer NOT NULL,
        dst_ip      inet NOT NULL,
        dst_port    integer NOT NULL,
        username    text NOT NULL,
        contact     text NOT NULL,
        expires     bigint NOT NULL,
        call_id     text,
        user_agent  text
    );
    CREATE INDEX registrations_user ON registrations (username, ts_ns);
    CREATE TABLE analysis_runs (
        id            bigserial PRIMARY KEY,
        kind          text NOT NULL,
        started_ns    bigint NOT NULL,
        finished_ns   bigint,
        events        bigint NOT NULL DEFAULT 0,
        flows_evicted bigint NOT NULL DEFAULT 0,
        file_id       bigint,
        sensor        text,
        owner         text,
        after_event   bigint NOT NULL DEFAULT 0,
        covered       bigint NOT NULL DEFAULT 0
    );
    CREATE INDEX analysis_runs_file ON analysis_runs (file_id) WHERE file_id IS NOT NULL;
    CREATE INDEX events_run ON events (run_id) WHERE run_id IS NOT NULL;
    CREATE TABLE flows (
        id            bigserial PRIMARY KEY,
        run_id        bigint NOT NULL REFERENCES analysis_runs(id) ON DELETE CASCADE,
        src_ip        text NOT NULL,
        first_ns      bigint NOT NULL,
        last_ns       bigint NOT NULL,
        packets       bigint NOT NULL,
        bytes         bigint NOT NULL,
        packets_per_s double precision NOT NULL,
        methods       text NOT NULL,
        destinations  bigint NOT NULL,
        dest_ports    bigint NOT NULL,
        source_ports  text NOT NULL,
        users         bigint NOT NULL,
        dialled       bigint NOT NULL,
        responses     text NOT NULL,
        fingerprint   text,
        tool          text,
        variant       text,
        tool_verdict  text NOT NULL,
        similarity    double precision NOT NULL,
        strategy      text NOT NULL,
        ua_class      text NOT NULL,
        user_agent    text
    );
    CREATE INDEX flows_src ON flows (src_ip, first_ns);
    CREATE INDEX flows_run ON flows (run_id);
    CREATE TABLE fingerprints (
        run_id      bigint NOT NULL REFERENCES analysis_runs(id) ON DELETE CASCADE,
        id          text NOT NULL,
        text        text NOT NULL,
        flows       bigint NOT NULL,
        packets     bigint NOT NULL,
        tool        text,
        variant     text,
        verdict     text NOT NULL,
        similarity  double precision NOT NULL,
        PRIMARY KEY (run_id, id)
    );
    CREATE TABLE stages (
        run_id    bigint NOT NULL REFERENCES analysis_runs(id) ON DELETE CASCADE,
        src_ip    text NOT NULL,
        node      text NOT NULL,
        stage     text NOT NULL,
        first_ns  bigint NOT NULL,
        last_ns   bigint NOT NULL,
        count     bigint NOT NULL,
        detail    text NOT NULL,
        samples   text NOT NULL,
        PRIMARY KEY (run_id, src_ip, node, stage)
    );
    CREATE TABLE numbers (
        run_id           bigint NOT NULL REFERENCES analysis_runs(id) ON DELETE CASCADE,
        number           text NOT NULL,
        e164             text,
        country          text,
        number_type      text NOT NULL,
        attempts         bigint NOT NULL,
        variants         bigint NOT NULL,
        sources          bigint NOT NULL,
        first_ns         bigint NOT NULL,
        last_ns          bigint NOT NULL,
        variant_samples  text NOT NULL,
        invites          bigint NOT NULL DEFAULT 0,
        country_inferred boolean NOT NULL DEFAULT false,
        PRIMARY KEY (run_id, number)
    );
    CREATE TABLE user_agents (
        run_id      bigint NOT NULL REFERENCES analysis_runs(id) ON DELETE CASCADE,
        user_agent  text,
        class       text NOT NULL,
        product     text,
        messages    bigint NOT NULL,
        sources     bigint NOT NULL
    );
    CREATE INDEX user_agents_run ON user_agents (run_id);
    CREATE TABLE sources (
        run_id    bigint NOT NULL REFERENCES analysis_runs(id) ON DELETE CASCADE,
        src_ip    text NOT NULL,
        first_ns  bigint NOT NULL,
        last_ns   bigint NOT NULL,
        messages  bigint NOT NULL,
        flows     bigint NOT NULL,
        nodes     bigint NOT NULL,
        tool      text,
        ua_class  text NOT NULL,
        PRIMARY KEY (run_id, src_ip)
    );
    CREATE TABLE source_days (
        run_id    bigint NOT NULL REFERENCES analysis_runs(id) ON DELETE CASCADE,
        src_ip    text NOT NULL,
        day       bigint NOT NULL,
        messages  bigint NOT NULL,
        PRIMARY KEY (run_id, src_ip, day)
    );
    CREATE TABLE traffic (
        run_id     bigint NOT NULL REFERENCES analysis_runs(id) ON DELETE CASCADE,
        hour       bigint NOT NULL,
        node       text NOT NULL,
        src_ip     text NOT NULL,
        kind       text NOT NULL,
        method     text,
        direction  text NOT NULL,
        user_agent text,
        messages   bigint NOT NULL,
        first_ns   bigint NOT NULL,
        last_ns    bigint NOT NULL
    );
    CREATE INDEX traffic_hour ON traffic (hour);
    CREATE INDEX traffic_src ON traffic (src_ip, hour);
    CREATE INDEX traffic_run ON traffic (run_id);
    CREATE TABLE dialled (
        run_id         bigint NOT NULL REFERENCES analysis_runs(id) ON DELETE CASCADE,
        hour           bigint NOT NULL,
        node           text NOT NULL,
        src_ip         text NOT NULL,
        ruri_user      text NOT NULL,
        number_country text,
        invites        bigint NOT NULL,
        first_ns       bigint NOT NULL,
        last_ns        bigint NOT NULL,
        number         text
    );
    CREATE INDEX dialled_hour ON dialled (hour);
    CREATE INDEX dialled_src ON dialled (src_ip, hour);
    CREATE INDEX dialled_run ON dialled (run_id);
    CREATE TABLE decisions (
        id          bigserial PRIMARY KEY,
        kind        text NOT NULL CHECK (kind IN ('ban', 'rate-limit', 'watch')),
        per_second  bigint,
        scope_kind  text NOT NULL CHECK (scope_kind IN ('address', 'address-port', 'prefix')),
        address     text NOT NULL,
        port        integer,
        prefix_len  integer NOT NULL,
        start_ns    bigint NOT NULL,
        until_ns    bigint NOT NULL,
        reason      text NOT NULL,
        origin      text NOT NULL CHECK (origin IN ('rule', 'operator')),
        rule_id     text,
        who         text,
        offence     bigint NOT NULL,
        proven      boolean NOT NULL,
        evidence    text NOT NULL,
        sensor      text,
        created_ns  bigint NOT NULL,
        deleted_ns  bigint,
        deleted_by  text,
        deleted_why text
    );
    CREATE INDEX decisions_until ON decisions (until_ns) WHERE deleted_ns IS NULL;
    CREATE INDEX decisions_start ON decisions (start_ns);
    CREATE TABLE offences (
        scope       text PRIMARY KEY,
        count       bigint NOT NULL,
        first_ns    bigint NOT NULL,
        last_ns     bigint NOT NULL
    );
    CREATE TABLE alerts (
        id          bigserial PRIMARY KEY,
        run_id      bigint REFERENCES analysis_runs(id) ON DELETE CASCADE,
        sensor      text NOT NULL,
        rule_id     text NOT NULL,
        sid         bigint NOT NULL,
        name        text NOT NULL,
        severity    text NOT NULL,
        labels      text NOT NULL,
        group_key   text NOT NULL,
        first_ns    bigint NOT NULL,
        last_ns     bigint NOT NULL,
        count       bigint NOT NULL,
        node        text,
        src_ip      text,
        src_port    integer,
        dst_ip      text,
        dst_port    integer,
        proven      boolean NOT NULL,
        transport   text,
        method      text,
        status      bigint,
        user_agent  text,
        from_user   text,
        to_user     text,
        ruri_user   text,
        call_id     text,
        actions     text NOT NULL,
        UNIQUE (sensor, rule_id, group_key, first_ns)
    );
    CREATE INDEX alerts_first ON alerts (first_ns);
    CREATE INDEX alerts_run ON alerts (run_id) WHERE run_id IS NOT NULL;
    CREATE TABLE alert_evidence (
        alert_id  bigint NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
        position  bigint NOT NULL,
        ts_ns     bigint NOT NULL,
        src_ip    text NOT NULL,
        src_port  integer NOT NULL,
        dst_ip    text NOT NULL,
        dst_port  integer NOT NULL,
        event_id  bigint,
        PRIMARY KEY (alert_id, position)
    );
    "#,
    // 2: the collector's positions (sipscope collect): the highest sequence stored per sensor
    // and kind, committed with those events, so that a message delivered again is recognised.
    r#"
    CREATE TABLE collector_positions (
        sensor    text NOT NULL,
        kind      text NOT NULL,
        seq       bigint NOT NULL,
        stored_ns bigint NOT NULL,
        PRIMARY KEY (sensor, kind)
    );
    "#,
    // 3: a collector keeps the id an attempt had in the publishing sensor's store, which is how
    // the recovery that sensor publishes later names it (SQLite's migration 13).
    r#"
    ALTER TABLE auth_attempts ADD COLUMN published_seq bigint;
    CREATE INDEX auth_attempts_published ON auth_attempts (sensor, published_seq) WHERE published_seq IS NOT NULL;
    "#,
    // 4 (issue 17): rollups of `traffic` and `dialled` sized by the keys a time range reaches,
    // filled from every stored row here and kept by the writer in the transaction of the rows
    // they summarise; an index for alerts per rule. See `rollups.rs`.
    super::rollups::MIGRATION,
    // 5 (issue 17): the REST API's last whole reports, kept across restarts (SQLite's
    // migration 16, `sinks/kept.rs`).
    r#"
    CREATE TABLE kept_reports (
        key      text PRIMARY KEY,
        format   text NOT NULL,
        built_ns bigint NOT NULL,
        body     text NOT NULL
    );
    "#,
    // 6 (issue 16, speed): two indexes of `events` that every stored event paid for (2.2 µs of
    // the backend's CPU an event) and nothing needs: the unique key of re-delivered events
    // (the collector recognises them by its positions) and the partial index by run (its two
    // readers start at the run's first event, `events_id` finds it). `sequence` stays, the id.
    r#"
    ALTER TABLE events DROP CONSTRAINT IF EXISTS events_sensor_sequence_ts_ns_key;
    DROP INDEX IF EXISTS events_run;
    "#,
    // 7 (issue 16, speed): what a stored row paid for that a statement can do once.
    // * The foreign keys to `analysis_runs` and `alerts` checked every inserted row (a query
    //   each, ~4 µs of the backend: as much as its three indexes for a row of `dialled`) only
    //   to cascade deletions. A trigger per parent now deletes the children of the rows a
    //   statement deleted, once per statement: the same cascade (a run takes its analysis rows
    //   and alerts, an alert its evidence), each child found by its `run_id`/`alert_id` index
    //   (`= ANY (ARRAY(…))`: the deleted rows' table has no statistics to plan a join by).
    //   Writers insert a run's rows in the transaction that made the run, and a run is
    //   deleted only when its writer is gone (owner.rs).
    // * Event ids: one `nextval` a row became one per block of `EVENT_ID_BLOCK` (a writer's ids
    //   are a block's, in order; a block's unused ids stay unused).
    r#"
    DO $$
    DECLARE c record;
    BEGIN
        FOR c IN SELECT conrelid::regclass AS child, conname FROM pg_constraint
                 WHERE contype = 'f' AND confrelid IN ('analysis_runs'::regclass, 'alerts'::regclass)
        LOOP
            EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', c.child, c.conname);
        END LOOP;
    END $$;
    CREATE OR REPLACE FUNCTION sipscope_runs_deleted() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
    BEGIN
        DELETE FROM alerts WHERE run_id = ANY (ARRAY(SELECT id FROM gone));
        DELETE FROM flows WHERE run_id = ANY (ARRAY(SELECT id FROM gone));
        DELETE FROM fingerprints WHERE run_id = ANY (ARRAY(SELECT id FROM gone));
        DELETE FROM stages WHERE run_id = ANY (ARRAY(SELECT id FROM gone));
        DELETE FROM numbers WHERE run_id = ANY (ARRAY(SELECT id FROM gone));
        DELETE FROM user_agents WHERE run_id = ANY (ARRAY(SELECT id FROM gone));
        DELETE FROM sources WHERE run_id = ANY (ARRAY(SELECT id FROM gone));
        DELETE FROM source_days WHERE run_id = ANY (ARRAY(SELECT id FROM gone));
        DELETE FROM traffic WHERE run_id = ANY (ARRAY(SELECT id FROM gone));
        DELETE FROM dialled WHERE run_id = ANY (ARRAY(SELECT id FROM gone));
        DELETE FROM rollup_traffic WHERE run_id = ANY (ARRAY(SELECT id FROM gone));
        DELETE FROM rollup_sources WHERE run_id = ANY (ARRAY(SELECT id FROM gone));
        DELETE FROM rollup_agents WHERE run_id = ANY (ARRAY(SELECT id FROM gone));
        DELETE FROM rollup_users WHERE run_id = ANY (ARRAY(SELECT id FROM gone));
        DELETE FROM rollup_countries WHERE run_id = ANY (ARRAY(SELECT id FROM gone));
        RETURN NULL;
    END $$;
    DROP TRIGGER IF EXISTS analysis_runs_cascade ON analysis_runs;
    CREATE TRIGGER analysis_runs_cascade AFTER DELETE ON analysis_runs REFERENCING OLD TABLE AS gone
        FOR EACH STATEMENT EXECUTE FUNCTION sipscope_runs_deleted();
    CREATE OR REPLACE FUNCTION sipscope_alerts_deleted() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
    BEGIN
        DELETE FROM alert_evidence WHERE alert_id = ANY (ARRAY(SELECT id FROM gone));
        RETURN NULL;
    END $$;
    DROP TRIGGER IF EXISTS alerts_cascade ON alerts;
    CREATE TRIGGER alerts_cascade AFTER DELETE ON alerts REFERENCING OLD TABLE AS gone
        FOR EACH STATEMENT EXECUTE FUNCTION sipscope_alerts_deleted();
    ALTER SEQUENCE events_id_seq INCREMENT BY 1024;
    "#,
];

/// Event ids one `nextval('events_id_seq')` hands out (migration 7 sets the sequence's
/// increment to it): a batch of events takes as many blocks as it needs.
pub const EVENT_ID_BLOCK: i64 = 1024;

/// The increment of `events_id_seq`: the ids one `nextval` hands a writer. Migration 7 makes
/// it [`EVENT_ID_BLOCK`]; a store restored or altered by hand may say otherwise, and the
/// writer then takes blocks of what it says. A sequence counting down is refused: its blocks
/// would overlap ids already given.
pub fn event_id_block(client: &mut Client) -> Result<i64, SinkError> {
    let row = client
        .query_opt(
            "SELECT increment_by FROM pg_sequences WHERE schemaname = current_schema() AND sequencename = 'events_id_seq'",
            &[],
        )
        .map_err(super::pg_error)?;
    match row.map(|r| r.get::<_, i64>(0)) {
        Some(step) if step >= 1 => Ok(step),
        Some(_) => Err(SinkError::Backend {
            backend: super::BACKEND,
            message: "events_id_seq counts down; event ids need it to count up".into(),
        }),
        None => Err(SinkError::Backend { backend: super::BACKEND, message: "events_id_seq is missing".into() }),
    }
}

/// The newest schema version this build knows.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// An arbitrary constant: the advisory lock every sipscope holds while it migrates.
const MIGRATION_LOCK: i64 = 0x5150_5343_4f50_4501;

/// The version the store reached (0: a database sipscope never wrote to).
pub fn version(client: &mut Client) -> Result<i64, SinkError> {
    let exists: bool =
        client.query_one("SELECT to_regclass('sipscope_schema') IS NOT NULL", &[]).map_err(super::pg_error)?.get(0);
    if !exists {
        return Ok(0);
    }
    let row = client.query_opt("SELECT max(version) FROM sipscope_schema", &[]).map_err(super::pg_error)?;
    Ok(row.and_then(|r| r.get::<_, Option<i64>>(0)).unwrap_or(0))
}

/// Brings the store up to [`SCHEMA_VERSION`]; a newer store is refused.
pub fn migrate(client: &mut Client) -> Result<(), SinkError> {
    let found = version(client)?;
    if found > SCHEMA_VERSION {
        return Err(SinkError::NewerSchema { found, known: SCHEMA_VERSION });
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    let mut tx = client.transaction().map_err(super::pg_error)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).map_err(super::pg_error)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS sipscope_schema (version bigint PRIMARY KEY, applied_ns bigint NOT NULL)",
    )
    .map_err(super::pg_error)?;
    // Read again under the lock: another writer may have migrated meanwhile.
    let found: i64 =
        tx.query_one("SELECT coalesce(max(version), 0) FROM sipscope_schema", &[]).map_err(super::pg_error)?.get(0);
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(usize::try_from(found).unwrap_or(usize::MAX)) {
        tx.batch_execute(sql).map_err(super::pg_error)?;
        let version = index as i64 + 1;
        tx.execute(
            "INSERT INTO sipscope_schema (version, applied_ns) VALUES ($1, $2)",
            &[&version, &crate::time::now_ns()],
        )
        .map_err(super::pg_error)?;
    }
    tx.commit().map_err(super::pg_error)
}
