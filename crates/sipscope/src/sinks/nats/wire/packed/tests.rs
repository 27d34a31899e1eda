//! Compressed batches: what a packer writes unpacks to the batch; damaged, hostile and
//! mislabelled messages are errors, never panics or unbounded buffers.

use super::super::{encode_batch, split, VERSION};
use super::*;

fn batch(rows: usize) -> Vec<u8> {
    let items: Vec<Vec<u8>> = (0..rows)
        .map(|i| {
            let mut item = vec![VERSION, 3];
            item.extend_from_slice(&(i as i64).to_be_bytes());
            item.extend_from_slice(b"REGISTER sip:100@192.0.2.2 SIP/2.0\r\nCall-ID: packed\r\n\r\n");
            item
        })
        .collect();
    let mut out = Vec::new();
    encode_batch(items.iter().map(Vec::as_slice), &mut out);
    out
}

fn packed(batch: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Packer::new().unwrap().pack(batch, &mut out).unwrap();
    out
}

/// A version-3 message stating `length` around raw zstd frames of `content`.
fn labelled(length: u32, content: &[u8]) -> Vec<u8> {
    let mut out = vec![PACKED_VERSION];
    out.extend_from_slice(&length.to_be_bytes());
    out.extend(zstd::bulk::compress(content, 1).unwrap());
    out
}

#[test]
fn a_packed_batch_unpacks_to_the_batch_and_is_smaller() {
    let b = batch(256);
    let p = packed(&b);
    assert_eq!(p[0], PACKED_VERSION);
    assert!(p.len() * 5 < b.len(), "{} of {} bytes", p.len(), b.len());
    let unpacked = unpack(&p).unwrap();
    assert_eq!(&*unpacked, b.as_slice());
    assert_eq!(split(&unpacked).unwrap().len(), 256);
    // One packer, many batches.
    let mut packer = Packer::new().unwrap();
    for rows in [0, 1, 3, 300] {
        let b = batch(rows);
        let mut p = Vec::new();
        packer.pack(&b, &mut p).unwrap();
        assert_eq!(&*unpack(&p).unwrap(), b.as_slice(), "{rows} rows");
    }
}

#[test]
fn versions_1_and_2_pass_through_as_they_are() {
    let b = batch(2);
    assert!(matches!(unpack(&b), Ok(Cow::Borrowed(x)) if x == b.as_slice()));
    let one = &split(&b).unwrap()[0].to_vec();
    assert!(matches!(unpack(one), Ok(Cow::Borrowed(x)) if x == one.as_slice()));
    assert!(matches!(unpack(&[]), Ok(Cow::Borrowed(&[]))));
    // Split refuses a packed message handed to it unpacked.
    assert!(split(&packed(&b)).is_err());
}

#[test]
fn only_batches_are_packed() {
    let mut out = Vec::new();
    assert_eq!(Packer::new().unwrap().pack(&[VERSION, 1, 2], &mut out), Err(WireError::Compress));
    assert!(out.is_empty());
}

#[test]
fn damaged_and_hostile_packed_messages_are_errors() {
    let b = batch(64);
    let p = packed(&b);
    for cut in 1..p.len() {
        assert!(unpack(&p[..cut]).is_err(), "cut at {cut}");
    }
    let mut longer = p.clone();
    longer.push(0);
    assert!(unpack(&longer).is_err(), "bytes after the frame");
    for at in 5..p.len() {
        let mut flipped = p.clone();
        flipped[at] ^= 0x5a;
        // Either refused, or (a byte zstd does not check) a batch of the stated length.
        if let Ok(x) = unpack(&flipped) {
            assert_eq!(x.len(), b.len());
        }
    }
    // A bomb: 32 MiB of zeros in a few kB, stated as 1,000 bytes or as more than the limit.
    let zeros = vec![0u8; 32 << 20];
    assert_eq!(
        unpack(&labelled(1000, &zeros)),
        Err(WireError::Malformed("compressed batch does not decompress to its length"))
    );
    assert_eq!(
        unpack(&labelled(MAX_UNPACKED as u32 + 1, &zeros)),
        Err(WireError::Malformed("compressed batch too long"))
    );
    // Stated longer than it is.
    assert!(unpack(&labelled(b.len() as u32 + 1, &b)).is_err());
    // The right length of something else than a batch.
    let one = split(&b).unwrap()[0].to_vec();
    assert!(unpack(&labelled(one.len() as u32, &one)).is_err(), "a single row");
    let twice = packed(&b);
    assert!(unpack(&labelled(twice.len() as u32, &twice)).is_err(), "packed twice");
    assert_eq!(unpack(&labelled(3, &[9, 0, 0])), Err(WireError::Version(9)));
    assert!(unpack(&labelled(0, &[])).is_err(), "empty");
    // Not zstd at all.
    for seed in 0u32..500 {
        let mut m = vec![PACKED_VERSION, 0, 0, 1, 0];
        m.extend((0..(seed % 97)).map(|i| (seed.wrapping_mul(2654435761).rotate_left(i) & 0xff) as u8));
        let _ = unpack(&m);
    }
    // The thread keeps one decompressor: whatever the refusals above left in it, the next
    // good batch unpacks whole, also right after a cut one.
    assert_eq!(&*unpack(&p).unwrap(), b.as_slice());
    assert!(unpack(&p[..p.len() / 2]).is_err());
    assert_eq!(&*unpack(&p).unwrap(), b.as_slice());
}
