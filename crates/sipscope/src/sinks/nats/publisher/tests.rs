//! The NATS messages the publisher makes of its rows: batches of `message_rows`, compressed
//! (wire version 3) unless `compress` is off; the collector's unpack and split give the rows
//! back in order.

use super::{messages, wire, Kind, NatsConfig, OutboxItem};

fn rows(n: i64) -> Vec<OutboxItem> {
    (1..=n)
        .map(|seq| {
            let mut payload = vec![wire::VERSION, 3];
            payload.extend_from_slice(&seq.to_be_bytes());
            payload.extend_from_slice(b"REGISTER sip:100@192.0.2.2 SIP/2.0\r\nCall-ID: row\r\n\r\n");
            OutboxItem { seq, ts_ns: seq, payload }
        })
        .collect()
}

fn taken(payloads: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for p in payloads {
        let batch = wire::unpack(p).unwrap();
        out.extend(wire::split(&batch).unwrap().into_iter().map(<[u8]>::to_vec));
    }
    out
}

#[test]
fn batches_go_compressed_unless_told_not_to_and_give_their_rows_back() {
    let want: Vec<Vec<u8>> = rows(600).into_iter().map(|r| r.payload).collect();
    for compress in [true, false] {
        let config = NatsConfig { compress, ..NatsConfig::default() };
        let out = messages("s1", Kind::Registration, rows(600), &config);
        let firsts: Vec<(i64, i64)> = out.iter().map(|m| (m.first, m.last)).collect();
        assert_eq!(firsts, vec![(1, 256), (257, 512), (513, 600)]);
        assert_eq!(out[0].id, "s1:registration:1-256");
        let version = if compress { wire::PACKED_VERSION } else { wire::BATCH_VERSION };
        assert!(out.iter().all(|m| m.payload[0] == version), "compress {compress}");
        let payloads: Vec<Vec<u8>> = out.into_iter().map(|m| m.payload).collect();
        assert_eq!(taken(&payloads), want, "compress {compress}");
    }
    // One row per message: version 1, never compressed.
    let config = NatsConfig { message_rows: 1, ..NatsConfig::default() };
    let out = messages("s1", Kind::Registration, rows(3), &config);
    assert!(out.iter().all(|m| m.payload[0] == wire::VERSION));
}
