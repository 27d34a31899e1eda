//! Compressed batches (wire version 3): a publisher's batch of rows (version 2) compressed with
//! zstd before it goes to the broker. The broker writes every message to its file store and
//! sends it again to the collector; the bench's batches of 256 rows (~115 kB) shrink about 14×
//! at zstd's level 1, which costs the publisher less CPU than the bytes cost the broker and
//! the sockets (docs/benchmarks.md, "Compressed batches").
//!
//! Layout: [`PACKED_VERSION`], a u32 (big-endian) length of the batch it holds, then one or
//! more zstd frames whose content is that many bytes, a version-2 batch. Decoding trusts
//! nothing: the stated length is at most [`MAX_UNPACKED`], the output buffer is that length
//! and no more (zstd stops at its end: a decompression bomb is an error, never unbounded
//! memory), the content must be exactly that long and be a version-2 batch.

use super::{WireError, BATCH_VERSION, VERSION};
use std::borrow::Cow;
use std::cell::RefCell;

/// The version byte of a compressed batch.
pub const PACKED_VERSION: u8 = 3;

/// Largest batch a compressed message may unpack to, bytes. A batch holds at most
/// `message_bytes` of rows (default 256 KiB; a single larger row goes alone, and the broker's
/// `max_payload` bounds it, 1 MiB by default and at most 64 MiB): 64 MiB covers every batch a
/// publisher makes and bounds what a hostile message can make the collector allocate.
pub const MAX_UNPACKED: usize = 64 << 20;

/// zstd's level for batches: its fastest standard level (negative levels compress this bench's
/// rows half as well for little less CPU).
const LEVEL: i32 = 1;

/// Compresses version-2 batches; one per publisher run, its context reused.
pub struct Packer {
    compressor: zstd::bulk::Compressor<'static>,
    /// The last batch's frames (zstd writes a `Vec` from its start, so not into `out`).
    frames: Vec<u8>,
}

impl Packer {
    /// A packer at [`LEVEL`].
    pub fn new() -> Result<Packer, WireError> {
        let compressor = zstd::bulk::Compressor::new(LEVEL).map_err(|_| WireError::Compress)?;
        Ok(Packer { compressor, frames: Vec::new() })
    }

    /// Appends the compressed form of `batch` (a version-2 batch from `encode_batch`) to
    /// `out`.
    pub fn pack(&mut self, batch: &[u8], out: &mut Vec<u8>) -> Result<(), WireError> {
        if batch.first() != Some(&BATCH_VERSION) || batch.len() > MAX_UNPACKED {
            return Err(WireError::Compress);
        }
        let length = u32::try_from(batch.len()).map_err(|_| WireError::Compress)?;
        self.frames.clear();
        self.frames.reserve(zstd::zstd_safe::compress_bound(batch.len()));
        self.compressor.compress_to_buffer(batch, &mut self.frames).map_err(|_| WireError::Compress)?;
        out.reserve(5 + self.frames.len());
        out.push(PACKED_VERSION);
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(&self.frames);
        Ok(())
    }
}

thread_local! {
    /// The thread's decompressor, made at its first compressed batch and kept: making one
    /// (a context of some 100 KiB) cost as much as unpacking a batch.
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// What a NATS message holds, uncompressed: a version-1 or -2 message as it is, a version-3
/// message's batch unpacked (see the module's comment for the checks). Anything else is left
/// for `split` to refuse.
pub fn unpack(buf: &[u8]) -> Result<Cow<'_, [u8]>, WireError> {
    if buf.first() != Some(&PACKED_VERSION) {
        return Ok(Cow::Borrowed(buf));
    }
    let (Some(length), Some(frames)) = (buf.get(1..5), buf.get(5..)) else {
        return Err(WireError::Malformed("message ends early"));
    };
    let length = u32::from_be_bytes([length[0], length[1], length[2], length[3]]) as usize;
    if length > MAX_UNPACKED {
        return Err(WireError::Malformed("compressed batch too long"));
    }
    let mut out = Vec::with_capacity(length);
    DECOMPRESSOR.with(|cell| {
        let mut kept = cell.borrow_mut();
        let decompressor = match kept.as_mut() {
            Some(d) => d,
            None => kept.insert(zstd::bulk::Decompressor::new().map_err(|_| WireError::Malformed("no decompressor"))?),
        };
        // Each call starts from a fresh frame state: what a malformed batch left behind is reset.
        decompressor
            .decompress_to_buffer(frames, &mut out)
            .map_err(|_| WireError::Malformed("compressed batch does not decompress to its length"))
    })?;
    if out.len() != length {
        return Err(WireError::Malformed("compressed batch does not decompress to its length"));
    }
    match out.first() {
        Some(&BATCH_VERSION) => Ok(Cow::Owned(out)),
        Some(&VERSION) | Some(&PACKED_VERSION) | None => {
            Err(WireError::Malformed("a compressed message holds something else than a batch"))
        }
        Some(&other) => Err(WireError::Version(other)),
    }
}

#[cfg(test)]
mod tests;
