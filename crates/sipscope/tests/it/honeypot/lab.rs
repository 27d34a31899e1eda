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

use super::harness::{text, tool, Honeypot};
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
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/sipp/register-then-call.xml");
    let out = tool(
        "sipp",
        &[
            "-sf",
            scenario,
            "-s",
            number,
            "-key",
            "caller",
            "100",
            "-au",
            "100",
            "-ap",
            "100",
            "-m",
            "1",
            "-i",
            "127.0.71.20",
            "-p",
            "5071",
            "-nostdin",
            "-timeout",
            "15s",
            "127.0.70.5:5062",
        ],
        30,
    );
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
    std::fs::write(
        &nodes,
        "[[node]]\nname = \"n2\"\naddresses = [\"127.0.70.2\"]\n[[node]]\nname = \"n3\"\naddresses = [\"127.0.70.3\"]\n\
         [[node]]\nname = \"n4\"\naddresses = [\"127.0.70.4\"]\n[[node]]\nname = \"n5\"\naddresses = [\"127.0.70.5\"]\n\
         [[node]]\nname = \"rest\"\naddresses = [\"127.0.70.0/24\"]\n",
    )
    .unwrap();
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
    let nmap = tool(
        "nmap",
        &[
            "-n",
            "-Pn",
            "-sU",
            "-p5060",
            "--script",
            "sip-methods,sip-enum-users",
            "--script-args",
            "sip-enum-users.minext=100,sip-enum-users.maxext=105",
            "127.0.70.4",
        ],
        120,
    );
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
    let numbers = hp.rows("SELECT number, country, number_type, attempts, variants FROM numbers");
    assert_eq!(numbers, [["+46701234567", "SE", "mobile", "6", "3"]], "two INVITEs per call, three spellings");
}
