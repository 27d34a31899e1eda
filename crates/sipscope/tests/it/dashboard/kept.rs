//! The overview answered from a report an earlier run of the server kept (docs/api.md
//! "Reports kept across restarts"): the dashboard says when it was built, asks again by
//! itself, and draws this run's report (`tests/browser/kept.mjs`). On 127.0.244.40.

use super::text;

#[test]
fn dashboard_marks_an_earlier_runs_report_and_replaces_it_with_the_fresh_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = crate::api::golden_store(dir.path());
    let server = crate::api::serve_on(tempfile::tempdir().unwrap(), &db, "127.0.244.40:0", &[]);
    let url = format!("http://{}/#token={}", server.addr, server.token);
    let out = super::node("kept.mjs", &["--url", &url], 180);
    let all = text(&out);
    assert!(out.status.success() && all.contains("OK: asked"), "{all}");
}
