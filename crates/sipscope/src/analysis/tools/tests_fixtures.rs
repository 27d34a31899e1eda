//! Attribution of the real tools' messages (crates/sip/tests/fixtures/tools): every folder is
//! one flow, fingerprinted with the addresses its README gives, and must come out as the tool
//! that sent it.

use super::*;
use crate::analysis::fingerprint::FingerprintBuilder;
use std::net::{IpAddr, SocketAddr};

use crate::test_support::TOOL_FIXTURES as DIR;

/// The source port each folder's packets came from (fixtures README): SIPVicious fell back
/// to 5061, SIPp used -p 5071, baresip and NSE sent from their Via port, sipsak from a port its
/// Via does not show (`None`: use the Via port; a number: that port).
fn source_port(folder: &str) -> Option<u16> {
    Some(match folder {
        f if f.starts_with("sv") => 5061,
        "nmap" | "nmap-tcp" | "baresip-register" | "sipsak-tcp" => return None,
        "nmap-sv" => 45017,
        "sipsak" => 46731,
        "sipsak-register" => 47444,
        "sipsak-register-badpw" => 47447,
        f if f.starts_with("sipp") => 5071,
        other => panic!("no source port known for {other}"),
    })
}

/// Builds one folder's fingerprint: destination = the Request-URI host on port 5060, source =
/// 127.0.0.1 (or ::1 for an IPv6 target) on the folder's port. Empty datagrams do not parse
/// and are skipped, as the flow table would.
pub(super) fn fingerprint_folder(folder: &str) -> Fingerprint {
    fingerprint_files(folder, false)
}

fn fingerprint_files(folder: &str, reversed: bool) -> Fingerprint {
    let mut files: Vec<_> = std::fs::read_dir(format!("{DIR}{folder}"))
        .unwrap_or_else(|e| panic!("{folder}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sip"))
        .collect();
    files.sort();
    if reversed {
        files.reverse();
    }
    let mut builder = FingerprintBuilder::new();
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        let Ok(msg) = sipscope_sip::parse(&bytes) else { continue };
        let uri = msg.request_uri().expect("requests only");
        let host = std::str::from_utf8(uri.host).unwrap().trim_start_matches('[').trim_end_matches(']');
        // nmap -sV writes `sip:nm`: no address, so the target was 127.0.0.1.
        let dst_ip: IpAddr = host.parse().unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let src_ip: IpAddr = if dst_ip.is_ipv6() { "::1".parse().unwrap() } else { "127.0.0.1".parse().unwrap() };
        let port = source_port(folder).unwrap_or_else(|| msg.vias().next().and_then(|v| v.port).expect("Via port"));
        builder.add(&msg, SocketAddr::new(src_ip, port), SocketAddr::new(dst_ip, 5060));
    }
    builder.fingerprint()
}

/// The ranking, for failure messages.
pub(super) fn explain(library: &ToolLibrary, fp: &Fingerprint) -> String {
    let mut out = fp.text();
    for c in library.rank(fp).iter().take(4) {
        let e = &library.entries()[c.entry];
        let (rank, sim, raw, base) = (c.rank_score, c.similarity, c.raw, c.baseline);
        out.push_str(&format!("  {rank:.3} {sim:.3} (raw {raw:.3} base {base:.3}) {} / {}\n", e.name, e.variant));
        if std::env::var_os("EXPLAIN").is_some() {
            for f in library.explain(fp, c.entry) {
                out.push_str(&format!(
                    "        {:.3} x{} k{:.2} {} ({})\n",
                    f.similarity, f.weight, f.known, f.key, f.matched
                ));
            }
        }
    }
    out
}

#[test]
fn every_fixture_folder_is_attributed_to_the_tool_that_sent_it() {
    let expected = [
        (&["svmap", "svmap-range", "svmap-invite", "svmap-register", "svmap-ipv6"][..], "SIPVicious", "svmap"),
        (&["svmap-compact"], "SIPVicious", "svmap -c"),
        (&["svwar", "svwar-invite", "svwar-options", "svwar-ipv6"], "SIPVicious", "svwar"),
        (&["svcrack", "svcrack-miss"], "SIPVicious", "svcrack"),
        (&["nmap", "nmap-tcp"], "NMap", "NSE sip scripts"),
        (&["nmap-sv"], "NMap", "Base"),
        (&["sipsak", "sipsak-tcp", "sipsak-register", "sipsak-register-badpw"], "sipsak", "Base"),
        (&["sipp-uac", "sipp-register", "sipp-invite-auth"], "SIPp", "Base"),
        (&["baresip-register"], "baresip", "Base"),
    ];
    let library = ToolLibrary::builtin();
    let mut folders = 0;
    for (list, tool, variant) in expected {
        for folder in list {
            let fp = fingerprint_folder(folder);
            let found = library.match_fingerprint(&fp);
            let why = explain(&library, &fp);
            assert_eq!((found.tool.as_str(), found.variant.as_str()), (tool, variant), "{folder}:\n{why}");
            assert_eq!(found.verdict, Verdict::Exact, "{folder}:\n{why}");
            assert!(found.similarity >= EXACT_THRESHOLD + 0.05, "{folder}: a thin margin\n{why}");
            folders += 1;
        }
    }
    let on_disk = std::fs::read_dir(DIR).unwrap().filter(|e| e.as_ref().unwrap().path().is_dir()).count();
    assert_eq!(folders, on_disk, "a fixture folder is not covered");
}

#[test]
fn every_folder_gives_the_same_text_in_reverse_order() {
    for entry in std::fs::read_dir(DIR).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            let folder = path.file_name().unwrap().to_str().unwrap();
            let (forward, backward) = (fingerprint_files(folder, false), fingerprint_files(folder, true));
            assert_eq!(forward.text(), backward.text(), "{folder}");
            assert_eq!(forward.id(), backward.id(), "{folder}");
        }
    }
}

#[test]
fn the_nmap_version_probe_is_table_one_row_five_and_the_papers_fingerprint() {
    let fp = fingerprint_folder("nmap-sv");
    // 004 §IV.B prints exactly these lines for NMap (sorted keys); the two empty datagrams
    // of the port scan do not count.
    let paper = "accept:application/sdp\ncall-id:50000\ncontact:<sip:nm@nm>\ncontent-length:0\n\
                 cseq:42 OPTIONS\nfrom:<sip:nm@nm>;tag=root\nmax-forwards:70\nto:<sip:nm2@nm2>\n\
                 via:SIP/2.0/UDP nm;branch=foo;rport\n";
    assert!(fp.text().contains(paper), "{}", fp.text());
    assert_eq!(fp.packets(), 1);
    let found = ToolLibrary::builtin().match_fingerprint(&fp);
    assert_eq!(found.table, Some(5));
    assert_eq!(found.similarity, 1.0);
}

#[test]
fn svmap_keeps_its_constants_and_loses_its_random_fields() {
    let fp = fingerprint_folder("svmap-range");
    assert_eq!(fp.value("user-agent").unwrap().text(), "friendly-scanner");
    assert_eq!(fp.value("to").unwrap().text(), "\"sipvicious\"<sip:100@1.1.1.1>");
    assert_eq!(fp.value("contact").unwrap().text(), "sip:100@SourceIP:SourcePort");
    let via = fp.value("via").unwrap().text();
    assert!(via.starts_with("SIP/2.0/UDP SourceIP:SourcePort;branch=z9hG4bK-"), "{via}");
    // The Call-IDs are random decimals of 24 or 25 digits: (almost) nothing survives.
    let call_id = fp.value("call-id").unwrap();
    assert_eq!((call_id.min_len(), call_id.max_len()), (24, 25));
    assert!(call_id.head().holes() >= 20, "{}", call_id.text());
}

#[test]
#[ignore = "prints every folder's ranking (cargo test -- --ignored --nocapture)"]
fn print_rankings() {
    let library = ToolLibrary::builtin();
    let mut folders: Vec<String> = std::fs::read_dir(DIR)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    folders.sort();
    for folder in folders {
        println!("== {folder}\n{}", explain(&library, &fingerprint_folder(&folder)));
    }
}
