//! The analysis end to end: real tools against the honeypot on a wildcard bind (port 5062, so
//! every 127.0.70.x address is a node address; nmap's scripts need 5060, so 127.0.70.4 listens
//! there too), each tool from its own source address (a local
//! route per target address picks the source, since svwar and svcrack bind the wildcard), then
//! `sipscope analyze`. Tools: svmap over a range, svwar, svcrack, nmap's sip-methods and
//! sip-enum-users, sipsak and a SIPp call dialling one number three ways. Each source must be
//! attributed to its tool (sipsak is told its address with -k/-H: it would write the host's
//! name-resolved address, 127.0.0.1 here, not the routed source), reach exactly the stages it
//! performed, svmap's scan must be sequential, and the numbers SIPp dialled with several
//! prefixes must unify into one Swedish mobile number. Needs root for the routes (skipped
//! without).

use super::harness::{sipp_register_then_call, text, tool, Honeypot, NMAP_SIP_SCRIPTS};
use std::process::Command;

/// Routes `target` so that packets to it leave from `source`; removed on drop.
struct SourceRoute(String);

impl SourceRoute {
    fn add(target: &str, source: &str) -> SourceRoute {
        let ok = Command::new("ip")
            .args(["route", "replace", "local", &format!("{target}/32"), "dev", "lo", "src", source, "table", "local"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "ip route for {target}");
        SourceRoute(target.to_owned())
    }
}

impl Drop for SourceRoute {
    fn drop(&mut self) {
        let _ =
            Command::new("ip").args(["route", "del", "local", &format!("{}/32", self.0), "table", "local"]).status();
    }
}

fn sipp_call(number: &str) {
    let out = sipp_register_then_call(number, "127.0.71.20", "127.0.70.5:5062");
    assert!(out.status.success(), "sipp {number}: {}", text(&out));
}

#[test]
fn analysis_attributes_tools_stages_strategy_and_numbers() {
    if !super::super::netns::is_root() {
        eprintln!("skipping: source routes need root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let nodes = dir.path().join("nodes.toml");
    // Twelve node addresses, 127.0.70.1 to .12, each its own node `n1` … `n12`.
    let nodes_toml: String =
        (1..=12).map(|i| format!("[[node]]\nname = \"n{i}\"\naddresses = [\"127.0.70.{i}\"]\n")).collect();
    std::fs::write(&nodes, nodes_toml).unwrap();
    let extra = format!("nodes = \"{}\"\n", nodes.display());
    // nmap's SIP scripts only run against 5060, and sipsak's messages carry the port when it
    // is not 5060: their nodes also listen there.
    let listen = [("udp", "0.0.0.0", 5062), ("udp", "127.0.70.4", 5060), ("udp", "127.0.70.6", 5060)];
    let mut hp = Honeypot::start(&listen, &extra);
    let _routes = [("127.0.70.2", "127.0.71.2"), ("127.0.70.3", "127.0.71.3"), ("127.0.70.4", "127.0.71.4")]
        .map(|(t, s)| SourceRoute::add(t, s));

    let svmap = tool("sipvicious_svmap", &["-b", "127.0.71.10", "-p", "5062", "127.0.70.1-127.0.70.20"], 60);
    assert!(text(&svmap).contains("127.0.70.20:5062"), "{}", text(&svmap));
    let svwar = tool("sipvicious_svwar", &["-p", "5062", "-e100-110", "127.0.70.2"], 60);
    assert!(text(&svwar).contains("reqauth"), "{}", text(&svwar));
    let svcrack = tool("sipvicious_svcrack", &["-p", "5062", "-u101", "-r1230-1240", "127.0.70.3"], 60);
    assert!(text(&svcrack).contains("1234"), "{}", text(&svcrack));
    let nmap = tool("nmap", &[&NMAP_SIP_SCRIPTS[..], &["127.0.70.4"]].concat(), 120);
    assert!(text(&nmap).contains("sip-methods") && text(&nmap).contains("101"), "{}", text(&nmap));
    let sipsak = tool("sipsak", &["-k", "127.0.71.6", "-H", "127.0.71.6", "-s", "sip:100@127.0.70.6"], 30);
    assert!(sipsak.status.success(), "{}", text(&sipsak));
    for number in ["0046701234567", "+46701234567", "00046701234567"] {
        sipp_call(number);
    }
    hp.stop();
    // The honeypot ran the engine itself, in one pass, as the attacks came.
    assert_eq!(hp.rows("SELECT kind FROM analysis_runs"), [["honeypot"]]);
    let live = "SELECT src_ip, group_concat(stage, ' ') FROM (SELECT src_ip, stage FROM stages WHERE node = '' ORDER BY src_ip, stage) GROUP BY src_ip ORDER BY src_ip";
    let live_stages = hp.rows(live);

    let out = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["analyze", "--json", "--db"])
        .arg(hp.dir.path().join("hp.db"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let tools = hp.rows("SELECT src_ip, tool, tool_verdict FROM flows ORDER BY src_ip");
    assert_eq!(
        tools,
        [
            ["127.0.71.10", "SIPVicious", "exact"],
            ["127.0.71.2", "SIPVicious", "exact"],
            ["127.0.71.20", "SIPp", "exact"],
            ["127.0.71.3", "SIPVicious", "exact"],
            ["127.0.71.4", "NMap", "exact"],
            ["127.0.71.6", "sipsak", "exact"],
        ],
        "{:?}",
        hp.rows("SELECT src_ip, tool, variant, tool_verdict, similarity, fingerprint FROM flows")
    );
    let variants = hp.rows("SELECT src_ip, variant FROM flows WHERE tool = 'SIPVicious' ORDER BY src_ip");
    assert_eq!(variants, [["127.0.71.10", "svmap"], ["127.0.71.2", "svwar"], ["127.0.71.3", "svcrack"]]);
    let stages = hp.rows("SELECT src_ip, group_concat(stage, ' ') FROM (SELECT src_ip, stage FROM stages WHERE node = '' ORDER BY src_ip, stage) GROUP BY src_ip ORDER BY src_ip");
    assert_eq!(
        stages,
        [
            ["127.0.71.10", "server_scan"],
            ["127.0.71.2", "extension_scan"],
            ["127.0.71.20", "registration_hijacking toll_fraud"],
            ["127.0.71.3", "registration_hijacking"],
            ["127.0.71.4", "extension_scan server_scan"],
            ["127.0.71.6", "server_scan"],
        ]
    );
    assert_eq!(hp.rows("SELECT kind FROM analysis_runs"), [["analyze"]], "analyze replaces earlier runs");
    assert_eq!(hp.rows(live), live_stages, "the honeypot's own pass found the same stages");
    let per_node = hp.rows(
        "SELECT node, count(*) FROM stages WHERE src_ip = '127.0.71.10' AND node <> '' GROUP BY node ORDER BY node",
    );
    assert!(per_node.len() >= 5, "svmap probed every node: {per_node:?}");
    let hijacks = hp
        .rows("SELECT src_ip, detail FROM stages WHERE stage = 'registration_hijacking' AND node = '' ORDER BY src_ip");
    assert!(hijacks.iter().all(|r| r[1].contains("\"succeeded\":1")), "{hijacks:?}");
    assert_eq!(hp.rows("SELECT strategy FROM flows WHERE src_ip = '127.0.71.10'"), [["sequential"]]);
    let numbers = hp.rows("SELECT number, country, number_type, attempts, invites, variants FROM numbers");
    assert_eq!(
        numbers,
        [["+46701234567", "SE", "mobile", "3", "6", "3"]],
        "three calls of two INVITEs (the challenge, then with credentials), three spellings"
    );
    check_report(&hp.dir.path().join("hp.db"));
}

/// `sipscope report --format json` over the lab: the sections match what was done.
fn check_report(db: &std::path::Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["report", "--format", "json", "--db"])
        .arg(db)
        .args(["stages", "spread", "overlap", "tools", "numbers"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows =
        |section: &str, table: usize| doc["sections"][section]["tables"][table]["rows"].as_array().unwrap().clone();
    // stages: node, attackers, server scan, extension scan, hijacking, succeeded, toll fraud.
    let stages: std::collections::BTreeMap<String, Vec<i64>> = rows("stages", 0)
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_owned(),
                r.as_array().unwrap()[1..].iter().map(|v| v.as_i64().unwrap()).collect(),
            )
        })
        .collect();
    assert_eq!(stages.len(), 12, "every node was attacked: {stages:?}");
    assert!(stages.values().all(|v| v[1] >= 1), "svmap probed every node: {stages:?}");
    assert_eq!(stages["n2"][2], 1, "svwar enumerated n2");
    assert_eq!((stages["n3"][3], stages["n3"][4]), (1, 1), "svcrack hijacked on n3");
    assert_eq!(stages["n4"][2], 1, "nmap's sip-enum-users on n4");
    assert_eq!((stages["n5"][3], stages["n5"][5]), (1, 1), "SIPp registered and dialled out on n5");
    assert_eq!(stages.values().map(|v| v[5]).sum::<i64>(), 1, "toll fraud only on n5");
    // spread: svmap alone hit all twelve nodes.
    let spread = rows("spread", 0);
    let twelve = spread.iter().find(|r| r[0] == 12).unwrap_or_else(|| panic!("{spread:?}"));
    assert_eq!(twelve[1], 1);
    // overlap: svwar's source was seen only at n2 (the diagonal); svmap's at n2 and n3.
    let overlap = rows("overlap", 0);
    let n2 = overlap.iter().find(|r| r[0] == "n2").unwrap();
    let labels: Vec<String> = doc["sections"]["overlap"]["tables"][0]["columns"].as_array().unwrap()[1..]
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    let col = |n: &str| 1 + labels.iter().position(|l| l == n).unwrap();
    assert_eq!(n2[col("n2")], 1, "svwar's source was seen only at n2");
    assert!(n2[col("n3")].as_i64().unwrap() >= 1, "svmap hit both");
    // tools and numbers.
    let tools: Vec<String> =
        rows("tools", 0).iter().map(|r| format!("{} {}", r[0].as_str().unwrap(), r[1].as_str().unwrap())).collect();
    for t in ["SIPVicious svmap", "SIPVicious svwar", "SIPVicious svcrack", "SIPp Base", "sipsak"] {
        assert!(tools.iter().any(|x| x.starts_with(t)), "{t} not in {tools:?}");
    }
    // numbers: number, country, type, calls, INVITEs, variants, sources, dialled as.
    let numbers = rows("numbers", 0);
    assert_eq!(numbers[0][0], "+46701234567");
    assert_eq!(
        (numbers[0][1].as_str(), numbers[0][3].as_i64(), numbers[0][4].as_i64(), numbers[0][5].as_i64()),
        (Some("SE"), Some(3), Some(6), Some(3))
    );
}
