//! Which flow and which /22 the `strategies` section draws on its Hilbert curve
//! (`report --scan-source IP --scan-prefix A.B.C.D/22`). Both are optional: without them the
//! widest flow and the /22 it hit most are drawn.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

/// The choice of the Hilbert picture; `Default` is "the widest scan, its most-hit /22".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HilbertChoice {
    /// Draw this source's widest flow instead of the widest flow of all.
    pub source: Option<IpAddr>,
    /// Draw this /22 instead of the one the flow hit most.
    pub prefix: Option<Prefix22>,
}

/// An IPv4 /22, the block a 32 × 32 Hilbert picture covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Prefix22(u32);

impl Prefix22 {
    /// The /22 that holds `ip`.
    pub fn containing(ip: Ipv4Addr) -> Prefix22 {
        Prefix22(u32::from(ip) >> 10)
    }

    /// The block number (the address shifted right by 10).
    pub fn block(self) -> u32 {
        self.0
    }

    /// Its first address.
    pub fn network(self) -> Ipv4Addr {
        Ipv4Addr::from(self.0 << 10)
    }

    /// Whether `ip` is inside.
    pub fn contains(self, ip: Ipv4Addr) -> bool {
        u32::from(ip) >> 10 == self.0
    }
}

impl fmt::Display for Prefix22 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/22", self.network())
    }
}

/// Why a `--scan-prefix` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PrefixError {
    /// Not an address or an address block.
    #[error("expected an IPv4 block as A.B.C.D/22, not {0:?}")]
    Syntax(String),
    /// An IPv6 address: the picture covers IPv4 /22s only.
    #[error("{0:?} is IPv6: the Hilbert picture draws an IPv4 /22 (A.B.C.D/22)")]
    Ipv6(String),
    /// Another prefix length, or a bare address.
    #[error("{0:?}: only /22 blocks can be drawn (1,024 addresses on a 32 × 32 curve)")]
    Length(String),
}

impl FromStr for Prefix22 {
    type Err = PrefixError;

    /// `A.B.C.D/22` with any address of the block (masked); other lengths and IPv6 are refused
    /// so that a typo never silently draws another block.
    fn from_str(s: &str) -> Result<Prefix22, PrefixError> {
        // The nodes file's block syntax; a bare address is a /32 there, so a /22 must be said.
        let cidr = crate::nodes::Cidr::parse(s).ok_or_else(|| PrefixError::Syntax(s.into()))?;
        match (cidr.addr(), cidr.prefix()) {
            (IpAddr::V6(_), _) => Err(PrefixError::Ipv6(s.into())),
            (IpAddr::V4(v4), 22) => Ok(Prefix22::containing(v4)),
            (IpAddr::V4(_), _) => Err(PrefixError::Length(s.into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_address_of_the_block_is_masked_to_the_22() {
        let p: Prefix22 = "198.51.101.77/22".parse().unwrap();
        assert_eq!(p.to_string(), "198.51.100.0/22");
        assert!(p.contains("198.51.103.255".parse().unwrap()));
        assert!(!p.contains("198.51.104.0".parse().unwrap()));
        assert_eq!(" 10.0.0.0/22 ".parse::<Prefix22>().unwrap().network(), Ipv4Addr::new(10, 0, 0, 0));
    }

    #[test]
    fn other_lengths_ipv6_and_junk_are_refused() {
        assert!(matches!("10.0.0.0/24".parse::<Prefix22>(), Err(PrefixError::Length(_))));
        assert!(matches!("10.0.0.0".parse::<Prefix22>(), Err(PrefixError::Length(_))), "a bare address is a /32");
        assert!(matches!("2001:db8::/22".parse::<Prefix22>(), Err(PrefixError::Ipv6(_))));
        assert!(matches!("2001:db8::".parse::<Prefix22>(), Err(PrefixError::Ipv6(_))));
        for bad in ["10.0.0.0/33", "10.0.0/22", "10.0.0.0/", "10.0.0.0/x", "", "/22", "10.0.0.0/22/1"] {
            assert!(matches!(bad.parse::<Prefix22>(), Err(PrefixError::Syntax(_))), "{bad}");
        }
        let e = "10.0.0.0/24".parse::<Prefix22>().unwrap_err().to_string();
        assert!(e.contains("only /22"), "{e}");
    }
}
