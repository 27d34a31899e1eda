//! [`DecisionLog`] over the SQLite store: the `decisions` and `offences` tables (schema 7), on
//! a connection of its own (the decision policy's store worker, or `sipscope decisions`), so
//! that it never waits behind the event writer's batch for long. Every value is bound.

use super::Store;
use crate::act::{Decision, DecisionKind, DecisionOrigin, Scope};
use crate::sinks::decisions::{DecisionLog, Deletion, Offence};
use crate::sinks::SinkError;
use rusqlite::params;
use std::path::Path;

/// The decisions of one store, opened for writing.
pub struct SqliteDecisionLog {
    store: Store,
}

impl SqliteDecisionLog {
    /// Opens (creating and migrating) the store at `path` for decisions.
    pub fn open(path: &Path) -> Result<SqliteDecisionLog, SinkError> {
        Ok(SqliteDecisionLog { store: Store::open(path)? })
    }
}

impl DecisionLog for SqliteDecisionLog {
    fn insert(&mut self, d: &Decision, sensor: Option<&str>, created_ns: i64) -> Result<i64, SinkError> {
        let (port, len) = match d.scope {
            Scope::AddressPort(_, p) => (Some(p), d.scope.as_prefix().len),
            _ => (None, d.scope.as_prefix().len),
        };
        let per_second = match d.kind {
            DecisionKind::RateLimit { per_second } => Some(per_second),
            _ => None,
        };
        let (rule_id, who) = match &d.origin {
            DecisionOrigin::Rule { rule_id } => (Some(rule_id.as_str()), None),
            DecisionOrigin::Operator { who } => (None, Some(who.as_str())),
        };
        self.store.connection().execute(
            "INSERT INTO decisions (kind, per_second, scope_kind, address, port, prefix_len, start_ns, until_ns,
             reason, origin, rule_id, who, offence, proven, evidence, sensor, created_ns)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
            params![
                d.kind.as_str(),
                per_second,
                d.scope.kind_name(),
                d.scope.address().to_string(),
                port,
                len,
                d.start_ns,
                d.until_ns,
                d.reason,
                d.origin.kind_name(),
                rule_id,
                who,
                d.offence,
                d.proven,
                super::super::decisions::evidence_json(d),
                sensor,
                created_ns,
            ],
        )?;
        Ok(self.store.connection().last_insert_rowid())
    }

    fn delete_id(&mut self, id: i64, by: &Deletion) -> Result<bool, SinkError> {
        let n = self.store.connection().execute(
            "UPDATE decisions SET deleted_ns = ?2, deleted_by = ?3, deleted_why = ?4
             WHERE id = ?1 AND deleted_ns IS NULL",
            params![id, by.at_ns, by.who, by.why],
        )?;
        Ok(n > 0)
    }

    fn delete_scope(&mut self, scope: &Scope, by: &Deletion) -> Result<u64, SinkError> {
        let port = match scope {
            Scope::AddressPort(_, p) => Some(*p),
            _ => None,
        };
        let n = self.store.connection().execute(
            "UPDATE decisions SET deleted_ns = ?5, deleted_by = ?6, deleted_why = ?7
             WHERE deleted_ns IS NULL AND scope_kind = ?1 AND address = ?2 AND port IS ?3 AND prefix_len = ?4",
            params![
                scope.kind_name(),
                scope.address().to_string(),
                port,
                scope.as_prefix().len,
                by.at_ns,
                by.who,
                by.why
            ],
        )?;
        Ok(n as u64)
    }

    fn delete_all(&mut self, by: &Deletion) -> Result<u64, SinkError> {
        let n = self.store.connection().execute(
            "UPDATE decisions SET deleted_ns = ?1, deleted_by = ?2, deleted_why = ?3 WHERE deleted_ns IS NULL",
            params![by.at_ns, by.who, by.why],
        )?;
        Ok(n as u64)
    }

    fn add_offence(&mut self, scope: &Scope, now_ns: i64, forgiven_before_ns: i64) -> Result<u32, SinkError> {
        let count: i64 = self.store.connection().query_row(
            "INSERT INTO offences (scope, count, first_ns, last_ns) VALUES (?1, 1, ?2, ?2)
             ON CONFLICT (scope) DO UPDATE SET
                 count = CASE WHEN last_ns < ?3 THEN 1 ELSE count + 1 END,
                 first_ns = CASE WHEN last_ns < ?3 THEN ?2 ELSE first_ns END,
                 last_ns = max(last_ns, ?2)
             RETURNING count",
            params![scope.to_string(), now_ns, forgiven_before_ns],
            |r| r.get(0),
        )?;
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    fn offences(&mut self, since_ns: i64, limit: u32) -> Result<Vec<Offence>, SinkError> {
        let mut st = self.store.connection().prepare(
            "SELECT scope, count, first_ns, last_ns FROM offences WHERE last_ns >= ?1 ORDER BY last_ns DESC LIMIT ?2",
        )?;
        let rows = st.query_map(params![since_ns, limit], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(3)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (scope, count, first_ns, last_ns) = row?;
            // A scope this build cannot read back was not written by it: skip it, never fail.
            if let Ok(scope) = scope.parse::<Scope>() {
                out.push(Offence { scope, count: u32::try_from(count).unwrap_or(u32::MAX), first_ns, last_ns });
            }
        }
        Ok(out)
    }
}
