//! Network namespaces for the enforcement tests: a server namespace joined to each client
//! namespace by a veth pair (client i: 10.225.i.2/24 and fd00:225:i::2/64 on `eth0`; the
//! server 10.225.i.1 and fd00:225:i::1 on `c{i}`), all named `sf…` and deleted on drop, so
//! no packet leaves them and no firewall outside them changes. Needs root and `ip netns`:
//! `create` says why and returns `None` without them. Helpers run nft, conntrack, a UDP echo
//! responder and a UDP prober inside them.

use crate::netns::{exec, first_namespace, ip, run};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub const SIPSCOPE: &str = env!("CARGO_BIN_EXE_sipscope");

/// The server's address towards client `i`.
pub fn server_v4(i: usize) -> String {
    format!("10.225.{i}.1")
}
pub fn server_v6(i: usize) -> String {
    format!("fd00:225:{i}::1")
}
/// Client `i`'s address.
pub fn client_v4(i: usize) -> String {
    format!("10.225.{i}.2")
}
pub fn client_v6(i: usize) -> String {
    format!("fd00:225:{i}::2")
}

pub struct Lab {
    pub server: String,
    pub clients: Vec<String>,
    children: Vec<Child>,
}

impl Lab {
    /// A server and `clients` client namespaces; `tag` keeps tests running at once apart.
    pub fn create(tag: &str, clients: usize) -> Option<Lab> {
        let pid = std::process::id();
        let server = format!("sf{pid}-{tag}-s");
        if !first_namespace(&server) {
            return None;
        }
        let mut lab = Lab { server, clients: Vec::new(), children: Vec::new() };
        ip(&["-n", &lab.server, "link", "set", "lo", "up"]);
        for i in 1..=clients {
            let client = format!("sf{pid}-{tag}-c{i}");
            ip(&["netns", "add", &client]);
            lab.clients.push(client.clone());
            let dev = format!("c{i}");
            ip(&["-n", &lab.server, "link", "add", &dev, "type", "veth", "peer", "name", "eth0", "netns", &client]);
            for (ns, dev, v4, v6) in
                [(&lab.server, dev.as_str(), server_v4(i), server_v6(i)), (&client, "eth0", client_v4(i), client_v6(i))]
            {
                ip(&["-n", ns, "addr", "add", &format!("{v4}/24"), "dev", dev]);
                ip(&["-n", ns, "addr", "add", &format!("{v6}/64"), "dev", dev, "nodad"]);
                ip(&["-n", ns, "link", "set", dev, "up"]);
                ip(&["-n", ns, "link", "set", "lo", "up"]);
            }
        }
        Some(lab)
    }

    /// A command run inside namespace `ns`.
    pub fn exec(&self, ns: &str, program: &str) -> Command {
        exec(ns, program)
    }

    /// Runs `program args` in `ns` (bounded to 60 s); returns its output.
    pub fn output(&self, ns: &str, program: &str, args: &[&str]) -> std::process::Output {
        let mut all = vec!["netns", "exec", ns, "timeout", "60", program];
        all.extend_from_slice(args);
        run("ip", &all)
    }

    /// `nft args` in the server namespace, which must succeed; its standard output.
    pub fn nft(&self, args: &[&str]) -> String {
        let out = self.output(&self.server, "nft", args);
        assert!(out.status.success(), "nft {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The tables in the server namespace (`family name`).
    pub fn tables(&self) -> Vec<String> {
        let v: Value = serde_json::from_str(&self.nft(&["-j", "list", "tables"])).unwrap();
        v["nftables"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|o| o.get("table"))
            .map(|t| format!("{} {}", t["family"].as_str().unwrap(), t["name"].as_str().unwrap()))
            .collect()
    }

    /// Packets a named counter of `table` counted.
    pub fn counter(&self, table: &str, name: &str) -> u64 {
        let v: Value = serde_json::from_str(&self.nft(&["-j", "list", "counter", "inet", table, name])).unwrap();
        let c = v["nftables"].as_array().unwrap().iter().find_map(|o| o.get("counter")).unwrap().clone();
        c["packets"].as_u64().unwrap()
    }

    /// The elements of a set: `(value as JSON text, timeout, expires)`.
    pub fn elements(&self, table: &str, set: &str) -> Vec<(String, u64, u64)> {
        let v: Value = serde_json::from_str(&self.nft(&["-j", "list", "set", "inet", table, set])).unwrap();
        let s = v["nftables"].as_array().unwrap().iter().find_map(|o| o.get("set")).unwrap().clone();
        let Some(elems) = s.get("elem").and_then(Value::as_array) else { return Vec::new() };
        elems
            .iter()
            .map(|e| match e.get("elem") {
                Some(body) => (
                    body["val"].to_string(),
                    body["timeout"].as_u64().unwrap_or(0),
                    body["expires"].as_u64().unwrap_or(0),
                ),
                None => (e.to_string(), 0, 0),
            })
            .collect()
    }

    /// `sipscope enforce reconcile` in the server namespace with these decisions (TOML);
    /// returns what it installed (JSON).
    pub fn enforce(&self, table: &str, decisions: &str) -> Value {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), decisions).unwrap();
        let path = file.path().to_str().unwrap();
        let out = self.output(&self.server, SIPSCOPE, &["enforce", "reconcile", "--table", table, path]);
        assert!(out.status.success(), "enforce: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// `sipscope enforce remove` in the server namespace.
    pub fn remove(&self, table: &str) {
        let out = self.output(&self.server, SIPSCOPE, &["enforce", "remove", "--table", table]);
        assert!(out.status.success(), "enforce remove: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Starts a UDP echo responder on the server (every address, port 5060, both families).
    pub fn start_responder(&mut self) {
        const ECHO: &str = r#"
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", 5060))
print("ready", flush=True)
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(data, peer)
"#;
        let mut child = self.exec(&self.server, "python3").args(["-c", ECHO]).stdout(Stdio::piped()).spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready");
        self.children.push(child);
    }

    /// Sends `count` datagrams from `src`:`sport` in client namespace `ns` to the responder at
    /// `dst`:5060; returns how many were answered within `wait` seconds of the last.
    pub fn probe(&self, ns: &str, src: &str, sport: u16, dst: &str, count: u32, wait: f64) -> u32 {
        const PROBE: &str = r#"
import socket, sys, time
src, sport, dst, n, wait = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
s = socket.socket(socket.AF_INET6 if ":" in dst else socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((src, sport))
for i in range(n):
    s.sendto(b"probe %d" % i, (dst, 5060))
got, end = 0, time.monotonic() + wait
while got < n:
    left = end - time.monotonic()
    if left <= 0:
        break
    s.settimeout(left)
    try:
        s.recvfrom(2048)
        got += 1
    except socket.timeout:
        break
print(got)
"#;
        let (sport, count, wait) = (sport.to_string(), count.to_string(), wait.to_string());
        let out = self.output(ns, "python3", &["-c", PROBE, src, &sport, dst, &count, &wait]);
        assert!(out.status.success(), "probe: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    }

    /// Makes the server track connections (a `ct state` rule in a table of the test's own), as
    /// any stateful firewall does.
    pub fn track_connections(&self) {
        let ruleset = "table inet sftrack { chain input { type filter hook input priority 0; \
                       ct state established,related counter accept; }; }";
        let out = self.output(&self.server, "nft", &[ruleset]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    /// Connection-tracking entries in the server namespace whose original source is `src`.
    pub fn flows_from(&self, src: &str) -> usize {
        let family = if src.contains(':') { "ipv6" } else { "ipv4" };
        let out = self.output(&self.server, "conntrack", &["-L", "-f", family, "-s", src]);
        assert!(out.status.success(), "conntrack -L: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.trim().is_empty()).count()
    }

    /// Waits (at most `limit_s` seconds, polling) until `done` holds; whether it did.
    pub fn wait_until(&self, limit_s: u64, mut done: impl FnMut() -> bool) -> bool {
        let end = std::time::Instant::now() + std::time::Duration::from_secs(limit_s);
        while std::time::Instant::now() < end {
            if done() {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        done()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Deleting a namespace deletes its veth ends (and with them the pairs) and its tables.
        for ns in self.clients.iter().chain(std::iter::once(&self.server)) {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}
