//! Rows besides events: what the honeypot learns from authentication attempts and
//! registrations. Written through the same single writer as events, in order with them.

use super::Store;
use crate::event::record::{AuthAttemptRecord, Record, RecordContext, RecoveredPassword, RegistrationRecord};
use crate::sinks::SinkError;
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter};

/// The shared leading columns, in table order.
const CONTEXT_COLUMNS: &str = "ts_ns, sensor, node, transport, src_ip, src_port, dst_ip, dst_port";

/// Values for [`CONTEXT_COLUMNS`], followed by `rest`.
fn context_values(ctx: &RecordContext, rest: impl IntoIterator<Item = Value>) -> Vec<Value> {
    let mut v = vec![
        Value::Integer(ctx.ts_ns),
        Value::Text(ctx.sensor.clone()),
        ctx.node.clone().map_or(Value::Null, Value::Text),
        Value::Text(ctx.transport.as_str().to_owned()),
        Value::Text(ctx.src.ip().to_string()),
        Value::Integer(ctx.src.port().into()),
        Value::Text(ctx.dst.ip().to_string()),
        Value::Integer(ctx.dst.port().into()),
    ];
    v.extend(rest);
    v
}

fn text(v: &Option<String>) -> Value {
    v.clone().map_or(Value::Null, Value::Text)
}

/// `INSERT INTO table (context columns, columns) VALUES (?1 …)`.
fn insert_sql(table: &str, columns: &str, count: usize) -> String {
    let marks: Vec<String> = (1..=count).map(|i| format!("?{i}")).collect();
    format!("INSERT INTO {table} ({CONTEXT_COLUMNS}, {columns}) VALUES ({})", marks.join(", "))
}

impl Store {
    /// Stores a record in order with the events.
    pub fn insert_record(&mut self, record: &Record) -> Result<(), SinkError> {
        match record {
            Record::AuthAttempt(row) => self.insert_auth_attempt(row),
            Record::Registration(row) => self.insert_registration(row),
            Record::Recovered(r) => self.set_recovered_password(r),
        }
    }

    /// The first free `auth_attempts` id.
    pub fn next_auth_attempt_id(&self) -> Result<i64, SinkError> {
        Ok(self.conn.query_row("SELECT coalesce(max(id), 0) + 1 FROM auth_attempts", [], |r| r.get(0))?)
    }

    /// Records an authentication attempt.
    pub fn insert_auth_attempt(&mut self, row: &AuthAttemptRecord) -> Result<(), SinkError> {
        self.begin()?;
        let c = &row.ctx;
        let values = context_values(
            c,
            [
                Value::Integer(row.id),
                Value::Text(row.method.clone()),
                Value::Text(row.username.clone()),
                text(&row.realm),
                text(&row.uri),
                text(&row.nonce),
                text(&c.call_id),
                text(&c.user_agent),
                Value::Text(row.outcome.to_owned()),
                text(&row.password),
                row.password.as_ref().map_or(Value::Null, |_| Value::Text("extension".into())),
                row.log.as_ref().map_or(Value::Null, |l| Value::Text(l.origin.to_owned())),
                row.log.as_ref().map_or(Value::Null, |l| Value::Text(l.file.clone())),
                row.log.as_ref().map_or(Value::Null, |l| Value::Blob(l.line.clone())),
                row.published_seq.map_or(Value::Null, Value::Integer),
            ],
        );
        let columns = "id, method, username, realm, uri, nonce, call_id, user_agent, outcome, password, \
                       password_source, origin, log_file, log_line, published_seq";
        self.conn
            .prepare_cached(&insert_sql("auth_attempts", columns, values.len()))?
            .execute(params_from_iter(values))?;
        self.written()
    }

    /// Stores what password recovery found for an attempt (`password` none: not found among
    /// the candidates tried), numbered in `recovered_seq` for the outbox. At a collector
    /// (`published_by`) the attempt is the one the sensor published under that id.
    pub fn set_recovered_password(&mut self, r: &RecoveredPassword) -> Result<(), SinkError> {
        let (id, password, source, tried) = (r.attempt_id, r.password.as_deref(), r.source, r.tried);
        let tried = i64::try_from(tried).unwrap_or(i64::MAX);
        self.begin()?;
        let set = "password = coalesce(?2, password), password_source = coalesce(?3, password_source),
                   candidates_tried = ?4,
                   recovered_seq = (SELECT coalesce(max(recovered_seq), 0) + 1 FROM auth_attempts)";
        match &r.published_by {
            None => self
                .conn
                .prepare_cached(&format!("UPDATE auth_attempts SET {set} WHERE id = ?1"))?
                .execute(params![id, password, source, tried])?,
            Some(sensor) => self
                .conn
                .prepare_cached(&format!("UPDATE auth_attempts SET {set} WHERE sensor = ?5 AND published_seq = ?1"))?
                .execute(params![id, password, source, tried, sensor])?,
        };
        self.written()
    }

    /// Records a registration binding the honeypot accepted (or removed, expires 0).
    pub fn insert_registration(&mut self, row: &RegistrationRecord) -> Result<(), SinkError> {
        self.begin()?;
        let c = &row.ctx;
        let values = context_values(
            c,
            [
                Value::Text(row.username.clone()),
                Value::Text(row.contact.clone()),
                Value::Integer(i64::try_from(row.expires).unwrap_or(i64::MAX)),
                text(&c.call_id),
                text(&c.user_agent),
            ],
        );
        let columns = "username, contact, expires, call_id, user_agent";
        self.conn
            .prepare_cached(&insert_sql("registrations", columns, values.len()))?
            .execute(params_from_iter(values))?;
        self.written()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> RecordContext {
        RecordContext {
            ts_ns: 1,
            sensor: "s".into(),
            node: Some("n1".into()),
            transport: crate::event::Transport::Udp,
            src: "192.0.2.1:5061".parse().unwrap(),
            dst: "198.51.100.1:5060".parse().unwrap(),
            call_id: Some("c".into()),
            user_agent: Some("friendly-scanner".into()),
        }
    }

    #[test]
    fn attempts_are_stored_and_recoveries_fill_them_in() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("s.db")).unwrap();
        let id = store.next_auth_attempt_id().unwrap();
        assert_eq!(id, 1);
        let row = |id, password: Option<&str>| AuthAttemptRecord {
            id,
            ctx: ctx(),
            method: "REGISTER".into(),
            username: "100".into(),
            realm: Some("asterisk".into()),
            uri: Some("sip:x".into()),
            nonce: Some("abcd".into()),
            outcome: if password.is_some() { "accepted" } else { "wrong_password" },
            password: password.map(str::to_owned),
            log: None,
            published_seq: None,
        };
        store.insert_auth_attempt(&row(1, None)).unwrap();
        store.insert_auth_attempt(&row(2, Some("100"))).unwrap();
        let recovered = |attempt_id, password: Option<&str>, source, tried| {
            Record::Recovered(RecoveredPassword {
                attempt_id,
                published_by: None,
                password: password.map(str::to_owned),
                source,
                tried,
            })
        };
        store.insert_record(&recovered(1, Some("1234"), Some("pattern"), 17)).unwrap();
        store.insert_record(&recovered(2, None, None, 0)).unwrap();
        store
            .insert_registration(&RegistrationRecord {
                ctx: ctx(),
                username: "100".into(),
                contact: "sip:100@x".into(),
                expires: 60,
            })
            .unwrap();
        store.flush_now().unwrap();
        let rows: Vec<(i64, String, Option<String>, Option<String>)> = store
            .connection()
            .prepare("SELECT id, outcome, password, password_source FROM auth_attempts ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows[0], (1, "wrong_password".into(), Some("1234".into()), Some("pattern".into())));
        assert_eq!(rows[1], (2, "accepted".into(), Some("100".into()), Some("extension".into())));
        assert_eq!(store.next_auth_attempt_id().unwrap(), 3);
        let n: i64 = store.connection().query_row("SELECT count(*) FROM registrations", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 1);
        // Each recovery is numbered for the outbox, in the order they were written.
        let seqs: Vec<(i64, i64)> = store
            .connection()
            .prepare("SELECT id, recovered_seq FROM auth_attempts ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(seqs, [(1, 1), (2, 2)]);
    }

    #[test]
    fn a_collector_applies_a_recovery_to_the_attempt_the_sensor_published() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("c.db")).unwrap();
        let row = |id, sensor: &str, published_seq| AuthAttemptRecord {
            published_seq: Some(published_seq),
            ..crate::test_support::auth_attempt(id, sensor)
        };
        // Two sensors published an attempt under the same id 7; the collector numbered them 1, 2.
        store.insert_auth_attempt(&row(1, "s1", 7)).unwrap();
        store.insert_auth_attempt(&row(2, "s2", 7)).unwrap();
        let recovery = RecoveredPassword {
            attempt_id: 7,
            published_by: Some("s2".into()),
            password: Some("secret".into()),
            source: Some("wordlist"),
            tried: 900,
        };
        store.insert_record(&Record::Recovered(recovery.clone())).unwrap();
        // Delivered again: the same row, the same values.
        store.insert_record(&Record::Recovered(recovery)).unwrap();
        store.flush_now().unwrap();
        type Row = (i64, Option<String>, Option<String>, Option<i64>);
        let rows: Vec<Row> = store
            .connection()
            .prepare("SELECT id, password, password_source, candidates_tried FROM auth_attempts ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows, [(1, None, None, None), (2, Some("secret".into()), Some("wordlist".into()), Some(900))]);
    }
}
