//! The readable text of a fingerprint and its id.

use super::{Fingerprint, KeyFingerprint};
use sha2::{Digest, Sha256};

impl Fingerprint {
    /// The readable fingerprint, one `key:value` per line like the paper's NMap example:
    /// `start:` (methods, Request-URI), then every key sorted by name (so the text does not
    /// depend on header order), then `order:` (the names as written, in merged order, `?` after
    /// a key some packets lacked), and `same:ip`, `same:port` or `same:ip,port` when
    /// [`Fingerprint::same_ip`] / [`Fingerprint::same_port`]. Placeholders are
    /// [`super::PLACEHOLDER`]; counters are left out, so flows of one tool of any length share the
    /// text.
    pub fn text(&self) -> String {
        let methods: Vec<&str> = self.methods().collect();
        let mut out = format!("start:{}", methods.join(","));
        if self.request_uri.present() > 0 {
            out.push(' ');
            out.push_str(&self.request_uri.text());
        }
        out.push('\n');
        let mut sorted: Vec<&KeyFingerprint> = self.keys.iter().collect();
        sorted.sort_by(|a, b| a.key.cmp(&b.key));
        for k in sorted {
            out.push_str(&k.key);
            out.push(':');
            out.push_str(&k.value.text());
            out.push('\n');
        }
        let order: Vec<String> = self
            .keys
            .iter()
            .map(|k| format!("{}{}", k.name.text(), if k.value.present() < self.packets { "?" } else { "" }))
            .collect();
        out.push_str("order:");
        out.push_str(&order.join(","));
        out.push('\n');
        // The tokens mean something else then (the matcher reads DestIP as SourceIP), so two
        // flows with one text must not differ here.
        let same: Vec<&str> = [(self.same_ip, "ip"), (self.same_port, "port")]
            .into_iter()
            .filter_map(|(set, what)| set.then_some(what))
            .collect();
        if !same.is_empty() {
            out.push_str(&format!("same:{}\n", same.join(",")));
        }
        out
    }

    /// A stable short id: the first 16 hex digits of the SHA-256 of [`Fingerprint::text`].
    pub fn id(&self) -> String {
        Fingerprint::id_of_text(&self.text())
    }

    /// [`Fingerprint::id`] from the text already made.
    pub fn id_of_text(text: &str) -> String {
        Fingerprint::id_text(Fingerprint::id_bits_of_text(text))
    }

    /// [`Fingerprint::id_of_text`] as a number: the first 8 bytes of the SHA-256, big-endian
    /// (tables key by it; the id is its 16 hex digits).
    pub fn id_bits_of_text(text: &str) -> u64 {
        let digest = Sha256::digest(text.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(first)
    }

    /// The id of [`Fingerprint::id_bits_of_text`].
    pub fn id_text(bits: u64) -> String {
        format!("{bits:016x}")
    }
}
