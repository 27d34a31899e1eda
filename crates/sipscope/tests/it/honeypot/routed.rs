//! Node addresses routed to the sensor, as at a central sensor that remote sites forward to:
//! the honeypot runs in namespace B on a wildcard bind; node addresses 198.51.100.10 and .11
//! belong to B and namespace A routes 198.51.100.0/24 to B over the veth pair. Each answer must
//! come from the node address that was hit and each event must name its node. A GRE tunnel is
//! the same case once the kernel has decapsulated (this test machine's kernel has no GRE
//! module, so routing stands in for it). Needs root and `ip netns` (skipped without).

use super::harness::Honeypot;
use crate::netns::{ip, Namespaces, A_ADDR, B_ADDR};

const CLIENT: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("192.0.2.1", 0))
s.settimeout(5)
for target in sys.argv[1:]:
    msg = ("OPTIONS sip:%s SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK%s;rport\r\n"
           "From: <sip:probe@192.0.2.1>;tag=%s\r\nTo: <sip:%s>\r\nCall-ID: routed-%s\r\nCSeq: 1 OPTIONS\r\n"
           "Max-Forwards: 70\r\nContact: <sip:probe@192.0.2.1>\r\nUser-Agent: routed-test\r\nAccept: application/sdp\r\n"
           "Content-Length: 0\r\n\r\n") % (target, target, target, target, target)
    s.sendto(msg.encode(), (target, 5060))
    data, peer = s.recvfrom(4096)
    print(peer[0], data.split(b"\r\n")[0].decode())
"#;

#[test]
fn routed_node_addresses_are_answered_from_themselves() {
    let Some(ns) = Namespaces::create("routed") else { return };
    ip(&["-n", &ns.a, "addr", "add", "192.0.2.1/32", "dev", "veth0"]);
    ip(&["-n", &ns.a, "route", "add", "198.51.100.0/24", "via", B_ADDR]);
    for node in ["198.51.100.10/32", "198.51.100.11/32"] {
        ip(&["-n", &ns.b, "addr", "add", node, "dev", "veth1"]);
    }
    ip(&["-n", &ns.b, "route", "add", "192.0.2.1/32", "via", A_ADDR]);

    let dir = tempfile::tempdir().unwrap();
    let nodes = dir.path().join("nodes.toml");
    std::fs::write(
        &nodes,
        "[[node]]\nname = \"site-10\"\naddresses = [\"198.51.100.10\"]\n\
         [[node]]\nname = \"site-11\"\naddresses = [\"198.51.100.11\"]\n",
    )
    .unwrap();
    let extra = format!("nodes = \"{}\"\n", nodes.display());
    let mut hp = Honeypot::start_in(Some(&ns.b), &[("udp", "0.0.0.0", 5060)], &extra);
    let out = ns
        .exec(&ns.a, "timeout")
        .args(["20", "python3", "-c", CLIENT, "198.51.100.10", "198.51.100.11"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(text, "198.51.100.10 SIP/2.0 200 OK\n198.51.100.11 SIP/2.0 200 OK\n");
    hp.stop();
    let rows = hp.rows("SELECT direction, src_ip, dst_ip, node FROM events ORDER BY id");
    assert_eq!(
        rows,
        [
            ["in", "192.0.2.1", "198.51.100.10", "site-10"],
            ["out", "198.51.100.10", "192.0.2.1", "site-10"],
            ["in", "192.0.2.1", "198.51.100.11", "site-11"],
            ["out", "198.51.100.11", "192.0.2.1", "site-11"],
        ]
    );
}
