#!/usr/bin/env python3
"""Writes `wire` fuzz target seeds from pcap / pcapng files (called by seed.sh).

usage: wire_seeds.py OUT_DIR CAPTURE...

Each capture's frames, grouped by link type, become `[control][length u16 BE][step u8][frame]…`:
control picks the link type (its index in sipscope-packet's LinkType::ALL), 1 ms time steps,
and default (0x10) or small (0x18) limits. A seed stops before 16 KB.
"""
import os
import struct
import sys

# pcap link type -> index in LinkType::ALL (Null, Ethernet, Raw, Loop, LinuxSll, Ipv4, Ipv6, LinuxSll2)
INDEX = {0: 0, 1: 1, 12: 2, 14: 2, 101: 2, 108: 3, 113: 4, 228: 5, 229: 6, 276: 7}
MAX_SEED = 16 * 1024


def pcap_frames(d):
    magic = struct.unpack('<I', d[:4])[0]
    if magic in (0xa1b2c3d4, 0xa1b23c4d):
        e = '<'
    elif magic in (0xd4c3b2a1, 0x4d3cb2a1):
        e = '>'
    else:
        return
    nanos = magic in (0xa1b23c4d, 0x4d3cb2a1)
    link = struct.unpack(e + 'I', d[20:24])[0] & 0xffff
    at = 24
    while at + 16 <= len(d):
        s, frac, incl, _ = struct.unpack(e + 'IIII', d[at:at + 16])
        yield link, s * 10**9 + (frac if nanos else frac * 1000), d[at + 16:at + 16 + incl]
        at += 16 + incl


def pcapng_frames(d):
    at, e, links = 0, '<', []
    while at + 12 <= len(d):
        kind = struct.unpack('<I', d[at:at + 4])[0]
        if kind == 0x0A0D0D0A:
            e = '<' if d[at + 8:at + 12] == b'\x4d\x3c\x2b\x1a' else '>'
            links = []
        kind, size = struct.unpack(e + 'II', d[at:at + 8])
        if size < 12:
            return
        body = d[at + 8:at + size - 4]
        if kind == 1:
            links.append(struct.unpack(e + 'H', body[:2])[0])
        elif kind == 6 and len(body) >= 20:
            iface, hi, lo, cap = struct.unpack(e + 'IIII', body[:16])
            if iface < len(links):
                # Units assumed µs (the default resolution); only the order of times matters.
                yield links[iface], ((hi << 32) | lo) * 1000, body[20:20 + cap]
        at += size


def main():
    out, paths = sys.argv[1], sys.argv[2:]
    for path in paths:
        d = open(path, 'rb').read()
        frames = pcapng_frames(d) if d[:4] == b'\x0a\x0d\x0d\x0a' else pcap_frames(d)
        seeds = {}
        for link, ts, frame in frames:
            if link not in INDEX:
                continue
            seed = seeds.setdefault(link, [bytearray(), None])
            step = 0 if seed[1] is None else max(0, min(255, (ts - seed[1]) // 1_000_000))
            record = struct.pack('>HB', min(len(frame), 0xffff), step) + frame[:0xffff]
            if len(seed[0]) + len(record) > MAX_SEED:
                continue
            seed[0] += record
            seed[1] = ts
        name = os.path.basename(path)
        for link, (records, _) in seeds.items():
            for control in (0x10, 0x18):
                control |= INDEX[link]
                with open(os.path.join(out, f'{name}-link{link}-{control:02x}'), 'wb') as f:
                    f.write(bytes([control]) + records)


if __name__ == '__main__':
    main()
