//! `sipscope capture`: live capture between two network namespaces this test creates, joined by a
//! veth pair (A: veth0 10.213.0.1/30, B: veth1 10.213.0.2/30), so no packet leaves them. The
//! capture runs in B; Python senders in A send SIP over UDP and TCP. Needs root and `ip netns`:
//! skipped, with a message, without them.

use sipscope::sinks::sqlite::Store;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, ChildStdout, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::netns::{run, Namespaces, A_ADDR, B_ADDR};

/// A running `sipscope capture`: stdout collected by a thread, stderr lines sent over a channel.
struct Capture {
    child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Receiver<String>,
    stderr_seen: Vec<String>,
}

impl Capture {
    fn start(ns: &Namespaces, args: &[&str]) -> Capture {
        let mut child = ns
            .exec(&ns.b, env!("CARGO_BIN_EXE_sipscope"))
            .arg("capture")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning sipscope capture");
        let mut out: ChildStdout = child.stdout.take().unwrap();
        let stdout = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        });
        let (tx, stderr) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut capture = Capture { child, stdout: Some(stdout), stderr, stderr_seen: Vec::new() };
        // The line comes once the handle is open and filtered: from then on nothing is missed.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match capture.stderr.recv_timeout(left) {
                Ok(line) => {
                    let ready = line.contains("capturing on veth1");
                    capture.stderr_seen.push(line);
                    if ready {
                        break;
                    }
                }
                Err(_) => panic!("capture did not start: {:?}", capture.stderr_seen),
            }
        }
        capture
    }

    /// Waits (bounded) for the exit; returns the status and the JSON summary.
    fn finish(mut self) -> (std::process::ExitStatus, serde_json::Value) {
        let deadline = Instant::now() + Duration::from_secs(15);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("capture did not stop: {:?}", self.stderr.try_iter().collect::<Vec<_>>());
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let stdout = self.stdout.take().unwrap().join().unwrap();
        let summary = serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!("summary JSON: {e}: {stdout:?}; stderr {:?}", self.stderr.try_iter().collect::<Vec<_>>())
        });
        (status, summary)
    }

    /// Signals the capture (`ip netns exec` execs it, so the child's pid is sipscope's), with the
    /// shell's `kill` built-in.
    fn signal(&self, name: &str) {
        let out = run("sh", &["-c", &format!("kill -{name} {}", self.child.id())]);
        assert!(out.status.success(), "kill: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for Capture {
    /// A failed test leaves no capture running.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Sends SIP from namespace A: one UDP datagram per UDP Call-ID (OPTIONS and REGISTER in turn),
/// then, when `tcp_call_id` is given, one REGISTER over TCP to a listener in B.
const SENDER: &str = r#"
import socket, sys, time
dst, port, tcp_call_id = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def message(method, call_id, transport):
    return (f"{method} sip:{dst} SIP/2.0\r\n"
            f"Via: SIP/2.0/{transport} 10.213.0.1:5099;branch=z9hG4bK-{call_id}\r\n"
            f"From: <sip:probe@10.213.0.1>;tag=t1\r\n"
            f"To: <sip:100@{dst}>\r\n"
            f"Call-ID: {call_id}\r\n"
            f"CSeq: 1 {method}\r\n"
            "Max-Forwards: 70\r\n"
            "Content-Length: 0\r\n\r\n").encode()
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("10.213.0.1", 5099))
for i, call_id in enumerate(sys.argv[4:]):
    udp.sendto(message("OPTIONS" if i % 2 == 0 else "REGISTER", call_id, "UDP"), (dst, port))
    time.sleep(0.005)
if tcp_call_id != "-":
    deadline = time.time() + 10
    while True:
        try:
            conn = socket.create_connection((dst, port), timeout=2)
            break
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)
    conn.sendall(message("REGISTER", tcp_call_id, "TCP"))
    conn.shutdown(socket.SHUT_WR)
    conn.settimeout(5)
    while conn.recv(4096):
        pass
    conn.close()
"#;

/// Accepts one TCP connection in B and reads it to the end.
const LISTENER: &str = r#"
import socket, sys
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((sys.argv[1], int(sys.argv[2])))
srv.listen(1)
srv.settimeout(15)
print("ready", flush=True)
conn, _ = srv.accept()
conn.settimeout(5)
while conn.recv(4096):
    pass
conn.close()
"#;

fn send(ns: &Namespaces, port: u16, tcp_call_id: Option<&str>, udp_call_ids: &[String]) {
    let port = port.to_string();
    let out = ns
        .exec(&ns.a, "python3")
        .args(["-c", SENDER, B_ADDR, &port, tcp_call_id.unwrap_or("-")])
        .args(udp_call_ids)
        .output()
        .expect("running python3 in namespace A");
    assert!(out.status.success(), "sender: {}", String::from_utf8_lossy(&out.stderr));
}

/// Call-IDs found in the store among `wanted`, read while the capture may still be writing.
fn stored(db: &Path, wanted: &[String]) -> Vec<String> {
    let Ok(conn) = Store::open_read_only(db) else { return Vec::new() };
    let mut found = Vec::new();
    for call_id in wanted {
        let n: Result<i64, _> =
            conn.query_row("SELECT count(*) FROM events WHERE call_id = ?1", [call_id], |r| r.get(0));
        if n.is_ok_and(|n| n > 0) {
            found.push(call_id.clone());
        }
    }
    found
}

#[test]
fn capture_between_namespaces_until_sigint() {
    let Some(ns) = Namespaces::create("sigint") else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("capture.db");
    let db_arg = db.to_str().unwrap();
    let pid = std::process::id();
    let udp_ids: Vec<String> = (0..20).map(|i| format!("it-udp-{pid}-{i}@sipscope")).collect();
    let tcp_id = format!("it-tcp-{pid}@sipscope");

    let capture = Capture::start(
        &ns,
        &["--iface", "veth1", "--db", db_arg, "--sensor", "it-sensor", "--duration", "20", "--json"],
    );
    let mut listener = ns
        .exec(&ns.b, "python3")
        .args(["-c", LISTENER, B_ADDR, "5060"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("running python3 in namespace B");
    let mut ready = String::new();
    BufReader::new(listener.stdout.take().unwrap()).read_line(&mut ready).unwrap();
    assert_eq!(ready.trim(), "ready", "TCP listener did not start");
    send(&ns, 5060, Some(&tcp_id), &udp_ids);
    assert!(listener.wait().unwrap().success(), "TCP listener failed");

    // The capture flushes about every second: the UDP events become visible while it runs.
    let deadline = Instant::now() + Duration::from_secs(10);
    while stored(&db, &udp_ids).len() < udp_ids.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(stored(&db, &udp_ids), udp_ids, "UDP events not visible while capturing");

    capture.signal("INT");
    let (status, summary) = capture.finish();
    assert!(status.success(), "exit status {status}; summary {summary}");
    assert_eq!(summary["files"], 0);
    assert!(summary["sip_messages"].as_u64().unwrap() >= 21, "{summary}");
    assert!(summary["events_stored"].as_u64().unwrap() >= 21, "{summary}");
    assert!(summary["tcp_streams"].as_u64().unwrap() >= 1, "{summary}");
    // Drop counters are in the JSON only when not 0.
    assert_eq!(summary.get("kernel_dropped").map_or(Some(0), serde_json::Value::as_u64), Some(0), "{summary}");
    assert!(summary["elapsed_s"].as_f64().unwrap() < 19.0, "SIGINT, not --duration, stopped it: {summary}");

    let conn = Store::open_read_only(&db).unwrap();
    let all = udp_ids.iter().map(|id| (id, "udp")).chain([(&tcp_id, "tcp")]);
    for (call_id, transport) in all {
        let rows: Vec<Row> = conn
            .prepare(
                "SELECT transport, sensor, src_ip, src_port, dst_ip, dst_port, file_id FROM events
                 WHERE call_id = ?1",
            )
            .unwrap()
            .query_map([call_id], |r| {
                Ok(Row {
                    transport: r.get(0)?,
                    sensor: r.get(1)?,
                    src: (r.get(2)?, r.get(3)?),
                    dst: (r.get(4)?, r.get(5)?),
                    file_id: r.get(6)?,
                })
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let [row] = rows.as_slice() else { panic!("{call_id}: one event expected, found {rows:?}") };
        assert_eq!(row.transport, transport, "{call_id}");
        assert_eq!(row.sensor, "it-sensor");
        assert_eq!(row.src.0, A_ADDR, "{call_id}");
        if transport == "udp" {
            assert_eq!(row.src.1, 5099, "{call_id}");
        }
        assert_eq!(row.dst, (B_ADDR.to_owned(), 5060), "{call_id}");
        assert_eq!(row.file_id, None, "live events have no capture file");
    }
}

/// One stored event, as far as this test checks it.
#[derive(Debug)]
struct Row {
    transport: String,
    sensor: String,
    src: (String, u16),
    dst: (String, u16),
    file_id: Option<i64>,
}

#[test]
fn capture_stops_after_count_with_filter() {
    let Some(ns) = Namespaces::create("count") else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("count.db");
    let pid = std::process::id();
    let capture = Capture::start(
        &ns,
        &[
            "--iface",
            "veth1",
            "--db",
            db.to_str().unwrap(),
            "--filter",
            "udp and dst port 5070",
            "--count",
            "3",
            "--duration",
            "20",
            "--json",
        ],
    );
    // Filtered out: never counted.
    let noise: Vec<String> = (0..4).map(|i| format!("it-noise-{pid}-{i}")).collect();
    send(&ns, 5080, None, &noise);
    let wanted: Vec<String> = (0..3).map(|i| format!("it-count-{pid}-{i}")).collect();
    send(&ns, 5070, None, &wanted);
    let (status, summary) = capture.finish();
    assert!(status.success(), "exit status {status}; summary {summary}");
    assert_eq!(summary["packets"], 3, "{summary}");
    assert_eq!(summary["sip_messages"], 3, "{summary}");
    assert!(summary["elapsed_s"].as_f64().unwrap() < 19.0, "--count, not --duration, stopped it: {summary}");
    assert_eq!(stored(&db, &wanted), wanted);
    assert!(stored(&db, &noise).is_empty());
}
