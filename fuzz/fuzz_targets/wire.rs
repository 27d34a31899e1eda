//! Frames → SIP messages (`sipscope::sources::wire::WireDecoder`, what `ingest` and live
//! capture run every frame through): link and tunnel decoding, IP defragmentation, TCP
//! reassembly with SIP framing or WebSocket after an upgrade, SCTP user messages.
//!
//! Byte 0: bits 0–2 pick the link type (`LinkType::ALL`), bit 3 small limits (else the
//! defaults), bits 4–5 the time unit (1 ns, 1 ms, 1 s, 10 s). The rest is a run of frames, each
//! `[length: u16 BE][time step: u8][bytes]`, with times that never go back. After every frame
//! the decoder's state must be within its limits; every message it hands out must be no longer
//! than its transport allows, stamped no later than the frame being decoded; after `finish`
//! nothing is left.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipscope::event::Transport;
use sipscope::sources::pcap::Frame;
use sipscope::sources::summary::CaptureSummary;
use sipscope::sources::wire::{WireDecoder, WireLimits};
use sipscope_packet::websocket::WsLimits;
use sipscope_packet::{DefragLimits, LinkType, SctpLimits, TcpLimits};

fn small() -> WireLimits {
    WireLimits {
        defrag: DefragLimits {
            max_datagrams: 4,
            max_buffered_bytes: 4096,
            max_datagram_size: 2048,
            max_fragments: 8,
            timeout_ns: 1_000_000_000,
        },
        tcp: TcpLimits {
            max_streams: 4,
            max_stream_bytes: 2048,
            max_pending_bytes: 1024,
            max_pending_segments: 8,
            max_total_bytes: 4096,
            idle_timeout_ns: 10_000_000_000,
            gap_timeout_ns: 1_000_000_000,
        },
        websocket: WsLimits { max_handshake_bytes: 512, max_message_bytes: 1024 },
        sctp: SctpLimits {
            max_message_bytes: 512,
            max_fragments_per_message: 16,
            max_pending_bytes: 1024,
            max_pending_fragments: 32,
            max_directions: 3,
            recent_tsns: 4,
            timeout_ns: 1_000_000_000,
        },
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, mut rest)) = data.split_first() else { return };
    let link = LinkType::ALL[usize::from(control & 7)];
    let limits = if control & 8 != 0 { small() } else { WireLimits::default() };
    let unit = [1, 1_000_000, 1_000_000_000, 10_000_000_000][usize::from((control >> 4) & 3)];
    let mut decoder = WireDecoder::with_limits(limits);
    let mut summary = CaptureSummary::default();
    let (mut now, mut number, mut longest_frame) = (1_700_000_000_000_000_000i64, 0u64, 0usize);
    // What a message of each transport may be at most (frames of the input can be longer
    // than a limit: a UDP or single-chunk SCTP payload is as long as its packet).
    let bound = |transport: Transport, longest_frame: usize| match transport {
        Transport::Udp => longest_frame.max(limits.defrag.max_datagram_size),
        Transport::Tcp => limits.tcp.max_stream_bytes,
        Transport::Ws => limits.websocket.max_message_bytes,
        _ => longest_frame.max(limits.defrag.max_datagram_size).max(limits.sctp.max_message_bytes),
    };
    while let Some((&[hi, lo, step], tail)) = rest.split_first_chunk::<3>() {
        let (bytes, next) = tail.split_at(usize::from(u16::from_be_bytes([hi, lo])).min(tail.len()));
        rest = next;
        now += i64::from(step) * unit;
        number += 1;
        longest_frame = longest_frame.max(bytes.len());
        let frame = Frame { number, ts_ns: now, link_type: link.to_pcap(), data: bytes, orig_len: bytes.len() as u32 };
        decoder.push_frame(&frame, &mut summary, &mut |_, m| {
            assert!(!m.bytes.is_empty());
            assert!(
                m.bytes.len() <= bound(m.transport, longest_frame),
                "{:?} message of {} bytes",
                m.transport,
                m.bytes.len()
            );
            assert!(m.ts_ns <= now && (1..=number).contains(&m.packet), "a message from the future");
        });
        let held = decoder.held();
        assert!(held.stream_states <= held.tcp_streams, "stream state without a stream: {held:?}");
        assert!(held.websocket_streams <= held.stream_states, "{held:?}");
        assert!(held.tcp_streams <= limits.tcp.max_streams, "{held:?}");
        // The stream a segment went to is not evicted for it: it may hold its own share on top.
        let tcp_most = limits.tcp.max_total_bytes + limits.tcp.max_stream_bytes + limits.tcp.max_pending_bytes;
        assert!(held.tcp_bytes <= tcp_most, "{held:?}");
        assert!(held.fragment_datagrams <= limits.defrag.max_datagrams, "{held:?}");
        assert!(held.fragment_bytes <= limits.defrag.max_buffered_bytes, "{held:?}");
        assert!(held.sctp_bytes <= limits.sctp.max_pending_bytes + longest_frame, "{held:?}");
        assert!(held.sctp_fragments <= limits.sctp.max_pending_fragments, "{held:?}");
    }
    decoder.finish(&mut summary, &mut |_, m| {
        assert!(!m.bytes.is_empty());
        assert!(
            m.bytes.len() <= bound(m.transport, longest_frame),
            "{:?} message of {} bytes at the end",
            m.transport,
            m.bytes.len()
        );
    });
    let held = decoder.held();
    assert_eq!(
        (held.tcp_streams, held.stream_states, held.websocket_streams, held.fragment_datagrams),
        (0, 0, 0, 0),
        "left after finish: {held:?}"
    );
    assert_eq!(
        (held.tcp_bytes, held.fragment_bytes, held.sctp_bytes, held.sctp_fragments),
        (0, 0, 0, 0),
        "left after finish: {held:?}"
    );
});
