//! The nftables enforcer against the real nft, conntrack and kernel, inside namespaces the
//! tests create (`lab.rs`): `sipscope enforce` installs decisions in the server namespace, a
//! UDP echo responder answers there, and probes from client namespaces show what is dropped.

use super::lab::{client_v4, client_v6, server_v4, server_v6, Lab, SIPSCOPE};

fn ban(scope: &str, seconds: u32) -> String {
    format!("[[decision]]\nkind = \"ban\"\nscope = \"{scope}\"\nseconds = {seconds}\n")
}

#[test]
fn a_banned_address_is_dropped_before_conntrack_counted_and_its_flows_removed() {
    let Some(mut lab) = Lab::create("ban4", 1) else { return };
    lab.start_responder();
    lab.track_connections();
    let (client, me, server) = (&lab.clients[0], client_v4(1), server_v4(1));
    assert_eq!(lab.probe(client, &me, 5070, &server, 3, 5.0), 3, "answered before the ban");
    assert!(lab.flows_from(&me) >= 1, "the exchange is tracked");

    let applied = lab.enforce("sipscope", &ban(&me, 300));
    assert_eq!(applied["elements"], 1, "{applied}");
    assert!(applied["flows_removed"].as_u64().unwrap() >= 1, "{applied}");
    assert_eq!(lab.flows_from(&me), 0, "the banned source's flows are gone");
    assert_eq!(lab.probe(client, &me, 5070, &server, 3, 1.0), 0, "dropped");
    assert!(lab.counter("sipscope", "banned_v4") >= 3);
    // Dropped at priority raw, before connection tracking: nothing new is tracked.
    assert_eq!(lab.flows_from(&me), 0);
    let listing = lab.nft(&["list", "chain", "inet", "sipscope", "prerouting"]);
    assert!(listing.contains("hook prerouting priority raw"), "{listing}");

    // A second reconcile with the same decisions changes nothing and keeps counting.
    let before = lab.counter("sipscope", "banned_v4");
    lab.enforce("sipscope", &ban(&me, 300));
    assert_eq!(lab.counter("sipscope", "banned_v4"), before, "named counters survive a reconcile");
    assert_eq!(lab.elements("sipscope", "ban_v4").len(), 1);

    lab.remove("sipscope");
    assert!(!lab.tables().contains(&"inet sipscope".to_owned()), "{:?}", lab.tables());
    assert!(lab.tables().contains(&"inet sftrack".to_owned()), "other tables are left alone");
    assert_eq!(lab.probe(client, &me, 5070, &server, 3, 5.0), 3, "answered after removal");
    // Removing what is not there is not an error.
    lab.remove("sipscope");
}

#[test]
fn ipv6_and_address_and_port_bans_drop_only_what_they_name() {
    let Some(mut lab) = Lab::create("ban6", 1) else { return };
    lab.start_responder();
    lab.track_connections();
    let client = &lab.clients[0];
    let (me6, server6, me4, server4) = (client_v6(1), server_v6(1), client_v4(1), server_v4(1));
    assert_eq!(lab.probe(client, &me6, 5070, &server6, 3, 5.0), 3);
    assert!(lab.flows_from(&me6) >= 1);

    let applied = lab.enforce("sf6", &(ban(&me6, 300) + &ban(&format!("{me4}:5555"), 300)));
    assert_eq!(applied["elements"], 2, "{applied}");
    assert_eq!(lab.flows_from(&me6), 0);
    assert_eq!(lab.probe(client, &me6, 5070, &server6, 3, 1.0), 0, "IPv6 source dropped");
    assert!(lab.counter("sf6", "banned_v6") >= 3);
    assert_eq!(lab.probe(client, &me4, 5555, &server4, 3, 1.0), 0, "the banned port is dropped");
    assert!(lab.counter("sf6", "banned_v4_port") >= 3);
    assert_eq!(lab.probe(client, &me4, 5556, &server4, 3, 5.0), 3, "another port of the same address is not");
    assert_eq!(lab.counter("sf6", "banned_v4"), 0);
    lab.remove("sf6");
    assert_eq!(lab.probe(client, &me6, 5070, &server6, 3, 5.0), 3);
}

#[test]
fn a_prefix_ban_covers_its_range_and_nothing_else() {
    let Some(mut lab) = Lab::create("prefix", 1) else { return };
    lab.start_responder();
    let (client, server) = (&lab.clients[0], server_v4(1));
    for extra in ["10.225.1.100/32", "10.225.1.200/32"] {
        crate::netns::ip(&["-n", client, "addr", "add", extra, "dev", "eth0"]);
    }
    lab.enforce("sfprefix", &ban("10.225.1.96/27", 300));
    assert_eq!(lab.elements("sfprefix", "ban_v4")[0].0, r#"{"prefix":{"addr":"10.225.1.96","len":27}}"#);
    assert_eq!(lab.probe(client, "10.225.1.100", 5070, &server, 3, 1.0), 0, "inside the /27");
    assert_eq!(lab.probe(client, "10.225.1.200", 5070, &server, 3, 5.0), 3, "outside");
    assert_eq!(lab.probe(client, &client_v4(1), 5070, &server, 3, 5.0), 3, "outside");
    // An address inside the prefix banned for longer stays banned when the prefix ends:
    // the set holds three disjoint pieces.
    lab.enforce("sfprefix", &(ban("10.225.1.96/27", 300) + &ban("10.225.1.100", 900)));
    let pieces: Vec<(String, u64)> = lab.elements("sfprefix", "ban_v4").into_iter().map(|(v, t, _)| (v, t)).collect();
    assert_eq!(
        pieces,
        [
            (r#"{"prefix":{"addr":"10.225.1.96","len":30}}"#.to_owned(), 300),
            (r#""10.225.1.100""#.to_owned(), 900),
            (r#"{"range":["10.225.1.101","10.225.1.127"]}"#.to_owned(), 300),
        ]
    );
    assert_eq!(lab.probe(client, "10.225.1.100", 5070, &server, 3, 1.0), 0);
}

#[test]
fn bans_expire_by_themselves_and_reconciles_reassert_their_timeouts() {
    let Some(mut lab) = Lab::create("expiry", 1) else { return };
    lab.start_responder();
    let (client, me, server) = (&lab.clients[0], client_v4(1), server_v4(1));
    lab.enforce("sfexp", &ban(&me, 100));
    let first = lab.elements("sfexp", "ban_v4");
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].1, 100);
    // The element is lost (someone deleted it): the next reconcile puts it back, with the
    // decision's remaining time as its timeout.
    lab.nft(&["delete", "element", "inet", "sfexp", "ban_v4", &format!("{{ {me} }}")]);
    assert!(lab.elements("sfexp", "ban_v4").is_empty());
    lab.enforce("sfexp", &ban(&me, 400));
    let again = lab.elements("sfexp", "ban_v4");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].1, 400, "timeout re-asserted");
    assert!(again[0].2 > 100, "expires counts from the reconcile: {again:?}");
    assert_eq!(lab.probe(client, &me, 5070, &server, 2, 1.0), 0);

    // A short ban ends in the kernel with no help from sipscope.
    lab.enforce("sfexp", &ban(&me, 2));
    assert!(lab.wait_until(30, || lab.elements("sfexp", "ban_v4").is_empty()), "the element timed out");
    assert_eq!(lab.probe(client, &me, 5070, &server, 3, 5.0), 3, "answered once the ban expired");
    assert!(lab.tables().contains(&"inet sfexp".to_owned()), "only the element went");
}

#[test]
fn a_rate_limit_lets_some_packets_through_and_drops_the_rest() {
    let Some(mut lab) = Lab::create("rate", 1) else { return };
    lab.start_responder();
    let (client, me, server) = (&lab.clients[0], client_v4(1), server_v4(1));
    let limit = format!("[[decision]]\nkind = \"rate-limit\"\nscope = \"{me}\"\nseconds = 300\nper_second = 2\n");
    let applied = lab.enforce("sfrate", &limit);
    assert_eq!(applied["rate_limits"], 1, "{applied}");
    let answered = lab.probe(client, &me, 5070, &server, 60, 2.0);
    let dropped = lab.counter("sfrate", "rate_limited");
    eprintln!("rate limit 2/s: {answered} of 60 answered, {dropped} dropped");
    assert!(answered >= 1, "the first packets pass");
    assert!(answered < 60 && dropped >= 1, "answered {answered}, dropped {dropped}");
    assert_eq!(u64::from(answered) + dropped, 60, "each packet either answered or counted as dropped");
    // Other sources are not limited.
    crate::netns::ip(&["-n", client, "addr", "add", "10.225.1.50/32", "dev", "eth0"]);
    assert_eq!(lab.probe(client, "10.225.1.50", 5070, &server, 60, 5.0), 60);
}

#[test]
fn without_the_privilege_nft_refuses_and_the_error_says_why() {
    let Some(lab) = Lab::create("noperm", 0) else { return };
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), ban("192.0.2.1", 60)).unwrap();
    std::fs::set_permissions(file.path(), std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    // nobody, no capabilities, no way to gain any.
    let out = lab
        .exec(&lab.server, "setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--no-new-privs", SIPSCOPE, "enforce"])
        .args(["reconcile", "--table", "sfnoperm"])
        .arg(file.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("not permitted") && err.contains("CAP_NET_ADMIN"), "{err}");
    assert!(!lab.tables().contains(&"inet sfnoperm".to_owned()));
    // The same with CAP_NET_ADMIN as an ambient capability (as systemd grants it) works.
    let out = lab
        .exec(&lab.server, "setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=+net_admin"])
        .args(["--ambient-caps=+net_admin", "--no-new-privs", SIPSCOPE, "enforce", "reconcile", "--table", "sfnoperm"])
        .arg(file.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(lab.tables().contains(&"inet sfnoperm".to_owned()));
}

#[test]
fn a_table_of_the_same_name_but_another_shape_is_built_again() {
    let Some(lab) = Lab::create("shape", 0) else { return };
    // An older or foreign table: a set `ban_v4` of another type, which `add` cannot change.
    lab.nft(&["add", "table", "inet", "sfshape"]);
    lab.nft(&["add", "set", "inet", "sfshape", "ban_v4", "{ type ipv6_addr; }"]);
    let applied = lab.enforce("sfshape", &ban("192.0.2.1", 60));
    assert_eq!(applied["rebuilt"], true, "{applied}");
    let set = lab.nft(&["list", "set", "inet", "sfshape", "ban_v4"]);
    assert!(set.contains("type ipv4_addr") && set.contains("192.0.2.1"), "{set}");
    // From then on a reconcile is an ordinary one.
    assert_eq!(lab.enforce("sfshape", &ban("192.0.2.1", 60))["rebuilt"], false);
}
