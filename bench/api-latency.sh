#!/usr/bin/env bash
# Latency of the REST API over a large store: the overview (/api/v1/report) and a source page
# (/api/v1/sources/{ip}), p50/p90/p99 under a loopback load (examples/api_load.rs).
#   bench/api-latency.sh [MESSAGES] [REQUESTS] [CLIENTS]   (defaults 1,000,000, 300, 4)
#   STORE=/path/to/store.db bench/api-latency.sh - [REQUESTS] [CLIENTS]   (an existing store)
# Builds the benchmark capture (examples/make_bench_pcap.rs, 90% SIP), ingests it with the
# analysis on into a fresh store (about 1 GB of disk per million messages) — or, with STORE,
# serves an existing store, only read (the tokens file goes to $WORK, never beside it) —
# starts `sipscope serve` on 127.0.243.200, and measures: the first overview (built cold), the
# overview as the dashboard gets it (kept, rebuilt in the background every 10 s), the overview
# for filters the server has never seen (COLD requests, one client, each a new `from`; with CUT,
# also ranges that cut the stored times), each
# report section cold (`REPORT_COLD=1` only), and source pages of a busy and a quiet source.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
MESSAGES=${1:-1000000}
REQUESTS=${2:-300}
CLIENTS=${3:-4}
WORK=${WORK:-/tmp/sipscope-api-bench}
ADDR=${ADDR:-127.0.243.200:18443}
mkdir -p "$WORK"
COLD=${COLD:-30}
cargo build -q --release -p sipscope --example make_bench_pcap --example api_load --bin sipscope
# SIPSCOPE=/path/to/another/sipscope serves with that binary (a before/after comparison).
SIPSCOPE=${SIPSCOPE:-$ROOT/target/release/sipscope}
LOAD=$ROOT/target/release/examples/api_load
if [ -n "${STORE:-}" ]; then
  DB=$STORE
  [ -s "$DB" ] || { echo "no store at $DB" >&2; exit 1; }
else
  PACKETS=$((MESSAGES * 10 / 9))
  PCAP=$WORK/mix-$PACKETS.pcap
  DB=$WORK/store-$PACKETS.db
  [ -s "$PCAP" ] || "$ROOT/target/release/examples/make_bench_pcap" "$PCAP" "$PACKETS"
  if [ ! -s "$DB" ]; then
    /usr/bin/time -f "ingest: %e s wall, %M KB peak" "$SIPSCOPE" ingest --quiet --db "$DB" "$PCAP"
  fi
fi
before=$(stat -c '%s %Y' "$DB")
q() { python3 -c "import sqlite3,sys; print(sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True).execute(sys.argv[2]).fetchone()[0])" "$DB" "$1"; }
echo "store: $(q 'select count(*) from events') events, $(du -h "$DB" | cut -f1)"
busy=$(q "select src_ip from traffic group by src_ip order by sum(messages) desc limit 1")
quiet=$(q "select src_ip from traffic group by src_ip order by sum(messages) asc limit 1")
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
rm -f "$WORK/serve.tokens"
"$SIPSCOPE" serve --db "$DB" --tokens "$WORK/serve.tokens" --listen "$ADDR" --rate 1000000 --burst 1000000 2>"$WORK/serve.err" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q '#token=' "$WORK/serve.err" 2>/dev/null && break; sleep 0.1; done
token=$(grep -o 'sst_[0-9a-f]*' "$WORK/serve.err")
# The server builds the overview when it starts: the first request waits for it (cold).
s=$(date +%s.%N); "$LOAD" "$ADDR" "$token" /api/v1/report 1 1 >/dev/null; e=$(date +%s.%N)
python3 -c "print(f'overview, first request (built cold): {($e - $s) * 1000:.0f} ms')"
"$LOAD" "$ADDR" "$token" /api/v1/report "$REQUESTS" "$CLIENTS"
# A filter never asked before, every request (`from` = n seconds after 1970: all the data).
"$LOAD" "$ADDR" "$token" "/api/v1/report?from={n}" "$COLD" 1
# CUT: a query whose range cuts the stored times, `{n}` making each request new (the benchmark
# capture's times span 1700000000-1700000111 s: CUT='from=17000000{n}5' with COLD <= 10).
if [ -n "${CUT:-}" ]; then "$LOAD" "$ADDR" "$token" "/api/v1/report?$CUT" "$COLD" 1; fi
"$LOAD" "$ADDR" "$token" "/api/v1/sources/$busy" "$REQUESTS" "$CLIENTS"
"$LOAD" "$ADDR" "$token" "/api/v1/sources/$quiet" "$REQUESTS" "$CLIENTS"
"$LOAD" "$ADDR" "$token" "/api/v1/events?limit=100" "$REQUESTS" "$CLIENTS"
"$LOAD" "$ADDR" "$token" "/api/v1/events?source=$busy&limit=100" "$REQUESTS" "$CLIENTS"
if [ -n "${REPORT_COLD:-}" ]; then
  # Each section with a filter never asked before: built cold, one request each.
  n=0
  for section in summary daily stages spread overlap sources countries country-pairs user-agents tools tools-by-year \
    tools-by-country strategies numbers campaigns passwords alerts decisions; do
    n=$((n + 1))
    "$LOAD" "$ADDR" "$token" "/api/v1/report/$section?to=$((1900000000 + n))" 1 1
  done
fi
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$(stat -c '%s %Y' "$DB")" = "$before" ] || echo "warning: the store's file changed while served" >&2
