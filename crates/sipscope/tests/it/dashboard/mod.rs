//! The dashboard and the HTML report in headless Chromium (Debian's `chromium`, driven by
//! playwright-core from npm: the scripts and their lock file are in `tests/browser/`, whose
//! `node_modules` scripts/test.sh installs with `npm ci`). Everything on 127.0.244.0/24.

mod hostile;
mod kept;
mod live;
mod report_html;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The npm project of the browser checks, installed once per test run (`npm ci` when its
/// `node_modules` is missing, as scripts/test.sh does).
pub fn browser_dir() -> PathBuf {
    static READY: OnceLock<PathBuf> = OnceLock::new();
    READY
        .get_or_init(|| {
            let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser"));
            if !dir.join("node_modules/playwright-core").exists() {
                let out = Command::new("npm")
                    .args(["ci", "--no-audit", "--no-fund"])
                    .current_dir(&dir)
                    .output()
                    .expect("npm (scripts/test.sh installs node and npm)");
                assert!(out.status.success(), "npm ci: {}", String::from_utf8_lossy(&out.stderr));
            }
            dir
        })
        .clone()
}

/// Runs `node SCRIPT ARGS…` in the browser folder with a time limit; its output.
pub fn node(script: &str, args: &[&str], limit_s: u32) -> Output {
    let dir = browser_dir();
    Command::new("timeout")
        .arg(limit_s.to_string())
        .arg("node")
        .arg(dir.join(script))
        .args(args)
        .current_dir(&dir)
        .output()
        .expect("node")
}

/// Where the screenshots go: docs/screenshots/ when re-blessed (`BLESS=1 cargo test -p sipscope
/// --test it dashboard`, like the golden files), else a folder under the build's temporary
/// directory, so that a test run leaves the tree as it found it.
pub fn screenshots() -> PathBuf {
    let dir = if std::env::var_os("BLESS").is_some() {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/screenshots"))
    } else {
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots")
    };
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// stdout and stderr as one text.
pub fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}
