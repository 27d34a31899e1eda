//! The nodes file: which sensor node an event hit, shared by `ingest`, `capture` and the
//! honeypot. A node is known by the addresses it serves (inner destination addresses or CIDR
//! blocks) and, for remote nodes that forward through a tunnel, by its tunnel endpoint.
//!
//! A message belongs to the node whose end of it is the sensor's: the node a request reached and
//! the node an answer came from ([`Nodes::of_message`]).
//!
//! ```toml
//! [[node]]
//! name = "duisburg-01"
//! site = "Duisburg"
//! addresses = ["192.0.2.10", "198.51.100.0/28"]
//! tunnel = "203.0.113.5"
//! ```

use crate::event::fields::MessageKind;
use crate::event::Direction;
use serde::Deserialize;
use std::net::IpAddr;
use std::path::Path;

/// An address block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `192.0.2.0/24`, `2001:db8::/32`, or a bare address (a /32 or /128).
    pub fn parse(text: &str) -> Option<Cidr> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a.trim().parse::<IpAddr>().ok()?, Some(p.trim().parse::<u8>().ok()?)),
            None => (text.trim().parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Cidr { addr, prefix })
    }

    /// True when `ip` is inside the block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => prefix_eq(&net.octets(), &ip.octets(), self.prefix),
            (IpAddr::V6(net), IpAddr::V6(ip)) => prefix_eq(&net.octets(), &ip.octets(), self.prefix),
            _ => false,
        }
    }

    /// The address as written (not masked).
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }
}

impl std::fmt::Display for Cidr {
    /// `192.0.2.10` for a single address, `198.51.100.0/28` for a block.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let max = if self.addr.is_ipv4() { 32 } else { 128 };
        if self.prefix == max {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix)
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let full = usize::from(prefix / 8);
    let rest = prefix % 8;
    if a[..full] != b[..full] {
        return false;
    }
    rest == 0 || (a[full] ^ b[full]) >> (8 - rest) == 0
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NodesFile {
    #[serde(default)]
    node: Vec<NodeEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeEntry {
    name: String,
    #[serde(default)]
    site: Option<String>,
    #[serde(default)]
    addresses: Vec<String>,
    #[serde(default)]
    tunnel: Option<String>,
}

/// One node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Unique name.
    pub name: String,
    /// Site (city, data centre …), for reports.
    pub site: Option<String>,
    /// Addresses it serves.
    pub addresses: Vec<Cidr>,
    /// Its end of the tunnel to the central sensor, if it forwards through one.
    pub tunnel: Option<IpAddr>,
}

/// Why a nodes file was refused.
#[derive(Debug, thiserror::Error)]
pub enum NodesError {
    /// Unreadable.
    #[error("cannot read {path}: {cause}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error (in the message, not a `source`, so that a chain prints it once).
        cause: std::io::Error,
    },
    /// Not valid TOML for this format.
    #[error("{path}: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// What is wrong, from the TOML reader.
        message: String,
    },
    /// A value that is not an address or CIDR, or a duplicate name.
    #[error("{path}: node {node}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// The node.
        node: String,
        /// What is wrong.
        message: String,
    },
}

/// All nodes, with lookups by address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Nodes {
    nodes: Vec<Node>,
}

impl Nodes {
    /// Reads a nodes file.
    pub fn load(path: &Path) -> Result<Nodes, NodesError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|cause| NodesError::Read { path: shown.clone(), cause })?;
        Nodes::parse(&text, &shown)
    }

    /// Parses the TOML text of a nodes file (`origin` names it in errors).
    pub fn parse(text: &str, origin: &str) -> Result<Nodes, NodesError> {
        let file: NodesFile =
            toml::from_str(text).map_err(|e| NodesError::Syntax { path: origin.into(), message: e.to_string() })?;
        let mut nodes = Vec::with_capacity(file.node.len());
        for entry in file.node {
            let invalid =
                |message: String| NodesError::Invalid { path: origin.into(), node: entry.name.clone(), message };
            if nodes.iter().any(|n: &Node| n.name == entry.name) {
                return Err(invalid("duplicate node name".into()));
            }
            let mut addresses = Vec::new();
            for a in &entry.addresses {
                addresses.push(Cidr::parse(a).ok_or_else(|| invalid(format!("not an address or CIDR: {a:?}")))?);
            }
            let tunnel = match &entry.tunnel {
                Some(t) => Some(t.parse().map_err(|_| invalid(format!("tunnel is not an address: {t:?}")))?),
                None => None,
            };
            nodes.push(Node { name: entry.name, site: entry.site, addresses, tunnel });
        }
        Ok(Nodes { nodes })
    }

    /// Every node, in file order.
    pub fn all(&self) -> &[Node] {
        &self.nodes
    }

    /// The node an event belongs to: by tunnel endpoint first (either end of the outer
    /// header), then by the sensor-side address (destination of a received packet, source of
    /// a sent one) with the longest matching prefix.
    pub fn find(&self, tunnel: Option<(IpAddr, IpAddr)>, sensor_side: IpAddr) -> Option<&Node> {
        if let Some((a, b)) = tunnel {
            if let Some(node) = self.nodes.iter().find(|n| n.tunnel.is_some_and(|t| t == a || t == b)) {
                return Some(node);
            }
        }
        self.nodes
            .iter()
            .filter_map(|n| {
                n.addresses.iter().filter(|c| c.contains(sensor_side)).map(|c| (c.prefix(), n)).max_by_key(|(p, _)| *p)
            })
            .max_by_key(|(p, _)| *p)
            .map(|(_, n)| n)
    }

    /// The node a message belongs to: by tunnel endpoint first, then by the node's end of
    /// it. A received message reached its destination and a sent one left from its source;
    /// when the sensor cannot tell (a passive capture), the message says: a request belongs
    /// to the node it went to (its destination) and an answer to the node that sent it (its
    /// source), and when that end is no node's, the other end is tried (a node's own request,
    /// a BYE, goes to the attacker; an attacker's phone answers a node). Bytes that are not a
    /// message count as requests.
    pub fn of_message(
        &self,
        tunnel: Option<(IpAddr, IpAddr)>,
        src: IpAddr,
        dst: IpAddr,
        direction: Direction,
        kind: MessageKind,
    ) -> Option<&Node> {
        let (first, then) = match (direction, kind) {
            (Direction::In, _) => (dst, None),
            (Direction::Out, _) => (src, None),
            (Direction::Unknown, MessageKind::Response) => (src, Some(dst)),
            (Direction::Unknown, _) => (dst, Some(src)),
        };
        self.find(tunnel, first).or_else(|| then.and_then(|other| self.find(None, other)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[[node]]
name = "central"
addresses = ["192.0.2.0/24"]

[[node]]
name = "n1"
site = "Essen"
addresses = ["192.0.2.10", "2001:db8::/64"]
tunnel = "203.0.113.5"
"#;

    #[test]
    fn cidrs() {
        let c = Cidr::parse("198.51.100.0/28").unwrap();
        assert!(c.contains("198.51.100.15".parse().unwrap()));
        assert!(!c.contains("198.51.100.16".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.1/33").is_none());
        assert!(Cidr::parse("2001:db8::1/129").is_none());
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains("8.8.8.8".parse().unwrap()));
        assert!(!Cidr::parse("::/0").unwrap().contains("8.8.8.8".parse().unwrap()));
        assert!(Cidr::parse("2001:db8::/33").unwrap().contains("2001:db8:7fff::1".parse().unwrap()));
    }

    #[test]
    fn lookup_by_tunnel_then_longest_prefix() {
        let nodes = Nodes::parse(FILE, "nodes.toml").unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(nodes.find(None, ip("192.0.2.10")).unwrap().name, "n1");
        assert_eq!(nodes.find(None, ip("192.0.2.11")).unwrap().name, "central");
        assert_eq!(nodes.find(Some((ip("203.0.113.5"), ip("192.0.2.1"))), ip("10.9.9.9")).unwrap().name, "n1");
        assert_eq!(nodes.find(None, ip("2001:db8::5")).unwrap().site.as_deref(), Some("Essen"));
        assert!(nodes.find(None, ip("198.51.100.1")).is_none());
    }

    #[test]
    fn a_message_belongs_to_the_node_it_reached_or_came_from() {
        use Direction::{In, Out, Unknown};
        use MessageKind::{Invalid, Keepalive, Request, Response};
        let nodes = Nodes::parse(FILE, "nodes.toml").unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let (node, attacker) = (ip("192.0.2.10"), ip("198.51.100.7"));
        let of = |src, dst, direction, kind| nodes.of_message(None, src, dst, direction, kind).map(|n| n.name.as_str());
        // A passive capture: the message says which end is the node's.
        assert_eq!(of(attacker, node, Unknown, Request), Some("n1"), "a request, by its destination");
        assert_eq!(of(node, attacker, Unknown, Response), Some("n1"), "an answer, by its source");
        assert_eq!(of(node, attacker, Unknown, Request), Some("n1"), "the node's own request (a BYE)");
        assert_eq!(of(attacker, node, Unknown, Response), Some("n1"), "an attacker's phone answering the node");
        assert_eq!(of(attacker, node, Unknown, Invalid), Some("n1"), "bytes that are no message, as a request");
        assert_eq!(of(attacker, node, Unknown, Keepalive), Some("n1"));
        assert_eq!(of(attacker, ip("198.51.100.8"), Unknown, Response), None, "neither end is a node");
        // Between two nodes, the destination of a request and the source of an answer win.
        let central = ip("192.0.2.11");
        assert_eq!(of(central, node, Unknown, Request), Some("n1"));
        assert_eq!(of(central, node, Unknown, Response), Some("central"));
        // A sensor that knows the direction looks at its own end only, whatever the message.
        assert_eq!(of(attacker, node, In, Response), Some("n1"));
        assert_eq!(of(node, attacker, In, Request), None, "received at the attacker's address: no node");
        assert_eq!(of(node, attacker, Out, Request), Some("n1"));
        assert_eq!(of(attacker, node, Out, Response), None);
        // The tunnel endpoint wins over both ends, for either kind of message.
        let tunnel = Some((ip("203.0.113.5"), ip("10.0.0.1")));
        for kind in [Request, Response] {
            let found = nodes.of_message(tunnel, central, attacker, Unknown, kind).map(|n| n.name.as_str());
            assert_eq!(found, Some("n1"), "{kind:?}");
        }
    }

    #[test]
    fn the_documented_example_parses() {
        let doc = include_str!("../../../docs/configuration.md");
        let start = doc.find("```toml\n").expect("example in docs/configuration.md") + 8;
        let end = start + doc[start..].find("```").expect("closed example");
        let nodes = Nodes::parse(&doc[start..end], "docs/configuration.md").unwrap();
        assert_eq!(nodes.all().len(), 2);
        assert_eq!(nodes.find(None, "192.0.2.10".parse().unwrap()).unwrap().name, "essen-01");
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let err = Nodes::parse("[[node]]\nname = \"a\"\naddresses = [\"nope\"]\n", "n.toml").unwrap_err();
        assert!(err.to_string().contains("not an address or CIDR: \"nope\""), "{err}");
        let err = Nodes::parse("[[node]]\nname = \"a\"\nbogus = 1\n", "n.toml").unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
        let err = Nodes::parse("[[node]]\nname = \"a\"\n[[node]]\nname = \"a\"\n", "n.toml").unwrap_err();
        assert!(err.to_string().contains("duplicate"), "{err}");
    }
}
