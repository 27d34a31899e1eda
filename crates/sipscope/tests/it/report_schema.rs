//! `docs/report.schema.json` against real output: every golden JSON report and the live output
//! of `report --format json` validate; documents broken in one place each do not (so the test
//! cannot pass by accepting anything).

use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

fn validator() -> jsonschema::Validator {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/report.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::draft202012::new(&schema).unwrap()
}

fn assert_valid(v: &jsonschema::Validator, doc: &Value, what: &str) {
    let errors: Vec<String> = v.iter_errors(doc).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{what} does not match docs/report.schema.json: {errors:#?}");
}

fn golden_json() -> Vec<(String, Value)> {
    let mut found = Vec::new();
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/report")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                let doc = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
                found.push((path.display().to_string(), doc));
            }
        }
    }
    found
}

#[test]
fn report_schema_accepts_the_golden_files_and_live_output() {
    let v = validator();
    let golden = golden_json();
    assert!(!golden.is_empty(), "no golden JSON report found");
    for (name, doc) in &golden {
        assert_valid(&v, doc, name);
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sipscope.db");
    crate::report_scan::build_store(&db);
    for args in [
        &[][..],
        &["--from", "2026-01-01", "--to", "2026-01-03", "--node", "n1", "--node", "n2"],
        &["--scan-source", "192.0.2.250", "strategies", "summary"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_sipscope"))
            .args(["report", "--format", "json", "--db"])
            .arg(&db)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_valid(&v, &doc, &format!("report {args:?}"));
    }
}

/// Applies `change` to a copy of the golden report.
fn broken(doc: &Value, change: impl FnOnce(&mut Value)) -> Value {
    let mut d = doc.clone();
    change(&mut d);
    d
}

#[test]
fn report_schema_refuses_documents_broken_in_one_place() {
    let v = validator();
    let golden = golden_json();
    let (_, doc) = golden.iter().find(|(n, _)| n.ends_with("/report.json")).expect("report.json");
    assert_valid(&v, doc, "report.json");
    let section_kinds = |d: &Value, kind: &str| -> Option<(String, usize)> {
        let sections = d["sections"].as_object()?;
        sections.iter().find_map(|(name, s)| {
            let i = s["charts"].as_array()?.iter().position(|c| c["kind"] == kind)?;
            Some((name.clone(), i))
        })
    };
    let (hs, hi) = section_kinds(doc, "hilbert").expect("the golden report has a Hilbert chart");
    let (bs, bi) = section_kinds(doc, "bubbles").expect("the golden report has a bubble chart");
    let cases: Vec<(&str, Value)> = vec![
        ("no scope", broken(doc, |d| drop(d.as_object_mut().unwrap().remove("scope")))),
        ("extra top-level key", broken(doc, |d| d["extra"] = json!(1))),
        ("scope time as text", broken(doc, |d| d["scope"]["from_ns"] = json!("2026-01-01"))),
        ("unknown section", broken(doc, |d| d["sections"]["nonsense"] = d["sections"]["summary"].clone())),
        ("name is not its key", broken(doc, |d| d["sections"]["summary"]["name"] = json!("daily"))),
        (
            "section without notes",
            broken(doc, |d| drop(d["sections"]["summary"].as_object_mut().unwrap().remove("notes"))),
        ),
        ("extra key in a table", broken(doc, |d| d["sections"]["summary"]["tables"][0]["colour"] = json!("red"))),
        (
            "a cell that is an object",
            broken(doc, |d| d["sections"]["summary"]["tables"][0]["rows"][0][1] = json!({"n": 1})),
        ),
        (
            "a cell that is a boolean",
            broken(doc, |d| d["sections"]["summary"]["tables"][0]["rows"][0][1] = json!(true)),
        ),
        ("columns as text", broken(doc, |d| d["sections"]["summary"]["tables"][0]["columns"] = json!("a,b"))),
        ("unknown chart kind", broken(doc, |d| d["sections"][&hs]["charts"][hi]["kind"] = json!("pie"))),
        ("hilbert order past 1", broken(doc, |d| d["sections"][&hs]["charts"][hi]["cells"][0][2] = json!(1.5))),
        ("hilbert cell of two", broken(doc, |d| d["sections"][&hs]["charts"][hi]["cells"][0] = json!([1, 2]))),
        ("hilbert with bars' field", broken(doc, |d| d["sections"][&hs]["charts"][hi]["labels"] = json!([]))),
        (
            "bubble without size",
            broken(doc, |d| d["sections"][&bs]["charts"][bi]["points"][0] = json!(["p", 1.0, 2.0])),
        ),
        ("attachment of three", broken(doc, |d| d["sections"]["summary"]["attachments"] = json!([["a", "b", "c"]]))),
        ("notes of numbers", broken(doc, |d| d["sections"]["summary"]["notes"] = json!([1]))),
    ];
    for (what, d) in cases {
        assert_ne!(&d, doc, "{what}: the change did nothing");
        assert!(!v.is_valid(&d), "{what}: accepted by the schema");
    }
}
