//! Filters as SQL: a time range and a set of nodes, always bound as parameters (node names
//! and times come from the command line and are never spliced into SQL).

use crate::analysis::traffic::HOUR_NS;
use rusqlite::types::Value;

/// What a report covers.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// From (inclusive), ns.
    pub from_ns: Option<i64>,
    /// To (exclusive), ns.
    pub to_ns: Option<i64>,
    /// Nodes; all when empty.
    pub nodes: Vec<String>,
}

/// A WHERE clause and its parameters.
#[derive(Debug, Clone, Default)]
pub struct Clause {
    /// `WHERE …` or empty.
    pub sql: String,
    /// Values for its `?`s, in order.
    pub params: Vec<Value>,
}

impl Filter {
    /// The clause for a table with a time column `ts` and (when given) a node column, plus
    /// `extra` conditions (constant SQL written by the caller).
    pub fn clause(&self, ts: &str, node: Option<&str>, extra: &[&str]) -> Clause {
        let mut conds: Vec<String> = extra.iter().map(|e| (*e).to_owned()).collect();
        let mut params = Vec::new();
        if let Some(f) = self.from_ns {
            conds.push(format!("{ts} >= ?"));
            params.push(Value::Integer(f));
        }
        if let Some(t) = self.to_ns {
            conds.push(format!("{ts} < ?"));
            params.push(Value::Integer(t));
        }
        if let (Some(col), false) = (node, self.nodes.is_empty()) {
            let marks = vec!["?"; self.nodes.len()].join(", ");
            conds.push(format!("{col} IN ({marks})"));
            params.extend(self.nodes.iter().map(|n| Value::Text(n.clone())));
        }
        let sql = if conds.is_empty() { String::new() } else { format!("WHERE {}", conds.join(" AND ")) };
        Clause { sql, params }
    }

    /// The clause for the hourly rollups (`traffic`, `dialled`): the hours that overlap the
    /// range, so nothing inside it is left out (see [`Filter::hour_aligned`]).
    pub fn hour_clause(&self, extra: &[&str]) -> Clause {
        let hour = |ns: i64| ns.div_euclid(HOUR_NS);
        Filter {
            from_ns: self.from_ns.map(hour),
            to_ns: self.to_ns.map(|t| hour(t.saturating_sub(1)) + 1),
            nodes: self.nodes.clone(),
        }
        .clause("hour", Some("node"), extra)
    }

    /// True when the range starts and ends on whole UTC hours, so that message counts from
    /// the hourly rollups cover exactly the range.
    pub fn hour_aligned(&self) -> bool {
        [self.from_ns, self.to_ns].iter().flatten().all(|ns| ns.rem_euclid(HOUR_NS) == 0)
    }

    /// The UTC day range of the filter, for `source_days`.
    pub fn day_clause(&self, extra: &[&str]) -> Clause {
        let day = |ns: i64| ns.div_euclid(86_400_000_000_000);
        let mut c = Filter { from_ns: self.from_ns.map(day), to_ns: self.to_ns.map(|t| day(t - 1) + 1), nodes: vec![] }
            .clause("day", None, extra);
        if self.from_ns.is_none() && self.to_ns.is_none() {
            c.params.clear();
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clauses_bind_every_value() {
        let f = Filter { from_ns: Some(5), to_ns: None, nodes: vec!["a'; DROP TABLE events; --".into(), "b".into()] };
        let c = f.clause("ts_ns", Some("node"), &["direction <> 'out'"]);
        assert_eq!(c.sql, "WHERE direction <> 'out' AND ts_ns >= ? AND node IN (?, ?)");
        assert_eq!(c.params.len(), 3);
        assert_eq!(Filter::default().clause("ts_ns", Some("node"), &[]).sql, "");
    }

    #[test]
    fn hour_clauses_cover_every_hour_the_range_touches() {
        let h = HOUR_NS;
        let f = Filter { from_ns: Some(10 * h + 5), to_ns: Some(12 * h + 1), nodes: vec!["n".into()] };
        let c = f.hour_clause(&["kind = 'request'"]);
        assert_eq!(c.sql, "WHERE kind = 'request' AND hour >= ? AND hour < ? AND node IN (?)");
        assert_eq!(c.params[..2], [Value::Integer(10), Value::Integer(13)]);
        assert!(!f.hour_aligned());
        let exact = Filter { from_ns: Some(10 * h), to_ns: Some(12 * h), nodes: vec![] };
        assert_eq!(exact.hour_clause(&[]).params, [Value::Integer(10), Value::Integer(12)]);
        assert!(exact.hour_aligned() && Filter::default().hour_aligned());
    }
}
