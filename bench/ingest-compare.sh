#!/usr/bin/env bash
# Ingest throughput, side by side with tshark, in one run.
#   bench/ingest-compare.sh [PACKETS] [TSHARK_PACKETS]
# Builds a capture of PACKETS packets (default 5,000,000; a realistic attack mix, see
# crates/sipscope/examples/make_bench_pcap.rs), then times:
#   - sipscope ingest --events all   (every SIP message stored in SQLite)
#   - sipscope ingest --events none  (counts only)
#   - tshark -Y sip -T fields with the same fields, on the first TSHARK_PACKETS packets
#     (default 500,000: tshark needs ~2.5 GB of memory per million packets and runs at
#     ~10,000 packets/s here, so a whole 5 M-packet file would take ~10 minutes)
# and prints packets/s, SIP messages/s, peak memory and the ratios.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PACKETS=${1:-5000000}
TSHARK_PACKETS=${2:-500000}
WORK=${BENCH_DIR:-$ROOT/target/bench}
mkdir -p "$WORK"
PCAP=$WORK/attack-mix-$PACKETS.pcap

cargo build -q --release -p sipscope --example make_bench_pcap --bin sipscope
SIPSCOPE=$ROOT/target/release/sipscope
[ -s "$PCAP" ] || "$ROOT/target/release/examples/make_bench_pcap" "$PCAP" "$PACKETS"
SIZE=$(stat -c %s "$PCAP")
cat "$PCAP" >/dev/null # warm the page cache so every run reads from memory

run() { # LABEL CMD... ; prints "LABEL wall_s rss_kb"
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$WORK/time.txt" "$@" >"$WORK/$label.out" 2>"$WORK/$label.err"
  echo "$label $(cat "$WORK/time.txt")"
}

rm -f "$WORK"/all.db* "$WORK"/none.db*
read -r _ ALL_S ALL_KB < <(run all "$SIPSCOPE" ingest --quiet --json --events all --db "$WORK/all.db" "$PCAP")
read -r _ NONE_S NONE_KB < <(run none "$SIPSCOPE" ingest --quiet --json --events none --db "$WORK/none.db" "$PCAP")
MSGS=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sip_messages"])' "$WORK/all.out")
read -r _ HASH_S _ < <(run hash "$SIPSCOPE" ingest --quiet --json --events none --db "$WORK/none.db" "$PCAP")

FIELDS=(-e frame.time_epoch -e ip.src -e ip.dst -e udp.srcport -e udp.dstport -e sip.Method -e sip.Status-Code
  -e sip.r-uri -e sip.from.user -e sip.from.tag -e sip.to.user -e sip.to.tag -e sip.Call-ID -e sip.CSeq
  -e sip.User-Agent -e sip.auth.username -e sip.auth.nonce -e sip.auth.digest.response)
read -r _ TS_S TS_KB < <(run tshark tshark -r "$PCAP" -c "$TSHARK_PACKETS" -Y sip -T fields "${FIELDS[@]}")
TS_MSGS=$(wc -l <"$WORK/tshark.out")

python3 - "$PACKETS" "$MSGS" "$SIZE" "$ALL_S" "$ALL_KB" "$NONE_S" "$NONE_KB" "$HASH_S" "$TSHARK_PACKETS" "$TS_MSGS" "$TS_S" "$TS_KB" <<'PY'
import sys
p, msgs, size, all_s, all_kb, none_s, none_kb, hash_s, tp, tmsgs, ts_s, ts_kb = sys.argv[1:]
p, msgs, size, tp, tmsgs = int(p), int(msgs), int(size), int(tp), int(tmsgs)
all_s, none_s, hash_s, ts_s = float(all_s), float(none_s), float(hash_s), float(ts_s)
rows = [
    ("sipscope ingest --events all", p, msgs, all_s, int(all_kb)),
    ("sipscope ingest --events none", p, msgs, none_s, int(none_kb)),
    ("tshark -Y sip -T fields", tp, tmsgs, ts_s, int(ts_kb)),
]
print(f"capture: {p:,} packets, {size/1e6:,.0f} MB; tshark on the first {tp:,} packets")
print(f"(each sipscope run includes hashing the file for dedupe: {hash_s:.2f} s alone)")
print(f"{'run':34} {'packets/s':>12} {'SIP msgs/s':>12} {'peak MB':>9} {'vs tshark':>10}")
ts_rate = tp / ts_s
for name, n, m, s, kb in rows:
    print(f"{name:34} {n/s:12,.0f} {m/s:12,.0f} {kb/1024:9,.0f} {n/s/ts_rate:9.1f}x")
PY
