//! The `sipscope` command.

mod cli;

/// mimalloc instead of glibc's malloc: the honeypot allocates events on its network threads and
/// frees them on the store's writer thread, and glibc serialises such cross-thread frees on an
/// arena lock (measured: a third of the network thread's time waiting on it).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
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
