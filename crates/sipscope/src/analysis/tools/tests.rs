//! The library file, the patterns, and attribution of messages built from 004 Table I.

use super::*;
use crate::analysis::fingerprint::{FingerprintBuilder, MergedValue, MAX_VALUE_LEN};
use std::net::SocketAddr;

const SRC: &str = "203.0.113.5:5062";
const DST: &str = "198.51.100.20:5060";

/// A fingerprint of one message per header list, sent from [`SRC`] to [`DST`].
fn flow(messages: &[Vec<String>]) -> Fingerprint {
    flow_to("sip:100@198.51.100.20", messages)
}

fn flow_to(uri: &str, messages: &[Vec<String>]) -> Fingerprint {
    let mut builder = FingerprintBuilder::new();
    for headers in messages {
        let text = format!("OPTIONS {uri} SIP/2.0\r\n{}\r\n\r\n", headers.join("\r\n"));
        let msg = sipscope_sip::parse(text.as_bytes()).unwrap();
        builder.add(&msg, SRC.parse::<SocketAddr>().unwrap(), DST.parse::<SocketAddr>().unwrap());
    }
    builder.fingerprint()
}

fn lines(headers: &[&str]) -> Vec<String> {
    headers.iter().map(|h| h.to_string()).collect()
}

/// A header value that fits a pattern: placeholders filled in (`*` → `x`, `?` → `a`), address
/// tokens replaced by the flow's addresses.
fn instantiate(pattern: &str, fill: char) -> String {
    let filled: String = pattern
        .chars()
        .map(|c| {
            if c == '*' {
                fill
            } else if c == '?' {
                'a'
            } else {
                c
            }
        })
        .collect();
    filled
        .replace("SourceIP", "203.0.113.5")
        .replace("DestIP", "198.51.100.20")
        .replace("SourcePort", "5062")
        .replace("DestPort", "5060")
}

#[test]
fn the_builtin_library_loads_and_has_every_tool_of_table_one() {
    let library = ToolLibrary::builtin();
    let mut rows: Vec<u8> = library.entries().iter().filter_map(|e| e.table).collect();
    rows.sort();
    assert_eq!(rows, (1..=21).collect::<Vec<u8>>());
    for variant in ["svmap", "svwar", "svcrack", "NSE sip scripts"] {
        assert!(library.entries().iter().any(|e| e.variant == variant), "{variant}");
    }
    for name in ["sipsak", "SIPp", "baresip"] {
        assert!(library.entries().iter().any(|e| e.name == name), "{name}");
    }
    // Keys are normalized on load: compact and mixed-case names become canonical.
    let lib = ToolLibrary::from_toml("[[tool]]\nname='t'\nvariant='v'\n[tool.fields]\nV='x'\nUser-Agent='y'\n", "t");
    let keys: Vec<&String> = lib.as_ref().unwrap().entries()[0].fields.keys().collect();
    assert_eq!(keys, ["user-agent", "via"]);
}

#[test]
fn a_user_file_replaces_and_adds_entries_and_unknown_fields_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tools.toml");
    let user = "[[tool]]\nname = 'StarTrinity'\nvariant = 'Base'\n[tool.fields]\nuser-agent = 'Mine'\n\n\
                [[tool]]\nname = 'MyScanner'\nvariant = '1.0'\n[tool.fields]\nuser-agent = 'MyScanner/1.0'\n";
    std::fs::write(&path, user).unwrap();
    let library = ToolLibrary::load(&path).unwrap();
    assert_eq!(library.entries().len(), ToolLibrary::builtin().entries().len() + 1);
    let star = library.entries().iter().find(|e| e.name == "StarTrinity").unwrap();
    assert_eq!(star.fields.len(), 1);
    let found = library.match_fingerprint(&flow(&[lines(&["User-Agent: MyScanner/1.0"])]));
    assert_eq!((found.tool.as_str(), found.verdict), ("MyScanner", Verdict::Exact));

    std::fs::write(&path, "[[tool]]\nname = 'x'\nvariant = 'y'\ncolour = 'red'\n[tool.fields]\na = 'b'\n").unwrap();
    let err = ToolLibrary::load(&path).unwrap_err().to_string();
    assert!(err.contains("colour"), "{err}");
    let twice = "[[tool]]\nname='a'\nvariant='b'\nfields={x='1'}\n[[tool]]\nname='a'\nvariant='b'\nfields={x='2'}\n";
    assert!(ToolLibrary::from_toml(twice, "t").unwrap_err().to_string().contains("defined twice"));
    assert!(ToolLibrary::from_toml("[[tool]]\nname='a'\nvariant='b'\nfields={}\n", "t").is_err());
    let zero = "[[tool]]\nname='a'\nvariant='b'\nfields={x='1'}\nweights={x=0.0}\n";
    assert!(ToolLibrary::from_toml(zero, "t").unwrap_err().to_string().contains("positive"));
    let weighted = "[[tool]]\nname='a'\nvariant='b'\nfields={User-Agent='x'}\nweights={USER-AGENT=9.5}\n";
    let fp = flow(&[lines(&["User-Agent: x"])]);
    assert_eq!(ToolLibrary::from_toml(weighted, "t").unwrap().explain(&fp, 0)[0].weight, 9.5);
    assert!(matches!(ToolLibrary::load(&dir.path().join("missing.toml")), Err(ToolLibraryError::Io(..))));
}

#[test]
fn every_table_one_tool_is_recognised_from_its_own_fields() {
    let library = ToolLibrary::builtin();
    for entry in library.entries().iter().filter(|e| e.table.is_some()) {
        // Filled with non-word characters so that an address token next to a `*` stays whole.
        for fill in ['-', '~'] {
            let headers: Vec<String> = entry
                .fields
                .iter()
                .filter(|(key, _)| !key.starts_with("start:"))
                .map(|(key, pattern)| format!("{key}: {}", instantiate(pattern, fill)))
                .collect();
            let uri = entry.fields.get("start:uri").map_or("sip:100@198.51.100.20".into(), |p| instantiate(p, fill));
            let fp = flow_to(&uri, &[headers]);
            let found = library.match_fingerprint(&fp);
            let label = format!("#{:?} {} / {}\n{}", entry.table, entry.name, entry.variant, fp.text());
            assert_eq!((found.table, &found.verdict), (entry.table, &Verdict::Exact), "{label}");
        }
    }
}

#[test]
fn startrinity_from_its_table_fields() {
    let fp = flow(&[lines(&[
        "Via: SIP/2.0/UDP 203.0.113.5:5062;branch=z9hG4bK7781",
        "From: sip:startrinityFriendlyScanner@203.0.113.5;tag=88",
        "To: sip:penetrationTest@198.51.100.20",
        "Call-ID: startrinityvoipsecuritytestsuite",
        "CSeq: 1 OPTIONS",
        "Contact: sip:s3@203.0.113.5:5062",
        "User-Agent: StarTrinityFriendlyScanner",
    ])]);
    let found = ToolLibrary::builtin().match_fingerprint(&fp);
    assert_eq!((found.tool.as_str(), found.table, found.verdict), ("StarTrinity", Some(13), Verdict::Exact));
}

/// svmap's own message with another User-Agent in every packet.
fn svmap_with_agent(agent: &str) -> Vec<String> {
    lines(&[
        "Via: SIP/2.0/UDP 203.0.113.5:5062;branch=z9hG4bK-2884904957;rport",
        "Max-Forwards: 70",
        "To: \"sipvicious\"<sip:100@1.1.1.1>",
        "From: \"sipvicious\"<sip:100@1.1.1.1>;tag=37663030303030313133633401373738343731323233",
        &format!("User-Agent: {agent}"),
        "Call-ID: 916141846295323041242654",
        "Contact: sip:100@203.0.113.5:5062",
        "CSeq: 1 OPTIONS",
        "Accept: application/sdp",
        "Content-Length: 0",
    ])
}

#[test]
fn a_friendly_scanner_with_a_changed_user_agent_is_table_one_row_two() {
    let library = ToolLibrary::builtin();
    let plain = library.match_fingerprint(&flow(&[svmap_with_agent("friendly-scanner")]));
    assert_eq!((plain.variant.as_str(), plain.verdict), ("svmap", Verdict::Exact));
    let fp = flow(&[svmap_with_agent("Cisco-SIPGateway/IOS-12.x"), svmap_with_agent("Zoiper rv2.8.3")]);
    assert_eq!(fp.value("user-agent").unwrap().text().len(), "Cisco-SIPGateway/IOS-12.x".len());
    let found = library.match_fingerprint(&fp);
    assert_eq!((found.tool.as_str(), found.variant.as_str()), ("SIPVicious", "Changed user"), "{}", fp.text());
    assert_eq!((found.table, found.base.as_deref(), found.verdict), (Some(2), Some("SIPVicious"), Verdict::Exact));
    // Against svmap itself, a changed User-Agent alone is enough to fall below Exact.
    let svmap = library.entries().iter().position(|e| e.variant == "svmap").unwrap();
    let candidate = library.rank(&fp).into_iter().find(|c| c.entry == svmap).unwrap();
    assert!((DERIVED_THRESHOLD..EXACT_THRESHOLD).contains(&candidate.similarity), "{candidate:?}");
    // Without its sipvicious From/To as well, it is only derived from SIPVicious.
    let mut changed = svmap_with_agent("PolycomSoundPointIP");
    changed[2] = "To: \"1001\"<sip:1001@10.0.0.1>".into();
    changed[3] = "From: \"1001\"<sip:1001@10.0.0.1>;tag=3766303030303031".into();
    changed[5] = "Call-ID: 9161418@203.0.113.5".into();
    let found = library.match_fingerprint(&flow(&[changed]));
    assert_eq!(found.verdict, Verdict::Derived { from: "SIPVicious".into() }, "{found:?}");
}

#[test]
fn an_nmap_probe_with_other_names_is_derived_from_nmap() {
    let fp = flow(&[lines(&[
        "Via: SIP/2.0/UDP nm;branch=foo;rport",
        "From: <sip:zz@zz>;tag=root",
        "To: <sip:zz2@zz2>",
        "Call-ID: 8c1d4e2b@zz",
        "CSeq: 42 OPTIONS",
        "Max-Forwards: 70",
        "Content-Length: 0",
        "Contact: <sip:zz@zz>",
        "Accept: application/sdp",
    ])]);
    let found = ToolLibrary::builtin().match_fingerprint(&fp);
    assert_eq!(found.verdict, Verdict::Derived { from: "NMap".into() }, "{found:?}\n{}", fp.text());
    assert!((DERIVED_THRESHOLD..EXACT_THRESHOLD).contains(&found.similarity));
}

#[test]
fn a_tool_that_resembles_nothing_is_custom_with_its_fingerprint_id() {
    let packets: Vec<Vec<String>> = (0..3)
        .map(|i| {
            lines(&[
                &format!("Via: SIP/2.0/UDP 203.0.113.5:5062;branch=Qx{i}{i}"),
                &format!("From: Wanda <sip:wanda@example.org>;tag=k{i}"),
                "To: Wanda <sip:wanda@example.org>",
                &format!("Call-ID: {i}{i}{i}-ZZ"),
                "CSeq: 7 OPTIONS",
                "User-Agent: HoneyTester/0.1",
                "X-Campaign: spring",
            ])
        })
        .collect();
    let fp = flow(&packets);
    let found = ToolLibrary::builtin().match_fingerprint(&fp);
    assert!(found.similarity < DERIVED_THRESHOLD, "{found:?}");
    assert_eq!(found.verdict, Verdict::Custom { fingerprint_id: fp.id() });
    assert_eq!(fp.id().len(), 16);
}

#[test]
fn patterns_score_literal_agreement() {
    let value = |v: &str| MergedValue::constant(v.as_bytes(), MAX_VALUE_LEN);
    let score = |p: &str, v: &MergedValue| Pattern::parse(p).score(v).similarity();
    assert_eq!(score("friendly-scanner", &value("friendly-scanner")), 1.0);
    assert_eq!(score("*", &value("anything")), 1.0);
    assert_eq!(score("????????", &value("abcdefgh")), 1.0);
    assert_eq!(score("????????", &value("abcdefghij")), 0.0);
    assert_eq!(score("a\\*b", &value("a*b")), 1.0);
    assert!(score("a\\*b", &value("axxb")) < 1.0);
    let half = score("friendly-scanner", &value("friendly-scanner v2 and more"));
    assert!((0.5..0.7).contains(&half), "{half}");
    assert!(score("StarTrinity", &value("Zoiper rv2.8")) < 0.2);

    // Placeholders do not confirm literals: a randomized field where a constant is expected.
    let mut random = MergedValue::default();
    random.add(b"abcdefgh", MAX_VALUE_LEN);
    random.add(b"stuvwxyz", MAX_VALUE_LEN);
    assert_eq!(score("abcdefgh", &random), 0.0);
    assert_eq!(score("????????", &random), 1.0);

    // A varying-length start spoils the paper's row; the constant end still counts.
    let mut ext = MergedValue::default();
    for v in ["\"1735949730\"<sip:1735949730@DestIP>", "\"100\"<sip:100@DestIP>", "\"101\"<sip:101@DestIP>"] {
        ext.add(v.as_bytes(), MAX_VALUE_LEN);
    }
    let svwar = Pattern::parse("\"*\"<sip:*@DestIP>").score(&ext);
    assert_eq!((svwar.similarity(), svwar.matched), (1.0, 9), "{svwar:?}");
    assert!(svwar.known() < 1.0, "the display name's end and <sip: are hidden: {svwar:?}");
    assert!(score("\"sipvicious\"<sip:100@1.1.1.1>", &ext) < 0.5);
}

#[test]
fn ordinary_phones_are_custom_not_derived_from_a_scanner() {
    // Two clients that are not among the baseline's references; X-Lite even writes
    // `"301"<sip:` without a space, like svwar.
    let xlite = |i: u32| {
        lines(&[
            &format!("Via: SIP/2.0/UDP 203.0.113.5:5062;branch=z9hG4bK-d8754z-1a2b3c{i}d5e6f7a8b-1---d8754z-;rport"),
            "Max-Forwards: 70",
            &format!("Contact: <sip:301@203.0.113.5:5062;rinstance=a1b2c3d4e5f6a{i}b8>"),
            "To: \"301\"<sip:301@198.51.100.20>",
            &format!("From: \"301\"<sip:301@198.51.100.20>;tag=4f5e6d{i}c"),
            &format!("Call-ID: NzE2ZDVlNGYzYTJi{i}WMwZA.."),
            &format!("CSeq: {i} REGISTER"),
            "Expires: 3600",
            "Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, MESSAGE, SUBSCRIBE, INFO",
            "User-Agent: X-Lite release 5.8.3 stamp 102651",
            "Content-Length: 0",
        ])
    };
    let grandstream = |i: u32| {
        lines(&[
            &format!("Via: SIP/2.0/UDP 203.0.113.5:5062;branch=z9hG4bK14013861{i}6;rport"),
            &format!("From: <sip:302@198.51.100.20>;tag=12453095{i}1"),
            "To: <sip:302@198.51.100.20>",
            &format!("Call-ID: 18204873{i}1-5062-1@BA.AAA.AAA.F"),
            &format!("CSeq: 200{i} REGISTER"),
            "Contact: <sip:302@203.0.113.5:5062>;reg-id=1;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000B82A1B2C3>\"",
            "X-Grandstream-PBX: true",
            "Max-Forwards: 70",
            "User-Agent: Grandstream GXP1625 1.0.4.138",
            "Supported: path",
            "Expires: 3600",
            "Allow: INVITE, ACK, OPTIONS, CANCEL, BYE, SUBSCRIBE, NOTIFY, INFO, REFER, UPDATE, MESSAGE",
            "Content-Length: 0",
        ])
    };
    let library = ToolLibrary::builtin();
    for phone in [[xlite(1), xlite(2), xlite(3)], [grandstream(1), grandstream(2), grandstream(3)]] {
        let fp = flow_to("sip:198.51.100.20", &phone);
        let found = library.match_fingerprint(&fp);
        assert_eq!(found.verdict, Verdict::Custom { fingerprint_id: fp.id() }, "{found:?}\n{}", fp.text());
        assert!(found.similarity < 0.2, "{found:?}");
    }
}
