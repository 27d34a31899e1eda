//! The report's sections, each a function of the store and the filter. Sections read only the
//! analysis tables and indexed event columns, so they stay fast on large stores.

mod calls;
mod compare;
mod geo;
mod hilbert;
mod nodes;
mod tools;
mod traffic;

use super::model::{Cell, Section, Table};
use super::query::Clause;
use super::Inputs;
use rusqlite::types::ValueRef;
use rusqlite::Connection;

/// Every section, in report order, with what it shows.
pub const ALL: &[(&str, &str)] = &[
    ("summary", "Messages, sources, countries and days (003 Table 1)"),
    ("daily", "SIP messages per day by method"),
    ("stages", "Attack stages per node (001)"),
    ("spread", "How many nodes each attacker hit (001)"),
    ("overlap", "Attackers shared between nodes (001)"),
    ("compare", "Two sensor groups or two stores side by side (001)"),
    ("sources", "Top sources (003 Table 3)"),
    ("countries", "Source country to dialled country (003 Table 4)"),
    ("country-pairs", "Source countries calling destination countries (003 Fig. 5)"),
    ("user-agents", "User agents (003 Fig. 3)"),
    ("tools", "Tools (004 Table I)"),
    ("tools-by-year", "Sources per tool and year (004 Fig. 3)"),
    ("tools-by-country", "Sources per tool and country (004 Fig. 4)"),
    ("strategies", "Scan strategies (004 Fig. 2)"),
    ("numbers", "Most dialled numbers (003)"),
    ("campaigns", "Scanning campaigns (004 §VI)"),
    ("passwords", "Passwords attackers tried"),
];

/// A failure to build a section.
pub type Result<T> = std::result::Result<T, rusqlite::Error>;

/// What more than one section needs, computed by the first that asks and kept for the rest
/// of one report.
#[derive(Default)]
pub struct Shared {
    pairs: std::cell::OnceCell<geo::Pairs>,
}

/// Builds section `name`; `None` for an unknown name.
pub fn build(inputs: &Inputs<'_>, shared: &Shared, name: &str) -> Option<Result<Section>> {
    let (conn, filter, geo) = (inputs.conn, inputs.filter, inputs.geo);
    Some(match name {
        "compare" => compare::compare(conn, filter, inputs.comparison),
        "summary" => traffic::summary(conn, filter, geo),
        "countries" => geo::countries(conn, filter, geo, shared),
        "country-pairs" => geo::country_pairs(conn, filter, geo, shared),
        "daily" => traffic::daily(conn, filter),
        "sources" => traffic::sources(conn, filter, geo),
        "user-agents" => traffic::user_agents(conn, filter),
        "stages" => nodes::stages(conn, filter, inputs.nodes),
        "spread" => nodes::spread(conn, filter),
        "overlap" => nodes::overlap(conn, filter),
        "tools" => tools::tools(conn, filter),
        "tools-by-year" => tools::tools_by_year(conn, filter),
        "tools-by-country" => tools::tools_by_country(conn, filter, geo),
        "strategies" => tools::strategies(conn, filter, &inputs.hilbert),
        "numbers" => calls::numbers(conn, filter),
        "campaigns" => tools::campaigns(conn, filter),
        "passwords" => calls::passwords(conn, filter),
        _ => return None,
    })
}

/// The title of a section.
pub fn title(name: &str) -> &'static str {
    ALL.iter().find(|(n, _)| *n == name).map_or("", |(_, t)| t)
}

/// Runs `sql` (with the filter's `clause` spliced in where `{where}` stands) into a table.
pub(crate) fn query_table(
    conn: &Connection,
    name: &str,
    title: &str,
    columns: &[&str],
    sql: &str,
    clause: &Clause,
) -> Result<Table> {
    let sql = sql.replace("{where}", &clause.sql);
    let mut stmt = conn.prepare(&sql)?;
    let n = stmt.column_count();
    let mut table = Table::new(name, title, columns);
    let mut rows = stmt.query(rusqlite::params_from_iter(clause.params.iter()))?;
    while let Some(r) = rows.next()? {
        let row = (0..n)
            .map(|i| {
                Ok(match r.get_ref(i)? {
                    ValueRef::Null => Cell::Null,
                    ValueRef::Integer(v) => Cell::Int(v),
                    ValueRef::Real(v) => Cell::Float(v),
                    ValueRef::Text(t) | ValueRef::Blob(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                })
            })
            .collect::<Result<Vec<Cell>>>()?;
        table.push(row);
    }
    Ok(table)
}

/// `YYYY-MM-DD` of a UTC day number.
pub(crate) fn day_text(day: i64) -> String {
    crate::time::iso_date(day)
}
