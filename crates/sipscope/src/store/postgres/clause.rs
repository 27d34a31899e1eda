//! Filters as PostgreSQL WHERE clauses, every value bound: the SQLite reader's `clause.rs`
//! with `$n` placeholders (conditions are written with `?`, numbered in order when the
//! statement is built; no statement of this reader has a `?` of its own).

use crate::store::Filter;
use postgres::types::ToSql;

/// One bound value.
pub(super) type Value = Box<dyn ToSql + Sync + Send>;

/// A WHERE clause and its parameters.
#[derive(Default)]
pub(super) struct Clause {
    /// `WHERE …` or empty, with `?` marks.
    pub sql: String,
    /// Values for the statement's `?`s, in order (the select list's, the clause's, the tail's).
    pub values: Vec<Value>,
}

impl Clause {
    /// The clause for a table with a time column `ts` and (when given) a node column, after
    /// `extra` conditions whose `?`s take `extra_values`.
    pub fn new(f: &Filter, ts: &str, node: Option<&str>, extra: &[&str], extra_values: Vec<Value>) -> Clause {
        Clause::of(f.from_ns, f.to_ns, &f.nodes, ts, node, extra, extra_values)
    }

    /// The clause for the hourly rollups (`traffic`, `dialled`).
    pub fn hours(f: &Filter, extra: &[&str], extra_values: Vec<Value>) -> Clause {
        let (from, to) = f.hours();
        Clause::of(from, to, &f.nodes, "hour", Some("node"), extra, extra_values)
    }

    fn of(
        from: Option<i64>,
        to: Option<i64>,
        nodes: &[String],
        ts: &str,
        node: Option<&str>,
        extra: &[&str],
        extra_values: Vec<Value>,
    ) -> Clause {
        let mut conds: Vec<String> = extra.iter().map(|e| (*e).to_owned()).collect();
        let mut values = extra_values;
        if let Some(f) = from {
            conds.push(format!("{ts} >= ?"));
            values.push(Box::new(f));
        }
        if let Some(t) = to {
            conds.push(format!("{ts} < ?"));
            values.push(Box::new(t));
        }
        if let (Some(col), false) = (node, nodes.is_empty()) {
            conds.push(format!("{col} = ANY(?)"));
            values.push(Box::new(nodes.to_vec()));
        }
        let sql = if conds.is_empty() { String::new() } else { format!("WHERE {}", conds.join(" AND ")) };
        Clause { sql, values }
    }

    /// A clause of fixed conditions.
    pub fn fixed(sql: &str, values: Vec<Value>) -> Clause {
        Clause { sql: sql.to_owned(), values }
    }

    /// `sql` with this clause where `{where}` stands and every `?` numbered.
    pub fn within(&self, sql: &str) -> String {
        number(&sql.replace("{where}", &self.sql))
    }

    /// Adds a value for a `?` after the clause (a `LIMIT ?`).
    pub fn then(mut self, value: impl ToSql + Sync + Send + 'static) -> Clause {
        self.values.push(Box::new(value));
        self
    }

    /// The values as the client takes them.
    pub fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.values.iter().map(|v| v.as_ref() as &(dyn ToSql + Sync)).collect()
    }
}

/// `?` marks as `$1`, `$2`, … in order.
fn number(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clauses_bind_every_value_and_number_the_marks() {
        let f = Filter { from_ns: Some(5), to_ns: None, nodes: vec!["a'; DROP TABLE events; --".into()] };
        let c = Clause::new(&f, "ts_ns", Some("node"), &["src_ip = ?"], vec![Box::new("x".to_owned())]).then(10i64);
        assert_eq!(c.sql, "WHERE src_ip = ? AND ts_ns >= ? AND node = ANY(?)");
        assert_eq!(
            c.within("SELECT 1 FROM t {where} LIMIT ?"),
            "SELECT 1 FROM t WHERE src_ip = $1 AND ts_ns >= $2 AND node = ANY($3) LIMIT $4"
        );
        assert_eq!(c.params().len(), 4);
    }
}
