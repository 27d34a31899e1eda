//! Tell hunting: the tricks used to recognise a SIP honeypot, run against every built-in
//! profile over UDP, each checked against what the PBX the profile imitates answers (the
//! source of every expected answer is in a comment). Tricks: answers from another address
//! than the one probed, answers to bytes that are not SIP, an unknown method, an OPTIONS to a
//! random user, a REGISTER with `Expires: 0`, To tags and nonces that repeat across calls,
//! final answers that are not retransmitted until the ACK, and calls whose answers come in
//! the wrong order or after a delay that never varies. Over TCP, a call's later answers must
//! come on the caller's connection, once.
//!
//! Each profile's honeypot listens on the wildcard address, its own port (15210 + n), and is
//! probed at 127.0.210.n and 127.0.214.n; each trick comes from its own client address
//! (127.0.211.x), so that one trick's bytes never change another's amplification budget.
//! Requests come from a stranger's domain; a caller's INVITE names an extension at the PBX's
//! own address in From, as fraudsters do (Kamailio's default configuration only challenges
//! callers from its own domain).

use super::harness::Honeypot;
use sipscope_sip::digest::{ClientQop, CredentialsSpec};
use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// What the imitated PBX answers, and how its calls go.
struct Imitated {
    profile: &'static str,
    /// Its port is 15210 + n, its addresses 127.0.210.n and 127.0.214.n.
    n: u8,
    /// `OPTIONS sip:<random user>@pbx` from a stranger.
    options_random_user: u16,
    /// `FOO sip:pbx` from a stranger.
    unknown_method: u16,
    /// `REGISTER` of extension 100 with `Contact: *` and `Expires: 0`, no credentials.
    unregister: u16,
    /// An INVITE from extension 100 to an international number, no credentials.
    invite: u16,
    /// The answers to that INVITE with the right credentials, in order; `None` when the PBX
    /// never asks for them.
    call: Option<&'static [u16]>,
    /// Answers of the call that come after a delay: (status, least delay ms, jitter ms).
    delayed: &'static [(u16, u64, u64)],
}

// Asterisk 16 with chan_sip (chan_sip.c): handle_request_options answers 404 for a user that
// does not exist; handle_incoming answers an unknown method "501 Method Not Implemented";
// register_verify challenges a known peer whatever the expiry; INVITE asks for proxy
// credentials (407); a busy callee gets 100 Trying then 486 at once (sip_indicate).
const CHAN_SIP: Imitated = Imitated {
    profile: "asterisk-chan-sip",
    n: 1,
    options_random_user: 404,
    unknown_method: 501,
    unregister: 401,
    invite: 407,
    call: Some(&[100, 486]),
    delayed: &[],
};

// Asterisk 18 with PJSIP: a stranger is the artificial endpoint, which always requires
// authentication (res_pjsip_authenticator_digest.c), and the distributor challenges every
// request but ACK with 401 before looking at its method (pjsip_distributor.c). The call rings
// (chan_pjsip_indicate: 180) and is not answered: Dial's 15 s, then 480 (hangup_cause2sip,
// AST_CAUSE_NO_ANSWER).
const PJSIP: Imitated = Imitated {
    profile: "asterisk-pjsip",
    n: 2,
    options_random_user: 401,
    unknown_method: 401,
    unregister: 401,
    invite: 401,
    call: Some(&[100, 180, 480]),
    delayed: &[(180, 150, 250), (480, 15_000, 250)],
};

// FreePBX 16 on PJSIP: strangers are challenged as above. A number no outbound route matches
// goes to the bad-number context (core module): Progress (183) at once, then about 7 s of
// waits and announcements and Congestion (503).
const FREEPBX: Imitated = Imitated {
    profile: "freepbx",
    n: 3,
    options_random_user: 401,
    unknown_method: 401,
    unregister: 401,
    invite: 401,
    call: Some(&[100, 183, 503]),
    delayed: &[(503, 7_000, 300)],
};

// A locked-down server in Brekeke's style (the profile's own rules: no public source records
// a Brekeke server's answers): OPTIONS answered for anyone, everything else forbidden.
const BREKEKE: Imitated = Imitated {
    profile: "brekeke",
    n: 4,
    options_random_user: 200,
    unknown_method: 403,
    unregister: 403,
    invite: 403,
    call: None,
    delayed: &[],
};

// Kamailio's default kamailio.cfg: route[LOCATION] answers 404 for a user with no contact; a
// request naming no user gets 484; route[AUTH] challenges every REGISTER (401) and callers
// from its own domain (407); an authenticated call is relayed to the callee's phone, whose
// 480 (do not disturb) comes back a LAN round trip after tm's 100 Trying.
const PROXY: Imitated = Imitated {
    profile: "proxy",
    n: 5,
    options_random_user: 404,
    unknown_method: 484,
    unregister: 401,
    invite: 407,
    call: Some(&[100, 480]),
    delayed: &[(480, 20, 40)],
};

#[test]
fn asterisk_chan_sip_shows_no_tell() {
    hunt(&CHAN_SIP);
}

#[test]
fn asterisk_pjsip_shows_no_tell() {
    hunt(&PJSIP);
}

#[test]
fn freepbx_shows_no_tell() {
    hunt(&FREEPBX);
}

#[test]
fn brekeke_shows_no_tell() {
    hunt(&BREKEKE);
}

#[test]
fn proxy_shows_no_tell() {
    hunt(&PROXY);
}

fn hunt(pbx: &Imitated) {
    let port = 15210 + u16::from(pbx.n);
    let extra = format!("profile = \"{}\"\n", pbx.profile);
    let mut hp = Honeypot::start(&[("udp", "0.0.0.0", port)], &extra);
    let target: SocketAddr = format!("127.0.210.{}:{port}", pbx.n).parse().unwrap();
    let client = |c: u8| Client::new(&format!("127.0.211.{}", pbx.n * 20 + c), target);

    answers_come_from_the_address_probed(&client(0), pbx, port);
    bytes_that_are_not_sip_get_no_answer(&client(1));
    assert_eq!(client(2).ask(&Probe::new("FOO", "", "probe", "stranger.example")), pbx.unknown_method, "FOO");
    let random_user = "738261";
    let options = client(3).ask(&Probe::new("OPTIONS", random_user, "probe", "stranger.example"));
    assert_eq!(options, pbx.options_random_user, "OPTIONS to a random user");
    let mut unregister = Probe::new("REGISTER", "", "100", &target.ip().to_string());
    unregister.to_user = "100";
    unregister.headers = "Contact: *\r\nExpires: 0\r\n".into();
    assert_eq!(client(4).ask(&unregister), pbx.unregister, "REGISTER with Expires: 0");
    tags_and_nonces_are_new_for_every_call(&client(5), pbx);
    final_answers_are_retransmitted_until_the_ack(&client(6), pbx);
    if let Some(statuses) = pbx.call {
        calls_answer_in_order_and_delays_vary(&client(7), pbx, statuses);
    }
    let (summary, _) = hp.stop();
    assert!(summary["retransmissions"].as_u64().unwrap() >= 2, "{summary}");
}

/// A probe from a client: the request line's user (none when empty), From user and host.
struct Probe {
    method: &'static str,
    /// `UDP` or `TCP`, in the Via.
    via: &'static str,
    user: String,
    from_user: &'static str,
    from_host: String,
    to_user: &'static str,
    call_id: String,
    cseq: u32,
    branch: String,
    headers: String,
    body: String,
}

impl Probe {
    fn new(method: &'static str, user: &str, from_user: &'static str, from_host: &str) -> Probe {
        let id = format!("{method}-{user}-{}", std::process::id());
        Probe {
            method,
            via: "UDP",
            user: user.into(),
            from_user,
            from_host: from_host.into(),
            to_user: "",
            call_id: id.clone(),
            cseq: 1,
            branch: format!("z9hG4bK{id}"),
            headers: String::new(),
            body: String::new(),
        }
    }

    /// An INVITE from extension 100 (at the PBX's address) to an international number, with
    /// the SDP offer a real dialler sends.
    fn call(target: SocketAddr, call_id: &str) -> Probe {
        let mut p = Probe::new("INVITE", "0046701234567", "100", &target.ip().to_string());
        p.call_id = call_id.into();
        p.branch = format!("z9hG4bK{call_id}");
        p.headers = "Content-Type: application/sdp\r\n".into();
        p.body = "v=0\r\no=- 8000 8000 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
                  m=audio 18000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
                  a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
            .into();
        p
    }

    fn bytes(&self, from: SocketAddr, to: SocketAddr) -> Vec<u8> {
        let uri = self.uri(to);
        let to_uri = if self.to_user.is_empty() { uri.clone() } else { format!("sip:{}@{}", self.to_user, to.ip()) };
        let head = self.head(self.method, &uri, from, &format!("<{to_uri}>"));
        format!(
            "{head}Contact: <sip:{}@{from}>\r\nUser-Agent: Zoiper rv2.10.11.4\r\n{}Content-Length: {}\r\n\r\n{}",
            self.from_user,
            self.headers,
            self.body.len(),
            self.body
        )
        .into_bytes()
    }

    /// The request line and the headers every request of the dialog carries.
    fn head(&self, method: &str, uri: &str, from: SocketAddr, to_header: &str) -> String {
        format!(
            "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/{} {from};branch={};rport\r\nMax-Forwards: 70\r\n\
             From: <sip:{}@{}>;tag={}\r\nTo: {to_header}\r\nCall-ID: {}\r\nCSeq: {} {method}\r\n",
            self.via,
            self.branch,
            self.from_user,
            self.from_host,
            self.call_id.len(),
            self.call_id,
            self.cseq
        )
    }

    fn uri(&self, to: SocketAddr) -> String {
        match self.user.as_str() {
            "" => format!("sip:{}:{}", to.ip(), to.port()),
            user => format!("sip:{user}@{}:{}", to.ip(), to.port()),
        }
    }

    /// The ACK of a non-2xx final answer `answer` (RFC 3261 §17.1.1.3: the INVITE's branch,
    /// the answer's To).
    fn ack(&self, answer: &[u8], from: SocketAddr, to: SocketAddr) -> Vec<u8> {
        let m = sipscope_sip::parse(answer).unwrap();
        let to_header = String::from_utf8_lossy(m.headers_named("To").next().unwrap().value).into_owned();
        format!("{}Content-Length: 0\r\n\r\n", self.head("ACK", &self.uri(to), from, &to_header)).into_bytes()
    }

    /// The same INVITE again, signed with extension 100's password for `challenge`.
    fn signed(&self, challenge: &[u8], to: SocketAddr) -> Probe {
        let m = sipscope_sip::parse(challenge).unwrap();
        let c = m.challenge().unwrap();
        let uri = self.uri(to);
        let offers_auth = c.qop.is_some_and(|q| q.split(|&b| b == b',').any(|t| t.trim_ascii() == b"auth"));
        let spec = CredentialsSpec {
            username: b"100",
            password: b"100",
            realm: c.realm.unwrap(),
            nonce: c.nonce.unwrap(),
            method: b"INVITE",
            uri: uri.as_bytes(),
            qop: offers_auth.then_some(ClientQop { nc: 1, cnonce: b"6b8b4567" }),
            opaque: c.opaque,
            algorithm: None,
        };
        let mut value = Vec::new();
        spec.write_value(&mut value).unwrap();
        let name = if m.status() == Some(407) { "Proxy-Authorization" } else { "Authorization" };
        let mut signed = Probe { cseq: self.cseq + 1, branch: format!("{}-2", self.branch), ..self.clone() };
        signed.headers = format!("{name}: {}\r\n{}", String::from_utf8(value).unwrap(), self.headers);
        signed
    }
}

impl Clone for Probe {
    fn clone(&self) -> Probe {
        Probe {
            user: self.user.clone(),
            from_host: self.from_host.clone(),
            call_id: self.call_id.clone(),
            branch: self.branch.clone(),
            headers: self.headers.clone(),
            body: self.body.clone(),
            ..*self
        }
    }
}

/// One datagram received: bytes, sender, when.
type Received = (Vec<u8>, SocketAddr, Instant);

struct Client {
    socket: UdpSocket,
    addr: SocketAddr,
    target: SocketAddr,
}

impl Client {
    fn new(ip: &str, target: SocketAddr) -> Client {
        let socket = UdpSocket::bind(format!("{ip}:0")).unwrap();
        let addr = socket.local_addr().unwrap();
        Client { socket, addr, target }
    }

    fn send_to(&self, bytes: &[u8], to: SocketAddr) -> Instant {
        self.socket.send_to(bytes, to).unwrap();
        Instant::now()
    }

    fn send(&self, probe: &Probe) -> Instant {
        self.send_to(&probe.bytes(self.addr, self.target), self.target)
    }

    /// The next datagram within `wait`.
    fn recv(&self, wait: Duration) -> Option<Received> {
        self.socket.set_read_timeout(Some(wait.max(Duration::from_millis(1)))).unwrap();
        let mut buf = [0u8; 8192];
        let (n, from) = self.socket.recv_from(&mut buf).ok()?;
        Some((buf[..n].to_vec(), from, Instant::now()))
    }

    /// Every datagram until `wait` has passed.
    fn collect(&self, wait: Duration) -> Vec<Received> {
        let until = Instant::now() + wait;
        let mut got = Vec::new();
        while let Some(r) = self.recv(until.saturating_duration_since(Instant::now())) {
            got.push(r);
            if Instant::now() >= until {
                break;
            }
        }
        got
    }

    /// Sends `probe` and returns the status of the first answer (10 s at most).
    fn ask(&self, probe: &Probe) -> u16 {
        self.send(probe);
        let (answer, _, _) = self.recv(Duration::from_secs(10)).expect("an answer");
        status(&answer)
    }
}

fn status(answer: &[u8]) -> u16 {
    sipscope_sip::parse(answer).unwrap().status().unwrap() as u16
}

fn header(answer: &[u8], name: &str) -> String {
    let m = sipscope_sip::parse(answer).unwrap();
    let value = m.headers_named(name).next().map(|h| String::from_utf8_lossy(h.value).into_owned());
    value.unwrap_or_default()
}

fn call_id(answer: &[u8]) -> String {
    header(answer, "Call-ID")
}

/// A honeypot that answers from its default route, not the address it was asked at, gives
/// itself away on a host with many addresses.
fn answers_come_from_the_address_probed(c: &Client, pbx: &Imitated, port: u16) {
    for address in [format!("127.0.210.{}", pbx.n), format!("127.0.214.{}", pbx.n)] {
        let to: SocketAddr = format!("{address}:{port}").parse().unwrap();
        let mut probe = Probe::new("OPTIONS", "", "probe", "stranger.example");
        probe.call_id = format!("where-{address}");
        c.send_to(&probe.bytes(c.addr, to), to);
        let (answer, from, _) = c.recv(Duration::from_secs(10)).expect("an answer");
        assert_eq!(from, to, "answered from the address probed");
        assert_eq!(call_id(&answer), probe.call_id);
    }
}

/// chan_sip drops a datagram it cannot parse (parse_request fails: no answer), PJSIP and
/// Kamailio drop what their parsers refuse; none answers HTTP, TLS or garbage. Sent before an
/// OPTIONS over the same path: the first answer must be the OPTIONS's.
fn bytes_that_are_not_sip_get_no_answer(c: &Client) {
    let junk: [&[u8]; 5] = [
        b"GET / HTTP/1.1\r\nHost: pbx\r\n\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
        b"\x00\xff\x13\x37garbage\x1b[2J",
        b"",
        b"\r\n\r\n",
    ];
    for bytes in junk {
        c.send_to(bytes, c.target);
    }
    let mut marker = Probe::new("OPTIONS", "", "probe", "stranger.example");
    marker.call_id = "after-the-junk".into();
    c.send(&marker);
    let (answer, _, _) = c.recv(Duration::from_secs(10)).expect("the marker's answer");
    assert_eq!(call_id(&answer), "after-the-junk", "something answered the junk: {}", String::from_utf8_lossy(&answer));
}

/// Every call gets a To tag (and a nonce) of its own; the answers echo each call's Call-ID.
fn tags_and_nonces_are_new_for_every_call(c: &Client, pbx: &Imitated) {
    let mut tags = Vec::new();
    let mut nonces = Vec::new();
    for n in 0..3 {
        let probe = Probe::call(c.target, &format!("tags-{n}"));
        c.send(&probe);
        let (answer, _, _) = c.recv(Duration::from_secs(10)).expect("an answer");
        assert_eq!((status(&answer), call_id(&answer)), (pbx.invite, probe.call_id.clone()));
        c.send_to(&probe.ack(&answer, c.addr, c.target), c.target);
        let to = header(&answer, "To");
        tags.push(to.split(";tag=").nth(1).unwrap_or_default().to_owned());
        if let Some(challenge) = sipscope_sip::parse(&answer).unwrap().challenge() {
            nonces.push(challenge.nonce.unwrap().to_vec());
        }
    }
    tags.dedup();
    nonces.dedup();
    assert_eq!(tags.len(), 3, "a To tag per call: {tags:?}");
    assert!(tags.iter().all(|t| !t.is_empty()));
    assert!(nonces.is_empty() || nonces.len() == 3, "a nonce per challenge");
}

/// RFC 3261 §17.2.1: a final answer to an INVITE over UDP is sent again at T1, 2·T1 … until
/// the ACK; every PBX here does (Asterisk's __sip_reliable_xmit, PJSIP's and Kamailio's
/// transaction layers). A retransmitted INVITE gets the same answer.
fn final_answers_are_retransmitted_until_the_ack(c: &Client, pbx: &Imitated) {
    let probe = Probe::call(c.target, "retransmitted");
    let sent = c.send(&probe);
    let first = c.recv(Duration::from_secs(10)).expect("an answer");
    assert_eq!(status(&first.0), pbx.invite);
    // The first answer, then T1 (0.5 s) and 2·T1 later: three copies by 1.5 s. The fourth is
    // due at 3.5 s; waiting until 3.4 s leaves a loaded machine almost two seconds to spare.
    let copies: Vec<Received> = std::iter::once(first).chain(c.collect(Duration::from_millis(3_400))).collect();
    assert!(copies.len() >= 3, "{} copies", copies.len());
    assert!(copies.iter().all(|(b, _, _)| *b == copies[0].0), "retransmissions repeat the answer byte for byte");
    assert!(copies[1].2.duration_since(sent) >= Duration::from_millis(500), "not before T1");
    let again = c.send(&probe);
    let (answer, _, _) = c.recv(Duration::from_secs(10)).expect("an answer to the retransmitted INVITE");
    assert_eq!(answer, copies[0].0, "a retransmitted INVITE gets the same answer");
    let _ = again;
    let acked = c.send_to(&probe.ack(&copies[0].0, c.addr, c.target), c.target);
    // Whatever was already on its way may still come; nothing later than a second after the ACK.
    let late: Vec<Received> = c
        .collect(Duration::from_millis(3_000))
        .into_iter()
        .filter(|r| r.2.duration_since(acked) > Duration::from_secs(1))
        .collect();
    assert!(late.is_empty(), "retransmitted after the ACK: {} copies", late.len());
}

/// Eight authenticated calls at once: each gets 100 Trying, then the imitated PBX's answers in
/// order; answers that come after a delay come no sooner than it, and the delays vary (a delay
/// that never varies is a tell).
fn calls_answer_in_order_and_delays_vary(c: &Client, pbx: &Imitated, expected: &[u16]) {
    let calls: Vec<Probe> = (0..8).map(|n| Probe::call(c.target, &format!("call-{n}"))).collect();
    let mut signed = BTreeMap::new();
    for call in &calls {
        c.send(call);
        let (challenge, _, _) = c.recv(Duration::from_secs(10)).expect("a challenge");
        assert_eq!(call_id(&challenge), call.call_id);
        c.send_to(&call.ack(&challenge, c.addr, c.target), c.target);
        signed.insert(call.call_id.clone(), call.signed(&challenge, c.target));
    }
    let mut started = BTreeMap::new();
    for call in signed.values() {
        started.insert(call.call_id.clone(), c.send(call));
    }
    let longest = pbx.delayed.iter().map(|(_, ms, jitter)| ms + jitter).max().unwrap_or(0);
    let until = Instant::now() + Duration::from_millis(longest) + Duration::from_secs(10);
    // Per call: each status once, with when it first came.
    let mut answers: BTreeMap<String, Vec<(u16, Instant)>> = BTreeMap::new();
    let finished = |answers: &BTreeMap<String, Vec<(u16, Instant)>>| {
        answers.len() == signed.len() && answers.values().all(|a| a.iter().any(|(s, _)| *s >= 200))
    };
    while !finished(&answers) {
        let Some((answer, _, at)) = c.recv(until.saturating_duration_since(Instant::now())) else { break };
        let (id, code) = (call_id(&answer), status(&answer));
        let seen = answers.entry(id.clone()).or_default();
        if !seen.iter().any(|(s, _)| *s == code) {
            seen.push((code, at));
        }
        if code >= 200 {
            c.send_to(&signed[&id].ack(&answer, c.addr, c.target), c.target);
        }
    }
    for (id, got) in &answers {
        let statuses: Vec<u16> = got.iter().map(|(s, _)| *s).collect();
        assert_eq!(statuses, expected, "{id}");
    }
    assert_eq!(answers.len(), calls.len());
    for &(code, least_ms, jitter_ms) in pbx.delayed {
        let delays: Vec<Duration> = answers
            .iter()
            .map(|(id, got)| got.iter().find(|(s, _)| *s == code).unwrap().1.duration_since(started[id]))
            .collect();
        assert!(delays.iter().all(|d| *d >= Duration::from_millis(least_ms)), "{code} too soon: {delays:?}");
        // A jitter of a few ms hides in the noise of the host; a larger one must show.
        let (min, max) = (delays.iter().min().unwrap(), delays.iter().max().unwrap());
        if jitter_ms >= 100 {
            let spread = Duration::from_millis(jitter_ms / 10);
            assert!(*max - *min >= spread, "{code} always after the same delay: {delays:?}");
        }
    }
}

/// Over TCP a PBX sends a call's later answers on the caller's connection, once each: a
/// honeypot that sent them elsewhere, or not at all, or again, would give itself away.
#[test]
fn later_answers_over_tcp_come_on_the_callers_connection_once() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let chan_sip = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/sources/honeypot/profiles/asterisk-chan-sip.toml"
    ))
    .unwrap();
    let ringing = chan_sip.replace(
        "progress = \"none\"",
        "progress = { status = 180, reason = \"Ringing\" }\nprogress_after_ms = 300\nfinal_after_ms = 800\njitter_ms = 50",
    );
    let profile = dir.path().join("ringing.toml");
    std::fs::write(&profile, ringing).unwrap();
    let target: SocketAddr = "127.0.212.1:5060".parse().unwrap();
    let mut hp = Honeypot::start(&[("tcp", "127.0.212.1", 5060)], &format!("profile = \"{}\"\n", profile.display()));
    let mut tcp = std::net::TcpStream::connect(target).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let me = tcp.local_addr().unwrap();
    // Reads whole answers (each ends with Content-Length: 0 and an empty line).
    let mut pending = Vec::new();
    let mut next_answer = |tcp: &mut std::net::TcpStream| -> Vec<u8> {
        loop {
            if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                return pending.drain(..end + 4).collect();
            }
            let mut buf = [0u8; 4096];
            let n = tcp.read(&mut buf).unwrap();
            assert!(n > 0, "closed");
            pending.extend_from_slice(&buf[..n]);
        }
    };
    let mut call = Probe::call(target, "over-tcp");
    call.via = "TCP";
    tcp.write_all(&call.bytes(me, target)).unwrap();
    let challenge = next_answer(&mut tcp);
    assert_eq!(status(&challenge), 407);
    tcp.write_all(&call.ack(&challenge, me, target)).unwrap();
    let signed = call.signed(&challenge, target);
    let started = Instant::now();
    tcp.write_all(&signed.bytes(me, target)).unwrap();
    let statuses: Vec<(u16, Duration)> =
        (0..3).map(|_| next_answer(&mut tcp)).map(|a| (status(&a), started.elapsed())).collect();
    assert_eq!(statuses.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [100, 180, 486]);
    assert!(statuses[1].1 >= Duration::from_millis(300) && statuses[2].1 >= Duration::from_millis(800), "{statuses:?}");
    // No retransmission on a reliable transport, even without the ACK.
    tcp.set_read_timeout(Some(Duration::from_millis(1_500))).unwrap();
    let mut buf = [0u8; 64];
    assert!(tcp.read(&mut buf).is_err(), "nothing more");
    drop(tcp);
    let (summary, _) = hp.stop();
    assert_eq!(summary["retransmissions"], 0, "{summary}");
    let later = "SELECT count(*) FROM events WHERE direction = 'out' AND transport = 'tcp' AND status IN (180, 486)";
    assert_eq!(hp.count(later), 2, "answers sent later are stored");
}
