//! What the collector does with a NATS message before it decodes rows
//! (`sipscope::sinks::nats::wire::{unpack, split}`): any bytes unpack (a compressed batch,
//! version 3) and split into rows or are refused, never panicking and never unpacking past
//! `MAX_UNPACKED`; a packed batch that unpacks is a version-2 batch of exactly its stated
//! length; a sound batch packed again unpacks to the same bytes; every row is decoded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipscope::sinks::nats::wire::{decode, split, unpack, Packer, MAX_UNPACKED, PACKED_VERSION};

fuzz_target!(|data: &[u8]| {
    let Ok(batch) = unpack(data) else { return };
    assert!(batch.len() <= MAX_UNPACKED.max(data.len()));
    if data.first() == Some(&PACKED_VERSION) {
        assert_eq!(batch.first(), Some(&2), "a packed message unpacks to a batch");
        let stated = u32::from_be_bytes([data[1], data[2], data[3], data[4]]) as usize;
        assert_eq!(batch.len(), stated);
    }
    let Ok(items) = split(&batch) else { return };
    for item in &items {
        let _ = decode(item);
    }
    if batch.first() == Some(&2) {
        let mut packed = Vec::new();
        Packer::new().unwrap().pack(&batch, &mut packed).unwrap();
        assert_eq!(&*unpack(&packed).unwrap(), &*batch, "pack → unpack");
    }
});
