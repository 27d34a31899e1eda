//! `sipscope hep` end to end, on 127.0.230.0/24: real senders (Kamailio's siptrace module,
//! sngrep's HEP output) into the collector; TCP and TLS streams with client certificates;
//! HEP out to a second collector. Each run ends by itself (`--count`), so no test waits on a
//! clock.

mod metrics;
mod out;
mod senders;
mod streams;

use rusqlite::Connection;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A running `sipscope hep` with its store in a temporary directory.
pub struct Collector {
    pub dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Collector {
    /// Starts `sipscope hep` with `args` (plus `--db`, `--json`) and waits until it listens.
    /// `keys`: the keys file's text, or `None` for `--no-auth`.
    pub fn start(keys: Option<&str>, args: &[&str]) -> Collector {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("hep.db");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sipscope"));
        cmd.arg("hep").args(args).args(["--json", "--sensor", "collector", "--db"]).arg(&db);
        match keys {
            Some(text) => {
                let path = dir.path().join("keys.toml");
                std::fs::write(&path, text).unwrap();
                cmd.arg("--keys").arg(path);
            }
            None => {
                cmd.arg("--no-auth");
            }
        }
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        while stderr.read_line(&mut line).unwrap() > 0 && !line.contains("HEP collector on") {}
        assert!(line.contains("HEP collector on"), "sipscope hep did not start: {line}");
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        Collector { dir, child: Some(child) }
    }

    /// Waits for the run to end (its `--count`) and returns its JSON summary.
    pub fn wait(&mut self) -> serde_json::Value {
        let out = self.child.take().unwrap().wait_with_output().unwrap();
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub fn db(&self) -> Connection {
        Connection::open(self.dir.path().join("hep.db")).unwrap()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Every column of `events` a source fills from the message and its addresses (not the id,
/// sensor, capture file, packet number or analysis run), in time order.
pub const EVENT_COLUMNS: &str = "SELECT ts_ns, node, transport, src_ip, src_port, dst_ip, dst_port, direction, kind, \
     method, status, reason, request_uri, ruri_user, ruri_host, from_user, from_host, from_tag, to_user, to_host, \
     to_tag, call_id, cseq_seq, cseq_method, user_agent, contact, expires, auth_username, auth_realm, auth_nonce, \
     auth_uri, auth_response, auth_algorithm, auth_qop, anomalies, raw FROM events ORDER BY ts_ns, id";

/// The rows of `sql` as debug strings.
pub fn rows(db: &Connection, sql: &str) -> Vec<Vec<String>> {
    let mut stmt = db.prepare(sql).unwrap();
    let n = stmt.column_count();
    stmt.query_map([], |r| (0..n).map(|i| r.get::<_, rusqlite::types::Value>(i).map(|v| format!("{v:?}"))).collect())
        .unwrap()
        .map(Result::unwrap)
        .collect()
}
