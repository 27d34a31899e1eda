//! pcap and pcapng files, read as a stream of frames. Both byte orders, micro- and nanosecond
//! pcap, pcapng with several sections and interfaces (enhanced, simple and obsolete packet
//! blocks, `if_tsresol` / `if_tsoffset`).
//!
//! Damage is data: a record with an impossible length, a corrupt block or a file that ends in
//! the middle of a packet becomes a [`Problem`] with its packet number and byte offset, and
//! reading goes on where it can (the reader searches for the next plausible record).

use super::buffer::ReadBuffer;
use std::io::Read;

/// Largest packet accepted (jumbo frames and TSO captures stay well below).
pub const MAX_PACKET: u32 = 256 * 1024;
/// Largest pcapng block accepted (and largest pcap record, when a snap length asks for more
/// than [`MAX_PACKET`]): no frame is longer.
pub const MAX_BLOCK: u32 = 16 * 1024 * 1024;
/// Interfaces one pcapng section declares at most (real captures declare a few). An
/// Interface Description Block is 20 bytes, so without a limit a compressed file of them
/// would hold memory in proportion to its decompressed size.
pub const MAX_INTERFACES: usize = 65_536;
/// How far the reader searches for the next plausible record after damage.
const RESYNC_WINDOW: usize = 4 * 1024 * 1024;

/// One captured frame.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// 1-based packet number in the file.
    pub number: u64,
    /// Capture time, ns since the Unix epoch.
    pub ts_ns: i64,
    /// pcap link type of the interface.
    pub link_type: u32,
    /// Captured bytes.
    pub data: &'a [u8],
    /// Length on the wire (more than `data.len()` when the snap length cut it).
    pub orig_len: u32,
}

/// Damage found in a file. Reading continues after it unless the reader says it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The file ends inside a record or block.
    Truncated {
        /// Packet number the record would have had.
        packet: u64,
        /// Byte offset of the record.
        offset: u64,
    },
    /// A record or block length that cannot be right; the reader skipped `skipped` bytes to the
    /// next plausible record (or to the end).
    ImpossibleLength {
        /// Packet number.
        packet: u64,
        /// Byte offset.
        offset: u64,
        /// The length found.
        length: u64,
        /// Bytes skipped to resynchronise.
        skipped: u64,
    },
    /// An Interface Description Block past [`MAX_INTERFACES`] in its section: not kept, so
    /// packets on it are reported as [`Problem::UnknownInterface`].
    TooManyInterfaces {
        /// Packet number the next packet will have.
        packet: u64,
        /// Byte offset of the block.
        offset: u64,
    },
    /// A packet on an interface that no Interface Description Block declared.
    UnknownInterface {
        /// Packet number.
        packet: u64,
        /// Byte offset.
        offset: u64,
        /// The interface id.
        interface: u32,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Truncated { packet, offset } => write!(f, "packet {packet} at byte {offset}: file ends inside it"),
            Problem::ImpossibleLength { packet, offset, length, skipped } => write!(
                f,
                "packet {packet} at byte {offset}: impossible length {length}; skipped {skipped} bytes to resynchronise"
            ),
            Problem::TooManyInterfaces { packet, offset } => write!(
                f,
                "before packet {packet} at byte {offset}: more than {MAX_INTERFACES} interfaces in one section; ignored"
            ),
            Problem::UnknownInterface { packet, offset, interface } => {
                write!(f, "packet {packet} at byte {offset}: undeclared interface {interface}")
            }
        }
    }
}

/// What [`CaptureReader::next_item`] yields.
#[derive(Debug)]
pub enum Item<'a> {
    /// A frame.
    Frame(Frame<'a>),
    /// Damage (reading continues).
    Problem(Problem),
}

/// Why a file cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// I/O failed (or decompression did).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The file does not start with a pcap or pcapng header.
    #[error("not a pcap or pcapng file (magic {0:08x})")]
    NotACapture(u32),
}

#[derive(Debug, Clone, Copy)]
struct Interface {
    link_type: u32,
    snaplen: u32,
    /// Timestamp units: nanoseconds = units * mul / div.
    mul: u64,
    div: u64,
    offset_s: i64,
}

#[derive(Debug)]
enum Format {
    Pcap { big: bool, nanos: bool, link_type: u32, snaplen: u32 },
    PcapNg { big: bool, interfaces: Vec<Interface> },
}

/// Reads frames from a pcap or pcapng stream.
pub struct CaptureReader<R> {
    buf: ReadBuffer<R>,
    format: Format,
    packets: u64,
    last_ts_s: Option<u32>,
    done: bool,
}

fn u16_at(b: &[u8], at: usize, big: bool) -> u16 {
    let v = [b[at], b[at + 1]];
    if big {
        u16::from_be_bytes(v)
    } else {
        u16::from_le_bytes(v)
    }
}

fn u32_at(b: &[u8], at: usize, big: bool) -> u32 {
    let v = [b[at], b[at + 1], b[at + 2], b[at + 3]];
    if big {
        u32::from_be_bytes(v)
    } else {
        u32::from_le_bytes(v)
    }
}

const SHB: u32 = 0x0A0D_0D0A;

impl<R: Read> CaptureReader<R> {
    /// Reads the file header.
    pub fn new(inner: R) -> Result<Self, CaptureError> {
        let mut buf = ReadBuffer::new(inner);
        if buf.fill(4)? < 4 {
            return Err(CaptureError::NotACapture(0));
        }
        let magic = u32_at(buf.data(), 0, false);
        let format = match magic {
            0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_3c4d | 0x4d3c_b2a1 => {
                if buf.fill(24)? < 24 {
                    return Err(CaptureError::NotACapture(magic));
                }
                let big = matches!(magic, 0xd4c3_b2a1 | 0x4d3c_b2a1);
                let nanos = matches!(magic, 0xa1b2_3c4d | 0x4d3c_b2a1);
                let d = buf.data();
                // The upper bits of the link type carry FCS information (pcap-linktype(7)).
                let format = Format::Pcap {
                    big,
                    nanos,
                    link_type: u32_at(d, 20, big) & 0x0FFF_FFFF,
                    snaplen: u32_at(d, 16, big),
                };
                buf.consume(24);
                format
            }
            SHB => Format::PcapNg { big: false, interfaces: Vec::new() },
            _ => return Err(CaptureError::NotACapture(magic)),
        };
        Ok(CaptureReader { buf, format, packets: 0, last_ts_s: None, done: false })
    }

    /// Bytes read so far.
    pub fn offset(&self) -> u64 {
        self.buf.offset()
    }

    /// Bytes the read buffer moved to its front so far.
    #[cfg(test)]
    pub(crate) fn bytes_moved(&self) -> u64 {
        self.buf.moved()
    }

    /// The next frame or problem; `None` at the end.
    pub fn next_item(&mut self) -> Result<Option<Item<'_>>, CaptureError> {
        if self.done {
            return Ok(None);
        }
        if matches!(self.format, Format::Pcap { .. }) {
            self.next_pcap()
        } else {
            self.next_pcapng()
        }
    }

    fn next_pcap(&mut self) -> Result<Option<Item<'_>>, CaptureError> {
        let Format::Pcap { big, nanos, link_type, snaplen } = self.format else { unreachable!("checked by next") };
        let available = self.buf.fill(16)?;
        if available == 0 {
            self.done = true;
            return Ok(None);
        }
        let packet = self.packets + 1;
        let offset = self.buf.offset();
        if available < 16 {
            self.done = true;
            return Ok(Some(Item::Problem(Problem::Truncated { packet, offset })));
        }
        let d = self.buf.data();
        let (ts_s, ts_frac, incl, orig) = (u32_at(d, 0, big), u32_at(d, 4, big), u32_at(d, 8, big), u32_at(d, 12, big));
        let limit = MAX_PACKET.max(snaplen.min(MAX_BLOCK));
        if incl > limit || (nanos && ts_frac >= 1_000_000_000) || (!nanos && ts_frac >= 1_000_000) {
            let skipped = self.resync_pcap(big, nanos, limit)?;
            if self.buf.data().is_empty() {
                self.done = true;
            }
            return Ok(Some(Item::Problem(Problem::ImpossibleLength { packet, offset, length: incl.into(), skipped })));
        }
        let total = 16 + incl as usize;
        if self.buf.fill(total)? < total {
            self.done = true;
            return Ok(Some(Item::Problem(Problem::Truncated { packet, offset })));
        }
        self.packets = packet;
        self.last_ts_s = Some(ts_s);
        let frac_ns = if nanos { i64::from(ts_frac) } else { i64::from(ts_frac) * 1000 };
        let ts_ns = i64::from(ts_s) * 1_000_000_000 + frac_ns;
        self.buf.consume(total);
        // `consume` only moves the start; the bytes stay in place until the next `fill`.
        let data = &self.buf_slice_before(total)[16..];
        Ok(Some(Item::Frame(Frame { number: packet, ts_ns, link_type, data, orig_len: orig.max(incl) })))
    }

    /// The `len` bytes just consumed (still in the buffer until the next fill).
    fn buf_slice_before(&self, len: usize) -> &[u8] {
        self.buf.consumed_tail(len)
    }

    /// Skips forward to the next offset that looks like a record header: sane lengths, a valid
    /// fraction, and a time within a day of the last good packet.
    fn resync_pcap(&mut self, big: bool, nanos: bool, limit: u32) -> Result<u64, CaptureError> {
        let mut skipped = 0u64;
        self.buf.consume(1);
        skipped += 1;
        while (skipped as usize) < RESYNC_WINDOW {
            if self.buf.fill(16)? < 16 {
                let rest = self.buf.data().len();
                self.buf.consume(rest);
                return Ok(skipped + rest as u64);
            }
            let d = self.buf.data();
            let (ts_s, frac, incl, orig) =
                (u32_at(d, 0, big), u32_at(d, 4, big), u32_at(d, 8, big), u32_at(d, 12, big));
            let frac_ok = if nanos { frac < 1_000_000_000 } else { frac < 1_000_000 };
            let time_ok = self.last_ts_s.is_none_or(|last| ts_s.abs_diff(last) <= 86_400);
            if frac_ok && time_ok && incl > 0 && incl <= limit && incl <= orig && orig <= MAX_BLOCK {
                return Ok(skipped);
            }
            self.buf.consume(1);
            skipped += 1;
        }
        Ok(skipped)
    }

    fn next_pcapng(&mut self) -> Result<Option<Item<'_>>, CaptureError> {
        loop {
            let available = self.buf.fill(12)?;
            if available == 0 {
                self.done = true;
                return Ok(None);
            }
            let offset = self.buf.offset();
            let packet = self.packets + 1;
            if available < 12 {
                self.done = true;
                return Ok(Some(Item::Problem(Problem::Truncated { packet, offset })));
            }
            let d = self.buf.data();
            let raw_type = u32_at(d, 0, false);
            if raw_type == SHB {
                // A new section: its byte-order magic decides how to read everything after it.
                let big = u32_at(d, 8, false) == 0x4D3C_2B1A;
                self.format = Format::PcapNg { big, interfaces: Vec::new() };
            }
            let Format::PcapNg { big, .. } = self.format else { unreachable!("pcapng") };
            let block_type = u32_at(d, 0, big);
            let len = u32_at(d, 4, big);
            if len < 12 || !len.is_multiple_of(4) || len > MAX_BLOCK {
                let skipped = self.resync_pcapng(big)?;
                return Ok(Some(Item::Problem(Problem::ImpossibleLength {
                    packet,
                    offset,
                    length: len.into(),
                    skipped,
                })));
            }
            let len = len as usize;
            if self.buf.fill(len)? < len {
                self.done = true;
                return Ok(Some(Item::Problem(Problem::Truncated { packet, offset })));
            }
            self.buf.consume(len);
            match block_type {
                1 => {
                    if let Some(problem) = self.read_idb(len, big, packet, offset) {
                        return Ok(Some(Item::Problem(problem)));
                    }
                }
                2 | 3 | 6 => {
                    self.packets = packet;
                    return Ok(Some(self.read_packet_block(block_type, len, big, packet, offset)));
                }
                _ => {} // SHB (handled), name resolution, statistics, custom blocks: nothing to do.
            }
        }
    }

    fn read_idb(&mut self, len: usize, big: bool, packet: u64, offset: u64) -> Option<Problem> {
        let block = self.buf.consumed_tail(len);
        if len < 20 {
            return None;
        }
        if matches!(&self.format, Format::PcapNg { interfaces, .. } if interfaces.len() >= MAX_INTERFACES) {
            return Some(Problem::TooManyInterfaces { packet, offset });
        }
        let mut iface = Interface {
            link_type: u32::from(u16_at(block, 8, big)),
            snaplen: u32_at(block, 12, big),
            mul: 1000,
            div: 1,
            offset_s: 0,
        };
        // Options: code u16, length u16, value padded to 4.
        let mut at = 16;
        while at + 4 <= len - 4 {
            let code = u16_at(block, at, big);
            let olen = usize::from(u16_at(block, at + 2, big));
            let value = block.get(at + 4..at + 4 + olen).unwrap_or(&[]);
            match (code, value) {
                (0, _) => break,
                (9, [res]) => {
                    let exp = u32::from(res & 0x7f);
                    let units_per_s: u128 =
                        if res & 0x80 == 0 { 10u128.saturating_pow(exp) } else { 1u128 << exp.min(127) };
                    // ns = units * 1e9 / units_per_s, kept as a reduced fraction.
                    let (mut mul, mut div) = (1_000_000_000u128, units_per_s.max(1));
                    let g = gcd(mul, div);
                    mul /= g;
                    div /= g;
                    iface.mul = u64::try_from(mul).unwrap_or(1);
                    iface.div = u64::try_from(div).unwrap_or(u64::MAX);
                }
                (14, v) if v.len() == 8 => {
                    let bytes: [u8; 8] = v.try_into().unwrap_or([0; 8]);
                    iface.offset_s = if big { i64::from_be_bytes(bytes) } else { i64::from_le_bytes(bytes) };
                }
                _ => {}
            }
            at += 4 + olen.div_ceil(4) * 4;
        }
        if let Format::PcapNg { interfaces, .. } = &mut self.format {
            interfaces.push(iface);
        }
        None
    }

    fn read_packet_block(&self, block_type: u32, len: usize, big: bool, packet: u64, offset: u64) -> Item<'_> {
        let block = self.buf.consumed_tail(len);
        let Format::PcapNg { interfaces, .. } = &self.format else { unreachable!("pcapng") };
        let body_end = len - 4;
        let (iface_id, ts, caplen, orig, data_at) = match block_type {
            6 if len >= 32 => {
                let ts = (u64::from(u32_at(block, 12, big)) << 32) | u64::from(u32_at(block, 16, big));
                (u32_at(block, 8, big), Some(ts), u32_at(block, 20, big) as usize, u32_at(block, 24, big), 28)
            }
            2 if len >= 32 => {
                let ts = (u64::from(u32_at(block, 12, big)) << 32) | u64::from(u32_at(block, 16, big));
                (
                    u32::from(u16_at(block, 8, big)),
                    Some(ts),
                    u32_at(block, 20, big) as usize,
                    u32_at(block, 24, big),
                    28,
                )
            }
            3 if len >= 16 => {
                let orig = u32_at(block, 8, big);
                let snap = interfaces.first().map_or(u32::MAX, |i| if i.snaplen == 0 { u32::MAX } else { i.snaplen });
                (0, None, orig.min(snap) as usize, orig, 12)
            }
            _ => return Item::Problem(Problem::ImpossibleLength { packet, offset, length: len as u64, skipped: 0 }),
        };
        let Some(iface) = interfaces.get(iface_id as usize) else {
            return Item::Problem(Problem::UnknownInterface { packet, offset, interface: iface_id });
        };
        let caplen = caplen.min(body_end.saturating_sub(data_at));
        let data = &block[data_at..data_at + caplen];
        let ts_ns = ts.map_or(0, |units| {
            let ns = u128::from(units) * u128::from(iface.mul) / u128::from(iface.div.max(1));
            i64::try_from(ns).unwrap_or(i64::MAX).saturating_add(iface.offset_s.saturating_mul(1_000_000_000))
        });
        Item::Frame(Frame {
            number: packet,
            ts_ns,
            link_type: iface.link_type,
            data,
            orig_len: orig.max(caplen as u32),
        })
    }

    /// Skips to the next offset where a known block type with a consistent length starts.
    fn resync_pcapng(&mut self, big: bool) -> Result<u64, CaptureError> {
        let mut skipped = 0u64;
        loop {
            self.buf.consume(4);
            skipped += 4;
            if self.buf.fill(12)? < 12 || skipped as usize >= RESYNC_WINDOW {
                let rest = self.buf.data().len();
                self.buf.consume(rest);
                self.done = true;
                return Ok(skipped + rest as u64);
            }
            let d = self.buf.data();
            let (block_type, len) = (u32_at(d, 0, big), u32_at(d, 4, big));
            if matches!(block_type, 1..=6 | SHB) && (12..=MAX_BLOCK).contains(&len) && len.is_multiple_of(4) {
                let len = len as usize;
                if self.buf.fill(len)? >= len && u32_at(self.buf.data(), len - 4, big) as usize == len {
                    return Ok(skipped);
                }
            }
        }
    }
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}
