//! Writing pcap and pcapng files: used by the golden tests, the benchmark generator and any
//! command that exports packets. Little-endian, as most tools write them.

use std::io::{self, Write};

/// Writes a classic pcap file.
pub struct PcapWriter<W: Write> {
    out: W,
    nanos: bool,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header. `nanos` selects the nanosecond variant.
    pub fn new(mut out: W, link_type: u32, nanos: bool) -> io::Result<Self> {
        let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        out.write_all(&magic.to_le_bytes())?;
        out.write_all(&2u16.to_le_bytes())?;
        out.write_all(&4u16.to_le_bytes())?;
        out.write_all(&0i32.to_le_bytes())?;
        out.write_all(&0u32.to_le_bytes())?;
        out.write_all(&262_144u32.to_le_bytes())?;
        out.write_all(&link_type.to_le_bytes())?;
        Ok(PcapWriter { out, nanos })
    }

    /// Appends one frame captured at `ts_ns`; `orig_len` larger than the data marks a
    /// snap-length cut.
    pub fn write(&mut self, ts_ns: i64, data: &[u8], orig_len: Option<u32>) -> io::Result<()> {
        let secs = ts_ns.div_euclid(1_000_000_000) as u32;
        let frac = ts_ns.rem_euclid(1_000_000_000) as u32;
        let frac = if self.nanos { frac } else { frac / 1000 };
        self.out.write_all(&secs.to_le_bytes())?;
        self.out.write_all(&frac.to_le_bytes())?;
        self.out.write_all(&(data.len() as u32).to_le_bytes())?;
        self.out.write_all(&orig_len.unwrap_or(data.len() as u32).to_le_bytes())?;
        self.out.write_all(data)
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// Writes a pcapng file (one section; interfaces added as needed; nanosecond resolution).
pub struct PcapNgWriter<W: Write> {
    out: W,
}

fn pad4(n: usize) -> usize {
    n.div_ceil(4) * 4
}

impl<W: Write> PcapNgWriter<W> {
    /// Writes a Section Header Block.
    pub fn new(mut out: W) -> io::Result<Self> {
        write_shb(&mut out)?;
        Ok(PcapNgWriter { out })
    }

    /// Continues a section that an earlier writer opened (appending blocks to an existing file).
    pub fn append(out: W) -> Self {
        PcapNgWriter { out }
    }

    /// Starts a new section (interfaces must be declared again).
    pub fn new_section(&mut self) -> io::Result<()> {
        write_shb(&mut self.out)
    }

    /// Declares an interface with nanosecond timestamps; interfaces are numbered from 0 in
    /// the order declared.
    pub fn interface(&mut self, link_type: u16) -> io::Result<()> {
        let mut body = Vec::new();
        body.extend_from_slice(&link_type.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&262_144u32.to_le_bytes());
        // if_tsresol = 9 (nanoseconds), then opt_endofopt.
        body.extend_from_slice(&9u16.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&[9, 0, 0, 0]);
        body.extend_from_slice(&[0, 0, 0, 0]);
        self.block(1, &body)
    }

    /// An Enhanced Packet Block on `interface`.
    pub fn packet(&mut self, interface: u32, ts_ns: i64, data: &[u8]) -> io::Result<()> {
        let ts = ts_ns as u64;
        let mut body = Vec::with_capacity(20 + pad4(data.len()));
        body.extend_from_slice(&interface.to_le_bytes());
        body.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        body.extend_from_slice(&(ts as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
        body.resize(20 + pad4(data.len()), 0);
        self.block(6, &body)
    }

    /// A Simple Packet Block (interface 0, no timestamp).
    pub fn simple_packet(&mut self, data: &[u8]) -> io::Result<()> {
        let mut body = Vec::with_capacity(4 + pad4(data.len()));
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
        body.resize(4 + pad4(data.len()), 0);
        self.block(3, &body)
    }

    fn block(&mut self, block_type: u32, body: &[u8]) -> io::Result<()> {
        let len = (12 + body.len()) as u32;
        self.out.write_all(&block_type.to_le_bytes())?;
        self.out.write_all(&len.to_le_bytes())?;
        self.out.write_all(body)?;
        self.out.write_all(&len.to_le_bytes())
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

fn write_shb(out: &mut impl Write) -> io::Result<()> {
    let len = 28u32;
    out.write_all(&0x0A0D_0D0Au32.to_le_bytes())?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(&0x1A2B_3C4Du32.to_le_bytes())?;
    out.write_all(&1u16.to_le_bytes())?;
    out.write_all(&0u16.to_le_bytes())?;
    out.write_all(&(-1i64).to_le_bytes())?;
    out.write_all(&len.to_le_bytes())
}
