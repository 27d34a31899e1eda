//! Builder tests: wire order, escaping, and round trips through the parser.

use crate::digest::{
    verify, Algorithm, Challenge, ChallengeSpec, ClientQop, Credentials, CredentialsSpec, DigestError, Unsupported,
    Verification,
};

#[test]
fn challenge_builder_asterisk_order() {
    let mut out = Vec::new();
    let spec = ChallengeSpec {
        realm: b"asterisk",
        nonce: b"6c3b5e1a",
        opaque: None,
        algorithm: Some(Algorithm::Md5),
        qop: None,
        stale: false,
        proxy: false,
    };
    spec.write_value(&mut out);
    assert_eq!(out, br#"Digest algorithm=MD5, realm="asterisk", nonce="6c3b5e1a""#);

    let full = ChallengeSpec { opaque: Some(b"op"), qop: Some(b"auth"), stale: true, proxy: true, ..spec };
    out.clear();
    full.write_header(&mut out);
    assert_eq!(
        out,
        &b"Proxy-Authenticate: Digest algorithm=MD5, realm=\"asterisk\", nonce=\"6c3b5e1a\", \
           qop=\"auth\", opaque=\"op\", stale=true\r\n"[..]
    );

    // Round trip, and hostile values cannot break out of the header.
    let evil = ChallengeSpec { realm: b"a\"b\\c\r\nX-Injected: 1", algorithm: None, ..spec };
    out.clear();
    evil.write_value(&mut out);
    assert!(!out.contains(&b'\r') && !out.contains(&b'\n'));
    let parsed = Challenge::parse(&out).expect("parses");
    let realm = parsed.param(b"realm").expect("realm");
    assert_eq!(&*realm.unescaped(), b"a\"b\\cX-Injected: 1");
    assert_eq!(parsed.nonce, Some(&b"6c3b5e1a"[..]));
    assert!(parsed.defects.is_empty(), "{:?}", parsed.defects);
}

#[test]
fn credentials_builder_round_trips() {
    let spec = CredentialsSpec {
        username: b"100",
        password: b"secret",
        realm: b"asterisk",
        nonce: b"6c3b5e1a",
        method: b"REGISTER",
        uri: b"sip:100@127.0.0.1",
        qop: Some(ClientQop { nc: 1, cnonce: b"deadbeef" }),
        opaque: Some(b"op"),
        algorithm: Some(Algorithm::Md5),
    };
    let mut out = Vec::new();
    spec.write_value(&mut out).expect("md5");
    assert_eq!(
        out,
        &br#"Digest username="100", realm="asterisk", nonce="6c3b5e1a", uri="sip:100@127.0.0.1", response="325dfa936e9e18ef0b6dd2e55ce9dd56", algorithm=MD5, cnonce="deadbeef", qop=auth, nc=00000001, opaque="op""#[..]
    );
    let creds = Credentials::parse(&out).expect("parses");
    assert!(creds.defects.is_empty(), "{:?}", creds.defects);
    assert_eq!(verify(&creds, b"REGISTER", b"secret"), Verification::Ok);

    // RFC 2069 form, and an nc that exercises every hex digit position.
    for (qop, alg) in [(None, None), (Some(ClientQop { nc: 0xdeadbeef, cnonce: b"c" }), Some(Algorithm::Md5Sess))] {
        out.clear();
        let spec = CredentialsSpec { qop, algorithm: alg, opaque: None, ..spec };
        spec.write_value(&mut out).expect("md5 family");
        let creds = Credentials::parse(&out).expect("parses");
        assert!(creds.defects.is_empty(), "{:?}", creds.defects);
        assert_eq!(creds.nonce_count(), qop.map(|q| q.nc));
        assert_eq!(verify(&creds, b"REGISTER", b"secret"), Verification::Ok);
    }

    // Values needing escapes survive the round trip.
    let odd = CredentialsSpec { username: br#"x"y\z"#, ..spec };
    out.clear();
    odd.write_value(&mut out).expect("md5");
    let creds = Credentials::parse(&out).expect("parses");
    assert_eq!(creds.username, Some(&br#"x\"y\\z"#[..]));
    assert_eq!(verify(&creds, b"REGISTER", b"secret"), Verification::Ok);

    let sess_no_qop = CredentialsSpec { qop: None, algorithm: Some(Algorithm::Md5Sess), ..spec };
    assert_eq!(sess_no_qop.write_value(&mut out), Err(DigestError::SessionWithoutQop));
    let sha = CredentialsSpec { algorithm: Some(Algorithm::Sha256), ..spec };
    assert_eq!(sha.write_value(&mut out), Err(DigestError::Unsupported(Unsupported::Algorithm)));
}
