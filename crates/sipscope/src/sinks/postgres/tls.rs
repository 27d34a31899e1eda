//! TLS to PostgreSQL. A collector's database is often on another machine, and what travels
//! to it is every sensor's raw traffic and the recovered passwords: so a `postgres://` URL
//! takes libpq's TLS parameters, with libpq's meanings (docs/collector.md, "TLS to
//! PostgreSQL"), and rustls (ring, like every other TLS of sipscope) speaks it:
//!
//! - `sslmode`: `disable`, `prefer`, `require`, `verify-ca`, `verify-full`. Absent, the
//!   connection is not encrypted (sipscope's default, unlike libpq's `prefer`: the database
//!   is expected on the host or a private network unless the URL says otherwise).
//! - `sslrootcert`: the PEM file of the certificate authorities to trust (else Mozilla's).
//!   With it, `require` and `prefer` verify the chain too, as libpq does.
//! - `sslcert` and `sslkey`: a client certificate (PEM) for `cert` authentication.
//!
//! `postgres::Config` does not know the last four and refuses them, so they are taken out of
//! the URL here ([`split`]); the rest of the URL is left byte for byte as it was.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error as TlsError, SignatureScheme};
use std::path::PathBuf;
use std::sync::Arc;

/// How much TLS the URL asks for (libpq's `sslmode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// No TLS (also when the URL has no `sslmode`).
    Disable,
    /// TLS when the server offers it; the certificate is verified only against `sslrootcert`.
    Prefer,
    /// TLS or no connection; the certificate is verified only against `sslrootcert`.
    Require,
    /// TLS, the server's certificate chain verified (not its name).
    VerifyCa,
    /// TLS, the chain verified and the certificate valid for the host connected to.
    VerifyFull,
}

/// The URL's TLS parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsParams {
    pub mode: SslMode,
    pub root_cert: Option<PathBuf>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
}

/// The parameters of ours in a URL's query.
const OURS: [&str; 4] = ["sslmode", "sslrootcert", "sslcert", "sslkey"];

/// The URL without its TLS parameters, and those parameters.
pub fn split(url: &str) -> Result<(String, TlsParams), String> {
    let mut params = TlsParams { mode: SslMode::Disable, root_cert: None, client_cert: None, client_key: None };
    let Some((base, query)) = url.split_once('?') else { return Ok((url.to_owned(), params)) };
    let mut kept: Vec<&str> = Vec::new();
    for piece in query.split('&') {
        let key = piece.split_once('=').map_or(piece, |(k, _)| k);
        if !OURS.contains(&key) {
            kept.push(piece);
            continue;
        }
        // Percent-decoded; a `+` stays a plus (libpq's URLs are not forms).
        let literal = piece.replace('+', "%2B");
        let value = form_urlencoded::parse(literal.as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default();
        match key {
            "sslmode" => {
                params.mode = match value.as_str() {
                    "disable" => SslMode::Disable,
                    "prefer" => SslMode::Prefer,
                    "require" => SslMode::Require,
                    "verify-ca" => SslMode::VerifyCa,
                    "verify-full" => SslMode::VerifyFull,
                    // `allow` tries without TLS first: not offered (it only weakens `prefer`).
                    other => {
                        return Err(format!(
                            "sslmode {other:?} is not one of disable, prefer, require, verify-ca, verify-full"
                        ))
                    }
                }
            }
            "sslrootcert" => params.root_cert = Some(PathBuf::from(value)),
            "sslcert" => params.client_cert = Some(PathBuf::from(value)),
            _ => params.client_key = Some(PathBuf::from(value)),
        }
    }
    if params.client_cert.is_some() != params.client_key.is_some() {
        return Err("sslcert and sslkey go together: give both or neither".into());
    }
    let rest = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
    Ok((rest, params))
}

impl TlsParams {
    /// What `postgres::Config` is told: whether TLS is tried, and whether it is required.
    pub fn config_mode(&self) -> postgres::config::SslMode {
        match self.mode {
            SslMode::Disable => postgres::config::SslMode::Disable,
            SslMode::Prefer => postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => postgres::config::SslMode::Require,
        }
    }

    /// The rustls connector for these parameters; `None` for `disable`.
    pub fn connector(&self) -> Result<Option<tokio_postgres_rustls::MakeRustlsConnect>, String> {
        if self.mode == SslMode::Disable {
            return Ok(None);
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = Arc::new(self.roots()?);
        let full = WebPkiServerVerifier::builder_with_provider(Arc::clone(&roots), Arc::clone(&provider))
            .build()
            .map_err(|e| format!("the certificate authorities: {e}"))?;
        let verifier: Arc<dyn ServerCertVerifier> = match (self.mode, &self.root_cert) {
            (SslMode::VerifyFull, _) => full,
            (SslMode::VerifyCa, _) | (SslMode::Require | SslMode::Prefer, Some(_)) => Arc::new(ChainOnly(full)),
            _ => Arc::new(Unverified(Arc::clone(&provider))),
        };
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let config = match (&self.client_cert, &self.client_key) {
            (Some(cert), Some(key)) => {
                let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
                    .and_then(Iterator::collect)
                    .map_err(|e| format!("sslcert {}: {e}", cert.display()))?;
                let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("sslkey {}: {e}", key.display()))?;
                builder.with_client_auth_cert(chain, key).map_err(|e| format!("the client certificate: {e}"))?
            }
            _ => builder.with_no_client_auth(),
        };
        Ok(Some(tokio_postgres_rustls::MakeRustlsConnect::new(config)))
    }

    /// `sslrootcert`'s certificates, else Mozilla's roots.
    fn roots(&self) -> Result<rustls::RootCertStore, String> {
        let Some(path) = &self.root_cert else {
            return Ok(rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() });
        };
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .and_then(Iterator::collect)
            .map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!("sslrootcert {}: no certificate", path.display()));
        }
        let mut roots = rustls::RootCertStore::empty();
        for cert in certs {
            roots.add(cert).map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
        }
        Ok(roots)
    }
}

/// `verify-ca`: the chain must lead to a trusted authority; the name in the certificate is
/// not compared with the host.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(TlsError::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `require` and `prefer` without `sslrootcert` (libpq's meaning): encrypted, the server not
/// authenticated. The handshake's signatures are still checked against the certificate sent.
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_leave_the_rest_of_the_url_as_it_was() {
        let (rest, p) = split(
            "postgres://u:p%40ss@db.example.org:5433/sipscope?application_name=a+b&sslmode=verify-full&sslrootcert=%2Fetc%2Fca+1.pem&connect_timeout=5",
        )
        .unwrap();
        assert_eq!(rest, "postgres://u:p%40ss@db.example.org:5433/sipscope?application_name=a+b&connect_timeout=5");
        assert_eq!(p.mode, SslMode::VerifyFull);
        assert_eq!(p.root_cert, Some(PathBuf::from("/etc/ca+1.pem")));
        assert_eq!(p.config_mode(), postgres::config::SslMode::Require);
        // Messages name the URL without its password, whatever its TLS parameters.
        assert_eq!(
            crate::sinks::postgres::redact(
                "postgres://u:secret@h:5/db?sslmode=verify-full&sslkey=/k.pem&sslcert=/c.pem"
            ),
            "postgres://u@h:5/db"
        );

        let (rest, p) = split("postgres://u@h/db").unwrap();
        assert_eq!((rest.as_str(), p.mode), ("postgres://u@h/db", SslMode::Disable));
        assert!(p.connector().unwrap().is_none());
        let (rest, p) = split("postgres://u@h/db?sslmode=require").unwrap();
        assert_eq!((rest.as_str(), p.mode), ("postgres://u@h/db", SslMode::Require));
        assert!(p.connector().unwrap().is_some());
    }

    #[test]
    fn bad_tls_parameters_are_refused_with_their_reason() {
        assert!(split("postgres://h/db?sslmode=allow").unwrap_err().contains("not one of"));
        assert!(split("postgres://h/db?sslmode=verify-full&sslcert=/c.pem").unwrap_err().contains("give both"));
        let (_, p) = split("postgres://h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem").unwrap();
        assert!(p.connector().err().unwrap().contains("sslrootcert /nonexistent/ca.pem"));
        // Cut short, not UTF-8 once decoded, oversized: refused with a reason, never a panic.
        assert!(split("postgres://h/db?sslmode").unwrap_err().contains("not one of"));
        assert!(split("postgres://h/db?sslmode=%FF%FE").unwrap_err().contains("not one of"));
        let (_, p) = split("postgres://h/db?sslmode=require&sslrootcert=%FF%FE%00").unwrap();
        assert!(p.connector().err().unwrap().starts_with("sslrootcert "));
        let long = format!("postgres://h/db?sslmode=require&sslrootcert={}", "a".repeat(100_000));
        assert!(split(&long).unwrap().1.connector().is_err());
    }
}
