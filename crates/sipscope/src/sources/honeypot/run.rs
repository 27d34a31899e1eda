//! Starting and stopping the honeypot: load the profile and nodes, open the store, bind every
//! listener, drop root, serve until stopped, then flush every event before returning.

use super::config::{HoneypotConfig, ListenTransport};
use super::core::{Core, CoreParts};
use super::error::HoneypotError;
use super::human_log::HumanLog;
use super::net::stream::{StreamListener, StreamSettings};
use super::net::udp::UdpListener;
use super::net::{tls, Stop};
use super::pbx::Pbx;
use super::profile::{Profile, Reply};
use crate::nodes::Nodes;
use crate::pipeline::{Pipeline, PipelineSettings, Unparsed};
use crate::sinks::{RunKind, SinkConfig};
use rand::Rng;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// What a run did, printed at exit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HoneypotSummary {
    /// Messages received.
    pub received: u64,
    /// Answers sent.
    pub answers: u64,
    /// Requests over a source's rate (recorded, not answered).
    pub source_rate_limited: u64,
    /// Requests over the global rate (recorded, not answered).
    pub global_rate_limited: u64,
    /// Answers withheld by the amplification budget.
    pub amplification_suppressed: u64,
    /// Messages over the size limit (recorded, not answered).
    pub oversized: u64,
    /// Authentication attempts.
    pub auth_attempts: u64,
    /// Passwords recovered by intelligence.
    pub passwords_recovered: u64,
    /// Attempts intelligence skipped (queue full).
    pub intel_skipped: u64,
    /// What the network shell did (kernel drops, refused connections, stream limits).
    #[serde(flatten)]
    pub net: super::net::NetSummary,
}

/// Listeners bound and ready to serve.
pub struct Bound {
    udp: Vec<UdpListener>,
    stream: Vec<StreamListener>,
}

impl Bound {
    /// Every bound address with its transport (ports chosen by the kernel filled in).
    pub fn addresses(&self) -> Vec<(&'static str, SocketAddr)> {
        let mut out: Vec<(&'static str, SocketAddr)> = self.udp.iter().map(|u| ("udp", u.local_addr())).collect();
        out.extend(self.stream.iter().map(|s| (s.transport_name(), s.local_addr())));
        out
    }
}

/// Binds every configured listener (as root when needed, before [`drop_privileges`]).
pub fn bind(config: &HoneypotConfig) -> Result<Bound, HoneypotError> {
    let needs_tls = config.listen.iter().any(|l| l.transport == ListenTransport::Tls);
    let tls_config = if needs_tls {
        let default_dir =
            config.store.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
        let (cert, key) = tls::material(&config.tls, default_dir)?;
        Some(tls::server_config(&cert, &key)?)
    } else {
        None
    };
    let mut bound = Bound { udp: Vec::new(), stream: Vec::new() };
    for l in &config.listen {
        let addr = SocketAddr::new(l.address, l.port);
        let fail = |transport, source| HoneypotError::Bind { transport, addr, source };
        match l.transport {
            ListenTransport::Udp => bound.udp.push(UdpListener::bind(addr).map_err(|e| fail("udp", e))?),
            ListenTransport::Tcp => bound.stream.push(StreamListener::bind(addr, None).map_err(|e| fail("tcp", e))?),
            ListenTransport::Tls => {
                bound.stream.push(StreamListener::bind(addr, tls_config.clone()).map_err(|e| fail("tls", e))?)
            }
        }
    }
    Ok(bound)
}

/// The final answer to authenticated calls: the configuration's, else the profile's.
fn final_reply(config: &HoneypotConfig) -> Option<Reply> {
    let status = config.calls.final_status?;
    let reason = config.calls.final_reason.clone().unwrap_or_else(|| {
        match status {
            403 => "Forbidden",
            404 => "Not Found",
            480 => "Temporarily Unavailable",
            486 => "Busy Here",
            487 => "Request Terminated",
            488 => "Not Acceptable Here",
            500 => "Server Internal Error",
            503 => "Service Unavailable",
            600 => "Busy Everywhere",
            603 => "Decline",
            _ => "Call Failed",
        }
        .to_owned()
    });
    Some(Reply { status, reason })
}

/// Opens the store and builds the core (the store's files are created here, before dropping
/// root, so the switched-to user can keep writing them).
pub fn open_core(config: &HoneypotConfig, sensor: String) -> Result<Arc<Core>, HoneypotError> {
    let profile = Profile::load(&config.profile)?;
    let nodes = match &config.nodes {
        Some(path) => Nodes::load(path)?,
        None => Nodes::default(),
    };
    let sinks = crate::sinks::open(&SinkConfig { store: config.store.clone(), jsonl: config.jsonl.clone() })?;
    // Everything received is kept (unparseable bytes too), every message becomes an event.
    let mut settings = PipelineSettings::new(sensor.clone(), nodes.clone(), RunKind::Honeypot);
    settings.unparsed = Unparsed::Keep;
    if !config.analysis {
        settings.analysis = None;
    }
    let pipeline = Pipeline::new(settings, sinks.store, sinks.extra);
    let human =
        HumanLog::open(&config.human_log).map_err(|e| HoneypotError::File(config.human_log.clone().into(), e))?;
    let pbx = Pbx::new(profile, &config.extension, final_reply(config), rand::rng().random());
    Ok(Arc::new(Core::new(config, CoreParts { sensor, nodes, pbx, pipeline, human })?))
}

/// Switches to `user` when running as root; files already open stay usable.
pub fn drop_privileges(config: &HoneypotConfig) -> Result<(), HoneypotError> {
    use nix::unistd::{self, User};
    if !unistd::geteuid().is_root() {
        return Ok(());
    }
    let Some(name) = &config.user else {
        tracing::warn!("running as root: set `user` in the configuration to drop privileges after binding");
        return Ok(());
    };
    let fail = |why: String| HoneypotError::Privileges(name.clone(), why);
    let user = User::from_name(name).map_err(|e| fail(e.to_string()))?.ok_or_else(|| fail("no such user".into()))?;
    // The store and its WAL files must stay writable for the new user.
    for suffix in ["", "-wal", "-shm"] {
        let mut path = config.store.clone().into_os_string();
        path.push(suffix);
        let path = std::path::PathBuf::from(path);
        if path.exists() {
            unistd::chown(&path, Some(user.uid), Some(user.gid))
                .map_err(|e| fail(format!("chown {}: {e}", path.display())))?;
        }
    }
    unistd::setgroups(&[user.gid]).map_err(|e| fail(format!("setgroups: {e}")))?;
    unistd::setgid(user.gid).map_err(|e| fail(format!("setgid: {e}")))?;
    unistd::setuid(user.uid).map_err(|e| fail(format!("setuid: {e}")))?;
    if unistd::setuid(nix::unistd::Uid::from_raw(0)).is_ok() {
        return Err(fail("root could be regained".into()));
    }
    tracing::info!("now running as {name}");
    Ok(())
}

/// Serves until `stop` is set, then flushes every event and recovery and returns the summary.
pub fn serve(
    config: &HoneypotConfig,
    bound: Bound,
    core: Arc<Core>,
    stop: Stop,
) -> Result<HoneypotSummary, HoneypotError> {
    let settings = StreamSettings::new(&config.limits);
    let mut threads = Vec::new();
    let spawn = |name: String, f: Box<dyn FnOnce() + Send>| {
        std::thread::Builder::new()
            .name(name)
            .spawn(f)
            .map_err(|e| HoneypotError::Runtime(format!("starting a listener: {e}")))
    };
    for udp in bound.udp {
        let (core, stop) = (Arc::clone(&core), stop.clone());
        threads.push(spawn(format!("udp {}", udp.local_addr()), Box::new(move || udp.serve(core, stop)))?);
    }
    for listener in bound.stream {
        let (core, stop, settings) = (Arc::clone(&core), stop.clone(), settings.clone());
        // (each connection thread holds a slot in `settings.pools` until it is done)
        threads.push(spawn(
            format!("tcp {}", listener.local_addr()),
            Box::new(move || listener.serve(core, stop, settings)),
        )?);
    }
    // The pipeline commits and hands the analysis over about once a second (it paces itself);
    // its errors are logged there.
    while !stop.is_set() {
        std::thread::sleep(Duration::from_millis(100));
        let _ = core.tick(crate::time::now_ns());
    }
    for t in threads {
        let _ = t.join();
    }
    // Connection threads notice the stop within one poll interval and hand over what they
    // read before they release their slot: wait for the last one (bounded).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while settings.pools.open_total() > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    core.finish()?;
    let s = &core.stats;
    Ok(HoneypotSummary {
        received: s.received.load(Ordering::Relaxed),
        answers: s.answers.load(Ordering::Relaxed),
        source_rate_limited: s.source_rate_limited.load(Ordering::Relaxed),
        global_rate_limited: s.global_rate_limited.load(Ordering::Relaxed),
        amplification_suppressed: s.amplification_suppressed.load(Ordering::Relaxed),
        oversized: s.oversized.load(Ordering::Relaxed),
        auth_attempts: s.auth_attempts.load(Ordering::Relaxed),
        passwords_recovered: s.recovered.load(Ordering::Relaxed),
        intel_skipped: core.intel_dropped(),
        net: s.net.summary(),
    })
}

impl HoneypotSummary {
    /// The summary as text lines.
    pub fn to_text(&self) -> String {
        format!(
            "received {} messages, sent {} answers; {} authentication attempts, {} passwords recovered\n\
             not answered: {} over a source's rate, {} over the global rate, {} oversized; {} answers withheld (amplification)\n",
            self.received,
            self.answers,
            self.auth_attempts,
            self.passwords_recovered,
            self.source_rate_limited,
            self.global_rate_limited,
            self.oversized,
            self.amplification_suppressed
        ) + &self.net.to_text()
    }
}
