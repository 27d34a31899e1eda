//! Versioned migrations of the SQLite store. A migration is appended, never edited: a store
//! records the version it reached in `PRAGMA user_version`.

use super::super::SinkError;
use rusqlite::Connection;

/// Each entry upgrades the store from version `index` to `index + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: capture files and SIP message events.
    r#"
    CREATE TABLE ingested_files (
        id          INTEGER PRIMARY KEY,
        sha256      TEXT NOT NULL UNIQUE,
        path        TEXT NOT NULL,
        size        INTEGER NOT NULL,
        sensor      TEXT NOT NULL,
        started_ns  INTEGER NOT NULL,
        finished_ns INTEGER,
        -- 'partial' until the whole file was read; a re-run replaces a partial file's events.
        status      TEXT NOT NULL CHECK (status IN ('partial', 'complete')),
        packets     INTEGER,
        messages    INTEGER,
        skipped     INTEGER
    );
    CREATE TABLE events (
        id             INTEGER PRIMARY KEY,
        ts_ns          INTEGER NOT NULL,
        sensor         TEXT NOT NULL,
        node           TEXT,
        transport      TEXT NOT NULL,
        src_ip         TEXT NOT NULL,
        src_port       INTEGER NOT NULL,
        dst_ip         TEXT NOT NULL,
        dst_port       INTEGER NOT NULL,
        tunnel_src     TEXT,
        tunnel_dst     TEXT,
        direction      TEXT NOT NULL,
        file_id        INTEGER REFERENCES ingested_files(id),
        packet_no      INTEGER,
        kind           TEXT NOT NULL,
        method         TEXT,
        status         INTEGER,
        reason         TEXT,
        request_uri    TEXT,
        ruri_user      TEXT,
        ruri_host      TEXT,
        from_user      TEXT,
        from_host      TEXT,
        from_tag       TEXT,
        to_user        TEXT,
        to_host        TEXT,
        to_tag         TEXT,
        call_id        TEXT,
        cseq_seq       INTEGER,
        cseq_method    TEXT,
        user_agent     TEXT,
        contact        TEXT,
        expires        INTEGER,
        auth_username  TEXT,
        auth_realm     TEXT,
        auth_nonce     TEXT,
        auth_uri       TEXT,
        auth_response  TEXT,
        auth_algorithm TEXT,
        auth_qop       TEXT,
        anomalies      TEXT NOT NULL,
        raw            BLOB NOT NULL
    );
    CREATE INDEX events_ts ON events (ts_ns);
    CREATE INDEX events_src ON events (src_ip, ts_ns);
    CREATE INDEX events_file ON events (file_id);
    "#,
    // 2: the honeypot's records: authentication attempts (with the password tried, when known
    // or recovered) and the registrations it accepted.
    r#"
    CREATE TABLE auth_attempts (
        id               INTEGER PRIMARY KEY,
        ts_ns            INTEGER NOT NULL,
        sensor           TEXT NOT NULL,
        node             TEXT,
        transport        TEXT NOT NULL,
        src_ip           TEXT NOT NULL,
        src_port         INTEGER NOT NULL,
        dst_ip           TEXT NOT NULL,
        dst_port         INTEGER NOT NULL,
        method           TEXT NOT NULL,
        username         TEXT NOT NULL,
        realm            TEXT,
        uri              TEXT,
        nonce            TEXT,
        call_id          TEXT,
        user_agent       TEXT,
        -- accepted, refused, wrong_password, unknown_user, stale_nonce, nonce_reused,
        -- wrong_realm, malformed
        outcome          TEXT NOT NULL,
        -- The password tried: known when it was the extension's, else recovered (or NULL).
        password         TEXT,
        -- extension, pattern, builtin or wordlist
        password_source  TEXT,
        -- Candidates tested by recovery; NULL until it ran.
        candidates_tried INTEGER
    );
    CREATE INDEX auth_attempts_src ON auth_attempts (src_ip, ts_ns);
    CREATE INDEX auth_attempts_user ON auth_attempts (username);
    CREATE TABLE registrations (
        id          INTEGER PRIMARY KEY,
        ts_ns       INTEGER NOT NULL,
        sensor      TEXT NOT NULL,
        node        TEXT,
        transport   TEXT NOT NULL,
        src_ip      TEXT NOT NULL,
        src_port    INTEGER NOT NULL,
        dst_ip      TEXT NOT NULL,
        dst_port    INTEGER NOT NULL,
        username    TEXT NOT NULL,
        contact     TEXT NOT NULL,
        -- Seconds granted; 0 removed the binding.
        expires     INTEGER NOT NULL,
        call_id     TEXT,
        user_agent  TEXT
    );
    CREATE INDEX registrations_user ON registrations (username, ts_ns);
    "#,
    // 3: events from no capture file (the honeypot's, live capture's) need no entry in the
    // file index: a partial index saves one B-tree insert per such event. `file_id = ?`
    // lookups imply `file_id IS NOT NULL`, so they still use it.
    r#"
    DROP INDEX events_file;
    CREATE INDEX events_file ON events (file_id) WHERE file_id IS NOT NULL;
    "#,
    // 4: analysis results. Each run of the engine (inside ingest, capture, honeypot, or
    // `sipscope analyze`) adds its rows under its run id; `analyze` replaces every run with
    // one exact run over all stored events. Reports aggregate across runs.
    r#"
    CREATE TABLE analysis_runs (
        id          INTEGER PRIMARY KEY,
        kind        TEXT NOT NULL,
        started_ns  INTEGER NOT NULL,
        finished_ns INTEGER,
        events      INTEGER NOT NULL DEFAULT 0,
        flows_evicted INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE flows (
        id            INTEGER PRIMARY KEY,
        run_id        INTEGER NOT NULL REFERENCES analysis_runs(id) ON DELETE CASCADE,
        src_ip        TEXT NOT NULL,
        first_ns      INTEGER NOT NULL,
        last_ns       INTEGER NOT NULL,
        packets       INTEGER NOT NULL,
        bytes         INTEGER NOT NULL,
        packets_per_s REAL NOT NULL,
        methods       TEXT NOT NULL,   -- JSON object method -> count
        destinations  INTEGER NOT NULL,
        dest_ports    INTEGER NOT NULL,
        source_ports  TEXT NOT NULL,   -- fixed:5060, fixed:N, random, none
        users         INTEGER NOT NULL,
        dialled       INTEGER NOT NULL,
        responses     TEXT NOT NULL,   -- JSON object status -> count
        fingerprint   TEXT,
        tool          TEXT,
        variant       TEXT,
        tool_verdict  TEXT NOT NULL,   -- exact, derived, custom
        similarity    REAL NOT NULL,
        strategy      TEXT NOT NULL,
        ua_class      TEXT NOT NULL,
        user_agent    TEXT
    );
    CREATE INDEX flows_src ON flows (src_ip, first_ns);
    CREATE TABLE fingerprints (
        run_id      INTEGER NOT NULL REFERENCES analysis_runs(id) ON DELETE CASCADE,
        id          TEXT NOT NULL,
        text        TEXT NOT NULL,
        flows       INTEGER NOT NULL,
        packets     INTEGER NOT NULL,
        tool        TEXT,
        variant     TEXT,
        verdict     TEXT NOT NULL,
        similarity  REAL NOT NULL,
        PRIMARY KEY (run_id, id)
    );
    CREATE TABLE stages (
        run_id    INTEGER NOT NULL REFERENCES analysis_runs(id) ON DELETE CASCADE,
        src_ip    TEXT NOT NULL,
        node      TEXT NOT NULL,       -- '' for the source across all nodes
        stage     TEXT NOT NULL,       -- server_scan, extension_scan, registration_hijacking, toll_fraud
        first_ns  INTEGER NOT NULL,
        last_ns   INTEGER NOT NULL,
        count     INTEGER NOT NULL,
        detail    TEXT NOT NULL,       -- JSON: users_asked, users_found, users_missing, succeeded
        samples   TEXT NOT NULL,       -- JSON: up to 3 sample messages
        PRIMARY KEY (run_id, src_ip, node, stage)
    );
    CREATE TABLE numbers (
        run_id       INTEGER NOT NULL REFERENCES analysis_runs(id) ON DELETE CASCADE,
        number       TEXT NOT NULL,
        e164         TEXT,
        country      TEXT,
        number_type  TEXT NOT NULL,
        attempts     INTEGER NOT NULL,
        variants     INTEGER NOT NULL,
        sources      INTEGER NOT NULL,
        first_ns     INTEGER NOT NULL,
        last_ns      INTEGER NOT NULL,
        variant_samples TEXT NOT NULL, -- JSON array
        PRIMARY KEY (run_id, number)
    );
    CREATE TABLE user_agents (
        run_id      INTEGER NOT NULL REFERENCES analysis_runs(id) ON DELETE CASCADE,
        user_agent  TEXT,              -- NULL: no User-Agent header
        class       TEXT NOT NULL,
        product     TEXT,
        messages    INTEGER NOT NULL,
        sources     INTEGER NOT NULL
    );
    CREATE TABLE sources (
        run_id    INTEGER NOT NULL REFERENCES analysis_runs(id) ON DELETE CASCADE,
        src_ip    TEXT NOT NULL,
        first_ns  INTEGER NOT NULL,
        last_ns   INTEGER NOT NULL,
        messages  INTEGER NOT NULL,
        flows     INTEGER NOT NULL,
        nodes     INTEGER NOT NULL,
        tool      TEXT,
        ua_class  TEXT NOT NULL,
        PRIMARY KEY (run_id, src_ip)
    );
    CREATE TABLE source_days (
        run_id    INTEGER NOT NULL REFERENCES analysis_runs(id) ON DELETE CASCADE,
        src_ip    TEXT NOT NULL,
        day       INTEGER NOT NULL,    -- UTC days since 1970-01-01
        messages  INTEGER NOT NULL,
        PRIMARY KEY (run_id, src_ip, day)
    );
    "#,
    // 5: pre-aggregated traffic, so reports count messages without reading `events`: messages
    // per hour, node, source, kind, method, direction and request User-Agent, and received
    // INVITEs per hour, node, source and Request-URI user. A key may repeat within a run (the
    // engine hands rows over as hours end); readers sum. `node` is '' for no node.
    r#"
    CREATE TABLE traffic (
        run_id     INTEGER NOT NULL REFERENCES analysis_runs(id) ON DELETE CASCADE,
        hour       INTEGER NOT NULL,   -- UTC hours since 1970-01-01
        node       TEXT NOT NULL,
        src_ip     TEXT NOT NULL,
        kind       TEXT NOT NULL,      -- request, response, invalid
        method     TEXT,
        direction  TEXT NOT NULL,      -- in, out, unknown
        user_agent TEXT,
        messages   INTEGER NOT NULL,
        first_ns   INTEGER NOT NULL,
        last_ns    INTEGER NOT NULL
    );
    CREATE INDEX traffic_hour ON traffic (hour);
    CREATE INDEX traffic_src ON traffic (src_ip, hour);
    CREATE TABLE dialled (
        run_id     INTEGER NOT NULL REFERENCES analysis_runs(id) ON DELETE CASCADE,
        hour       INTEGER NOT NULL,
        node       TEXT NOT NULL,
        src_ip     TEXT NOT NULL,
        ruri_user  TEXT NOT NULL,
        -- External numbers: the calling code's country ('' unknown); NULL for extensions,
        -- names and the like.
        number_country TEXT,
        invites    INTEGER NOT NULL,
        first_ns   INTEGER NOT NULL,
        last_ns    INTEGER NOT NULL
    );
    CREATE INDEX dialled_hour ON dialled (hour);
    CREATE INDEX dialled_src ON dialled (src_ip, hour);
    "#,
    // 6: analysis results that follow the events. A run records what it covers (its capture
    // file, its sensor, the process writing it, the stored events its results include) and
    // every event the run it was stored under, so that a replaced file takes its own run with
    // it and an interrupted run can be recovered from its events. Capture files keep the
    // digest of their decoded records, to recognise them inside other files.
    r#"
    ALTER TABLE analysis_runs ADD COLUMN file_id INTEGER;
    ALTER TABLE analysis_runs ADD COLUMN sensor TEXT;
    -- host:pid:start of the writing process (see owner.rs); NULL before schema 6.
    ALTER TABLE analysis_runs ADD COLUMN owner TEXT;
    -- The highest event id when the run began: its events all have larger ids.
    ALTER TABLE analysis_runs ADD COLUMN after_event INTEGER NOT NULL DEFAULT 0;
    -- Stored events its results include (set when it finishes).
    ALTER TABLE analysis_runs ADD COLUMN covered INTEGER NOT NULL DEFAULT 0;
    -- Before schema 6 a run counted the messages it analysed; the best estimate there is.
    UPDATE analysis_runs SET covered = events WHERE finished_ns IS NOT NULL;
    CREATE INDEX analysis_runs_file ON analysis_runs (file_id) WHERE file_id IS NOT NULL;
    ALTER TABLE events ADD COLUMN run_id INTEGER;
    ALTER TABLE ingested_files ADD COLUMN records INTEGER;
    ALTER TABLE ingested_files ADD COLUMN content_sha256 TEXT;
    -- The file whose records include all of this one's (its events were deleted).
    ALTER TABLE ingested_files ADD COLUMN superseded_by INTEGER;
    "#,
    // 7 (issue 14, decisions): what was decided about a scope (ban, rate-limit, watch), by a
    // rule through the policy or by an operator, with who and why; never deleted, only marked
    // (`sipscope decisions delete|flush` set deleted_*), so the record stays. The scope is
    // stored typed: `address` is always an address sipscope printed, `port` and `prefix_len`
    // numbers. `offences` remembers repeat offenders across restarts (escalation).
    r#"
    CREATE TABLE decisions (
        id          INTEGER PRIMARY KEY,
        kind        TEXT NOT NULL CHECK (kind IN ('ban', 'rate-limit', 'watch')),
        -- rate-limit only: packets a second let through
        per_second  INTEGER,
        scope_kind  TEXT NOT NULL CHECK (scope_kind IN ('address', 'address-port', 'prefix')),
        address     TEXT NOT NULL,
        port        INTEGER,
        prefix_len  INTEGER NOT NULL,
        start_ns    INTEGER NOT NULL,
        until_ns    INTEGER NOT NULL,
        reason      TEXT NOT NULL,
        origin      TEXT NOT NULL CHECK (origin IN ('rule', 'operator')),
        rule_id     TEXT,
        who         TEXT,
        offence     INTEGER NOT NULL,
        proven      INTEGER NOT NULL,
        -- JSON array of {ts_ns, src, dst, ordinal}: the alert's evidence
        evidence    TEXT NOT NULL,
        sensor      TEXT,
        created_ns  INTEGER NOT NULL,
        deleted_ns  INTEGER,
        deleted_by  TEXT,
        deleted_why TEXT
    );
    CREATE INDEX decisions_until ON decisions (until_ns) WHERE deleted_ns IS NULL;
    CREATE INDEX decisions_start ON decisions (start_ns);
    CREATE TABLE offences (
        -- the scope as text: 192.0.2.7, 192.0.2.7:5060 or 192.0.2.0/24
        scope       TEXT PRIMARY KEY,
        count       INTEGER NOT NULL,
        first_ns    INTEGER NOT NULL,
        last_ns     INTEGER NOT NULL
    );
    "#,
    // 8: counts that match what attackers did (issue 13). `numbers.attempts` counts calls
    // (dialogs, by Call-ID): a challenged call is one attempt of two INVITEs, which
    // `numbers.invites` counts. Rows written before counted INVITEs as attempts: that is their
    // `invites` (their `attempts` stay an upper bound until `sipscope analyze`). A number whose
    // country is the main region of a shared calling code has `country_inferred` set.
    // `dialled.number` is the unified number of a call attempt (NULL for extensions, names and
    // probes whose caller is the callee, such as svwar's calibration INVITE); before, every
    // external number counted, under the user as dialled. `flows.dialled` (no change to the
    // table) now counts a flow's unified numbers of call attempts, no longer the Request-URI
    // users of all its INVITEs; older rows keep the old count.
    r#"
    ALTER TABLE numbers ADD COLUMN invites INTEGER NOT NULL DEFAULT 0;
    UPDATE numbers SET invites = attempts;
    ALTER TABLE numbers ADD COLUMN country_inferred INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE dialled ADD COLUMN number TEXT;
    UPDATE dialled SET number = ruri_user WHERE number_country IS NOT NULL;
    "#,
    // 9: alerts the rules raised (deduplicated: one row per sensor, rule, group and first
    // match; an update raises `count` and `last_ns`), each under the analysis run open when it
    // was raised (so `analyze` and a replaced capture file take theirs with them), and their
    // evidence: the matching messages, with the stored event's id when the message was stored.
    r#"
    CREATE TABLE alerts (
        id          INTEGER PRIMARY KEY,
        run_id      INTEGER REFERENCES analysis_runs(id) ON DELETE CASCADE,
        sensor      TEXT NOT NULL,
        rule_id     TEXT NOT NULL,
        sid         INTEGER NOT NULL,
        name        TEXT NOT NULL,
        severity    TEXT NOT NULL,     -- info, low, medium, high, critical
        labels      TEXT NOT NULL,     -- JSON array
        group_key   TEXT NOT NULL,     -- source=203.0.113.5, user=100 …
        first_ns    INTEGER NOT NULL,
        last_ns     INTEGER NOT NULL,
        count       INTEGER NOT NULL,
        node        TEXT,
        src_ip      TEXT,
        src_port    INTEGER,
        dst_ip      TEXT,
        dst_port    INTEGER,
        proven      INTEGER NOT NULL,
        transport   TEXT,
        method      TEXT,
        status      INTEGER,
        user_agent  TEXT,
        from_user   TEXT,
        to_user     TEXT,
        ruri_user   TEXT,
        call_id     TEXT,
        actions     TEXT NOT NULL,     -- JSON array: "ban address 3600s" …
        UNIQUE (sensor, rule_id, group_key, first_ns)
    );
    CREATE INDEX alerts_first ON alerts (first_ns);
    CREATE INDEX alerts_run ON alerts (run_id) WHERE run_id IS NOT NULL;
    CREATE TABLE alert_evidence (
        alert_id  INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
        position  INTEGER NOT NULL,
        ts_ns     INTEGER NOT NULL,
        src_ip    TEXT NOT NULL,
        src_port  INTEGER NOT NULL,
        dst_ip    TEXT NOT NULL,
        dst_port  INTEGER NOT NULL,
        -- The stored event (NULL when the message was not stored: --events none or sample).
        event_id  INTEGER,
        PRIMARY KEY (alert_id, position)
    );
    "#,
    // 10: authentication attempts read from PBX logs (`sipscope logs`) beside the ones the
    // honeypot saw itself: which log and line format (`asterisk_security`,
    // `asterisk_chan_sip`, `asterisk_pjsip`, `freeswitch_sofia`; NULL: sipscope saw the
    // request), the file, and the line exactly as read. Log-origin outcomes add
    // `extension_not_found` (a call to an extension the PBX does not have; `uri` holds the
    // extension dialled).
    r#"
    ALTER TABLE auth_attempts ADD COLUMN origin TEXT;
    ALTER TABLE auth_attempts ADD COLUMN log_file TEXT;
    ALTER TABLE auth_attempts ADD COLUMN log_line BLOB;
    "#,
    // 11 (issue 16, NATS): a sensor's store is the outbox of what it publishes: `outbox_acks`
    // keeps, per stream and kind (event, auth, registration), the highest row id the broker
    // acknowledged and when. A collector's store keeps in `collector_positions` the highest
    // sequence it stored per sensor and kind, committed with those events, so that a message
    // delivered again is recognised.
    r#"
    CREATE TABLE outbox_acks (
        stream    TEXT NOT NULL,
        kind      TEXT NOT NULL,
        seq       INTEGER NOT NULL,
        acked_ns  INTEGER NOT NULL,
        PRIMARY KEY (stream, kind)
    );
    CREATE TABLE collector_positions (
        sensor    TEXT NOT NULL,
        kind      TEXT NOT NULL,
        seq       INTEGER NOT NULL,
        stored_ns INTEGER NOT NULL,
        PRIMARY KEY (sensor, kind)
    );
    "#,
    // 12 (issue 17, the REST API): one source's stages and alerts by its address (the API's
    // source page), without reading every row (bench/api-latency.sh: p99 426 ms → 5 ms over
    // 1 M events).
    r#"
    CREATE INDEX stages_src ON stages (src_ip);
    CREATE INDEX alerts_src ON alerts (src_ip, first_ns);
    "#,
    // 13 (issue 16, recovered passwords reach the collector): a sensor publishes each recovery
    // as a row of its own, in the order `recovered_seq` numbers them (the outbox kind
    // `recovery`); attempts recovered before this version are numbered now, so that they are
    // published once too. A collector keeps in `published_seq` the id an attempt had in the
    // publishing sensor's store, which is how a recovery names it.
    r#"
    ALTER TABLE auth_attempts ADD COLUMN recovered_seq INTEGER;
    ALTER TABLE auth_attempts ADD COLUMN published_seq INTEGER;
    UPDATE auth_attempts SET recovered_seq = id WHERE candidates_tried IS NOT NULL;
    CREATE INDEX auth_attempts_recovered ON auth_attempts (recovered_seq);
    CREATE INDEX auth_attempts_published ON auth_attempts (sensor, published_seq) WHERE published_seq IS NOT NULL;
    "#,
    // 14 (issue 16, a broker that refuses): why a sensor's publisher is failing, per stream,
    // for `sipscope sensor status` (another process): failures since the last acknowledged
    // publish (0 and `last_error` NULL once the broker acknowledges again), the last one's
    // text (never a secret) and when the run of failures began. `outbox_late`: runs of rows
    // (`first`..`last` of a kind) the broker refused while it accepted a later message of the
    // same window (a smaller one that still fit `max_bytes`): the acknowledged position moved
    // past them, and they are published again apart, marked late, until acknowledged.
    r#"
    CREATE TABLE outbox_late (
        stream TEXT NOT NULL,
        kind   TEXT NOT NULL,
        first  INTEGER NOT NULL,
        last   INTEGER NOT NULL,
        PRIMARY KEY (stream, kind, first)
    );
    CREATE TABLE outbox_failures (
        stream     TEXT PRIMARY KEY,
        failures   INTEGER NOT NULL,
        last_error TEXT,
        last_ns    INTEGER NOT NULL,
        since_ns   INTEGER
    );
    "#,
    // 15 (issue 17): rollups of `traffic` and `dialled` sized by the keys a time range reaches
    // (sources, users, countries per hour and node), filled from every stored row here and
    // kept by the writer in the transaction of the rows they summarise; the alerts' covering
    // index for alerts per rule. See `rollups.rs`.
    super::rollups::MIGRATION,
    // 16 (issue 17): the REST API's last whole reports, kept so that a server started again
    // answers its first request at once (`sinks/kept.rs`): by the API's key, with the format
    // that made them (a report of another build is never served) and when their build began.
    r#"
    CREATE TABLE kept_reports (
        key      TEXT PRIMARY KEY,
        format   TEXT NOT NULL,
        built_ns INTEGER NOT NULL,
        body     TEXT NOT NULL
    );
    "#,
];

/// The newest schema version this build knows.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the store up to [`SCHEMA_VERSION`], each step in its own transaction.
pub fn migrate(conn: &mut Connection) -> Result<(), SinkError> {
    migrate_to(conn, SCHEMA_VERSION)
}

/// Brings the store up to `version` (tests make older stores with it).
pub(super) fn migrate_to(conn: &mut Connection, version: i64) -> Result<(), SinkError> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(SinkError::NewerSchema { found, known: SCHEMA_VERSION });
    }
    let steps = MIGRATIONS.iter().enumerate().take(version.clamp(0, SCHEMA_VERSION) as usize);
    for (index, sql) in steps.skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stores analysed before the counts of issue 13: their INVITE counts move to `invites`,
    /// and the external numbers of `dialled` keep counting as numbers.
    #[test]
    fn the_counting_migration_keeps_what_older_rows_meant() {
        // Found by its text, so that the test follows the migration wherever it is numbered.
        let index = MIGRATIONS.iter().position(|m| m.contains("ADD COLUMN country_inferred")).unwrap() as i64;
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_to(&mut conn, index).unwrap();
        conn.execute_batch(
            "INSERT INTO analysis_runs (id, kind, started_ns) VALUES (1, 'ingest', 0);
             INSERT INTO numbers (run_id, number, number_type, attempts, variants, sources, first_ns, last_ns,
                                  variant_samples) VALUES (1, '+46701234567', 'mobile', 6, 3, 1, 0, 0, '[]');
             INSERT INTO dialled (run_id, hour, node, src_ip, ruri_user, number_country, invites, first_ns, last_ns)
               VALUES (1, 0, '', '192.0.2.1', '0046701234567', 'SE', 2, 0, 0),
                      (1, 0, '', '192.0.2.1', '100', NULL, 5, 0, 0);",
        )
        .unwrap();
        migrate_to(&mut conn, index + 1).unwrap();
        let n: (i64, i64, bool) = conn
            .query_row("SELECT attempts, invites, country_inferred FROM numbers", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!(n, (6, 6, false));
        let mut st = conn.prepare("SELECT ruri_user, number FROM dialled ORDER BY ruri_user").unwrap();
        let dialled: Vec<(String, Option<String>)> =
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
        assert_eq!(dialled, [("0046701234567".into(), Some("0046701234567".into())), ("100".into(), None)]);
    }
}
