//! Enforcement (nftables, conntrack) and the honeypot's silence towards banned sources, in
//! network namespaces the tests create. Skipped (with a message) when not root.

mod e2e;
mod lab;
mod nftables;
