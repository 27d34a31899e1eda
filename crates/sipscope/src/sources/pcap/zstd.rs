//! zstd-compressed captures read whole: every frame of the file in order, as gzip members are
//! (`MultiGzDecoder`). A file of several frames (`pzstd`, parallel compressors, pieces
//! compressed apart and concatenated) is one capture; ruzstd's `StreamingDecoder` stops at the
//! end of the first frame, which silently dropped the rest. Skippable frames are skipped; bytes
//! after the last frame that are not a frame are an error (reported, after everything before).

use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};
use std::io::{BufRead, BufReader, Error, ErrorKind, Read};

/// Decompresses every zstd frame of `source`, one after the other.
pub(crate) struct ZstdFrames<R> {
    source: BufReader<R>,
    decoder: FrameDecoder,
    /// A frame's header was read and its blocks are being decoded.
    in_frame: bool,
}

impl<R: Read> ZstdFrames<R> {
    /// Reads the first frame's header (so a file that is not zstd fails here).
    pub(crate) fn new(source: R) -> Result<Self, Error> {
        let mut z = ZstdFrames { source: BufReader::new(source), decoder: FrameDecoder::new(), in_frame: false };
        z.next_frame()?;
        Ok(z)
    }

    /// Starts the next frame, past skippable ones; false at the end of the input.
    fn next_frame(&mut self) -> Result<bool, Error> {
        loop {
            if self.source.fill_buf()?.is_empty() {
                return Ok(false);
            }
            match self.decoder.init(&mut self.source) {
                Ok(()) => {
                    self.in_frame = true;
                    return Ok(true);
                }
                Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::SkipFrame { length, .. })) => {
                    let length = u64::from(length);
                    let skipped = std::io::copy(&mut (&mut self.source).take(length), &mut std::io::sink())?;
                    if skipped < length {
                        return Err(Error::new(ErrorKind::UnexpectedEof, "zstd: the input ends in a skippable frame"));
                    }
                }
                Err(e) => return Err(Error::new(ErrorKind::InvalidData, format!("zstd: {e}"))),
            }
        }
    }
}

impl<R: Read> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.in_frame {
                // As ruzstd's StreamingDecoder reads one frame.
                while self.decoder.can_collect() < buf.len() && !self.decoder.is_finished() {
                    let wanted = buf.len() - self.decoder.can_collect();
                    self.decoder
                        .decode_blocks(&mut self.source, BlockDecodingStrategy::UptoBytes(wanted))
                        .map_err(|e| Error::new(ErrorKind::InvalidData, format!("zstd: {e}")))?;
                }
                let n = self.decoder.read(buf)?;
                if n > 0 {
                    return Ok(n);
                }
                self.in_frame = false;
            }
            if !self.next_frame()? {
                return Ok(0);
            }
        }
    }
}
