//! `docs/report.schema.json` against the JSON renderer: the schema is valid JSON Schema, names
//! exactly the sections of `sections::ALL`, and accepts a report with every chart kind, every
//! cell type and an attachment. The golden files and live output are checked in
//! tests/it/report_schema.rs.

use crate::reports::model::{Cell, Chart, Report, Scope, Section, Table};
use crate::reports::sections::ALL;
use serde_json::Value;

const SCHEMA: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/report.schema.json"));

fn schema() -> Value {
    serde_json::from_str(SCHEMA).expect("docs/report.schema.json is JSON")
}

#[test]
fn schema_is_draft_2020_12_json_schema() {
    let schema = schema();
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    jsonschema::meta::validate(&schema).expect("valid against the 2020-12 meta-schema");
}

#[test]
fn schema_names_exactly_the_sections_of_all() {
    let schema = schema();
    let all: Vec<&str> = ALL.iter().map(|(n, _)| *n).collect();
    let listed: Vec<&str> =
        schema["$defs"]["sectionName"]["enum"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(listed, all, "$defs/sectionName/enum must list sections::ALL in order");
    let mut keyed: Vec<&str> =
        schema["properties"]["sections"]["properties"].as_object().unwrap().keys().map(String::as_str).collect();
    let mut sorted = all.clone();
    keyed.sort_unstable();
    sorted.sort_unstable();
    assert_eq!(keyed, sorted, "one entry per section under properties/sections/properties");
    for name in &all {
        let entry = &schema["properties"]["sections"]["properties"][name];
        assert_eq!(entry["properties"]["name"]["const"], *name);
        assert_eq!(entry["$ref"], "#/$defs/section");
    }
}

/// One chart of each kind. The match is exhaustive so that a new `Chart` variant fails to
/// compile here until it is added to this list and to the schema.
fn every_chart() -> Vec<Chart> {
    let charts = vec![
        Chart::Bars { title: "b".into(), labels: vec!["2026".into()], series: vec![("tool".into(), vec![3.0])] },
        Chart::Bubbles { title: "c".into(), axes: ("x".into(), "y".into()), points: vec![("p".into(), 1.0, 2.0, 0.5)] },
        Chart::Hilbert { title: "h".into(), side: 32, cells: vec![(0, 0, 0.0), (31, 31, 1.0)] },
        Chart::Matrix { title: "m".into(), labels: vec!["n1".into()], values: vec![vec![4.0]] },
    ];
    for c in &charts {
        match c {
            Chart::Bars { .. } | Chart::Bubbles { .. } | Chart::Hilbert { .. } | Chart::Matrix { .. } => {}
        }
    }
    charts
}

#[test]
fn every_chart_kind_cell_type_and_attachment_validates() {
    let validator = jsonschema::draft202012::new(&schema()).unwrap();
    let mut s = Section::new("strategies", "Scan strategies");
    let mut t = Table::new("strategies", "t", &["text", "int", "float", "null"]);
    t.push(vec![Cell::from("a\u{1b}[31m"), Cell::Int(-7), Cell::Float(0.25), Cell::Null]);
    s.tables.push(t);
    s.charts = every_chart();
    s.notes.push("n".into());
    s.attachments.push(("country-pairs.dot".into(), "digraph {}\n".into()));
    let report = Report {
        scope: Scope { from_ns: Some(1), to_ns: None, nodes: vec!["n1".into()] },
        sections: vec![s, Section::new("summary", "Summary")],
    };
    let doc: Value = serde_json::from_str(&super::json(&report)).unwrap();
    let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // The same document with one chart of an unknown kind is refused.
    let mut broken = doc.clone();
    broken["sections"]["strategies"]["charts"][0]["kind"] = "pie".into();
    assert!(!validator.is_valid(&broken));
}
