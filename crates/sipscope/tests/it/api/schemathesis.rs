//! schemathesis (from PyPI; `scripts/test.sh` installs it) calls every operation of the
//! served OpenAPI document with generated requests, valid and not, against `sipscope serve`
//! over a store filled by a real capture ingest: every answer must match the document (status,
//! content type, schema), nothing may fail with 5xx, what the schema forbids must be refused
//! and what it allows accepted. The live stream never ends, so it is left out here (tests in
//! `live.rs`). A fixed seed keeps the run the same from one time to the next.

use super::*;

#[test]
fn api_schemathesis_against_the_openapi_document() {
    let dir = tempfile::tempdir().unwrap();
    let db = golden_store(dir.path());
    // Rate limits out of the way: schemathesis sends hundreds of requests a second.
    let unlimited =
        ["--rate", "100000", "--burst", "100000", "--anonymous-rate", "100000", "--anonymous-burst", "100000"];
    let server = serve(dir, &db, 9, &unlimited);
    let url = format!("http://{}/api/v1/openapi.json", server.addr);
    let out = Command::new("schemathesis")
        .args(["--no-color", "run", &url, "--header"])
        .arg(format!("Authorization: Bearer {}", server.token))
        .args(["--exclude-path", "/api/v1/live", "--checks", "all", "--max-examples", "25", "--seed", "7"])
        // One worker: Python 3.11's `ast.parse`, which hypothesis calls, is not safe across threads.
        .args(["--workers", "1", "--request-timeout", "60", "--warnings", "off"])
        .env("SCHEMATHESIS_TELEMETRY", "false")
        // It keeps a cache of what it found in its working directory: the test's own.
        .current_dir(server.dir.path())
        .output()
        .unwrap_or_else(|e| panic!("schemathesis ({e}): scripts/test.sh installs it (pip install schemathesis)"));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "schemathesis found problems:\n{report}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(report.contains("Tested: 21"), "every operation but the live stream: {report}");
}
