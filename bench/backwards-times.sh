#!/usr/bin/env bash
# Times going backwards: how `sipscope ingest` (analysis on, the default) takes a capture whose
# second half comes from new sources at ever earlier times, against the same packets in time
# order. A capture can say anything about its times; the analysis keeps its open flows in a
# list by last message, and such a capture once made every new flow walk past all of them
# (quadratic: 600 M list steps for 40,000 flows).
#
#   bench/backwards-times.sh [N] [BIN...]    # N sources each half (default 40,000); binaries
#                                             # to compare (default: target/release/sipscope)
#
# Writes both captures (N OPTIONS from 10.x.y.z in time order, then N from new sources, each
# 10 µs earlier than the one before; and the same packets sorted by time) into a temporary
# folder, ingests each with each binary into a fresh store, and prints the wall and CPU
# seconds. Nothing is sent anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-40000}"
shift || true
BINS=("$@")
if [ ${#BINS[@]} -eq 0 ]; then
    nice -n 10 cargo build -q --release -p sipscope --bin sipscope
    BINS=(target/release/sipscope)
fi
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
python3 - "$N" "$TMP" <<'PY'
import struct, sys
n, out = int(sys.argv[1]), sys.argv[2]
def checksum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    return ~(s + (s >> 16)) & 0xFFFF
def packet(i):
    src = bytes([10, (i >> 16) & 255, (i >> 8) & 255, i & 255])
    a = ".".join(map(str, src))
    sip = (f"OPTIONS sip:100@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP {a}:5060;branch=z9hG4bK{i}\r\n"
           f"From: <sip:a@{a}>;tag={i}\r\nTo: <sip:100@192.0.2.1>\r\nCall-ID: {i}@x\r\n"
           f"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode()
    udp = struct.pack("!HHHH", 5060, 5060, 8 + len(sip), 0) + sip
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, src, bytes([192, 0, 2, 1]))
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return b"\0" * 12 + b"\x08\x00" + ip + udp
start = 1_700_000_001_000_000
records = [(start + i * 10, packet(i)) for i in range(n)]
records += [(start - (i + 1) * 10, packet(n + i)) for i in range(n)]
for name, recs in (("backwards", records), ("in-order", sorted(records))):
    with open(f"{out}/{name}.pcap", "wb") as o:
        o.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for us, data in recs:
            o.write(struct.pack("<IIII", us // 1_000_000, us % 1_000_000, len(data), len(data)))
            o.write(data)
PY
for bin in "${BINS[@]}"; do
    for capture in in-order backwards; do
        rm -f "$TMP"/s.db*
        /usr/bin/time -f "%e %U %S" -o "$TMP/time" "$bin" ingest --db "$TMP/s.db" "$TMP/$capture.pcap" >/dev/null 2>&1
        read -r wall user sys <"$TMP/time"
        printf '%-40s %-10s %2d × %d packets: %6.2f s wall, %6.2f CPU s\n' "$bin" "$capture" 2 "$N" "$wall" \
            "$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')"
    done
done
