//! The HTML report of a honeypot's store, after real tools and hostile messages, in Chromium:
//! every chart drawn, tooltips hovered, and nothing an attacker sent runs (no dialog, no
//! console error, no element or handler made from their text; the text is shown as text).

use super::hostile;
use super::{node, screenshots, text};
use crate::honeypot::harness::{tool, Honeypot};
use std::process::Command;

#[test]
fn report_html_shows_hostile_text_inert_with_every_chart_drawn() {
    let mut hp = Honeypot::start(&[("udp", "127.0.244.2", 5060)], "");
    let svmap = tool("sipvicious_svmap", &["-b", "127.0.244.20", "127.0.244.2"], 60);
    assert!(text(&svmap).contains("127.0.244.2:5060"), "{}", text(&svmap));
    tool("sipvicious_svwar", &["-e100-110", "-m", "REGISTER", "127.0.244.2"], 60);
    hostile::send("127.0.244.21", "127.0.244.2");
    hp.stop();
    let db = hp.dir.path().join("hp.db");
    let html = hp.dir.path().join("report.html");
    let out = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["report", "--format", "html", "--db"])
        .arg(&db)
        .arg("--out")
        .arg(&html)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(!page.contains("<img") && !page.contains('\u{1b}') && !page.contains('\u{202e}'));
    let shot = screenshots().join("report.png");
    let run = node(
        "report.mjs",
        &["--file", html.to_str().unwrap(), "--hostile", hostile::SCRIPT, "--shot", shot.to_str().unwrap()],
        180,
    );
    assert!(run.status.success(), "{}", text(&run));
    assert!(text(&run).contains("charts drawn"), "{}", text(&run));
}

/// The golden report dataset (eight days): its requests-per-day chart zooms on scrolling and
/// resets on a double-click.
#[test]
fn report_html_time_series_zoom_and_reset() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("golden.db");
    crate::report_golden::build_store(&db);
    let html = dir.path().join("report.html");
    let out = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["report", "--format", "html", "--db"])
        .arg(&db)
        .arg("--out")
        .arg(&html)
        .arg("daily")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let run = node("report.mjs", &["--file", html.to_str().unwrap(), "--zoom"], 180);
    assert!(run.status.success(), "{}", text(&run));
}
