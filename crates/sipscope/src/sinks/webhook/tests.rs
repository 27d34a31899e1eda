//! Against a tiny HTTP server in the test, on loopback (127.0.220.0/24): it checks every
//! signature, answers 200, 500 or nothing at all, plain or over TLS with a certificate the
//! test makes.

use super::*;
use crate::act::Action;
use std::io::BufRead;
use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc;

const SECRET: &[u8] = b"s3cret-for-tests";

/// A request as the server saw it.
#[derive(Debug)]
struct Seen {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn read_request(reader: &mut impl BufRead) -> Option<Seen> {
    let mut headers = Vec::new();
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    if !line.starts_with("POST /hook?x=1 HTTP/1.1") {
        return None;
    }
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (n, v) = l.split_once(':')?;
        headers.push((n.to_owned(), v.trim().to_owned()));
    }
    let len: usize = headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("content-length"))?.1.parse().ok()?;
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Seen { headers, body })
}

/// How the server answers the n-th request (the last entry repeats).
#[derive(Clone, Copy)]
enum Answer {
    Status(u16),
    Hang,
}

/// Serves on `addr` (TLS when `tls` is given), reporting each request.
fn serve(answers: Vec<Answer>, tls: Option<Arc<rustls::ServerConfig>>) -> (SocketAddr, mpsc::Receiver<Seen>) {
    let listener = TcpListener::bind("127.0.220.3:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for (n, conn) in listener.incoming().enumerate() {
            let Ok(conn) = conn else { return };
            let answer = answers[n.min(answers.len() - 1)];
            let mut stream: Box<dyn ReadWrite> = match &tls {
                Some(config) => {
                    Box::new(rustls::StreamOwned::new(rustls::ServerConnection::new(Arc::clone(config)).unwrap(), conn))
                }
                None => Box::new(conn),
            };
            let Answer::Status(status) = answer else {
                held.push(stream);
                continue;
            };
            let mut reader = std::io::BufReader::new(&mut stream);
            let Some(seen) = read_request(&mut reader) else { continue };
            drop(reader);
            let _ = write!(stream, "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let _ = stream.flush();
            if tx.send(seen).is_err() {
                return;
            }
        }
    });
    (addr, rx)
}

trait ReadWrite: Read + Write + Send {}
impl<T: Read + Write + Send> ReadWrite for T {}

fn config(url: &str) -> WebhookConfig {
    WebhookConfig {
        endpoint: Endpoint::parse(url, SCHEMES).unwrap(),
        secret: SECRET.to_vec(),
        ca_file: None,
        timeout: Duration::from_secs(2),
        limits: DeliveryLimits {
            queue_items: 10,
            attempts: 6,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(40),
            drain: Duration::from_millis(200),
        },
    }
}

fn sample() -> Alert {
    crate::test_support::alert("192.0.2.7", true, 1_796_017_906_000_000_000, vec![Action::Alert])
}

fn check_signature(seen: &Seen) {
    let expected = sign(&keyed(SECRET).unwrap(), &seen.body);
    assert_eq!(seen.header("X-Sipscope-Signature"), Some(expected.as_str()));
    let wrong = sign(&keyed(b"another").unwrap(), &seen.body);
    assert_ne!(seen.header("X-Sipscope-Signature"), Some(wrong.as_str()));
}

#[test]
fn posts_carry_the_eve_body_signed_and_no_attacker_text_in_headers() {
    let (addr, seen) = serve(vec![Answer::Status(200)], None);
    let mut sink = Webhook::open(config(&format!("http://{addr}/hook?x=1"))).unwrap();
    let mut a = sample();
    a.sip.user_agent = Some("evil\r\nX-Injected: 1".into());
    sink.alert(&a).unwrap();
    let got = seen.recv().unwrap();
    check_signature(&got);
    assert_eq!(got.header("X-Sipscope-Event"), Some("alert"));
    assert_eq!(got.header("X-Sipscope-Delivery"), Some("1"));
    assert_eq!(got.header("Content-Type"), Some("application/json"));
    assert!(got.header("X-Injected").is_none());
    let body: serde_json::Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(
        (body["event_type"].as_str(), body["sip"]["user_agent"].as_str()),
        (Some("alert"), Some("evil\r\nX-Injected: 1"))
    );
}

#[test]
fn a_500_is_retried_until_it_is_taken() {
    let (addr, seen) = serve(vec![Answer::Status(500), Answer::Status(503), Answer::Status(204)], None);
    let mut sink = Webhook::open(config(&format!("http://{addr}/hook?x=1"))).unwrap();
    sink.alert(&sample()).unwrap();
    let tries: Vec<Seen> = (0..3).map(|_| seen.recv().unwrap()).collect();
    for t in &tries {
        check_signature(t);
        assert_eq!(t.header("X-Sipscope-Delivery"), Some("1"), "the same delivery each time");
    }
    while sink.counters().sent < 1 {
        std::thread::yield_now();
    }
    let c = sink.counters();
    assert_eq!((c.sent, c.retries, c.failed), (1, 2, 0), "{c:?}");
}

#[test]
fn a_4xx_is_given_up_without_retrying() {
    let (addr, seen) = serve(vec![Answer::Status(401), Answer::Status(200)], None);
    let mut sink = Webhook::open(config(&format!("http://{addr}/hook?x=1"))).unwrap();
    sink.alert(&sample()).unwrap();
    sink.alert(&sample()).unwrap();
    let (first, second) = (seen.recv().unwrap(), seen.recv().unwrap());
    assert_eq!((first.header("X-Sipscope-Delivery"), second.header("X-Sipscope-Delivery")), (Some("1"), Some("2")));
    while sink.counters().sent < 1 {
        std::thread::yield_now();
    }
    assert_eq!((sink.counters().failed, sink.counters().retries), (1, 0));
}

#[test]
fn a_hanging_endpoint_never_blocks_the_caller_and_the_queue_stays_bounded() {
    let (addr, _seen) = serve(vec![Answer::Hang], None);
    let mut sink = Webhook::open(config(&format!("http://{addr}/hook?x=1"))).unwrap();
    // Each call returns while the endpoint holds every connection without answering.
    for _ in 0..1000 {
        sink.alert(&sample()).unwrap();
    }
    let c = sink.counters();
    assert!(c.dropped >= 1000 - 10 - 1, "at most 10 queued and 1 in flight: {c:?}");
    assert_eq!(c.sent, 0);
    // Dropping the sink waits its drain (200 ms) at most, then leaves the worker.
    drop(sink);
}

#[test]
fn https_with_a_private_ca_and_refusals() {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.220.3".into()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, cert.cert.pem()).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
    let (addr, seen) = serve(vec![Answer::Status(200)], Some(Arc::new(server)));
    let url = format!("https://{addr}/hook?x=1");
    let mut trusting = config(&url);
    trusting.ca_file = Some(ca);
    let mut sink = Webhook::open(trusting).unwrap();
    sink.decision(&crate::act::Decision {
        id: Some(1),
        kind: crate::act::DecisionKind::Ban,
        scope: "192.0.2.7".parse().unwrap(),
        start_ns: 0,
        until_ns: 1,
        reason: "r".into(),
        origin: crate::act::DecisionOrigin::Operator { who: "alice".into() },
        offence: 0,
        proven: true,
        evidence: vec![],
    })
    .unwrap();
    let got = seen.recv().unwrap();
    check_signature(&got);
    assert_eq!(got.header("X-Sipscope-Event"), Some("decision"));
    // Without the CA the certificate is refused: retried, never delivered.
    let mut sink = Webhook::open(config(&url)).unwrap();
    sink.alert(&sample()).unwrap();
    while sink.counters().failed < 1 {
        std::thread::yield_now();
    }
    let c = sink.counters();
    assert!(c.last_error.as_deref().is_some_and(|e| e.contains("certificate")), "{c:?}");
    // Plain http to anything but loopback, and an empty secret, are refused at once.
    assert!(Webhook::open(config("http://198.51.100.1/hook")).is_err());
    let mut empty = config(&url);
    empty.secret.clear();
    assert!(Webhook::open(empty).is_err());
}
