//! TLS server configuration: the configured certificate and key, or a self-signed pair
//! generated on first start and kept for the next (so a scanner sees the same certificate
//! across restarts, as it would on a real PBX).

use crate::sources::honeypot::config::TlsConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A failure to set up TLS.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Reading or writing certificate files.
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// Parsing PEM.
    #[error("{0}: {1}")]
    Pem(PathBuf, rustls::pki_types::pem::Error),
    /// Generating a certificate.
    #[error("generating a self-signed certificate: {0}")]
    Generate(rcgen::Error),
    /// rustls refused the pair.
    #[error("TLS configuration: {0}")]
    Rustls(rustls::Error),
}

// The causes are in the messages, not separate sources, so that a chain prints them once.
impl From<rcgen::Error> for TlsError {
    fn from(e: rcgen::Error) -> TlsError {
        TlsError::Generate(e)
    }
}
impl From<rustls::Error> for TlsError {
    fn from(e: rustls::Error) -> TlsError {
        TlsError::Rustls(e)
    }
}

/// The certificate and key files to use: configured, or generated into `default_dir`.
pub fn material(config: &TlsConfig, default_dir: &Path) -> Result<(PathBuf, PathBuf), TlsError> {
    if let (Some(cert), Some(key)) = (&config.cert, &config.key) {
        return Ok((cert.clone(), key.clone()));
    }
    let dir = config.generated_dir.clone().unwrap_or_else(|| default_dir.to_owned());
    let (cert, key) = (dir.join("sipscope-tls-cert.pem"), dir.join("sipscope-tls-key.pem"));
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    std::fs::create_dir_all(&dir).map_err(|e| TlsError::Io(dir.clone(), e))?;
    let generated = rcgen::generate_simple_self_signed(vec![config.name.clone()])?;
    write_private(&key, generated.signing_key.serialize_pem().as_bytes())?;
    crate::fsutil::replace_file(&cert, generated.cert.pem().as_bytes(), 0o644)
        .map_err(|e| TlsError::Io(cert.clone(), e))?;
    tracing::info!("generated a self-signed TLS certificate for {} in {}", config.name, dir.display());
    Ok((cert, key))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    crate::fsutil::replace_file(path, bytes, 0o600).map_err(|e| TlsError::Io(path.to_owned(), e))
}

/// A rustls server configuration from PEM files.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| TlsError::Pem(cert.to_owned(), e))?
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Pem(cert.to_owned(), e))?;
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Pem(key.to_owned(), e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)?;
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_certificate_is_kept_and_loads() {
        let dir = tempfile::tempdir().unwrap();
        let config = TlsConfig { name: "pbx.test".into(), ..TlsConfig::default() };
        let (cert, key) = material(&config, dir.path()).unwrap();
        let first = std::fs::read(&cert).unwrap();
        assert!(server_config(&cert, &key).is_ok());
        let (cert2, _) = material(&config, dir.path()).unwrap();
        assert_eq!(std::fs::read(cert2).unwrap(), first, "the same certificate on the next start");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
