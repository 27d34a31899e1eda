use super::reader::{CaptureReader, Item, Problem};
use super::writer::{PcapNgWriter, PcapWriter};

/// (packet number, timestamp, link type, bytes)
type Got = (u64, i64, u32, Vec<u8>);

fn collect(bytes: &[u8]) -> (Vec<Got>, Vec<Problem>) {
    let mut reader = CaptureReader::new(bytes).expect("capture header");
    let (mut frames, mut problems) = (Vec::new(), Vec::new());
    while let Some(item) = reader.next_item().unwrap() {
        match item {
            Item::Frame(f) => frames.push((f.number, f.ts_ns, f.link_type, f.data.to_vec())),
            Item::Problem(p) => problems.push(p),
        }
    }
    (frames, problems)
}

const T0: i64 = 1_700_000_000_123_456_789;

fn pcap(nanos: bool, packets: &[&[u8]]) -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), 1, nanos).unwrap();
    for (i, p) in packets.iter().enumerate() {
        w.write(T0 + i as i64, p, None).unwrap();
    }
    w.into_inner()
}

#[test]
fn pcap_micro_and_nano() {
    let (frames, problems) = collect(&pcap(true, &[b"one", b"two"]));
    assert!(problems.is_empty());
    assert_eq!(frames, vec![(1, T0, 1, b"one".to_vec()), (2, T0 + 1, 1, b"two".to_vec())]);
    let (frames, _) = collect(&pcap(false, &[b"one"]));
    assert_eq!(frames[0].1, T0 / 1000 * 1000);
}

#[test]
fn pcap_big_endian() {
    let little = pcap(false, &[b"abcd"]);
    let mut big = Vec::new();
    // Swap every 32-bit field of the header and record header; 16-bit version fields too.
    big.extend(little[0..4].iter().rev());
    big.extend(little[4..6].iter().rev());
    big.extend(little[6..8].iter().rev());
    for field in little[8..24].chunks(4) {
        big.extend(field.iter().rev());
    }
    for field in little[24..40].chunks(4) {
        big.extend(field.iter().rev());
    }
    big.extend_from_slice(&little[40..]);
    let (frames, problems) = collect(&big);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(frames[0].3, b"abcd");
    assert_eq!(frames[0].1, T0 / 1000 * 1000);
}

#[test]
fn truncated_pcap_keeps_what_came_before() {
    let bytes = pcap(true, &[b"first packet", b"second packet"]);
    for cut in 25..bytes.len() {
        let (frames, problems) = collect(&bytes[..cut]);
        let complete = if cut >= 24 + 16 + 12 { 1 } else { 0 };
        assert_eq!(frames.len(), complete, "cut at {cut}");
        if cut == 24 + 16 + 12 {
            assert!(problems.is_empty(), "a cut between records is a shorter file, not damage");
        } else {
            assert!(matches!(problems.as_slice(), [Problem::Truncated { .. }]), "cut at {cut}: {problems:?}");
        }
    }
}

#[test]
fn impossible_length_is_skipped_and_reading_resumes() {
    let mut bytes = pcap(true, &[b"good one"]);
    let garbage_at = bytes.len();
    bytes.extend_from_slice(&pcap(true, &[b"x"])[24..]);
    // Make the second record's length impossible.
    bytes[garbage_at + 8..garbage_at + 12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    bytes.extend_from_slice(&pcap(true, &[b"third, after the damage"])[24..]);
    let (frames, problems) = collect(&bytes);
    let payloads: Vec<_> = frames.iter().map(|f| f.3.clone()).collect();
    assert_eq!(payloads, vec![b"good one".to_vec(), b"third, after the damage".to_vec()]);
    assert!(
        matches!(problems.as_slice(), [Problem::ImpossibleLength { packet: 2, length: 0x7fff_ffff, .. }]),
        "{problems:?}"
    );
}

#[test]
fn pcapng_sections_interfaces_and_simple_blocks() {
    let mut w = PcapNgWriter::new(Vec::new()).unwrap();
    w.interface(1).unwrap();
    w.interface(113).unwrap();
    w.packet(0, T0, b"eth").unwrap();
    w.packet(1, T0 + 5, b"sll").unwrap();
    w.simple_packet(b"simple").unwrap();
    w.new_section().unwrap();
    w.interface(101).unwrap();
    w.packet(0, T0 + 9, b"raw").unwrap();
    w.packet(3, T0, b"nowhere").unwrap();
    let (frames, problems) = collect(&w.into_inner());
    let got: Vec<_> = frames.iter().map(|f| (f.2, f.3.clone())).collect();
    assert_eq!(
        got,
        vec![(1, b"eth".to_vec()), (113, b"sll".to_vec()), (1, b"simple".to_vec()), (101, b"raw".to_vec())]
    );
    assert_eq!(frames[1].1, T0 + 5);
    assert_eq!(frames[3].1, T0 + 9);
    assert!(matches!(problems.as_slice(), [Problem::UnknownInterface { interface: 3, packet: 5, .. }]));
}

#[test]
fn pcapng_microsecond_default_resolution() {
    // An IDB without if_tsresol means microseconds.
    let mut bytes = PcapNgWriter::new(Vec::new()).unwrap().into_inner();
    let idb: [u32; 5] = [1, 20, 1, 65535, 20];
    for v in idb {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    let ts: u64 = 1_700_000_000_000_001;
    let epb: [u32; 9] = [6, 36, 0, (ts >> 32) as u32, ts as u32, 2, 2, u32::from_le_bytes(*b"hi\0\0"), 36];
    for v in epb {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    let (frames, problems) = collect(&bytes);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(frames[0].1, 1_700_000_000_000_001_000);
    assert_eq!(frames[0].3, b"hi");
}

#[test]
fn pcapng_corrupt_block_is_skipped() {
    let mut w = PcapNgWriter::new(Vec::new()).unwrap();
    w.interface(1).unwrap();
    w.packet(0, T0, b"before").unwrap();
    let mut bytes = w.into_inner();
    bytes.extend_from_slice(&[6, 0, 0, 0, 7, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef]);
    let mut w = PcapNgWriter::append(Vec::new());
    w.packet(0, T0, b"after").unwrap();
    bytes.extend_from_slice(&w.into_inner());
    let (frames, problems) = collect(&bytes);
    let payloads: Vec<_> = frames.iter().map(|f| f.3.clone()).collect();
    assert_eq!(payloads, vec![b"before".to_vec(), b"after".to_vec()]);
    assert!(matches!(problems.as_slice(), [Problem::ImpossibleLength { length: 7, .. }]), "{problems:?}");
}

#[test]
fn compressed_files_are_recognised_by_magic() {
    use std::io::Write;
    let plain = pcap(true, &[b"inside"]);
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("capture.bin");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&plain).unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    let zst = dir.path().join("capture.pcap.zst");
    std::fs::write(&zst, ruzstd::encoding::compress_to_vec(&plain[..], ruzstd::encoding::CompressionLevel::Fastest))
        .unwrap();
    for path in [gz, zst] {
        let mut reader = super::open(&path).unwrap();
        match reader.next_item().unwrap() {
            Some(Item::Frame(f)) => assert_eq!(f.data, b"inside"),
            other => panic!("{other:?}"),
        }
    }
    let not = dir.path().join("text.txt");
    std::fs::write(&not, b"hello world").unwrap();
    assert!(super::open(&not).is_err());
}

/// A pcapng section, a damaged block, then 24 MiB in which every 12th byte starts what looks
/// like an interface block of the largest length (16 MiB) whose trailer does not match.
/// The search for the next block asked for the whole candidate block at each one and moved
/// the buffered 16 MiB to the front every time: a 40 KB gzip of this kept `ingest` busy for
/// minutes. Now the buffer moves each byte at most once per time it is read past.
#[test]
fn resynchronising_past_large_candidate_blocks_moves_each_byte_a_bounded_number_of_times() {
    let mut file = Vec::new();
    for word in [0x0A0D_0D0Au32, 28, 0x1A2B_3C4D] {
        file.extend_from_slice(&word.to_le_bytes());
    }
    file.extend_from_slice(&[1, 0, 0, 0]);
    file.extend_from_slice(&(-1i64).to_le_bytes());
    file.extend_from_slice(&28u32.to_le_bytes());
    file.extend_from_slice(&[6, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0]);
    while file.len() < 24 << 20 {
        for word in [1u32, 16 << 20, 0] {
            file.extend_from_slice(&word.to_le_bytes());
        }
    }
    let mut reader = CaptureReader::new(&file[..]).expect("capture header");
    let mut problems = Vec::new();
    while let Some(item) = reader.next_item().unwrap() {
        match item {
            Item::Frame(f) => panic!("a frame from nothing: {f:?}"),
            Item::Problem(p) => problems.push(p),
        }
    }
    assert!(
        matches!(problems[..], [Problem::ImpossibleLength { length: 5, skipped, .. }] if skipped >= 4 << 20),
        "{problems:?}"
    );
    assert!(reader.bytes_moved() <= file.len() as u64, "{} bytes moved for {}", reader.bytes_moved(), file.len());
}

/// Interface Description Blocks past the limit are not kept (memory would follow the
/// decompressed size of a file of them): each is a problem, and a packet on one is reported
/// as on an undeclared interface; a new section starts counting again.
#[test]
fn interfaces_past_the_limit_are_reported_not_kept() {
    use super::reader::MAX_INTERFACES;
    let mut w = PcapNgWriter::new(Vec::new()).unwrap();
    for _ in 0..MAX_INTERFACES + 2 {
        w.interface(1).unwrap();
    }
    w.packet(0, T0, b"first").unwrap();
    w.packet(MAX_INTERFACES as u32, T0, b"lost").unwrap();
    w.new_section().unwrap();
    w.interface(1).unwrap();
    w.packet(0, T0, b"again").unwrap();
    let (frames, problems) = collect(&w.into_inner());
    let data: Vec<&[u8]> = frames.iter().map(|f| &f.3[..]).collect();
    assert_eq!(data, [&b"first"[..], b"again"]);
    assert_eq!(problems.len(), 3, "{:?}", &problems[..problems.len().min(5)]);
    assert!(matches!(problems[0], Problem::TooManyInterfaces { packet: 1, .. }));
    assert!(matches!(problems[1], Problem::TooManyInterfaces { packet: 1, .. }));
    assert!(matches!(problems[2], Problem::UnknownInterface { interface, .. } if interface == MAX_INTERFACES as u32));
}

/// A capture compressed in pieces (as `pzstd` writes, or files concatenated), with a skippable
/// frame between them: every frame is read, not only the first. gzip members likewise.
#[test]
fn every_zstd_frame_and_gzip_member_is_read() {
    use ruzstd::encoding::{compress_to_vec, CompressionLevel};
    use std::io::Write;
    let packets: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; 100 + usize::from(i)]).collect();
    let plain = pcap(true, &packets.iter().map(Vec::as_slice).collect::<Vec<_>>());
    let (first, second) = plain.split_at(plain.len() / 2 + 5); // inside a record
    let mut zst = compress_to_vec(first, CompressionLevel::Fastest);
    zst.extend_from_slice(&0x184D_2A53u32.to_le_bytes());
    zst.extend_from_slice(&3u32.to_le_bytes());
    zst.extend_from_slice(b"pad");
    zst.extend(compress_to_vec(second, CompressionLevel::Fastest));
    let mut gz = Vec::new();
    for piece in [first, second] {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(piece).unwrap();
        gz.extend(enc.finish().unwrap());
    }
    let want = collect(&plain);
    assert_eq!(want.0.len(), 40);
    for compressed in [zst, gz] {
        let mut reader = super::read_from(&compressed[..]).unwrap();
        let mut frames = Vec::new();
        while let Some(item) = reader.next_item().unwrap() {
            match item {
                Item::Frame(f) => frames.push((f.number, f.ts_ns, f.link_type, f.data.to_vec())),
                Item::Problem(p) => panic!("{p}"),
            }
        }
        assert_eq!(frames, want.0);
    }
}

/// Bytes after the last zstd frame that are not a frame: what came before is read, then a
/// read error (which ingest reports with its offset), never silence.
#[test]
fn garbage_after_the_last_zstd_frame_is_an_error_after_the_frames() {
    let plain = pcap(true, &[b"one", b"two"]);
    let mut zst = ruzstd::encoding::compress_to_vec(&plain[..], ruzstd::encoding::CompressionLevel::Fastest);
    zst.extend_from_slice(b"not a zstd frame at all");
    let mut reader = super::read_from(&zst[..]).unwrap();
    let mut got = Vec::new();
    let end = loop {
        match reader.next_item() {
            Ok(Some(Item::Frame(f))) => got.push(f.data.to_vec()),
            Ok(Some(Item::Problem(p))) => panic!("{p}"),
            Ok(None) => break None,
            Err(e) => break Some(e.to_string()),
        }
    };
    assert_eq!(got, [b"one".to_vec(), b"two".to_vec()]);
    assert!(end.as_ref().is_some_and(|e| e.contains("zstd")), "{end:?}");
}
