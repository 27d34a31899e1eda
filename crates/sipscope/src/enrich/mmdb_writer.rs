//! For tests and examples: writes small MaxMind DB (`.mmdb`) files, so that tests can build the
//! country and ASN databases they look addresses up in instead of shipping real ones.
//!
//! It follows the MaxMind DB format 2.0: a binary search tree of 24-, 28- or 32-bit records,
//! 16 zero bytes, a data section in the MaxMind type encoding (identical values are stored once),
//! then `\xAB\xCD\xEFMaxMind.com` and the metadata map. IPv4 networks in an IPv6 database are
//! stored under `::/96`, where readers look for them. A network inserted later replaces what it
//! covers; a more specific one inserted after a broader one splits it. No `::ffff:0:0/96` alias is
//! written. Meant for a few hundred networks, not for full-size databases.
//!
//! ```
//! use sipscope::enrich::mmdb_writer::{MmdbWriter, Value};
//! let mut w = MmdbWriter::new("GeoLite2-Country", 6);
//! w.insert("192.0.2.0/24", Value::map([("country", Value::map([("iso_code", Value::from("BR"))]))]));
//! let bytes = w.to_bytes();
//! assert!(maxminddb::Reader::from_source(bytes).is_ok());
//! ```

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

/// The fixed `build_epoch` written to the metadata, so that output is reproducible.
pub const BUILD_EPOCH: u64 = 1_700_000_000;

/// A value of the MaxMind DB data section.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// UTF-8 string (type 2).
    String(String),
    /// Double (type 3).
    Double(f64),
    /// Unsigned 16-bit integer (type 5).
    U16(u16),
    /// Unsigned 32-bit integer (type 6).
    U32(u32),
    /// Signed 32-bit integer (type 8).
    I32(i32),
    /// Unsigned 64-bit integer (type 9).
    U64(u64),
    /// Boolean (type 14).
    Bool(bool),
    /// Map with string keys, in this order (type 7).
    Map(Vec<(String, Value)>),
    /// Array (type 11).
    Array(Vec<Value>),
}

impl Value {
    /// A map from `(key, value)` pairs.
    pub fn map<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Map(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Rec {
    Empty,
    Node(usize),
    Data(usize),
}

/// Builds one database in memory; [`MmdbWriter::to_bytes`] or [`MmdbWriter::write`] emit it.
#[derive(Debug, Clone)]
pub struct MmdbWriter {
    database_type: String,
    ip_version: u16,
    record_size: u16,
    description: String,
    /// Networks as (address bits in the tree, prefix length in the tree, value).
    entries: Vec<(u128, u8, Value)>,
}

impl MmdbWriter {
    /// An empty database of this `database_type` (`"GeoLite2-Country"`, `"GeoLite2-ASN"`, …);
    /// `ip_version` 4 (IPv4 tree) or 6 (IPv6 tree, which can hold IPv4 networks too). 24-bit
    /// records.
    ///
    /// # Panics
    /// When `ip_version` is neither 4 nor 6.
    pub fn new(database_type: &str, ip_version: u16) -> MmdbWriter {
        assert!(ip_version == 4 || ip_version == 6, "ip_version must be 4 or 6, not {ip_version}");
        MmdbWriter {
            database_type: database_type.to_owned(),
            ip_version,
            record_size: 24,
            description: format!("{database_type} test database"),
            entries: Vec::new(),
        }
    }

    /// Use 24-, 28- or 32-bit records.
    ///
    /// # Panics
    /// For any other size.
    pub fn record_size(mut self, bits: u16) -> MmdbWriter {
        assert!(matches!(bits, 24 | 28 | 32), "record size must be 24, 28 or 32, not {bits}");
        self.record_size = bits;
        self
    }

    /// The English description in the metadata.
    pub fn description(mut self, text: &str) -> MmdbWriter {
        self.description = text.to_owned();
        self
    }

    /// Map the network `cidr` (`"192.0.2.0/24"`, `"2001:db8::/32"`; host bits are ignored) to
    /// `value`.
    ///
    /// # Panics
    /// When `cidr` is malformed, covers the whole tree (`/0`), or is IPv6 in an IPv4 database.
    pub fn insert(&mut self, cidr: &str, value: Value) -> &mut MmdbWriter {
        let parsed = cidr.split_once('/').and_then(|(a, l)| Some((a.parse::<IpAddr>().ok()?, l.parse::<u8>().ok()?)));
        let Some((addr, len)) = parsed else { panic!("not a network: {cidr:?}") };
        let (bits, len, width) = match (addr, self.ip_version) {
            // Tree bits are read from the most significant bit: an IPv4 tree keeps the address on top.
            (IpAddr::V4(a), 4) => (u128::from(u32::from(a)) << 96, len, 32),
            (IpAddr::V4(a), _) => (u128::from(u32::from(a)), len.saturating_add(96), 128),
            (IpAddr::V6(a), 6) => (u128::from(a), len, 128),
            (IpAddr::V6(_), _) => panic!("IPv6 network {cidr} in an IPv4 database"),
        };
        assert!(len >= 1 && len <= width, "prefix length out of range in {cidr}");
        self.entries.push((bits, len, value));
        self
    }

    /// The whole file.
    ///
    /// # Panics
    /// When the database is too large for the record size.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Data section: each distinct encoded value once.
        let mut data = Vec::new();
        let mut offsets: HashMap<Vec<u8>, usize> = HashMap::new();
        // Tree as nodes of two records; node 0 is the root.
        let mut nodes: Vec<[Rec; 2]> = vec![[Rec::Empty; 2]];
        for (bits, len, value) in &self.entries {
            let mut encoded = Vec::new();
            encode(&mut encoded, value);
            let offset = *offsets.entry(encoded).or_insert_with_key(|e| {
                data.extend_from_slice(e);
                data.len() - e.len()
            });
            let mut node = 0;
            for depth in 0..*len {
                let side = ((bits >> (127 - depth)) & 1) as usize;
                if depth + 1 == *len {
                    nodes[node][side] = Rec::Data(offset);
                    break;
                }
                node = match nodes[node][side] {
                    Rec::Node(next) => next,
                    // Splitting a broader network: both halves keep its value.
                    other => {
                        nodes.push([other; 2]);
                        nodes[node][side] = Rec::Node(nodes.len() - 1);
                        nodes.len() - 1
                    }
                };
            }
        }
        // Number the nodes still reachable from the root (replaced subtrees drop out).
        let mut order = vec![0usize];
        let mut number = HashMap::from([(0usize, 0usize)]);
        let mut i = 0;
        while i < order.len() {
            for rec in nodes[order[i]] {
                if let Rec::Node(n) = rec {
                    number.insert(n, order.len());
                    order.push(n);
                }
            }
            i += 1;
        }
        let node_count = order.len();
        let limit = 1u64 << self.record_size;
        assert!(
            ((node_count + 16 + data.len()) as u64) < limit,
            "database too large for {}-bit records",
            self.record_size
        );
        let value_of = |rec: Rec| -> u32 {
            match rec {
                Rec::Empty => node_count as u32,
                Rec::Node(n) => number[&n] as u32,
                Rec::Data(offset) => (node_count + 16 + offset) as u32,
            }
        };
        let mut out = Vec::with_capacity(node_count * usize::from(self.record_size) / 4 + data.len() + 256);
        for &n in &order {
            let [l, r] = nodes[n].map(value_of);
            match self.record_size {
                24 => {
                    out.extend_from_slice(&l.to_be_bytes()[1..]);
                    out.extend_from_slice(&r.to_be_bytes()[1..]);
                }
                28 => {
                    out.extend_from_slice(&l.to_be_bytes()[1..]);
                    out.push((((l >> 24) & 0x0f) << 4) as u8 | ((r >> 24) & 0x0f) as u8);
                    out.extend_from_slice(&r.to_be_bytes()[1..]);
                }
                _ => {
                    out.extend_from_slice(&l.to_be_bytes());
                    out.extend_from_slice(&r.to_be_bytes());
                }
            }
        }
        out.extend_from_slice(&[0u8; 16]);
        out.extend_from_slice(&data);
        out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
        let metadata = Value::map([
            ("node_count", Value::U32(node_count as u32)),
            ("record_size", Value::U16(self.record_size)),
            ("ip_version", Value::U16(self.ip_version)),
            ("database_type", Value::from(self.database_type.as_str())),
            ("languages", Value::Array(vec![Value::from("en")])),
            ("binary_format_major_version", Value::U16(2)),
            ("binary_format_minor_version", Value::U16(0)),
            ("build_epoch", Value::U64(BUILD_EPOCH)),
            ("description", Value::map([("en", Value::from(self.description.as_str()))])),
        ]);
        encode(&mut out, &metadata);
        out
    }

    /// Write the file to `path`.
    pub fn write(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        std::fs::write(path, self.to_bytes())
    }
}

/// A control byte (and extended type and size bytes) for a value of `type_num` and `size`.
fn control(out: &mut Vec<u8>, type_num: u8, size: usize) {
    let (size_bits, extra): (u8, Vec<u8>) = match size {
        0..29 => (size as u8, vec![]),
        29..285 => (29, vec![(size - 29) as u8]),
        285..65_821 => (30, ((size - 285) as u16).to_be_bytes().to_vec()),
        _ => (31, ((size - 65_821) as u32).to_be_bytes()[1..].to_vec()),
    };
    if type_num <= 7 {
        out.push(type_num << 5 | size_bits);
    } else {
        out.push(size_bits);
        out.push(type_num - 7);
    }
    out.extend_from_slice(&extra);
}

/// An unsigned integer as its big-endian bytes without leading zeros.
fn uint(out: &mut Vec<u8>, type_num: u8, bytes: &[u8]) {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    control(out, type_num, bytes.len() - start);
    out.extend_from_slice(&bytes[start..]);
}

fn encode(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::String(s) => {
            control(out, 2, s.len());
            out.extend_from_slice(s.as_bytes());
        }
        Value::Double(d) => {
            control(out, 3, 8);
            out.extend_from_slice(&d.to_be_bytes());
        }
        Value::U16(n) => uint(out, 5, &n.to_be_bytes()),
        Value::U32(n) => uint(out, 6, &n.to_be_bytes()),
        Value::I32(n) => {
            control(out, 8, 4);
            out.extend_from_slice(&n.to_be_bytes());
        }
        Value::U64(n) => uint(out, 9, &n.to_be_bytes()),
        Value::Bool(b) => control(out, 14, usize::from(*b)),
        Value::Map(pairs) => {
            control(out, 7, pairs.len());
            for (key, value) in pairs {
                control(out, 2, key.len());
                out.extend_from_slice(key.as_bytes());
                encode(out, value);
            }
        }
        Value::Array(items) => {
            control(out, 11, items.len());
            for item in items {
                encode(out, item);
            }
        }
    }
}
