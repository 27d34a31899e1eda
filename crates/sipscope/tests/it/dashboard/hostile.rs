//! SIP messages with hostile text in every field an attacker controls: script tags, event
//! handlers, `javascript:` links, quotes that would close an attribute, and terminal escapes.
//! Whatever shows them must show them as text.

use std::net::UdpSocket;
use std::time::Duration;

/// Text that runs script if a page parses it as HTML (it sets `window.__pwned` or opens a
/// dialog), shown as text when escaped.
pub const SCRIPT: &str = "<script>window.__pwned=1;alert(1)</script>";
/// An event handler and an attribute break-out.
pub const HANDLER: &str = "\"'><img src=x onerror=window.__pwned=1;alert(2)>";
/// A terminal escape (clear screen, red) and a bidirectional override.
pub const TERMINAL: &str = "\u{1b}[2J\u{1b}[31mred\u{202e}txet";

/// The messages: REGISTER with credentials, INVITE to a number, OPTIONS; hostile text in the
/// Request-URI user, From and To (display names and users), Contact, Call-ID, User-Agent,
/// the digest username and a free header.
pub fn messages(src: &str, src_port: u16, dst: &str) -> Vec<Vec<u8>> {
    let ua = format!("{SCRIPT}{HANDLER}{TERMINAL}");
    let user = "%3Cscript%3Ealert(3)%3C/script%3E<svg/onload=alert(4)>";
    let mut out = Vec::new();
    for (i, method) in ["REGISTER", "INVITE", "OPTIONS", "REGISTER"].iter().enumerate() {
        let ruri =
            if *method == "INVITE" { format!("sip:0046701234567{SCRIPT}@{dst}") } else { format!("sip:{user}@{dst}") };
        let auth = if i == 3 {
            format!(
                "Authorization: Digest username=\"{HANDLER}\", realm=\"{SCRIPT}\", nonce=\"{TERMINAL}\", \
                 uri=\"sip:{dst}\", response=\"00000000000000000000000000000000\"\r\n"
            )
        } else {
            String::new()
        };
        let body = format!(
            "{method} {ruri} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {src}:{src_port};branch=z9hG4bK-hostile{i};rport\r\n\
             Max-Forwards: 70\r\n\
             From: \"{SCRIPT}\" <sip:{user}@{dst}>;tag=h{i}\r\n\
             To: \"{HANDLER}\" <sip:100{SCRIPT}@{dst}>\r\n\
             Call-ID: {SCRIPT}{i}@{src}\r\n\
             CSeq: {} {method}\r\n\
             Contact: <sip:{HANDLER}@{src}:{src_port}>\r\n\
             User-Agent: {ua}\r\n\
             X-Note: javascript:alert(5) {TERMINAL}\r\n\
             {auth}Content-Length: 0\r\n\r\n",
            i + 1
        );
        out.push(body.into_bytes());
    }
    out
}

/// Sends the messages from `src` (port chosen by the system) to `dst`:5060 over UDP and waits
/// a little for the answers.
pub fn send(src: &str, dst: &str) {
    let sock = UdpSocket::bind((src, 0)).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let port = sock.local_addr().unwrap().port();
    for m in messages(src, port, dst) {
        sock.send_to(&m, (dst, 5060)).unwrap();
        let mut buf = [0u8; 4096];
        let _ = sock.recv_from(&mut buf);
    }
}
