//! A PostgreSQL server of the test's own (initdb + postgres as the `postgres` user, in a
//! directory it owns, on 127.0.0.1 at a port of 55432–55441: 55432 the full disk's, 55433 the
//! TLS test's, 55440 the three-sensor test's, 55441 the full collector database's), stopped and
//! removed when dropped: for tests that fill its disk, stop it or configure it their way.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const BIN: &str = "/usr/lib/postgresql/15/bin";

pub(crate) struct OwnServer {
    pub port: u16,
    child: Option<Child>,
    data: PathBuf,
}

/// Runs `program` as the `postgres` user (initdb refuses root).
fn as_postgres(program: &str) -> Command {
    let mut c = Command::new("runuser");
    c.args(["-u", "postgres", "--", program]);
    c
}

impl OwnServer {
    /// Initialises a cluster in `dir/data` (small WAL segments, no fsync) and starts it on
    /// `port`; `None` (the test says it is skipped) where that is not possible.
    pub fn start(dir: &Path, port: u16) -> Option<OwnServer> {
        Self::start_with(dir, port, |_| Ok(()), &[])
    }

    /// [`OwnServer::start`], with `setup` run on the data directory after initdb (files it
    /// writes there must be handed to the `postgres` user) and `extra` server arguments.
    pub fn start_with(
        dir: &Path,
        port: u16,
        setup: impl FnOnce(&Path) -> std::io::Result<()>,
        extra: &[&str],
    ) -> Option<OwnServer> {
        let ok = Command::new("chown").args(["postgres:postgres"]).arg(dir).status().is_ok_and(|s| s.success());
        if !ok {
            eprintln!("SKIPPED: cannot hand {} to the postgres user", dir.display());
            return None;
        }
        let data = dir.join("data");
        let init = as_postgres(&format!("{BIN}/initdb"))
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "--wal-segsize=1", "-D"])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .ok()?;
        if !init.status.success() {
            eprintln!("SKIPPED: initdb failed: {}", String::from_utf8_lossy(&init.stderr));
            return None;
        }
        if let Err(e) = setup(&data) {
            eprintln!("SKIPPED: setting the server up: {e}");
            return None;
        }
        let child = as_postgres(&format!("{BIN}/postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .args(["-c", "min_wal_size=2MB", "-c", "max_wal_size=4MB"])
            .args(extra)
            .arg("-k")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let server = OwnServer { port, child: Some(child), data };
        for _ in 0..100 {
            let ready = Command::new(format!("{BIN}/pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return Some(server);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        eprintln!("SKIPPED: the server on port {port} did not start");
        None
    }

    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        // A fast shutdown by pg_ctl; then make sure the process is gone.
        let _ = as_postgres(&format!("{BIN}/pg_ctl"))
            .args(["stop", "-m", "immediate", "-D"])
            .arg(&self.data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
