//! Capture files (`sipscope::sources::pcap`): the input is a whole file, read to the end the
//! way `ingest` reads one (`pcap::read_from`: gzip and zstd by their magic, then pcap or
//! pcapng). Never a panic; every item moves the reader forward (so resynchronisation after
//! damage ends), but for the file ending inside a record, which is the last; every frame's bytes lie within the bytes read for it and within the reader's
//! largest record; frame numbers increase. The same input handed over in small reads must give
//! the same items as handed over at once (compressed, up to a decompression error: see below).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipscope::sources::pcap::reader::MAX_BLOCK;
use sipscope::sources::pcap::{read_from, Item, Problem};
use std::io::Read;

/// An item, owned, for comparing two reads.
#[derive(Debug, PartialEq)]
enum Owned {
    Frame { number: u64, ts_ns: i64, link_type: u32, data: Vec<u8>, orig_len: u32 },
    Problem(Problem),
    Error(String),
}

/// Reads at most `chunk` bytes per call, as a slow pipe or decompressor would.
struct Chunked<'a> {
    data: &'a [u8],
    chunk: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.chunk.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fn read_all(input: impl Read + Send, len: usize, plain: bool) -> Vec<Owned> {
    let mut out = Vec::new();
    let Ok(mut reader) = read_from(input) else { return out };
    let mut last_number = 0u64;
    loop {
        let before = reader.offset();
        let item = match reader.next_item() {
            Ok(None) => break,
            Ok(Some(item)) => item,
            Err(e) => {
                out.push(Owned::Error(e.to_string()));
                break;
            }
        };
        let owned = match item {
            Item::Frame(f) => {
                assert!(f.number > last_number, "frame numbers increase");
                last_number = f.number;
                assert!(f.data.len() <= MAX_BLOCK as usize, "a frame longer than the largest block");
                assert!(f.orig_len as usize >= f.data.len());
                Owned::Frame {
                    number: f.number,
                    ts_ns: f.ts_ns,
                    link_type: f.link_type,
                    data: f.data.to_vec(),
                    orig_len: f.orig_len,
                }
            }
            Item::Problem(p) => Owned::Problem(p),
        };
        let after = reader.offset();
        // The file ending inside a record is the last item; every other moves the reader on.
        let last = matches!(owned, Owned::Problem(Problem::Truncated { .. }));
        assert!(after > before || last, "an item that did not move the reader: {owned:?}");
        if let Owned::Frame { data, .. } = &owned {
            assert!(data.len() as u64 <= after - before, "a frame longer than the bytes read for it");
        }
        if plain {
            assert!(after <= len as u64, "read past the end of the input");
        }
        out.push(owned);
        if last {
            assert!(matches!(reader.next_item(), Ok(None)), "an item after the end of the file");
            break;
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let plain = !matches!(data, [0x1f, 0x8b, ..] | [0x28, 0xb5, 0x2f, 0xfd, ..]);
    let whole = read_all(data, data.len(), plain);
    let chunk = 1 + data.len() % 7;
    let chunked = read_all(Chunked { data, chunk }, data.len(), plain);
    if plain {
        assert_eq!(whole, chunked, "read size changes what is read");
    } else {
        // A decompressor that meets corrupt data fails the read that met it, and what that read
        // had decoded is not handed out: reading whole, that can be more. Up to there, the
        // same items.
        let mut sure = &whole[..];
        if let [before @ .., Owned::Error(_)] = sure {
            sure = before;
            if let [before @ .., Owned::Problem(Problem::Truncated { .. } | Problem::ImpossibleLength { .. })] = sure {
                sure = before;
            }
        }
        assert!(chunked.starts_with(sure), "read size changes what is read:\n{whole:?}\n{chunked:?}");
    }
});
