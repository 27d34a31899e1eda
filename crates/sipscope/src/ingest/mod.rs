//! `sipscope ingest`: capture files → SIP messages → events in the store, with a summary.
//!
//! Per file: hash the content (a file ingested completely before is skipped; an interrupted one
//! is replaced), read frames, hand them to the wire decoder, turn every SIP message into an
//! event, and mark the file complete only after its last event is flushed.

pub mod events;
pub mod progress;
pub mod summary;

use crate::analysis::engine::{AnalysisConfig, Analyzer};
use crate::sinks::sqlite::{BackgroundStore, FileStart, Store};
use crate::sinks::SinkError;
use crate::sources::pcap::{self, Item};
use crate::sources::wire::WireDecoder;
use progress::Progress;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use summary::Summary;

pub use events::{EventOptions, EventWriter};

/// Which events to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventsMode {
    /// Every SIP message becomes a row.
    All,
    /// No rows: counts (and, later, analysis aggregates) only.
    None,
    /// One message in N.
    Sample(u64),
}

impl std::str::FromStr for EventsMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "all" => Ok(EventsMode::All),
            "none" => Ok(EventsMode::None),
            _ => match s.strip_prefix("sample:").map(str::parse::<u64>) {
                Some(Ok(n)) if n > 0 => Ok(EventsMode::Sample(n)),
                _ => Err(format!("expected all, none or sample:N (N > 0), not {s:?}")),
            },
        }
    }
}

/// Options of one run.
pub struct IngestOptions {
    /// What becomes of each SIP message.
    pub events: EventOptions,
    /// Re-ingest files already ingested.
    pub force: bool,
    /// No progress output.
    pub quiet: bool,
}

/// Why a run stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The store failed (disk full, locked …): nothing more can be recorded.
    #[error(transparent)]
    Sink(#[from] SinkError),
}

/// Expands directories (recursively, name order) into files.
pub fn collect_files(inputs: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        collect(input, &mut files)?;
    }
    Ok(files)
}

fn collect(path: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if !path.is_dir() {
        files.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    entries.sort();
    for e in entries {
        collect(&e, files)?;
    }
    Ok(())
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut buf)? {
            0 => break,
            n => hasher.update(&buf[..n]),
        }
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Ingests `files` into `store`. The store runs on a writer thread of its own while this one
/// reads, decodes and parses.
pub fn run(files: &[PathBuf], store: Store, opts: &IngestOptions) -> Result<Summary, IngestError> {
    let mut store = BackgroundStore::spawn(store);
    let summary = run_files(files, &mut store, opts);
    drop(store); // joins the writer: everything is committed before the summary is shown
    summary
}

fn run_files(files: &[PathBuf], store: &mut BackgroundStore, opts: &IngestOptions) -> Result<Summary, IngestError> {
    let started = std::time::Instant::now();
    let mut analysis = Analysis::new(opts.events.analysis);
    let mut summary = Summary::default();
    let total: u64 = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
    let mut progress = Progress::new(total, opts.quiet);
    let mut done_bytes = 0u64;
    for path in files {
        let shown = path.display().to_string();
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let hash = match sha256_file(path) {
            Ok(h) => h,
            Err(e) => {
                summary.files_unreadable += 1;
                summary.problem(format!("{shown}: cannot read: {e}"));
                continue;
            }
        };
        let (path_text, sensor, force, now) = (shown.clone(), opts.events.sensor.clone(), opts.force, now_ns());
        let file_id = match store.call(move |s| s.begin_file(&hash, &path_text, size, &sensor, now, force))? {
            FileStart::AlreadyIngested { .. } => {
                summary.files_already_ingested += 1;
                done_bytes += size;
                continue;
            }
            FileStart::Ingest { id, replaced } => {
                summary.events_replaced += replaced;
                id
            }
        };
        let before = summary.packets;
        let messages_before = summary.sip_messages;
        let problems_before = summary.problems;
        analysis.begin(store)?;
        match ingest_file(path, file_id, store, opts, &mut summary, (&mut progress, done_bytes), analysis.engine()) {
            Ok(()) => {
                summary.files += 1;
                let skipped = summary.problems - problems_before;
                let (packets, messages) = (summary.packets - before, summary.sip_messages - messages_before);
                let now = now_ns();
                store.call(move |s| s.finish_file(file_id, packets, messages, skipped, now))?;
                analysis.hand_over_flows(store)?;
            }
            Err(FileError::Capture(e)) => {
                summary.files_unreadable += 1;
                summary.problem(format!("{shown}: {e}"));
            }
            Err(FileError::Sink(e)) => return Err(e.into()),
        }
        done_bytes += size;
    }
    analysis.finish(store)?;
    progress.finish();
    summary.elapsed_s = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// The analysis engine over an ingest run: one run in the store, opened with the first file
/// ingested, flows handed over after each file, the rest stored at the end.
struct Analysis {
    engine: Option<Analyzer>,
    run: Option<i64>,
    started_ns: i64,
}

impl Analysis {
    fn new(enabled: bool) -> Analysis {
        Analysis { engine: enabled.then(|| Analyzer::new(AnalysisConfig::default())), run: None, started_ns: now_ns() }
    }

    fn engine(&mut self) -> Option<(&mut Analyzer, i64)> {
        self.engine.as_mut().zip(self.run)
    }

    fn begin(&mut self, store: &mut BackgroundStore) -> Result<(), SinkError> {
        if self.engine.is_some() && self.run.is_none() {
            let started = self.started_ns;
            self.run = Some(store.call(move |s| s.begin_analysis_run("ingest", started, false))?);
        }
        Ok(())
    }

    fn hand_over_flows(&mut self, store: &mut BackgroundStore) -> Result<(), SinkError> {
        if let (Some(engine), Some(run)) = (self.engine.as_mut(), self.run) {
            let rows = engine.hand_over();
            if !rows.is_empty() {
                store.call(move |s| s.append_handover(run, &rows))?;
            }
        }
        Ok(())
    }

    fn finish(&mut self, store: &mut BackgroundStore) -> Result<(), SinkError> {
        if let (Some(engine), Some(run)) = (self.engine.take(), self.run) {
            let result = engine.finish();
            let now = now_ns();
            store.call(move |s| s.finish_analysis_run(run, now, &result))?;
        }
        Ok(())
    }
}

enum FileError {
    Capture(pcap::CaptureError),
    Sink(SinkError),
}

fn ingest_file(
    path: &Path,
    file_id: i64,
    store: &mut BackgroundStore,
    opts: &IngestOptions,
    summary: &mut Summary,
    (progress, done_bytes): (&mut Progress, u64),
    analyzer: Option<(&mut Analyzer, i64)>,
) -> Result<(), FileError> {
    let shown = path.display().to_string();
    let mut reader = pcap::open(path).map_err(FileError::Capture)?;
    let mut wire = WireDecoder::new();
    let mut writer = EventWriter::new(store, &opts.events, Some(file_id)).with_analyzer(analyzer);
    loop {
        let item = match reader.next_item() {
            Ok(Some(item)) => item,
            Ok(None) => break,
            Err(e) => {
                summary.problem(format!("{shown}: read error after byte {}: {e}", reader.offset()));
                break;
            }
        };
        match item {
            Item::Frame(frame) => {
                summary.packets += 1;
                summary.bytes += frame.data.len() as u64;
                if (frame.data.len() as u64) < u64::from(frame.orig_len) {
                    summary.snaplen_cut += 1;
                }
                wire.push_frame(&frame, summary, &mut |s, m| writer.accept(s, m));
                if summary.packets.is_multiple_of(65_536) {
                    progress.update(done_bytes + reader.offset(), summary.packets);
                }
            }
            Item::Problem(p) => summary.problem(format!("{shown}: {p}")),
        }
        if writer.failed() {
            break;
        }
    }
    wire.finish(summary, &mut |s, m| writer.accept(s, m));
    writer.finish().map_err(FileError::Sink)
}
