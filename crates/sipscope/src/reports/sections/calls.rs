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
        &["number", "country", "type", "attempts", "variants", "sources"],
    );
    for r in store.top_numbers(f, 25)? {
        t.push(vec![
            r.number.into(),
            r.country.unwrap_or_else(unknown).into(),
            r.number_type.into(),
            Cell::Int(r.attempts),
            Cell::Int(r.variants),
            Cell::Int(r.sources),
        ]);
    }
    s.tables.push(t);
    let mut countries =
        Table::new("number_countries", "Attempts per destination country", &["country", "numbers", "attempts"]);
    for r in store.number_countries(f)? {
        countries.push(vec![r.country.unwrap_or_else(unknown).into(), Cell::Int(r.numbers), Cell::Int(r.attempts)]);
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
