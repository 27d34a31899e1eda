//! Rows besides events, in order with them in the open batch: the honeypot's authentication
//! attempts and registrations, recovered passwords, and alerts with their evidence (the
//! pending events are copied first, so that each piece of evidence finds its event's id).

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

    /// Writes one alert into the open transaction, once the events before it are copied.
    pub(super) fn write_alert(&mut self, a: &Alert, run: Option<i64>) -> Result<(), SinkError> {
        let labels = serde_json::to_string(&a.labels).unwrap_or_else(|_| "[]".into());
        let actions: Vec<String> = a.actions.iter().map(crate::act::action_text).collect();
        let actions = serde_json::to_string(&actions).unwrap_or_else(|_| "[]".into());
        let group = a.group.to_string();
        let count = i64::try_from(a.count).unwrap_or(i64::MAX);
        let sid = i64::from(a.signature_id);
        let src_ip = a.src.map(|s| s.0.to_string());
        let src_port = a.src.map(|s| i32::from(s.1));
        let dst_ip = a.dst.map(|d| d.0.to_string());
        let dst_port = a.dst.map(|d| i32::from(d.1));
        let status = a.sip.status.map(i64::from);
        let id: i64 = self
            .client
            .query_one(
                "INSERT INTO alerts (run_id, sensor, rule_id, sid, name, severity, labels, group_key, first_ns,
                 last_ns, count, node, src_ip, src_port, dst_ip, dst_port, proven, transport, method, status,
                 user_agent, from_user, to_user, ruri_user, call_id, actions)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
                 $21, $22, $23, $24, $25, $26)
                 ON CONFLICT (sensor, rule_id, group_key, first_ns) DO UPDATE SET
                   run_id = coalesce(excluded.run_id, alerts.run_id),
                   last_ns = greatest(alerts.last_ns, excluded.last_ns),
                   count = greatest(alerts.count, excluded.count),
                   node = excluded.node, src_ip = excluded.src_ip, src_port = excluded.src_port,
                   dst_ip = excluded.dst_ip, dst_port = excluded.dst_port,
                   proven = alerts.proven OR excluded.proven, transport = excluded.transport
                 RETURNING id",
                &[
                    &run,
                    &pg_text(&a.sensor),
                    &pg_text(&a.rule_id),
                    &sid,
                    &pg_text(&a.name),
                    &a.severity.as_str(),
                    &pg_text(&labels),
                    &pg_text(&group),
                    &a.first_ns,
                    &a.last_ns,
                    &count,
                    &pg_opt(&a.node),
                    &src_ip,
                    &src_port,
                    &dst_ip,
                    &dst_port,
                    &a.proven,
                    &pg_opt(&a.transport),
                    &pg_opt(&a.sip.method),
                    &status,
                    &pg_opt(&a.sip.user_agent),
                    &pg_opt(&a.sip.from_user),
                    &pg_opt(&a.sip.to_user),
                    &pg_opt(&a.sip.ruri_user),
                    &pg_opt(&a.sip.call_id),
                    &pg_text(&actions),
                ],
            )
            .map_err(pg_error)?
            .get(0);
        if !a.evidence.is_empty() {
            let st = self
                .client
                .prepare(
                    "INSERT INTO alert_evidence (alert_id, position, ts_ns, src_ip, src_port, dst_ip, dst_port, event_id)
                     VALUES ($1, $2, $3, $4::text, $5::int4, $6::text, $7::int4,
                       coalesce($8::int8, (SELECT id FROM events WHERE ts_ns = $3 AND src_ip = $4::text::inet
                        AND src_port = $5 AND dst_ip = $6::text::inet AND dst_port = $7 ORDER BY id DESC LIMIT 1)))
                     ON CONFLICT (alert_id, position) DO UPDATE SET ts_ns = excluded.ts_ns,
                       src_ip = excluded.src_ip, src_port = excluded.src_port, dst_ip = excluded.dst_ip,
                       dst_port = excluded.dst_port, event_id = excluded.event_id
                     WHERE (alert_evidence.ts_ns, alert_evidence.src_ip, alert_evidence.src_port,
                            alert_evidence.dst_ip, alert_evidence.dst_port)
                       IS DISTINCT FROM (excluded.ts_ns, excluded.src_ip, excluded.src_port, excluded.dst_ip,
                            excluded.dst_port)",
                )
                .map_err(pg_error)?;
            for (position, e) in a.evidence.iter().enumerate() {
                let position = position as i64;
                let (src, dst) = (e.src.0.to_string(), e.dst.0.to_string());
                let (sp, dp) = (i32::from(e.src.1), i32::from(e.dst.1));
                // Known by its position when this writer copied it; searched for otherwise.
                let known = e.stored.and_then(|at| self.event_ids.id(at));
                self.client
                    .execute(&st, &[&id, &position, &e.ts_ns, &src, &sp, &dst, &dp, &known])
                    .map_err(pg_error)?;
            }
        }
        Ok(())
    }
}
