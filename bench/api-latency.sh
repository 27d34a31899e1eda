#!/usr/bin/env bash
# Latency of the REST API over a large store: the overview (/api/v1/report) and a source page
# (/api/v1/sources/{ip}), p50/p90/p99 under a loopback load (examples/api_load.rs).
#   bench/api-latency.sh [MESSAGES] [REQUESTS] [CLIENTS]   (defaults 1,000,000, 300, 4)
#   STORE=/path/to/store.db bench/api-latency.sh - [REQUESTS] [CLIENTS]   (an existing store)
# Builds the benchmark capture (examples/make_bench_pcap.rs, 90% SIP), ingests it with the
# analysis on into a fresh store (about 1 GB of disk per million messages) — or, with STORE,
# serves an existing store (the tokens file goes to $WORK, never beside it; the server writes
# only its kept reports to the store, and migrates a store of an older schema) —
# starts `sipscope serve` on 127.0.243.200, and measures: the first overview after a start (built
# cold, or an earlier run's kept report), the same after a restart on the same store, the
# overview as the dashboard gets it (kept, rebuilt in the background every 10 s), the overview
# for filters the server has never seen (COLD requests, one client, each a new `from`; with CUT,
# also ranges that cut the stored times), the dashboard's quick ranges as it asks them (their
# starts from /api/v1/ranges, asked once each after the server built them, then under load),
# each report section cold (`REPORT_COLD=1` only), and source pages of a busy and a quiet source.
# STEP_US=80000 spreads the capture's packets over ten days (default 10 µs: two minutes, one
# UTC hour, where every range on whole hours holds all the data or none); NOW (Unix seconds,
# default a second after the newest stored event) is the instant the quick ranges count back
# from (`serve --now`).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
MESSAGES=${1:-1000000}
REQUESTS=${2:-300}
CLIENTS=${3:-4}
STEP_US=${STEP_US:-10}
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
  spread=""; [ "$STEP_US" = 10 ] || spread="-step$STEP_US"
  PCAP=$WORK/mix-$PACKETS$spread.pcap
  DB=$WORK/store-$PACKETS$spread.db
  [ -s "$PCAP" ] || "$ROOT/target/release/examples/make_bench_pcap" "$PCAP" "$PACKETS" --step-us "$STEP_US"
  if [ ! -s "$DB" ]; then
    /usr/bin/time -f "ingest: %e s wall, %M KB peak" "$SIPSCOPE" ingest --quiet --db "$DB" "$PCAP"
  fi
fi
before=$(stat -c '%s %Y' "$DB")
q() { python3 -c "import sqlite3,sys; print(sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True).execute(sys.argv[2]).fetchone()[0])" "$DB" "$1"; }
echo "store: $(q 'select count(*) from events') events, $(du -h "$DB" | cut -f1)"
busy=$(q "select src_ip from traffic group by src_ip order by sum(messages) desc limit 1")
quiet=$(q "select src_ip from traffic group by src_ip order by sum(messages) asc limit 1")
NOW=${NOW:-$(q 'select max(ts_ns) / 1000000000 + 1 from events')}
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
rm -f "$WORK/serve.tokens"
# A binary from before quick ranges has no --now (nor /api/v1/ranges): served without it.
now_arg=(--now "$NOW"); "$SIPSCOPE" serve --help | grep -q -- '--now' || now_arg=()
start_server() {
  : >"$WORK/serve.err"
  started=$(date +%s.%N)
  "$SIPSCOPE" serve --db "$DB" --tokens "$WORK/serve.tokens" --listen "$ADDR" --rate 1000000 --burst 1000000 "${now_arg[@]}" 2>"$WORK/serve.err" &
  pid=$!
  for _ in $(seq 100); do grep -q '#token=' "$WORK/serve.err" 2>/dev/null && break; sleep 0.1; done
  token=$(grep -o 'sst_[0-9a-f]*' "$WORK/serve.err")
}
# One overview request right after a start, timed by curl (the request only), with how the
# server answered: built (waited for its start-up build) or an earlier run's kept report.
first_overview() {
  local took
  took=$(curl -s -o /dev/null -D "$WORK/first.head" -w '%{time_total}' -H "Authorization: Bearer $token" "http://$ADDR/api/v1/report")
  head -1 "$WORK/first.head" | grep -q ' 200' || { echo "first request after $1: $(head -1 "$WORK/first.head")" >&2; exit 1; }
  local how="built by this run"
  grep -qi '^sipscope-report-earlier-run: true' "$WORK/first.head" && how="kept by an earlier run ($(grep -i '^sipscope-report-built:' "$WORK/first.head" | tr -d '\r' | cut -d' ' -f2))"
  echo "overview, first request after $1: $(python3 -c "print(f'{$took * 1000:.1f}')") ms, $how"
}
start_server
trap 'kill $pid 2>/dev/null || true' EXIT
# The server builds the overview when it starts: the first request waits for it (cold), unless
# an earlier run of the server kept its overview in the store (docs/api.md).
first_overview start
"$LOAD" "$ADDR" "$token" /api/v1/report "$REQUESTS" "$CLIENTS"
# Restarted on the same store: the first request after that start (the run above has kept its
# overview in the store by now, if the binary keeps reports).
kill "$pid"; wait "$pid" 2>/dev/null || true
while ss -ltn | grep -q " $ADDR "; do sleep 0.05; done
start_server
first_overview restart
# The dashboard's quick ranges, their starts as the server gives them (a binary from before
# them: the same rule, whole UTC hours back from NOW, computed here). Asked once each after
# the server has built them (waiting for its counter, as a user clicking a little after the
# start would), then under load.
quick=$(python3 - "$ADDR" "$token" "$NOW" <<'PY'
import json, sys, time, urllib.request
addr, token, now = sys.argv[1], sys.argv[2], int(sys.argv[3])
def get(path):
    req = urllib.request.Request(f"http://{addr}{path}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return r.read().decode()
try:
    ranges = json.loads(get("/api/v1/ranges"))["ranges"]
    froms = [r["from"] for r in ranges if r["from"]]
    prebuilt = lambda: int(next(l.split()[-1] for l in get("/metrics").splitlines()
                                if l.startswith('sipscope_api_reports_total{how="prebuilt"}')))
    while prebuilt() < 1 + len(froms):
        time.sleep(0.05)
    print("kept", " ".join(froms))
except urllib.error.HTTPError:
    print("computed", " ".join(str((now - s) // 3600 * 3600) for s in (3600, 86400, 604800)))
PY
)
ready=$(date +%s.%N)
if [ "${quick%% *}" = kept ]; then
  python3 -c "print(f'quick ranges kept by {$ready - $started:.1f} s after the server started (NOW=$NOW)')"
else
  echo "no /api/v1/ranges (a binary from before them): never-seen ranges from whole hours before NOW=$NOW"
fi
quick=${quick#* }
for from in $quick; do "$LOAD" "$ADDR" "$token" "/api/v1/report?from=$from" 1 1; done
for from in $quick; do "$LOAD" "$ADDR" "$token" "/api/v1/report?from=$from" "$REQUESTS" "$CLIENTS"; done
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
# The server writes to the store only the reports it keeps across restarts (the kept_reports
# table; and a store of an older schema is migrated when opened).
[ "$(stat -c '%s %Y' "$DB")" = "$before" ] || echo "note: the store's file changed while served (kept reports, docs/api.md)" >&2
