//! Reports: the seed studies' tables and figures from any store, for any time range and set of
//! nodes, as text, JSON, CSV or self-contained HTML. Sections read through a
//! [`StoreReader`] (typed rows, never SQL), so any backend can be reported on.

pub mod config;
pub mod model;
pub mod render;
pub mod scan_choice;
pub mod sections;

use crate::enrich::Enricher;
use crate::store::{Filter, StoreError, StoreReader};
use model::{Report, Scope};
pub use scan_choice::{HilbertChoice, Prefix22};

/// What the `compare` section compares.
pub enum Comparison {
    /// Two groups of nodes of this store: (name, nodes) each.
    Groups((String, Vec<String>), (String, Vec<String>)),
    /// This store against another (its name, its reader).
    Store(String, Box<dyn StoreReader>),
}

impl std::fmt::Debug for Comparison {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Comparison::Groups(a, b) => f.debug_tuple("Groups").field(a).field(b).finish(),
            Comparison::Store(name, _) => f.debug_tuple("Store").field(name).finish_non_exhaustive(),
        }
    }
}

/// Everything sections read.
pub struct Inputs<'a> {
    /// The store.
    pub store: &'a dyn StoreReader,
    /// Time range and nodes.
    pub filter: &'a Filter,
    /// GeoIP.
    pub geo: &'a Enricher,
    /// What `compare` compares, when asked.
    pub comparison: Option<&'a Comparison>,
    /// The nodes file, for node addresses and sites.
    pub nodes: Option<&'a crate::nodes::Nodes>,
    /// When the nodes file was applied at report time (the store's events analysed again
    /// with it): said in every section.
    pub report_time_nodes: Option<&'a ReportTimeNodes>,
    /// Which flow and /22 `strategies` draws (default: the widest flow, its most-hit /22).
    pub hilbert: HilbertChoice,
}

/// A nodes file applied at report time: the store's events were analysed again with it into
/// a scratch store, and the report reads that analysis (`store::overlay`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportTimeNodes {
    /// The nodes file, as given.
    pub file: String,
    /// Stored events analysed again.
    pub events: u64,
    /// Messages the store's own analysis counted (its hourly totals): more than `events` when
    /// events were not all stored (`--events none` or `sample:N`) or were deleted since.
    pub messages_before: i64,
}

impl ReportTimeNodes {
    /// What the reader of every section must know.
    pub fn note(&self) -> String {
        let mut note = format!(
            "Nodes from {} applied at report time: the {} stored events were analysed again with them (the \
             store was only read; `sipscope analyze --nodes` keeps such an analysis).",
            crate::output::escape::terminal(&self.file, 512),
            self.events
        );
        if self.messages_before > self.events as i64 {
            note.push_str(&format!(
                " The store's own analysis counted {} messages: those not stored as events (--events none or \
                 sample:N, or deleted since) are missing here.",
                self.messages_before
            ));
        }
        note
    }
}

/// Builds the named sections (all when `names` is empty). Unknown names are an error.
pub fn build(inputs: &Inputs<'_>, names: &[String]) -> Result<Report, ReportError> {
    let filter = inputs.filter;
    let wanted: Vec<String> =
        if names.is_empty() { sections::ALL.iter().map(|(n, _)| (*n).to_owned()).collect() } else { names.to_vec() };
    let mut report = Report {
        scope: Scope { from_ns: filter.from_ns, to_ns: filter.to_ns, nodes: filter.nodes.clone() },
        sections: Vec::new(),
    };
    let shared = sections::Shared::default();
    for name in &wanted {
        match sections::build(inputs, &shared, name) {
            Some(section) => {
                let mut section = section?;
                if let Some(applied) = inputs.report_time_nodes {
                    section.notes.insert(0, applied.note());
                }
                report.sections.push(section);
            }
            None => {
                let known: Vec<&str> = sections::ALL.iter().map(|(n, _)| *n).collect();
                return Err(ReportError::UnknownSection(name.clone(), known.join(", ")));
            }
        }
    }
    Ok(report)
}

/// The version of what a report says and how its JSON is laid out, for reports kept beyond the
/// process that built them (the REST API keeps its last ones in the store, `sinks::kept`): raise
/// it with any change to a section's rows or meaning, or to the JSON's shape, so that a kept
/// report of the earlier form is never served. (The API also keys them by the crate's version,
/// the executable's size and modification time and the GeoIP databases: a new build is caught
/// even if this was not raised, unless it kept the size and time of the one before.)
pub const REPORT_FORMAT: u32 = 1;

/// The sections whose answer depends on the range itself, not only on the rows it selects:
/// `campaigns` (a source active on every day of the range is left out) and `decisions`
/// (those in force at some time of the range, a permanent one only without a start).
pub const RANGE_DEPENDENT: &[&str] = &["campaigns", "decisions"];

/// The same filter without its time range, when the range holds `extent` (everything the
/// store's sections select by time; `None`: nothing) and so selects every row no range would:
/// every section but [`RANGE_DEPENDENT`] answers the same for both. `None` when the filter has
/// no range or its range cuts the extent.
pub fn range_covers(filter: &Filter, extent: Option<crate::store::TimeExtent>) -> Option<Filter> {
    if filter.from_ns.is_none() && filter.to_ns.is_none() {
        return None;
    }
    let holds = extent.is_none_or(|e| {
        filter.from_ns.is_none_or(|from| from <= e.first_ns) && filter.to_ns.is_none_or(|to| to > e.last_ns)
    });
    holds.then(|| Filter { from_ns: None, to_ns: None, nodes: filter.nodes.clone() })
}

/// For a filter whose range holds `extent` ([`range_covers`]) and reaches a day before or
/// after the extent's days: another such filter whose `campaigns` section is the same, the
/// same for every one of them (so that one kept answer serves them all). Campaigns depend on
/// the range only through its days: a source active on every one of them is left out. Every
/// stored day lies within the extent's days, so over a range of more days than those no source
/// is active on every day, and the answer no longer depends on how many more there are. The
/// one returned starts the day before the extent's first and has no end.
pub fn campaigns_alike(filter: &Filter, extent: Option<crate::store::TimeExtent>) -> Option<Filter> {
    use crate::time::{day_of, DAY_NS};
    let e = extent?;
    range_covers(filter, extent)?;
    let (first, last) = (day_of(e.first_ns), day_of(e.last_ns));
    let wider = filter.from_ns.is_some_and(|f| day_of(f) < first)
        || filter.to_ns.is_some_and(|t| day_of(t.saturating_sub(1)) > last);
    let from = first.checked_sub(1)?.checked_mul(DAY_NS)?;
    wider.then(|| Filter { from_ns: Some(from), to_ns: None, nodes: filter.nodes.clone() })
}

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A section name that does not exist.
    #[error("no section {0:?}; sections: {1}")]
    UnknownSection(String, String),
    /// The store (its error in the message, not a separate source: a chain prints it once).
    #[error("reading the store: {0}")]
    Store(StoreError),
}

impl From<StoreError> for ReportError {
    fn from(e: StoreError) -> ReportError {
        ReportError::Store(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::TimeExtent;

    #[test]
    fn a_range_covers_the_store_only_when_it_holds_every_time() {
        let e = Some(TimeExtent { first_ns: 100, last_ns: 200 });
        let f = |from, to| Filter { from_ns: from, to_ns: to, nodes: vec!["n".into()] };
        let whole = Some(Filter { from_ns: None, to_ns: None, nodes: vec!["n".into()] });
        assert_eq!(range_covers(&f(Some(100), Some(201)), e), whole, "to is exclusive");
        assert_eq!(range_covers(&f(Some(5), None), e), whole);
        assert_eq!(range_covers(&f(None, Some(1_000)), e), whole);
        assert_eq!(range_covers(&f(Some(101), None), e), None, "cuts the first time");
        assert_eq!(range_covers(&f(None, Some(200)), e), None, "cuts the last time");
        assert_eq!(range_covers(&f(None, None), e), None, "no range: nothing to widen");
        assert_eq!(range_covers(&f(Some(5), None), None), whole, "an empty store");
    }

    #[test]
    fn campaigns_of_ranges_wider_than_the_stored_days_are_one_answer() {
        use crate::time::DAY_NS;
        let e = Some(TimeExtent { first_ns: 10 * DAY_NS + 5, last_ns: 12 * DAY_NS + 7 });
        let f = |from, to| Filter { from_ns: from, to_ns: to, nodes: vec![] };
        let one = f(Some(9 * DAY_NS), None);
        let alike = Some(one.clone());
        assert_eq!(campaigns_alike(&f(Some(0), None), e), alike);
        assert_eq!(campaigns_alike(&f(Some(10 * DAY_NS), Some(14 * DAY_NS)), e), alike, "a day after the last");
        assert_eq!(campaigns_alike(&f(Some(10 * DAY_NS), Some(13 * DAY_NS)), e), None, "the stored days exactly");
        assert_eq!(campaigns_alike(&f(Some(10 * DAY_NS), None), e), None, "no end: up to the last stored day");
        assert_eq!(campaigns_alike(&f(Some(10 * DAY_NS + 6), None), e), None, "cuts the extent");
        assert_eq!(campaigns_alike(&f(Some(0), None), None), None, "an empty store: nothing to share");
        // The one returned is of the same kind: wider, covering, and its own answer.
        assert!(range_covers(&one, e).is_some());
        assert_eq!(campaigns_alike(&one, e), Some(one));
    }
}
