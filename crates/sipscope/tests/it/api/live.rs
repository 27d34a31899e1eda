//! The live stream: a honeypot with `--dashboard` pushes what it records as it happens (the
//! pipeline's feed), and `serve` over a store another process writes pushes the new events
//! it polls; the token may come in the query string here (EventSource cannot set headers).

use super::*;

/// Opens the live stream; returns the reader.
fn watch(addr: SocketAddr, token: &str) -> BufReader<TcpStream> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    write!(s, "GET /api/v1/live?token={token} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n").unwrap();
    BufReader::new(s)
}

/// Reads the stream until an `event: NAME` line is followed by data containing every one of
/// `needles`, for
/// at most `secs` seconds (the test fails otherwise; the bound only keeps a broken server
/// from hanging the suite). `poke` is called between reads.
fn wait_for(r: &mut BufReader<TcpStream>, name: &str, needles: &[&str], secs: u64, poke: &mut dyn FnMut()) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    let mut seen = String::new();
    let mut current = String::new();
    while std::time::Instant::now() < deadline {
        let mut line = String::new();
        match r.read_line(&mut line) {
            Ok(0) => panic!("the stream ended: {seen}"),
            Ok(_) => {
                seen.push_str(&line);
                if let Some(n) = line.trim().strip_prefix("event: ") {
                    current = n.to_owned();
                } else if let Some(data) = line.trim().strip_prefix("data: ") {
                    if current == name && needles.iter().all(|n| data.contains(n)) {
                        return data.to_owned();
                    }
                }
            }
            Err(_) => poke(),
        }
    }
    panic!("no {name} event with {needles:?}: {seen}")
}

#[test]
fn api_live_stream_of_an_embedded_honeypot() {
    let dir = tempfile::tempdir().unwrap();
    let server =
        launch(dir, &["honeypot", "--sip", "127.0.243.6:5060", "--dashboard", "127.0.243.6:0", "--db", "hp.db"]);
    let mut stream = watch(server.addr, &server.token);
    let sip = std::net::UdpSocket::bind("127.0.243.7:0").unwrap();
    let options = b"OPTIONS sip:100@127.0.243.6 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.243.7:5099;branch=z9hG4bKlive\r\n\
From: <sip:live@127.0.243.7>;tag=1\r\nTo: <sip:100@127.0.243.6>\r\nCall-ID: live-stream-test\r\nCSeq: 1 OPTIONS\r\n\
User-Agent: <script>friendly-scanner</script>\r\nContent-Length: 0\r\n\r\n";
    let mut send = || {
        sip.send_to(options, "127.0.243.6:5060").unwrap();
    };
    send();
    // The request, not the honeypot's answer: a watcher that joins between the two (its
    // subscription races the first datagram) sees the answer first.
    let data = wait_for(&mut stream, "sip", &["live-stream-test", r#""method":"OPTIONS""#], 30, &mut send);
    let event: serde_json::Value = serde_json::from_str(&data).unwrap();
    assert_eq!((event["src"].as_str(), event["method"].as_str()), (Some("127.0.243.7"), Some("OPTIONS")));
    assert_eq!(event["user_agent"], "<script>friendly-scanner</script>");
    assert!(event["id"].is_null(), "not stored yet when pushed");
    // A decision taken through the API reaches the stream too.
    let ban = r#"{"scope":"203.0.113.44","action":"ban","duration_seconds":60,"reason":"live"}"#;
    assert_eq!(request(server.addr, "POST", "/api/v1/decisions", Some(&server.token), Some(ban)).status, 201);
    wait_for(&mut stream, "decision", &["203.0.113.44"], 30, &mut || {});
    // The honeypot's own store answers the rest of the API.
    std::thread::sleep(Duration::from_millis(1500));
    let page = get_json(&server, "/api/v1/events?source=127.0.243.7");
    assert!(!page["events"].as_array().unwrap().is_empty());
}

#[test]
fn api_live_stream_of_serve_polls_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = golden_store(dir.path());
    let server = serve(dir, &db, 8, &[]);
    assert_eq!(request(server.addr, "GET", "/api/v1/live", None, None).status, 401);
    let mut stream = watch(server.addr, &server.token);
    // Another process writes to the store: a capture ingested again under another sensor.
    let pcap = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/ingest/udp-basic.pcap");
    let mut ingested = false;
    let mut ingest = || {
        if !ingested {
            ingested = true;
            let out = Command::new(env!("CARGO_BIN_EXE_sipscope"))
                .args(["ingest", "--db", db.to_str().unwrap(), "--sensor", "late", pcap])
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
    };
    let data = wait_for(&mut stream, "sip", &[r#""sensor":"late""#], 30, &mut ingest);
    let event: serde_json::Value = serde_json::from_str(&data).unwrap();
    assert!(event["id"].as_i64().is_some_and(|id| id > 0), "{event}");
}
