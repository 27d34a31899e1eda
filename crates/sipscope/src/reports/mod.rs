//! Reports: the seed studies' tables and figures from any store, for any time range and set of
//! nodes, as text, JSON, CSV or self-contained HTML. Sections read the analysis tables and
//! indexed event columns only.

pub mod config;
pub mod model;
pub mod query;
pub mod render;
pub mod scan_choice;
pub mod sections;

use crate::enrich::Enricher;
use model::{Report, Scope};
use query::Filter;
use rusqlite::Connection;
pub use scan_choice::{HilbertChoice, Prefix22};

/// What the `compare` section compares.
#[derive(Debug)]
pub enum Comparison {
    /// Two groups of nodes of this store: (name, nodes) each.
    Groups((String, Vec<String>), (String, Vec<String>)),
    /// This store against another (its name, its connection).
    Store(String, Connection),
}

/// Everything sections read.
pub struct Inputs<'a> {
    /// The store.
    pub conn: &'a Connection,
    /// Time range and nodes.
    pub filter: &'a Filter,
    /// GeoIP.
    pub geo: &'a Enricher,
    /// What `compare` compares, when asked.
    pub comparison: Option<&'a Comparison>,
    /// The nodes file, for node addresses and sites.
    pub nodes: Option<&'a crate::nodes::Nodes>,
    /// Which flow and /22 `strategies` draws (default: the widest flow, its most-hit /22).
    pub hilbert: HilbertChoice,
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
            Some(section) => report.sections.push(section?),
            None => {
                let known: Vec<&str> = sections::ALL.iter().map(|(n, _)| *n).collect();
                return Err(ReportError::UnknownSection(name.clone(), known.join(", ")));
            }
        }
    }
    Ok(report)
}

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A section name that does not exist.
    #[error("no section {0:?}; sections: {1}")]
    UnknownSection(String, String),
    /// The store.
    #[error("reading the store: {0}")]
    Sqlite(#[from] rusqlite::Error),
}
