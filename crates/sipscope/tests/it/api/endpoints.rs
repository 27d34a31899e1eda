//! Every endpoint over the report golden dataset plus a real capture: the report is the
//! command's, pages of events cover every event once, filters keep what they say, a source's
//! page tells its story, decisions go in and out with who and why, the blocklist's cursor,
//! and SentryPeer's shapes (numbers matched across dialling prefixes).

use super::*;
use serde_json::Value;
use std::collections::HashSet;

fn events_page(server: &Server, query: &str) -> (Vec<Value>, Option<String>) {
    let v = get_json(server, &format!("/api/v1/events?{query}"));
    let next = v["next_cursor"].as_str().map(str::to_owned);
    (v["events"].as_array().unwrap().clone(), next)
}

/// Every event of `query`, page by page.
fn all_events(server: &Server, query: &str) -> Vec<Value> {
    let (mut all, mut next) = events_page(server, query);
    while let Some(cursor) = next {
        let (page, n) = events_page(server, &format!("{query}&cursor={cursor}"));
        all.extend(page);
        next = n;
    }
    all
}

#[test]
fn api_report_events_sources_lists_and_compat() {
    let dir = tempfile::tempdir().unwrap();
    let db = golden_store(dir.path());
    let stored: i64 =
        rusqlite::Connection::open(&db).unwrap().query_row("SELECT count(*) FROM events", [], |r| r.get(0)).unwrap();
    let server = serve(dir, &db, 3, &[]);

    // The report is exactly `sipscope report --format json`, each section on its own too.
    let cli = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["report", "--format", "json", "--db", db.to_str().unwrap(), "--from", "2026-01-02"])
        .output()
        .unwrap();
    let cli: Value = serde_json::from_slice(&cli.stdout).unwrap();
    let api = get_json(&server, "/api/v1/report?from=2026-01-02");
    assert_eq!(api, cli);
    for (name, section) in api["sections"].as_object().unwrap() {
        assert_eq!(&get_json(&server, &format!("/api/v1/report/{name}?from=2026-01-02")), section, "{name}");
    }
    assert_eq!(request(server.addr, "GET", "/api/v1/report/nope", Some(&server.token), None).status, 404);
    // Ranges that hold every stored time are served from the whole store's report with the
    // range-dependent sections built for them: still exactly the command's answer.
    for (query, args) in [
        ("from=2000-01-01", &["--from", "2000-01-01"][..]),
        ("from=946684801", &["--from", "946684801"][..]),
        ("from=2000-01-01&to=2100-01-01", &["--from", "2000-01-01", "--to", "2100-01-01"][..]),
        ("to=2100-01-01&node=nope", &["--to", "2100-01-01", "--node", "nope"][..]),
    ] {
        let cli = Command::new(env!("CARGO_BIN_EXE_sipscope"))
            .args(["report", "--format", "json", "--db", db.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap();
        assert!(cli.status.success(), "{}", String::from_utf8_lossy(&cli.stderr));
        let cli: Value = serde_json::from_slice(&cli.stdout).unwrap();
        let sources = cli["sections"]["sources"]["tables"][0]["rows"].as_array().map_or(0, Vec::len);
        assert_eq!(sources > 0, !query.contains("node"), "{query}: the dataset reached the report");
        assert_eq!(get_json(&server, &format!("/api/v1/report?{query}")), cli, "{query}");
    }

    // Pages cover every event once, newest first.
    let all = all_events(&server, "limit=7");
    assert_eq!(all.len() as i64, stored);
    let ids: HashSet<i64> = all.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), all.len());
    let keys: Vec<(String, i64)> =
        all.iter().map(|e| (e["time"].as_str().unwrap().to_owned(), e["id"].as_i64().unwrap())).collect();
    assert!(keys.windows(2).all(|w| w[0] > w[1]), "newest first");
    assert!(all.iter().all(|e| e.get("raw").is_none()));

    // Filters keep what they say.
    let check = |query: &str, keep: &dyn Fn(&Value) -> bool| {
        let got = all_events(&server, query);
        assert!(!got.is_empty(), "{query}: nothing");
        assert!(got.iter().all(keep), "{query}: {got:?}");
        got
    };
    check("source=203.0.113.7", &|e| e["src"] == "203.0.113.7");
    check("method=REGISTER&limit=1000", &|e| e["method"] == "REGISTER");
    check("status=401", &|e| e["status"] == 401);
    check("node=n2&node=n3", &|e| e["node"] == "n2" || e["node"] == "n3");
    check("from=2026-01-03&to=2026-01-04", &|e| e["time"].as_str().unwrap().starts_with("2026-01-03"));
    check("user=101", &|e| {
        [&e["from_user"], &e["to_user"], &e["ruri_user"]].iter().any(|u| **u == "101") || e["method"] == "REGISTER"
    });
    check("tool=SIPVicious", &|e| e["tool"] == "SIPVicious");
    // nmap's empty probes are events too (raw "").
    let raw = check("source=198.18.0.9&raw=1", &|e| e["raw"].is_string());
    assert!(raw.iter().any(|e| e["raw"].as_str().unwrap().starts_with("OPTIONS sip:nm SIP/2.0\r\n")));
    // One number dialled two ways is one number.
    let dialled =
        check("number=%2B46701234567", &|e| e["ruri_user"] == "0046701234567" || e["ruri_user"] == "+46701234567");
    let spellings: HashSet<&str> = dialled.iter().filter_map(|e| e["ruri_user"].as_str()).collect();
    assert_eq!(spellings.len(), 2, "{spellings:?}");
    for bad in ["limit=0", "limit=1001", "cursor=x", "from=yesterday", "status=abc", "source=nope"] {
        assert_eq!(
            request(server.addr, "GET", &format!("/api/v1/events?{bad}"), Some(&server.token), None).status,
            400,
            "{bad}"
        );
    }

    // A source's story.
    let s = get_json(&server, "/api/v1/sources/203.0.113.7");
    assert_eq!(s["address"], "203.0.113.7");
    let names = |key: &str| -> Vec<String> {
        s[key].as_array().unwrap().iter().filter_map(|c| c["name"].as_str().map(str::to_owned)).collect()
    };
    assert!(names("passwords").contains(&"1234".to_owned()), "{s}");
    assert!(names("users").contains(&"101".to_owned()));
    assert!(s["nodes"].as_array().unwrap().iter().any(|n| n["node"] == "n2"), "{s}");
    let alerts = s["alerts"].as_array().unwrap();
    assert!(!alerts.is_empty() && alerts.iter().all(|a| a["src_ip"] == "203.0.113.7"), "{s}");
    assert_eq!(s["decisions"][0]["decision"]["kind"], "ban");
    assert!(s["first_seen"].as_str().unwrap() <= s["last_seen"].as_str().unwrap());
    let caller = get_json(&server, "/api/v1/sources/192.0.2.20");
    assert!(caller["numbers"].as_array().unwrap().iter().any(|n| n["name"] == "+46701234567"), "{caller}");
    assert_eq!(request(server.addr, "GET", "/api/v1/sources/203.0.113.250", Some(&server.token), None).status, 404);
    assert_eq!(request(server.addr, "GET", "/api/v1/sources/nope", Some(&server.token), None).status, 400);

    // Lists.
    let items = |path: &str| get_json(&server, path)["items"].as_array().unwrap().clone();
    let numbers = items("/api/v1/numbers");
    let swedish = numbers.iter().find(|n| n["number"] == "+46701234567").expect("the unified number");
    assert_eq!((swedish["country"].as_str(), swedish["invites"].as_i64()), (Some("SE"), Some(2)));
    assert!(items("/api/v1/passwords").iter().any(|p| p["password"] == "1234"));
    assert!(items("/api/v1/tools").iter().any(|t| t["tool"] == "SIPVicious"));
    assert!(!items("/api/v1/campaigns").is_empty());
    let alerts = items("/api/v1/alerts?limit=5");
    assert!(alerts.len() == 5 && alerts.iter().all(|a| a["event_type"] == "alert"));
    assert!(items("/api/v1/alerts?source=203.0.113.7").iter().all(|a| a["src_ip"] == "203.0.113.7"));

    // SentryPeer's shapes.
    let ips = get_json(&server, "/ip-addresses");
    let list = ips["ip_addresses"].as_array().unwrap();
    assert_eq!(ips["ip_addresses_total"].as_u64(), Some(list.len() as u64));
    assert!(list.iter().all(|i| i.as_object().unwrap().len() == 1 && i["ip_address"].is_string()));
    assert_eq!(get_json(&server, "/ip-addresses/203.0.113.7"), serde_json::json!({"bad_actor_found": "203.0.113.7"}));
    let unknown = request(server.addr, "GET", "/ip-addresses/203.0.113.250", Some(&server.token), None);
    assert_eq!((unknown.status, unknown.json()), (404, serde_json::json!({"message": "No bad actor found"})));
    for spelled in ["0046701234567", "%2B46701234567", "01146701234567", "46701234567"] {
        let found = get_json(&server, &format!("/numbers/{spelled}"));
        assert_eq!(found, serde_json::json!({"phone_number_found": "+46701234567"}), "{spelled}");
    }
    let none = request(server.addr, "GET", "/numbers/0049301234567", Some(&server.token), None);
    assert_eq!((none.status, none.json()), (404, serde_json::json!({"message": "No phone number found"})));
}

#[test]
fn api_decisions_and_the_blocklist_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let db = golden_store(dir.path());
    let server = serve(dir, &db, 4, &[]);
    let t = Some(server.token.as_str());
    assert!(get_json(&server, "/api/v1/decisions")["items"].as_array().unwrap().is_empty(), "the golden ones expired");
    assert_eq!(get_json(&server, "/api/v1/decisions?all=1")["items"].as_array().unwrap().len(), 3);
    let start = get_json(&server, "/blocklist.json");
    let cursor = start["cursor"].as_str().unwrap().to_owned();

    let body = r#"{"scope":"203.0.113.0/24","action":"ban","duration_seconds":3600,"reason":"scanning"}"#;
    let taken = request(server.addr, "POST", "/api/v1/decisions", t, Some(body));
    assert_eq!(taken.status, 201, "{}", taken.text());
    let id = taken.json()["decision"]["id"].as_i64().unwrap();
    let limit =
        r#"{"scope":"198.51.100.77:5060","action":"rate_limit","per_second":5,"duration_seconds":60,"reason":"flood"}"#;
    assert_eq!(request(server.addr, "POST", "/api/v1/decisions", t, Some(limit)).status, 201);
    for bad in [
        r#"{"scope":"127.0.0.1","action":"ban","duration_seconds":60,"reason":"x"}"#,
        r#"{"scope":"0.0.0.0/0","action":"ban","duration_seconds":60,"reason":"x"}"#,
        r#"{"scope":"203.0.113.1","action":"ban","duration_seconds":60}"#,
    ] {
        let a = request(server.addr, "POST", "/api/v1/decisions", t, Some(bad));
        assert!(a.status == 400 || a.status == 422, "{bad}: {}", a.status);
    }
    let in_force = get_json(&server, "/api/v1/decisions")["items"].as_array().unwrap().clone();
    assert_eq!(in_force.len(), 2);
    assert!(in_force
        .iter()
        .any(|d| d["decision"]["scope"] == "203.0.113.0/24" && d["decision"]["reason"] == "scanning"));
    let text = request(server.addr, "GET", "/blocklist.txt", t, None);
    assert_eq!(text.text(), "203.0.113.0/24\n", "bans only");
    assert!(text.header("content-type").unwrap().starts_with("text/plain"));
    let added = get_json(&server, &format!("/blocklist.json?since={cursor}"));
    assert_eq!(added["items"][0]["scope"], "203.0.113.0/24");
    assert_eq!(added["items"][0]["prefix_len"], 24);
    let cursor = added["cursor"].as_str().unwrap().to_owned();

    assert_eq!(request(server.addr, "DELETE", &format!("/api/v1/decisions/{id}?reason=mistake"), t, None).status, 204);
    assert_eq!(request(server.addr, "DELETE", &format!("/api/v1/decisions/{id}"), t, None).status, 404);
    assert_eq!(request(server.addr, "DELETE", "/api/v1/decisions/x", t, None).status, 400);
    let lifted = get_json(&server, &format!("/blocklist.json?since={cursor}"));
    assert!(lifted["items"].as_array().unwrap().is_empty());
    assert_eq!(lifted["removed"][0]["id"].as_i64(), Some(id));
    assert_eq!(request(server.addr, "GET", "/blocklist.txt", t, None).text(), "");
    // The deletion is recorded with who and why, like `sipscope decisions delete`.
    let (who, why): (String, String) = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT deleted_by, deleted_why FROM decisions WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!((who.as_str(), why.as_str()), ("dashboard", "mistake"));
}
