//! The `--nats*` flags: the broker a command publishes its store to (`ingest`, `capture`,
//! `hep`, `logs`, `import`), or consumes from (`collect`), and how it authenticates. Secrets
//! come from files, never from the command line.

use sipscope::sinks::nats::{NatsAuth, NatsConfig, StreamSettings};
use std::path::PathBuf;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct NatsArgs {
    /// NATS server(s) with JetStream, comma-separated (`nats://host:4222`, `tls://…`): publish
    /// every stored event and record there (the store is the outbox; docs/collector.md).
    #[arg(long, value_name = "URL")]
    pub nats: Option<String>,
    /// NATS credentials file (user JWT and nkey seed).
    #[arg(long, value_name = "FILE", requires = "nats")]
    pub nats_creds: Option<PathBuf>,
    /// NATS user (with --nats-password-file).
    #[arg(long, value_name = "NAME", requires = "nats_password_file")]
    pub nats_user: Option<String>,
    /// File holding the NATS user's password.
    #[arg(long, value_name = "FILE", requires = "nats_user")]
    pub nats_password_file: Option<PathBuf>,
    /// File holding a NATS token.
    #[arg(long, value_name = "FILE", requires = "nats")]
    pub nats_token_file: Option<PathBuf>,
    /// File holding a NATS nkey seed.
    #[arg(long, value_name = "FILE", requires = "nats")]
    pub nats_nkey_file: Option<PathBuf>,
    /// CA certificates (PEM) to verify the NATS server's TLS certificate.
    #[arg(long, value_name = "FILE", requires = "nats")]
    pub nats_ca: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS (with --nats-key).
    #[arg(long, value_name = "FILE", requires = "nats_key")]
    pub nats_cert: Option<PathBuf>,
    /// Client key (PEM).
    #[arg(long, value_name = "FILE", requires = "nats_cert")]
    pub nats_key: Option<PathBuf>,
    /// Refuse a NATS server that does not speak TLS.
    #[arg(long, requires = "nats")]
    pub nats_tls: bool,
    /// The JetStream stream (created when missing).
    #[arg(long, value_name = "NAME", default_value = "SIPSCOPE")]
    pub nats_stream: String,
}

impl NatsArgs {
    /// The configuration, when `--nats` was given.
    pub fn config(&self) -> Option<NatsConfig> {
        let url = self.nats.clone()?;
        Some(NatsConfig {
            url,
            auth: NatsAuth {
                credentials: self.nats_creds.clone(),
                user: self.nats_user.clone(),
                password_file: self.nats_password_file.clone(),
                token_file: self.nats_token_file.clone(),
                nkey_file: self.nats_nkey_file.clone(),
            },
            ca_file: self.nats_ca.clone(),
            client_cert: self.nats_cert.clone(),
            client_key: self.nats_key.clone(),
            require_tls: self.nats_tls,
            stream: StreamSettings { name: self.nats_stream.clone(), ..StreamSettings::default() },
            ..NatsConfig::default()
        })
    }
}
