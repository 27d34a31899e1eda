//! The choice of the Hilbert picture (`report --scan-source IP --scan-prefix A.B.C.D/22`) on a
//! small store built here: source A scans 12 addresses of 198.51.100.0/22 and 3 of
//! 203.0.112.0/22 in one flow; source B hits 2 addresses on day 1 and 4 on day 5 (two flows,
//! the second one wider). The store also serves the config and schema tests.

use sipscope::analysis::engine::{AnalysisConfig, Analyzer};
use sipscope::event::fields::SipFields;
use sipscope::event::{Direction, SipEvent, Transport};
use sipscope::sinks::sqlite::Store;
use std::path::Path;
use std::process::{Command, Output};

const DAY: i64 = 86_400_000_000_000;
const T0: i64 = 1_767_225_600_000_000_000; // 2026-01-01T00:00:00Z
const A: &str = "203.0.113.5";
const B: &str = "192.0.2.20";

pub(crate) fn build_store(path: &Path) {
    let raw =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../sip/tests/fixtures/tools/svmap/0001.sip")).unwrap();
    let mut hits: Vec<(i64, &str, String)> = Vec::new();
    for i in 1..=12 {
        hits.push((T0 + i * 1_000_000, A, format!("198.51.100.{i}")));
    }
    for i in 1..=3 {
        hits.push((T0 + (20 + i) * 1_000_000, A, format!("203.0.113.{i}")));
    }
    for i in 1..=2 {
        hits.push((T0 + i * 1_000_000, B, format!("198.51.101.{i}")));
    }
    for i in 1..=4 {
        hits.push((T0 + 4 * DAY + i * 1_000_000, B, format!("198.51.102.{i}")));
    }
    hits.sort();
    let mut store = Store::open(path).unwrap();
    let mut analyzer = Analyzer::new(AnalysisConfig::default());
    for (ts, src, dst) in hits {
        let e = SipEvent {
            ts_ns: ts,
            sensor: "options".into(),
            node: Some("n1".into()),
            transport: Transport::Udp,
            src: (src.parse().unwrap(), 5061),
            dst: (dst.parse().unwrap(), 5060),
            tunnel: None,
            direction: Direction::In,
            origin: None,
            raw: raw.clone(),
        };
        let msg = sipscope_sip::parse(&e.raw).ok();
        analyzer.observe(&e, msg.as_ref());
        store.insert_event(&e, &msg.as_ref().map(SipFields::extract).unwrap_or_default()).unwrap();
    }
    store.store_analysis("analyze", T0, T0, &analyzer.finish(), true).unwrap();
    store.flush_now().unwrap();
}

/// `sipscope report ARGS` in `cwd`.
pub(crate) fn report(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sipscope")).current_dir(cwd).arg("report").args(args).output().unwrap()
}

pub(crate) fn json(cwd: &Path, args: &[&str]) -> serde_json::Value {
    let out = report(cwd, &[&["--format", "json"], args].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The strategies section's Hilbert chart (title, cells) or its notes.
fn hilbert(dir: &Path, args: &[&str]) -> (Option<(String, usize)>, Vec<String>) {
    let doc = json(dir, &[args, &["strategies"]].concat());
    let s = &doc["sections"]["strategies"];
    let chart = s["charts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "hilbert")
        .map(|c| (c["title"].as_str().unwrap().to_owned(), c["cells"].as_array().unwrap().len()));
    let notes = s["notes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_owned()).collect();
    (chart, notes)
}

#[test]
fn report_scan_source_and_prefix_choose_the_hilbert_picture() {
    let dir = tempfile::tempdir().unwrap();
    build_store(&dir.path().join("sipscope.db"));
    let d = dir.path();
    let title = |src: &str, net: &str, n: usize| format!("Destination order of {src} in {net} ({n} addresses hit)");
    // Default: the widest flow (A) in the /22 it hit most.
    assert_eq!(hilbert(d, &[]).0, Some((title(A, "198.51.100.0/22", 12), 12)));
    // Another /22 of the same flow; any address inside is masked.
    assert_eq!(hilbert(d, &["--scan-prefix", "203.0.113.77/22"]).0, Some((title(A, "203.0.112.0/22", 3), 3)));
    // B's widest flow is its second (4 addresses), not both flows together (6).
    assert_eq!(hilbert(d, &["--scan-source", B]).0, Some((title(B, "198.51.100.0/22", 4), 4)));
    // B never hit 203.0.112.0/22; 192.0.2.250 sent nothing: notes instead of a chart.
    let (chart, notes) = hilbert(d, &["--scan-source", B, "--scan-prefix", "203.0.113.0/22"]);
    assert!(chart.is_none());
    assert!(notes.iter().any(|n| n.contains(B) && n.contains("hit no address of 203.0.112.0/22")), "{notes:?}");
    let (chart, notes) = hilbert(d, &["--scan-source", "192.0.2.250"]);
    assert!(chart.is_none());
    assert!(notes.iter().any(|n| n.starts_with("No flow from 192.0.2.250")), "{notes:?}");
    // A time range without B's second flow: its first one (2 addresses).
    let (chart, _) = hilbert(d, &["--scan-source", B, "--to", "2026-01-02"]);
    assert_eq!(chart, Some((title(B, "198.51.100.0/22", 2), 2)));
    // Prefixes that cannot be drawn are refused with the reason.
    for (bad, why) in [("2001:db8::/22", "IPv6"), ("198.51.100.0/24", "only /22"), ("198.51.100.0", "A.B.C.D/22")] {
        let out = report(d, &["--scan-prefix", bad, "strategies"]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains(why), "{bad}");
    }
}
