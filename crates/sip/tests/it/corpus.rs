//! RFC 4475 and RFC 5118 torture messages (copied byte for byte from `shared/corpus`).

use sipscope_sip::{parse, AnomalyKind, Message};
use std::path::{Path, PathBuf};

fn fixture_dir(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(sub)
}

fn files(sub: &str) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(fixture_dir(sub))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap() != "INDEX.tsv")
        .map(|p| (p.file_stem().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    out
}

fn violations(msg: &Message<'_>) -> Vec<&'static str> {
    msg.anomalies().iter().filter(|a| a.kind.forbidden_by_rfc3261()).map(|a| a.kind.name()).collect()
}

#[test]
fn valid_messages_have_no_violations() {
    let valid = files("rfc4475/valid");
    assert_eq!(valid.len(), 13);
    for (name, bytes) in valid {
        let msg = parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(violations(&msg).is_empty(), "{name}: {:?}", violations(&msg));
    }
}

#[test]
fn each_invalid_message_names_its_defect() {
    use AnomalyKind::*;
    let expected: &[(&str, &[AnomalyKind])] = &[
        ("badaspec", &[WhitespaceInAddrSpec]),
        ("baddate", &[InvalidDate]),
        ("baddn", &[InvalidDisplayName, HeadersNotTerminated]),
        ("badinv01", &[EmptyParameter, EmptyListElement]),
        ("badvers", &[UnknownSipVersion]),
        ("bigcode", &[StatusCodeOutOfRange]),
        ("clerr", &[ContentLengthExceedsBody]),
        ("escruri", &[HeadersInRequestUri]),
        ("ltgtruri", &[AngleBracketsInRequestUri]),
        ("lwsruri", &[WhitespaceInRequestUri]),
        ("lwsstart", &[ExtraWhitespaceInStartLine]),
        ("mismatch01", &[CseqMethodMismatch]),
        ("mismatch02", &[CseqMethodMismatch]),
        ("ncl", &[NegativeContentLength]),
        ("quotbal", &[UnterminatedQuotedString]),
        ("regbadct", &[AddrSpecNeedsAngleBrackets]),
        ("scalar02", &[CseqNumberOutOfRange, MaxForwardsOutOfRange, ExpiresOutOfRange]),
        ("scalarlg", &[CseqNumberOutOfRange, RetryAfterOutOfRange, InvalidWarning]),
        ("trws", &[TrailingWhitespaceInStartLine]),
    ];
    let invalid = files("rfc4475/invalid");
    assert_eq!(invalid.len(), expected.len());
    for (name, bytes) in &invalid {
        let msg = parse(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (_, kinds) =
            expected.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no expectation for {name}"));
        for kind in *kinds {
            assert!(msg.has_anomaly(*kind), "{name}: expected {kind}, got {:?}", violations(&msg));
        }
        assert!(msg.violates_rfc3261(), "{name}");
    }
}

#[test]
fn other_sections_parse() {
    for sub in ["rfc4475/application_layer", "rfc4475/transaction_layer", "rfc4475/backward_compat", "rfc4475/extra"] {
        for (name, bytes) in files(sub) {
            parse(&bytes).unwrap_or_else(|e| panic!("{sub}/{name}: {e}"));
        }
    }
    let badbranch = std::fs::read(fixture_dir("rfc4475/transaction_layer/badbranch.dat")).unwrap();
    assert!(parse(&badbranch).unwrap().has_anomaly(AnomalyKind::MissingViaBranch));
    let insuf = std::fs::read(fixture_dir("rfc4475/application_layer/insuf.dat")).unwrap();
    let insuf = parse(&insuf).unwrap();
    assert!(insuf.has_anomaly(AnomalyKind::MissingCallId) && insuf.has_anomaly(AnomalyKind::MissingFrom));
    let multi = std::fs::read(fixture_dir("rfc4475/application_layer/multi01.dat")).unwrap();
    assert!(parse(&multi).unwrap().has_anomaly(AnomalyKind::DuplicateSingleValueHeader));
    let mcl = std::fs::read(fixture_dir("rfc4475/application_layer/mcl01.dat")).unwrap();
    assert!(parse(&mcl).unwrap().has_anomaly(AnomalyKind::ConflictingContentLength));
    let inv2543 = std::fs::read(fixture_dir("rfc4475/backward_compat/inv2543.dat")).unwrap();
    let inv2543 = parse(&inv2543).unwrap();
    assert!(inv2543.has_anomaly(AnomalyKind::MissingFromTag));
    assert!(inv2543.has_anomaly(AnomalyKind::MissingMaxForwards));
}

#[test]
fn rfc5118_ipv6_messages() {
    let good = [
        "ipv6-good",
        "port-unambiguous",
        "via-received-param-no-delim",
        "via-received-param-with-delim",
        "ipv6-in-sdp",
        "mult-ip-in-header",
        "mult-ip-in-sdp",
        "ipv4-mapped-ipv6",
        "ipv6-correct-abnf-2-colons",
    ];
    for (name, bytes) in files("rfc5118") {
        let msg = parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        if good.contains(&name.as_str()) {
            assert!(violations(&msg).is_empty(), "{name}: {:?}", violations(&msg));
        }
    }
    let bad = |n: &str| {
        parse(&std::fs::read(fixture_dir("rfc5118").join(n)).unwrap()).unwrap().has_anomaly(AnomalyKind::InvalidUri)
    };
    let ipv6_bad = std::fs::read(fixture_dir("rfc5118/ipv6-bad")).unwrap();
    assert!(parse(&ipv6_bad).unwrap().has_anomaly(AnomalyKind::UnbracketedIpv6));
    assert!(bad("ipv6-bug-abnf-3-colons"));
}

#[test]
fn wsinv_is_read_exactly() {
    let bytes = std::fs::read(fixture_dir("rfc4475/valid/wsinv.dat")).unwrap();
    let msg = parse(&bytes).unwrap();
    let names: Vec<_> = msg.headers().iter().map(|h| String::from_utf8_lossy(h.name).into_owned()).collect();
    assert_eq!(
        names,
        [
            "TO",
            "from",
            "MaX-fOrWaRdS",
            "Call-ID",
            "Content-Length",
            "cseq",
            "Via",
            "s",
            "NewFangledHeader",
            "UnknownHeaderWithUnusualValue",
            "Content-Type",
            "Route",
            "v",
            "m"
        ]
    );
    assert_eq!(msg.to().unwrap().tag(), Some(&b"1918181833n"[..]));
    assert_eq!(msg.from().unwrap().tag(), Some(&b"98asjd8"[..]));
    assert_eq!(msg.max_forwards(), Some(68));
    assert_eq!(msg.cseq().unwrap().seq, Some(9));
    let vias: Vec<_> = msg.vias().collect();
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[1].transport, b"TCP");
    assert_eq!(vias[2].branch(), Some(&b"z9hG4bK30239"[..]));
    assert_eq!(msg.body().len(), 150);
    assert!(msg.trailing().is_empty());
    // Every header line, and the body, is a span of the original buffer: concatenated they
    // give back the message byte for byte.
    let mut rebuilt = msg.start_line_raw().to_vec();
    rebuilt.extend_from_slice(b"\r\n");
    for h in msg.headers() {
        rebuilt.extend_from_slice(h.line);
    }
    rebuilt.extend_from_slice(b"\r\n");
    rebuilt.extend_from_slice(msg.body());
    assert_eq!(rebuilt, bytes);
}

#[test]
fn dblreq_reports_trailing_bytes() {
    let bytes = std::fs::read(fixture_dir("rfc4475/valid/dblreq.dat")).unwrap();
    let msg = parse(&bytes).unwrap();
    assert_eq!(msg.method(), Some(&b"REGISTER"[..]));
    assert!(msg.has_anomaly(AnomalyKind::TrailingBytesAfterBody));
    assert!(msg.trailing().starts_with(b"\r\nINVITE"));
}
