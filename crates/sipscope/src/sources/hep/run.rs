//! `sipscope hep`: bind the listeners, then hand every packet they receive to the ingest core
//! and the pipeline until a stop is asked for (the flag a signal handler sets), a packet count
//! or a duration is reached. The pipeline is ticked on the way, so the store is flushed about
//! once a second and the analysis is handed over as it finishes.

use super::ingest::{Auth, HepCounters, HepIngest};
use super::net::{self, Delivery, NetLimits};
use super::queue::QueueRx;
use crate::pipeline::{Counters, Pipeline};
use crate::sinks::SinkError;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Serialize;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One listening address and how it listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listen {
    /// Datagrams.
    Udp(SocketAddr),
    /// HEPv3 over TCP.
    Tcp(SocketAddr),
    /// HEPv3 over TLS.
    Tls(SocketAddr),
    /// UDP and TCP on the same address and port (HOMER's way: 9060 for both).
    UdpAndTcp(SocketAddr),
}

impl std::str::FromStr for Listen {
    type Err = String;
    fn from_str(s: &str) -> Result<Listen, String> {
        let (kind, addr) = s.split_once(':').filter(|(k, _)| matches!(*k, "udp" | "tcp" | "tls")).unwrap_or(("", s));
        let addr: SocketAddr = addr.parse().map_err(|_| format!("expected [udp:|tcp:|tls:]ADDRESS:PORT, not {s:?}"))?;
        Ok(match kind {
            "udp" => Listen::Udp(addr),
            "tcp" => Listen::Tcp(addr),
            "tls" => Listen::Tls(addr),
            _ => Listen::UdpAndTcp(addr),
        })
    }
}

impl std::fmt::Display for Listen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Listen::Udp(a) => write!(f, "udp:{a}"),
            Listen::Tcp(a) => write!(f, "tcp:{a}"),
            Listen::Tls(a) => write!(f, "tls:{a}"),
            Listen::UdpAndTcp(a) => write!(f, "udp+tcp:{a}"),
        }
    }
}

/// The TLS material of `tls:` listeners.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Certificate chain (PEM).
    pub cert: PathBuf,
    /// Private key (PEM).
    pub key: PathBuf,
    /// When set, senders must present a certificate signed by one of these CAs (PEM).
    pub client_ca: Option<PathBuf>,
}

/// How `sipscope hep` runs.
#[derive(Debug, Clone)]
pub struct HepOptions {
    /// Where to listen.
    pub listen: Vec<Listen>,
    /// TLS material, required by `tls:` listeners.
    pub tls: Option<TlsFiles>,
    /// Who may send.
    pub auth: Auth,
    /// Decoder limits.
    pub limits: sipscope_hep::Limits,
    /// Listener limits.
    pub net: NetLimits,
    /// Stop after this many packets.
    pub count: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
}

/// Why `sipscope hep` could not run.
#[derive(Debug, thiserror::Error)]
pub enum HepError {
    /// An address could not be bound.
    #[error("cannot listen on {0}: {1}")]
    Bind(Listen, std::io::Error),
    /// TLS material missing or refused.
    #[error("TLS: {0}")]
    Tls(String),
    /// A listener thread could not start.
    #[error("starting a listener: {0}")]
    Thread(std::io::Error),
    /// The store failed.
    #[error(transparent)]
    Sink(#[from] SinkError),
}

/// What a run saw.
#[derive(Debug, Clone, Serialize)]
pub struct HepSummary {
    /// Packets by what became of them.
    pub hep: HepCounters,
    /// The pipeline's counts of the messages handed over.
    pub messages: Counters,
    /// Seconds from the first listener to the end.
    pub elapsed_s: f64,
}

impl HepSummary {
    /// The summary as lines of text (numbers and sipscope's words only).
    pub fn to_text(&self) -> String {
        let h = &self.hep;
        let refused = h.unauthenticated + h.unknown_node + h.wrong_key;
        format!(
            "HEP packets: {} ({} bytes) in {:.1} s\n  accepted: {}\n  refused: {} (no key {}, unknown node {}, wrong key {})\n  \
             malformed: {}, bad compressed payload: {}, not SIP: {}, without addresses: {}\n  \
             stored with the time of receipt: {}\n  streams closed: {} not HEPv3, {} over the limit\n\
             messages: {} SIP, {} events stored\n",
            h.packets,
            h.bytes,
            self.elapsed_s,
            h.accepted,
            refused,
            h.unauthenticated,
            h.unknown_node,
            h.wrong_key,
            h.malformed,
            h.bad_compressed_payload,
            h.not_sip,
            h.missing_addresses,
            h.time_from_receipt,
            h.streams_not_hep,
            h.streams_refused,
            self.messages.sip_messages,
            self.messages.events_stored,
        )
    }
}

/// The sockets, bound.
pub struct Bound {
    udp: Vec<UdpSocket>,
    streams: Vec<(TcpListener, Option<Arc<rustls::ServerConfig>>)>,
}

/// Binds every listener of `opts` (and loads the TLS material), so that a wrong address fails
/// before anything else starts.
pub fn bind(opts: &HepOptions) -> Result<Bound, HepError> {
    let mut bound = Bound { udp: Vec::new(), streams: Vec::new() };
    let tls = match (&opts.tls, opts.listen.iter().any(|l| matches!(l, Listen::Tls(_)))) {
        (Some(files), true) => Some(server_config(files)?),
        (None, true) => return Err(HepError::Tls("a tls: listener needs --tls-cert and --tls-key".into())),
        (_, false) => None,
    };
    for &listen in &opts.listen {
        let bind_error = |e| HepError::Bind(listen, e);
        match listen {
            Listen::UdpAndTcp(addr) => {
                bound.udp.push(bind_udp(addr, opts.net).map_err(bind_error)?);
                bound.streams.push((TcpListener::bind(addr).map_err(bind_error)?, None));
            }
            Listen::Udp(addr) => bound.udp.push(bind_udp(addr, opts.net).map_err(bind_error)?),
            Listen::Tcp(addr) => bound.streams.push((TcpListener::bind(addr).map_err(bind_error)?, None)),
            Listen::Tls(addr) => bound.streams.push((TcpListener::bind(addr).map_err(bind_error)?, tls.clone())),
        }
    }
    Ok(bound)
}

/// A UDP socket with a large receive buffer (asked, not required: the kernel caps it at
/// `net.core.rmem_max`, often 4 MiB or less, unless the process may force it: a collector
/// with `CAP_NET_ADMIN` gets the whole buffer, which holds the packets that arrive while the
/// listener thread waits for a core).
fn bind_udp(addr: SocketAddr, limits: NetLimits) -> std::io::Result<UdpSocket> {
    let socket =
        socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    let _ = socket.set_recv_buffer_size(limits.udp_recv_buffer);
    let _ = nix::sys::socket::setsockopt(&socket, nix::sys::socket::sockopt::RcvBufForce, &limits.udp_recv_buffer);
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// A rustls server configuration from PEM files, with client certificates required when a
/// client CA is given.
fn server_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, HepError> {
    let pem = |path: &Path, e: rustls::pki_types::pem::Error| HepError::Tls(format!("{}: {e}", path.display()));
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(&files.cert).and_then(Iterator::collect).map_err(|e| pem(&files.cert, e))?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| pem(&files.key, e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| HepError::Tls(e.to_string()))?;
    let builder = match &files.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(ca).map_err(|e| pem(ca, e))? {
                roots
                    .add(cert.map_err(|e| pem(ca, e))?)
                    .map_err(|e| HepError::Tls(format!("{}: {e}", ca.display())))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| HepError::Tls(format!("{}: {e}", ca.display())))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder.with_single_cert(certs, key).map_err(|e| HepError::Tls(e.to_string()))?;
    Ok(Arc::new(config))
}

/// Serves the bound listeners into `pipeline` until `stop` is set or a limit of `opts` is
/// reached, then finishes the pipeline.
pub fn run(bound: Bound, mut pipeline: Pipeline, opts: &HepOptions, stop: &AtomicBool) -> Result<HepSummary, HepError> {
    let started = Instant::now();
    let listeners_stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = super::queue::queue(opts.net.queue_bytes);
    let mut threads = Vec::new();
    for socket in bound.udp {
        let (tx, stop, limits) = (tx.clone(), Arc::clone(&listeners_stop), opts.net);
        let spawn = std::thread::Builder::new().name("hep-udp".into());
        threads.push(spawn.spawn(move || net::serve_udp(socket, tx, stop, limits)).map_err(HepError::Thread)?);
    }
    for (listener, tls) in bound.streams {
        let (tx, stop, limits) = (tx.clone(), Arc::clone(&listeners_stop), opts.net);
        let spawn = std::thread::Builder::new().name("hep-accept".into());
        threads
            .push(spawn.spawn(move || net::serve_streams(listener, tls, tx, stop, limits)).map_err(HepError::Thread)?);
    }
    drop(tx);
    let mut ingest = HepIngest::new(opts.auth.clone(), opts.limits);
    pipeline.begin_analysis(crate::time::now_ns())?;
    let done = |ingest: &HepIngest| {
        stop.load(Ordering::Relaxed)
            || opts.count.is_some_and(|n| ingest.counters().packets >= n)
            || opts.duration.is_some_and(|d| started.elapsed() >= d)
    };
    while !done(&ingest) && !pipeline.failed() {
        match rx.recv_timeout(net::POLL) {
            Ok(delivery) => take(&mut ingest, delivery, &mut pipeline, &rx),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
        pipeline.tick(crate::time::now_ns())?;
    }
    listeners_stop.store(true, Ordering::Relaxed);
    // What the listeners received before they stopped is taken too, also while they stop: a
    // UDP listener queues its last batch even when it must wait for room (stream threads still
    // open end within one poll; what they send after this is not waited for).
    while threads.iter().any(|t| !t.is_finished()) {
        if let Ok(delivery) = rx.recv_timeout(STOPPING_POLL) {
            take(&mut ingest, delivery, &mut pipeline, &rx);
        }
    }
    for thread in threads {
        let _ = thread.join();
    }
    while let Some(delivery) = rx.try_recv() {
        take(&mut ingest, delivery, &mut pipeline, &rx);
    }
    let finished = pipeline.finish(crate::time::now_ns())?;
    Ok(HepSummary { hep: *ingest.counters(), messages: finished.counters, elapsed_s: started.elapsed().as_secs_f64() })
}

/// How often the loop looks whether the listeners have ended, while it takes what they queue.
const STOPPING_POLL: Duration = Duration::from_millis(20);

fn take(ingest: &mut HepIngest, delivery: Delivery, pipeline: &mut Pipeline, rx: &QueueRx) {
    match delivery {
        Delivery::Packets(packets) => {
            crate::metrics::queue_depth_add(crate::metrics::Queue::HepChannel, -(packets.len() as i64));
            for (bytes, peer, received_ns) in packets.iter() {
                ingest.take(bytes, peer, received_ns, pipeline);
            }
            rx.recycle(packets);
        }
        Delivery::StreamNotHep(peer) => ingest.stream_not_hep(peer),
        Delivery::StreamRefused(peer) => ingest.stream_refused(peer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_privileged_collector_gets_the_whole_receive_buffer() {
        let limits = NetLimits { udp_recv_buffer: 24 << 20, ..NetLimits::default() };
        let socket = bind_udp("127.0.0.1:0".parse().unwrap(), limits).unwrap();
        let got = socket2::SockRef::from(&socket).recv_buffer_size().unwrap();
        let rmem_max: usize = std::fs::read_to_string("/proc/sys/net/core/rmem_max").unwrap().trim().parse().unwrap();
        // The kernel reports twice what was set (its bookkeeping). Without CAP_NET_ADMIN (not
        // root) the request is capped at rmem_max; as root it is forced past it.
        if nix::unistd::geteuid().is_root() {
            assert_eq!(got, 2 * limits.udp_recv_buffer, "forced past rmem_max ({rmem_max})");
        } else {
            assert!(got >= 2 * limits.udp_recv_buffer.min(rmem_max), "{got}");
        }
    }

    #[test]
    fn listen_addresses_name_their_transport() {
        assert_eq!("udp:127.0.0.1:9060".parse(), Ok(Listen::Udp("127.0.0.1:9060".parse().unwrap())));
        assert_eq!("tls:[::1]:9061".parse(), Ok(Listen::Tls("[::1]:9061".parse().unwrap())));
        assert_eq!("tcp:0.0.0.0:9060".parse(), Ok(Listen::Tcp("0.0.0.0:9060".parse().unwrap())));
        assert_eq!("127.0.0.1:9060".parse(), Ok(Listen::UdpAndTcp("127.0.0.1:9060".parse().unwrap())));
        assert!("sctp:127.0.0.1:9060".parse::<Listen>().unwrap_err().contains("[udp:|tcp:|tls:]"));
        assert!("localhost:9060".parse::<Listen>().is_err());
    }
}
