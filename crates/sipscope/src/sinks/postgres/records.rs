//! Rows besides events, in order with them in the open batch: the honeypot's authentication
//! attempts and registrations, recovered passwords, and alerts (kept for the next COPY and
//! written after its events, so that each piece of evidence finds its event's id: `alerts.rs`).

use super::{pg_error, pg_opt, pg_text, PgStore};
use crate::act::Alert;
use crate::event::record::{AuthAttemptRecord, Record, RecoveredPassword, RegistrationRecord};
use crate::sinks::SinkError;

impl PgStore {
    /// Stores a record in order with the events.
    pub fn insert_record(&mut self, record: &Record) -> Result<(), SinkError> {
        match record {
            Record::AuthAttempt(row) => self.insert_auth_attempt(row),
            Record::Registration(row) => self.insert_registration(row),
            Record::Recovered(r) => self.set_recovered_password(r),
        }
    }

    /// The first free `auth_attempts` id.
    pub fn next_auth_attempt_id(&mut self) -> Result<i64, SinkError> {
        self.flush_now()?;
        let row = self.client.query_one("SELECT coalesce(max(id), 0) + 1 FROM auth_attempts", &[]).map_err(pg_error)?;
        Ok(row.get(0))
    }

    /// Records an authentication attempt.
    pub fn insert_auth_attempt(&mut self, row: &AuthAttemptRecord) -> Result<(), SinkError> {
        self.begin()?;
        let c = &row.ctx;
        let (src_port, dst_port) = (i32::from(c.src.port()), i32::from(c.dst.port()));
        let password_source = row.password.as_ref().map(|_| "extension");
        let origin = row.log.as_ref().map(|l| l.origin);
        let log_file = row.log.as_ref().map(|l| pg_text(&l.file).into_owned());
        let log_line = row.log.as_ref().map(|l| l.line.clone());
        self.client
            .execute(
                "INSERT INTO auth_attempts (ts_ns, sensor, node, transport, src_ip, src_port, dst_ip, dst_port, id,
                 method, username, realm, uri, nonce, call_id, user_agent, outcome, password, password_source,
                 origin, log_file, log_line, published_seq)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
                 $21, $22, $23)",
                &[
                    &c.ts_ns,
                    &pg_text(&c.sensor),
                    &pg_opt(&c.node),
                    &c.transport.as_str(),
                    &c.src.ip(),
                    &src_port,
                    &c.dst.ip(),
                    &dst_port,
                    &row.id,
                    &pg_text(&row.method),
                    &pg_text(&row.username),
                    &pg_opt(&row.realm),
                    &pg_opt(&row.uri),
                    &pg_opt(&row.nonce),
                    &pg_opt(&c.call_id),
                    &pg_opt(&c.user_agent),
                    &row.outcome,
                    &pg_opt(&row.password),
                    &password_source,
                    &origin,
                    &log_file,
                    &log_line,
                    &row.published_seq,
                ],
            )
            .map_err(pg_error)?;
        self.written()
    }

    /// Stores what password recovery found for an attempt (at a collector, `published_by`:
    /// the attempt that sensor published under `attempt_id`).
    pub fn set_recovered_password(&mut self, r: &RecoveredPassword) -> Result<(), SinkError> {
        self.begin()?;
        let password = r.password.as_deref().map(pg_text);
        let tried = i64::try_from(r.tried).unwrap_or(i64::MAX);
        let set = "password = coalesce($2, password), password_source = coalesce($3, password_source),
                   candidates_tried = $4";
        match &r.published_by {
            None => self.client.execute(
                &format!("UPDATE auth_attempts SET {set} WHERE id = $1"),
                &[&r.attempt_id, &password, &r.source, &tried],
            ),
            // At a collector: the attempt the sensor published under that id.
            Some(sensor) => self.client.execute(
                &format!("UPDATE auth_attempts SET {set} WHERE sensor = $5 AND published_seq = $1"),
                &[&r.attempt_id, &password, &r.source, &tried, &pg_text(sensor)],
            ),
        }
        .map_err(pg_error)?;
        self.written()
    }

    /// Records a registration binding the honeypot accepted (or removed, expires 0).
    pub fn insert_registration(&mut self, row: &RegistrationRecord) -> Result<(), SinkError> {
        self.begin()?;
        let c = &row.ctx;
        let (src_port, dst_port) = (i32::from(c.src.port()), i32::from(c.dst.port()));
        let expires = i64::try_from(row.expires).unwrap_or(i64::MAX);
        self.client
            .execute(
                "INSERT INTO registrations (ts_ns, sensor, node, transport, src_ip, src_port, dst_ip, dst_port,
                 username, contact, expires, call_id, user_agent)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                &[
                    &c.ts_ns,
                    &pg_text(&c.sensor),
                    &pg_opt(&c.node),
                    &c.transport.as_str(),
                    &c.src.ip(),
                    &src_port,
                    &c.dst.ip(),
                    &dst_port,
                    &pg_text(&row.username),
                    &pg_text(&row.contact),
                    &expires,
                    &pg_opt(&c.call_id),
                    &pg_opt(&c.user_agent),
                ],
            )
            .map_err(pg_error)?;
        self.written()
    }

    /// Stores an alert (or updates the row of the same sensor, rule, group and first match)
    /// with its evidence, under the open analysis run.
    pub fn insert_alert(&mut self, a: &Alert) -> Result<(), SinkError> {
        // Written after the pending events (its evidence among them) at the next COPY: one
        // COPY per batch, not one per alert.
        self.pending_alerts.push((a.clone(), self.current_run));
        self.written()
    }
}
