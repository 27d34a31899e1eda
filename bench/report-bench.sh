#!/usr/bin/env bash
# How long `sipscope report` takes on a large store, section by section.
#   bench/report-bench.sh [MESSAGES]      (default 10,000,000 SIP messages)
# Builds the benchmark capture (crates/sipscope/examples/make_bench_pcap.rs: the attack mix,
# 90% SIP), ingests it with the analysis on into a fresh store, then times a full report in
# every format and each section alone. Needs ~1 GB of disk per million messages.
# BASELINE=/path/to/other/sipscope also times that binary's full text report on the same
# store, side by side, and prints the ratio (docs/benchmarks.md: the report before the
# hourly totals).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
MESSAGES=${1:-10000000}
PACKETS=$((MESSAGES * 10 / 9))
WORK=${WORK:-/tmp/sipscope-report-bench}
mkdir -p "$WORK"
PCAP=$WORK/mix-$PACKETS.pcap
DB=$WORK/store-$PACKETS.db
cargo build -q --release -p sipscope --example make_bench_pcap --bin sipscope
SIPSCOPE=$ROOT/target/release/sipscope
[ -s "$PCAP" ] || "$ROOT/target/release/examples/make_bench_pcap" "$PCAP" "$PACKETS"
if [ ! -s "$DB" ]; then
  /usr/bin/time -f "ingest: %e s wall, %M KB peak" "$SIPSCOPE" ingest --quiet --db "$DB" "$PCAP"
fi
events=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from events').fetchone()[0])" "$DB")
echo "store: $events events"
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); python3 -c "print(f'{$e - $s:7.2f} s')"; }
secs() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); python3 -c "print($e - $s)"; }
if [ -n "${BASELINE:-}" ]; then
  base=$(secs "$BASELINE" report --db "$DB"); this=$(secs "$SIPSCOPE" report --db "$DB")
  python3 -c "print(f'full text report: baseline {$base:.2f} s, this {$this:.2f} s, {$base / $this:.1f}x faster')"
fi
for fmt in text json html; do
  printf '%-24s' "all sections, $fmt"; t "$SIPSCOPE" report --db "$DB" --format "$fmt"
done
for section in summary daily stages spread overlap compare sources countries country-pairs user-agents \
  tools tools-by-year tools-by-country strategies numbers campaigns passwords; do
  printf '%-24s' "$section"; t "$SIPSCOPE" report --db "$DB" "$section"
done
