//! [`DecisionLog`] over PostgreSQL: the `decisions` and `offences` tables, on a connection of
//! its own (the decision policy's store worker, `sipscope decisions`). Every value is bound.

use super::{connect, pg_error, pg_text, schema};
use crate::act::{Decision, DecisionKind, DecisionOrigin, Scope};
use crate::sinks::decisions::{DecisionLog, Deletion, Offence};
use crate::sinks::SinkError;
use postgres::Client;

/// The decisions of one PostgreSQL store, opened for writing.
pub struct PgDecisionLog {
    client: Client,
}

impl PgDecisionLog {
    /// Connects to `url` and creates or migrates the schema.
    pub fn open(url: &str) -> Result<PgDecisionLog, SinkError> {
        let mut client = connect(url)?;
        schema::migrate(&mut client)?;
        Ok(PgDecisionLog { client })
    }
}

fn port_of(scope: &Scope) -> Option<i32> {
    match scope {
        Scope::AddressPort(_, p) => Some(i32::from(*p)),
        _ => None,
    }
}

impl DecisionLog for PgDecisionLog {
    fn insert(&mut self, d: &Decision, sensor: Option<&str>, created_ns: i64) -> Result<i64, SinkError> {
        let per_second = match d.kind {
            DecisionKind::RateLimit { per_second } => Some(i64::from(per_second)),
            _ => None,
        };
        let (rule_id, who) = match &d.origin {
            DecisionOrigin::Rule { rule_id } => (Some(pg_text(rule_id)), None),
            DecisionOrigin::Operator { who } => (None, Some(pg_text(who))),
        };
        let len = i32::from(d.scope.as_prefix().len);
        let offence = i64::from(d.offence);
        let row = self
            .client
            .query_one(
                "INSERT INTO decisions (kind, per_second, scope_kind, address, port, prefix_len, start_ns, until_ns,
                 reason, origin, rule_id, who, offence, proven, evidence, sensor, created_ns)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) RETURNING id",
                &[
                    &d.kind.as_str(),
                    &per_second,
                    &d.scope.kind_name(),
                    &d.scope.address().to_string(),
                    &port_of(&d.scope),
                    &len,
                    &d.start_ns,
                    &d.until_ns,
                    &pg_text(&d.reason),
                    &d.origin.kind_name(),
                    &rule_id,
                    &who,
                    &offence,
                    &d.proven,
                    &super::super::decisions::evidence_json(d),
                    &sensor.map(pg_text),
                    &created_ns,
                ],
            )
            .map_err(pg_error)?;
        Ok(row.get(0))
    }

    fn delete_id(&mut self, id: i64, by: &Deletion) -> Result<bool, SinkError> {
        let n = self
            .client
            .execute(
                "UPDATE decisions SET deleted_ns = $2, deleted_by = $3, deleted_why = $4
                 WHERE id = $1 AND deleted_ns IS NULL",
                &[&id, &by.at_ns, &pg_text(&by.who), &pg_text(&by.why)],
            )
            .map_err(pg_error)?;
        Ok(n > 0)
    }

    fn delete_scope(&mut self, scope: &Scope, by: &Deletion) -> Result<u64, SinkError> {
        let len = i32::from(scope.as_prefix().len);
        let n = self
            .client
            .execute(
                "UPDATE decisions SET deleted_ns = $5, deleted_by = $6, deleted_why = $7
                 WHERE deleted_ns IS NULL AND scope_kind = $1 AND address = $2 AND port IS NOT DISTINCT FROM $3
                   AND prefix_len = $4",
                &[
                    &scope.kind_name(),
                    &scope.address().to_string(),
                    &port_of(scope),
                    &len,
                    &by.at_ns,
                    &pg_text(&by.who),
                    &pg_text(&by.why),
                ],
            )
            .map_err(pg_error)?;
        Ok(n)
    }

    fn delete_all(&mut self, by: &Deletion) -> Result<u64, SinkError> {
        self.client
            .execute(
                "UPDATE decisions SET deleted_ns = $1, deleted_by = $2, deleted_why = $3 WHERE deleted_ns IS NULL",
                &[&by.at_ns, &pg_text(&by.who), &pg_text(&by.why)],
            )
            .map_err(pg_error)
    }

    fn add_offence(&mut self, scope: &Scope, now_ns: i64, forgiven_before_ns: i64) -> Result<u32, SinkError> {
        let count: i64 = self
            .client
            .query_one(
                "INSERT INTO offences AS o (scope, count, first_ns, last_ns) VALUES ($1, 1, $2, $2)
                 ON CONFLICT (scope) DO UPDATE SET
                     count = CASE WHEN o.last_ns < $3 THEN 1 ELSE o.count + 1 END,
                     first_ns = CASE WHEN o.last_ns < $3 THEN $2 ELSE o.first_ns END,
                     last_ns = greatest(o.last_ns, $2)
                 RETURNING count",
                &[&scope.to_string(), &now_ns, &forgiven_before_ns],
            )
            .map_err(pg_error)?
            .get(0);
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    fn offences(&mut self, since_ns: i64, limit: u32) -> Result<Vec<Offence>, SinkError> {
        let rows = self
            .client
            .query(
                "SELECT scope, count, first_ns, last_ns FROM offences WHERE last_ns >= $1
                 ORDER BY last_ns DESC, scope COLLATE \"C\" LIMIT $2",
                &[&since_ns, &i64::from(limit)],
            )
            .map_err(pg_error)?;
        let mut out = Vec::new();
        for r in rows {
            let scope: String = r.get(0);
            if let Ok(scope) = scope.parse::<Scope>() {
                let count: i64 = r.get(1);
                out.push(Offence {
                    scope,
                    count: u32::try_from(count).unwrap_or(u32::MAX),
                    first_ns: r.get(2),
                    last_ns: r.get(3),
                });
            }
        }
        Ok(out)
    }
}
