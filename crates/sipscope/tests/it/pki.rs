//! Certificates for the tests that speak TLS with a peer of their own (HEP streams,
//! PostgreSQL): an authority the test makes, and a server and a client certificate it signed,
//! each naming what it is for in its subjectAltName and its common name.

/// An authority and two certificates it signed, PEM; each certificate with its key.
pub struct Pki {
    pub ca: String,
    pub server: (String, String),
    pub client: (String, String),
}

/// A new authority; `server` the name or address a client checks, `client` the name a server
/// checks (PostgreSQL's `cert` authentication reads the common name).
pub fn pki(server: &str, client: &str) -> Pki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let leaf = |name: &str| {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        let cert = params.signed_by(&key, &ca).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    Pki { ca: ca.pem(), server: leaf(server), client: leaf(client) }
}
