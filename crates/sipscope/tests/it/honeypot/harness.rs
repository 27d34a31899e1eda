//! Runs `sipscope honeypot` as a child process on loopback addresses a test picks, stops it with
//! SIGTERM (which must flush every event), and reads its store.

use rusqlite::Connection;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running honeypot.
pub struct Honeypot {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    stderr: Option<std::thread::JoinHandle<String>>,
}

/// One listener: transport, address, port.
pub type Listen<'a> = (&'a str, &'a str, u16);

impl Honeypot {
    /// Starts a honeypot listening on `listen`, with `extra` TOML appended to the configuration
    /// (extensions, profile, limits …). Returns once every listener is bound.
    pub fn start(listen: &[Listen<'_>], extra: &str) -> Honeypot {
        Honeypot::start_in(None, listen, extra)
    }

    /// Like [`Honeypot::start`], inside network namespace `netns` when given.
    pub fn start_in(netns: Option<&str>, listen: &[Listen<'_>], extra: &str) -> Honeypot {
        Honeypot::launch(tempfile::tempdir().unwrap(), netns, listen, extra)
    }

    /// Starts a honeypot again in the folder of an earlier one (its store, its logs).
    pub fn start_again(dir: tempfile::TempDir, listen: &[Listen<'_>], extra: &str) -> Honeypot {
        Honeypot::launch(dir, None, listen, extra)
    }

    /// Kills it with SIGKILL (as the OOM killer would); returns its folder.
    pub fn kill(mut self) -> tempfile::TempDir {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.stderr.take().map(|h| h.join());
        std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap())
    }

    fn launch(dir: tempfile::TempDir, netns: Option<&str>, listen: &[Listen<'_>], extra: &str) -> Honeypot {
        // Top-level keys of `extra` (before its first table) go first, its tables last.
        let split = if extra.starts_with('[') { 0 } else { extra.find("\n[").map(|i| i + 1).unwrap_or(extra.len()) };
        let (extra_top, extra) = extra.split_at(split);
        let mut config =
            format!("{extra_top}\nsensor = \"test\"\nhuman_log = \"{}\"\n", dir.path().join("human.log").display());
        // A test may put the store elsewhere (`store = …` in `extra`).
        if !extra_top.contains("store =") {
            config.push_str(&format!("store = \"{}\"\n", dir.path().join("hp.db").display()));
        }
        if !extra.contains("[[extension]]") {
            config.push_str("[[extension]]\nuser = \"100\"\npassword = \"100\"\n[[extension]]\nuser = \"101\"\npassword = \"1234\"\n");
            config.push_str("[[extension]]\nuser = \"200\"\npassword = \"password\"\n");
            config.push_str("[[extension]]\nuser = \"999\"\npassword = \"999\"\nenabled = false\n");
        }
        for (transport, address, port) in listen {
            config.push_str(&format!(
                "[[listen]]\ntransport = \"{transport}\"\naddress = \"{address}\"\nport = {port}\n"
            ));
        }
        // Extra last: it may open tables ([limits], [intel]).
        config.push_str(extra);
        let path = dir.path().join("hp.toml");
        std::fs::write(&path, config).unwrap();
        // `ip netns exec` execs the program, so the child's pid is the honeypot's.
        let mut command = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, env!("CARGO_BIN_EXE_sipscope")]);
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_sipscope")),
        };
        let mut child = command
            .args(["honeypot", "--json", "--config"])
            .arg(&path)
            .env("SIPSCOPE_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (ready_tx, ready_rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut all = String::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains(" profile ") {
                    let _ = ready_tx.send(());
                }
                all.push_str(&line);
                all.push('\n');
            }
            all
        });
        let mut hp = Honeypot { child: Some(child), dir, stderr: Some(reader) };
        if ready_rx.recv_timeout(Duration::from_secs(20)).is_err() {
            let out = hp.stop_raw();
            panic!("honeypot did not start: {out}");
        }
        hp
    }

    fn stop_raw(&mut self) -> String {
        let Some(mut child) = self.child.take() else { return String::new() };
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let _ = child.wait();
        self.stderr.take().map(|h| h.join().unwrap_or_default()).unwrap_or_default()
    }

    /// Stops it with SIGTERM; returns the exit summary (JSON) and its log.
    pub fn stop(&mut self) -> (serde_json::Value, String) {
        let child = self.child.take().expect("running");
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let out = child.wait_with_output().unwrap();
        let log = self.stderr.take().map(|h| h.join().unwrap_or_default()).unwrap_or_default();
        assert!(out.status.success(), "honeypot exited with {}: {log}", out.status);
        let summary = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("summary: {e}: {log}"));
        (summary, log)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// The store (read after [`Honeypot::stop`], or while running: committed rows).
    pub fn db(&self) -> Connection {
        Connection::open(self.dir.path().join("hp.db")).unwrap()
    }

    /// The human log written so far.
    pub fn human_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("human.log")).unwrap_or_default()
    }

    /// Rows of a query as strings (NULL as "NULL").
    pub fn rows(&self, sql: &str) -> Vec<Vec<String>> {
        rows_of(&self.db(), sql)
    }

    /// A single number from a query.
    pub fn count(&self, sql: &str) -> i64 {
        self.db().query_row(sql, [], |r| r.get(0)).unwrap()
    }
}

/// Rows of a query on `db` as strings (NULL as "NULL").
pub fn rows_of(db: &Connection, sql: &str) -> Vec<Vec<String>> {
    use rusqlite::types::ValueRef;
    let mut stmt = db.prepare(sql).unwrap();
    let n = stmt.column_count();
    stmt.query_map([], |r| {
        (0..n)
            .map(|i| {
                Ok(match r.get_ref(i)? {
                    ValueRef::Null => "NULL".to_owned(),
                    ValueRef::Integer(v) => v.to_string(),
                    ValueRef::Real(v) => v.to_string(),
                    ValueRef::Text(t) | ValueRef::Blob(t) => String::from_utf8_lossy(t).into_owned(),
                })
            })
            .collect()
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

impl Drop for Honeypot {
    fn drop(&mut self) {
        self.stop_raw();
    }
}

/// nmap's SIP scripts as the lab runs them (the target follows): the methods, and extensions
/// 100 to 105.
pub const NMAP_SIP_SCRIPTS: [&str; 8] = [
    "-n",
    "-Pn",
    "-sU",
    "-p5060",
    "--script",
    "sip-methods,sip-enum-users",
    "--script-args",
    "sip-enum-users.minext=100,sip-enum-users.maxext=105",
];

/// Runs a tool with a hard time limit; returns its output.
pub fn tool(program: &str, args: &[&str], limit_s: u32) -> Output {
    Command::new("timeout")
        .arg(limit_s.to_string())
        .arg(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e} (scripts/test.sh installs the test tools)"))
}

/// stdout and stderr of a tool run, as one text.
pub fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Runs scripts/sipp/register-then-call.xml once: extension 100 (password 100) registers from
/// `local_ip`:5071 and calls `number` at `target` (`ip:port`).
pub fn sipp_register_then_call(number: &str, local_ip: &str, target: &str) -> Output {
    sipp_scenario("register-then-call.xml", number, local_ip, target)
}

/// Runs one call of the SIPp scenario `file` (in scripts/sipp/) as extension 100 (password
/// 100, `[caller]` in the scenario) from `local_ip`:5071 to `number` at `target` (`ip:port`).
pub fn sipp_scenario(file: &str, number: &str, local_ip: &str, target: &str) -> Output {
    let scenario = format!("{}/../../scripts/sipp/{file}", env!("CARGO_MANIFEST_DIR"));
    let args = [
        "-sf", &scenario, "-key", "caller", "100", "-au", "100", "-ap", "100", "-s", number, "-m", "1", "-i", local_ip,
        "-p", "5071", "-nostdin", "-timeout", "20s", target,
    ];
    tool("sipp", &args, 30)
}
