//! Computation, verification and builder tests. Expected hashes were
//! cross-checked with Python's hashlib.

use crate::digest::{
    ha1, ha2, response, response_for_password, verify, Algorithm, Credentials, DigestDefect, PreparedCredentials,
    Unsupported, Verification,
};

#[test]
fn rfc2617_section_3_5_example() {
    let a1 = ha1(b"Mufasa", b"testrealm@host.com", b"Circle Of Life", Algorithm::Md5, b"", b"").expect("md5");
    assert_eq!(&a1, b"939e7578ed9e3c518a452acee763bce9");
    let a2 = ha2(b"GET", b"/dir/index.html");
    assert_eq!(&a2, b"39aff3a2bab6126f332b942af96d3366");
    let r = response(&a1, b"dcd98b7102dd2f0e8b11d0f600bfb0c093", b"00000001", b"0a4f113b", Some(b"auth"), &a2);
    assert_eq!(&r, b"6629fae49393a05397450978507c4ef1");

    let creds = Credentials::parse(
        br#"Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
    )
    .expect("parses");
    assert_eq!(verify(&creds, b"GET", b"Circle Of Life"), Verification::Ok);
    assert_eq!(verify(&creds, b"GET", b"circle of life"), Verification::WrongPassword);
    assert_eq!(verify(&creds, b"POST", b"Circle Of Life"), Verification::WrongPassword);
}

#[test]
fn sip_register_qop_none() {
    // hashlib: md5("100:asterisk:secret"), md5("REGISTER:sip:127.0.0.1"), ...
    let a1 = ha1(b"100", b"asterisk", b"secret", Algorithm::Md5, b"", b"").expect("md5");
    assert_eq!(&a1, b"c0152c41e3534002c1f615f307db10b6");
    let a2 = ha2(b"REGISTER", b"sip:127.0.0.1");
    assert_eq!(&a2, b"7f83831edc2db7fc4a41972f6cbb2683");
    let r = response(&a1, b"6c3b5e1a", b"ignored", b"ignored", None, &a2);
    assert_eq!(&r, b"909cff16798f528a68a00fdc4750f296");

    let creds = Credentials::parse(
        br#"Digest username="100", realm="asterisk", nonce="6c3b5e1a", uri="sip:127.0.0.1", response="909CFF16798F528A68A00FDC4750F296", algorithm=MD5"#,
    )
    .expect("parses");
    assert_eq!(verify(&creds, b"REGISTER", b"secret"), Verification::Ok, "uppercase hex ok");
    assert_eq!(
        response_for_password(&creds, b"REGISTER", b"secret").as_ref(),
        Some(b"909cff16798f528a68a00fdc4750f296")
    );
}

#[test]
fn qop_token_hashed_as_sent() {
    // hashlib: ...:00000001:0a4f113b:AUTH:<ha2>, the client's own spelling.
    let creds = Credentials::parse(
        br#"Digest username="100", realm="asterisk", nonce="6c3b5e1a", uri="sip:127.0.0.1", qop=AUTH, nc=00000001, cnonce="0a4f113b", response="f6b29a5333672e6e4010a0e124764b40""#,
    )
    .expect("parses");
    assert_eq!(verify(&creds, b"REGISTER", b"secret"), Verification::Ok);
}

#[test]
fn md5_sess() {
    let a1 = ha1(b"100", b"asterisk", b"secret", Algorithm::Md5Sess, b"6c3b5e1a", b"0a4f113b").expect("md5-sess");
    assert_eq!(&a1, b"f4bbbf384afe4ae67d51ba67b6dbbad8");
    let creds = Credentials::parse(
        br#"Digest username="100",realm="asterisk",nonce="6c3b5e1a",uri="sip:127.0.0.1",response="5f1f629c07dc7e5d99be66b9b7e14a2c",algorithm=MD5-sess,qop=auth,nc=00000001,cnonce="0a4f113b""#,
    )
    .expect("parses");
    assert_eq!(verify(&creds, b"REGISTER", b"secret"), Verification::Ok);
    let prepared = PreparedCredentials::new(&creds, b"REGISTER").expect("prepares");
    // Stored-HA1 check uses the pre-session HA1 (Asterisk md5secret).
    assert!(prepared.matches_ha1(b"c0152c41e3534002c1f615f307db10b6"));
    assert!(!prepared.matches_ha1(b"f4bbbf384afe4ae67d51ba67b6dbbad8"));
}

#[test]
fn svcrack_and_sipsak_verify() {
    let svcrack = br#"Digest username="100",realm="asterisk",nonce="6c3b5e1a",uri="sip:100@127.0.0.1",response="325dfa936e9e18ef0b6dd2e55ce9dd56",algorithm=MD5,qop=auth,nc=00000001,cnonce="deadbeef""#;
    let creds = Credentials::parse(svcrack).expect("parses");
    let prepared = PreparedCredentials::new(&creds, b"REGISTER").expect("prepares");
    let wordlist: [&[u8]; 5] = [b"", b"100", b"1234", b"password", b"secret"];
    let hits: Vec<_> = wordlist.iter().filter(|pw| prepared.matches(pw)).collect();
    assert_eq!(hits, [&&b"secret"[..]]);

    let sipsak = br#"Digest username="200", uri="sip:300@sip.example.com", algorithm=MD5, realm="sip.example.com", nonce="abcdef0123456789", qop=auth, nc=00000001, cnonce="1a2b3c4d", response="41e1fbb60fecd177654f7fda8cbf870d""#;
    let creds = Credentials::parse(sipsak).expect("parses");
    assert_eq!(verify(&creds, b"INVITE", b"1234"), Verification::Ok);
}

#[test]
fn raw_backslash_is_hashed_as_sent() {
    // hashlib over `a\b:asterisk:pw` etc.: tools format without escaping.
    let a1 = ha1(br"a\b", b"asterisk", b"pw", Algorithm::Md5, b"", b"").expect("md5");
    let a2 = ha2(b"REGISTER", b"sip:127.0.0.1");
    let r = response(&a1, b"6c3b5e1a", b"", b"", None, &a2);
    let value = format!(
        r#"Digest username="a\b", realm="asterisk", nonce="6c3b5e1a", uri="sip:127.0.0.1", response="{}""#,
        std::str::from_utf8(&r).expect("hex")
    );
    let creds = Credentials::parse(value.as_bytes()).expect("parses");
    assert_eq!(verify(&creds, b"REGISTER", b"pw"), Verification::Ok);

    // An RFC-conforming client escapes it: `a\\b` on the wire, `a\b` hashed.
    let value = value.replace(r"a\b", r"a\\b");
    let creds = Credentials::parse(value.as_bytes()).expect("parses");
    assert_eq!(creds.username, Some(&br"a\\b"[..]));
    assert_eq!(verify(&creds, b"REGISTER", b"pw"), Verification::Ok);
    assert_eq!(verify(&creds, b"REGISTER", b"px"), Verification::WrongPassword);
}

#[test]
fn unsupported_and_malformed() {
    let base = r#"username="u", realm="r", nonce="n", uri="s", response="0123456789abcdef0123456789abcdef""#;
    let check = |value: String| {
        let creds = Credentials::parse(value.as_bytes()).expect("parses");
        verify(&creds, b"REGISTER", b"pw")
    };
    assert_eq!(
        check(format!("Digest {base}, qop=auth-int, nc=00000001, cnonce=\"c\"")),
        Verification::Unsupported(Unsupported::QopAuthInt)
    );
    assert_eq!(check(format!("Digest {base}, qop=bogus")), Verification::Unsupported(Unsupported::UnknownQop));
    assert_eq!(check(format!("Digest {base}, algorithm=SHA-256")), Verification::Unsupported(Unsupported::Algorithm));
    assert_eq!(check(format!("Basic {base}")), Verification::Unsupported(Unsupported::Scheme));
    // qop=auth without nc or cnonce falls back to RFC 2069 (see below).
    assert_eq!(check(format!("Digest {base}, qop=auth, nc=00000001")), Verification::WrongPassword);
    assert_eq!(
        check(format!("Digest {base}, algorithm=MD5-sess")),
        Verification::Malformed(DigestDefect::MissingCnonce)
    );
    assert_eq!(
        check("Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"s\", response=\"zz\"".into()),
        Verification::Malformed(DigestDefect::ResponseNotHex32)
    );
    assert_eq!(check("Digest username=\"u\"".into()), Verification::Malformed(DigestDefect::MissingRealm));
    assert_eq!(check(format!("Digest {base}")), Verification::WrongPassword);
    assert_eq!(Verification::Malformed(DigestDefect::MissingNc).name(), "missing_nc");
}

/// Authorization values captured from the real tools against the test
/// responder (accounts 100/100, 101/s3cret-101, realm "asterisk").
#[test]
fn real_tool_captures() {
    let cases: [(&[u8], &[u8], &[u8]); 4] = [
        // nmap sip-brute: RFC 2069, algorithm last.
        (
            b"REGISTER",
            br#"Digest username="100", realm="asterisk", nonce="4389e028", uri="sip:127.0.0.1", response="f87c8e9190856b4306482df9a8f545f9", algorithm=MD5"#,
            b"100",
        ),
        // sipsak: uri and algorithm before realm.
        (
            b"REGISTER",
            br#"Digest username="100", uri="sip:127.0.0.1", algorithm=MD5, realm="asterisk", nonce="8727413d", response="4d2e6b1d957bd3af26c0d64e5e921d76""#,
            b"100",
        ),
        // SIPp Proxy-Authorization on INVITE, no spaces.
        (
            b"INVITE",
            br#"Digest username="100",realm="asterisk",uri="sip:127.0.0.1:5060",nonce="a5bb98a7",response="d785619c5c11bd92ed9cbea8feb0ee5f",algorithm=MD5"#,
            b"100",
        ),
        // svcrack: qop=auth with no nc/cnonce, RFC 2069 response.
        (
            b"REGISTER",
            br#"Digest username="100",realm="asterisk",nonce="fe45e189",uri="sip:127.0.0.1",algorithm=MD5,qop=auth,response="7c6df263eaa91f095ac099a5ccf37e01""#,
            b"100",
        ),
    ];
    for (method, value, password) in cases {
        let creds = Credentials::parse(value).expect("parses");
        assert_eq!(verify(&creds, method, password), Verification::Ok, "{creds:?}");
        assert_eq!(verify(&creds, method, b"s3cret-101"), Verification::WrongPassword);
    }
    let svcrack = Credentials::parse(cases[3].1).expect("parses");
    assert_eq!(
        svcrack.defects,
        [DigestDefect::MissingCnonce, DigestDefect::MissingNc],
        "svcrack's qop quirk is visible to analysis"
    );
}
