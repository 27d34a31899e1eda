//! The dashboard end to end (issue 17): `sipscope honeypot --dashboard` over a store that
//! already holds the golden dataset's attackers (routable documentation addresses), real tools
//! (SIPVicious svmap and svwar, sipsak) and hostile messages against it on loopback while
//! Chromium watches: the Live page fills without a reload, the attacker's page opens from it
//! with its story and raw messages, the ban button is refused for a loopback attacker (the
//! server never bans loopback) and takes for a stored one, whose decision shows on its page and
//! on the Decisions page, where the unban button lifts it; the hostile sender's page shows its
//! raw messages as text; nothing an attacker sent runs. Screenshots go to docs/screenshots/.

use super::hostile;
use super::{screenshots, text};
use crate::honeypot::harness::tool;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const SIP: &str = "127.0.244.3";
const TOOLS: &str = "127.0.244.30";
const HOSTILE: &str = "127.0.244.31";

#[test]
fn dashboard_updates_live_opens_the_attacker_bans_and_runs_no_attacker_text() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hp.db");
    crate::report_golden::build_store(&db);
    let mut hp = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["honeypot", "--sip", &format!("{SIP}:5060"), "--dashboard", &format!("{SIP}:8080"), "--db"])
        .arg(&db)
        .env("SIPSCOPE_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The dashboard's address with this run's token, printed at start.
    let (url_tx, url_rx) = mpsc::channel();
    let stderr = hp.stderr.take().unwrap();
    let log = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(at) = line.find("http://") {
                let _ = url_tx.send(line[at..].split_whitespace().next().unwrap_or_default().to_owned());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let url = url_rx.recv_timeout(Duration::from_secs(30)).expect("the dashboard's URL on stderr");
    assert!(url.contains("#token="), "{url}");

    let shots = screenshots();
    let mut browser = Command::new("timeout")
        .args(["300", "node"])
        .arg(super::browser_dir().join("dashboard.mjs"))
        .args(["--url", &url, "--attacker", TOOLS, "--ban", "203.0.113.7"])
        .args(["--hostile", hostile::SCRIPT, "--hostile-source", HOSTILE])
        .arg("--shots")
        .arg(&shots)
        .current_dir(super::browser_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(browser.stdout.take().unwrap());
    let mut seen = String::new();
    let mut line = String::new();
    while out.read_line(&mut line).unwrap_or(0) > 0 && !line.starts_with("READY") {
        seen.push_str(&line);
        line.clear();
    }
    if !line.starts_with("READY") {
        // Nothing may outlive the test holding its ports: the honeypot and the browser go first.
        let _ = hp.kill();
        let _ = hp.wait();
        let _ = browser.kill();
        let mut err = String::new();
        if let Some(mut e) = browser.stderr.take() {
            use std::io::Read;
            let _ = e.read_to_string(&mut err);
        }
        panic!("the browser did not open the live page: {seen}\n{err}");
    }
    // The attack, while the page is open.
    hostile::send(HOSTILE, SIP);
    let svmap = tool("sipvicious_svmap", &["-b", TOOLS, SIP], 60);
    assert!(text(&svmap).contains(&format!("{SIP}:5060")), "{}", text(&svmap));
    tool("sipvicious_svwar", &["-b", TOOLS, "-e100-105", "-m", "REGISTER", SIP], 60);
    // A registration with a wrong password (sipsak cannot choose its source: 127.0.0.1).
    tool("sipsak", &["-U", "-a", "1234", "-u", "100", "-s", &format!("sip:100@{SIP}")], 30);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    let status = browser.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut browser.stderr.take().unwrap(), &mut err).unwrap();
    let _ = Command::new("kill").args(["-TERM", &hp.id().to_string()]).status();
    let _ = hp.wait();
    let hp_log = log.join().unwrap_or_default();
    let report = format!("{seen}{rest}\n--- stderr ---\n{err}\n--- honeypot ---\n{hp_log}");
    assert!(status.success() && rest.contains("dashboard: ok"), "{report}");
    for name in ["live", "source", "decisions", "overview"] {
        let png = std::fs::read(shots.join(format!("{name}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{name}.png is a real screenshot");
    }
    // The ban is in the store, taken by this run's token, and lifted by the unban button.
    let list = |all: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sipscope"));
        c.args(["decisions", "list", "--json", "--db"]).arg(&db);
        if all {
            c.arg("--all");
        }
        text(&c.output().unwrap())
    };
    let every = list(true);
    assert!(every.contains("banned from the dashboard") && every.contains("\"who\":\"dashboard\""), "{every}");
    assert!(!list(false).contains("banned from the dashboard"), "unbanned: {}", list(false));
}
