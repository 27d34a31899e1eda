#!/usr/bin/env bash
# What the rules cost: one sipscope binary ingesting the same capture with the rules (the
# built-in pack, the default) and with --no-rules, alternating, several rounds.
#   bench/rules-overhead.sh SIPSCOPE_BIN CAPTURE [ROUNDS] [EVENTS_MODES]
# Runs `ingest --quiet --json --events MODE` (analysis on, the default) into a fresh store under
# $TMPDIR, ROUNDS times (default 3) per mode (default "none all") in ABAB order so that a busy
# machine hurts both alike, and prints per mode the best and median wall time, messages/s of
# the best run, CPU seconds (user+system) of the best run, the least and the median CPU seconds,
# peak RSS and alerts raised, then the ratios rules/no-rules of the best runs' wall time and of
# the least CPU seconds (the issue's budget: at most 1.10; on a machine other work shares, judge
# by CPU). Needs python3 and /usr/bin/time. No network.
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,11p' "$0" >&2; exit 2; }
BIN=$1 CAPTURE=$2 ROUNDS=${3:-3} MODES=${4:-"none all"}
[ -x "$BIN" ] || { echo "not executable: $BIN" >&2; exit 2; }
[ -r "$CAPTURE" ] || { echo "cannot read $CAPTURE" >&2; exit 2; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rules-overhead.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
if [ -r /proc/loadavg ]; then
    read -r load1 _ </proc/loadavg
    echo "1-minute load before the runs: $load1 (above ~0.5 the figures are noisy)" >&2
fi
RESULTS=$TMP/results.tsv
for round in $(seq "$ROUNDS"); do
    for mode in $MODES; do
        for side in rules no-rules; do
            extra=()
            [ "$side" = no-rules ] && extra=(--no-rules)
            rm -f "$TMP"/s.db*
            /usr/bin/time -f "%e %U %S %M" -o "$TMP/time" timeout 3600 \
                "$BIN" ingest --quiet --json --events "$mode" "${extra[@]}" --db "$TMP/s.db" "$CAPTURE" >"$TMP/summary.json" || true
            read -r wall user sys rss <"$TMP/time"
            python3 - "$TMP/summary.json" "$side" "$mode" "$wall" "$user" "$sys" "$rss" >>"$RESULTS" <<'PY'
import json, sys
path, side, mode, wall, user, sys_, rss = sys.argv[1:]
s = json.load(open(path))
print("\t".join(map(str, [side, mode, wall, float(user) + float(sys_), rss, s["sip_messages"], s.get("alerts_raised", 0)])))
PY
            echo "round $round $mode $side: ${wall} s" >&2
        done
    done
done
python3 - "$RESULTS" "$BIN" "$CAPTURE" "$MODES" <<'PY'
import statistics, sys
path, binary, capture, modes = sys.argv[1:]
rows = [line.rstrip("\n").split("\t") for line in open(path)]
print(f"binary  {binary}\ncapture {capture}\n")
print(f"{'events':<7} {'rules':<9} {'best s':>8} {'median s':>9} {'msgs/s':>10} {'cpu s':>7} {'min cpu':>8} {'med cpu':>8} {'peak MB':>8} {'alerts':>8}")
best = {}
cpu = {}
for mode in modes.split():
    for side in ("rules", "no-rules"):
        rs = [r for r in rows if r[0] == side and r[1] == mode]
        if not rs:
            continue
        walls = [float(r[2]) for r in rs]
        b = min(rs, key=lambda r: float(r[2]))
        w = float(b[2])
        best[(mode, side)] = w
        cpus = [float(r[3]) for r in rs]
        cpu[(mode, side)] = min(cpus)
        print(f"{mode:<7} {side:<9} {w:>8.2f} {statistics.median(walls):>9.2f} {int(b[5]) / w:>10,.0f} "
              f"{float(b[3]):>7.2f} {min(cpus):>8.2f} {statistics.median(cpus):>8.2f} {int(b[4]) / 1024:>8.0f} {int(b[6]):>8,}")
print()
for mode in modes.split():
    if (mode, "rules") in best and (mode, "no-rules") in best:
        print(f"--events {mode}: rules take {best[(mode, 'rules')] / best[(mode, 'no-rules')]:.3f}x the time of --no-rules (best runs; budget 1.10)")
        print(f"--events {mode}: rules take {cpu[(mode, 'rules')] / cpu[(mode, 'no-rules')]:.3f}x the CPU seconds of --no-rules (least CPU of each side; on a shared machine the figure to judge by)")
PY
