//! A NATS server with JetStream of the test's own (`/usr/sbin/nats-server`), on a port of
//! 14222–14229 and a store in a temporary folder, so that a test can kill and restart it.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SERVER: &str = "/usr/sbin/nats-server";

pub struct Broker {
    pub port: u16,
    pub dir: tempfile::TempDir,
    args: Vec<String>,
    child: Option<Child>,
}

impl Broker {
    /// `None` (after saying why) when nats-server is not installed.
    pub fn start(port: u16, extra: &[&str]) -> Option<Broker> {
        if !std::path::Path::new(SERVER).exists() {
            eprintln!("skipping: {SERVER} is not installed");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut b = Broker { port, dir, args: extra.iter().map(|s| s.to_string()).collect(), child: None };
        b.restart();
        Some(b)
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts it (again, with the same store); returns once it accepts connections.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        assert!(TcpStream::connect(("127.0.0.1", self.port)).is_err(), "port {} is taken by another server", self.port);
        let store = self.dir.path().join("js");
        let child = Command::new(SERVER)
            .args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string(), "-sd"])
            .arg(&store)
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not start on port {}", self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills it with SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}
