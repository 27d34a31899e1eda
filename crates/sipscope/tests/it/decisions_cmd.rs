//! `sipscope decisions`: add, list (text and JSON), delete by id and by scope, flush (who and
//! why recorded in the store), refusals, and exports (the nftables ruleset accepted by the real
//! `nft -j -c` inside a network namespace the test creates).

use std::path::Path;
use std::process::{Command, Output};

fn sipscope(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sipscope")).arg("decisions").arg("--db").arg(db).args(args).output().unwrap()
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn operators_add_list_delete_and_flush_with_who_and_why_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let reason = "seen in the PBX log \u{1b}[2J";
    ok(sipscope(&db, &["add", "198.18.0.7", "--duration", "1h", "--reason", reason, "--who", "alice"]));
    ok(sipscope(&db, &["add", "198.18.1.0/24", "--duration", "2h", "--reason", "scan", "--who", "bob"]));
    let out = ok(sipscope(
        &db,
        &["add", "[2001:db8::7]:5060", "--duration", "15m", "--reason", "flood", "--kind", "rate-limit", "--rate", "5"],
    ));
    assert!(out.starts_with("decision 3: rate-limit [2001:db8::7]:5060 until "), "{out}");
    let text = ok(sipscope(&db, &["list"]));
    assert!(text.contains("operator alice") && text.contains("rate-limit 5/s"), "{text}");
    assert!(!text.contains('\u{1b}') && text.contains("\\x1b[2J"), "attacker-style text escaped: {text}");
    let lines = json_lines(&ok(sipscope(&db, &["list", "--json"])));
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["decision"]["who"], "alice");
    assert_eq!(lines[0]["decision"]["reason"], reason);
    assert_eq!(lines[0]["decision"]["duration_seconds"], 3600);
    assert_eq!(lines[2]["decision"]["per_second"], 5);
    // Delete by id and by scope; a second delete finds nothing and says so by its exit code.
    assert_eq!(
        ok(sipscope(&db, &["delete", "1", "--who", "carol", "--reason", "false positive"])),
        "deleted 1 decision(s)\n"
    );
    assert_eq!(ok(sipscope(&db, &["delete", "198.18.1.0/24", "--who", "carol"])), "deleted 1 decision(s)\n");
    let again = sipscope(&db, &["delete", "1"]);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(json_lines(&ok(sipscope(&db, &["list", "--json"]))).len(), 1);
    assert_eq!(ok(sipscope(&db, &["flush", "--who", "dave", "--reason", "maintenance"])), "deleted 1 decision(s)\n");
    assert_eq!(json_lines(&ok(sipscope(&db, &["list", "--json"]))).len(), 0);
    // Nothing was erased: every decision is still there, with who removed it and why.
    let all = ok(sipscope(&db, &["list", "--all"]));
    assert_eq!(all.lines().count(), 4, "{all}");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let deleted: Vec<(i64, String, String)> = conn
        .prepare("SELECT id, deleted_by, deleted_why FROM decisions ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        deleted,
        [
            (1, "carol".into(), "false positive".into()),
            (2, "carol".into(), "deleted by an operator".into()),
            (3, "dave".into(), "maintenance".into())
        ]
    );
}

#[test]
fn unsafe_or_malformed_decisions_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    for (scope, why) in [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0/4", "loopback"),
        ("203.0.0.0/6", "wider than /8"),
        ("example.com", "expected an address"),
        ("192.0.2.7; flush ruleset", "expected an address"),
    ] {
        let out = sipscope(&db, &["add", scope, "--duration", "1h", "--reason", "x"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(why), "{scope}: {err}");
    }
    for duration in ["0", "1w", "-5m"] {
        let out = sipscope(&db, &["add", "192.0.2.7", "--duration", duration, "--reason", "x"]);
        assert!(!out.status.success(), "{duration}");
    }
    let out = sipscope(
        &db,
        &["add", "192.0.2.7", "--duration", "1h", "--reason", "x", "--kind", "rate-limit", "--rate", "0"],
    );
    assert!(!out.status.success());
    let out = sipscope(&db, &["export", "--format", "nftables", "--table", "x; flush ruleset"]);
    assert!(!out.status.success());
}

#[test]
fn exports_list_what_is_in_force() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    ok(sipscope(&db, &["add", "198.18.0.7", "--duration", "1h", "--reason", "a"]));
    ok(sipscope(&db, &["add", "2001:db8::/48", "--duration", "1h", "--reason", "b"]));
    ok(sipscope(&db, &["add", "198.18.0.8:5060", "--duration", "1h", "--reason", "c"]));
    ok(sipscope(&db, &["add", "198.18.0.9", "--duration", "1h", "--reason", "d", "--kind", "watch"]));
    assert_eq!(ok(sipscope(&db, &["export", "--format", "plain"])), "198.18.0.7\n198.18.0.8:5060\n2001:db8::/48\n");
    let f2b = ok(sipscope(&db, &["export", "--format", "fail2ban"]));
    assert!(
        f2b.contains(" sipscope ban 198.18.0.7 for 3600s\n") || f2b.contains(" sipscope ban 198.18.0.7 for 3599s\n"),
        "{f2b}"
    );
    let script = ok(sipscope(&db, &["export", "--format", "nftables", "--table", "se_cli"]));
    assert!(script.contains("\"198.18.0.7\"") && script.contains("\"ban_v4_port\""), "{script}");
    let Some(nft) = ["/usr/sbin/nft", "/sbin/nft"].into_iter().find(|p| Path::new(p).exists()) else {
        eprintln!("nft missing: the script was not checked by nft");
        return;
    };
    let ns = format!("se-cli-{}", std::process::id());
    if !Command::new("ip").args(["netns", "add", &ns]).status().is_ok_and(|s| s.success()) {
        eprintln!("cannot make a network namespace: the script was not checked by nft");
        return;
    }
    let file = dir.path().join("d.json");
    std::fs::write(&file, &script).unwrap();
    let check = Command::new("ip").args(["netns", "exec", &ns, nft, "-j", "-c", "-f"]).arg(&file).output().unwrap();
    // Loaded for real, twice (the ruleset makes its table hold exactly these), then listed.
    let load = || Command::new("ip").args(["netns", "exec", &ns, nft, "-j", "-f"]).arg(&file).output().unwrap();
    let (first, second) = (load(), load());
    let listed =
        Command::new("ip").args(["netns", "exec", &ns, nft, "list", "table", "inet", "se_cli"]).output().unwrap();
    let _ = Command::new("ip").args(["netns", "delete", &ns]).status();
    for out in [&check, &first, &second, &listed] {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.contains("198.18.0.7") && listed.contains("2001:db8::/48"), "{listed}");
}
