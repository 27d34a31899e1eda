//! SCTP (RFC 9260): the common header, the chunk walk and its DATA chunks, and
//! [`SctpReassembler`], which turns DATA chunks into whole user messages (SIP over SCTP,
//! RFC 4168, puts one SIP message in each).

use crate::error::{be16, be32, header, DecodeError, Layer};

mod reassembly;
#[cfg(test)]
mod tests;

pub use reassembly::{SctpKey, SctpLimits, SctpMessage, SctpReassembler, SctpStats};

/// Chunk type of DATA.
const CHUNK_DATA: u8 = 0;
/// Bytes of a DATA chunk before its user data.
const DATA_HEADER: usize = 16;

/// An SCTP packet: common header and undecoded chunks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sctp<'a> {
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Verification tag.
    pub vtag: u32,
    /// The chunks, undecoded.
    pub chunks: &'a [u8],
    /// The IP header declared more bytes than were captured: the last chunk may be cut short
    /// (its DATA is still handed out, marked [`SctpDataChunk::cut`]).
    pub truncated: bool,
}

impl<'a> Sctp<'a> {
    /// The DATA chunks (RFC 9260 §3.3.1) in order; other chunk types are skipped. The walk stops
    /// at the first chunk whose length is impossible ([`SctpData::malformed`] says so).
    pub fn data(&self) -> SctpData<'a> {
        SctpData { rest: self.chunks, truncated: self.truncated, malformed: false }
    }
}

/// One SCTP DATA chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SctpDataChunk<'a> {
    /// Chunk flags (I, U, B, E bits: 0x08, 0x04, 0x02, 0x01).
    pub flags: u8,
    /// Transmission sequence number.
    pub tsn: u32,
    /// Stream identifier.
    pub stream: u16,
    /// Stream sequence number.
    pub ssn: u16,
    /// Payload protocol identifier.
    pub ppid: u32,
    /// User data.
    pub payload: &'a [u8],
    /// The capture cut this chunk: `payload` is what there was of it.
    pub cut: bool,
}

impl SctpDataChunk<'_> {
    /// E bit: the last fragment of a user message.
    pub const END: u8 = 0x01;
    /// B bit: the first fragment of a user message.
    pub const BEGIN: u8 = 0x02;
    /// U bit: unordered delivery (the stream sequence number means nothing).
    pub const UNORDERED: u8 = 0x04;

    /// B and E both set: a whole user message in one chunk.
    pub fn is_whole(&self) -> bool {
        self.flags & (Self::BEGIN | Self::END) == Self::BEGIN | Self::END
    }
}

/// Iterator over SCTP DATA chunks, from [`Sctp::data`].
#[derive(Clone, Debug)]
pub struct SctpData<'a> {
    rest: &'a [u8],
    truncated: bool,
    malformed: bool,
}

impl SctpData<'_> {
    /// The walk stopped at a chunk whose length is impossible (below its header, or beyond the
    /// packet in a packet that was not cut), so later chunks were not seen.
    pub fn malformed(&self) -> bool {
        self.malformed
    }

    fn stop(&mut self, malformed: bool) {
        self.rest = &[];
        self.malformed = malformed;
    }
}

impl<'a> Iterator for SctpData<'a> {
    type Item = SctpDataChunk<'a>;

    fn next(&mut self) -> Option<SctpDataChunk<'a>> {
        loop {
            let Some((h, _)) = self.rest.split_first_chunk::<4>() else {
                // Fewer than 4 bytes left: padding, or a cut chunk header.
                let junk = !self.rest.is_empty() && !self.truncated && self.rest.iter().any(|&b| b != 0);
                self.stop(junk);
                return None;
            };
            let len = usize::from(be16([h[2], h[3]]));
            let min = if h[0] == CHUNK_DATA { DATA_HEADER } else { 4 };
            let (chunk, cut) = match self.rest.get(..len) {
                _ if len < min => {
                    self.stop(true);
                    return None;
                }
                Some(chunk) => (chunk, false),
                None if self.truncated => (self.rest, true),
                None => {
                    self.stop(true);
                    return None;
                }
            };
            self.rest = self.rest.get(len.next_multiple_of(4)..).unwrap_or(&[]);
            if h[0] != CHUNK_DATA {
                continue;
            }
            let Some((d, payload)) = chunk.split_first_chunk::<DATA_HEADER>() else {
                // A DATA header the capture cut.
                self.stop(false);
                return None;
            };
            return Some(SctpDataChunk {
                flags: d[1],
                tsn: be32([d[4], d[5], d[6], d[7]]),
                stream: be16([d[8], d[9]]),
                ssn: be16([d[10], d[11]]),
                ppid: be32([d[12], d[13], d[14], d[15]]),
                payload,
                cut,
            });
        }
    }
}

/// An SCTP common header; `truncated` when the IP header declared more than was captured.
pub(crate) fn sctp(b: &[u8], truncated: bool) -> Result<Sctp<'_>, DecodeError> {
    let (h, chunks) = header::<12>(b, Layer::Sctp)?;
    Ok(Sctp {
        sport: be16([h[0], h[1]]),
        dport: be16([h[2], h[3]]),
        vtag: be32([h[4], h[5], h[6], h[7]]),
        chunks,
        truncated,
    })
}
