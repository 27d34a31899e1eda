//! Writing messages: responses that follow RFC 3261 §8.2.6 and plain requests.
//!
//! Values given to the builders are written as they are, except that CR and LF become spaces:
//! a value copied from an attacker's message can never inject a header line.

use crate::header_name::HeaderName;
use crate::message::Message;
use crate::text::{self, ListIter};
use crate::typed::Via;
use std::net::IpAddr;

/// Appends `value` with CR and LF replaced by spaces.
fn push_safe(out: &mut Vec<u8>, value: &[u8]) {
    out.extend(value.iter().map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }));
}

fn push_header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    push_safe(out, name.as_bytes());
    out.extend_from_slice(b": ");
    push_safe(out, value);
    out.extend_from_slice(b"\r\n");
}

/// Ends a message: Content-Type when there is a body, Content-Length, the empty line, the body.
fn push_body(out: &mut Vec<u8>, body: Option<(&[u8], &[u8])>) {
    let body = body.map_or(&[][..], |(content_type, b)| {
        push_header(out, "Content-Type", content_type);
        b
    });
    push_header(out, "Content-Length", body.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

/// Builds a response to a parsed request.
#[derive(Debug, Clone)]
pub struct ResponseBuilder<'r, 'a> {
    request: &'r Message<'a>,
    code: u16,
    reason: &'r str,
    to_tag: Option<&'r [u8]>,
    received: Option<(IpAddr, u16)>,
    headers: Vec<(&'r str, &'r [u8])>,
    body: Option<(&'r [u8], &'r [u8])>,
}

impl<'r, 'a> ResponseBuilder<'r, 'a> {
    /// A response with this status to `request`. Via (all of them, in order), From, To,
    /// Call-ID and CSeq are copied from the request.
    pub fn new(request: &'r Message<'a>, code: u16, reason: &'r str) -> Self {
        ResponseBuilder { request, code, reason, to_tag: None, received: None, headers: Vec::new(), body: None }
    }

    /// The tag to add to To when the request's To has none (RFC 3261 §8.2.6.2). Not added to
    /// 100 Trying.
    pub fn to_tag(mut self, tag: &'r [u8]) -> Self {
        self.to_tag = Some(tag);
        self
    }

    /// The address the request came from: written into the top Via as `received`, and as
    /// `rport` when the client asked for it (RFC 3581), as Asterisk and Kamailio do.
    pub fn source(mut self, ip: IpAddr, port: u16) -> Self {
        self.received = Some((ip, port));
        self
    }

    /// Adds a header after the copied ones (Server, Allow, WWW-Authenticate …), in call order.
    pub fn header(mut self, name: &'r str, value: &'r [u8]) -> Self {
        self.headers.push((name, value));
        self
    }

    /// Sets a body and its Content-Type.
    pub fn body(mut self, content_type: &'r [u8], body: &'r [u8]) -> Self {
        self.body = Some((content_type, body));
        self
    }

    /// Writes the response into `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        let req = self.request;
        out.extend_from_slice(b"SIP/2.0 ");
        out.extend_from_slice(self.code.to_string().as_bytes());
        out.push(b' ');
        push_safe(out, self.reason.as_bytes());
        out.extend_from_slice(b"\r\n");
        let mut first_via = true;
        for h in req.headers_of(HeaderName::Via) {
            out.extend_from_slice(b"Via: ");
            if first_via {
                self.write_top_via(out, h.value);
                first_via = false;
            } else {
                push_safe(out, h.value);
            }
            out.extend_from_slice(b"\r\n");
        }
        if let Some(from) = req.value(HeaderName::From) {
            push_header(out, "From", from);
        }
        if let Some(to) = req.value(HeaderName::To) {
            out.extend_from_slice(b"To: ");
            push_safe(out, to);
            let has_tag = req.to().is_some_and(|t| t.tag().is_some());
            if let (false, Some(tag), false) = (has_tag, self.to_tag, self.code == 100) {
                out.extend_from_slice(b";tag=");
                push_safe(out, tag);
            }
            out.extend_from_slice(b"\r\n");
        }
        if let Some(call_id) = req.call_id() {
            push_header(out, "Call-ID", call_id);
        }
        if let Some(cseq) = req.value(HeaderName::CSeq) {
            push_header(out, "CSeq", cseq);
        }
        for (name, value) in &self.headers {
            push_header(out, name, value);
        }
        push_body(out, self.body);
    }

    /// The response as a new buffer.
    pub fn build(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        self.write(&mut out);
        out
    }

    /// Copies the first Via header value, filling `received` / `rport` in its first hop.
    fn write_top_via(&self, out: &mut Vec<u8>, value: &[u8]) {
        let Some((ip, port)) = self.received else {
            push_safe(out, value);
            return;
        };
        let mut hops = ListIter::new(value);
        let top = hops.next().unwrap_or_default();
        match Via::parse(top) {
            Some(via) => {
                let head_len = via.raw.len() - via.params.len();
                push_safe(out, text::trim(&via.raw[..head_len]));
                for p in via.param_iter().filter(|p| !p.name.is_empty()) {
                    if p.name.eq_ignore_ascii_case(b"received") {
                        continue;
                    }
                    out.push(b';');
                    push_safe(out, p.name);
                    if p.name.eq_ignore_ascii_case(b"rport") {
                        out.push(b'=');
                        out.extend_from_slice(port.to_string().as_bytes());
                    } else if let Some(v) = p.value {
                        out.push(b'=');
                        push_safe(out, v);
                    }
                }
                out.extend_from_slice(b";received=");
                out.extend_from_slice(ip.to_string().as_bytes());
            }
            None => push_safe(out, top),
        }
        for hop in hops {
            out.push(b',');
            push_safe(out, hop);
        }
    }
}

/// Builds a request from its parts. Used by load generators, tests and the honeypot's own
/// probes; nothing here reaches the network.
#[derive(Debug, Clone, Default)]
pub struct RequestBuilder<'r> {
    /// Method (`OPTIONS`, `REGISTER` …).
    pub method: &'r str,
    /// Request-URI.
    pub uri: &'r str,
    /// Via sent-by `host[:port]`, transport and branch.
    pub via: (&'r str, &'r str, &'r str),
    /// From header value (name-addr), without tag.
    pub from: &'r str,
    /// From tag.
    pub from_tag: &'r str,
    /// To header value.
    pub to: &'r str,
    /// Call-ID.
    pub call_id: &'r str,
    /// CSeq number.
    pub cseq: u32,
    /// Max-Forwards (70 when `None`).
    pub max_forwards: Option<u8>,
    /// Further headers, in order.
    pub headers: Vec<(&'r str, &'r [u8])>,
    /// Content-Type and body.
    pub body: Option<(&'r str, &'r [u8])>,
}

impl RequestBuilder<'_> {
    /// Writes the request into `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        push_safe(out, self.method.as_bytes());
        out.push(b' ');
        push_safe(out, self.uri.as_bytes());
        out.extend_from_slice(b" SIP/2.0\r\n");
        let (sent_by, transport, branch) = self.via;
        let via = format!("SIP/2.0/{transport} {sent_by};branch={branch}");
        push_header(out, "Via", via.as_bytes());
        push_header(out, "Max-Forwards", self.max_forwards.unwrap_or(70).to_string().as_bytes());
        push_header(out, "From", format!("{};tag={}", self.from, self.from_tag).as_bytes());
        push_header(out, "To", self.to.as_bytes());
        push_header(out, "Call-ID", self.call_id.as_bytes());
        push_header(out, "CSeq", format!("{} {}", self.cseq, self.method).as_bytes());
        for (name, value) in &self.headers {
            push_header(out, name, value);
        }
        push_body(out, self.body.map(|(ct, b)| (ct.as_bytes(), b)));
    }

    /// The request as a new buffer.
    pub fn build(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        self.write(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    const SVMAP: &[u8] = b"OPTIONS sip:100@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.1.1:5061;branch=z9hG4bK-1234;rport\r\n\
Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-5\r\n\
Max-Forwards: 70\r\n\
To: \"100\" <sip:100@127.0.0.1>\r\n\
From: \"100\" <sip:100@127.0.0.1>;tag=6631623331\r\n\
User-Agent: friendly-scanner\r\n\
Call-ID: 1234567890\r\n\
Contact: <sip:100@127.0.1.1:5061>\r\n\
CSeq: 1 OPTIONS\r\n\
Accept: application/sdp\r\n\
Content-Length: 0\r\n\r\n";

    #[test]
    fn response_copies_dialog_headers_in_order() {
        let req = parse(SVMAP).unwrap();
        let resp = ResponseBuilder::new(&req, 200, "OK")
            .to_tag(b"as4f")
            .source("127.0.1.1".parse().unwrap(), 5061)
            .header("Server", b"Asterisk PBX 16.28.0")
            .header("Allow", b"INVITE, ACK, CANCEL, OPTIONS, BYE")
            .build();
        let text = String::from_utf8(resp.clone()).unwrap();
        assert!(text.starts_with("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.1.1:5061;branch=z9hG4bK-1234;rport=5061;received=127.0.1.1\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-5\r\n"), "{text}");
        let parsed = parse(&resp).unwrap();
        assert!(!parsed.violates_rfc3261(), "{:?}", parsed.anomalies());
        assert_eq!(parsed.status(), Some(200));
        assert_eq!(parsed.to().unwrap().tag(), Some(&b"as4f"[..]));
        assert_eq!(parsed.from().unwrap().tag(), Some(&b"6631623331"[..]));
        assert_eq!(parsed.call_id(), Some(&b"1234567890"[..]));
        assert_eq!(parsed.cseq().unwrap().method, b"OPTIONS");
        assert_eq!(parsed.server(), Some(&b"Asterisk PBX 16.28.0"[..]));
        assert_eq!(parsed.content_length(), Some(0));
    }

    #[test]
    fn trying_gets_no_tag_and_existing_tags_stay() {
        let req = parse(SVMAP).unwrap();
        let trying = parse_owned(ResponseBuilder::new(&req, 100, "Trying").to_tag(b"x").build());
        assert!(trying.contains("To: \"100\" <sip:100@127.0.0.1>\r\n"));
        let tagged = SVMAP.to_vec().into_iter().collect::<Vec<u8>>();
        let tagged = String::from_utf8(tagged)
            .unwrap()
            .replace("<sip:100@127.0.0.1>\r\nFrom", "<sip:100@127.0.0.1>;tag=old\r\nFrom");
        let req = parse(tagged.as_bytes()).unwrap();
        let resp = parse_owned(ResponseBuilder::new(&req, 404, "Not Found").to_tag(b"new").build());
        assert!(resp.contains(";tag=old\r\n") && !resp.contains("tag=new"));
    }

    fn parse_owned(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn challenge_round_trips_through_a_401() {
        let req = parse(SVMAP).unwrap();
        let mut value = Vec::new();
        let spec = crate::digest::ChallengeSpec {
            realm: b"asterisk",
            nonce: b"6c3b5e1a",
            opaque: None,
            algorithm: Some(crate::digest::Algorithm::Md5),
            qop: None,
            stale: false,
            proxy: false,
        };
        spec.write_value(&mut value);
        let resp = ResponseBuilder::new(&req, 401, "Unauthorized").header("WWW-Authenticate", &value).build();
        let parsed = parse(&resp).unwrap();
        let challenge = parsed.challenge().unwrap();
        assert_eq!((challenge.realm, challenge.nonce), (Some(&b"asterisk"[..]), Some(&b"6c3b5e1a"[..])));
        assert!(parsed.credentials().is_none());
    }

    #[test]
    fn injected_line_breaks_are_neutralised() {
        let req = parse(SVMAP).unwrap();
        let resp = ResponseBuilder::new(&req, 200, "OK\r\nX-Evil: 1").header("Server", b"a\r\nX-Evil: 2").build();
        let parsed = parse(&resp).unwrap();
        assert_eq!(parsed.headers_named("X-Evil").count(), 0);
    }

    #[test]
    fn request_builder_output_parses_cleanly() {
        let sdp =
            b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
        let req = RequestBuilder {
            method: "INVITE",
            uri: "sip:0044123456789@127.0.0.1",
            via: ("127.0.0.2:5060", "UDP", "z9hG4bK-77"),
            from: "<sip:100@127.0.0.1>",
            from_tag: "abc",
            to: "<sip:0044123456789@127.0.0.1>",
            call_id: "c1@127.0.0.2",
            cseq: 2,
            headers: vec![("User-Agent", b"sipscope-test")],
            body: Some(("application/sdp", sdp)),
            ..Default::default()
        }
        .build();
        let msg = parse(&req).unwrap();
        assert!(msg.anomalies().is_empty(), "{:?}", msg.anomalies());
        assert_eq!(msg.request_uri().unwrap().user, Some(&b"0044123456789"[..]));
        assert_eq!(msg.body(), sdp);
    }
}
