//! Parsing tests: real-world headers and hostile input.

use crate::digest::{Algorithm, Challenge, Credentials, DigestDefect, DigestError, Param, Qop, MAX_PARAMS};

fn names<'a>(params: &[Param<'a>]) -> Vec<&'a [u8]> {
    params.iter().map(|p| p.name).collect()
}

#[test]
fn asterisk_chan_sip_challenge() {
    let c = Challenge::parse(br#"Digest algorithm=MD5, realm="asterisk", nonce="6c3b5e1a""#).expect("parses");
    assert!(c.is_digest());
    assert_eq!(c.algorithm, Some(Algorithm::Md5));
    assert_eq!(c.realm, Some(&b"asterisk"[..]));
    assert_eq!(c.nonce, Some(&b"6c3b5e1a"[..]));
    assert_eq!(c.opaque, None);
    assert!(!c.stale);
    assert_eq!(c.qop_options().count(), 0);
    assert_eq!(names(&c.params), [&b"algorithm"[..], b"realm", b"nonce"], "wire order kept");
    assert!(c.defects.is_empty(), "{:?}", c.defects);
}

#[test]
fn pjsip_challenge_no_spaces_lowercase_algorithm() {
    let c = Challenge::parse(
        br#"Digest realm="asterisk",nonce="1585246462/4f0d6a1b",opaque="5a0f6ba37c",algorithm=md5,qop="auth""#,
    )
    .expect("parses");
    assert_eq!(c.algorithm, Some(Algorithm::Md5));
    assert_eq!(c.opaque, Some(&b"5a0f6ba37c"[..]));
    assert_eq!(c.qop_options().collect::<Vec<_>>(), [Qop::Auth]);
    assert!(c.defects.is_empty(), "{:?}", c.defects);
}

#[test]
fn challenge_options_stale_domain_unknown_params() {
    let c = Challenge::parse(
        b"DIGEST REALM = \"a, b\" , Nonce=\"n\", qop=\"auth, auth-int,x\", STALE=TRUE, \
          domain=\"sip:a sip:b\", algorithm=SHA-256-sess, x-foo=bar",
    )
    .expect("parses");
    assert!(c.is_digest());
    assert_eq!(c.realm, Some(&b"a, b"[..]), "comma inside quotes");
    assert_eq!(c.nonce, Some(&b"n"[..]));
    assert!(c.stale);
    assert_eq!(c.algorithm, Some(Algorithm::Sha256Sess));
    assert_eq!(c.qop_options().collect::<Vec<_>>(), [Qop::Auth, Qop::AuthInt, Qop::Other(b"x")]);
    assert_eq!(c.domain_uris().collect::<Vec<_>>(), [&b"sip:a"[..], b"sip:b"]);
    let foo = c.param(b"X-FOO").expect("unknown param kept");
    assert_eq!((foo.value, foo.quoted), (&b"bar"[..], false));
    assert!(c.defects.is_empty(), "{:?}", c.defects);
}

#[test]
fn challenge_missing_fields_and_other_scheme() {
    let c = Challenge::parse(b"Digest opaque=\"x\"").expect("parses");
    assert_eq!(c.defects, [DigestDefect::MissingRealm, DigestDefect::MissingNonce]);
    let basic = Challenge::parse(b"Basic realm=\"r\"").expect("parses");
    assert!(!basic.is_digest());
    assert_eq!(basic.defects, [DigestDefect::UnknownScheme]);
}

#[test]
fn svcrack_authorization_without_spaces() {
    let v = br#"Digest username="100",realm="asterisk",nonce="6c3b5e1a",uri="sip:100@127.0.0.1",response="325dfa936e9e18ef0b6dd2e55ce9dd56",algorithm=MD5,qop=auth,nc=00000001,cnonce="deadbeef""#;
    let c = Credentials::parse(v).expect("parses");
    assert_eq!(c.username, Some(&b"100"[..]));
    assert_eq!(c.realm, Some(&b"asterisk"[..]));
    assert_eq!(c.uri, Some(&b"sip:100@127.0.0.1"[..]));
    assert_eq!(c.algorithm, Some(Algorithm::Md5));
    assert_eq!(c.qop, Some(Qop::Auth));
    assert_eq!(c.nonce_count(), Some(1));
    assert_eq!(c.cnonce, Some(&b"deadbeef"[..]));
    assert_eq!(c.params.len(), 9);
    assert!(c.defects.is_empty(), "{:?}", c.defects);
}

#[test]
fn sipsak_and_nmap_and_embedded_styles() {
    // sipsak: uri and algorithm before realm, qop block before response.
    let sipsak = br#"Digest username="200", uri="sip:300@sip.example.com", algorithm=MD5, realm="sip.example.com", nonce="abcdef0123456789", qop=auth, nc=00000001, cnonce="1a2b3c4d", response="41e1fbb60fecd177654f7fda8cbf870d""#;
    let c = Credentials::parse(sipsak).expect("parses");
    assert!(c.defects.is_empty(), "{:?}", c.defects);
    assert_eq!(names(&c.params)[..3], [&b"username"[..], b"uri", b"algorithm"]);

    // nmap sip-brute: RFC 2069 form, algorithm last.
    let nmap = br#"Digest username="100", realm="asterisk", nonce="6c3b5e1a", uri="sip:127.0.0.1", response="909cff16798f528a68a00fdc4750f296", algorithm=MD5"#;
    let c = Credentials::parse(nmap).expect("parses");
    assert!(c.defects.is_empty(), "{:?}", c.defects);
    assert_eq!((c.qop, c.nc, c.cnonce), (None, None, None));

    // Some embedded UAs quote tokens that should be bare.
    let quoted = br#"Digest username="u", realm="r", algorithm="MD5", qop="auth", uri="sip:r", nonce="n", cnonce="c", nc=00000002, response="0123456789ABCDEF0123456789abcdef""#;
    let c = Credentials::parse(quoted).expect("parses");
    assert_eq!((c.algorithm, c.qop), (Some(Algorithm::Md5), Some(Qop::Auth)));
    assert_eq!(c.nonce_count(), Some(2));
    assert!(c.defects.is_empty(), "{:?}", c.defects);
}

#[test]
fn credentials_defects() {
    let c = Credentials::parse(b"Digest username=\"u\", qop=auth, nc=1, response=\"xyz\"").expect("parses");
    assert_eq!(
        c.defects,
        [
            DigestDefect::MissingRealm,
            DigestDefect::MissingNonce,
            DigestDefect::MissingUri,
            DigestDefect::MissingCnonce,
            DigestDefect::BadNc,
            DigestDefect::ResponseNotHex32,
        ]
    );
    let c = Credentials::parse(b"Digest realm=\"r\"").expect("parses");
    assert!(c.defects.contains(&DigestDefect::MissingUsername));
    assert!(c.defects.contains(&DigestDefect::MissingResponse));
    // A 64-digit SHA-256 response is not flagged as a bad MD5 response.
    let sha = format!(
        "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"s\", algorithm=SHA-256, response=\"{}\"",
        "a".repeat(64)
    );
    assert!(Credentials::parse(sha.as_bytes()).expect("parses").defects.is_empty());
}

#[test]
fn leniency_quirks() {
    // Missing commas, whitespace around '=', uppercase names, duplicates.
    let c =
        Credentials::parse(b"Digest USERNAME = \"a\" realm=\"r\"\tusername=\"b\", Nonce=n,uri=\"s\" , response=\"\"")
            .expect("parses");
    assert_eq!(c.username, Some(&b"a"[..]), "first duplicate wins");
    assert_eq!(c.nonce, Some(&b"n"[..]));
    assert_eq!(c.params.len(), 6, "duplicates stay in the list");
    assert!(c.defects.contains(&DigestDefect::MissingComma));
    assert!(c.defects.contains(&DigestDefect::DuplicateParameter));
    assert!(c.defects.contains(&DigestDefect::ResponseNotHex32));

    // Escaped quotes stay in the raw span; unescaped() resolves them.
    let c = Credentials::parse(br#"Digest username="a\"b\\c", realm="r""#).expect("parses");
    let user = c.param(b"username").expect("present");
    assert_eq!(user.value, br#"a\"b\\c"#);
    assert_eq!(&*user.unescaped(), br#"a"b\c"#);
    assert_eq!(c.realm, Some(&b"r"[..]));
}

#[test]
fn errors_only_without_scheme() {
    assert_eq!(Challenge::parse(b"").err(), Some(DigestError::Empty));
    assert_eq!(Credentials::parse(b" \t\r\n").err(), Some(DigestError::Empty));
    assert_eq!(Credentials::parse(b"\"x\"").err(), Some(DigestError::NoScheme));
    assert_eq!(Credentials::parse(b"username=\"x\", realm=\"r\"").err(), Some(DigestError::NoScheme));
    let only = Credentials::parse(b"Digest").expect("a bare scheme parses");
    assert!(only.params.is_empty());
    assert!(only.defects.contains(&DigestDefect::MissingUsername));
}

#[test]
fn hostile_inputs_never_panic() {
    let commas = vec![b','; 10 * 1024];
    let mut value = b"Digest ".to_vec();
    value.extend_from_slice(&commas);
    let c = Credentials::parse(&value).expect("parses");
    assert!(c.params.is_empty());

    let c = Challenge::parse(b"Digest realm=\"never closed, nonce=\"x\"").expect("parses");
    assert_eq!(c.realm, Some(&b"never closed, nonce="[..]));
    assert!(c.defects.contains(&DigestDefect::UnterminatedQuotedString));

    let c = Challenge::parse(b"Digest realm=\"trailing backslash\\").expect("parses");
    assert!(c.defects.contains(&DigestDefect::UnterminatedQuotedString));

    let c = Credentials::parse(b"Digest username=\"\xff\xfe\x00\", realm=\xc3\x28, =x, \"q\", @@, a=").expect("parses");
    assert_eq!(c.username, Some(&b"\xff\xfe\x00"[..]));
    assert_eq!(c.realm, Some(&b"\xc3\x28"[..]));
    assert!(c.defects.contains(&DigestDefect::MalformedParameter));

    let many: Vec<u8> = (0..1000).flat_map(|i| format!("p{i}=v,").into_bytes()).collect();
    let mut value = b"Digest ".to_vec();
    value.extend_from_slice(&many);
    let c = Challenge::parse(&value).expect("parses");
    assert_eq!(c.params.len(), MAX_PARAMS);
    assert!(c.defects.contains(&DigestDefect::TooManyParameters));
}

#[test]
fn defect_names_are_unique_snake_case() {
    let mut seen = std::collections::HashSet::new();
    for d in DigestDefect::ALL {
        let name = d.name();
        assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit()));
        assert!(seen.insert(name), "duplicate name {name}");
    }
}

proptest::proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
        let _ = Challenge::parse(&bytes);
        if let Ok(c) = Credentials::parse(&bytes) {
            let _ = crate::digest::verify(&c, b"REGISTER", b"pw");
        }
    }

    #[test]
    fn header_like_bytes_never_panic(s in r#"(Digest|digest|Basic)?[ ,=\\"a-z0-9]{0,200}"#) {
        let _ = Challenge::parse(s.as_bytes());
        if let Ok(c) = Credentials::parse(s.as_bytes()) {
            let _ = crate::digest::verify(&c, b"REGISTER", b"pw");
        }
    }
}

/// The fields are each name's first occurrence, case-insensitive, as `param` finds it.
#[test]
fn fields_are_the_first_param_of_each_name() {
    let v = b"Digest NC=00000001, Username=\"a\", username=\"b\", REALM=r, Nonce=\"n\", URI=\"sip:x\", \
RESPONSE=\"r1\", response=\"r2\", Algorithm=MD5-sess, CNonce=c, Opaque=o, QOP=auth, x=y, uris=z, nonces=w";
    let c = Credentials::parse(v).unwrap();
    let first = |name: &[u8]| c.param(name).map(|p| p.value);
    assert_eq!(c.username, first(b"username"));
    assert_eq!(c.username, Some(&b"a"[..]));
    assert_eq!(c.realm, first(b"realm"));
    assert_eq!(c.nonce, first(b"nonce"));
    assert_eq!(c.uri, first(b"uri"));
    assert_eq!(c.response, Some(&b"r1"[..]));
    assert_eq!(c.algorithm, first(b"algorithm").map(Algorithm::parse));
    assert_eq!(c.cnonce, first(b"cnonce"));
    assert_eq!(c.opaque, first(b"opaque"));
    assert_eq!(c.qop, first(b"qop").map(Qop::parse));
    assert_eq!(c.nc, first(b"nc"));
    assert!(c.defects.contains(&DigestDefect::DuplicateParameter));
    assert!(c.defects.contains(&DigestDefect::ResponseNotHex32));
}

#[test]
fn tchar_table_is_rfc7230() {
    for b in 0..=255u8 {
        let expected = b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        assert_eq!(super::super::params::is_tchar(b), expected, "{b:#x}");
    }
}
