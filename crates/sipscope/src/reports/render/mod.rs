//! Report formats: aligned text, JSON (one key per section), CSV (one file per table), and a
//! self-contained HTML page whose charts the embedded chart library draws (`html.rs`).

mod html;

pub use html::html;

use super::model::{Cell, Report, Table};
use crate::output::escape::{csv_cell, terminal};

/// Aligned tables for a terminal; attacker text is escaped.
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    for s in &report.sections {
        out.push_str(&format!("== {} ==\n", s.title));
        for t in &s.tables {
            if !t.title.is_empty() {
                out.push_str(&format!("{}\n", t.title));
            }
            out.push_str(&table_text(t));
            out.push('\n');
        }
        for n in &s.notes {
            out.push_str(&format!("note: {n}\n"));
        }
        for (name, text) in &s.attachments {
            out.push_str(&format!("--- {name} ---\n{}", escape_lines(text)));
        }
        out.push('\n');
    }
    out
}

/// Attachments are documents sipscope wrote (from sanitised names): only control characters
/// are dropped, quotes stay so the document can be copied as it is.
fn escape_lines(text: &str) -> String {
    text.chars().filter(|c| *c == '\n' || !c.is_control()).collect()
}

fn table_text(t: &Table) -> String {
    let cells: Vec<Vec<String>> =
        t.rows.iter().map(|r| r.iter().map(|c| terminal(&c.display(), 60)).collect()).collect();
    let widths: Vec<usize> = (0..t.columns.len())
        .map(|i| {
            let data = cells.iter().filter_map(|r| r.get(i)).map(|c| c.chars().count()).max().unwrap_or(0);
            data.max(t.columns[i].chars().count())
        })
        .collect();
    let mut out = String::new();
    let line = |out: &mut String, values: &[String], numeric: &[bool]| {
        let parts: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let w = widths.get(i).copied().unwrap_or(0);
                if numeric.get(i).copied().unwrap_or(false) {
                    format!("{v:>w$}")
                } else {
                    format!("{v:<w$}")
                }
            })
            .collect();
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    line(&mut out, &t.columns, &[]);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    line(&mut out, &rule, &[]);
    for (r, row) in cells.iter().zip(&t.rows) {
        let numeric: Vec<bool> = row.iter().map(Cell::is_number).collect();
        line(&mut out, r, &numeric);
    }
    out
}

/// The report as JSON: `{"scope": …, "sections": {"summary": {…}, …}}`.
pub fn json(report: &Report) -> String {
    let mut sections = serde_json::Map::new();
    for s in &report.sections {
        sections.insert(s.name.clone(), serde_json::to_value(s).unwrap_or(serde_json::Value::Null));
    }
    let doc = serde_json::json!({ "scope": report.scope, "sections": sections });
    crate::output::json::inert(serde_json::to_string_pretty(&doc).unwrap_or_default())
}

/// The JSON of [`json`] for a report that is `whole` (that function's output) with its scope
/// and the `sections` given replaced: what `json` prints for the report they make, without
/// building the others again (`whole` must be a report over whole hours: the notes a range
/// adds to its sections are added here). `None` when `whole` is not such a document. `rendered` are
/// sections as the API serves them alone (one section's JSON), put in as they are.
pub fn json_with(
    whole: &str,
    scope: &crate::reports::model::Scope,
    sections: &[crate::reports::model::Section],
    rendered: &[(&str, &str)],
) -> Option<String> {
    let mut doc: serde_json::Value = serde_json::from_str(whole).ok()?;
    doc["scope"] = serde_json::to_value(scope).ok()?;
    let all = doc.get_mut("sections")?.as_object_mut()?;
    // The notes the scope's range adds to sections built over the same rows (hours).
    let range = crate::store::Filter { from_ns: scope.from_ns, to_ns: scope.to_ns, nodes: scope.nodes.clone() };
    for (name, section) in all.iter_mut() {
        let Some(notes) = section.get_mut("notes").and_then(serde_json::Value::as_array_mut) else { continue };
        let texts: Vec<&str> = notes.iter().filter_map(serde_json::Value::as_str).collect();
        if let Some((at, note)) = super::sections::range_note(name, &range, texts) {
            notes.insert(at.min(notes.len()), note.into());
        }
    }
    for s in sections {
        all.insert(s.name.clone(), serde_json::to_value(s).ok()?);
    }
    for (name, json) in rendered {
        all.insert((*name).to_owned(), serde_json::from_str(json).ok()?);
    }
    Some(crate::output::json::inert(serde_json::to_string_pretty(&doc).ok()?))
}

/// One CSV per table: (file name, contents). Fields are quoted when needed; a leading `=`,
/// `+`, `-`, `@` gets a `'` so spreadsheets do not run attacker text as a formula.
pub fn csv(report: &Report) -> Vec<(String, String)> {
    let mut files = Vec::new();
    for s in &report.sections {
        for t in &s.tables {
            let name =
                if t.name == s.name.replace('-', "_") { s.name.clone() } else { format!("{}-{}", s.name, t.name) };
            let mut out = String::new();
            out.push_str(&t.columns.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(","));
            out.push('\n');
            for row in &t.rows {
                let fields: Vec<String> = row
                    .iter()
                    .map(|c| match c {
                        Cell::Null => String::new(),
                        Cell::Float(f) => f.to_string(),
                        other => csv_cell(&other.display()),
                    })
                    .collect();
                out.push_str(&fields.join(","));
                out.push('\n');
            }
            files.push((format!("{}.csv", name.replace(['/', '\\'], "_")), out));
        }
        files.extend(s.attachments.iter().cloned());
    }
    files
}

#[cfg(test)]
mod schema_tests;
