//! The report's sections, each a function of the store's reader and the filter. Sections ask
//! the [`StoreReader`](crate::store::StoreReader) for typed rows (analysis tables and hourly
//! totals, so they stay fast on large stores) and group, look up and chart them here.

mod alerts;
mod calls;
mod campaign_activity;
mod compare;
mod decisions;
mod geo;
mod hilbert;
mod nodes;
mod tools;
mod traffic;

use super::model::Section;
use super::Inputs;

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
    ("alerts", "Alerts raised by the rules"),
    ("decisions", "Decisions: bans, rate limits and watches, with who and why"),
];

/// A failure to build a section.
pub type Result<T> = std::result::Result<T, crate::store::StoreError>;

/// What more than one section needs, computed by the first that asks and kept for the rest
/// of one report.
#[derive(Default)]
pub struct Shared {
    pairs: std::cell::OnceCell<geo::Pairs>,
}

/// Builds section `name`; `None` for an unknown name.
pub fn build(inputs: &Inputs<'_>, shared: &Shared, name: &str) -> Option<Result<Section>> {
    let (store, filter, geo) = (inputs.store, inputs.filter, inputs.geo);
    Some(match name {
        "compare" => compare::compare(store, filter, inputs.comparison),
        "summary" => traffic::summary(store, filter, geo),
        "countries" => geo::countries(store, filter, geo, shared),
        "country-pairs" => geo::country_pairs(store, filter, geo, shared),
        "daily" => traffic::daily(store, filter),
        "sources" => traffic::sources(store, filter, geo),
        "user-agents" => traffic::user_agents(store, filter),
        "stages" => nodes::stages(store, filter, inputs.nodes),
        "spread" => nodes::spread(store, filter),
        "overlap" => nodes::overlap(store, filter),
        "tools" => tools::tools(store, filter),
        "tools-by-year" => tools::tools_by_year(store, filter),
        "tools-by-country" => tools::tools_by_country(store, filter, geo),
        "strategies" => tools::strategies(store, filter, &inputs.hilbert),
        "numbers" => calls::numbers(store, filter),
        "campaigns" => tools::campaigns(store, filter),
        "passwords" => calls::passwords(store, filter),
        "alerts" => alerts::alerts(store, filter),
        "decisions" => decisions::decisions(store, filter),
        _ => return None,
    })
}

/// The note section `name` has for `f`'s range and not for one on whole hours over the same
/// rows, with its place among the section's `notes` (see [`crate::reports::range_covers`]).
pub fn range_note<'n>(
    name: &str,
    f: &crate::store::Filter,
    notes: impl IntoIterator<Item = &'n str>,
) -> Option<(usize, &'static str)> {
    if traffic::HOURLY.contains(&name) {
        traffic::hour_note(f, notes)
    } else {
        None
    }
}

/// The title of a section.
pub fn title(name: &str) -> &'static str {
    ALL.iter().find(|(n, _)| *n == name).map_or("", |(_, t)| t)
}

/// `YYYY-MM-DD` of a UTC day number.
pub(crate) fn day_text(day: i64) -> String {
    crate::time::iso_date(day)
}
