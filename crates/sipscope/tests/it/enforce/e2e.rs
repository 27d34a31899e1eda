//! The issue's end-to-end test: the honeypot with nftables enforcement in the server
//! namespace; svcrack from client 1 is banned after the rules' threshold (its later packets
//! are dropped, visible in the counters, and it stops getting answers); client 3, on an
//! allowlisted network, runs the same attack and is never banned; client 2 floods with a
//! forged source address (raw socket), which raises alerts but bans nobody; the ban expires by
//! itself; `sipscope decisions flush` leaves no table.
//!
//! The rules (`[rules]`), the policy (`[decisions]`) and enforcement (`[enforce]`) all run
//! inside the honeypot, as an operator would configure them.

use super::lab::{client_v4, server_v4, Lab, SIPSCOPE};
use crate::honeypot::harness::{text, Honeypot};

const TABLE: &str = "sfe2e";

/// REGISTERs with wrong digest credentials from a forged source, sent through a raw socket
/// (IP_HDRINCL: the kernel fills the checksum, the test writes the source).
const SPOOF: &str = r#"
import socket, struct, sys
forged, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for i in range(n):
    msg = ("REGISTER sip:%s SIP/2.0\r\nVia: SIP/2.0/UDP %s:5060;branch=z9hG4bKspoof%d\r\n"
           "From: <sip:100@%s>;tag=s%d\r\nTo: <sip:100@%s>\r\nCall-ID: spoof-%d\r\nCSeq: 1 REGISTER\r\n"
           "Max-Forwards: 70\r\nUser-Agent: friendly-scanner\r\nAuthorization: Digest username=\"100\", "
           "realm=\"asterisk\", nonce=\"00000000\", uri=\"sip:%s\", response=\"00000000000000000000000000000000\"\r\n"
           "Content-Length: 0\r\n\r\n") % (dst, forged, i, dst, i, dst, i, dst)
    payload = msg.encode()
    udp = struct.pack("!HHHH", 5060, 5060, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xFFFF, 0, 64, 17, 0,
                     socket.inet_aton(forged), socket.inet_aton(dst))
    s.sendto(ip + udp, (dst, 0))
print(n)
"#;

const FORGED: &str = "198.18.0.9";

#[test]
fn svcrack_is_banned_the_allowlisted_and_the_spoofed_are_not_and_the_ban_ends() {
    let Some(lab) = Lab::create("e2e", 3) else { return };
    // The forged source must reach the honeypot: no reverse-path filter in the server.
    for sysctl in ["net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0", "net.ipv4.conf.c2.rp_filter=0"]
    {
        let out = lab.output(&lab.server, "sysctl", &["-w", sysctl]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let extra = format!(
        "[rules]\nenabled = true\n\
         [decisions]\nenabled = true\nallowlist = [\"10.225.3.0/24\"]\nbase_duration_seconds = 30\nmax_duration_seconds = 30\n\
         [enforce]\nnftables = true\ntable = \"{TABLE}\"\nreconcile_seconds = 1\n\
         [limits]\nper_source_rate = 10000.0\nper_source_burst = 10000.0\n"
    );
    let mut hp = Honeypot::start_in(Some(&lab.server), &[("udp", "0.0.0.0", 5060)], &extra);
    // Extension 200's password ("password") is not in the range: svcrack guesses 302 times
    // (the user name first, then 5000-5300) unless it is stopped.
    let svcrack = |i: usize| {
        let target = server_v4(i);
        lab.output(&lab.clients[i - 1], "sipvicious_svcrack", &["-u200", "-r5000-5300", &target])
    };
    // svmap's OPTIONS: whether the honeypot answers client `i`.
    let answered = |i: usize| {
        let out = lab.output(&lab.clients[i - 1], "sipvicious_svmap", &[&server_v4(i)]);
        text(&out).contains(&format!("{}:5060", server_v4(i)))
    };
    let refused = |hp: &Honeypot, client: &str| {
        hp.count(&format!(
            "SELECT count(*) FROM events WHERE direction = 'out' AND status = 403 AND dst_ip = '{client}'"
        ))
    };

    // Client 1: guessing until banned; then its packets are dropped and it hears nothing.
    let out = svcrack(1);
    let attacker = client_v4(1);
    let banned: Vec<String> = lab.elements(TABLE, "ban_v4").into_iter().map(|e| e.0).collect();
    assert!(banned.contains(&format!("\"{attacker}\"")), "{banned:?}\n{}", text(&out));
    assert!(lab.counter(TABLE, "banned_v4") > 0, "svcrack's later packets were dropped");
    assert!(!answered(1), "nothing reaches the honeypot from the banned source");

    // Client 3 (allowlisted): the same attack runs to its end, answered all along.
    svcrack(3);
    let allowed = client_v4(3);
    let banned: Vec<String> = lab.elements(TABLE, "ban_v4").into_iter().map(|e| e.0).collect();
    assert!(!banned.iter().any(|b| b.contains(&allowed)), "{banned:?}");

    // Client 2: a flood with a forged source raises alerts but no ban (never proven).
    let out = lab.output(&lab.clients[1], "python3", &["-c", SPOOF, FORGED, &server_v4(2), "600"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let banned: Vec<String> = lab.elements(TABLE, "ban_v4").into_iter().map(|e| e.0).collect();
    assert!(!banned.iter().any(|b| b.contains(FORGED)), "{banned:?}");

    // The ban ends by itself; client 1 is answered again.
    assert!(
        lab.wait_until(90, || !lab.elements(TABLE, "ban_v4").iter().any(|e| e.0.contains(&attacker))),
        "the ban expired"
    );
    assert!(answered(1), "answered again once the ban expired");

    hp.stop();
    assert!(refused(&hp, &attacker) < 302, "svcrack was stopped: {}", refused(&hp, &attacker));
    assert_eq!(refused(&hp, &allowed), 302, "the allowlisted attack ran to its end");
    let spoofed_alerts = hp.count(&format!("SELECT count(*) FROM alerts WHERE src_ip = '{FORGED}'"));
    assert!(spoofed_alerts > 0, "the flood raised alerts");
    let spoofed_bans = hp.count(&format!("SELECT count(*) FROM decisions WHERE kind = 'ban' AND address = '{FORGED}'"));
    assert_eq!(spoofed_bans, 0);

    // Flush: every decision ended, the table deleted.
    let db = hp.dir.path().join("hp.db");
    let out =
        lab.output(&lab.server, SIPSCOPE, &["decisions", "--db", db.to_str().unwrap(), "flush", "--nftables", TABLE]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!lab.tables().contains(&format!("inet {TABLE}")), "{:?}", lab.tables());
}
