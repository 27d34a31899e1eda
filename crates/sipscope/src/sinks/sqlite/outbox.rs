//! The store as the outbox of a sensor that publishes to NATS (`sinks/nats`): rows after the
//! broker's last acknowledged id, read on a connection of their own (WAL readers never block
//! the writer), encoded in the wire format; and the acknowledged positions (`outbox_acks`),
//! written only after the broker acknowledged. Also the collector's side: the highest sequence
//! stored per sensor and kind (`collector_positions`), written in the events' transaction.

use super::Store;
use crate::event::record::{
    AuthAttemptRecord, LogLine, RecordContext, RecoveredPassword, RegistrationRecord, AUTH_ATTEMPT_OUTCOMES,
};
use crate::event::{Direction, SipEvent, Transport};
use crate::sinks::nats::wire::{self, Kind, WireEvent};
use crate::sinks::nats::{Outbox, OutboxFailure, OutboxItem, OutboxState};
use crate::sinks::SinkError;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;

/// A sensor store opened as an outbox.
pub struct SqliteOutbox {
    conn: Connection,
}

impl SqliteOutbox {
    /// Opens the store at `path` (created and migrated by the store itself first).
    pub fn open(path: &Path) -> Result<SqliteOutbox, SinkError> {
        let conn = Connection::open_with_flags(path, OpenFlags::default() | OpenFlags::SQLITE_OPEN_NOFOLLOW)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        Ok(SqliteOutbox { conn })
    }

    /// Opens an existing store for the status commands: a missing file is an error (not a new
    /// store), an older one is migrated first.
    pub fn open_existing(path: &Path) -> Result<SqliteOutbox, SinkError> {
        if !path.exists() {
            return Err(SinkError::Io {
                what: format!("opening {}", path.display()),
                cause: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
        Ok(SqliteOutbox { conn: Store::open_read_only_current(path)? })
    }

    /// The collector's positions, by sensor and kind.
    pub fn collector_positions(&self) -> Result<Vec<(String, String, i64, i64)>, SinkError> {
        let mut stmt =
            self.conn.prepare("SELECT sensor, kind, seq, stored_ns FROM collector_positions ORDER BY sensor, kind")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

fn direction(text: &str) -> Direction {
    match text {
        "in" => Direction::In,
        "out" => Direction::Out,
        _ => Direction::Unknown,
    }
}

/// The record columns every record table shares, from column `at` on.
fn context(r: &Row<'_>, at: usize) -> rusqlite::Result<RecordContext> {
    Ok(RecordContext {
        ts_ns: r.get(at)?,
        sensor: r.get(at + 1)?,
        node: r.get(at + 2)?,
        transport: Transport::from_name(&r.get::<_, String>(at + 3)?),
        src: SocketAddr::new(ip(&r.get::<_, String>(at + 4)?), r.get(at + 5)?),
        dst: SocketAddr::new(ip(&r.get::<_, String>(at + 6)?), r.get(at + 7)?),
        call_id: r.get(at + 8)?,
        user_agent: r.get(at + 9)?,
    })
}

const CONTEXT: &str = "ts_ns, sensor, node, transport, src_ip, src_port, dst_ip, dst_port, call_id, user_agent";

impl Outbox for SqliteOutbox {
    fn pending(&mut self, kind: Kind, after: i64, limit: usize) -> Result<Vec<OutboxItem>, SinkError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut out = Vec::new();
        match kind {
            Kind::Event => {
                let mut stmt = self.conn.prepare_cached(
                    "SELECT id, ts_ns, sensor, node, transport, src_ip, src_port, dst_ip, dst_port, tunnel_src,
                     tunnel_dst, direction, anomalies, reason, raw FROM events WHERE id > ?1 ORDER BY id LIMIT ?2",
                )?;
                let mut rows = stmt.query(params![after, limit])?;
                while let Some(r) = rows.next()? {
                    let seq: i64 = r.get(0)?;
                    let tunnel = match (r.get::<_, Option<String>>(9)?, r.get::<_, Option<String>>(10)?) {
                        (Some(a), Some(b)) => Some((ip(&a), ip(&b))),
                        _ => None,
                    };
                    let event = SipEvent {
                        ts_ns: r.get(1)?,
                        sensor: r.get(2)?,
                        node: r.get(3)?,
                        transport: Transport::from_name(&r.get::<_, String>(4)?),
                        src: (ip(&r.get::<_, String>(5)?), r.get(6)?),
                        dst: (ip(&r.get::<_, String>(7)?), r.get(8)?),
                        tunnel,
                        direction: direction(&r.get::<_, String>(11)?),
                        origin: None,
                        raw: r.get(14)?,
                    };
                    let e = WireEvent { event, anomalies: r.get(12)?, reason: r.get(13)? };
                    let mut payload = Vec::with_capacity(e.event.raw.len() + 96);
                    wire::encode_event(seq, &e, &mut payload);
                    out.push(OutboxItem { seq, ts_ns: e.event.ts_ns, payload });
                }
            }
            Kind::Auth => {
                let sql = format!(
                    "SELECT id, {CONTEXT}, method, username, realm, uri, nonce, outcome, password, origin, log_file,
                     log_line FROM auth_attempts WHERE id > ?1 ORDER BY id LIMIT ?2"
                );
                let mut stmt = self.conn.prepare_cached(&sql)?;
                let mut rows = stmt.query(params![after, limit])?;
                while let Some(r) = rows.next()? {
                    let seq: i64 = r.get(0)?;
                    let outcome: String = r.get(16)?;
                    let origin: Option<String> = r.get(18)?;
                    let log = match (origin.as_deref().and_then(static_origin), r.get::<_, Option<String>>(19)?) {
                        (Some(origin), Some(file)) => {
                            Some(LogLine { origin, file, line: r.get::<_, Option<Vec<u8>>>(20)?.unwrap_or_default() })
                        }
                        _ => None,
                    };
                    let row = AuthAttemptRecord {
                        id: seq,
                        ctx: context(r, 1)?,
                        method: r.get(11)?,
                        username: r.get(12)?,
                        realm: r.get(13)?,
                        uri: r.get(14)?,
                        nonce: r.get(15)?,
                        outcome: static_outcome(&outcome),
                        password: r.get(17)?,
                        log,
                        published_seq: None,
                    };
                    let mut payload = Vec::with_capacity(256);
                    wire::encode_auth(seq, &row, &mut payload);
                    out.push(OutboxItem { seq, ts_ns: row.ctx.ts_ns, payload });
                }
            }
            Kind::Registration => {
                let sql = format!(
                    "SELECT id, {CONTEXT}, username, contact, expires FROM registrations
                     WHERE id > ?1 ORDER BY id LIMIT ?2"
                );
                let mut stmt = self.conn.prepare_cached(&sql)?;
                let mut rows = stmt.query(params![after, limit])?;
                while let Some(r) = rows.next()? {
                    let seq: i64 = r.get(0)?;
                    let row = RegistrationRecord {
                        ctx: context(r, 1)?,
                        username: r.get(11)?,
                        contact: r.get(12)?,
                        expires: u64::try_from(r.get::<_, i64>(13)?).unwrap_or(0),
                    };
                    let mut payload = Vec::with_capacity(256);
                    wire::encode_registration(seq, &row, &mut payload);
                    out.push(OutboxItem { seq, ts_ns: row.ctx.ts_ns, payload });
                }
            }
            Kind::Recovery => {
                // A recovery goes out only after the broker acknowledged its attempt (so the
                // collector has the attempt to apply it to), in order: the first one whose
                // attempt is still waiting holds back the ones after it.
                let attempts_acked: i64 = self.conn.query_row(
                    "SELECT coalesce(max(seq), 0) FROM outbox_acks WHERE kind = 'auth'",
                    [],
                    |r| r.get(0),
                )?;
                // Attempts the broker refused below that position wait in late runs.
                let late_attempts: Vec<(i64, i64)> = self
                    .conn
                    .prepare_cached("SELECT first, last FROM outbox_late WHERE kind = 'auth'")?
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<_, _>>()?;
                let mut stmt = self.conn.prepare_cached(
                    "SELECT recovered_seq, id, sensor, password, password_source, candidates_tried, ts_ns
                     FROM auth_attempts WHERE recovered_seq > ?1 ORDER BY recovered_seq LIMIT ?2",
                )?;
                let mut rows = stmt.query(params![after, limit])?;
                while let Some(r) = rows.next()? {
                    let (seq, attempt_id): (i64, i64) = (r.get(0)?, r.get(1)?);
                    let waits = late_attempts.iter().any(|(first, last)| (*first..=*last).contains(&attempt_id));
                    if attempt_id > attempts_acked || waits {
                        break;
                    }
                    let sensor: String = r.get(2)?;
                    let source: Option<String> = r.get(4)?;
                    let found = RecoveredPassword {
                        attempt_id,
                        published_by: None,
                        password: r.get(3)?,
                        source: source.as_deref().and_then(static_recovery_source),
                        tried: usize::try_from(r.get::<_, Option<i64>>(5)?.unwrap_or(0)).unwrap_or(0),
                    };
                    let mut payload = Vec::with_capacity(64);
                    wire::encode_recovery(seq, &sensor, &found, &mut payload);
                    out.push(OutboxItem { seq, ts_ns: r.get(6)?, payload });
                }
            }
        }
        Ok(out)
    }

    fn acked(&mut self, stream: &str, kind: Kind) -> Result<i64, SinkError> {
        let seq = self
            .conn
            .query_row(
                "SELECT seq FROM outbox_acks WHERE stream = ?1 AND kind = ?2",
                params![stream, kind.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        Ok(seq.unwrap_or(0))
    }

    fn save_ack(&mut self, stream: &str, kind: Kind, seq: i64, now_ns: i64) -> Result<(), SinkError> {
        self.conn.execute(
            "INSERT INTO outbox_acks (stream, kind, seq, acked_ns) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (stream, kind) DO UPDATE SET seq = max(seq, excluded.seq), acked_ns = excluded.acked_ns",
            params![stream, kind.as_str(), seq, now_ns],
        )?;
        Ok(())
    }

    fn state(&mut self, stream: &str) -> Result<Vec<OutboxState>, SinkError> {
        let mut out = Vec::new();
        for kind in Kind::ALL {
            // The table and the column that numbers the kind's rows (constant SQL).
            let (table, column) = match kind {
                Kind::Event => ("events", "id"),
                Kind::Auth => ("auth_attempts", "id"),
                Kind::Registration => ("registrations", "id"),
                Kind::Recovery => ("auth_attempts", "recovered_seq"),
            };
            let newest: i64 =
                self.conn.query_row(&format!("SELECT coalesce(max({column}), 0) FROM {table}"), [], |r| r.get(0))?;
            let (acked, acked_ns): (i64, Option<i64>) = self
                .conn
                .query_row(
                    "SELECT seq, acked_ns FROM outbox_acks WHERE stream = ?1 AND kind = ?2",
                    params![stream, kind.as_str()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?
                .unwrap_or((0, None));
            // Rows after the acknowledged position, and refused rows below it (late runs).
            let mut waiting: i64 =
                self.conn
                    .query_row(&format!("SELECT count(*) FROM {table} WHERE {column} > ?1"), [acked], |r| r.get(0))?;
            for (late_kind, first, last) in self.late(stream)? {
                if late_kind == kind {
                    let sql = format!("SELECT count(*) FROM {table} WHERE {column} BETWEEN ?1 AND min(?2, ?3)");
                    waiting += self.conn.query_row(&sql, params![first, last, acked], |r| r.get::<_, i64>(0))?;
                }
            }
            out.push(OutboxState { kind, newest, acked, acked_ns, waiting: u64::try_from(waiting).unwrap_or(0) });
        }
        Ok(out)
    }

    fn save_failure(&mut self, stream: &str, error: Option<&str>, now_ns: i64) -> Result<(), SinkError> {
        match error {
            Some(error) => self.conn.execute(
                "INSERT INTO outbox_failures (stream, failures, last_error, last_ns, since_ns)
                 VALUES (?1, 1, ?2, ?3, ?3)
                 ON CONFLICT (stream) DO UPDATE SET failures = failures + 1, last_error = excluded.last_error,
                 last_ns = excluded.last_ns, since_ns = coalesce(since_ns, excluded.since_ns)",
                params![stream, error, now_ns],
            )?,
            None => self.conn.execute(
                "UPDATE outbox_failures SET failures = 0, last_error = NULL, last_ns = ?2, since_ns = NULL
                 WHERE stream = ?1 AND last_error IS NOT NULL",
                params![stream, now_ns],
            )?,
        };
        Ok(())
    }

    fn save_late(&mut self, stream: &str, kind: Kind, first: i64, last: i64) -> Result<(), SinkError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO outbox_late (stream, kind, first, last) VALUES (?1, ?2, ?3, ?4)",
            params![stream, kind.as_str(), first, last],
        )?;
        Ok(())
    }

    fn late(&mut self, stream: &str) -> Result<Vec<(Kind, i64, i64)>, SinkError> {
        let mut stmt =
            self.conn.prepare_cached("SELECT kind, first, last FROM outbox_late WHERE stream = ?1 ORDER BY first")?;
        let rows = stmt.query_map(params![stream], |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (kind, first, last) = row?;
            if let Some(kind) = Kind::from_name(&kind) {
                out.push((kind, first, last));
            }
        }
        Ok(out)
    }

    fn clear_late(&mut self, stream: &str, kind: Kind, first: i64) -> Result<(), SinkError> {
        self.conn.execute(
            "DELETE FROM outbox_late WHERE stream = ?1 AND kind = ?2 AND first = ?3",
            params![stream, kind.as_str(), first],
        )?;
        Ok(())
    }

    fn failure(&mut self, stream: &str) -> Result<Option<OutboxFailure>, SinkError> {
        let row = self
            .conn
            .query_row(
                "SELECT failures, last_error, last_ns, coalesce(since_ns, last_ns) FROM outbox_failures
                 WHERE stream = ?1 AND last_error IS NOT NULL",
                params![stream],
                |r| {
                    Ok(OutboxFailure {
                        failures: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                        last_error: r.get(1)?,
                        last_ns: r.get(2)?,
                        since_ns: r.get(3)?,
                    })
                },
            )
            .optional()?;
        Ok(row)
    }
}

/// The stored outcome as the record's static name (`malformed` for a name this build does not
/// know: the store was written by sipscope, so that does not happen).
fn static_outcome(name: &str) -> &'static str {
    AUTH_ATTEMPT_OUTCOMES.iter().copied().find(|n| *n == name).unwrap_or("malformed")
}

/// The candidate generator's static name (the `password_source` of a recovery); the
/// extension's own password (`extension`) is not a recovery's.
fn static_recovery_source(name: &str) -> Option<&'static str> {
    ["pattern", "builtin", "wordlist"].into_iter().find(|n| *n == name)
}

fn static_origin(name: &str) -> Option<&'static str> {
    crate::event::record::LOG_ORIGINS.into_iter().find(|n| *n == name)
}

impl Store {
    /// The collector's positions: the highest sequence stored per sensor and kind.
    pub fn collected_positions(&self) -> Result<Vec<(String, String, i64)>, SinkError> {
        let mut stmt = self.conn.prepare("SELECT sensor, kind, seq FROM collector_positions")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Raises the collector's positions in the open batch, so that they commit with the events
    /// written before them.
    pub fn set_collected(&mut self, positions: &[(String, String, i64)], now_ns: i64) -> Result<(), SinkError> {
        self.begin()?;
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO collector_positions (sensor, kind, seq, stored_ns) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (sensor, kind) DO UPDATE SET seq = max(seq, excluded.seq), stored_ns = excluded.stored_ns",
        )?;
        for (sensor, kind, seq) in positions {
            stmt.execute(params![sensor, kind, seq, now_ns])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::record::Record;
    use crate::sinks::nats::wire::Decoded;

    fn attempt(id: i64) -> AuthAttemptRecord {
        crate::test_support::auth_attempt(id, "s1")
    }

    fn recovered(attempt_id: i64, password: &str) -> Record {
        Record::Recovered(RecoveredPassword {
            attempt_id,
            published_by: None,
            password: Some(password.into()),
            source: Some("pattern"),
            tried: 3,
        })
    }

    /// (recovery seq, attempt id, password) of what the outbox would publish now.
    fn pending_recoveries(outbox: &mut SqliteOutbox) -> Vec<(i64, i64, Option<String>)> {
        let acked = outbox.acked("S", Kind::Recovery).unwrap();
        let items = outbox.pending(Kind::Recovery, acked, 10).unwrap();
        items
            .iter()
            .map(|item| match wire::decode(&item.payload).unwrap() {
                wire::Message { seq, body: Decoded::Recovery(r) } => {
                    assert_eq!((seq, r.published_by.as_deref()), (item.seq, Some("s1")));
                    (seq, r.attempt_id, r.password)
                }
                other => panic!("not a recovery: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_recovery_is_published_after_its_attempt_was_acknowledged_and_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sensor.db");
        let mut store = Store::open(&path).unwrap();
        store.insert_auth_attempt(&attempt(1)).unwrap();
        store.insert_auth_attempt(&attempt(2)).unwrap();
        // Attempt 2 is recovered first (recovery 1), then attempt 1 (recovery 2).
        store.insert_record(&recovered(2, "2222")).unwrap();
        store.insert_record(&recovered(1, "1111")).unwrap();
        store.flush_now().unwrap();
        let mut outbox = SqliteOutbox::open(&path).unwrap();
        // The attempts carry the passwords known when they are read.
        let attempts = outbox.pending(Kind::Auth, 0, 10).unwrap();
        assert_eq!(attempts.len(), 2);
        // No attempt acknowledged: no recovery goes out.
        assert_eq!(pending_recoveries(&mut outbox), []);
        // Attempt 1 acknowledged: recovery 1 (of attempt 2) still waits, and holds recovery 2.
        outbox.save_ack("S", Kind::Auth, 1, 5).unwrap();
        assert_eq!(pending_recoveries(&mut outbox), []);
        outbox.save_ack("S", Kind::Auth, 2, 6).unwrap();
        assert_eq!(pending_recoveries(&mut outbox), [(1, 2, Some("2222".into())), (2, 1, Some("1111".into()))]);
        // Attempt 2 refused and waiting in a late run: its recovery waits too, and holds the next.
        outbox.save_late("S", Kind::Auth, 2, 2).unwrap();
        assert_eq!(pending_recoveries(&mut outbox), []);
        outbox.clear_late("S", Kind::Auth, 2).unwrap();
        outbox.save_ack("S", Kind::Recovery, 2, 7).unwrap();
        assert_eq!(pending_recoveries(&mut outbox), []);
        let state = outbox.state("S").unwrap();
        let recovery = state.iter().find(|s| s.kind == Kind::Recovery).unwrap();
        assert_eq!((recovery.newest, recovery.acked, recovery.waiting), (2, 2, 0));
    }
}
