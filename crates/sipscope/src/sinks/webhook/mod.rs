//! Alerts and decisions POSTed to a webhook: the EVE-like JSON object as the body, signed with
//! `X-Sipscope-Signature: sha256=<hex HMAC-SHA256 of the body>` under a shared secret, over
//! TLS (rustls; Mozilla's roots, or a CA file for a private one) or plain HTTP to a loopback
//! address. A [`Delivery`] worker sends with retries (exponential backoff with jitter) from a
//! bounded queue: an endpoint that hangs or answers 500 never blocks the pipeline. Headers
//! carry only what sipscope makes (the event kind, a delivery number, the signature): attacker
//! text stays in the JSON body.

use crate::act::{Alert, Decision};
use crate::sinks::delivery::{Delivery, DeliveryCounters, DeliveryLimits, SendError, Transport};
use crate::sinks::endpoint::Endpoint;
use crate::sinks::eve::shape as eve;
use crate::sinks::{AlertSink, SinkError};
use hmac::{Hmac, Mac};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use sha2::Sha256;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The URL schemes and their default ports.
pub const SCHEMES: &[(&str, u16)] = &[("https", 443), ("http", 80)];
/// The most of an answer read (its status line and headers).
const MAX_ANSWER_BYTES: usize = 16 * 1024;

/// Where and how to post.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// `https://…` (or `http://` to a loopback address).
    pub endpoint: Endpoint,
    /// The HMAC key.
    pub secret: Vec<u8>,
    /// A PEM file of extra trust anchors (a private CA); Mozilla's roots otherwise.
    pub ca_file: Option<PathBuf>,
    /// Connect, write and read timeout of one POST.
    pub timeout: Duration,
    /// Queue and retries.
    pub limits: DeliveryLimits,
}

/// The HMAC-SHA256 keyed with `secret` (any length is a valid key).
pub fn keyed(secret: &[u8]) -> Result<Hmac<Sha256>, String> {
    <Hmac<Sha256> as Mac>::new_from_slice(secret).map_err(|e| format!("the webhook secret: {e}"))
}

/// The signature header's value for `body`: `sha256=` and the hex HMAC-SHA256.
pub fn sign(mac: &Hmac<Sha256>, body: &[u8]) -> String {
    let mut mac = mac.clone();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// One POST waiting.
struct Post {
    event: &'static str,
    number: u64,
    body: String,
}

/// The webhook output.
pub struct Webhook {
    delivery: Delivery<Post>,
    posts: u64,
}

impl Webhook {
    /// Checks the configuration and starts the sender.
    pub fn open(config: WebhookConfig) -> Result<Webhook, SinkError> {
        let invalid = |message: String| SinkError::Backend { backend: "webhook", message };
        if config.secret.is_empty() {
            return Err(invalid("the webhook secret is empty".into()));
        }
        let tls = match config.endpoint.scheme.as_str() {
            "https" => Some(client_config(config.ca_file.as_deref()).map_err(invalid)?),
            _ if config.endpoint.is_loopback() => None,
            _ => {
                return Err(invalid(format!(
                    "plain http only to a loopback address, not {}: use https",
                    config.endpoint.authority()
                )))
            }
        };
        let server_name = ServerName::try_from(config.endpoint.host.clone())
            .map_err(|e| invalid(format!("{}: {e}", config.endpoint.host)))?;
        let transport = Box::new(WebhookTransport {
            endpoint: config.endpoint,
            mac: keyed(&config.secret).map_err(invalid)?,
            tls,
            server_name,
            timeout: config.timeout,
        });
        let delivery = Delivery::spawn("webhook", transport, config.limits)
            .map_err(|e| SinkError::Io { what: "starting the webhook sender".into(), cause: e })?;
        Ok(Webhook { delivery, posts: 0 })
    }

    /// What it sent, dropped and gave up.
    pub fn counters(&self) -> DeliveryCounters {
        self.delivery.counters()
    }

    fn push(&mut self, event: &'static str, body: String) {
        self.posts += 1;
        self.delivery.push(Post { event, number: self.posts, body });
    }
}

impl AlertSink for Webhook {
    fn alert(&mut self, alert: &Alert) -> Result<(), SinkError> {
        self.push("alert", eve::alert_json(alert));
        Ok(())
    }

    fn decision(&mut self, decision: &Decision) -> Result<(), SinkError> {
        self.push("decision", eve::decision_json(decision));
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        // Everything is already with the sender.
        Ok(())
    }
}

/// rustls' client configuration: Mozilla's roots plus the CA file's certificates.
fn client_config(ca_file: Option<&std::path::Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    if let Some(path) = ca_file {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!("{}: no certificate", path.display()));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

struct WebhookTransport {
    endpoint: Endpoint,
    mac: Hmac<Sha256>,
    tls: Option<Arc<rustls::ClientConfig>>,
    server_name: ServerName<'static>,
    timeout: Duration,
}

impl WebhookTransport {
    fn request(&self, post: &Post) -> Vec<u8> {
        let body = post.body.as_bytes();
        let mut out = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: sipscope/{}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nX-Sipscope-Event: {}\r\nX-Sipscope-Delivery: {}\r\nX-Sipscope-Signature: {}\r\n\
             Connection: close\r\n\r\n",
            self.endpoint.path,
            self.endpoint.authority(),
            env!("CARGO_PKG_VERSION"),
            body.len(),
            post.event,
            post.number,
            sign(&self.mac, body),
        )
        .into_bytes();
        out.extend_from_slice(body);
        out
    }

    fn connect(&self) -> Result<TcpStream, SendError> {
        let addrs = self.endpoint.resolve().map_err(|e| retry("resolving", e))?;
        let mut last = retry("connecting", "no address");
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, self.timeout) {
                Ok(s) => {
                    let _ = s.set_read_timeout(Some(self.timeout));
                    let _ = s.set_write_timeout(Some(self.timeout));
                    return Ok(s);
                }
                Err(e) => last = retry(&format!("connecting to {addr}"), e),
            }
        }
        Err(last)
    }
}

fn retry(what: &str, e: impl std::fmt::Display) -> SendError {
    SendError::Retry(format!("webhook {what}: {e}"))
}

/// Writes the request and reads the status of the answer.
fn exchange(stream: &mut (impl Read + Write), request: &[u8]) -> std::io::Result<u16> {
    stream.write_all(request)?;
    stream.flush()?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 2048];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") && answer.len() < MAX_ANSWER_BYTES {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            // A server that closes without TLS close_notify after a full answer.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !answer.is_empty() => break,
            Err(e) => return Err(e),
        }
    }
    let line = answer.split(|b| *b == b'\n').next().unwrap_or_default();
    let status = std::str::from_utf8(line)
        .ok()
        .and_then(|l| l.strip_prefix("HTTP/1."))
        .and_then(|l| l.get(2..5))
        .and_then(|code| code.parse::<u16>().ok());
    status.ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "no HTTP status in the answer"))
}

impl Transport<Post> for WebhookTransport {
    fn send(&mut self, post: &Post) -> Result<(), SendError> {
        let request = self.request(post);
        let tcp = self.connect()?;
        let status = match &self.tls {
            Some(config) => {
                let conn = rustls::ClientConnection::new(Arc::clone(config), self.server_name.clone())
                    .map_err(|e| retry("TLS", e))?;
                exchange(&mut rustls::StreamOwned::new(conn, tcp), &request)
            }
            None => exchange(&mut { tcp }, &request),
        }
        .map_err(|e| retry(&self.endpoint.authority(), e))?;
        match status {
            200..=299 => Ok(()),
            408 | 425 | 429 | 500..=599 => Err(retry(&self.endpoint.authority(), format!("answered {status}"))),
            _ => Err(SendError::GiveUp(format!("webhook {}: answered {status}", self.endpoint.authority()))),
        }
    }
}

#[cfg(test)]
mod tests;
