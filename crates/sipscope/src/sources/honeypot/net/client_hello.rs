//! What the first bytes sent to a TLS listener say about the client, for the record of a
//! failed handshake: a TLS ClientHello's versions and server name (SNI), an SSLv2-format
//! hello, or neither. Scanners probe TLS ports with exactly these, so they are evidence. A
//! pure function of the bytes; never fails, however short or hostile they are.

use crate::event::fields::lossless_text;

/// A version number as TLS writes it.
fn version_name(v: u16) -> String {
    match v {
        0x0002 => "SSL 2.0".into(),
        0x0300 => "SSL 3.0".into(),
        0x0301 => "TLS 1.0".into(),
        0x0302 => "TLS 1.1".into(),
        0x0303 => "TLS 1.2".into(),
        0x0304 => "TLS 1.3".into(),
        // RFC 8701: reserved values clients send to keep servers tolerant.
        v if v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff => "GREASE".into(),
        v => format!("0x{v:04x}"),
    }
}

/// A reader over bytes that answers `None` past their end.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    fn u24(&mut self) -> Option<usize> {
        self.take(3).map(|b| usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]))
    }
    /// A length-prefixed vector; cut short to what is there when the bytes end.
    fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = usize::from(self.u8()?);
        Some(self.take(n).unwrap_or_else(|| std::mem::take(&mut self.0)))
    }
    fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = usize::from(self.u16()?);
        Some(self.take(n).unwrap_or_else(|| std::mem::take(&mut self.0)))
    }
}

/// What a ClientHello offered, as far as its bytes go.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Hello {
    /// SSLv2 record format (an old client or a scanner checking for SSLv2).
    pub sslv2: bool,
    /// The record layer's version (TLS only).
    pub record_version: Option<u16>,
    /// The hello's own (legacy) version.
    pub client_version: Option<u16>,
    /// The `supported_versions` extension (TLS 1.3 clients).
    pub supported_versions: Vec<u16>,
    /// The server name asked for, as sent.
    pub server_name: Option<Vec<u8>>,
    /// The hello is shorter than its length says (cut off, or only its first part came).
    pub truncated: bool,
}

/// Reads a ClientHello from the first bytes of a connection; `None` when they are not one.
pub fn parse(bytes: &[u8]) -> Option<Hello> {
    let first = *bytes.first()?;
    if first & 0x80 != 0 {
        return sslv2(bytes);
    }
    let mut c = Cursor(bytes);
    // A handshake record: type 22, version, length.
    if c.u8()? != 22 {
        return None;
    }
    let record_version = c.u16()?;
    if record_version >> 8 != 3 {
        return None;
    }
    let record_len = usize::from(c.u16()?);
    let mut hello = Hello { record_version: Some(record_version), ..Hello::default() };
    let fragment = c.take(record_len).unwrap_or_else(|| {
        hello.truncated = true;
        c.0
    });
    let mut h = Cursor(fragment);
    if h.u8()? != 1 {
        return None;
    }
    let len = h.u24()?;
    if h.0.len() < len {
        hello.truncated = true;
    }
    let mut body = Cursor(h.0.get(..len).unwrap_or(h.0));
    // What follows may be cut anywhere: keep what was read.
    let _ = read_body(&mut body, &mut hello);
    Some(hello)
}

fn read_body(c: &mut Cursor<'_>, hello: &mut Hello) -> Option<()> {
    hello.client_version = Some(c.u16()?);
    c.take(32)?; // random
    c.vec8()?; // session id
    c.vec16()?; // cipher suites
    c.vec8()?; // compression methods
    let mut extensions = Cursor(c.vec16()?);
    while !extensions.0.is_empty() {
        let kind = extensions.u16()?;
        let mut data = Cursor(extensions.vec16()?);
        match kind {
            // server_name: a list of (type, name); host names are type 0.
            0 => {
                let mut list = Cursor(data.vec16()?);
                while let Some(name_type) = list.u8() {
                    let name = list.vec16()?;
                    if name_type == 0 && hello.server_name.is_none() {
                        hello.server_name = Some(name.to_vec());
                    }
                }
            }
            // supported_versions.
            43 => {
                let mut list = Cursor(data.vec8()?);
                while let Some(v) = list.u16() {
                    hello.supported_versions.push(v);
                }
            }
            _ => {}
        }
    }
    Some(())
}

/// The SSLv2 record format: a two-byte length with the high bit set, then CLIENT-HELLO (1)
/// and the highest version the client speaks (a TLS client still sends it this way to talk
/// to SSLv2 servers).
fn sslv2(bytes: &[u8]) -> Option<Hello> {
    let mut c = Cursor(bytes);
    let len = usize::from(c.u16()? & 0x7fff);
    if c.u8()? != 1 {
        return None;
    }
    let version = c.u16()?;
    Some(Hello { sslv2: true, client_version: Some(version), truncated: c.0.len() + 1 + 2 < len, ..Hello::default() })
}

/// A line for the record: what the hello offered, or that the bytes are not TLS.
pub fn describe(bytes: &[u8]) -> String {
    let Some(h) = parse(bytes) else {
        return format!("not a TLS ClientHello ({} bytes)", bytes.len());
    };
    let mut out = String::from(if h.sslv2 { "SSLv2-format ClientHello" } else { "TLS ClientHello" });
    if h.truncated {
        out.push_str(" (truncated)");
    }
    if let Some(v) = h.record_version {
        out.push_str(&format!(", record {}", version_name(v)));
    }
    if let Some(v) = h.client_version {
        out.push_str(&format!(", version {}", version_name(v)));
    }
    if !h.supported_versions.is_empty() {
        let names: Vec<String> = h.supported_versions.iter().map(|v| version_name(*v)).collect();
        out.push_str(&format!(", supported_versions {}", names.join(" ")));
    }
    if let Some(name) = &h.server_name {
        // Attacker text: lossless here, escaped by every output that shows it.
        out.push_str(&format!(", SNI {:?}", lossless_text(name)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TLS 1.3-style ClientHello for `sni`, built field by field.
    pub(crate) fn client_hello(sni: &str) -> Vec<u8> {
        let mut ext = Vec::new();
        let name = sni.as_bytes();
        let mut sn = vec![0u8];
        sn.extend((name.len() as u16).to_be_bytes());
        sn.extend(name);
        let mut sn_ext = (sn.len() as u16).to_be_bytes().to_vec();
        sn_ext.extend(sn);
        ext.extend(0u16.to_be_bytes());
        ext.extend((sn_ext.len() as u16).to_be_bytes());
        ext.extend(sn_ext);
        ext.extend(43u16.to_be_bytes());
        ext.extend(7u16.to_be_bytes());
        ext.extend([6, 0x1a, 0x1a, 0x03, 0x04, 0x03, 0x03]);
        let mut body = vec![0x03, 0x03];
        body.extend([7u8; 32]);
        body.push(0); // session id
        body.extend([0, 2, 0x13, 0x01]); // one cipher suite
        body.extend([1, 0]); // null compression
        body.extend((ext.len() as u16).to_be_bytes());
        body.extend(ext);
        let mut hs = vec![1u8];
        hs.extend(&(body.len() as u32).to_be_bytes()[1..]);
        hs.extend(body);
        let mut rec = vec![22u8, 3, 1];
        rec.extend((hs.len() as u16).to_be_bytes());
        rec.extend(hs);
        rec
    }

    #[test]
    fn a_client_hello_gives_its_versions_and_server_name() {
        let h = parse(&client_hello("pbx.example")).unwrap();
        assert_eq!(h.server_name.as_deref(), Some(&b"pbx.example"[..]));
        assert_eq!(h.supported_versions, [0x1a1a, 0x0304, 0x0303]);
        assert!(!h.truncated);
        assert_eq!(
            describe(&client_hello("pbx.example")),
            "TLS ClientHello, record TLS 1.0, version TLS 1.2, supported_versions GREASE TLS 1.3 TLS 1.2, SNI \"pbx.example\""
        );
    }

    #[test]
    fn a_truncated_hello_says_so_and_keeps_what_came() {
        let full = client_hello("pbx.example");
        let h = parse(&full[..60]).unwrap();
        assert!(h.truncated);
        assert_eq!(h.client_version, Some(0x0303));
        assert_eq!(h.server_name, None);
        // Cut at every length: never a panic.
        for n in 0..full.len() {
            let _ = describe(&full[..n]);
        }
    }

    #[test]
    fn sslv2_plaintext_and_random_bytes() {
        // An SSLv2-format CLIENT-HELLO offering TLS 1.0 (what `openssl s_client -ssl2` and
        // old scanners send).
        let v2 = [0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10];
        assert_eq!(describe(&v2), "SSLv2-format ClientHello (truncated), version TLS 1.0");
        assert_eq!(describe(b"OPTIONS sip:a SIP/2.0\r\n"), "not a TLS ClientHello (23 bytes)");
        assert_eq!(describe(&[0x16, 0x03]), "not a TLS ClientHello (2 bytes)");
        assert!(parse(&[0xff; 64]).is_none());
    }
}
