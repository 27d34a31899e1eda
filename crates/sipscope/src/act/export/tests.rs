//! The exports' text, and the nftables ruleset accepted by the real `nft -j -c` inside a
//! network namespace the test creates (skipped with a note when nft or root is missing).

use super::*;
use crate::act::DecisionOrigin;

const NOW: i64 = 1_800_000_000 * SECOND_NS;

fn decision(kind: DecisionKind, scope: &str, seconds: i64) -> Decision {
    Decision {
        id: None,
        kind,
        scope: scope.parse().unwrap(),
        start_ns: NOW - SECOND_NS,
        until_ns: NOW + seconds * SECOND_NS,
        reason: "x\"; flush ruleset; \n".into(),
        origin: DecisionOrigin::Operator { who: "$(reboot)".into() },
        offence: 0,
        proven: true,
        evidence: vec![],
    }
}

fn sample() -> Vec<Decision> {
    vec![
        decision(DecisionKind::Ban, "192.0.2.7", 3600),
        decision(DecisionKind::Ban, "198.18.0.0/24", 100),
        decision(DecisionKind::Ban, "198.18.0.9", 7200),
        decision(DecisionKind::Ban, "2001:db8::/48", 60),
        decision(DecisionKind::Ban, "192.0.2.8:5060", 30),
        decision(DecisionKind::Ban, "[2001:db8::9]:5061", 30),
        decision(DecisionKind::RateLimit { per_second: 10 }, "203.0.113.0/28", 600),
        decision(DecisionKind::RateLimit { per_second: 10 }, "2001:db8:1::5", 600),
        decision(DecisionKind::Watch, "192.0.2.99", 600),
        // Expired: left out.
        decision(DecisionKind::Ban, "192.0.2.100", -1),
    ]
}

const TABLE: &str = "sipscope_test";

#[test]
fn plain_lists_the_bans_in_force() {
    let text = export(Format::Plain, &sample(), NOW, TABLE).unwrap();
    assert_eq!(
        text,
        "192.0.2.7\n198.18.0.9\n2001:db8::/48\n192.0.2.8:5060\n[2001:db8::9]:5061\n198.18.0.0/24\n"
            .lines()
            .map(|l| l.parse::<Scope>().unwrap())
            .collect::<std::collections::BTreeSet<_>>()
            .iter()
            .map(|s| format!("{s}\n"))
            .collect::<String>()
    );
}

#[test]
fn fail2ban_lines_name_addresses_and_networks_only() {
    let text = export(Format::Fail2ban, &sample(), NOW, TABLE).unwrap();
    assert!(text.contains(" sipscope ban 192.0.2.7 for 3600s\n"), "{text}");
    assert!(text.contains(" sipscope ban 198.18.0.0/24 for 100s\n"), "{text}");
    assert!(text.contains("# skipped (fail2ban has no port scope): 192.0.2.8:5060\n"), "{text}");
    assert!(!text.contains("192.0.2.99") && !text.contains("reboot"), "{text}");
}

#[test]
fn the_nftables_export_is_the_enforcers_transaction_of_typed_values() {
    let json = export(Format::Nftables, &sample(), NOW, TABLE).unwrap();
    for bad in ["flush ruleset", "reboot", "192.0.2.100", "192.0.2.99"] {
        assert!(!json.contains(bad), "{bad} in {json}");
    }
    let settings = crate::act::enforce::NftSettings::new(TABLE);
    let enforced = crate::act::enforce::reconcile_json(&settings, NOW, &sample()).unwrap();
    assert_eq!(json.trim_end(), enforced, "one plan for the export and the enforcer");
    assert!(json.contains("\"198.18.0.9\"") && json.contains("\"ban_v4_port\""), "{json}");
    assert!(export(Format::Nftables, &sample(), NOW, "bad name; x").is_err());
    assert!(export(Format::Nftables, &sample(), NOW, "1abc").is_err());
}

/// Runs `nft -j -c -f` on the ruleset inside a fresh network namespace; None when nft or the
/// privilege to make a namespace is missing.
fn nft_check(script: &str) -> Option<std::process::Output> {
    let nft = ["/usr/sbin/nft", "/sbin/nft"].into_iter().find(|p| std::path::Path::new(p).exists())?;
    let ns = format!("se-export-{}", std::process::id());
    let added = std::process::Command::new("ip").args(["netns", "add", &ns]).status().ok()?;
    if !added.success() {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("decisions.json");
    std::fs::write(&file, script).unwrap();
    let out =
        std::process::Command::new("ip").args(["netns", "exec", &ns, nft, "-j", "-c", "-f"]).arg(&file).output().ok();
    let _ = std::process::Command::new("ip").args(["netns", "delete", &ns]).status();
    out
}

#[test]
fn the_nftables_script_passes_nft_check() {
    for decisions in [sample(), Vec::new()] {
        let script = export(Format::Nftables, &decisions, NOW, TABLE).unwrap();
        let Some(out) = nft_check(&script) else {
            eprintln!("nft or network namespaces unavailable: nft -c not run");
            return;
        };
        assert!(out.status.success(), "nft -c refused:\n{}\n{script}", String::from_utf8_lossy(&out.stderr));
    }
    // The check is real: a broken script is refused.
    let broken = export(Format::Nftables, &sample(), NOW, TABLE).unwrap().replace("ipv4_addr", "ipv9_addr");
    if let Some(out) = nft_check(&broken) {
        assert!(!out.status.success());
    }
}
