#!/usr/bin/env bash
# What the rules cost in instructions: one sipscope binary ingesting the same capture with the
# rules (the built-in pack, the default) and with --no-rules under `valgrind --tool=callgrind`,
# per thread. Instruction counts are repeatable on a machine other work shares, where wall
# and CPU seconds are not (bench/rules-overhead.sh measures those on a quiet machine).
#   bench/rules-callgrind.sh SIPSCOPE_BIN CAPTURE [EVENTS_MODES] [OUT_DIR]
# Runs `ingest --quiet --json --events MODE` (analysis on) into a fresh store for each mode
# (default "none all") and side, keeps the callgrind files in OUT_DIR (default a temporary
# folder, removed at the end) and prints per mode and side the instructions of each thread
# (main: the pipeline, and the rules where they run in line; sqlite-writer; analysis: the
# engine's thread, and the rules of files and replays beside it), their sum,
# and the ratio rules / --no-rules of the sums (the issue's budget: 1.10). Use a capture of
# 100-200 k packets (`make_bench_pcap F 100000`): callgrind runs ~50x slower. No network.
# Under valgrind the sha2 crate finds no SHA extensions and hashes the capture (the file's
# registration, the records' content digest) in software: ~46,600 instructions a packet, a
# third of the whole run's, where natively (SHA-NI) it is ~5% of the CPU time. The script
# prints those instructions ("sha256") and the ratio without them, the closer one to a native
# CPU ratio (docs/benchmarks.md, "Closing the gap").
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,13p' "$0" >&2; exit 2; }
BIN=$1 CAPTURE=$2 MODES=${3:-"none all"} OUT=${4:-}
[ -x "$BIN" ] || { echo "not executable: $BIN" >&2; exit 2; }
[ -r "$CAPTURE" ] || { echo "cannot read $CAPTURE" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "valgrind is needed" >&2; exit 2; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rules-callgrind.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
[ -n "$OUT" ] || OUT=$TMP/out
mkdir -p "$OUT"
for mode in $MODES; do
    for side in rules no-rules; do
        extra=()
        [ "$side" = no-rules ] && extra=(--no-rules)
        dir=$OUT/$mode-$side
        rm -rf "$dir" && mkdir -p "$dir"
        echo "callgrind: --events $mode, $side" >&2
        valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$dir/cg.out" \
            "$BIN" ingest --quiet --json --events "$mode" "${extra[@]}" --db "$TMP/s.db" "$CAPTURE" \
            >"$dir/summary.json" 2>"$dir/valgrind.log"
        rm -f "$TMP"/s.db*
    done
done
python3 - "$OUT" "$MODES" <<'PY'
import glob, os, re, sys
out, modes = sys.argv[1:]
import subprocess
def sha256_soft(f):
    """Exclusive instructions of the software SHA-256 (sha2's `soft` module) in one file."""
    out = subprocess.run(["callgrind_annotate", "--auto=no", "--threshold=100", f], capture_output=True, text=True).stdout
    total = 0
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+) \(", line)
        if m and "sha2::sha256::soft" in line:
            total += int(m.group(1).replace(",", ""))
    return total
def threads(d):
    """Instructions per thread name (thread 1 is main; the others named by their first frame),
    and the software SHA-256's under "sha256"."""
    sums = {"sha256": 0}
    for f in glob.glob(os.path.join(d, "cg.out-*")):
        sums["sha256"] += sha256_soft(f)
        text = open(f, errors="replace").read()
        total = int(re.search(r"^(?:summary|totals): (\d+)", text, re.M).group(1))
        thread = int(re.search(r"^thread: (\d+)", text, re.M).group(1))
        if thread == 1:
            name = "main"
        elif "sqlite::background" in text and "Writer::run" in text:
            name = "writer"
        elif "pipeline::session::run" in text or "pipeline::worker::State::run" in text:
            # The analysis thread (and, for files, the rules beside it): named by its loop,
            # in session.rs before the rules moved there, in worker.rs since.
            name = "analysis"
        else:
            name = f"thread{thread}"
        sums[name] = sums.get(name, 0) + total
    return sums
print(f"{'events':<7} {'rules':<9} {'main':>15} {'writer':>15} {'analysis':>15} {'other':>13} {'sum':>15} {'sha256':>15}")
ratios = []
for mode in modes.split():
    got, sha = {}, {}
    for side in ("rules", "no-rules"):
        t = threads(os.path.join(out, f"{mode}-{side}"))
        sha[side] = t.pop("sha256")
        other = sum(v for k, v in t.items() if k not in ("main", "writer", "analysis"))
        got[side] = sum(t.values())
        print(f"{mode:<7} {side:<9} {t.get('main', 0):>15,} {t.get('writer', 0):>15,} {t.get('analysis', 0):>15,} {other:>13,} {got[side]:>15,} {sha[side]:>15,}")
    ratios.append(f"--events {mode}: rules take {got['rules'] / got['no-rules']:.3f}x the instructions of --no-rules (budget 1.10)")
    ratios.append(f"--events {mode}: without the software SHA-256 (valgrind only), {(got['rules'] - sha['rules']) / (got['no-rules'] - sha['no-rules']):.3f}x")
print()
print("\n".join(ratios))
PY
