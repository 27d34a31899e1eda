//! Two network namespaces joined by a veth pair (A: veth0 10.213.0.1/30, B: veth1
//! 10.213.0.2/30), created by a test and deleted when it ends, so that no packet leaves them.
//! Needs root and `ip netns`: `create` says why and returns `None` without them.

use std::process::Command;

pub const A_ADDR: &str = "10.213.0.1";
pub const B_ADDR: &str = "10.213.0.2";

pub fn run(program: &str, args: &[&str]) -> std::process::Output {
    Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program} {args:?}: {e}"))
}

pub fn ip(args: &[&str]) {
    let out = run("ip", args);
    assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Uid:").map(|u| u.split_whitespace().next() == Some("0"))))
        .unwrap_or(false)
}

/// Two namespaces joined by a veth pair; deleted (with the pair) on drop, even when a test fails.
pub struct Namespaces {
    pub a: String,
    pub b: String,
}

impl Namespaces {
    /// `None` (after saying why) when this is not root or `ip netns` does not work here.
    /// `tag` keeps the names of tests running at the same time apart.
    pub fn create(tag: &str) -> Option<Namespaces> {
        let pid = std::process::id();
        Namespaces::create_named(format!("sipscope-test-{pid}-{tag}-a"), format!("sipscope-test-{pid}-{tag}-b"))
    }

    /// Like [`Namespaces::create`], with names of the caller's choosing (a test that must keep
    /// to a prefix of its own).
    pub fn create_named(a: String, b: String) -> Option<Namespaces> {
        if !first_namespace(&a) {
            return None;
        }
        let ns = Namespaces { a, b };
        ip(&["netns", "add", &ns.b]);
        ip(&["-n", &ns.a, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1", "netns", &ns.b]);
        for (name, dev, addr) in [(&ns.a, "veth0", A_ADDR), (&ns.b, "veth1", B_ADDR)] {
            ip(&["-n", name, "addr", "add", &format!("{addr}/30"), "dev", dev]);
            ip(&["-n", name, "link", "set", dev, "up"]);
            ip(&["-n", name, "link", "set", "lo", "up"]);
        }
        Some(ns)
    }

    pub fn exec(&self, ns: &str, program: &str) -> Command {
        exec(ns, program)
    }
}

/// `program` run inside namespace `ns`.
pub fn exec(ns: &str, program: &str) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns, program]);
    cmd
}

/// Adds a test's first namespace; `false` (after saying why the test is skipped) when this is
/// not root or `ip netns` does not work here.
pub fn first_namespace(name: &str) -> bool {
    if !is_root() {
        eprintln!("skipping: not root (live capture, network namespaces and nftables need it)");
        return false;
    }
    match Command::new("ip").args(["netns", "add", name]).output() {
        Ok(out) if out.status.success() => true,
        Ok(out) => {
            eprintln!("skipping: ip netns unavailable: {}", String::from_utf8_lossy(&out.stderr).trim());
            false
        }
        Err(e) => {
            eprintln!("skipping: ip netns unavailable: {e}");
            false
        }
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth end in it, and with it the pair.
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}
