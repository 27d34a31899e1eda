//! Rows besides events: what the honeypot learns from authentication attempts and
//! registrations. Written through the same single writer as events, in order with them.

use super::Store;
use crate::sinks::SinkError;
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter};

/// Where and when a record was made (shared columns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordContext {
    /// Receive time.
    pub ts_ns: i64,
    /// Sensor name.
    pub sensor: String,
    /// Node name.
    pub node: Option<String>,
    /// `udp`, `tcp`, `tls`.
    pub transport: &'static str,
    /// Attacker address.
    pub src: std::net::SocketAddr,
    /// Honeypot address.
    pub dst: std::net::SocketAddr,
    /// Call-ID of the request.
    pub call_id: Option<String>,
    /// User-Agent of the request.
    pub user_agent: Option<String>,
}

/// The shared leading columns, in table order.
const CONTEXT_COLUMNS: &str = "ts_ns, sensor, node, transport, src_ip, src_port, dst_ip, dst_port";

impl RecordContext {
    /// Values for [`CONTEXT_COLUMNS`], followed by `rest`.
    fn values(&self, rest: impl IntoIterator<Item = Value>) -> Vec<Value> {
        let mut v = vec![
            Value::Integer(self.ts_ns),
            Value::Text(self.sensor.clone()),
            self.node.clone().map_or(Value::Null, Value::Text),
            Value::Text(self.transport.to_owned()),
            Value::Text(self.src.ip().to_string()),
            Value::Integer(self.src.port().into()),
            Value::Text(self.dst.ip().to_string()),
            Value::Integer(self.dst.port().into()),
        ];
        v.extend(rest);
        v
    }
}

fn text(v: &Option<String>) -> Value {
    v.clone().map_or(Value::Null, Value::Text)
}

/// `INSERT INTO table (context columns, columns) VALUES (?1 …)`.
fn insert_sql(table: &str, columns: &str, count: usize) -> String {
    let marks: Vec<String> = (1..=count).map(|i| format!("?{i}")).collect();
    format!("INSERT INTO {table} ({CONTEXT_COLUMNS}, {columns}) VALUES ({})", marks.join(", "))
}

/// One row of `auth_attempts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRow {
    /// Row id, chosen by the caller (see [`Store::next_auth_attempt_id`]) so that a later
    /// recovery can find it.
    pub id: i64,
    /// Where and when.
    pub ctx: RecordContext,
    /// Method the credentials were for.
    pub method: String,
    /// Username as sent.
    pub username: String,
    /// Realm, uri, nonce as sent.
    pub realm: Option<String>,
    /// Digest uri.
    pub uri: Option<String>,
    /// Nonce.
    pub nonce: Option<String>,
    /// Outcome name.
    pub outcome: &'static str,
    /// The password, when the PBX knows it.
    pub password: Option<String>,
}

/// One row of `registrations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationRow {
    /// Where and when.
    pub ctx: RecordContext,
    /// Extension.
    pub username: String,
    /// Contact URI.
    pub contact: String,
    /// Seconds granted.
    pub expires: u64,
}

impl Store {
    /// The first free `auth_attempts` id.
    pub fn next_auth_attempt_id(&self) -> Result<i64, SinkError> {
        Ok(self.conn.query_row("SELECT coalesce(max(id), 0) + 1 FROM auth_attempts", [], |r| r.get(0))?)
    }

    /// Records an authentication attempt.
    pub fn insert_auth_attempt(&mut self, row: &AuthRow) -> Result<(), SinkError> {
        self.begin()?;
        let c = &row.ctx;
        let values = c.values([
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
        ]);
        let columns =
            "id, method, username, realm, uri, nonce, call_id, user_agent, outcome, password, password_source";
        self.conn
            .prepare_cached(&insert_sql("auth_attempts", columns, values.len()))?
            .execute(params_from_iter(values))?;
        self.written()
    }

    /// Stores what password recovery found for attempt `id` (`password` none: not found
    /// among `tried` candidates).
    pub fn set_recovered_password(
        &mut self,
        id: i64,
        password: Option<&str>,
        source: Option<&str>,
        tried: usize,
    ) -> Result<(), SinkError> {
        self.begin()?;
        self.conn
            .prepare_cached(
                "UPDATE auth_attempts SET password = coalesce(?2, password),
                 password_source = coalesce(?3, password_source), candidates_tried = ?4 WHERE id = ?1",
            )?
            .execute(params![id, password, source, tried as i64])?;
        self.written()
    }

    /// Records a registration binding the honeypot accepted (or removed, expires 0).
    pub fn insert_registration(&mut self, row: &RegistrationRow) -> Result<(), SinkError> {
        self.begin()?;
        let c = &row.ctx;
        let values = c.values([
            Value::Text(row.username.clone()),
            Value::Text(row.contact.clone()),
            Value::Integer(i64::try_from(row.expires).unwrap_or(i64::MAX)),
            text(&c.call_id),
            text(&c.user_agent),
        ]);
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
            transport: "udp",
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
        let row = |id, password: Option<&str>| AuthRow {
            id,
            ctx: ctx(),
            method: "REGISTER".into(),
            username: "100".into(),
            realm: Some("asterisk".into()),
            uri: Some("sip:x".into()),
            nonce: Some("abcd".into()),
            outcome: if password.is_some() { "accepted" } else { "wrong_password" },
            password: password.map(str::to_owned),
        };
        store.insert_auth_attempt(&row(1, None)).unwrap();
        store.insert_auth_attempt(&row(2, Some("100"))).unwrap();
        store.set_recovered_password(1, Some("1234"), Some("pattern"), 17).unwrap();
        store.set_recovered_password(2, None, None, 0).unwrap();
        store
            .insert_registration(&RegistrationRow {
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
    }
}
