//! The REST API (`sipscope serve`, `honeypot --dashboard`) driven over HTTP on
//! 127.0.243.0/24: auth and scopes, pages and filters, SentryPeer's shapes, hostile text, the
//! live stream, reports kept across restarts, and schemathesis against the OpenAPI document.

mod auth;
mod endpoints;
mod hostile;
mod kept;
mod live;
mod ranges;
mod schemathesis;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running `sipscope serve` (or honeypot with `--dashboard`), stopped when dropped.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    /// This run's dashboard token (scope `decisions`).
    pub token: String,
    pub dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

/// Starts `sipscope ARGS` and waits for the dashboard URL it prints.
pub fn launch(dir: tempfile::TempDir, args: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(args)
        .current_dir(dir.path())
        .env("SIPSCOPE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let url = line.strip_prefix("sipscope: dashboard at http://");
            if let Some(url) = url.or_else(|| line.strip_prefix("sipscope: dashboard at https://")) {
                let _ = tx.send(url.to_owned());
            }
        }
    });
    let Ok(url) = rx.recv_timeout(Duration::from_secs(30)) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("no dashboard URL within 30 s");
    };
    let (host, token) = url.split_once("/#token=").unwrap();
    Server { child, addr: host.parse().unwrap(), token: token.to_owned(), dir }
}

/// `sipscope serve` over `db` (in `dir`) on 127.0.243.`host`, any port.
pub fn serve(dir: tempfile::TempDir, db: &Path, host: u8, extra: &[&str]) -> Server {
    serve_on(dir, db, &format!("127.0.243.{host}:0"), extra)
}

/// `sipscope serve` over `db` (in `dir`) on `listen`.
pub fn serve_on(dir: tempfile::TempDir, db: &Path, listen: &str, extra: &[&str]) -> Server {
    let db = db.to_str().unwrap().to_owned();
    let mut args = vec!["serve", "--db", &db, "--listen", listen];
    args.extend_from_slice(extra);
    launch(dir, &args)
}

/// A store with the report golden tests' dataset (the real tools' messages, answers, alerts,
/// authentication attempts with passwords, decisions) and a real capture ingested into it.
pub fn golden_store(dir: &Path) -> PathBuf {
    let db = dir.join("api.db");
    crate::report_golden::build_store(&db);
    let pcap = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/rules/tools.pcap");
    let out = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["ingest", "--db", db.to_str().unwrap(), pcap])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    db
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// Header lines as received (name lower-cased, value).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.1 request (`Connection: close`), with a bearer token when given.
pub fn request(addr: SocketAddr, method: &str, target: &str, token: Option<&str>, body: Option<&str>) -> Answer {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", b.len()));
    }
    req.push_str("\r\n");
    req.push_str(body.unwrap_or(""));
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    parse(&raw)
}

fn parse(raw: &[u8]) -> Answer {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a header block");
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    if headers.iter().any(|(n, v)| n == "transfer-encoding" && v == "chunked") {
        body = dechunk(&body);
    }
    Answer { status, headers, body }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 2 + size + 2..];
    }
    out
}

/// GET with the server's own token; the answer must be 200 JSON.
pub fn get_json(server: &Server, target: &str) -> serde_json::Value {
    let a = request(server.addr, "GET", target, Some(&server.token), None);
    assert_eq!(a.status, 200, "{target}: {}", a.text());
    a.json()
}

/// Makes a token with `sipscope token add` for the server's store.
pub fn add_token(server: &Server, name: &str, scope: &str, extra: &[&str]) -> String {
    let tokens = server.dir.path().join("api.db.tokens");
    let out = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["token", "add", name, "--scope", scope, "--tokens", tokens.to_str().unwrap()])
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Runs `sipscope token ARGS` on the server's tokens file.
pub fn token_cmd(server: &Server, args: &[&str]) -> String {
    let tokens = server.dir.path().join("api.db.tokens");
    let out = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .arg("token")
        .args(args)
        .args(["--tokens", tokens.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}
