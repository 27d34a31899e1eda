//! `sipscope parse [--strict] [--stream] FILE... | -`

use anyhow::Context;
use sipscope::output::{json::JsonWriter, message::write_message};
use sipscope_sip::framing::{frame, FrameLimits, Framed};
use sipscope_sip::{Framing, Message, ParseLimits};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Largest input read from one file or standard input: attacker captures can be anything, and
/// `parse` is for messages, not archives (use `ingest` for those).
const MAX_INPUT: u64 = 64 * 1024 * 1024;

#[derive(Debug, clap::Args)]
pub struct ParseArgs {
    /// Exit 1 when any message has an anomaly that RFC 3261 forbids (notices do not count).
    #[arg(long)]
    strict: bool,
    /// Treat each input as a byte stream (TCP/TLS) holding any number of messages framed by
    /// Content-Length, instead of one datagram per file.
    #[arg(long)]
    stream: bool,
    /// Files or directories (read recursively, in name order); `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    inputs: Vec<PathBuf>,
}

/// What happened to the inputs, for the exit code.
#[derive(Debug, Default)]
struct Outcome {
    unreadable: usize,
    not_sip: usize,
    violations: usize,
}

pub fn run(args: ParseArgs) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut outcome = Outcome::default();
    let mut files = Vec::new();
    for input in &args.inputs {
        match sipscope::sources::files::collect_files(std::slice::from_ref(input)) {
            Ok(found) => files.extend(found),
            Err(e) => {
                eprintln!("sipscope: cannot read {}: {e}", input.display());
                outcome.unreadable += 1;
            }
        }
    }
    for path in files {
        let name = path.display().to_string();
        let bytes = match read_input(&path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("sipscope: cannot read {name}: {e:#}");
                outcome.unreadable += 1;
                continue;
            }
        };
        if args.stream {
            parse_stream(&bytes, &name, args.strict, &mut out, &mut outcome)?;
        } else {
            parse_one(&bytes, 0, Framing::Datagram, &name, &mut out, &mut outcome)?;
        }
    }
    out.flush()?;
    Ok(if outcome.unreadable + outcome.not_sip > 0 {
        ExitCode::from(2)
    } else if args.strict && outcome.violations > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn parse_one(
    bytes: &[u8],
    offset: usize,
    framing: Framing,
    name: &str,
    out: &mut impl Write,
    outcome: &mut Outcome,
) -> anyhow::Result<()> {
    match Message::parse_with(bytes, framing, ParseLimits::default()) {
        Ok(msg) => {
            outcome.violations += usize::from(msg.violates_rfc3261());
            let mut w = JsonWriter::new();
            write_message(&mut w, &msg, name, offset);
            let mut line = w.take();
            line.push(b'\n');
            out.write_all(&line)?;
        }
        Err(e) => {
            // The name came from the command line, not from the attacker; the error text is ours.
            eprintln!("sipscope: {name} at byte {offset}: {e}");
            outcome.not_sip += 1;
        }
    }
    Ok(())
}

fn parse_stream(
    bytes: &[u8],
    name: &str,
    _strict: bool,
    out: &mut impl Write,
    outcome: &mut Outcome,
) -> anyhow::Result<()> {
    let mut pos = 0;
    while pos < bytes.len() {
        match frame(&bytes[pos..], FrameLimits::default()) {
            Framed::Complete(len) => {
                parse_one(&bytes[pos..pos + len], pos, Framing::Stream, name, out, outcome)?;
                pos += len;
            }
            Framed::KeepAlive(len) => pos += len,
            Framed::NeedMore(_) => {
                eprintln!(
                    "sipscope: {name} at byte {pos}: stream ends inside a message ({} bytes left)",
                    bytes.len() - pos
                );
                // Still show what arrived: a truncated message is evidence too.
                parse_one(&bytes[pos..], pos, Framing::Stream, name, out, outcome)?;
                outcome.not_sip += 1;
                break;
            }
            Framed::Invalid(e) => {
                eprintln!("sipscope: {name} at byte {pos}: cannot frame the stream: {e}");
                parse_one(&bytes[pos..], pos, Framing::Stream, name, out, outcome)?;
                outcome.not_sip += 1;
                break;
            }
        }
    }
    Ok(())
}

fn read_input(path: &Path) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if path == Path::new("-") {
        std::io::stdin().lock().take(MAX_INPUT + 1).read_to_end(&mut bytes).context("standard input")?;
    } else {
        let file = std::fs::File::open(path)?;
        file.take(MAX_INPUT + 1).read_to_end(&mut bytes)?;
    }
    anyhow::ensure!(bytes.len() as u64 <= MAX_INPUT, "larger than {MAX_INPUT} bytes");
    Ok(bytes)
}
