//! Filters as SQLite WHERE clauses: a time range and a set of nodes, always bound as
//! parameters (node names and times come from the command line and are never spliced into
//! SQL). Extra conditions are constant SQL written in this module's siblings; their values are
//! bound too.

use crate::store::Filter;
use rusqlite::types::Value;

/// A WHERE clause and its parameters.
#[derive(Debug, Clone, Default)]
pub(super) struct Clause {
    /// `WHERE …` or empty.
    pub sql: String,
    /// Values for its `?`s, in order.
    pub params: Vec<Value>,
}

impl Clause {
    /// The clause for a table with a time column `ts` and (when given) a node column, after
    /// `extra` conditions (constant SQL) whose `?`s take `extra_params`.
    pub fn new(f: &Filter, ts: &str, node: Option<&str>, extra: &[&str], extra_params: Vec<Value>) -> Clause {
        Clause::of(f.from_ns, f.to_ns, &f.nodes, ts, node, extra, extra_params)
    }

    /// The clause for the hourly rollups (`traffic`, `dialled`): the hours that overlap the
    /// range ([`Filter::hours`]) and the filter's nodes.
    pub fn hours(f: &Filter, extra: &[&str], extra_params: Vec<Value>) -> Clause {
        let (from, to) = f.hours();
        Clause::of(from, to, &f.nodes, "hour", Some("node"), extra, extra_params)
    }

    fn of(
        from: Option<i64>,
        to: Option<i64>,
        nodes: &[String],
        ts: &str,
        node: Option<&str>,
        extra: &[&str],
        extra_params: Vec<Value>,
    ) -> Clause {
        let mut conds: Vec<String> = extra.iter().map(|e| (*e).to_owned()).collect();
        let mut params = extra_params;
        if let Some(f) = from {
            conds.push(format!("{ts} >= ?"));
            params.push(Value::Integer(f));
        }
        if let Some(t) = to {
            conds.push(format!("{ts} < ?"));
            params.push(Value::Integer(t));
        }
        if let (Some(col), false) = (node, nodes.is_empty()) {
            let marks = vec!["?"; nodes.len()].join(", ");
            conds.push(format!("{col} IN ({marks})"));
            params.extend(nodes.iter().map(|n| Value::Text(n.clone())));
        }
        let sql = if conds.is_empty() { String::new() } else { format!("WHERE {}", conds.join(" AND ")) };
        Clause { sql, params }
    }

    /// `sql` with this clause where `{where}` stands.
    pub fn within(&self, sql: &str) -> String {
        sql.replace("{where}", &self.sql)
    }

    /// Adds a value for a `?` after the clause (a `LIMIT ?`).
    pub fn then(mut self, value: impl Into<Value>) -> Clause {
        self.params.push(value.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::HOUR_NS;

    #[test]
    fn clauses_bind_every_value() {
        let f = Filter { from_ns: Some(5), to_ns: None, nodes: vec!["a'; DROP TABLE events; --".into(), "b".into()] };
        let c = Clause::new(
            &f,
            "ts_ns",
            Some("node"),
            &["direction <> 'out'", "src_ip = ?"],
            vec![Value::Text("x".into())],
        );
        assert_eq!(c.sql, "WHERE direction <> 'out' AND src_ip = ? AND ts_ns >= ? AND node IN (?, ?)");
        assert_eq!(c.params.len(), 4);
        assert_eq!(c.params[0], Value::Text("x".into()));
        assert_eq!(Clause::new(&Filter::default(), "ts_ns", Some("node"), &[], vec![]).sql, "");
        assert_eq!(Clause::new(&f, "first_ns", None, &[], vec![]).sql, "WHERE first_ns >= ?");
    }

    #[test]
    fn hour_clauses_cover_every_hour_the_range_touches() {
        let h = HOUR_NS;
        let f = Filter { from_ns: Some(10 * h + 5), to_ns: Some(12 * h + 1), nodes: vec!["n".into()] };
        let c = Clause::hours(&f, &["kind = 'request'"], vec![]);
        assert_eq!(c.sql, "WHERE kind = 'request' AND hour >= ? AND hour < ? AND node IN (?)");
        assert_eq!(c.params[..2], [Value::Integer(10), Value::Integer(13)]);
        let exact = Filter { from_ns: Some(10 * h), to_ns: Some(12 * h), nodes: vec![] };
        assert_eq!(Clause::hours(&exact, &[], vec![]).params, [Value::Integer(10), Value::Integer(12)]);
    }
}
