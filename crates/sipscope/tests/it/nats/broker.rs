//! A NATS server with JetStream of the test's own (`/usr/sbin/nats-server`), on a port of
//! 14222–14239 and a store in a temporary folder, so that a test can kill and restart it.

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

    /// Like [`Broker::start`], configured by a file holding `config` (an `authorization`
    /// block …) with the listen address and JetStream's store added, so that
    /// [`Broker::reconfigure`] can change it: the server reloads only what its file says.
    pub fn start_with_config(port: u16, config: &str) -> Option<Broker> {
        if !std::path::Path::new(SERVER).exists() {
            eprintln!("skipping: {SERVER} is not installed");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("nats.conf");
        let mut b = Broker { port, dir, args: vec!["-c".into(), file.to_str().unwrap().to_owned()], child: None };
        b.write_config(config);
        b.restart();
        Some(b)
    }

    fn write_config(&self, config: &str) {
        let text = format!(
            "{config}
listen: \"127.0.0.1:{}\"\njetstream {{\n  store_dir: \"{}\"\n}}\n",
            self.port,
            self.dir.path().join("js").display()
        );
        std::fs::write(self.dir.path().join("nats.conf"), text).unwrap();
    }

    /// Rewrites the configuration of a broker of [`Broker::start_with_config`] and reloads it
    /// (SIGHUP), as an operator who fixed a permission would.
    pub fn reconfigure(&self, config: &str) {
        self.write_config(config);
        let child = self.child.as_ref().expect("running");
        let status = Command::new("kill").args(["-HUP", &child.id().to_string()]).status().unwrap();
        assert!(status.success());
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts it (again, with the same store); returns once it accepts connections.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        assert!(TcpStream::connect(("127.0.0.1", self.port)).is_err(), "port {} is taken by another server", self.port);
        let store = self.dir.path().join("js");
        let mut command = Command::new(SERVER);
        if self.args.first().is_none_or(|a| a != "-c") {
            command.args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string(), "-sd"]).arg(&store);
        }
        let child = command.args(&self.args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
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
