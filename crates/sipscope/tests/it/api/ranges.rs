//! The dashboard's quick ranges: where they start (whole UTC hours back from the server's
//! instant, here fixed by `serve --now`), that the server builds their reports before anyone
//! asks (counted in `sipscope_api_reports_total`: no timing), and that those reports are
//! `sipscope report --format json --from …`'s for the same start.

use super::*;
use serde_json::Value;
use std::time::Instant;

/// `sipscope_api_reports_total{how="HOW"}`, read from `/metrics`.
fn reports_total(server: &Server, how: &str) -> u64 {
    let text = request(server.addr, "GET", "/metrics", Some(&server.token), None).text();
    let prefix = format!("sipscope_api_reports_total{{how=\"{how}\"}} ");
    let line = text.lines().find_map(|l| l.strip_prefix(prefix.as_str()));
    line.unwrap_or_else(|| panic!("no {prefix} in /metrics")).trim().parse().unwrap()
}

fn sources(report: &Value) -> usize {
    report["sections"]["sources"]["tables"][0]["rows"].as_array().map_or(0, Vec::len)
}

#[test]
fn api_quick_ranges_are_built_before_asked_and_are_the_commands_report() {
    let dir = tempfile::tempdir().unwrap();
    let db = golden_store(dir.path());
    // Half an hour after the golden dataset's third day began: its "24 h" starts at the
    // beginning of the second day and so cuts the stored times (a whole build, not the
    // whole store's report with a range).
    let server = serve(dir, &db, 13, &["--now", "2026-01-03T00:30:00Z"]);
    let ranges = get_json(&server, "/api/v1/ranges");
    assert_eq!(ranges["align_seconds"], 3600);
    assert_eq!(ranges["next_turn"], "2026-01-03T01:00:00.000000000Z");
    let got: Vec<(&str, i64, Option<&str>)> = ranges["ranges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["label"].as_str().unwrap(), r["seconds"].as_i64().unwrap(), r["from"].as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("1 h", 3600, Some("2026-01-02T23:00:00.000000000Z")),
            ("24 h", 86400, Some("2026-01-02T00:00:00.000000000Z")),
            ("7 d", 604800, Some("2025-12-27T00:00:00.000000000Z")),
            ("all", 0, None),
        ]
    );

    // The server builds the overview and the three ranges when it starts: wait for the four
    // (polling the counter; the bound only ends a broken run).
    let waited_since = Instant::now();
    while reports_total(&server, "prebuilt") < 4 {
        assert!(waited_since.elapsed() < Duration::from_secs(120), "the quick ranges were never built");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(reports_total(&server, "prebuilt"), 4, "once each");
    let (kept, built, waited) =
        (reports_total(&server, "kept"), reports_total(&server, "built"), reports_total(&server, "waited"));

    let all = get_json(&server, "/api/v1/report");
    for (label, _, from) in &got {
        let Some(from) = from else { continue };
        let api = get_json(&server, &format!("/api/v1/report?from={from}"));
        let cli = Command::new(env!("CARGO_BIN_EXE_sipscope"))
            .args(["report", "--format", "json", "--db", db.to_str().unwrap(), "--from", from])
            .output()
            .unwrap();
        assert!(cli.status.success(), "{}", String::from_utf8_lossy(&cli.stderr));
        let cli: Value = serde_json::from_slice(&cli.stdout).unwrap();
        assert_eq!(api, cli, "{label}");
        // On whole hours: no note that counts cover the hours the range touches.
        assert!(!api.to_string().contains("every whole UTC hour the time range touches"), "{label}");
        if *label == "24 h" {
            assert!(sources(&api) > 0 && sources(&api) < sources(&all), "{label} cuts the stored times");
        }
    }
    // All four answers (the overview and the three ranges) were kept ones: nothing built for
    // a request, nothing waited for.
    assert_eq!(reports_total(&server, "kept") - kept, 4);
    assert_eq!(reports_total(&server, "built"), built);
    assert_eq!(reports_total(&server, "waited"), waited);
    assert_eq!(reports_total(&server, "prebuilt"), 4);

    // A range the dashboard does not offer is built for its request, and counted so.
    get_json(&server, "/api/v1/report?from=2026-01-02T00:00:01Z");
    assert_eq!(reports_total(&server, "built"), built + 1);
}
