//! The JSON sent to nft, checked against the shapes libnftables-json(5) documents (the
//! namespace tests in `tests/it/enforce/` feed it to the real nft).

use super::*;
use crate::act::enforce::plan::{Element, Plan, RateRule};
use serde_json::{json, Value as Json};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn parsed(batch: &Batch) -> Vec<Json> {
    let text = batch.to_json().unwrap();
    let v: Json = serde_json::from_str(&text).unwrap();
    v["nftables"].as_array().unwrap().clone()
}

fn plan() -> Plan {
    Plan {
        ban_v4: vec![(Element::Single(ip("192.0.2.9")), 60), (Element::Range(ip("192.0.2.10"), ip("192.0.2.20")), 30)],
        ban_v6: vec![(Element::Prefix(ip("2001:db8::"), 32), 10)],
        ban_v4_port: vec![("203.0.113.5".parse().unwrap(), 5061, 20)],
        ban_v6_port: vec![],
        rate_limits: vec![
            RateRule { scope: Scope::AddressPort(ip("198.51.100.1"), 5060), per_second: 7, until_s: 1_800_000_100 },
            RateRule {
                scope: Scope::Prefix("2001:db8:1::/48".parse().unwrap()),
                per_second: 0,
                until_s: 1_800_000_200,
            },
        ],
        ..Plan::default()
    }
}

#[test]
fn a_reconcile_creates_empties_and_refills_in_one_batch() {
    let cmds = parsed(&reconcile("sipscope", &plan(), false));
    let verbs: Vec<String> = cmds
        .iter()
        .map(|c| {
            let (verb, obj) = c.as_object().unwrap().iter().next().unwrap();
            let (kind, _) = obj.as_object().unwrap().iter().next().unwrap();
            format!("{verb} {kind}")
        })
        .collect();
    let mut expected = vec!["add table".to_owned()];
    expected.extend(std::iter::repeat_n("add counter".to_owned(), 5));
    expected.extend(std::iter::repeat_n("add set".to_owned(), 4));
    expected.extend(["add chain".to_owned(), "flush chain".to_owned()]);
    expected.extend(std::iter::repeat_n("flush set".to_owned(), 4));
    expected.extend(std::iter::repeat_n("add element".to_owned(), 3));
    expected.extend(std::iter::repeat_n("add rule".to_owned(), 6));
    assert_eq!(verbs, expected);
    assert_eq!(cmds[0], json!({"add": {"table": {"family": "inet", "name": "sipscope"}}}));
    assert_eq!(
        cmds[6],
        json!({"add": {"set": {"family": "inet", "table": "sipscope", "name": "ban_v4", "type": "ipv4_addr",
            "flags": ["interval", "timeout"]}}})
    );
    assert_eq!(cmds[8]["add"]["set"]["type"], json!(["ipv4_addr", "inet_service"]));
    assert_eq!(
        cmds[10],
        json!({"add": {"chain": {"family": "inet", "table": "sipscope", "name": "prerouting", "type": "filter",
            "hook": "prerouting", "prio": -300, "policy": "accept"}}})
    );
    assert_eq!(cmds[11], json!({"flush": {"chain": {"family": "inet", "table": "sipscope", "name": "prerouting"}}}));
    assert_eq!(
        cmds[16]["add"]["element"]["elem"],
        json!([{"elem": {"val": "192.0.2.9", "timeout": 60}},
               {"elem": {"val": {"range": ["192.0.2.10", "192.0.2.20"]}, "timeout": 30}}])
    );
    assert_eq!(
        cmds[17]["add"]["element"]["elem"],
        json!([{"elem": {"val": {"prefix": {"addr": "2001:db8::", "len": 32}}, "timeout": 10}}])
    );
    assert_eq!(
        cmds[18]["add"]["element"]["elem"],
        json!([{"elem": {"val": {"concat": ["203.0.113.5", 5061]}, "timeout": 20}}])
    );
    assert_eq!(
        cmds[19]["add"]["rule"]["expr"],
        json!([{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "@ban_v4"}},
               {"counter": "banned_v4"}, {"drop": null}])
    );
    assert_eq!(
        cmds[21]["add"]["rule"]["expr"],
        json!([{"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": {"set": ["tcp", "udp", "sctp"]}}},
               {"match": {"op": "==", "left": {"concat": [{"payload": {"protocol": "ip", "field": "saddr"}},
                                                         {"payload": {"protocol": "th", "field": "sport"}}]},
                          "right": "@ban_v4_port"}},
               {"counter": "banned_v4_port"}, {"drop": null}])
    );
    assert_eq!(
        cmds[23]["add"]["rule"]["expr"],
        json!([{"match": {"op": "<", "left": {"meta": {"key": "time"}}, "right": 1_800_000_100}},
               {"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": {"set": ["tcp", "udp", "sctp"]}}},
               {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "198.51.100.1"}},
               {"match": {"op": "==", "left": {"payload": {"protocol": "th", "field": "sport"}}, "right": 5060}},
               {"limit": {"rate": 7, "per": "second", "burst": 7, "inv": true}},
               {"counter": "rate_limited"}, {"drop": null}])
    );
    // A rate of 0 lets nothing through: no limit, the rule drops.
    assert_eq!(
        cmds[24]["add"]["rule"]["expr"],
        json!([{"match": {"op": "<", "left": {"meta": {"key": "time"}}, "right": 1_800_000_200}},
               {"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "saddr"}},
                          "right": {"prefix": {"addr": "2001:db8:1::", "len": 48}}}},
               {"counter": "rate_limited"}, {"drop": null}])
    );
}

#[test]
fn an_empty_plan_still_installs_the_table_and_a_rebuild_deletes_it_first() {
    let cmds = parsed(&reconcile("t1", &Plan::default(), true));
    assert_eq!(cmds[0], json!({"add": {"table": {"family": "inet", "name": "t1"}}}));
    assert_eq!(cmds[1], json!({"delete": {"table": {"family": "inet", "name": "t1"}}}));
    assert_eq!(cmds[2], cmds[0]);
    assert!(!cmds.iter().any(|c| c.get("add").and_then(|a| a.get("element")).is_some()));
    assert_eq!(cmds.iter().filter(|c| c.get("add").and_then(|a| a.get("rule")).is_some()).count(), 4);
}

#[test]
fn removal_deletes_the_table_whether_or_not_it_exists() {
    let cmds = parsed(&removal("sipscope"));
    assert_eq!(
        cmds,
        [
            json!({"add": {"table": {"family": "inet", "name": "sipscope"}}}),
            json!({"delete": {"table": {"family": "inet", "name": "sipscope"}}})
        ]
    );
}
