//! Documentation generated from the types: `docs/anomalies.md` must list every anomaly.
//! Re-bless with `BLESS=1 cargo test -p sipscope-sip --test it docs`.

use sipscope_sip::{AnomalyClass, AnomalyKind};
use std::path::Path;

fn render() -> String {
    let mut out = String::from(
        "# Anomalies\n\n\
Every defect the SIP parser reports, by its stable name. Names never change meaning; new ones are\n\
only added. *Class*: `syntax` (RFC 3261's ABNF is broken), `protocol` (a rule of RFC 3261 is\n\
broken), `notice` (allowed but telling). `sipscope parse --strict` fails on `syntax` and\n\
`protocol`.\n\n\
This file is generated from `crates/sip/src/anomaly.rs`; re-bless with\n\
`BLESS=1 cargo test -p sipscope-sip --test it docs`.\n\n\
| name | class | meaning |\n|---|---|---|\n",
    );
    for kind in AnomalyKind::ALL {
        let class = match kind.class() {
            AnomalyClass::Syntax => "syntax",
            AnomalyClass::Protocol => "protocol",
            AnomalyClass::Notice => "notice",
        };
        let description = kind.description().split_whitespace().collect::<Vec<_>>().join(" ");
        out.push_str(&format!("| `{}` | {} | {} |\n", kind.name(), class, description.replace('|', "\\|")));
    }
    out
}

/// Where the generated table ends: sections after it (names the honeypot adds) are written by
/// hand and kept as they are.
const HAND_WRITTEN: &str = "\n## ";

#[test]
fn anomalies_doc_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/anomalies.md");
    let expected = render();
    let read = || std::fs::read_to_string(&path).unwrap_or_default();
    let tail = |text: &str| text.find(HAND_WRITTEN).map(|i| text[i..].to_owned()).unwrap_or_default();
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, expected.clone() + &tail(&read())).unwrap();
    }
    let actual = read();
    let generated = &actual[..actual.len() - tail(&actual).len()];
    assert!(generated == expected, "docs/anomalies.md is stale: run BLESS=1 cargo test -p sipscope-sip --test it docs");
}
