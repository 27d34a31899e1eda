//! How sipscope reaches a NATS server: the URL, TLS (a CA file, a client certificate, TLS
//! required), one way to authenticate (a credentials file, user and password, token or nkey
//! seed, each secret read from a file so that it appears neither in `ps` nor in a log line),
//! and the JetStream stream the sensors publish to (created when missing).

use crate::sinks::SinkError;
use std::path::PathBuf;
use std::time::Duration;

/// How to authenticate to the server. Secrets are read from files when connecting.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsAuth {
    /// A credentials file (user JWT and nkey seed, `nsc generate creds`).
    pub credentials: Option<PathBuf>,
    /// A user name, with `password_file`.
    pub user: Option<String>,
    /// The file holding the user's password (first line).
    pub password_file: Option<PathBuf>,
    /// The file holding a token (first line).
    pub token_file: Option<PathBuf>,
    /// The file holding an nkey seed (`SU…`, first line).
    pub nkey_file: Option<PathBuf>,
}

/// The stream the sensors publish to, created with these settings when missing (an existing
/// stream is used as it is).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StreamSettings {
    /// The stream's name. Default `SIPSCOPE`.
    pub name: String,
    /// Subjects are `<subject_prefix>.<sensor>`. Default `sipscope.events`.
    pub subject_prefix: String,
    /// How long the stream keeps a message, seconds (0: forever). Default 7 days: a collector
    /// may be away that long without loss.
    pub max_age_seconds: u64,
    /// Most bytes the stream keeps (0: no limit); the oldest go first. Default 0.
    pub max_bytes: u64,
    /// The window within which a repeated message id is dropped, seconds. Default 120.
    pub duplicate_window_seconds: u64,
    /// Replicas in a cluster. Default 1.
    pub replicas: usize,
}

impl Default for StreamSettings {
    fn default() -> StreamSettings {
        StreamSettings {
            name: "SIPSCOPE".into(),
            subject_prefix: "sipscope.events".into(),
            max_age_seconds: 7 * 24 * 3600,
            max_bytes: 0,
            duplicate_window_seconds: 120,
            replicas: 1,
        }
    }
}

/// A connection to NATS and what the publisher or collector does with it (the `[nats]`
/// section of the honeypot's configuration, `--nats*` flags elsewhere; docs/collector.md).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NatsConfig {
    /// Server URL(s), comma-separated: `nats://host:4222`, `tls://host:4222`. Empty: off.
    pub url: String,
    /// Authentication.
    pub auth: NatsAuth,
    /// CA certificates (PEM) to verify the server with, besides none: set it for TLS.
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS, with `client_key`.
    pub client_cert: Option<PathBuf>,
    /// Client key (PEM).
    pub client_key: Option<PathBuf>,
    /// Refuse a server that does not speak TLS.
    pub require_tls: bool,
    /// The stream.
    pub stream: StreamSettings,
    /// Publisher: most messages awaiting the broker's ack (bounds memory; the store holds the
    /// rest). Default 4096.
    pub max_in_flight: usize,
    /// Publisher: rows read from the store at once. Default 2048.
    pub batch: usize,
    /// Publisher: most rows in one NATS message (a batch, wire version 2). 1 sends one
    /// message per row (wire version 1, what collectors before batches read). Default 256.
    pub message_rows: usize,
    /// Publisher: most bytes of rows in one NATS message; a row larger than this goes alone.
    /// Keep it under the server's `max_payload` (1 MiB by default). Default 262144.
    pub message_bytes: usize,
    /// Publisher: compress each batch (zstd, wire version 3: a collector older than it counts
    /// such messages as malformed; upgrade collectors first, or set it false until they are).
    /// Default true.
    pub compress: bool,
    /// Publisher: how often it looks for new rows when nothing woke it, ms. Default 200.
    pub poll_ms: u64,
    /// Publisher: at exit, how long it goes on publishing what is left, seconds (the rest
    /// waits in the store for the next start). Default 5.
    pub drain_seconds: u64,
    /// Longest wait for the server's answer (connect, ack), seconds. Default 5.
    pub timeout_seconds: u64,
    /// Honeypot: watch the shared decisions bucket and enforce what the collector decided
    /// (subject to this sensor's `[decisions]` allowlists). Default false.
    pub watch_decisions: bool,
    /// The KV bucket of shared decisions. Default `sipscope-decisions`.
    pub decisions_bucket: String,
}

impl Default for NatsConfig {
    fn default() -> NatsConfig {
        NatsConfig {
            url: String::new(),
            auth: NatsAuth::default(),
            ca_file: None,
            client_cert: None,
            client_key: None,
            require_tls: false,
            stream: StreamSettings::default(),
            max_in_flight: 4096,
            batch: 2048,
            message_rows: 256,
            message_bytes: 256 << 10,
            compress: true,
            poll_ms: 200,
            drain_seconds: 5,
            timeout_seconds: 5,
            watch_decisions: false,
            decisions_bucket: "sipscope-decisions".into(),
        }
    }
}

impl NatsConfig {
    /// Whether a server is configured.
    pub fn enabled(&self) -> bool {
        !self.url.trim().is_empty()
    }

    /// The URL(s) without user information, for logs (`nats://user:secret@host` →
    /// `nats://host`).
    pub fn display_url(&self) -> String {
        self.url
            .split(',')
            .map(|u| {
                let u = u.trim();
                match (u.find("://"), u.rfind('@')) {
                    (Some(scheme), Some(at)) if at > scheme => {
                        format!("{}{}", u.get(..scheme + 3).unwrap_or(""), u.get(at + 1..).unwrap_or(""))
                    }
                    (None, Some(at)) => u.get(at + 1..).unwrap_or("").to_owned(),
                    _ => u.to_owned(),
                }
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The subject a sensor publishes to.
    pub fn subject(&self, sensor: &str) -> String {
        format!("{}.{}", self.stream.subject_prefix, super::subject_token(sensor))
    }

    /// Checks what can be checked before connecting.
    pub fn check(&self) -> Result<(), SinkError> {
        let bad = |m: &str| Err(SinkError::Backend { backend: "NATS", message: m.to_owned() });
        let a = &self.auth;
        let ways = [a.credentials.is_some(), a.user.is_some(), a.token_file.is_some(), a.nkey_file.is_some()];
        if ways.into_iter().filter(|w| *w).count() > 1 {
            return bad("choose one of credentials, user, token_file and nkey_file");
        }
        if a.user.is_some() != a.password_file.is_some() {
            return bad("user and password_file go together");
        }
        if self.client_cert.is_some() != self.client_key.is_some() {
            return bad("client_cert and client_key go together");
        }
        if self.max_in_flight == 0 || self.batch == 0 {
            return bad("max_in_flight and batch must be at least 1");
        }
        let prefix_ok = !self.stream.subject_prefix.is_empty()
            && self.stream.subject_prefix.split('.').all(|t| !t.is_empty() && !t.contains(['*', '>', ' ']));
        if !prefix_ok {
            return bad("stream.subject_prefix must be dot-separated tokens without wildcards");
        }
        Ok(())
    }

    /// Connects (one attempt: the caller retries with its own back-off). `name` is the client
    /// name the server shows.
    pub async fn connect(&self, name: &str) -> Result<async_nats::Client, SinkError> {
        self.connect_watching(name, None).await
    }

    /// [`connect`](Self::connect), keeping the server's last `-ERR` (a permissions violation:
    /// the server refuses a publish on the connection and sends no answer to it) in `errors`.
    pub async fn connect_watching(
        &self,
        name: &str,
        errors: Option<ServerErrors>,
    ) -> Result<async_nats::Client, SinkError> {
        self.check()?;
        let mut options = async_nats::ConnectOptions::new()
            .name(name)
            .connection_timeout(Duration::from_secs(self.timeout_seconds.max(1)))
            .request_timeout(Some(Duration::from_secs(self.timeout_seconds.max(1))))
            .require_tls(self.require_tls);
        let a = &self.auth;
        if let Some(path) = &a.credentials {
            let text = read_secret(path, false)?;
            options =
                options.credentials(&text).map_err(|e| backend(format!("credentials {}: {e}", path.display())))?;
        }
        if let (Some(user), Some(path)) = (&a.user, &a.password_file) {
            options = options.user_and_password(user.clone(), read_secret(path, true)?);
        }
        if let Some(path) = &a.token_file {
            options = options.token(read_secret(path, true)?);
        }
        if let Some(path) = &a.nkey_file {
            options = options.nkey(read_secret(path, true)?);
        }
        if let Some(ca) = &self.ca_file {
            options = options.add_root_certificates(ca.clone());
        }
        if let (Some(cert), Some(key)) = (&self.client_cert, &self.client_key) {
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
        if let Some(slot) = errors {
            options = options.event_callback(move |event| {
                let slot = slot.clone();
                async move {
                    if let async_nats::Event::ServerError(e) = event {
                        if let Ok(mut last) = slot.lock() {
                            *last = Some(e.to_string());
                        }
                    }
                }
            });
        }
        let urls: Vec<String> = self.url.split(',').map(|u| u.trim().to_owned()).filter(|u| !u.is_empty()).collect();
        let addrs: Vec<async_nats::ServerAddr> = urls
            .iter()
            .map(|u| u.parse::<async_nats::ServerAddr>())
            .collect::<Result<_, _>>()
            .map_err(|_| backend(format!("not a NATS server address: {}", self.display_url())))?;
        options.connect(addrs).await.map_err(|e| {
            let why = match e.kind() {
                async_nats::ConnectErrorKind::AuthorizationViolation => {
                    "the server refused the credentials (authorization violation)".to_owned()
                }
                async_nats::ConnectErrorKind::Authentication => "authentication failed (signing the nonce)".to_owned(),
                async_nats::ConnectErrorKind::Tls => format!("TLS: {e}"),
                _ => e.to_string(),
            };
            SinkError::Unavailable { backend: "NATS", message: format!("connecting to {}: {why}", self.display_url()) }
        })
    }

    /// The stream's configuration for creating it.
    pub fn stream_config(&self) -> async_nats::jetstream::stream::Config {
        let s = &self.stream;
        async_nats::jetstream::stream::Config {
            name: s.name.clone(),
            subjects: vec![format!("{}.>", s.subject_prefix)],
            max_age: Duration::from_secs(s.max_age_seconds),
            max_bytes: if s.max_bytes == 0 { -1 } else { i64::try_from(s.max_bytes).unwrap_or(i64::MAX) },
            duplicate_window: Duration::from_secs(s.duplicate_window_seconds.max(1)),
            num_replicas: s.replicas.max(1),
            storage: async_nats::jetstream::stream::StorageType::File,
            ..Default::default()
        }
    }

    /// A JetStream context with the stream in place (created when missing).
    pub async fn jetstream(&self, client: async_nats::Client) -> Result<async_nats::jetstream::Context, SinkError> {
        let js = async_nats::jetstream::ContextBuilder::new()
            .timeout(Duration::from_secs(self.timeout_seconds.max(1)))
            .ack_timeout(Duration::from_secs(self.timeout_seconds.max(1)))
            .max_ack_inflight(self.max_in_flight.max(1))
            .build(client);
        js.get_or_create_stream(self.stream_config()).await.map_err(|e| SinkError::Unavailable {
            backend: "NATS",
            message: format!("stream {}: {e}", self.stream.name),
        })?;
        Ok(js)
    }
}

/// Where a connection keeps the server's last error (`-ERR …`, without secrets: the server
/// names subjects, not credentials).
pub type ServerErrors = std::sync::Arc<std::sync::Mutex<Option<String>>>;

fn backend(message: String) -> SinkError {
    SinkError::Backend { backend: "NATS", message }
}

/// Reads a secret file (its first line when `line`); the error names the file, never the
/// content.
fn read_secret(path: &std::path::Path, line: bool) -> Result<String, SinkError> {
    let text = std::fs::read_to_string(path)
        .map_err(|cause| SinkError::Io { what: format!("reading {}", path.display()), cause })?;
    Ok(if line { text.lines().next().unwrap_or("").trim().to_owned() } else { text })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_logged_without_their_secrets() {
        let c = NatsConfig {
            url: "nats://u:s3cret@10.0.0.1:4222, tls://tok@h:1,nats://plain:4222".into(),
            ..Default::default()
        };
        assert_eq!(c.display_url(), "nats://10.0.0.1:4222,tls://h:1,nats://plain:4222");
        assert!(!c.display_url().contains("s3cret"));
    }

    #[test]
    fn one_way_to_authenticate() {
        let mut c = NatsConfig { url: "nats://h".into(), ..Default::default() };
        assert!(c.check().is_ok());
        c.auth.user = Some("u".into());
        assert!(c.check().is_err());
        c.auth.password_file = Some("/p".into());
        assert!(c.check().is_ok());
        c.auth.token_file = Some("/t".into());
        assert!(c.check().is_err());
    }
}
