//! The three-sensor lab of `three_sensors.rs`: network namespaces the test creates and deletes,
//! a broker and honeypots inside them. A hub namespace holds a bridge (10.216.0.1/24) that
//! joins three sensor namespaces (10.216.0.11–13) and two attacker namespaces (10.216.0.100 and
//! .101), and a veth pair to the root namespace (root 10.216.255.1/30, hub 10.216.255.2/30)
//! through which the collector, running in the root namespace, reaches the broker. The broker
//! (`nats-server -js`, port 14230, its store in a temporary folder) runs in the hub, so nothing
//! listens outside the namespaces but the test's own PostgreSQL on 127.0.0.1.
//! Needs root and `ip netns`: `create` says why and returns `None` without them.

use crate::netns::{exec, first_namespace, ip, run};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const SIPSCOPE: &str = env!("CARGO_BIN_EXE_sipscope");
/// The broker's port (in the hub namespace).
pub const BROKER_PORT: u16 = 14230;
/// The hub's address on the bridge: the sensors' broker.
pub const HUB: &str = "10.216.0.1";
/// The hub's address towards the root namespace: the collector's broker.
pub const HUB_FROM_ROOT: &str = "10.216.255.2";
/// The attackers' addresses (attacker 1 hits sensors 1 and 3).
pub const ATTACKERS: [&str; 2] = ["10.216.0.100", "10.216.0.101"];

/// Sensor `i`'s (1–3) address.
pub fn sensor_addr(i: usize) -> String {
    format!("10.216.0.1{i}")
}

pub struct Lab {
    pub hub: String,
    pub sensors: Vec<String>,
    pub attackers: Vec<String>,
}

impl Lab {
    pub fn create() -> Option<Lab> {
        let pid = std::process::id();
        let hub = format!("n216-{pid}-hub");
        if !first_namespace(&hub) {
            return None;
        }
        let mut lab = Lab { hub, sensors: Vec::new(), attackers: Vec::new() };
        let hub = lab.hub.clone();
        ip(&["-n", &hub, "link", "set", "lo", "up"]);
        ip(&["-n", &hub, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &hub, "addr", "add", &format!("{HUB}/24"), "dev", "br0"]);
        ip(&["-n", &hub, "link", "set", "br0", "up"]);
        // The root namespace's end: a name of at most 15 bytes, unique per test process.
        let root_end = format!("n216r{}", pid % 10_000_000);
        ip(&["link", "add", &root_end, "type", "veth", "peer", "name", "up0", "netns", &hub]);
        ip(&["addr", "add", "10.216.255.1/30", "dev", &root_end]);
        ip(&["link", "set", &root_end, "up"]);
        ip(&["-n", &hub, "addr", "add", &format!("{HUB_FROM_ROOT}/30"), "dev", "up0"]);
        ip(&["-n", &hub, "link", "set", "up0", "up"]);
        let mut joined = Vec::new();
        for i in 1..=3 {
            joined.push((format!("n216-{pid}-s{i}"), format!("s{i}"), sensor_addr(i)));
        }
        for (i, addr) in ATTACKERS.iter().enumerate() {
            joined.push((format!("n216-{pid}-a{}", i + 1), format!("a{}", i + 1), addr.to_string()));
        }
        for (ns, port, addr) in joined {
            ip(&["netns", "add", &ns]);
            if port.starts_with('s') {
                lab.sensors.push(ns.clone());
            } else {
                lab.attackers.push(ns.clone());
            }
            ip(&["-n", &hub, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &ns]);
            ip(&["-n", &hub, "link", "set", &port, "master", "br0"]);
            ip(&["-n", &hub, "link", "set", &port, "up"]);
            ip(&["-n", &ns, "addr", "add", &format!("{addr}/24"), "dev", "eth0"]);
            ip(&["-n", &ns, "link", "set", "eth0", "up"]);
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
        }
        Some(lab)
    }

    /// Runs `program args` in `ns`, bounded to `limit_s` seconds; its output.
    pub fn output(&self, ns: &str, limit_s: u32, program: &str, args: &[&str]) -> Output {
        let limit = limit_s.to_string();
        let mut all = vec!["netns", "exec", ns, "timeout", &limit, program];
        all.extend_from_slice(args);
        run("ip", &all)
    }

    /// Drops (or, with `blocked` false, lets through again) every packet between sensor `i`
    /// and the broker, in the sensor's namespace (a table of the test's own).
    pub fn block_broker(&self, i: usize, blocked: bool) {
        let ns = &self.sensors[i - 1];
        let args: Vec<String> = if blocked {
            let rules = format!(
                "table inet n216block {{ chain out {{ type filter hook output priority 0; \
                 ip daddr {HUB} tcp dport {BROKER_PORT} drop; }}; chain inp {{ type filter hook input priority 0; \
                 ip saddr {HUB} tcp sport {BROKER_PORT} drop; }}; }}"
            );
            vec![rules]
        } else {
            ["delete", "table", "inet", "n216block"].map(String::from).to_vec()
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.output(ns, 10, "nft", &args);
        assert!(out.status.success(), "nft {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Deleting a namespace deletes its veth ends, the root's among them.
        for ns in self.sensors.iter().chain(&self.attackers).chain(std::iter::once(&self.hub)) {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

/// `nats-server -js` in the hub namespace on every hub address, its store in a folder that
/// outlives restarts.
pub struct HubBroker {
    ns: String,
    pub dir: tempfile::TempDir,
    child: Option<Child>,
}

impl HubBroker {
    /// `None` (after saying why) when nats-server is not installed.
    pub fn start(ns: &str) -> Option<HubBroker> {
        if !std::path::Path::new(super::broker::SERVER).exists() {
            eprintln!("SKIPPED: {} is not installed", super::broker::SERVER);
            return None;
        }
        let mut b = HubBroker { ns: ns.to_owned(), dir: tempfile::tempdir().unwrap(), child: None };
        b.restart();
        Some(b)
    }

    /// The broker as the sensors see it.
    pub fn sensor_url() -> String {
        format!("nats://{HUB}:{BROKER_PORT}")
    }

    /// The broker as the collector (root namespace) sees it.
    pub fn url() -> String {
        format!("nats://{HUB_FROM_ROOT}:{BROKER_PORT}")
    }

    /// Starts it (again, on the same store); returns once it accepts connections.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let store = self.dir.path().join("js");
        let child = exec(&self.ns, super::broker::SERVER)
            .args(["-js", "-a", "0.0.0.0", "-p", &BROKER_PORT.to_string(), "-sd"])
            .arg(&store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect((HUB_FROM_ROOT, BROKER_PORT)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills it with SIGKILL (`ip netns exec` execs: the child is nats-server).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for HubBroker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `sipscope honeypot` as sensor `s<i>` in its namespace, listening on UDP 5060, publishing
/// its store to the broker; `extra` TOML is appended to its configuration.
pub struct Sensor {
    pub name: String,
    pub dir: tempfile::TempDir,
    ns: String,
    config: String,
    child: Option<Child>,
}

impl Sensor {
    pub fn start(lab: &Lab, i: usize, extra: &str) -> Sensor {
        let dir = tempfile::tempdir().unwrap();
        let name = format!("s{i}");
        let config = format!(
            "sensor = \"{name}\"\nstore = \"{}\"\nhuman_log = \"{}\"\n\
             [[extension]]\nuser = \"100\"\npassword = \"100\"\n\
             [[extension]]\nuser = \"200\"\npassword = \"password\"\n\
             [[listen]]\ntransport = \"udp\"\naddress = \"{}\"\nport = 5060\n\
             [limits]\nper_source_rate = 10000.0\nper_source_burst = 10000.0\n\
             [nats]\nurl = \"{}\"\n{extra}",
            dir.path().join("hp.db").display(),
            dir.path().join("human.log").display(),
            sensor_addr(i),
            HubBroker::sensor_url(),
        );
        let mut s = Sensor { name, dir, ns: lab.sensors[i - 1].clone(), config, child: None };
        s.launch();
        s
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("hp.db")
    }

    /// Starts it (again, on the same store); returns once it listens.
    pub fn launch(&mut self) {
        assert!(self.child.is_none(), "already running");
        let path = self.dir.path().join("hp.toml");
        std::fs::write(&path, &self.config).unwrap();
        let before = self.log().matches(" profile ").count();
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path()).unwrap();
        let child = exec(&self.ns, SIPSCOPE)
            .args(["honeypot", "--json", "--config"])
            .arg(&path)
            .env("SIPSCOPE_LOG", "info")
            .stdout(std::fs::File::create(self.dir.path().join("summary.json")).unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.log().matches(" profile ").count() == before {
            if Instant::now() > deadline {
                self.stop_raw();
                panic!("sensor {} did not start: {}", self.name, self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("stderr.log")
    }

    /// Its exit summary (JSON) and the end of its human log, for failure messages.
    pub fn summary(&self) -> String {
        let human = std::fs::read_to_string(self.dir.path().join("human.log")).unwrap_or_default();
        let tail: Vec<&str> = human.lines().rev().take(8).collect();
        let summary = std::fs::read_to_string(self.dir.path().join("summary.json")).unwrap_or_default();
        format!("{summary}\nhuman log, last lines first: {tail:#?}")
    }

    /// Everything it logged, across restarts.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn stop_raw(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let _ = child.wait();
        }
    }

    /// Stops it with SIGTERM (its store flushed, its outbox drained for a while).
    pub fn stop(&mut self) {
        let mut child = self.child.take().expect("running");
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let status = child.wait().unwrap();
        assert!(status.success(), "sensor {} exited with {status}: {}", self.name, self.log());
    }

    /// The first column of a query's rows as text (failure messages).
    pub fn texts(&self, sql: &str) -> Vec<String> {
        let conn = rusqlite::Connection::open(self.db()).unwrap();
        let mut stmt = conn.prepare(sql).unwrap();
        stmt.query_map([], |r| r.get::<_, String>(0)).unwrap().map(Result::unwrap).collect()
    }

    /// A single number from a query on its store (committed rows).
    pub fn count(&self, sql: &str) -> i64 {
        rusqlite::Connection::open(self.db()).unwrap().query_row(sql, [], |r| r.get(0)).unwrap()
    }
}

impl Drop for Sensor {
    fn drop(&mut self) {
        self.stop_raw();
    }
}
