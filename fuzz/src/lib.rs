//! Shared checks for the fuzz targets in `fuzz_targets/`: they call every accessor of what the
//! parser returns and assert the invariants that must hold for any input (spans inside the
//! input, indices in range, prepared digest checks agreeing with `verify`). A panic anywhere is
//! a finding; see `docs/fuzzing.md`.

use sipscope_sip::builder::ResponseBuilder;
use sipscope_sip::digest::{verify, Challenge, Credentials, PreparedCredentials};
use sipscope_sip::framing::{frame, FrameLimits, Framed};
use sipscope_sip::sdp::Sdp;
use sipscope_sip::typed::{CSeq, NameAddr, Via};
use sipscope_sip::{parse, Framing, HeaderName, HeaderViews, Message, ParseLimits, Uri};

/// The password every digest check is tried with.
pub const PASSWORD: &[u8] = b"secret";

/// True when `inner` lies within `outer` (an empty `inner` may sit at its end).
pub fn within(outer: &[u8], inner: &[u8]) -> bool {
    let (o, i) = (outer.as_ptr() as usize, inner.as_ptr() as usize);
    i >= o && i + inner.len() <= o + outer.len()
}

/// Parses `input` as a datagram (checking and touching everything), as a stream message and
/// with tight limits (checking spans).
pub fn parse_all_ways(input: &[u8]) {
    let datagram = Message::parse_with(input, Framing::Datagram, ParseLimits::default());
    if let Ok(msg) = &datagram {
        check_message(input, msg);
    }
    let stream = Message::parse_with(input, Framing::Stream, ParseLimits::default());
    assert_eq!(stream.is_ok(), datagram.is_ok(), "the transport only changes the body");
    if let Ok(msg) = &stream {
        check_spans(input, msg);
        assert!(msg.trailing().len() >= datagram.as_ref().unwrap().trailing().len());
    }
    let tight = ParseLimits { max_headers: 2, max_junk: 4 };
    if let Ok(msg) = Message::parse_with(input, Framing::Datagram, tight) {
        assert!(msg.headers().len() <= 2);
        check_spans(input, &msg);
    }
}

/// Span invariants, then every accessor, then a response built to it (for requests).
pub fn check_message(input: &[u8], msg: &Message<'_>) {
    check_spans(input, msg);
    // The views the checks hand back are the accessors' (the stored fields take them instead
    // of parsing again); run first, so that the checks run through `check_views`.
    assert_eq!(msg.check_views(), HeaderViews::parse(msg), "check_views hands back the accessors' views");
    touch_message(msg);
    if msg.is_request() {
        let resp = ResponseBuilder::new(msg, 407, "Proxy Authentication Required")
            .to_tag(b"fuzz")
            .source("2001:db8::1".parse().unwrap(), 5060)
            .header("Proxy-Authenticate", b"Digest realm=\"r\", nonce=\"n\"")
            .build();
        let parsed = parse(&resp).expect("a built response parses");
        check_spans(&resp, &parsed);
        assert_eq!(parsed.status(), Some(407));
        // Copied headers are written on one line each (CR/LF become spaces), so they survive.
        assert_eq!(parsed.call_id().is_some(), msg.call_id().is_some());
        assert_eq!(parsed.headers_of(HeaderName::Via).count(), msg.headers_of(HeaderName::Via).count());
    }
}

/// Every span of the message points into `input`; a header's name and value lie in its line.
pub fn check_spans(input: &[u8], msg: &Message<'_>) {
    assert!(within(input, msg.raw()));
    assert!(within(input, msg.start_line_raw()));
    for span in [msg.junk(), msg.body(), msg.trailing()] {
        assert!(span.is_empty() || within(input, span));
    }
    for h in msg.headers() {
        assert!(within(input, h.line), "line outside input: {h:?}");
        assert!(within(h.line, h.name), "name outside line: {h:?}");
        assert!(within(h.line, h.value), "value outside line: {h:?}");
        assert!(h.name.as_ptr() as usize + h.name.len() <= h.value.as_ptr() as usize);
    }
    for a in msg.anomalies() {
        if let Some(i) = a.header {
            assert!(usize::from(i) < msg.headers().len(), "{a:?} names no header");
        }
    }
}

/// Calls every accessor and typed view.
pub fn touch_message(msg: &Message<'_>) {
    let _ = (msg.raw(), msg.junk(), msg.start_line(), msg.is_request());
    let _ = (msg.method(), msg.request_uri_raw(), msg.status(), msg.reason());
    if let Some(uri) = msg.request_uri() {
        touch_uri(&uri);
    }
    for &kind in HeaderName::KNOWN {
        let _ = msg.header(kind).map(|h| h.kind);
        let _ = msg.value(kind);
        let _ = msg.headers_of(kind).count();
        let _ = msg.list_values(kind).count();
    }
    let _ = msg.headers_named("X-Fuzz").count();
    let _ = msg.headers_named("i").count();
    let _ = (msg.call_id(), msg.cseq().map(|c| c.in_range()));
    for na in msg.from().into_iter().chain(msg.to()).chain(msg.contacts()) {
        touch_name_addr(&na);
    }
    let _ = msg.contact_is_star();
    for via in msg.vias() {
        touch_via(&via);
    }
    let _ = (msg.max_forwards(), msg.expires(), msg.content_length());
    let _ = (msg.user_agent(), msg.server(), msg.content_type(), msg.date());
    let _ = (msg.allow().count(), msg.supported().count());
    let _ = (msg.body(), msg.trailing(), msg.violates_rfc3261());
    for a in msg.anomalies() {
        let _ = (a.kind.name(), a.kind.class(), a.kind.forbidden_by_rfc3261());
        assert!(msg.has_anomaly(a.kind));
    }
    for h in msg.headers() {
        touch_header(h.kind, h.value);
    }
    touch_sdp(msg.body());
}

pub fn touch_uri(uri: &Uri<'_>) {
    let _ = (uri.param_iter().count(), uri.param("transport"), uri.param("lr"));
    let _ = uri.user_decoded();
}

pub fn touch_name_addr(na: &NameAddr<'_>) {
    let _ = (na.tag(), na.user(), na.host(), na.param("expires"), na.param_iter().count());
    if let Some(uri) = &na.uri {
        touch_uri(uri);
    }
}

pub fn touch_via(via: &Via<'_>) {
    let _ = (via.branch(), via.received(), via.rport(), via.param_iter().count());
}

/// The typed parsers that apply to one header (every parser for names sipscope does not know).
pub fn touch_header(kind: HeaderName, value: &[u8]) {
    match kind {
        HeaderName::Authorization
        | HeaderName::ProxyAuthorization
        | HeaderName::WwwAuthenticate
        | HeaderName::ProxyAuthenticate
        | HeaderName::Other => touch_value(value),
        HeaderName::CSeq => {
            let _ = CSeq::parse(value).map(|c| c.in_range());
        }
        HeaderName::Via => {
            for hop in value.split(|&b| b == b',') {
                if let Some(via) = Via::parse(hop) {
                    touch_via(&via);
                }
            }
        }
        _ => touch_name_addr(&NameAddr::parse(value)),
    }
}

/// Every typed parser on one value.
pub fn touch_value(value: &[u8]) {
    if let Ok(uri) = Uri::parse(value) {
        touch_uri(&uri);
    }
    touch_name_addr(&NameAddr::parse(value));
    if let Some(via) = Via::parse(value) {
        touch_via(&via);
    }
    if let Some(cseq) = CSeq::parse(value) {
        let _ = cseq.in_range();
    }
    touch_digest(value);
}

/// Credentials and challenge parsing, and verification with [`PASSWORD`].
pub fn touch_digest(value: &[u8]) {
    if let Ok(creds) = Credentials::parse(value) {
        let _ = (creds.nonce_count(), creds.effective_algorithm().as_bytes(), creds.is_digest());
        for p in &creds.params {
            let _ = p.unescaped();
        }
        for method in [&b"REGISTER"[..], b"INVITE"] {
            let verdict = verify(&creds, method, PASSWORD);
            let _ = verdict.name();
            match PreparedCredentials::new(&creds, method) {
                Ok(prepared) => {
                    assert_eq!(prepared.matches(PASSWORD), verdict.is_ok());
                    let _ = prepared.response(PASSWORD);
                    let _ = prepared.matches_ha1(b"5ebe2294ecd0e0f08eab7690d2a6ee69");
                }
                Err(_) => assert!(!verdict.is_ok()),
            }
        }
    }
    let parsed = Challenge::parse(value).ok();
    if let Some(ch) = &parsed {
        let _ = (ch.qop_options().count(), ch.domain_uris().count(), ch.is_digest());
        let _ = (ch.effective_algorithm().is_supported(), ch.param(b"realm"));
        for p in &ch.params {
            let _ = p.unescaped();
        }
    }
    // One param read alone is the whole parse's (what the rules' trackers read a nonce with).
    for name in [&b"nonce"[..], b"realm", b"QOP"] {
        assert_eq!(Challenge::param_of(value, name), parsed.as_ref().and_then(|c| c.param(name)));
    }
}

pub fn touch_sdp(body: &[u8]) {
    let sdp = Sdp::parse(body);
    let _ = (sdp.is_well_formed(), sdp.values(b'a').count());
    let _ = (sdp.connection_addresses().count(), sdp.media().count());
}

/// What a reader got out of a stream: the frames (leading keep-alives stripped) and whether
/// framing gave up with `Invalid`.
#[derive(Debug, PartialEq, Eq)]
pub struct StreamFrames {
    pub frames: Vec<Vec<u8>>,
    pub invalid: bool,
}

fn strip_keepalives(frame: &[u8]) -> Vec<u8> {
    let start = frame.iter().position(|&b| b != b'\r' && b != b'\n').unwrap_or(frame.len());
    frame[start..].to_vec()
}

/// Frames a stream that arrives in `chunk`-byte reads, the way a TCP reader does: append the
/// read, then take every complete frame off the front of the buffer.
///
/// `frame` keeps no state and reads the buffer from its start, so calling it after every read
/// made this quadratic (most of the `frame` target's time). Like an efficient reader, this one
/// calls it again only when a read may have changed the answer to `NeedMore`: the buffer reached
/// the total that `NeedMore(Some(total))` announced, or, while the header section is incomplete,
/// the read completed an empty line (LF LF or LF CR LF, the only ways a header section ends,
/// or CR CR LF: the empty line right after a start line that ends at a bare CR) or took the
/// buffer past `max_header_bytes`. While the buffer is empty every read is due (a lone
/// CR is a keep-alive). The skipped reads are still checked, at a cost that stays O(n log n):
/// on the 1st, 2nd, 4th, 8th … skipped read since the last call, and on the 1st, 2nd, 4th …
/// of them that ends in a CR (a cut inside a line end), `frame` must repeat its `NeedMore`.
pub fn frame_stream(stream: &[u8], chunk: usize, limits: FrameLimits) -> StreamFrames {
    let mut buf: Vec<u8> = Vec::new();
    let mut frames = Vec::new();
    // The last `NeedMore` (unless the buffer was empty then), and the reads skipped since.
    let mut waiting: Option<Option<usize>> = None;
    let (mut skipped, mut skipped_at_cr) = (0usize, 0usize);
    for read in stream.chunks(chunk.max(1)) {
        let before = buf.len();
        buf.extend_from_slice(read);
        if let Some(announced) = waiting {
            let due = match announced {
                Some(total) => buf.len() >= total,
                None => ends_empty_line(&buf[before.saturating_sub(2)..]) || buf.len() > limits.max_header_bytes,
            };
            if !due {
                skipped += 1;
                let at_cr = read.last() == Some(&b'\r');
                skipped_at_cr += usize::from(at_cr);
                if skipped.is_power_of_two() || (at_cr && skipped_at_cr.is_power_of_two()) {
                    let again = frame(&buf, limits);
                    assert_eq!(again, Framed::NeedMore(announced), "a skipped read changed the verdict");
                }
                continue;
            }
        }
        (skipped, skipped_at_cr) = (0, 0);
        // Frames are taken off by advancing `taken`; the buffer is compacted once at the end.
        let mut taken = 0;
        loop {
            let rest = &buf[taken..];
            match frame(rest, limits) {
                Framed::Complete(n) => {
                    assert!(n > 0 && n <= rest.len(), "Complete({n}) of {}", rest.len());
                    frames.push(strip_keepalives(&rest[..n]));
                    taken += n;
                }
                Framed::KeepAlive(n) => {
                    assert!(n > 0 && n <= rest.len(), "KeepAlive({n}) of {}", rest.len());
                    taken += n;
                }
                Framed::NeedMore(total) => {
                    if let Some(total) = total {
                        assert!(total > rest.len(), "NeedMore({total}) with {}", rest.len());
                    }
                    waiting = if rest.is_empty() { None } else { Some(total) };
                    break;
                }
                Framed::Invalid(_) => return StreamFrames { frames, invalid: true },
            }
        }
        buf.drain(..taken);
    }
    StreamFrames { frames, invalid: false }
}

/// True when `bytes` contain LF LF, LF CR LF or CR CR LF. (`contains` is std's memchr, which is not
/// instrumented: most reads have no LF, and they cost no coverage callbacks.)
fn ends_empty_line(bytes: &[u8]) -> bool {
    if !bytes.contains(&b'\n') {
        return false;
    }
    bytes
        .windows(2)
        .enumerate()
        .any(|(i, w)| w == b"\n\n" || ((w == b"\n\r" || w == b"\r\r") && bytes.get(i + 2) == Some(&b'\n')))
}
