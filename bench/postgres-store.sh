#!/usr/bin/env bash
# SQLite vs PostgreSQL as sipscope's store: ingest time and report time, with ratios.
#   bench/postgres-store.sh [MESSAGES]        (default 1,000,000 SIP messages)
#   bench/postgres-store.sh --sqlite PATH --pg URL [--rounds N]
#       report time only, on stores that exist already (nothing is written to either): `report`
#       (text, every section) N times on each (default 5, alternating, best kept), with the
#       1-minute load before and after, the CPU seconds of the best rounds and the ratio.
# Builds the benchmark capture (crates/sipscope/examples/make_bench_pcap.rs, the attack mix),
# then for each backend: `ingest --quiet` (events and analysis stored) into a fresh store (a
# SQLite file under $WORK; a fresh database sipscope_bench_<pid> on $PGURL's server, dropped at
# the end), then `report` (text, every section) ROUNDS times (default 3, best kept), and
# prints the table with PostgreSQL/SQLite ratios. PGURL defaults to the local service
# (postgres://postgres@127.0.0.1:5432). Needs ~1 GB of disk per million messages per backend.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
if [ "${1:-}" = "--sqlite" ]; then
    SQLITE_STORE="" PG_STORE="" ROUNDS=${ROUNDS:-5}
    while [ $# -gt 0 ]; do
        case "$1" in
            --sqlite) SQLITE_STORE=$2; shift 2 ;;
            --pg) PG_STORE=$2; shift 2 ;;
            --rounds) ROUNDS=$2; shift 2 ;;
            *) echo "unknown argument: $1" >&2; exit 2 ;;
        esac
    done
    [ -r "$SQLITE_STORE" ] && [ -n "$PG_STORE" ] || { echo "usage: $0 --sqlite PATH --pg URL [--rounds N]" >&2; exit 2; }
    # SIPSCOPE=path measures that binary instead of building this tree's release binary.
    if [ -z "${SIPSCOPE:-}" ]; then
        cargo build -q --release -p sipscope --bin sipscope
        SIPSCOPE=$ROOT/target/release/sipscope
    fi
    OUT=$(mktemp -d)
    trap 'rm -rf "$OUT"' EXIT
    # One round: wall seconds, then user+system CPU seconds of the client.
    round() { /usr/bin/time -f "%e %U %S" -o "$OUT/t" "$SIPSCOPE" report --db "$1" >"$OUT/$2.txt"; awk '{print $1, $2 + $3}' "$OUT/t"; }
    read -r load0 _ </proc/loadavg
    : >"$OUT/s"; : >"$OUT/p"
    for _ in $(seq "$ROUNDS"); do round "$SQLITE_STORE" sqlite >>"$OUT/s"; round "$PG_STORE" pg >>"$OUT/p"; done
    read -r load1 _ </proc/loadavg
    cmp -s "$OUT/sqlite.txt" "$OUT/pg.txt" && same=yes || same=NO
    python3 - "$OUT/s" "$OUT/p" "$ROUNDS" "$load0" "$load1" "$same" <<'PY'
import sys
s, p, rounds, load0, load1, same = sys.argv[1:]
rows = lambda f: [tuple(map(float, l.split())) for l in open(f) if l.strip()]
bs, bp = min(rows(s)), min(rows(p))
print(f"report, best of {rounds} (wall s; client CPU s of that round); 1-minute load {load0} before, {load1} after")
print(f"  SQLite      {bs[0]:8.2f}  ({bs[1]:.2f} CPU)   all: {' '.join(f'{r[0]:.2f}' for r in rows(s))}")
print(f"  PostgreSQL  {bp[0]:8.2f}  ({bp[1]:.2f} CPU)   all: {' '.join(f'{r[0]:.2f}' for r in rows(p))}")
print(f"  PG/SQLite   {bp[0] / bs[0]:8.2f}")
print(f"  same report text: {same}")
PY
    exit 0
fi
MESSAGES=${1:-1000000}
ROUNDS=${ROUNDS:-3}
PACKETS=$((MESSAGES * 10 / 9))
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432}
WORK=${WORK:-/tmp/sipscope-pg-bench}
DBNAME=sipscope_bench_$$
mkdir -p "$WORK"
PCAP=$WORK/mix-$PACKETS.pcap
SQLITE=$WORK/store-$$.db
cargo build -q --release -p sipscope --example make_bench_pcap --bin sipscope
SIPSCOPE=$ROOT/target/release/sipscope
[ -s "$PCAP" ] || "$ROOT/target/release/examples/make_bench_pcap" "$PCAP" "$PACKETS"
cat "$PCAP" >/dev/null
psql -q "$PGURL/postgres" -c "CREATE DATABASE $DBNAME"
cleanup() { rm -f "$SQLITE"*; psql -q "$PGURL/postgres" -c "DROP DATABASE IF EXISTS $DBNAME WITH (FORCE)" || true; }
trap cleanup EXIT
PG=$PGURL/$DBNAME
secs() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); python3 -c "print(round($e - $s, 3))"; }
best() { local b="" t; for _ in $(seq "$ROUNDS"); do t=$(secs "$@"); b=$(python3 -c "print(min(x for x in [$t, ${b:-$t}]))"); done; echo "$b"; }
if [ -r /proc/loadavg ]; then read -r load1 _ </proc/loadavg; echo "1-minute load before the runs: $load1" >&2; fi
ing_s=$(secs "$SIPSCOPE" ingest --quiet --db "$SQLITE" "$PCAP")
ing_p=$(secs "$SIPSCOPE" ingest --quiet --db "$PG" "$PCAP")
ev_s=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from events').fetchone()[0])" "$SQLITE")
ev_p=$(psql -tAq "$PG" -c "select count(*) from events")
psql -q "$PG" -c "VACUUM ANALYZE" >/dev/null
size_p=$(psql -tAq "$PG" -c "select pg_database_size(current_database())")
size_s=$(du -cb "$SQLITE"* | tail -1 | cut -f1)
rep_s=$(best "$SIPSCOPE" report --db "$SQLITE")
rep_p=$(best "$SIPSCOPE" report --db "$PG")
# The reads alone that touch events (analyze reads every event in time order).
an_s=$(secs "$SIPSCOPE" analyze --db "$SQLITE")
an_p=$(secs "$SIPSCOPE" analyze --db "$PG")
python3 - "$MESSAGES" "$ev_s" "$ev_p" "$ing_s" "$ing_p" "$rep_s" "$rep_p" "$an_s" "$an_p" "$size_s" "$size_p" <<'PY'
import sys
m, ev_s, ev_p, ing_s, ing_p, rep_s, rep_p, an_s, an_p, size_s, size_p = sys.argv[1:]
f = float
print(f"{int(m):,} SIP messages in the capture; events stored: SQLite {int(ev_s):,}, PostgreSQL {int(ev_p):,}")
print(f"{'':<22}{'SQLite':>10}{'PostgreSQL':>12}{'PG/SQLite':>11}")
for name, a, b in [("ingest (s)", ing_s, ing_p), ("report, best (s)", rep_s, rep_p), ("analyze (s)", an_s, an_p)]:
    print(f"{name:<22}{f(a):>10.2f}{f(b):>12.2f}{f(b) / f(a):>11.2f}")
print(f"{'events/s ingested':<22}{int(ev_s) / f(ing_s):>10,.0f}{int(ev_p) / f(ing_p):>12,.0f}")
print(f"{'store size (MB)':<22}{int(size_s) / 1e6:>10,.0f}{int(size_p) / 1e6:>12,.0f}")
PY
