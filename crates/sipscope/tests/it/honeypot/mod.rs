//! `sipscope honeypot` end to end: the real attack tools against it on 127.0.0.0/8 (each test
//! on its own 127.0.N.0/24 so tests run in parallel, or in network namespaces of their own), and
//! its safety behaviour.

mod baresip;
mod crash;
pub mod harness;
mod lab;
mod lab_capture;
pub mod metrics;
mod nmap;
mod registrar;
mod routed;
mod rules;
mod safety;
mod sipp;
mod sipsak;
mod sipvicious;
mod store_outage;
mod streams;
mod tells;
mod tls_probes;
mod websocket;
