//! What a read covers: a time range and a set of nodes, as plain values. Each backend turns it
//! into its own query language (always as bound parameters: node names and times come from the
//! command line); the hour arithmetic every backend shares lives here.

use crate::time::HOUR_NS;

/// What a report covers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// From (inclusive), ns.
    pub from_ns: Option<i64>,
    /// To (exclusive), ns.
    pub to_ns: Option<i64>,
    /// Nodes; all when empty.
    pub nodes: Vec<String>,
}

impl Filter {
    /// The same range over other nodes (all when `nodes` is empty).
    pub fn with_nodes(&self, nodes: &[String]) -> Filter {
        Filter { nodes: nodes.to_vec(), ..self.clone() }
    }

    /// The UTC hours (since 1970) the range overlaps, `[from, to)`, for the hourly rollups
    /// (`traffic`, `dialled`): nothing inside the range is left out (see
    /// [`Filter::hour_aligned`]).
    pub fn hours(&self) -> (Option<i64>, Option<i64>) {
        let hour = |ns: i64| ns.div_euclid(HOUR_NS);
        (self.from_ns.map(hour), self.to_ns.map(|t| hour(t.saturating_sub(1)) + 1))
    }

    /// True when the range starts and ends on whole UTC hours, so that message counts from
    /// the hourly rollups cover exactly the range.
    pub fn hour_aligned(&self) -> bool {
        [self.from_ns, self.to_ns].iter().flatten().all(|ns| ns.rem_euclid(HOUR_NS) == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_cover_every_hour_the_range_touches() {
        let h = HOUR_NS;
        let f = Filter { from_ns: Some(10 * h + 5), to_ns: Some(12 * h + 1), nodes: vec!["n".into()] };
        assert_eq!(f.hours(), (Some(10), Some(13)));
        assert!(!f.hour_aligned());
        let exact = Filter { from_ns: Some(10 * h), to_ns: Some(12 * h), nodes: vec![] };
        assert_eq!(exact.hours(), (Some(10), Some(12)));
        assert!(exact.hour_aligned() && Filter::default().hour_aligned());
        assert_eq!(Filter::default().hours(), (None, None));
        assert_eq!(f.with_nodes(&[]).nodes, Vec::<String>::new());
    }
}
