//! `sipscope report --config FILE`: the `[geo]` and `[report]` tables, relative paths taken from
//! the file's directory, flags over the file, and one-line errors naming the file.

use crate::report_scan::{build_store, json, report};
use sipscope::enrich::mmdb_writer::{MmdbWriter, Value};
use std::path::Path;

fn country_db(path: &Path, a_country: &str) {
    let mut db = MmdbWriter::new("GeoLite2-Country", 6);
    for (net, cc) in [("203.0.113.0/24", a_country), ("192.0.2.0/24", "DE")] {
        db.insert(net, Value::map([("country", Value::map([("iso_code", cc.into())]))]));
    }
    db.write(path).unwrap();
}

fn asn_db(path: &Path) {
    let mut db = MmdbWriter::new("GeoLite2-ASN", 6);
    let record = Value::map([
        ("autonomous_system_number", Value::U32(64500)),
        ("autonomous_system_organization", "Example Hosting".into()),
    ]);
    db.insert("203.0.113.0/24", record);
    db.write(path).unwrap();
}

/// The value of a summary row.
fn measure(doc: &serde_json::Value, name: &str) -> serde_json::Value {
    let rows = doc["sections"]["summary"]["tables"][0]["rows"].as_array().unwrap();
    rows.iter().find(|r| r[0] == name).unwrap_or_else(|| panic!("no {name} in {rows:?}"))[1].clone()
}

#[test]
fn report_config_names_the_databases_the_store_and_the_nodes_file() {
    let dir = tempfile::tempdir().unwrap();
    let conf_dir = dir.path().join("etc");
    std::fs::create_dir_all(conf_dir.join("geo")).unwrap();
    build_store(&dir.path().join("lab.db"));
    country_db(&conf_dir.join("geo/country.mmdb"), "BR");
    asn_db(&conf_dir.join("geo/asn.mmdb"));
    std::fs::write(conf_dir.join("nodes.toml"), "[[node]]\nname = \"n1\"\nsite = \"Duisburg\"\n").unwrap();
    let cfg = conf_dir.join("report.toml");
    std::fs::write(
        &cfg,
        "[geo]\ncountry_db = \"geo/country.mmdb\"\nasn_db = \"geo/asn.mmdb\"\n\
         [report]\ndb = \"../lab.db\"\nnodes = \"nodes.toml\"\nstored_nodes = true\n",
    )
    .unwrap();
    let cfg_arg = cfg.to_str().unwrap();
    // Run from elsewhere: every relative path is taken from the file's directory.
    let elsewhere = tempfile::tempdir().unwrap();
    let doc = json(elsewhere.path(), &["--config", cfg_arg, "summary", "sources", "stages"]);
    assert_eq!(measure(&doc, "source countries"), 2);
    assert_eq!(measure(&doc, "source ASNs"), 1);
    let sources = doc["sections"]["sources"]["tables"][0]["rows"].to_string();
    assert!(sources.contains("\"BR\"") && sources.contains("\"DE\"") && sources.contains("AS64500"), "{sources}");
    // The file names no addresses: with `stored_nodes`, the stored node n1 keeps its rows and
    // the file gives it its site (without, the file would win and n1 would have no events).
    assert!(doc["sections"]["stages"].to_string().contains("Duisburg"), "nodes file from [report] nodes");
    assert!(!doc["sections"]["stages"].to_string().contains("applied at report time"), "[report] stored_nodes");
    // The text report says the same.
    let text = report(elsewhere.path(), &["--config", cfg_arg, "summary"]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.lines().any(|l| l.starts_with("source countries") && l.ends_with(" 2")), "{text}");
    // A flag wins over the file.
    let other = dir.path().join("other.mmdb");
    country_db(&other, "JP");
    let doc = json(elsewhere.path(), &["--config", cfg_arg, "--country-db", other.to_str().unwrap(), "sources"]);
    let sources = doc["sections"]["sources"]["tables"][0]["rows"].to_string();
    assert!(sources.contains("\"JP\"") && !sources.contains("\"BR\""), "{sources}");
}

#[test]
fn report_config_errors_are_one_line_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    build_store(&dir.path().join("sipscope.db"));
    let cfg = dir.path().join("report.toml");
    let cfg_arg = cfg.to_str().unwrap();
    for (text, expected) in [
        ("[geo]\ncontry_db = \"x.mmdb\"\n", "line 2: unknown field `contry_db`"),
        ("[report]\nformat = \"json\"\n", "line 2: unknown field `format`"),
        ("[geo]\nasn_db = \"missing.mmdb\"\n", "[geo] asn_db = "),
        ("[report]\nnodes = \"no-nodes.toml\"\n", "[report] nodes = "),
        ("[geo]\ncountry_db = \"report.toml\"\n", "not a usable MaxMind DB"),
    ] {
        std::fs::write(&cfg, text).unwrap();
        let out = report(dir.path(), &["--config", cfg_arg, "summary"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{text}");
        assert_eq!(err.lines().count(), 1, "{err}");
        let parts: Vec<&str> = err.trim_end().split(": ").collect();
        assert!(parts.windows(2).all(|w| w[0] != w[1]), "the cause once: {err}");
        assert!(err.contains(cfg_arg) && err.contains(expected), "{text}: {err}");
    }
}
