//! SIP in SCTP captures (sipscope-packet `Sctp::data` and `SctpReassembler`): the input is a
//! run of packets, each `[length: u8][flags: u8][chunk bytes]` (flags: bit 0 the packet was
//! cut by the capture, bits 1–2 the direction, the rest the time step), pushed into a
//! reassembler with small limits. The state must stay within the limits and no message may
//! be longer than its limit or than the input. The whole input is also decoded as a raw IP
//! packet (SCTP, GRE/PPP and the rest of the walk).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipscope_packet::{decode, IpInfo, LinkType, Sctp, SctpLimits, SctpReassembler};
use std::net::{IpAddr, Ipv4Addr};

fuzz_target!(|data: &[u8]| {
    let _ = decode(LinkType::Raw, data);
    let limits = SctpLimits {
        max_message_bytes: 512,
        max_fragments_per_message: 16,
        max_pending_bytes: 1024,
        max_pending_fragments: 32,
        max_directions: 3,
        recent_tsns: 4,
        timeout_ns: 50,
    };
    let mut r = SctpReassembler::new(limits);
    let mut rest = data;
    let mut now = 0i64;
    while let Some((&[len, flags], tail)) = rest.split_first_chunk::<2>() {
        let (chunks, next) = tail.split_at(usize::from(len).min(tail.len()));
        rest = next;
        now += i64::from(flags >> 3);
        let dir = (flags >> 1) & 3;
        let ip = IpInfo {
            src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, dir)),
            dst: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9)),
            proto: 132,
            ttl: 64,
            tos: 0,
            id: 0,
            dont_fragment: false,
            fragment: None,
        };
        let sctp = Sctp { sport: 5060, dport: 5060, vtag: u32::from(dir), chunks, truncated: flags & 1 != 0 };
        r.push(now, &ip, &sctp, &mut |m| {
            assert!(m.payload.len() <= data.len());
            assert!(m.chunks == 1 || m.payload.len() <= limits.max_message_bytes);
            assert!(m.chunks <= limits.max_fragments_per_message.max(1));
        });
        assert!(r.pending_bytes() <= limits.max_pending_bytes + 255);
        assert!(r.pending_fragments() <= limits.max_pending_fragments);
    }
    r.expire(i64::MAX);
    assert_eq!((r.pending_bytes(), r.pending_fragments()), (0, 0));
});
