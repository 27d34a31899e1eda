//! `sipscope ingest`: capture files → SIP messages → events in the store, with a summary.
//!
//! Per file: hash the content (a file ingested completely before is skipped; an interrupted one
//! is replaced), read frames, hand them to the wire decoder, turn every SIP message into an
//! event, and mark the file complete only after its last event is flushed. The decoded records
//! are hashed too (`content`): a file that holds every record of an earlier one (a compressed
//! copy, the finished version of a growing capture) replaces it, so nothing is stored twice.

pub mod content;
pub mod progress;

use crate::pipeline::{Arrival, Pipeline};
use crate::sinks::{CaptureFile, FileCounts, FileStart, SinkError};
use crate::sources::pcap::{self, Item};
use crate::sources::summary::CaptureSummary;
use crate::sources::wire::WireDecoder;
use crate::time::now_ns;
use content::ContentTracker;
use progress::Progress;
use std::path::{Path, PathBuf};

/// Options of one run (what becomes of each message is the pipeline's business).
#[derive(Debug, Clone, Default)]
pub struct FilesOptions {
    /// Re-ingest files already ingested.
    pub force: bool,
    /// No progress output.
    pub quiet: bool,
    /// Sensor name, for the registry.
    pub sensor: String,
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

/// Reads `files` into `pipeline`, then finishes it: every event is durable and the analysis
/// run closed before the summary is returned.
pub fn run(files: &[PathBuf], mut pipeline: Pipeline, opts: &FilesOptions) -> Result<CaptureSummary, IngestError> {
    let started = std::time::Instant::now();
    let mut summary = CaptureSummary::default();
    let total: u64 = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
    let mut progress = Progress::new(total, opts.quiet);
    let mut done_bytes = 0u64;
    for path in files {
        let shown = path.display().to_string();
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let sha256 = match crate::fsutil::sha256_file(path) {
            Ok((h, _)) => h,
            Err(e) => {
                summary.files_unreadable += 1;
                summary.problem(format!("{shown}: cannot read: {e}"));
                continue;
            }
        };
        let file = CaptureFile { sha256, path: shown.clone(), size, sensor: opts.sensor.clone() };
        match pipeline.begin_file(file, now_ns(), opts.force)? {
            FileStart::AlreadyIngested { .. } => {
                summary.files_already_ingested += 1;
                done_bytes += size;
                continue;
            }
            FileStart::Ingest { replaced, .. } => summary.events_replaced += replaced,
        }
        let (packets_before, messages_before) = (summary.packets, pipeline.counters().sip_messages);
        let problems_before = summary.problems;
        let this = pipeline.file_id().unwrap_or(0);
        let mut content = ContentTracker::new(pipeline.store().known_contents()?, this);
        match read_file(path, &mut pipeline, &mut summary, (&mut progress, done_bytes), &mut content) {
            Ok(()) => {
                summary.files += 1;
                let counts = FileCounts {
                    packets: summary.packets - packets_before,
                    messages: pipeline.counters().sip_messages - messages_before,
                    skipped: summary.problems - problems_before,
                    content: Some(content.finish()),
                };
                pipeline.finish_file(counts, now_ns())?;
            }
            Err(e) => {
                pipeline.abandon_file(now_ns())?;
                summary.files_unreadable += 1;
                summary.problem(format!("{shown}: {e}"));
            }
        }
        if pipeline.failed() {
            break;
        }
        done_bytes += size;
    }
    summary.absorb(&pipeline.finish(now_ns())?.counters);
    progress.finish();
    summary.elapsed_s = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Reads one capture file into the pipeline. A store failure is left in the pipeline (it
/// stops taking messages, and the caller's next call returns the error).
fn read_file(
    path: &Path,
    pipeline: &mut Pipeline,
    summary: &mut CaptureSummary,
    (progress, done_bytes): (&mut Progress, u64),
    content: &mut ContentTracker,
) -> Result<(), pcap::CaptureError> {
    let shown = path.display().to_string();
    let mut reader = pcap::open(path)?;
    let mut wire = WireDecoder::new();
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
                summary.frame(&frame);
                for earlier in content.record(&frame) {
                    supersede(pipeline, earlier, &shown, summary);
                }
                wire.push_frame(&frame, summary, &mut |_, m| pipeline.accept_with_note(Arrival::from(m), m.note()));
                if summary.packets.is_multiple_of(65_536) {
                    progress.update(done_bytes + reader.offset(), summary.packets);
                }
            }
            Item::Problem(p) => summary.problem(format!("{shown}: {p}")),
        }
        if pipeline.failed() {
            break;
        }
    }
    wire.finish(summary, &mut |_, m| pipeline.accept_with_note(Arrival::from(m), m.note()));
    Ok(())
}

/// File `earlier`'s records are exactly the records of `shown` read so far: its events and
/// analysis give way to this file's. A store failure is left for the caller's next call.
fn supersede(pipeline: &mut Pipeline, earlier: i64, shown: &str, summary: &mut CaptureSummary) {
    let Some(this) = pipeline.file_id() else { return };
    match pipeline.store().supersede_file(earlier, this) {
        Ok(deleted) => {
            summary.files_superseded += 1;
            summary.events_replaced += deleted;
            tracing::info!(
                "{shown} holds every record of an earlier file (#{earlier}): its {deleted} events were replaced"
            );
        }
        Err(e) => summary.problem(format!("{shown}: replacing earlier file #{earlier}: {e}")),
    }
}
