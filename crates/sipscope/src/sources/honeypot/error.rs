//! Why the honeypot cannot start (or stopped).

use std::net::SocketAddr;
use std::path::PathBuf;

/// A failure of the honeypot as a whole. Per-message problems are never errors: they are
/// recorded and answered (or not) like any other message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HoneypotError {
    /// The configuration file.
    #[error(transparent)]
    Config(#[from] super::config::ConfigError),
    /// The PBX profile.
    #[error(transparent)]
    Profile(#[from] super::profile::ProfileError),
    /// The nodes file.
    #[error(transparent)]
    Nodes(#[from] crate::nodes::NodesError),
    /// The store. (Its error is part of the message, not a separate source, so that a chain
    /// of errors does not print it twice.)
    #[error("event store: {0}")]
    Store(crate::sinks::SinkError),
    /// Recovering the analysis of an interrupted earlier run.
    #[error("recovering an interrupted analysis run: {0}")]
    Recovery(#[from] crate::sources::replay::ReplayError),
    /// The rule files (every problem, with its file and line).
    #[error("rules:\n{0}")]
    Rules(#[from] crate::rules::RulesError),
    /// TLS material.
    #[error(transparent)]
    Tls(#[from] super::net::tls::TlsError),
    /// Password intelligence (its wordlist).
    #[error(transparent)]
    Intel(#[from] super::intel::IntelError),
    /// A listener could not be bound.
    #[error("listening on {transport} {addr}: {cause}")]
    Bind {
        /// udp, tcp or tls.
        transport: &'static str,
        /// The address.
        addr: SocketAddr,
        /// Why (in the message, not a `source`, so that a chain prints it once).
        cause: std::io::Error,
    },
    /// A file (JSON Lines output, human log).
    #[error("{0}: {1}")]
    File(PathBuf, std::io::Error),
    /// Switching to the configured user.
    #[error("dropping privileges to {0:?}: {1}")]
    Privileges(String, String),
    /// Signal handlers or threads.
    #[error("{0}")]
    Runtime(String),
}

impl From<crate::sinks::SinkError> for HoneypotError {
    fn from(e: crate::sinks::SinkError) -> HoneypotError {
        HoneypotError::Store(e)
    }
}
