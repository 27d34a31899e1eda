//! Enrichment and the MMDB writer, on databases the tests build themselves.

use super::mmdb_writer::{MmdbWriter, Value};
use super::*;
use std::net::{Ipv4Addr, Ipv6Addr};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn geo(country: Option<&str>, asn: Option<u32>, org: Option<&str>) -> Geo {
    Geo { country: country.map(str::to_owned), asn, as_org: org.map(str::to_owned) }
}

/// A GeoLite2-Country-like record (with the names and ids real files carry).
fn maxmind_country(code: &str) -> Value {
    Value::map([
        ("continent", Value::map([("code", Value::from("EU")), ("geoname_id", Value::U32(6255148))])),
        (
            "country",
            Value::map([
                ("geoname_id", Value::U32(2750405)),
                ("is_in_european_union", Value::Bool(true)),
                ("iso_code", Value::from(code)),
                ("names", Value::map([("en", Value::from("Somewhere")), ("de", Value::from("Irgendwo"))])),
            ]),
        ),
        ("registered_country", Value::map([("iso_code", Value::from(code))])),
    ])
}

fn asn_record(number: Value, org: &str) -> Value {
    Value::map([("autonomous_system_number", number), ("autonomous_system_organization", Value::from(org))])
}

/// GeoLite2-Country layout in an IPv6 tree: IPv4 and IPv6 networks.
fn geolite_country() -> MmdbWriter {
    let mut w = MmdbWriter::new("GeoLite2-Country", 6);
    w.insert("192.0.2.0/24", maxmind_country("BR"))
        // Only the registered country, as for some anycast and satellite networks.
        .insert("198.51.100.0/24", Value::map([("registered_country", Value::map([("iso_code", Value::from("DE"))]))]))
        .insert("2001:db8::/32", maxmind_country("NL"));
    w
}

/// GeoLite2-ASN layout in an IPv6 tree with 28-bit records.
fn geolite_asn() -> MmdbWriter {
    let mut w = MmdbWriter::new("GeoLite2-ASN", 6).record_size(28);
    w.insert("192.0.2.0/24", asn_record(Value::U32(64500), "Example Net"))
        .insert("198.51.100.0/25", asn_record(Value::U32(64501), "Other Net"))
        .insert("2001:db8::/32", asn_record(Value::U32(64500), "Example Net"));
    w
}

struct Files {
    _dir: tempfile::TempDir,
    config: GeoConfig,
}

fn files(country: &MmdbWriter, asn: &MmdbWriter) -> Files {
    let dir = tempfile::tempdir().unwrap();
    let (c, a) = (dir.path().join("country.mmdb"), dir.path().join("asn.mmdb"));
    country.write(&c).unwrap();
    asn.write(&a).unwrap();
    Files { _dir: dir, config: GeoConfig { country_db: Some(c), asn_db: Some(a) } }
}

#[test]
fn maxmind_layout_hits_and_misses() {
    let f = files(&geolite_country(), &geolite_asn());
    let e = Enricher::open(&f.config).unwrap();
    assert!(e.has_country_db() && e.has_asn_db());
    assert_eq!(e.lookup(ip("192.0.2.7")), geo(Some("BR"), Some(64500), Some("Example Net")));
    // registered_country when country is absent; the ASN covers only the lower half.
    assert_eq!(e.lookup(ip("198.51.100.1")), geo(Some("DE"), Some(64501), Some("Other Net")));
    assert_eq!(e.lookup(ip("198.51.100.200")), geo(Some("DE"), None, None));
    assert_eq!(e.lookup(ip("2001:db8:1::5")), geo(Some("NL"), Some(64500), Some("Example Net")));
    // IPv4-mapped IPv6 is looked up as IPv4.
    assert_eq!(e.lookup(ip("::ffff:192.0.2.7")), e.lookup(ip("192.0.2.7")));
    for miss in ["203.0.113.9", "192.0.3.1", "10.0.0.1", "2001:db9::1", "::1", "0.0.0.0", "255.255.255.255"] {
        assert_eq!(e.lookup(ip(miss)), Geo::default(), "{miss}");
    }
}

#[test]
fn ip_location_db_layout_ipv4_and_ipv6_files() {
    // sapics/ip-location-db: one IPv4 file and one IPv6 file per database, flat keys.
    let mut country4 = MmdbWriter::new("country ipv4", 4);
    country4.insert("192.0.2.0/24", Value::map([("country_code", Value::from("BR"))]));
    country4.insert("198.51.100.0/24", Value::map([("country_code", Value::from("DE"))]));
    let mut asn4 = MmdbWriter::new("asn ipv4", 4).record_size(32);
    asn4.insert("192.0.2.0/24", asn_record(Value::U32(64500), "Example Net"));
    let f = files(&country4, &asn4);
    let e = Enricher::open(&f.config).unwrap();
    assert_eq!(e.lookup(ip("192.0.2.1")), geo(Some("BR"), Some(64500), Some("Example Net")));
    assert_eq!(e.lookup(ip("198.51.100.9")), geo(Some("DE"), None, None));
    // IPv6 in an IPv4-only file: unknown, not an error.
    assert_eq!(e.lookup(ip("2001:db8::1")), Geo::default());

    let mut country6 = MmdbWriter::new("country ipv6", 6);
    country6.insert("2001:db8::/32", Value::map([("country_code", Value::from("NL"))]));
    let mut asn6 = MmdbWriter::new("asn ipv6", 6);
    asn6.insert("2001:db8::/32", asn_record(Value::U32(64500), "Example Net"));
    let f = files(&country6, &asn6);
    let e = Enricher::open(&f.config).unwrap();
    assert_eq!(e.lookup(ip("2001:db8::1")), geo(Some("NL"), Some(64500), Some("Example Net")));
    assert_eq!(e.lookup(ip("192.0.2.1")), Geo::default());
}

#[test]
fn ipv4_in_an_ipv6_file_under_both_placements() {
    // Under ::/96 (where MaxMind puts IPv4) and only under ::ffff:0:0/96 (some writers).
    let mut w = MmdbWriter::new("country", 6);
    w.insert("192.0.2.0/24", Value::map([("country_code", Value::from("BR"))]));
    w.insert("::ffff:198.51.100.0/120", Value::map([("country_code", Value::from("DE"))]));
    let f = files(&w, &MmdbWriter::new("asn", 6));
    let e = Enricher::open(&f.config).unwrap();
    assert_eq!(e.lookup(ip("192.0.2.1")).country.as_deref(), Some("BR"));
    assert_eq!(e.lookup(ip("198.51.100.1")).country.as_deref(), Some("DE"));
    assert_eq!(e.lookup(ip("203.0.113.1")), Geo::default());
}

#[test]
fn combined_file_serves_both_and_values_are_normalised() {
    // One file with country and AS (as some builders make), named as country_db only.
    let mut w = MmdbWriter::new("country-asn", 6);
    let rec = |cc: &str, asn: Value, org: &str| {
        Value::map([
            ("country", Value::map([("iso_code", Value::from(cc))])),
            ("autonomous_system_number", asn),
            ("autonomous_system_organization", Value::from(org)),
        ])
    };
    w.insert("192.0.2.0/26", rec(" br", Value::U16(64500), " Example Net "))
        .insert("192.0.2.64/26", rec("ZZ", Value::U32(0), "Not routed"))
        .insert("192.0.2.128/26", rec("B1", Value::from("AS64502"), ""))
        .insert("192.0.2.192/26", rec("DE", Value::U64(1 << 40), "Too big"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("both.mmdb");
    w.write(&path).unwrap();
    let e = Enricher::open(&GeoConfig { country_db: Some(path), asn_db: None }).unwrap();
    assert_eq!(e.lookup(ip("192.0.2.1")), geo(Some("BR"), Some(64500), Some("Example Net")));
    assert_eq!(e.lookup(ip("192.0.2.65")), Geo::default());
    assert_eq!(e.lookup(ip("192.0.2.129")), geo(None, Some(64502), None));
    assert_eq!(e.lookup(ip("192.0.2.193")), geo(Some("DE"), None, None));
}

#[test]
fn without_databases_everything_is_unknown() {
    fn shared<T: Send + Sync>() {}
    shared::<Enricher>();
    let e = Enricher::none();
    assert!(!e.has_country_db() && !e.has_asn_db());
    let g = e.lookup(ip("192.0.2.7"));
    assert_eq!(g, Geo::default());
    assert_eq!((g.country_or_unknown(), g.asn_or_unknown().as_str()), ("unknown", "unknown"));
    let e = Enricher::open(&GeoConfig::default()).unwrap();
    assert_eq!(e.lookup(ip("2001:db8::1")), Geo::default());
    let g = geo(Some("BR"), Some(64500), Some("Example Net"));
    assert_eq!((g.country_or_unknown(), g.asn_or_unknown().as_str()), ("BR", "AS64500"));
}

#[test]
fn missing_and_corrupt_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.mmdb");
    geolite_country().write(&good).unwrap();
    let open = |country: &Path, asn: &Path| {
        Enricher::open(&GeoConfig { country_db: Some(country.to_owned()), asn_db: Some(asn.to_owned()) })
            .unwrap_err()
            .to_string()
    };

    let missing = dir.path().join("missing.mmdb");
    let msg = open(&missing, &good);
    assert!(msg.starts_with(&format!("country_db {}: cannot read: ", missing.display())), "{msg}");

    let garbage = dir.path().join("garbage.mmdb");
    std::fs::write(&garbage, b"<html>404 Not Found</html>").unwrap();
    let msg = open(&good, &garbage);
    assert!(msg.starts_with(&format!("asn_db {}: not a usable MaxMind DB (.mmdb) file: ", garbage.display())), "{msg}");

    // A download cut short loses the metadata at the end.
    let bytes = geolite_asn().to_bytes();
    let truncated = dir.path().join("truncated.mmdb");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let msg = open(&good, &truncated);
    assert!(msg.contains("truncated.mmdb: not a usable MaxMind DB"), "{msg}");

    // The metadata claims more nodes than the file holds.
    let mut lying = bytes.clone();
    let at = lying.windows(10).position(|w| w == b"node_count").unwrap() + 10;
    lying[at + 1] = 0xff;
    let lying_path = dir.path().join("lying.mmdb");
    std::fs::write(&lying_path, &lying).unwrap();
    assert!(open(&good, &lying_path).contains("lying.mmdb: not a usable MaxMind DB"));

    let gz = dir.path().join("GeoLite2-ASN.tar.gz");
    std::fs::write(&gz, [0x1f, 0x8b, 8, 0, 0, 0, 0, 0]).unwrap();
    assert!(open(&good, &gz).contains("(it is gzip-compressed: extract the .mmdb first)"));
}

#[test]
fn a_damaged_record_is_unknown_not_a_panic() {
    let mut w = MmdbWriter::new("country", 4);
    w.insert("192.0.2.0/24", Value::map([("country_code", Value::from("BR"))]));
    w.insert("198.51.100.0/24", Value::map([("country_code", Value::from("DE"))]));
    let mut bytes = w.to_bytes();
    // The first record's map header becomes a pointer to nowhere.
    let data = bytes.windows(12).position(|x| x == b"country_code").unwrap() - 2;
    bytes[data] = 0x3f;
    bytes[data + 1] = 0xff;
    let raw = maxminddb::Reader::from_source(bytes.as_slice()).unwrap();
    assert!(raw.lookup(ip("192.0.2.1")).unwrap().decode::<serde_json::Value>().is_err());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.mmdb");
    std::fs::write(&path, &bytes).unwrap();
    let e = Enricher::open(&GeoConfig { country_db: Some(path), asn_db: None }).unwrap();
    assert_eq!(e.lookup(ip("192.0.2.1")), Geo::default());
    assert_eq!(e.lookup(ip("192.0.2.1")), Geo::default());
    assert_eq!(e.lookup(ip("198.51.100.1")).country.as_deref(), Some("DE"));
}

#[test]
fn geo_config_is_the_geo_table() {
    #[derive(Deserialize)]
    struct File {
        geo: GeoConfig,
    }
    let f: File =
        toml::from_str("[geo]\ncountry_db = \"GeoLite2-Country.mmdb\"\nasn_db = \"/var/lib/geo/asn.mmdb\"\n").unwrap();
    assert_eq!(f.geo.country_db.as_deref(), Some(Path::new("GeoLite2-Country.mmdb")));
    assert_eq!(f.geo.asn_db.as_deref(), Some(Path::new("/var/lib/geo/asn.mmdb")));
    let f: File = toml::from_str("[geo]\n").unwrap();
    assert_eq!(f.geo, GeoConfig::default());
    let err = toml::from_str::<File>("[geo]\ncity_db = \"x\"\n").err().unwrap().to_string();
    assert!(err.contains("city_db"), "{err}");
}

// The writer, checked against the maxminddb reader.

/// Deterministic pseudo-random numbers (a 64-bit LCG).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 11
    }
}

fn contains(net: (IpAddr, u8), addr: IpAddr) -> bool {
    let to_bits = |a: IpAddr| match a {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)) << 96, 32u32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    };
    let ((n, width), (a, width_a)) = (to_bits(net.0), to_bits(addr));
    let mask = if net.1 == 0 { 0 } else { u128::MAX << (128 - u32::from(net.1)) };
    width == width_a && n & mask == a & mask
}

#[test]
fn writer_matches_a_model_at_every_record_size() {
    for record_size in [24, 28, 32] {
        let mut rng = Lcg(u64::from(record_size));
        let mut w = MmdbWriter::new("model", 6).record_size(record_size);
        let mut nets = Vec::new();
        // Overlapping networks in a small space, so that later ones split and replace earlier.
        for i in 0..300u32 {
            let net = if rng.next() & 1 == 0 {
                let a = Ipv4Addr::from(0xc000_0200 | ((rng.next() as u32) & 0x0000_3fff) << 2);
                (IpAddr::V4(a), 16 + (rng.next() % 17) as u8)
            } else {
                let a = Ipv6Addr::new(0x2001, 0xdb8, (rng.next() % 4) as u16, (rng.next() % 4) as u16, 0, 0, 0, 0);
                (IpAddr::V6(a), 30 + (rng.next() % 35) as u8)
            };
            w.insert(&format!("{}/{}", net.0, net.1), Value::map([("i", Value::U32(i))]));
            nets.push(net);
        }
        let reader = maxminddb::Reader::from_source(w.to_bytes()).unwrap();
        reader.verify().unwrap();
        assert_eq!(reader.metadata().record_size, record_size);
        for _ in 0..2000 {
            let addr = if rng.next() & 1 == 0 {
                IpAddr::V4(Ipv4Addr::from(0xc000_0000 | (rng.next() as u32) & 0x00ff_ffff))
            } else {
                let r = rng.next();
                IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, (r % 4) as u16, (r >> 2) as u16 % 4, r as u16, 0, 0, 1))
            };
            let expected = nets.iter().rposition(|&n| contains(n, addr)).map(|i| i as u32);
            #[derive(Deserialize)]
            struct R {
                i: u32,
            }
            let got = reader.lookup(addr).unwrap().decode::<R>().unwrap().map(|r| r.i);
            assert_eq!(got, expected, "{addr} with {record_size}-bit records");
        }
    }
}

#[test]
fn writer_encodes_every_type_and_size() {
    let long = |n: usize| "x".repeat(n);
    let value = Value::map([
        ("s0", Value::from("")),
        ("s28", Value::String(long(28))),
        ("s29", Value::String(long(29))),
        ("s284", Value::String(long(284))),
        ("s285", Value::String(long(285))),
        ("s70000", Value::String(long(70_000))),
        ("d", Value::Double(-1.5)),
        ("u16", Value::U16(0)),
        ("u32", Value::U32(0x0102_0304)),
        ("u64", Value::U64(u64::MAX)),
        ("i32", Value::I32(-7)),
        ("t", Value::Bool(true)),
        ("f", Value::Bool(false)),
        ("a", Value::Array(vec![Value::U32(1), Value::from("two"), Value::map([("k", Value::from("v"))])])),
    ]);
    let mut w = MmdbWriter::new("types", 4).description("every type");
    w.insert("192.0.2.0/24", value);
    w.insert("198.51.100.0/24", Value::Map(vec![]));
    let reader = maxminddb::Reader::from_source(w.to_bytes()).unwrap();
    reader.verify().unwrap();
    let m = reader.metadata();
    assert_eq!((m.ip_version, m.database_type.as_str(), m.build_epoch), (4, "types", mmdb_writer::BUILD_EPOCH));
    assert_eq!(m.description.get("en").map(String::as_str), Some("every type"));
    let got: serde_json::Value = reader.lookup(ip("192.0.2.1")).unwrap().decode().unwrap().unwrap();
    let expected = serde_json::json!({
        "s0": "", "s28": long(28), "s29": long(29), "s284": long(284), "s285": long(285), "s70000": long(70_000),
        "d": -1.5, "u16": 0, "u32": 0x0102_0304, "u64": u64::MAX, "i32": -7, "t": true, "f": false,
        "a": [1, "two", {"k": "v"}],
    });
    assert_eq!(got, expected);
    let empty: serde_json::Value = reader.lookup(ip("198.51.100.1")).unwrap().decode().unwrap().unwrap();
    assert_eq!(empty, serde_json::json!({}));
    // Same input, same bytes; identical values stored once.
    let mut a = MmdbWriter::new("dedupe", 6);
    for net in ["192.0.2.0/24", "198.51.100.0/24", "2001:db8::/32"] {
        a.insert(net, maxmind_country("BR"));
    }
    let mut b = MmdbWriter::new("dedupe", 6);
    b.insert("192.0.2.0/24", maxmind_country("BR"));
    assert_eq!(a.to_bytes(), a.to_bytes());
    let data_len = |w: &MmdbWriter| {
        let bytes = w.to_bytes();
        let reader = maxminddb::Reader::from_source(bytes.as_slice()).unwrap();
        let tree = reader.metadata().node_count as usize * 6 + 16;
        bytes.windows(14).position(|x| x == b"\xAB\xCD\xEFMaxMind.com").unwrap() - tree
    };
    assert_eq!(data_len(&a), data_len(&b));
}

#[test]
fn writer_empty_database_is_valid() {
    let reader = maxminddb::Reader::from_source(MmdbWriter::new("empty", 6).to_bytes()).unwrap();
    reader.verify().unwrap();
    assert!(!reader.lookup(ip("192.0.2.1")).unwrap().has_data());
    assert!(!reader.lookup(ip("2001:db8::1")).unwrap().has_data());
}
