//! The analysis tables as Parquet: every table of every report section, one file each
//! (`<section>.<table>.parquet`), with column names made into identifiers SQL engines accept
//! and each column typed by what it holds (integers, decimals, else text). The report builds
//! the tables, so the archive says exactly what `sipscope report` says for the same filter.

use super::columns::{ColumnSpec, Kind, ParquetFile, Value};
use super::ArchiveError;
use crate::reports::model::{Cell, Report, Table};

/// The schema name in each table file's metadata (with the section and table names).
pub const TABLES_SCHEMA: &str = "sipscope.report-table.v1";

/// A column title as a lower-case identifier (`Dialled numbers (distinct)` →
/// `dialled_numbers_distinct`); repeated names get `_2`, `_3`.
pub fn identifiers(titles: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(titles.len());
    for title in titles {
        let mut id = String::new();
        for c in title.chars() {
            if c.is_ascii_alphanumeric() {
                id.push(c.to_ascii_lowercase());
            } else if !id.ends_with('_') {
                id.push('_');
            }
        }
        let mut id = id.trim_matches('_').to_owned();
        if id.is_empty() || id.starts_with(|c: char| c.is_ascii_digit()) {
            id.insert_str(0, "c_");
        }
        let base = id.clone();
        let mut n = 2;
        while out.contains(&id) {
            id = format!("{base}_{n}");
            n += 1;
        }
        out.push(id);
    }
    out
}

fn column_kind(table: &Table, column: usize) -> Kind {
    let mut kind: Option<Kind> = None;
    for row in &table.rows {
        let k = match row.get(column) {
            Some(Cell::Int(_)) => Kind::Int64,
            Some(Cell::Float(_)) => Kind::Double,
            Some(Cell::Text(_)) => return Kind::Text,
            Some(Cell::Null) | None => continue,
        };
        kind = Some(match (kind, k) {
            (None, k) => k,
            (Some(Kind::Int64), Kind::Int64) => Kind::Int64,
            _ => Kind::Double,
        });
    }
    kind.unwrap_or(Kind::Text)
}

fn write_table(section: &str, table: &Table, path: &std::path::Path) -> Result<u64, ArchiveError> {
    let names = identifiers(&table.columns);
    let kinds: Vec<Kind> = (0..names.len()).map(|i| column_kind(table, i)).collect();
    let specs = names.iter().zip(&kinds).map(|(n, k)| ColumnSpec::optional(n, *k)).collect();
    let metadata = vec![
        ("sipscope.schema".to_owned(), TABLES_SCHEMA.to_owned()),
        ("sipscope.section".to_owned(), section.to_owned()),
        ("sipscope.table".to_owned(), table.name.clone()),
        ("sipscope.title".to_owned(), table.title.clone()),
    ];
    let mut out = ParquetFile::create(path, specs, metadata)?;
    for row in &table.rows {
        for (i, kind) in kinds.iter().enumerate() {
            let shown;
            let value = match (row.get(i), kind) {
                (None | Some(Cell::Null), _) => Value::Null,
                (Some(Cell::Int(n)), Kind::Int64 | Kind::Double) => Value::Int(*n),
                (Some(Cell::Float(f)), Kind::Double) => Value::Double(*f),
                (Some(Cell::Text(s)), _) => Value::Bytes(s.as_bytes()),
                (Some(other), _) => {
                    shown = other.display();
                    Value::Bytes(shown.as_bytes())
                }
            };
            out.push(value)?;
        }
        out.end_row()?;
    }
    out.finish()
}

/// Writes every table of `report` into `dir`; returns (file name, rows) of each.
pub fn write(report: &Report, dir: &std::path::Path) -> Result<Vec<(String, u64)>, ArchiveError> {
    let mut written = Vec::new();
    for section in &report.sections {
        for table in &section.tables {
            // Section and table names are ours (code constants), never data.
            let name = format!("{}.{}.parquet", section.name, table.name);
            let rows = write_table(&section.name, table, &dir.join(&name))?;
            written.push((name, rows));
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_become_distinct_identifiers() {
        let titles: Vec<String> = ["Dialled numbers (distinct)", "Source", "source", "%", "2xx", "Ünïcode"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(identifiers(&titles), ["dialled_numbers_distinct", "source", "source_2", "c_", "c_2xx", "n_code"]);
    }
}
