//! Sections about what attackers were after: numbers dialled, passwords tried.

use super::{title, Result};
use crate::reports::model::{Cell, Section, Table};
use crate::store::{Filter, StoreReader};

pub fn numbers(store: &dyn StoreReader, f: &Filter) -> Result<Section> {
    let mut s = Section::new("numbers", title("numbers"));
    let unknown = || "?".to_owned();
    let mut t = Table::new(
        "numbers",
        "Most dialled numbers, unified over dialling prefixes",
        &["number", "country", "type", "calls", "INVITEs", "variants", "sources", "dialled as"],
    );
    let mut inferred = false;
    for r in store.top_numbers(f, 25)? {
        inferred |= r.country_inferred && r.country.is_some();
        let country = match (r.country, r.country_inferred) {
            (Some(c), true) => format!("{c} (inferred)"),
            (Some(c), false) => c,
            (None, _) => unknown(),
        };
        t.push(vec![
            r.number.into(),
            country.into(),
            r.number_type.into(),
            Cell::Int(r.attempts),
            Cell::Int(r.invites),
            Cell::Int(r.variants),
            Cell::Int(r.sources),
            r.variant_samples.join(", ").into(),
        ]);
    }
    let any = !t.rows.is_empty();
    s.tables.push(t);
    if any {
        s.notes.push(
            "A call is one dialog (one Call-ID): a call challenged and sent again with credentials is one call of two \
         INVITEs. INVITEs whose caller is the callee (svwar's calibration and enumeration, nmap's sip-call-spoof) \
         probe extensions and are not counted (docs/analysis.md)."
                .into(),
        );
    }
    if inferred {
        s.notes.push(
            "(inferred): the number is not valid in any region of its calling code, which several share (+1, +7, \
             +44 …); the country is the code's main region (docs/numbers.md)."
                .into(),
        );
    }
    let mut countries =
        Table::new("number_countries", "Calls per destination country", &["country", "numbers", "calls", "INVITEs"]);
    for r in store.number_countries(f)? {
        countries.push(vec![
            r.country.unwrap_or_else(unknown).into(),
            Cell::Int(r.numbers),
            Cell::Int(r.attempts),
            Cell::Int(r.invites),
        ]);
    }
    s.tables.push(countries);
    Ok(s)
}

pub fn passwords(store: &dyn StoreReader, f: &Filter) -> Result<Section> {
    let mut s = Section::new("passwords", title("passwords"));
    let mut t = Table::new(
        "passwords",
        "Passwords tried, by frequency",
        &["password", "attempts", "extensions", "sources", "accepted"],
    );
    for r in store.top_passwords(f, 25)? {
        t.push(vec![
            r.password.into(),
            Cell::Int(r.attempts),
            Cell::Int(r.extensions),
            Cell::Int(r.sources),
            Cell::Int(r.accepted),
        ]);
    }
    s.tables.push(t);
    let mut by_ext = Table::new(
        "passwords_by_extension",
        "Attempts per extension",
        &["extension", "attempts", "passwords recovered", "sources", "accepted"],
    );
    for r in store.top_extensions(f, 25)? {
        by_ext.push(vec![
            r.extension.into(),
            Cell::Int(r.attempts),
            Cell::Int(r.passwords_recovered),
            Cell::Int(r.sources),
            Cell::Int(r.accepted),
        ]);
    }
    s.tables.push(by_ext);
    Ok(s)
}
