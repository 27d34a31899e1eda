//! Writing the PBX's answers: To tags, Date headers and digest challenges in the profile's
//! style. Every answer goes through [`ResponseBuilder`], which copies Via/From/To/Call-ID/CSeq
//! and neutralises CR/LF in anything taken from the request.

use super::super::profile::{Profile, TagFormat};
use md5::{Digest, Md5};
use sipscope_sip::builder::ResponseBuilder;
use sipscope_sip::digest::{Algorithm, ChallengeSpec};
use sipscope_sip::Message;
use std::net::SocketAddr;

/// The To tag for a request: a keyed hash of its Call-ID and From tag, so retransmissions get
/// the same tag without the PBX keeping any state per dialog.
pub fn to_tag(format: TagFormat, secret: &[u8; 16], msg: &Message<'_>) -> String {
    let mut h = Md5::new();
    h.update(secret);
    h.update(msg.call_id().unwrap_or_default());
    h.update([0]);
    h.update(msg.from().and_then(|f| f.tag()).unwrap_or_default());
    let d: [u8; 16] = h.finalize().into();
    let hex = hex::encode(d);
    match format {
        TagFormat::AsHex8 => format!("as{}", &hex[..8]),
        TagFormat::Hex16 => hex[..16].to_owned(),
        TagFormat::Uuid => format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32]),
    }
}

/// The status code of one of our own answers (`SIP/2.0 486 Busy Here`).
pub fn status_of(answer: &[u8]) -> Option<u16> {
    let code = answer.strip_prefix(b"SIP/2.0 ")?.get(..3)?;
    std::str::from_utf8(code).ok()?.parse().ok()
}

/// An answer to `msg` with the profile's Server header, `extra` headers and no body.
pub fn simple(
    profile: &Profile,
    msg: &Message<'_>,
    source: SocketAddr,
    tag: &str,
    status: u16,
    reason: &str,
    extra: &[(&str, &[u8])],
) -> Vec<u8> {
    let mut b = ResponseBuilder::new(msg, status, reason).to_tag(tag.as_bytes()).source(source.ip(), source.port());
    if let Some(server) = &profile.server {
        b = b.header("Server", server.as_bytes());
    }
    for (name, value) in extra {
        b = b.header(name, value);
    }
    b.build()
}

/// The challenge header (name and value) for a nonce.
pub fn challenge_header(
    profile: &Profile,
    nonce: &str,
    opaque: Option<&str>,
    proxy: bool,
    stale: bool,
) -> (&'static str, Vec<u8>) {
    let auth = &profile.auth;
    let spec = ChallengeSpec {
        realm: auth.realm.as_bytes(),
        nonce: nonce.as_bytes(),
        opaque: opaque.map(str::as_bytes),
        algorithm: auth.algorithm.then_some(Algorithm::Md5),
        qop: auth.qop.as_deref().map(str::as_bytes),
        stale,
        proxy,
    };
    let mut value = Vec::with_capacity(128);
    spec.write_value(&mut value);
    (spec.header_name(), value)
}

/// Headers an answer can do without, in the order they are given up when an answer must
/// shrink to fit the amplification budget: capability lists first, the Server header last
/// (version scanners identify the PBX by it).
const OPTIONAL: [&[&[u8]]; 2] = [&[b"allow", b"supported", b"accept", b"date"], &[b"server"]];

/// Smaller forms of one of our own answers, each without more optional headers: what is sent
/// when the full answer would exceed a source's byte budget. Only for answers this module
/// built (one header per line, no folding, no body).
pub fn compacted(answer: &[u8]) -> Vec<Vec<u8>> {
    let mut forms = Vec::new();
    let mut dropped: Vec<&[u8]> = Vec::new();
    for level in OPTIONAL {
        dropped.extend_from_slice(level);
        let mut out = Vec::with_capacity(answer.len());
        for line in answer.split_inclusive(|&b| b == b'\n') {
            let name = line.split(|&b| b == b':').next().unwrap_or_default();
            let optional = line.contains(&b':') && dropped.iter().any(|d| name.trim_ascii().eq_ignore_ascii_case(d));
            if !optional {
                out.extend_from_slice(line);
            }
        }
        if out.len() < answer.len() && forms.last().is_none_or(|f: &Vec<u8>| f.len() > out.len()) {
            forms.push(out);
        }
    }
    forms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compacted_answers_drop_capabilities_then_server_and_stay_valid() {
        let req = sipscope_sip::parse(b"OPTIONS sip:a SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\n\r\n").unwrap();
        let profile = Profile::load("asterisk-chan-sip").unwrap();
        let full = simple(
            &profile,
            &req,
            "192.0.2.1:5060".parse().unwrap(),
            "as1",
            200,
            "OK",
            &[("Allow", b"INVITE, ACK"), ("Supported", b"timer")],
        );
        let forms = compacted(&full);
        assert_eq!(forms.len(), 2);
        let first = sipscope_sip::parse(&forms[0]).unwrap();
        assert!(first.headers_named("Allow").next().is_none() && first.server().is_some());
        let second = sipscope_sip::parse(&forms[1]).unwrap();
        assert!(second.server().is_none() && second.call_id() == Some(&b"c1"[..]));
        assert!(second.body().is_empty() && forms[1].ends_with(b"\r\n\r\n"));
    }

    #[test]
    fn tags_are_stable_per_dialog_and_shaped_by_the_profile() {
        let a = sipscope_sip::parse(b"OPTIONS sip:a SIP/2.0\r\nFrom: <sip:x@y>;tag=1\r\nCall-ID: c1\r\n\r\n").unwrap();
        let b = sipscope_sip::parse(b"OPTIONS sip:a SIP/2.0\r\nFrom: <sip:x@y>;tag=2\r\nCall-ID: c1\r\n\r\n").unwrap();
        let s = [7u8; 16];
        assert_eq!(to_tag(TagFormat::AsHex8, &s, &a), to_tag(TagFormat::AsHex8, &s, &a));
        assert_ne!(to_tag(TagFormat::AsHex8, &s, &a), to_tag(TagFormat::AsHex8, &s, &b));
        assert_eq!(to_tag(TagFormat::AsHex8, &s, &a).len(), 10);
        assert_eq!(to_tag(TagFormat::Uuid, &s, &a).len(), 36);
    }
}
