//! Capture files: pcap and pcapng, plain or compressed with gzip or zstd (recognised by their
//! magic bytes, not their names; every gzip member and every zstd frame, in order).

mod buffer;
pub mod reader;
pub mod writer;
mod zstd;

pub use reader::{CaptureError, CaptureReader, Frame, Item, Problem};

use std::io::{BufReader, Read};
use std::path::Path;

/// Opens a capture file, decompressing on the fly when it is gzip or zstd.
pub fn open(path: &Path) -> Result<CaptureReader<Box<dyn Read + Send>>, CaptureError> {
    read_from(BufReader::with_capacity(1 << 20, std::fs::File::open(path)?))
}

/// Reads a capture from any byte source as [`open`] reads a file: gzip and zstd recognised by
/// their magic bytes and decompressed on the fly. Public for the `capture` fuzz target, which
/// hands it arbitrary bytes.
pub fn read_from<'a>(
    mut input: impl Read + Send + 'a,
) -> Result<CaptureReader<Box<dyn Read + Send + 'a>>, CaptureError> {
    let mut magic = [0u8; 4];
    let n = read_up_to(&mut input, &mut magic)?;
    let head = std::io::Cursor::new(magic[..n].to_vec()).chain(input);
    let inner: Box<dyn Read + Send + 'a> = match magic {
        [0x1f, 0x8b, ..] => Box::new(flate2::read::MultiGzDecoder::new(head)),
        [0x28, 0xb5, 0x2f, 0xfd] => Box::new(zstd::ZstdFrames::new(head)?),
        _ => Box::new(head),
    };
    CaptureReader::new(inner)
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            read => n += read,
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests;
