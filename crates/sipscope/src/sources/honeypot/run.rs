//! Starting and stopping the honeypot: load the profile and nodes, open the store, bind every
//! listener, drop root, serve until stopped, then flush every event before returning.

use super::config::{HoneypotConfig, ListenTransport};
use super::core::{Core, CoreParts};
use super::error::HoneypotError;
use super::human_log::HumanLog;
use super::intel::Skipped;
use super::net::stream::{StreamListener, StreamSettings};
use super::net::udp::UdpListener;
use super::net::{tls, Stop};
use super::pbx::{Pbx, PbxLimits};
use super::profile::{Profile, Reply};
use crate::nodes::Nodes;
use crate::pipeline::{Pipeline, PipelineSettings, Unparsed};
use crate::sinks::health::{StoreBacklog, StoreHealth, StoreStatus};
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
    /// Final answers to INVITE sent again over UDP while their ACK did not come.
    pub retransmissions: u64,
    /// Retransmissions withheld by the amplification budget.
    pub retransmissions_withheld: u64,
    /// INVITE transactions forgotten with answers still to send (`max_open_invites`,
    /// `max_open_invite_bytes`).
    pub open_invites_forgotten: u64,
    /// Messages over the size limit (recorded, not answered).
    pub oversized: u64,
    /// Messages from sources under a ban (recorded, not answered).
    pub banned: u64,
    /// Messages a listener had to wait to hand to the recorder thread: recording fell
    /// behind, and answering waited with it (0 when the machine keeps up).
    pub recorder_waits: u64,
    /// Authentication attempts.
    pub auth_attempts: u64,
    /// Passwords recovered by intelligence.
    pub passwords_recovered: u64,
    /// Attempts intelligence skipped (queue full, a source over its share, repeats, stopping).
    pub intel_skipped: u64,
    /// The store: whether it is writing, since when it is not, what was dropped.
    pub store: StoreStatus,
    /// Why finishing (the last events, the analysis results) failed, if it did.
    pub finish_error: Option<String>,
    /// The same, by reason.
    pub intel_skipped_by: Skipped,
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
    let needs_tls = config.listen.iter().any(|l| l.transport.is_tls());
    let tls_config = if needs_tls {
        // Next to a store file; the working directory for a PostgreSQL store.
        let default_dir = Some(config.store.as_path())
            .filter(|s| crate::sinks::postgres_url(s).is_none())
            .and_then(|s| s.parent())
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        let (cert, key) = tls::material(&config.tls, default_dir)?;
        Some(tls::server_config(&cert, &key)?)
    } else {
        None
    };
    let mut bound = Bound { udp: Vec::new(), stream: Vec::new() };
    for l in &config.listen {
        let addr = SocketAddr::new(l.address, l.port);
        let fail = |transport, cause| HoneypotError::Bind { transport, addr, cause };
        match l.transport {
            ListenTransport::Udp => bound.udp.push(UdpListener::bind(addr).map_err(|e| fail("udp", e))?),
            ListenTransport::Tcp | ListenTransport::Tls | ListenTransport::Ws | ListenTransport::Wss => {
                let tls = if l.transport.is_tls() { tls_config.clone() } else { None };
                let listener = StreamListener::bind(addr, tls, l.ws_path().map(Arc::from));
                bound.stream.push(listener.map_err(|e| fail(transport_name(l.transport), e))?)
            }
        }
    }
    Ok(bound)
}

/// A listener's transport as the configuration names it.
fn transport_name(transport: ListenTransport) -> &'static str {
    match transport {
        ListenTransport::Udp => "udp",
        ListenTransport::Tcp => "tcp",
        ListenTransport::Tls => "tls",
        ListenTransport::Ws => "ws",
        ListenTransport::Wss => "wss",
    }
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
    open(config, sensor).map(|(core, _)| core)
}

/// [`open_core`], with the store's health for the exit summary. The store rides out outages
/// (a full disk) within the configured backlog, so the honeypot keeps recording afterwards.
pub fn open(config: &HoneypotConfig, sensor: String) -> Result<(Arc<Core>, StoreHealth), HoneypotError> {
    open_with(config, sensor, None)
}

/// [`open`], also copying events, alerts and decisions into `live` (the embedded API's live
/// stream) when given.
pub fn open_with(
    config: &HoneypotConfig,
    sensor: String,
    live: Option<crate::sinks::live::LiveFeed>,
) -> Result<(Arc<Core>, StoreHealth), HoneypotError> {
    let profile = Profile::load(&config.profile)?;
    let nodes = match &config.nodes {
        Some(path) => Nodes::load(path)?,
        None => Nodes::default(),
    };
    let rules = crate::rules::RuleSet::load(&config.rules)?;
    let mut to_continue = None;
    if config.analysis && (config.store.exists() || crate::sinks::postgres_url(&config.store).is_some()) {
        // The run an earlier honeypot of this sensor left (killed, or stopped within its
        // segment) is continued by this one (below); other interrupted runs are analysed again
        // from their events.
        let analysis = crate::analysis::engine::AnalysisConfig::default();
        let segment_ns = config.analysis_segment_seconds.max(1).saturating_mul(1_000_000_000) as i64;
        let own = crate::sources::replay::OwnScope {
            kind: RunKind::Honeypot,
            sensor: &sensor,
            segment_ns,
            max_stopped_replay: crate::sources::replay::MAX_STOPPED_REPLAY,
        };
        let now = crate::time::now_ns();
        to_continue =
            crate::sources::replay::recover_interrupted(&config.store, &analysis, rules.as_ref(), now, Some(own))?
                .to_continue;
    }
    let backlog =
        StoreBacklog { max_items: config.limits.store_backlog_items, max_bytes: config.limits.store_backlog_bytes };
    let sinks = crate::sinks::open(&SinkConfig {
        store: config.store.clone(),
        jsonl: config.jsonl.clone(),
        hep_out: config.hep_out.as_ref().map(super::config::HepOut::sink_config),
        backlog: Some(backlog),
        nats: Some((config.nats.clone(), sensor.clone())),
        retention_days: None,
    })?;
    let health = sinks.health;
    let mut extra = sinks.extra;
    if let Some(live) = &live {
        extra.push(Box::new(live.clone()));
    }
    // Everything received is kept (unparseable bytes too), every message becomes an event.
    let mut settings = PipelineSettings::new(sensor.clone(), nodes.clone(), RunKind::Honeypot);
    settings.unparsed = Unparsed::Keep;
    settings.segment_every_ns = Some(config.analysis_segment_seconds.max(1).saturating_mul(1_000_000_000) as i64);
    if !config.analysis {
        settings.analysis = None;
    }
    settings.rules = rules;
    // The rules run beside the analysis, on the messages the recorder thread hands over in
    // batches (what it recorded until its queue ran dry): the listener answering the attacker
    // does not carry them, and their code stays hot across a batch. The recorder polls the
    // raised alerts a millisecond after each batch (`core/recorder.rs`), so a ban takes effect
    // before an attacker's next round trip (docs/honeypot.md, "Rules and alerts").
    settings.rules_on = crate::pipeline::RulesOn::Worker;
    let has_rules = settings.rules.is_some();
    let mut pipeline = Pipeline::new(settings, sinks.store, extra);
    // The bans in force the listeners consult; the decision policy holds the same set.
    let in_force = crate::act::InForce::default();
    respond(config, &sensor, &nodes, has_rules, &mut pipeline, &in_force)?;
    if let (Some(live), true) = (live, has_rules) {
        pipeline.add_alert_sink(Box::new(live));
    }
    if let Some(run) = to_continue {
        // Before the listeners take anything: flows spanning the crash stay one flow.
        crate::sources::replay::carry_into(&mut pipeline, &config.store, &run)?;
    }
    let human =
        HumanLog::open(&config.human_log).map_err(|e| HoneypotError::File(config.human_log.clone().into(), e))?;
    let pbx = Pbx::new(profile, &config.extension, final_reply(config), rand::rng().random())
        .with_limits(PbxLimits::from(&config.limits));
    Ok((Arc::new(Core::new(config, CoreParts { sensor, nodes, pbx, pipeline, human, in_force })?), health))
}

/// Gives the pipeline what acts on the rules' alerts: the alert outputs (`[alerts]`) and, with
/// `[decisions] enabled`, the decision policy, which updates `in_force` (the listeners stop
/// answering banned sources) and drives nftables when `[enforce] nftables` is on.
fn respond(
    config: &HoneypotConfig,
    sensor: &str,
    nodes: &Nodes,
    has_rules: bool,
    pipeline: &mut Pipeline,
    in_force: &crate::act::InForce,
) -> Result<(), HoneypotError> {
    let sinks = crate::sinks::open_alert_sinks(&config.alerts, sensor).map_err(HoneypotError::Store)?;
    if !has_rules && (!sinks.is_empty() || config.decisions.enabled) {
        return Err(HoneypotError::Runtime(
            "[alerts] and [decisions] act on the rules' alerts: set [rules] enabled = true".into(),
        ));
    }
    for sink in sinks {
        pipeline.add_alert_sink(sink);
    }
    if !config.decisions.enabled {
        if config.nats.watch_decisions {
            return Err(HoneypotError::Runtime(
                "[nats] watch_decisions enforces shared decisions: set [decisions] enabled = true".into(),
            ));
        }
        if config.enforce.nftables {
            return Err(HoneypotError::Runtime(
                "[enforce] nftables enforces decisions: set [decisions] enabled = true".into(),
            ));
        }
        return Ok(());
    }
    let enforcer = crate::act::enforce::NftEnforcer::from_config(&config.enforce)
        .map_err(|e| HoneypotError::Runtime(format!("enforce: {e}")))?
        .map(|e| Box::new(e) as Box<dyn crate::act::Enforcer>);
    let own = crate::act::policy::responder::host_addresses();
    let responder = crate::act::policy::responder::PolicyResponder::open(
        &config.store,
        &config.decisions,
        sensor,
        &own,
        nodes,
        in_force.clone(),
        enforcer,
        config.enforce.reconcile_every_ns(),
        crate::time::now_ns(),
    )
    .map_err(HoneypotError::Store)?;
    pipeline.set_responder(Box::new(responder));
    if config.nats.enabled() && config.nats.watch_decisions {
        // Decisions a collector shares go into this store, where the responder reads them.
        let policy = crate::act::policy::responder::policy_of(&config.decisions, &own, nodes)
            .map_err(|e| HoneypotError::Runtime(format!("decisions: {e}")))?;
        let (nats, bucket) = (config.nats.clone(), config.nats.decisions_bucket.clone());
        crate::act::policy::shared::spawn_watcher(nats, bucket, config.store.clone(), policy)
            .map_err(|e| HoneypotError::Runtime(format!("starting the shared decisions watcher: {e}")))?;
    }
    Ok(())
}

/// Switches to `user` when running as root; files already open stay usable. Then (root or
/// not) sets no-new-privileges, so nothing this process could ever execute gains privileges.
pub fn drop_privileges(config: &HoneypotConfig) -> Result<(), HoneypotError> {
    switch_user(config)?;
    nix::sys::prctl::set_no_new_privs()
        .map_err(|e| HoneypotError::Privileges(config.user.clone().unwrap_or_default(), format!("no_new_privs: {e}")))
}

fn switch_user(config: &HoneypotConfig) -> Result<(), HoneypotError> {
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
    // The store and its WAL files must stay writable for the new user. A link planted at one
    // of those names is refused, never followed (chown through it would give away its target).
    let store_files: &[&str] =
        if crate::sinks::postgres_url(&config.store).is_some() { &[] } else { &["", "-wal", "-shm"] };
    for suffix in store_files {
        let path = crate::fsutil::with_suffix(&config.store, suffix);
        crate::fsutil::chown_existing(&path, user.uid.as_raw(), user.gid.as_raw())
            .map_err(|e| fail(format!("chown {}: {e}", path.display())))?;
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

/// Serves until `stop` is set, then flushes every event and recovery and returns the summary
/// (also when the store could not take everything: the summary says so).
pub fn serve(
    config: &HoneypotConfig,
    bound: Bound,
    core: Arc<Core>,
    store: &StoreHealth,
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
    let finish_error = core.finish().err().map(|e| e.to_string());
    let s = &core.stats;
    Ok(HoneypotSummary {
        received: s.received.load(Ordering::Relaxed),
        answers: s.answers.load(Ordering::Relaxed),
        source_rate_limited: s.source_rate_limited.load(Ordering::Relaxed),
        global_rate_limited: s.global_rate_limited.load(Ordering::Relaxed),
        amplification_suppressed: s.amplification_suppressed.load(Ordering::Relaxed),
        retransmissions: s.retransmissions.load(Ordering::Relaxed),
        retransmissions_withheld: s.retransmissions_withheld.load(Ordering::Relaxed),
        open_invites_forgotten: core.open_invites_forgotten(),
        oversized: s.oversized.load(Ordering::Relaxed),
        banned: s.banned.load(Ordering::Relaxed),
        recorder_waits: core.recorder_waits(),
        auth_attempts: s.auth_attempts.load(Ordering::Relaxed),
        passwords_recovered: s.recovered.load(Ordering::Relaxed),
        intel_skipped: core.intel_dropped(),
        store: store.status(),
        finish_error,
        intel_skipped_by: core.intel_skipped(),
        net: s.net.summary(),
    })
}

impl HoneypotSummary {
    /// The summary as text lines.
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "received {} messages, sent {} answers; {} authentication attempts, {} passwords recovered\n\
             not answered: {} over a source's rate, {} over the global rate, {} oversized, {} from banned sources; \
             {} answers withheld (amplification)\n",
            self.received,
            self.answers,
            self.auth_attempts,
            self.passwords_recovered,
            self.source_rate_limited,
            self.global_rate_limited,
            self.oversized,
            self.banned,
            self.amplification_suppressed
        ) + &format!(
            "retransmitted {} final answers to INVITE ({} withheld, amplification); {} INVITE transactions \
             forgotten with answers still to send\n",
            self.retransmissions, self.retransmissions_withheld, self.open_invites_forgotten
        ) + &self.net.to_text();
        if self.recorder_waits > 0 {
            text.push_str(&format!(
                "recording fell behind: listeners waited {} times for room in the recorder's queue\n",
                self.recorder_waits
            ));
        }
        if let Some(store) = self.store.describe() {
            text.push_str(&store);
            text.push('\n');
        }
        if let Some(e) = &self.finish_error {
            text.push_str(&format!("finishing failed, not everything was stored: {e}\n"));
        }
        let s = &self.intel_skipped_by;
        if s.total() > 0 {
            text.push_str(&format!(
                "password recovery skipped {} attempts: {} queue full, {} over a source's share, {} repeats, {} at stop\n",
                s.total(),
                s.queue_full,
                s.source_full,
                s.repeated,
                s.stopped
            ));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_tls_key_replaces_a_planted_link_instead_of_writing_through_it() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("root-only");
        std::fs::write(&victim, "precious\n").unwrap();
        let state = dir.path().join("state");
        std::fs::create_dir(&state).unwrap();
        std::os::unix::fs::symlink(&victim, state.join("sipscope-tls-key.pem")).unwrap();
        let text = format!(
            "store = {:?}\n[[listen]]\ntransport = \"tls\"\naddress = \"127.0.0.1\"\nport = 0\n",
            state.join("s.db")
        );
        let config = HoneypotConfig::parse(&text, "test").unwrap();
        let bound = bind(&config).unwrap();
        assert_eq!(bound.addresses().len(), 1);
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
        let key = state.join("sipscope-tls-key.pem");
        assert!(!std::fs::symlink_metadata(&key).unwrap().file_type().is_symlink());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }

    /// The error as `main` prints it (anyhow's `{:#}`: each cause after a colon).
    fn printed(e: impl std::error::Error + Send + Sync + 'static) -> String {
        format!("{:#}", anyhow::Error::from(e))
    }

    #[test]
    fn a_bind_error_says_its_cause_once() {
        // 192.0.2.1 (TEST-NET-1) is not an address of this host: binding fails, nothing is sent.
        let text = "[[listen]]\ntransport = \"udp\"\naddress = \"192.0.2.1\"\nport = 0\n";
        let config = HoneypotConfig::parse(text, "test").unwrap();
        let Err(err) = bind(&config) else { panic!("192.0.2.1 is not local") };
        let printed = printed(err);
        assert_eq!(printed.matches("os error").count(), 1, "{printed}");
        assert!(printed.starts_with("listening on udp 192.0.2.1:0: "), "{printed}");
    }

    #[test]
    fn wrapped_errors_say_their_cause_once() {
        let io = || std::io::Error::from_raw_os_error(28);
        let errors: Vec<HoneypotError> = vec![
            HoneypotError::Store(crate::sinks::SinkError::Io { what: "writing x".into(), cause: io() }),
            HoneypotError::Tls(super::tls::TlsError::Io("k.pem".into(), io())),
            HoneypotError::File("h.log".into(), io()),
            HoneypotError::Nodes(crate::nodes::Nodes::load(std::path::Path::new("/nonexistent/n.toml")).unwrap_err()),
        ];
        for e in errors {
            let printed = printed(e);
            assert_eq!(printed.matches("os error").count(), 1, "{printed}");
        }
        let wordlist = crate::sources::honeypot::config::IntelConfig {
            wordlist: Some("/nonexistent/words".into()),
            ..Default::default()
        };
        let Err(e) = super::super::intel::Intel::spawn(&wordlist, |_| {}) else { panic!("no such wordlist") };
        let printed = printed(HoneypotError::from(e));
        assert_eq!(printed.matches("os error").count(), 1, "{printed}");
    }
}
