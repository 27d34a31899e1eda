//! Sections about what attackers were after: numbers dialled, passwords tried.

use super::{query_table, title, Result};
use crate::reports::model::Section;
use crate::reports::query::Filter;
use rusqlite::Connection;

pub fn numbers(conn: &Connection, f: &Filter) -> Result<Section> {
    let mut s = Section::new("numbers", title("numbers"));
    let t = query_table(
        conn,
        "numbers",
        "Most dialled numbers, unified over dialling prefixes",
        &["number", "country", "type", "attempts", "variants", "sources"],
        "SELECT number, coalesce(country, '?'), number_type, sum(attempts) AS a, max(variants), max(sources)
         FROM numbers {where} GROUP BY number ORDER BY a DESC, number LIMIT 25",
        &f.clause("last_ns", None, &[]),
    )?;
    s.tables.push(t);
    let countries = query_table(
        conn,
        "number_countries",
        "Attempts per destination country",
        &["country", "numbers", "attempts"],
        "SELECT coalesce(country, '?'), count(DISTINCT number), sum(attempts) AS a FROM numbers {where}
         GROUP BY country ORDER BY a DESC",
        &f.clause("last_ns", None, &[]),
    )?;
    s.tables.push(countries);
    Ok(s)
}

pub fn passwords(conn: &Connection, f: &Filter) -> Result<Section> {
    let mut s = Section::new("passwords", title("passwords"));
    let c = f.clause("ts_ns", Some("node"), &["password IS NOT NULL"]);
    let t = query_table(
        conn,
        "passwords",
        "Passwords tried, by frequency",
        &["password", "attempts", "extensions", "sources", "accepted"],
        "SELECT password, count(*) AS n, count(DISTINCT username), count(DISTINCT src_ip), sum(outcome = 'accepted')
         FROM auth_attempts {where} GROUP BY password ORDER BY n DESC, password LIMIT 25",
        &c,
    )?;
    s.tables.push(t);
    let by_ext = query_table(
        conn,
        "passwords_by_extension",
        "Attempts per extension",
        &["extension", "attempts", "passwords recovered", "sources", "accepted"],
        "SELECT username, count(*) AS n, count(password), count(DISTINCT src_ip), sum(outcome = 'accepted')
         FROM auth_attempts {where} GROUP BY username ORDER BY n DESC, username LIMIT 25",
        &f.clause("ts_ns", Some("node"), &[]),
    )?;
    s.tables.push(by_ext);
    Ok(s)
}
