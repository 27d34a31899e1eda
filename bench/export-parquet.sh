#!/usr/bin/env bash
# `sipscope export --format parquet` against a plain peer on the same store, in one run:
# sqlite3's own CSV dump of the events table (what an operator would do without sipscope).
#   bench/export-parquet.sh [MESSAGES]      (default 1,000,000 SIP messages)
# Builds the benchmark capture (make_bench_pcap), ingests it with the analysis on, then times
# each exporter twice (alternating), reports sizes, and reads the archive back with pyarrow
# (and DuckDB when its Python package is installed) to check the row count.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
MESSAGES=${1:-1000000}
PACKETS=$((MESSAGES * 10 / 9))
WORK=${WORK:-/tmp/sipscope-export-bench}
mkdir -p "$WORK"
PCAP=$WORK/mix-$PACKETS.pcap
DB=$WORK/store-$PACKETS.db
cargo build -q --release -p sipscope --example make_bench_pcap --bin sipscope
SIPSCOPE=$ROOT/target/release/sipscope
[ -s "$PCAP" ] || "$ROOT/target/release/examples/make_bench_pcap" "$PCAP" "$PACKETS"
[ -s "$DB" ] || "$SIPSCOPE" ingest --quiet --db "$DB" "$PCAP"
command -v sqlite3 >/dev/null || { echo "sqlite3 CLI missing (apt-get install sqlite3)" >&2; exit 1; }
events=$(sqlite3 "$DB" 'select count(*) from events')
echo "store: $events events, $(du -h "$DB" | cut -f1)"
secs() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); python3 -c "print($e - $s)"; }
best_pq=999999; best_csv=999999
for round in 1 2; do
  rm -rf "$WORK/archive" "$WORK/events.csv"
  p=$(secs "$SIPSCOPE" export --format parquet --db "$DB" --out "$WORK/archive")
  c=$(secs sqlite3 -csv -header "$DB" "select * from events" -cmd ".output $WORK/events.csv")
  echo "round $round: sipscope export (events + tables) $p s, sqlite3 -csv events $c s"
  best_pq=$(python3 -c "print(min($best_pq, $p))"); best_csv=$(python3 -c "print(min($best_csv, $c))")
done
python3 - "$WORK" "$events" "$best_pq" "$best_csv" <<'PY'
import os, sys, pyarrow.parquet as pq
work, events, pq_s, csv_s = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
t = pq.read_table(work + "/archive/events.parquet", columns=["ts", "src_ip", "method"])
assert t.num_rows == events, (t.num_rows, events)
size = sum(os.path.getsize(os.path.join(work, "archive", f)) for f in os.listdir(work + "/archive"))
csv = os.path.getsize(work + "/events.csv")
print(f"events.parquet rows {t.num_rows} (= store); archive {size / 1e6:.0f} MB, events CSV {csv / 1e6:.0f} MB")
print(f"best: export {pq_s:.2f} s ({events / pq_s:,.0f} events/s), sqlite3 CSV {csv_s:.2f} s; ratio {pq_s / csv_s:.2f}x the CSV dump's time")
try:
    import duckdb
    n = duckdb.sql(f"select count(*) from '{work}/archive/events.parquet'").fetchone()[0]
    print(f"DuckDB reads {n} rows")
except ImportError:
    print("DuckDB not installed (pip install duckdb): skipped")
PY
