//! Flags shared by the commands that write to the store (`ingest`, `capture`, `hep`, `logs`,
//! `import`) and their ending.

use anyhow::Context;
use sipscope::nodes::Nodes;
use sipscope::pipeline::{EventsMode, Pipeline, PipelineSettings};
use sipscope::sinks::hep::{HepOutConfig, HepOutTransport, DEFAULT_QUEUE_PACKETS};
use sipscope::sinks::{RunKind, SinkConfig};
use sipscope::sources::summary::CaptureSummary;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    /// The event store: a SQLite file, created when missing, or a PostgreSQL database
    /// (`postgres://user@host/db`), its schema created when missing.
    #[arg(long, default_value = "sipscope.db")]
    db: PathBuf,
    /// PostgreSQL store only: drop daily event partitions older than this many days.
    #[arg(long, value_name = "DAYS")]
    retention_days: Option<u32>,
    /// Sensor name stored with every event (default: this host's name).
    #[arg(long)]
    sensor: Option<String>,
    /// Nodes file (TOML): which node each event hit, by address or tunnel endpoint.
    #[arg(long)]
    nodes: Option<PathBuf>,
    /// Which events to store: all, none (counts only), or sample:N (one in N).
    #[arg(long, default_value = "all")]
    events: EventsMode,
    /// Also append every stored event to this file as JSON Lines.
    #[arg(long, value_name = "FILE")]
    jsonl: Option<PathBuf>,
    /// Also send every stored event to this HOMER collector in HEPv3 (`ADDR:PORT`).
    #[arg(long, value_name = "ADDR:PORT")]
    hep_out: Option<std::net::SocketAddr>,
    /// HEP out over TCP instead of UDP.
    #[arg(long, requires = "hep_out")]
    hep_out_tcp: bool,
    /// Capture id of the packets sent (HEP chunk 0x000c).
    #[arg(long, default_value_t = 2001, requires = "hep_out", value_name = "ID")]
    hep_out_id: u32,
    /// Auth key sent in every packet, for collectors that check one.
    #[arg(long, requires = "hep_out", value_name = "KEY")]
    hep_out_key: Option<String>,
    /// Forward only these methods (comma-separated) and the responses to them.
    #[arg(long, requires = "hep_out", value_delimiter = ',', value_name = "METHODS")]
    hep_out_methods: Option<Vec<String>>,
    /// Print the summary as JSON on standard output.
    #[arg(long)]
    json: bool,
    /// Do not run the analysis engine (flows, tools, stages, numbers …); `sipscope analyze`
    /// can compute it later from stored events.
    #[arg(long)]
    no_analysis: bool,
    /// Length of an analysis run of `capture`, `hep` and `logs --follow`, seconds: its run-wide results are stored at
    /// the end of each, and a run a crash interrupts is recovered from its events at the next
    /// start. (`ingest` runs the engine once per file.)
    #[arg(long, default_value_t = 3600, value_name = "SECONDS")]
    analysis_segment: u64,
    /// `collect` reads from NATS: its `--nats` names the broker it consumes from, and its
    /// store publishes nothing.
    #[arg(skip)]
    consume: bool,
    #[command(flatten)]
    response: super::response_args::ResponseArgs,
    #[command(flatten)]
    rules: super::rules::RulesArgs,
    #[command(flatten)]
    nats: super::nats_args::NatsArgs,
}

impl StoreArgs {
    /// Reads the nodes file and settles the sensor name and what becomes of each message.
    pub fn settings(&self, run: RunKind) -> anyhow::Result<PipelineSettings> {
        let nodes = match &self.nodes {
            Some(path) => Nodes::load(path)?,
            None => Nodes::default(),
        };
        let sensor = self.sensor.clone().unwrap_or_else(super::host_name);
        let mut settings = PipelineSettings::new(sensor, nodes, run);
        settings.events = self.events;
        if run == RunKind::Capture {
            settings.segment_every_ns = Some(self.analysis_segment_ns());
        }
        if self.no_analysis {
            settings.analysis = None;
        }
        settings.rules = self.rules.load()?;
        Ok(settings)
    }

    /// The length of an analysis run of a long-running command, ns (`--analysis-segment`).
    pub fn analysis_segment_ns(&self) -> i64 {
        i64::try_from(self.analysis_segment.max(1).saturating_mul(1_000_000_000)).unwrap_or(i64::MAX)
    }

    /// Opens (creating and migrating) the store on its writer thread and the extra sinks, and
    /// builds the pipeline.
    pub fn pipeline(&self, settings: PipelineSettings) -> anyhow::Result<Pipeline> {
        self.pipeline_watched(settings, None)
    }

    /// [`Self::pipeline`], also copying events, alerts and decisions into `live` (the
    /// embedded API's live stream: `collect --api`).
    pub fn pipeline_watched(
        &self,
        settings: PipelineSettings,
        live: Option<sipscope::sinks::live::LiveFeed>,
    ) -> anyhow::Result<Pipeline> {
        let mut to_continue = None;
        if let (Some(analysis), true) =
            (&settings.analysis, self.db.exists() || sipscope::sinks::postgres_url(&self.db).is_some())
        {
            // Runs an earlier process left unfinished (killed) are analysed again from their
            // events first, so the results follow the events; a long run continues its own.
            let rules = settings.rules.as_ref();
            let own = settings.segment_every_ns.map(|segment_ns| sipscope::sources::replay::OwnScope {
                kind: settings.run.0,
                sensor: &settings.sensor,
                segment_ns,
                max_stopped_replay: sipscope::sources::replay::MAX_STOPPED_REPLAY,
            });
            let recovery = sipscope::sources::replay::recover_interrupted(
                &self.db,
                analysis,
                rules,
                sipscope::time::now_ns(),
                own,
            )
            .with_context(|| {
                format!("recovering interrupted analysis runs in {}", sipscope::sinks::store_name(&self.db))
            })?;
            to_continue = recovery.to_continue;
        }
        let hep_out = self.hep_out.map(|to| HepOutConfig {
            to,
            transport: if self.hep_out_tcp { HepOutTransport::Tcp } else { HepOutTransport::Udp },
            capture_id: self.hep_out_id,
            key: self.hep_out_key.clone(),
            node_name: None,
            methods: self.hep_out_methods.clone(),
            queue_packets: DEFAULT_QUEUE_PACKETS,
        });
        let nats = if self.consume { None } else { self.nats.config().map(|n| (n, settings.sensor.clone())) };
        if nats.is_some() {
            // The publisher says when the broker is away or refuses (once per cause).
            crate::init_logging("warn,async_nats=off");
        }
        let config = SinkConfig {
            store: self.db.clone(),
            jsonl: self.jsonl.clone(),
            hep_out,
            backlog: None,
            nats,
            retention_days: self.retention_days,
        };
        let sinks = sipscope::sinks::open(&config)
            .with_context(|| format!("opening {}", sipscope::sinks::store_name(&self.db)))?;
        let response = if self.response.requested() {
            Some(self.response.open(&self.db, &settings.sensor, &settings.nodes)?)
        } else {
            None
        };
        let mut extra = sinks.extra;
        if let Some(live) = &live {
            extra.push(Box::new(live.clone()));
        }
        let mut pipeline = Pipeline::new(settings, sinks.store, extra);
        if let Some(response) = response {
            attach(&mut pipeline, response)?;
        }
        if let (Some(live), true) = (live, pipeline.has_rules()) {
            pipeline.add_alert_sink(Box::new(live));
        }
        if let Some(run) = to_continue {
            sipscope::sources::replay::carry_into(&mut pipeline, &self.db, &run).with_context(|| {
                format!("continuing analysis run {} in {}", run.run, sipscope::sinks::store_name(&self.db))
            })?;
        }
        Ok(pipeline)
    }
}

/// Gives the pipeline the alert outputs and the decision responder. They act on the rules'
/// alerts, so asking for them with the rules off is an error rather than flags that silently
/// do nothing.
fn attach(pipeline: &mut Pipeline, response: super::response_args::Response) -> anyhow::Result<()> {
    if !pipeline.has_rules() {
        anyhow::bail!("alert outputs and decisions act on the rules' alerts: drop --no-rules");
    }
    let super::response_args::Response { sinks, responder } = response;
    for sink in sinks {
        pipeline.add_alert_sink(sink);
    }
    if let Some(responder) = responder {
        pipeline.set_responder(responder);
    }
    Ok(())
}

impl StoreArgs {
    /// The broker of `--nats`, for `collect` (which consumes from it: its own store then
    /// publishes nothing).
    pub fn consume_from_nats(&mut self) -> Option<sipscope::sinks::nats::NatsConfig> {
        self.consume = true;
        self.nats.config()
    }

    /// Whether `--sensor` was given.
    pub fn sensor_given(&self) -> bool {
        self.sensor.is_some()
    }

    /// Whether the summary is asked for as JSON.
    pub fn json(&self) -> bool {
        self.json
    }

    /// The store's path.
    pub fn db(&self) -> &std::path::Path {
        &self.db
    }

    /// Prints the summary (text on stderr, or JSON on stdout) and picks the exit code.
    pub fn finish(&self, summary: &CaptureSummary) -> anyhow::Result<ExitCode> {
        if self.json {
            println!("{}", serde_json::to_string_pretty(summary)?);
        } else {
            eprint!("{}", summary.to_text());
        }
        Ok(if summary.skipped_anything() { ExitCode::from(1) } else { ExitCode::SUCCESS })
    }
}
