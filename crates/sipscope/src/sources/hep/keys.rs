//! The keys file of `sipscope hep --keys FILE`: which capture nodes may send, the key each
//! sends in its auth chunk, and the sensor name its events are stored under.
//!
//! ```toml
//! [[node]]
//! sensor = "edge-1"      # stored as the events' sensor
//! id = 2001              # capture node id (chunk 0x000c) …
//! name = "kamailio-edge" # … and/or capture node name (chunk 0x0013)
//! key = "long random"    # the auth key (chunk 0x000e)
//! ```
//!
//! A node is found by its id first, then by its name; its key is compared in constant time
//! (`subtle`), so the time a wrong key takes does not say how much of it was right.

use std::collections::HashMap;
use std::path::Path;
use subtle::ConstantTimeEq;

/// A keys file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// Reading the file.
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    /// Its TOML or its fields.
    #[error("{0}: {1}")]
    Invalid(String, String),
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    node: Vec<Entry>,
}

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    sensor: String,
    id: Option<u32>,
    name: Option<String>,
    key: String,
}

/// Why a packet was not accepted as coming from a known node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// It carried no auth key chunk.
    NoKey,
    /// Neither its capture id nor its name is in the keys file.
    UnknownNode,
    /// The key does not match the node's.
    WrongKey,
}

/// The keys of every node allowed to send.
#[derive(Debug, Clone, Default)]
pub struct Keys {
    nodes: Vec<Entry>,
    by_id: HashMap<u32, usize>,
    by_name: HashMap<Vec<u8>, usize>,
}

/// Shortest key accepted: a short key can be guessed over the network.
pub const MIN_KEY_BYTES: usize = 16;

impl Keys {
    /// Reads and checks a keys file.
    pub fn load(path: &Path) -> Result<Keys, KeysError> {
        let text = std::fs::read_to_string(path).map_err(|e| KeysError::Io(path.display().to_string(), e))?;
        Keys::parse(&text).map_err(|e| KeysError::Invalid(path.display().to_string(), e))
    }

    /// Parses the TOML of a keys file.
    pub fn parse(text: &str) -> Result<Keys, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut keys = Keys::default();
        for (i, entry) in file.node.into_iter().enumerate() {
            let which = format!("node {} ({:?})", i + 1, entry.sensor);
            if entry.id.is_none() && entry.name.is_none() {
                return Err(format!("{which}: needs an id or a name"));
            }
            if entry.key.len() < MIN_KEY_BYTES {
                return Err(format!("{which}: a key of at least {MIN_KEY_BYTES} bytes"));
            }
            if entry.sensor.is_empty() || entry.sensor.chars().any(char::is_control) {
                return Err(format!("{which}: a sensor name without control characters"));
            }
            if let Some(id) = entry.id {
                if keys.by_id.insert(id, i).is_some() {
                    return Err(format!("{which}: id {id} listed twice"));
                }
            }
            if let Some(name) = &entry.name {
                if keys.by_name.insert(name.as_bytes().to_vec(), i).is_some() {
                    return Err(format!("{which}: name {name:?} listed twice"));
                }
            }
            keys.nodes.push(entry);
        }
        if keys.nodes.is_empty() {
            return Err("no [[node]] entries: nothing could send".into());
        }
        Ok(keys)
    }

    /// The sensor name of the node that sent `key` under capture id `id` or name `name`.
    pub fn check(&self, id: Option<u32>, name: Option<&[u8]>, key: Option<&[u8]>) -> Result<&str, Refusal> {
        let key = key.ok_or(Refusal::NoKey)?;
        let index = id.and_then(|id| self.by_id.get(&id)).or_else(|| name.and_then(|n| self.by_name.get(n)));
        let entry = index.and_then(|&i| self.nodes.get(i)).ok_or(Refusal::UnknownNode)?;
        // `ct_eq` on slices of different lengths is false without comparing: the length of a
        // key is not the secret, its bytes are.
        if bool::from(entry.key.as_bytes().ct_eq(key)) {
            Ok(&entry.sensor)
        } else {
            Err(Refusal::WrongKey)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[[node]]
sensor = "edge-1"
id = 2001
key = "0123456789abcdef-1"

[[node]]
sensor = "edge-2"
name = "kamailio-2"
key = "0123456789abcdef-2"
"#;

    #[test]
    fn nodes_are_found_by_id_or_name_and_keys_must_match() {
        let keys = Keys::parse(FILE).unwrap();
        assert_eq!(keys.check(Some(2001), None, Some(b"0123456789abcdef-1")), Ok("edge-1"));
        assert_eq!(keys.check(None, Some(b"kamailio-2"), Some(b"0123456789abcdef-2")), Ok("edge-2"));
        // An unknown id falls back to the name.
        assert_eq!(keys.check(Some(9), Some(b"kamailio-2"), Some(b"0123456789abcdef-2")), Ok("edge-2"));
        // Node 1's key does not open node 2.
        assert_eq!(keys.check(None, Some(b"kamailio-2"), Some(b"0123456789abcdef-1")), Err(Refusal::WrongKey));
        assert_eq!(keys.check(Some(2001), None, Some(b"0123456789abcdef-")), Err(Refusal::WrongKey));
        assert_eq!(keys.check(Some(2001), None, Some(b"")), Err(Refusal::WrongKey));
        assert_eq!(keys.check(Some(2001), None, None), Err(Refusal::NoKey));
        assert_eq!(keys.check(Some(7), Some(b"x\xff"), Some(b"0123456789abcdef-1")), Err(Refusal::UnknownNode));
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let short = "[[node]]\nsensor = \"a\"\nid = 1\nkey = \"short\"\n";
        assert!(Keys::parse(short).unwrap_err().contains("at least 16"));
        let anonymous = "[[node]]\nsensor = \"a\"\nkey = \"0123456789abcdef\"\n";
        assert!(Keys::parse(anonymous).unwrap_err().contains("id or a name"));
        let twice = "[[node]]\nsensor = \"a\"\nid = 1\nkey = \"0123456789abcdef\"\n[[node]]\nsensor = \"b\"\nid = 1\nkey = \"0123456789abcdef\"\n";
        assert!(Keys::parse(twice).unwrap_err().contains("listed twice"));
        assert!(Keys::parse("").unwrap_err().contains("no [[node]]"));
        assert!(Keys::parse("[[node]]\nsensor = \"a\"\nid = 1\nkey = \"0123456789abcdef\"\nextra = 1\n").is_err());
        let control = "[[node]]\nsensor = \"a\\u001b[2J\"\nid = 1\nkey = \"0123456789abcdef\"\n";
        assert!(Keys::parse(control).unwrap_err().contains("control"));
    }
}
