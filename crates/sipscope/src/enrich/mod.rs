//! Enrichment: the country and the autonomous system (AS) of an address, from MaxMind-format
//! `.mmdb` files named in the configuration (`[geo]` with `country_db` and `asn_db`) or on the
//! command line (`report --country-db`, `--asn-db`). Without them, or for an address they do
//! not cover, every field is `None` and reports print [`UNKNOWN`]. See docs/enrichment.md for
//! where free databases come from.
//!
//! Both common layouts are read, whichever file they are in:
//! - MaxMind GeoIP2 / GeoLite2 (and DB-IP's MMDB files): `country.iso_code`, falling back to
//!   `registered_country.iso_code`; `autonomous_system_number` and
//!   `autonomous_system_organization` (GeoLite2-ASN);
//! - sapics/ip-location-db: `country_code`; `autonomous_system_number` and
//!   `autonomous_system_organization`.
//!
//! The country comes from the country database, else from the ASN database if that file carries
//! one (combined files); the AS from the ASN database, else from the country database.
//! [`mmdb_writer`] builds small databases for tests.

pub mod mmdb_writer;
#[cfg(test)]
mod tests;

use maxminddb::{MaxMindDbError, Reader};
use serde::Deserialize;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// What reports print for a country or AS that is not known.
pub const UNKNOWN: &str = "unknown";

/// The `[geo]` table of the configuration (`sipscope report --config FILE`, read by
/// `reports::config::ReportConfig`). Relative paths in a file are taken from that file's
/// directory (the reader resolves them); paths given here directly, as from `--country-db`,
/// from the working directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoConfig {
    /// A country database (GeoLite2-Country, GeoIP2-Country/City, ip-location-db `*-country`).
    #[serde(default)]
    pub country_db: Option<PathBuf>,
    /// An ASN database (GeoLite2-ASN, ip-location-db `*-asn`).
    #[serde(default)]
    pub asn_db: Option<PathBuf>,
}

/// What the databases say about one address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Geo {
    /// ISO 3166-1 alpha-2 code, upper case (`"BR"`).
    pub country: Option<String>,
    /// The AS number; AS 0 ("not routed") is `None`.
    pub asn: Option<u32>,
    /// The AS organisation (`"Example Net"`), only with `asn`.
    pub as_org: Option<String>,
}

impl Geo {
    /// The country code, or [`UNKNOWN`].
    pub fn country_or_unknown(&self) -> &str {
        self.country.as_deref().unwrap_or(UNKNOWN)
    }

    /// `AS64500`, or [`UNKNOWN`].
    pub fn asn_or_unknown(&self) -> String {
        self.asn.map_or_else(|| UNKNOWN.to_owned(), |n| format!("AS{n}"))
    }
}

/// Which database a failure is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    /// `country_db`.
    Country,
    /// `asn_db`.
    Asn,
}

impl fmt::Display for DbKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DbKind::Country => "country_db",
            DbKind::Asn => "asn_db",
        })
    }
}

/// A database named in the configuration that cannot be used. The cause is part of the message
/// and not a `source`, so `{:#}` chains print it once.
#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    /// Missing or unreadable.
    #[error("{kind} {}: cannot read: {error}", path.display())]
    Read {
        /// Which setting named it.
        kind: DbKind,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// Not a MaxMind DB file, or damaged.
    #[error("{kind} {}: not a usable MaxMind DB (.mmdb) file{hint}: {error}", path.display())]
    Invalid {
        /// Which setting named it.
        kind: DbKind,
        /// The file.
        path: PathBuf,
        /// Advice when the file looks like something known (a compressed download).
        hint: &'static str,
        /// What the reader found wrong.
        error: MaxMindDbError,
    },
}

/// One opened database.
#[derive(Debug)]
struct Db {
    path: PathBuf,
    reader: Reader<Vec<u8>>,
    /// The file's size in bytes.
    size: usize,
    /// A lookup failed (damaged record) and was logged; later failures are not.
    warned: AtomicBool,
}

/// Looks addresses up in the configured databases. Cheap to query from several threads.
#[derive(Debug, Default)]
pub struct Enricher {
    country: Option<Db>,
    asn: Option<Db>,
}

impl Enricher {
    /// Open the databases the configuration names (none: [`Enricher::none`]). Each file is read
    /// into memory and its structure checked.
    pub fn open(config: &GeoConfig) -> Result<Enricher, EnrichError> {
        let country = config.country_db.as_deref().map(|p| Db::open(DbKind::Country, p)).transpose()?;
        let asn = config.asn_db.as_deref().map(|p| Db::open(DbKind::Asn, p)).transpose()?;
        Ok(Enricher { country, asn })
    }

    /// No databases: every lookup is unknown.
    pub fn none() -> Enricher {
        Enricher::default()
    }

    /// A country database is open.
    pub fn has_country_db(&self) -> bool {
        self.country.is_some()
    }

    /// An ASN database is open.
    pub fn has_asn_db(&self) -> bool {
        self.asn.is_some()
    }

    /// What tells these databases from others, for answers kept beyond this process (the REST
    /// API's reports): each one's type, build time, size and node count (`-` for none).
    pub fn identity(&self) -> String {
        let one = |db: &Option<Db>| match db {
            Some(db) => {
                let m = db.reader.metadata();
                format!("{}@{}/{}/{}", m.database_type, m.build_epoch, db.size, m.node_count)
            }
            None => "-".to_owned(),
        };
        format!("country {} asn {}", one(&self.country), one(&self.asn))
    }

    /// Country and AS of `ip` (IPv4, IPv6, or IPv4-mapped IPv6, which is looked up as IPv4).
    /// Never fails: an address not covered, or a damaged record (logged once per file), leaves
    /// the fields `None`.
    pub fn lookup(&self, ip: IpAddr) -> Geo {
        let ip = ip.to_canonical();
        let from_country = self.country.as_ref().and_then(|db| db.record(ip)).unwrap_or_default();
        let from_asn = self.asn.as_ref().and_then(|db| db.record(ip)).unwrap_or_default();
        let country = from_country.country().or_else(|| from_asn.country());
        let (asn, as_org) = match from_asn.asn() {
            (None, _) => from_country.asn(),
            found => found,
        };
        Geo { country, asn, as_org }
    }
}

impl Db {
    fn open(kind: DbKind, path: &Path) -> Result<Db, EnrichError> {
        let bytes = std::fs::read(path).map_err(|error| EnrichError::Read { kind, path: path.to_owned(), error })?;
        let size = bytes.len();
        let hint = match bytes.get(..2) {
            Some([0x1f, 0x8b]) => " (it is gzip-compressed: extract the .mmdb first)",
            _ => "",
        };
        let reader = Reader::from_source(bytes).map_err(|error| EnrichError::Invalid {
            kind,
            path: path.to_owned(),
            hint,
            error,
        })?;
        Ok(Db { path: path.to_owned(), reader, size, warned: AtomicBool::new(false) })
    }

    /// The record for `ip` (canonical), `None` when the file has none.
    fn record(&self, ip: IpAddr) -> Option<Record> {
        let ipv6_tree = self.reader.metadata().ip_version == 6;
        if ip.is_ipv6() && !ipv6_tree {
            return None;
        }
        let found = match self.decode(ip) {
            // An IPv6 file may keep IPv4 networks only under ::ffff:0:0/96.
            Ok(None) => match ip {
                IpAddr::V4(v4) if ipv6_tree => self.decode(IpAddr::V6(v4.to_ipv6_mapped())),
                _ => Ok(None),
            },
            other => other,
        };
        found.unwrap_or_else(|error| {
            if !self.warned.swap(true, Ordering::Relaxed) {
                tracing::warn!(path = %self.path.display(), %ip, %error, "geo database lookup failed; reporting unknown");
            }
            None
        })
    }

    fn decode(&self, ip: IpAddr) -> Result<Option<Record>, MaxMindDbError> {
        self.reader.lookup(ip)?.decode::<Record>()
    }
}

/// Any of the supported layouts; fields of other layouts are skipped.
#[derive(Debug, Default, Deserialize)]
struct Record {
    /// GeoIP2 / GeoLite2 / DB-IP.
    country: Option<Country>,
    registered_country: Option<Country>,
    /// ip-location-db.
    country_code: Option<String>,
    /// Both.
    autonomous_system_number: Option<AsNumber>,
    autonomous_system_organization: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Country {
    iso_code: Option<String>,
}

impl Record {
    fn country(&self) -> Option<String> {
        let nested = |c: &Option<Country>| c.as_ref().and_then(|c| c.iso_code.as_deref()).and_then(iso2);
        nested(&self.country)
            .or_else(|| nested(&self.registered_country))
            .or_else(|| self.country_code.as_deref().and_then(iso2))
    }

    fn asn(&self) -> (Option<u32>, Option<String>) {
        match self.autonomous_system_number.and_then(|n| n.0).filter(|&n| n != 0) {
            None => (None, None),
            Some(n) => {
                let org = self.autonomous_system_organization.as_deref().map(str::trim).filter(|o| !o.is_empty());
                (Some(n), org.map(str::to_owned))
            }
        }
    }
}

/// A two-letter code, upper-cased; `ZZ` (unknown) and anything else is `None`.
fn iso2(code: &str) -> Option<String> {
    let code = code.trim();
    (code.len() == 2 && code.bytes().all(|b| b.is_ascii_alphabetic()) && !code.eq_ignore_ascii_case("zz"))
        .then(|| code.to_ascii_uppercase())
}

/// An AS number stored as any unsigned or signed integer type, or as text (`"64500"`,
/// `"AS64500"`); `None` when out of range or unreadable, so the rest of the record still counts.
#[derive(Debug, Clone, Copy)]
struct AsNumber(Option<u32>);

impl<'de> Deserialize<'de> for AsNumber {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<AsNumber, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = AsNumber;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an AS number")
            }
            fn visit_u64<E>(self, n: u64) -> Result<AsNumber, E> {
                Ok(AsNumber(u32::try_from(n).ok()))
            }
            fn visit_u128<E>(self, n: u128) -> Result<AsNumber, E> {
                Ok(AsNumber(u32::try_from(n).ok()))
            }
            fn visit_i64<E>(self, n: i64) -> Result<AsNumber, E> {
                Ok(AsNumber(u32::try_from(n).ok()))
            }
            fn visit_str<E>(self, s: &str) -> Result<AsNumber, E> {
                let s = s.trim();
                let digits = s.strip_prefix("AS").or_else(|| s.strip_prefix("as")).unwrap_or(s);
                Ok(AsNumber(digits.parse().ok()))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}
