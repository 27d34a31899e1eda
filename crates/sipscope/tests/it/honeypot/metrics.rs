//! Prometheus metrics of a running honeypot (`[metrics] listen`, docs/metrics.md), on
//! 127.0.245.0/24: real tools (svmap, sipsak) and a burst over the per-source rate, then the
//! scraped counters must agree with the store they describe (events stored == the metric,
//! received, answered by code, unparsed) and with the exit summary (rate-limited).

use super::harness::{text, tool, Honeypot};
use sipscope::metrics::exposition::{parse, Parsed};
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::{Duration, Instant};

const METRICS: &str = "127.0.245.2:9464";

/// One request to the metrics listener: status line and body.
pub fn http_get(addr: &str, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap_or_default().to_owned(), body.to_owned())
}

/// The metrics now, parsed strictly.
pub fn scrape(addr: &str) -> Parsed {
    let (status, body) = http_get(addr, "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    parse(&body).unwrap_or_else(|e| panic!("{e}\n{body}"))
}

#[test]
fn the_honeypots_metrics_agree_with_its_store() {
    let extra =
        format!("[limits]\nper_source_rate = 20.0\nper_source_burst = 20.0\n[metrics]\nlisten = \"{METRICS}\"\n");
    let mut hp = Honeypot::start(&[("udp", "127.0.245.2", 5060), ("tcp", "127.0.245.2", 5060)], &extra);
    let start = scrape(METRICS);
    assert_eq!(start.sum("sipscope_messages_in_total", &[("source", "honeypot")]), 0.0);
    assert_eq!(start.sum("sipscope_build_info", &[]), 1.0);
    assert!(start.sum("sipscope_start_time_seconds", &[]) > 1.7e9);

    let svmap = tool("sipvicious_svmap", &["127.0.245.1-127.0.245.3"], 60);
    assert!(text(&svmap).contains("127.0.245.2:5060"), "{}", text(&svmap));
    let target = "sip:100@127.0.245.2";
    let right = tool("sipsak", &["-U", "-a", "100", "-u", "100", "-s", target], 30);
    assert_eq!(right.status.code(), Some(0), "{}", text(&right));
    let wrong = tool("sipsak", &["-U", "-a", "1234", "-u", "100", "-s", target], 30);
    assert_eq!(wrong.status.code(), Some(1), "{}", text(&wrong));
    let tcp = tool("sipsak", &["--transport=tcp", "-s", target], 30);
    assert_eq!(tcp.status.code(), Some(0), "{}", text(&tcp));
    // Bytes that are not SIP, and a burst from one address over its rate.
    let flood = UdpSocket::bind("127.0.245.9:0").unwrap();
    flood.send_to(b"\x16\x03\x01 not sip at all", "127.0.245.2:5060").unwrap();
    for i in 0..60 {
        let options = format!(
            "OPTIONS sip:100@127.0.245.2 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.245.9:5999;branch=z9hG4bK{i}\r\n\
             From: <sip:a@127.0.245.9>;tag={i}\r\nTo: <sip:100@127.0.245.2>\r\nCall-ID: burst{i}\r\n\
             CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        );
        flood.send_to(options.as_bytes(), "127.0.245.2:5060").unwrap();
    }

    // The store commits about once a second, then counts: wait until the two agree and the
    // last datagram is in.
    let stored = |hp: &Honeypot| hp.count("SELECT count(*) FROM events") as f64;
    let deadline = Instant::now() + Duration::from_secs(60);
    let m = loop {
        let m = scrape(METRICS);
        let db = stored(&hp);
        let received = hp.count("SELECT count(*) FROM events WHERE direction = 'in'") as f64;
        let last_in = hp.count("SELECT count(*) FROM events WHERE call_id = 'burst59'") == 1;
        if last_in
            && m.sum("sipscope_events_out_total", &[("sink", "sqlite")]) == db
            && m.sum("sipscope_messages_in_total", &[]) == received
        {
            break m;
        }
        assert!(
            Instant::now() < deadline,
            "events stored {db}, metric {}; received {received}, metric {}",
            m.sum("sipscope_events_out_total", &[("sink", "sqlite")]),
            m.sum("sipscope_messages_in_total", &[])
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    let db = stored(&hp);
    assert!(db > 60.0, "{db}");
    assert_eq!(m.sum("sipscope_messages_in_total", &[("source", "honeypot"), ("transport", "tcp")]), 1.0);
    let udp_in = hp.count("SELECT count(*) FROM events WHERE direction = 'in' AND transport = 'udp'") as f64;
    assert_eq!(m.sum("sipscope_messages_in_total", &[("source", "honeypot"), ("transport", "udp")]), udp_in);
    // Every answer sent, by code, as stored.
    for code in ["200", "401", "403"] {
        let n = hp.count(&format!("SELECT count(*) FROM events WHERE direction = 'out' AND status = {code}")) as f64;
        assert!(n > 0.0, "{code}");
        assert_eq!(m.sum("sipscope_answers_sent_total", &[("code", code)]), n, "{code}");
    }
    let out = hp.count("SELECT count(*) FROM events WHERE direction = 'out'") as f64;
    assert_eq!(m.sum("sipscope_answers_sent_total", &[]), out);
    let invalid = hp.count("SELECT count(*) FROM events WHERE direction = 'in' AND kind = 'invalid'") as f64;
    assert_eq!(invalid, 1.0);
    assert_eq!(m.sum("sipscope_parse_errors_total", &[("source", "honeypot"), ("outcome", "kept")]), invalid);
    assert_eq!(m.sum("sipscope_records_in_total", &[("source", "honeypot"), ("kind", "auth_attempt")]), 2.0);
    let commits = m.sum("sipscope_store_commit_seconds_count", &[("backend", "sqlite")]);
    assert!(commits >= 1.0 && m.sum("sipscope_store_commit_seconds_sum", &[("backend", "sqlite")]) > 0.0);
    assert_eq!(m.sum("sipscope_store_commit_seconds_bucket", &[("backend", "sqlite"), ("le", "+Inf")]), commits);
    assert_eq!(m.sum("sipscope_queue_depth", &[("queue", "store_writer")]), 0.0, "nothing waits once committed");
    let limited = m.sum("sipscope_requests_unanswered_total", &[("reason", "source_rate_limit")]);
    assert!(limited >= 1.0, "the burst went over 20 a second");

    // Only /metrics is served.
    assert!(http_get(METRICS, "/").0.starts_with("HTTP/1.1 404"));
    let (summary, log) = hp.stop();
    assert_eq!(summary["source_rate_limited"].as_f64(), Some(limited), "{summary}");
    assert!(log.contains(&format!("metrics on http://{METRICS}/metrics")), "{log}");
    assert!(TcpStream::connect(METRICS).is_err(), "the listener is gone with the honeypot");
}

/// `--metrics` overrides `[metrics] listen`: the flag's address serves, the key's does not.
#[test]
fn the_metrics_flag_overrides_the_configuration_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hp.toml");
    let (flag, key) = ("127.0.245.5:9468", "127.0.245.5:9469");
    std::fs::write(
        &config,
        format!(
            "store = \"{}\"\nhuman_log = \"off\"\nsensor = \"t\"\n[[listen]]\ntransport = \"udp\"\n\
             address = \"127.0.245.5\"\nport = 5060\n[metrics]\nlisten = \"{key}\"\n",
            dir.path().join("hp.db").display()
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["honeypot", "--metrics", flag, "--config"])
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(flag).is_err() {
        assert!(Instant::now() < deadline, "no metrics on {flag}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(TcpStream::connect(key).is_err(), "the key's address is not served");
    let sender = UdpSocket::bind("127.0.245.8:0").unwrap();
    sender.send_to(b"OPTIONS sip:a@127.0.245.5 SIP/2.0\r\n\r\n", "127.0.245.5:5060").unwrap();
    loop {
        let m = scrape(flag);
        if m.sum("sipscope_messages_in_total", &[("source", "honeypot"), ("transport", "udp")]) == 1.0 {
            break;
        }
        assert!(Instant::now() < deadline, "the datagram was not counted");
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    assert!(child.wait().unwrap().success());
}
