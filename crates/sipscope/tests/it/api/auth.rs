//! Tokens and scopes: no token, a wrong one, a read token writing, an expired and a revoked
//! one; what needs no token; the per-token rate limit; the headers every answer carries.

use super::*;

fn security_headers_present(a: &Answer, what: &str) {
    let csp = a.header("content-security-policy").unwrap_or_else(|| panic!("{what}: no CSP"));
    assert!(csp.starts_with("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert_eq!(a.header("x-content-type-options"), Some("nosniff"), "{what}");
    assert_eq!(a.header("x-frame-options"), Some("DENY"), "{what}");
    assert!(a.header("access-control-allow-origin").is_none(), "{what}: CORS is off");
}

#[test]
fn api_tokens_scopes_expiry_and_revocation() {
    let dir = tempfile::tempdir().unwrap();
    let db = golden_store(dir.path());
    let server = serve(dir, &db, 1, &[]);
    let addr = server.addr;

    // No token, a wrong one, a token in the query string of anything but the live stream.
    let none = request(addr, "GET", "/api/v1/events", None, None);
    assert_eq!(none.status, 401);
    assert_eq!(none.header("www-authenticate"), Some("Bearer"));
    assert_eq!(none.json()["error"], "a valid token is needed");
    security_headers_present(&none, "401");
    assert_eq!(request(addr, "GET", "/api/v1/events", Some("sst_00"), None).status, 401);
    let q = format!("/api/v1/events?token={}", server.token);
    assert_eq!(request(addr, "GET", &q, None, None).status, 401);

    // What needs no token.
    for path in ["/", "/api/v1/openapi.json"] {
        let a = request(addr, "GET", path, None, None);
        assert_eq!(a.status, 200, "{path}");
        security_headers_present(&a, path);
    }
    assert_eq!(request(addr, "GET", "/metrics", None, None).status, 401);
    let metrics = request(addr, "GET", "/metrics", Some(&server.token), None);
    assert_eq!(metrics.status, 200);
    assert!(metrics.header("content-type").unwrap().starts_with("text/plain"));

    let reader = add_token(&server, "reader", "read", &[]);
    let brief = add_token(&server, "brief", "read", &["--expires", "1s"]);
    let doomed = add_token(&server, "doomed", "admin", &[]);
    // The server re-reads the tokens file at most once a second.
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(request(addr, "GET", "/api/v1/decisions", Some(&reader), None).status, 200);
    let ban = r#"{"scope":"203.0.113.99","action":"ban","duration_seconds":60,"reason":"test"}"#;
    let refused = request(addr, "POST", "/api/v1/decisions", Some(&reader), Some(ban));
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert_eq!(request(addr, "DELETE", "/api/v1/decisions/1", Some(&reader), None).status, 403);
    assert_eq!(request(addr, "GET", "/api/v1/events", Some(&brief), None).status, 401, "expired");
    assert_eq!(request(addr, "GET", "/api/v1/events", Some(&doomed), None).status, 200);
    token_cmd(&server, &["revoke", "doomed"]);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(request(addr, "GET", "/api/v1/events", Some(&doomed), None).status, 401, "revoked");
    let list = token_cmd(&server, &["list"]);
    assert!(list.contains("doomed") && list.contains("revoked") && list.contains("expired"), "{list}");
    assert!(!list.contains(&doomed) && !list.contains(&reader), "tokens are never listed");
    let file = std::fs::read_to_string(server.dir.path().join("api.db.tokens")).unwrap();
    assert!(!file.contains(&reader) && !file.contains(&server.token), "only hashes are kept");

    // The dashboard's token (scope decisions) may ban; who is the token's name.
    let taken = request(addr, "POST", "/api/v1/decisions", Some(&server.token), Some(ban));
    assert_eq!(taken.status, 201, "{}", taken.text());
    assert_eq!(taken.json()["decision"]["who"], "dashboard");
}

#[test]
fn api_rate_limit_answers_429_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let db = golden_store(dir.path());
    let server = serve(dir, &db, 2, &[]);
    // Four clients at once on the cheapest authenticated path: 400 requests drain a bucket of
    // 100 that refills 20 a second.
    let (addr, token) = (server.addr, server.token.clone());
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let token = token.clone();
            std::thread::spawn(move || {
                (0..100).map(|_| request(addr, "GET", "/metrics", Some(&token), None)).collect::<Vec<_>>()
            })
        })
        .collect();
    let answers: Vec<Answer> = clients.into_iter().flat_map(|c| c.join().unwrap()).collect();
    assert!(answers.iter().all(|a| a.status == 200 || a.status == 429));
    let a = answers.into_iter().find(|a| a.status == 429).expect("some requests were limited");
    let wait: u64 = a.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=5).contains(&wait), "{wait}");
    security_headers_present(&a, "429");
    // Another token has its own bucket.
    let other = add_token(&server, "other", "read", &[]);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(request(server.addr, "GET", "/api/v1/decisions", Some(&other), None).status, 200);
}

/// `--rate`/`--burst` per token and `--anonymous-rate`/`--anonymous-burst` per client address
/// (requests without a valid token, refused tokens included) are what the server applies;
/// each refusal is counted in the metrics.
#[test]
fn api_configured_rate_limits_per_token_and_for_anonymous_clients() {
    let dir = tempfile::tempdir().unwrap();
    let db = golden_store(dir.path());
    let limits = ["--rate", "0.5", "--burst", "2", "--anonymous-rate", "0.25", "--anonymous-burst", "3"];
    let server = serve(dir, &db, 11, &limits);
    let (other, watcher) = (add_token(&server, "other", "read", &[]), add_token(&server, "watcher", "read", &[]));
    std::thread::sleep(Duration::from_millis(1100)); // the tokens file is read again after a second
    let get = |path: &str, token: Option<&str>| request(server.addr, "GET", path, token, None);
    let t = Some(server.token.as_str());
    assert_eq!(get("/api/v1/decisions", t).status, 200);
    assert_eq!(get("/api/v1/decisions", t).status, 200);
    let limited = get("/api/v1/decisions", t);
    assert_eq!(limited.status, 429, "the third request of a burst of 2");
    assert_eq!(limited.header("retry-after"), Some("2"), "one request at 0.5 a second");
    security_headers_present(&limited, "429");
    assert_eq!(get("/api/v1/decisions", Some(&other)).status, 200, "another token has its own bucket");

    // Without a token: the OpenAPI document (public) and refused tokens share the address's
    // bucket of 3.
    assert_eq!(get("/api/v1/openapi.json", None).status, 200);
    assert_eq!(get("/api/v1/decisions", Some("not-a-token")).status, 401);
    assert_eq!(get("/api/v1/decisions", None).status, 401);
    let anonymous = get("/api/v1/openapi.json", None);
    assert_eq!(anonymous.status, 429);
    assert_eq!(anonymous.header("retry-after"), Some("4"), "one request at 0.25 a second");
    assert_eq!(get("/api/v1/decisions", Some("guess")).status, 429, "guessing tokens is limited too");
    assert_eq!(get("/api/v1/decisions", Some(&other)).status, 200, "a valid token is not the address's");

    let metrics = get("/metrics", Some(&watcher));
    assert_eq!(metrics.status, 200);
    let text = metrics.text();
    let count = |reason: &str| -> f64 {
        let prefix = format!("sipscope_api_trouble_total{{reason=\"{reason}\"}} ");
        text.lines().find_map(|l| l.strip_prefix(&prefix)).and_then(|v| v.parse().ok()).unwrap_or(-1.0)
    };
    assert_eq!(count("rate_limited_token"), 1.0, "{text}");
    assert_eq!(count("rate_limited_anonymous"), 2.0, "{text}");
    assert_eq!(count("handler_panic"), 0.0, "{text}");
}

#[test]
fn api_over_tls_with_curl() {
    let dir = tempfile::tempdir().unwrap();
    let db = golden_store(dir.path());
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.243.10".into()]).unwrap();
    let (cert_pem, key_pem) = (dir.path().join("api.crt"), dir.path().join("api.key"));
    std::fs::write(&cert_pem, cert.cert.pem()).unwrap();
    std::fs::write(&key_pem, cert.signing_key.serialize_pem()).unwrap();
    let (c, k) = (cert_pem.to_str().unwrap().to_owned(), key_pem.to_str().unwrap().to_owned());
    let dir_path = dir.path().to_owned();
    let listen = "127.0.243.10:0";
    let server =
        launch(dir, &["serve", "--db", db.to_str().unwrap(), "--listen", listen, "--tls-cert", &c, "--tls-key", &k]);
    let curl = |args: &[&str]| {
        let out = Command::new("curl")
            .args(["-s", "--cacert", &c, "-w", "\n%{http_code}"])
            .args(args)
            .current_dir(&dir_path)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let url = format!("https://127.0.243.10:{}/ip-addresses/203.0.113.7", server.addr.port());
    let bearer = format!("Authorization: Bearer {}", server.token);
    let answer = curl(&["-H", &bearer, &url]);
    assert!(answer.ends_with("\n200") && answer.contains("bad_actor_found"), "{answer}");
    assert!(curl(&[&url]).ends_with("\n401"));
    // Plain HTTP on the TLS port gets no HTTP answer.
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    assert!(!raw.starts_with(b"HTTP/"), "{}", String::from_utf8_lossy(&raw));
}
