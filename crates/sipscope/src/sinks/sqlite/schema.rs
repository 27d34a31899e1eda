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
];

/// The newest schema version this build knows.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the store up to [`SCHEMA_VERSION`], each step in its own transaction.
pub fn migrate(conn: &mut Connection) -> Result<(), SinkError> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(SinkError::NewerSchema { found, known: SCHEMA_VERSION });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}
