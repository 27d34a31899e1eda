//! The PostgreSQL store against the SQLite store: the same data written through the same
//! `EventStore`/`DecisionLog` traits into both, then `report --format json` and `analyze`
//! compared section by section (`compare.rs`); re-delivered events stored once, a read-only
//! database and a full disk refused with a clear error (`failures.rs`). Uses the service on
//! 127.0.0.1:5432 with a database per test (`sipscope_t_<random>`, dropped afterwards); the
//! full-disk test starts its own server on port 55432–55439.

mod cascade;
mod compare;
mod failures;
mod index;
pub(crate) mod server;
mod tls;

use postgres::{Client, NoTls};

/// The shared service's administrative URL.
const ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database of its own on the shared service, dropped when this is.
pub(crate) struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub fn create() -> TestDb {
        let name = format!("sipscope_t_{:016x}", rand::random::<u64>());
        let mut admin =
            Client::connect(ADMIN, NoTls).expect("PostgreSQL on 127.0.0.1:5432 (scripts/test.sh starts it)");
        admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
        TestDb { name, url }
    }

    pub fn client(&self) -> Client {
        Client::connect(&self.url, NoTls).unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = Client::connect(ADMIN, NoTls) {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

/// A connection to the shared service's `postgres` database.
/// The report golden store built twice, in SQLite and in a fresh PostgreSQL database, and a
/// reader of each: (folder and database kept alive, SQLite's reader, PostgreSQL's reader).
pub(crate) fn golden_in_both(
) -> (tempfile::TempDir, TestDb, Box<dyn sipscope::store::StoreReader>, Box<dyn sipscope::store::StoreReader>) {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::create();
    let sqlite = dir.path().join("s.db");
    crate::report_golden::build_store(&sqlite);
    crate::report_golden::build_store(std::path::Path::new(&db.url));
    let a = sipscope::store::open(&sqlite).unwrap();
    let b = sipscope::store::open(std::path::Path::new(&db.url)).unwrap();
    (dir, db, a, b)
}

pub(crate) fn admin() -> Client {
    Client::connect(ADMIN, NoTls).unwrap()
}

/// Runs the sipscope binary; (exit code, stdout, stderr).
pub(crate) fn sipscope(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sipscope")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
