//! TLS to PostgreSQL (`sslmode`, `sslrootcert`, `sslcert`, `sslkey` in a `postgres://` URL,
//! `sinks/postgres/tls.rs`): a server of the test's own on 127.0.0.1:55433 that accepts only
//! TLS (`hostssl` in its pg_hba.conf), with a certificate for the address 127.0.0.1 from an
//! authority the test makes, and a user `sensor` that must show a client certificate.

use super::server::OwnServer;
use super::sipscope;
use crate::pki::{pki, Pki};
use sipscope::sinks::postgres::connect;
use std::path::Path;
use std::process::Command;

const PORT: u16 = 55433;

/// The server's certificate, key and client authority in its data directory, and a
/// pg_hba.conf that takes TLS connections only: `sensor` by certificate, anyone else trusted.
fn setup(data: &Path, pki: &Pki) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(data.join("server.crt"), &pki.server.0)?;
    std::fs::write(data.join("server.key"), &pki.server.1)?;
    std::fs::set_permissions(data.join("server.key"), std::fs::Permissions::from_mode(0o600))?;
    std::fs::write(data.join("clients.crt"), &pki.ca)?;
    std::fs::write(
        data.join("pg_hba.conf"),
        "local all all trust\nhostssl all sensor 127.0.0.1/32 cert\nhostssl all all 127.0.0.1/32 trust\n",
    )?;
    let owned = Command::new("chown").arg("-R").arg("postgres:postgres").arg(data).status()?;
    if owned.success() {
        Ok(())
    } else {
        Err(std::io::Error::other("chown failed"))
    }
}

/// Whether the connection to `url` is encrypted, by the server's own account.
fn encrypted(url: &str) -> Result<bool, String> {
    let mut client = connect(url).map_err(|e| e.to_string())?;
    let row =
        client.query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[]).map_err(|e| e.to_string())?;
    Ok(row.get(0))
}

#[test]
fn tls_to_postgresql_is_used_and_verified_as_the_url_says() {
    let dir = tempfile::tempdir().unwrap();
    let (pki, other) = (pki("127.0.0.1", "sensor"), pki("127.0.0.1", "sensor"));
    let server_dir = dir.path().join("server");
    std::fs::create_dir(&server_dir).unwrap();
    let server = OwnServer::start_with(
        &server_dir,
        PORT,
        |data| setup(data, &pki),
        &[
            "-c",
            "ssl=on",
            "-c",
            "ssl_cert_file=server.crt",
            "-c",
            "ssl_key_file=server.key",
            "-c",
            "ssl_ca_file=clients.crt",
        ],
    );
    let Some(_server) = server else { return };
    let files = dir.path().join("client");
    std::fs::create_dir(&files).unwrap();
    let file = |name: &str, text: &str| {
        let path = files.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let ca = file("ca.pem", &pki.ca);
    let other_ca = file("other-ca.pem", &other.ca);
    let (cert, key) = (file("sensor.crt", &pki.client.0), file("sensor.key", &pki.client.1));
    let url = |host: &str, user: &str, query: &str| format!("postgres://{user}:s3cret@{host}:{PORT}/postgres{query}");

    // verify-full against the test's authority: encrypted.
    assert_eq!(encrypted(&url("127.0.0.1", "postgres", &format!("?sslmode=verify-full&sslrootcert={ca}"))), Ok(true));
    // No sslmode: no TLS, which this server refuses, said clearly and without the password.
    let refused = encrypted(&url("127.0.0.1", "postgres", "")).unwrap_err();
    assert!(refused.contains("no encryption"), "{refused}");
    assert!(!refused.contains("s3cret"), "{refused}");
    // Another authority: refused, naming the certificate.
    let untrusted =
        encrypted(&url("127.0.0.1", "postgres", &format!("?sslmode=verify-full&sslrootcert={other_ca}"))).unwrap_err();
    assert!(untrusted.contains("certificate"), "{untrusted}");
    // A host name the certificate does not name: verify-full refuses, verify-ca does not
    // compare names, require without an authority does not verify (libpq's meanings).
    let misnamed =
        encrypted(&url("localhost", "postgres", &format!("?sslmode=verify-full&sslrootcert={ca}"))).unwrap_err();
    assert!(misnamed.contains("certificate"), "{misnamed}");
    assert_eq!(encrypted(&url("localhost", "postgres", &format!("?sslmode=verify-ca&sslrootcert={ca}"))), Ok(true));
    assert_eq!(encrypted(&url("localhost", "postgres", "?sslmode=require")), Ok(true));
    // require with an authority verifies the chain, as libpq does.
    assert!(encrypted(&url("127.0.0.1", "postgres", &format!("?sslmode=require&sslrootcert={other_ca}"))).is_err());
    // A client certificate for `cert` authentication.
    let mut admin = connect(&url("127.0.0.1", "postgres", &format!("?sslmode=verify-full&sslrootcert={ca}"))).unwrap();
    admin.batch_execute("CREATE ROLE sensor LOGIN SUPERUSER").unwrap();
    admin.batch_execute("CREATE DATABASE sipscope OWNER sensor").unwrap();
    let as_sensor = |query: String| format!("postgres://sensor@127.0.0.1:{PORT}/sipscope{query}");
    let with_cert = as_sensor(format!("?sslmode=verify-full&sslrootcert={ca}&sslcert={cert}&sslkey={key}"));
    assert_eq!(encrypted(&with_cert), Ok(true));
    let without = encrypted(&as_sensor(format!("?sslmode=verify-full&sslrootcert={ca}"))).unwrap_err();
    assert!(without.contains("certificate"), "{without}");

    // The commands over it: ingest and report through the certificate-authenticated URL.
    let capture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/ingest/udp-basic.pcap");
    let (code, _, stderr) = sipscope(&["ingest", "--quiet", "--db", &with_cert, capture]);
    assert_eq!(code, 0, "{stderr}");
    let (code, report, stderr) = sipscope(&["report", "--format", "json", "--db", &with_cert, "summary"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(report.contains("\"summary\""), "{report}");
    let mut client = connect(&with_cert).unwrap();
    let stored: i64 = client.query_one("SELECT count(*) FROM events", &[]).unwrap().get(0);
    assert!(stored > 0);
    // A wrong sslmode is a usage error naming the choices, not a connection attempt.
    let (code, _, stderr) = sipscope(&["report", "--db", &as_sensor("?sslmode=allow".into())]);
    assert_ne!(code, 0);
    assert!(stderr.contains("verify-full"), "{stderr}");
}
