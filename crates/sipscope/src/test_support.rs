//! Helpers shared by the unit tests (compiled for tests only): the real tools' messages kept
//! in `crates/sip/tests/fixtures/tools/` (see its README for how they were recorded).

/// The folder of the real tools' messages.
pub const TOOL_FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../sip/tests/fixtures/tools/");

/// One recorded message, e.g. `tool_message("svcrack/0002.sip")`.
pub fn tool_message(path: &str) -> Vec<u8> {
    let full = format!("{TOOL_FIXTURES}{path}");
    std::fs::read(&full).unwrap_or_else(|e| panic!("reading {full}: {e}"))
}
