//! The `sipscope` command.

mod cli;

/// mimalloc instead of glibc's malloc: the honeypot allocates events on its network threads and
/// frees them on the store's writer thread, and glibc serialises such cross-thread frees on an
/// arena lock (measured: a third of the network thread's time waiting on it).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use std::io::IsTerminal;
use std::process::ExitCode;

/// Logs (`tracing`) to standard error, filtered by `SIPSCOPE_LOG` (else `default_filter`).
/// Colour only when standard error is a terminal and `NO_COLOR` is not set (no escape codes in
/// a log file or a journal).
pub(crate) fn init_logging(default_filter: &str) {
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SIPSCOPE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .try_init();
}

fn main() -> ExitCode {
    // No transparent huge pages for this process: on kernels that use them for every anonymous
    // mapping (`enabled = always`), each fresh region the allocator touches is zeroed 2 MiB at a
    // time; the analysis and the batches between threads allocate and return memory all along,
    // and that zeroing took a third of ingest's CPU (docs/benchmarks.md, "Pipeline"). Failing
    // to set it (an old kernel) changes nothing but speed.
    let _ = nix::sys::prctl::set_thp_disable(true);
    sipscope::metrics::set_started(sipscope::time::now_ns() as f64 / 1e9);
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        // A reader that stopped early (`| head`) is not an error worth a message.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sipscope: {e:#}");
            ExitCode::from(2)
        }
    }
}
