#!/usr/bin/env bash
# compare-results.sh — proves that two sipscope binaries give the same analysis results on the
# same captures (a pipeline or store redesign must lose nothing). See docs/compare-results.md.
#
#   scripts/compare-results.sh [OPTIONS] BEFORE_BIN AFTER_BIN CAPTURE...
#   scripts/compare-results.sh --self-test [BIN]
#
# CAPTURE: pcap/pcapng files (plain, gzip, zstd) or directories of them, as for `ingest`.
#
# For each binary, in a fresh directory of its own:
#   1. `ingest --events all --sensor compare --json` of every capture into a new store, with
#      the in-pass analysis on (the default);
#   2. phase "ingest": `report --format json` (every section) and canonical dumps of the store;
#   3. `analyze --json` on that store (it replaces the in-pass results with one exact run);
#   4. phase "analyze": `report --format json` and the dumps again.
# Then compares BEFORE with AFTER, item by item:
#   summary  `ingest --json` (without elapsed_s) and its exit code; `analyze --json` (without
#            the run id). Top-level fields only one side has are listed, not compared.
#   report   `report --format json`, keys sorted (it reads no clock: the same store gives the
#            same bytes). The primary comparison: it does not depend on the store's layout.
#   tables   analysis_runs (kind, events, flows_evicted), flows, fingerprints, stages, numbers,
#            user_agents, sources, source_days, and traffic and dialled summed per key (the
#            engine may split one key over several rows: readers sum them; raw row counts are
#            shown, not compared); in phase "ingest" also events (every column but id and
#            file_id, with the file's sha256 instead of its id, raw as length and SHA3-256)
#            and ingested_files (without id and the run's wall-clock times).
#            Never compared: row ids, run ids, analysis_runs' and ingested_files' start/finish
#            times (wall clock of the run), events.file_id (an id; its file's sha256 is).
#            Rows are sorted; each value is shown as an SQL literal in printable ASCII (tab,
#            CR, LF and backslash in text as e'..\t\r\n\\..', any other byte outside printable
#            ASCII as x'HEX' of the whole text), so no attacker byte reaches the terminal. For a
#            changed row, the columns that changed are named.
# Also noted, not compared: whether each binary's in-pass results equal its `analyze` results.
#
# Layout changes: a table or column one store lacks is reported as "layout differs: ... not
# compared" (other columns are still compared). To compare a redesigned layout, give
# --after-sql FILE (or --before-sql): SQL run on that store's read-only connection before every
# query, e.g. TEMP VIEWs with the old names and columns (a TEMP VIEW named like a table hides
# it; the real one stays reachable as main.NAME):
#   CREATE TEMP VIEW flows AS SELECT f.*, a.text AS src_ip FROM main.flows f JOIN addrs a ON ...;
#
# Options:
#   --nodes FILE        nodes file, passed to ingest and report of both binaries
#   --before-sql FILE   SQL run before every query on BEFORE's store (see above)
#   --after-sql FILE    the same for AFTER's store
#   --tmp DIR           where the work directory goes (default $TMPDIR or /tmp); big captures
#                       make big stores and dumps (about 1.2 kB per event, twice)
#   --keep              keep the work directory (stores, dumps, full diffs) and print its path
#   --diff-lines N      diff lines shown per differing item (default 40; lines cut at 300 chars)
#   --timeout SECS      limit for each sipscope command (default 3600)
#   --self-test [BIN]   quick proof that this script sees sameness and differences, on the
#                       golden pcaps (BIN: $SIPSCOPE, else target/release/sipscope)
#
# Exit: 0 every item compared and the same; 1 some item differs (unified diff shown);
# 2 usage error or a command failed; 3 nothing differs but something was not compared
# (layout differs).
#
# Needs: bash, sqlite3 (the CLI, for sha3()), jq, diff, cmp, timeout.
set -euo pipefail

PROG=compare-results
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF=$ROOT/scripts/$(basename "${BASH_SOURCE[0]}")

NODES=
BEFORE_SQL=
AFTER_SQL=
TMP_PARENT=${TMPDIR:-/tmp}
KEEP=0
DIFF_LINES=40
TIMEOUT=3600
SELF_TEST=0
SELF_TEST_BIN=

usage() {
  sed -n '2,/^set -euo/p' "$SELF" | sed '$d' | sed 's/^# \{0,1\}//'
}
die() {
  printf '%s: %s\n' "$PROG" "$*" | cat -v >&2
  exit 2
}
say() { printf '%s\n' "$*" | cat -v; }

# --- arguments ---------------------------------------------------------------------------------
POSITIONAL=()
while [ $# -gt 0 ]; do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --nodes) NODES=${2:?--nodes needs a file}; shift 2 ;;
    --before-sql) BEFORE_SQL=${2:?--before-sql needs a file}; shift 2 ;;
    --after-sql) AFTER_SQL=${2:?--after-sql needs a file}; shift 2 ;;
    --tmp) TMP_PARENT=${2:?--tmp needs a directory}; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --diff-lines) DIFF_LINES=${2:?--diff-lines needs a number}; shift 2 ;;
    --timeout) TIMEOUT=${2:?--timeout needs seconds}; shift 2 ;;
    --self-test)
      SELF_TEST=1; shift
      if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then SELF_TEST_BIN=$1; shift; fi ;;
    --) shift; POSITIONAL+=("$@"); break ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) POSITIONAL+=("$1"); shift ;;
  esac
done
[[ $DIFF_LINES =~ ^[0-9]+$ ]] || die "--diff-lines takes a number"
[[ $TIMEOUT =~ ^[0-9]+$ ]] || die "--timeout takes seconds"
for tool in sqlite3 jq diff cmp timeout; do
  command -v "$tool" >/dev/null || die "$tool is needed (apt-get install sqlite3 jq diffutils coreutils)"
done
abs() { realpath -e -- "$1" 2>/dev/null || die "$1: not found"; }
[ -z "$NODES" ] || NODES=$(abs "$NODES")
[ -z "$BEFORE_SQL" ] || BEFORE_SQL=$(abs "$BEFORE_SQL")
[ -z "$AFTER_SQL" ] || AFTER_SQL=$(abs "$AFTER_SQL")
[ -d "$TMP_PARENT" ] || die "--tmp $TMP_PARENT: not a directory"

WORK=
cleanup() {
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    if [ "$KEEP" = 1 ]; then say "$PROG: work directory kept: $WORK" >&2; else rm -rf -- "$WORK"; fi
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- self-test ---------------------------------------------------------------------------------
# Runs this script on the golden pcaps: the same binary twice must be "same"; an AFTER whose
# ingest skips the analysis, or whose store loses an event and miscounts a flow, must differ
# (exit 1, with a diff); an AFTER store that seems to lack a column must say "layout differs"
# (exit 3).
self_test() {
  local bin=${SELF_TEST_BIN:-${SIPSCOPE:-$ROOT/target/release/sipscope}}
  [ -x "$bin" ] || die "self-test: no binary at $bin (build it: cargo build --release -p sipscope, or give --self-test BIN)"
  bin=$(abs "$bin")
  local golden=$ROOT/crates/sipscope/tests/golden/ingest
  [ -d "$golden" ] || die "self-test: $golden is missing"
  WORK=$(mktemp -d "$TMP_PARENT/$PROG-selftest.XXXXXX")
  local failed=0 out rc

  # An AFTER that ingests without the in-pass analysis.
  cat >"$WORK/no-analysis" <<EOF
#!/usr/bin/env bash
if [ "\$1" = ingest ]; then shift; exec '$bin' ingest --no-analysis "\$@"; fi
exec '$bin' "\$@"
EOF
  # An AFTER that, after each ingest and analyze, loses its last event and miscounts a flow.
  cat >"$WORK/lossy" <<EOF
#!/usr/bin/env bash
'$bin' "\$@"; rc=\$?
db=; prev=
for a in "\$@"; do [ "\$prev" = --db ] && db=\$a; prev=\$a; done
if [ -n "\$db" ] && { [ "\$1" = ingest ] || [ "\$1" = analyze ]; }; then
  sqlite3 "\$db" "DELETE FROM events WHERE id = (SELECT max(id) FROM events);
                  UPDATE flows SET packets = packets + 1 WHERE id = (SELECT min(id) FROM flows);"
fi
exit \$rc
EOF
  chmod +x "$WORK/no-analysis" "$WORK/lossy"
  # AFTER's store seen through a view in which source_days.messages is called msgs.
  printf '%s\n' "CREATE TEMP VIEW source_days AS SELECT run_id, src_ip, day, messages AS msgs FROM main.source_days;" \
    >"$WORK/renamed.sql"

  # case NAME EXPECTED_EXIT GREP_PATTERN... -- ARGS...
  check() {
    local name=$1 want=$2
    shift 2
    local patterns=()
    while [ "$1" != -- ]; do patterns+=("$1"); shift; done
    shift
    rc=0
    out=$("$SELF" --tmp "$WORK" "$@" 2>&1) || rc=$?
    printf '%s\n' "$out" >"$WORK/$name.log"
    local ok=1 p
    [ "$rc" = "$want" ] || ok=0
    for p in "${patterns[@]}"; do grep -qE -- "$p" <<<"$out" || { ok=0; say "  missing: /$p/"; }; done
    if [ $ok = 1 ]; then
      say "self-test: ok   $name (exit $rc)"
    else
      failed=1
      say "self-test: FAIL $name (exit $rc, expected $want); its output:"
      head -n 80 "$WORK/$name.log" | cut -c1-300 | cat -v | sed 's/^/  | /'
    fi
  }
  check same 0 '^same: ingest/report' '^same: analyze/flows' '^same: ingest/events' '^compare-results: same' \
    -- "$bin" "$bin" "$golden"/*.pcap
  check no-analysis 1 '^DIFFERS: ingest/flows' '^same: analyze/flows' '^same: ingest/events' "^  -'198\.51\.100\.7' " \
    -- "$bin" "$WORK/no-analysis" "$golden"/*.pcap
  check lossy 1 '^DIFFERS: ingest/events' '^DIFFERS: analyze/flows' '^DIFFERS: analyze/report' '^  -[0-9]{19} ' \
    -- "$bin" "$WORK/lossy" "$golden"/*.pcap
  check layout 3 '^layout differs: (ingest|analyze)/source_days: column messages not in AFTER' \
    '^same: analyze/source_days' -- --after-sql "$WORK/renamed.sql" "$bin" "$bin" "$golden"/*.pcap
  if [ $failed = 0 ]; then say "self-test: passed"; else say "self-test: FAILED (logs: run with --keep)"; exit 1; fi
}
if [ "$SELF_TEST" = 1 ]; then
  [ ${#POSITIONAL[@]} -eq 0 ] || die "--self-test takes at most one binary"
  self_test
  exit 0
fi

[ ${#POSITIONAL[@]} -ge 3 ] || { usage >&2; exit 2; }
BEFORE_BIN=$(abs "${POSITIONAL[0]}")
AFTER_BIN=$(abs "${POSITIONAL[1]}")
CAPTURES=()
for c in "${POSITIONAL[@]:2}"; do CAPTURES+=("$(abs "$c")"); done
[ -x "$BEFORE_BIN" ] || die "$BEFORE_BIN is not executable"
[ -x "$AFTER_BIN" ] || die "$AFTER_BIN is not executable"
WORK=$(mktemp -d "$TMP_PARENT/$PROG.XXXXXX")

# --- running the binaries ---------------------------------------------------------------------
# run SIDE LOG_NAME COMMAND... : runs a sipscope command in SIDE's directory with the time limit;
# stdout to SIDE/LOG_NAME.out, stderr to SIDE/LOG_NAME.err; returns its exit code.
run() {
  local side=$1 log=$2
  shift 2
  local rc=0
  (cd "$WORK/$side" && timeout --kill-after=10 "$TIMEOUT" "$@" >"$log.out" 2>"$log.err") || rc=$?
  if [ $rc = 124 ] || [ $rc = 137 ]; then
    die "$side: '$log' took longer than ${TIMEOUT}s (--timeout)"
  fi
  return $rc
}
fail_cmd() {
  local side=$1 log=$2 rc=$3
  say "$PROG: $side: '$log' failed (exit $rc); the end of its error output:" >&2
  tail -n 15 "$WORK/$side/$log.err" | cut -c1-300 | cat -v >&2
  exit 2
}
bin_of() { if [ "$1" = before ]; then printf '%s' "$BEFORE_BIN"; else printf '%s' "$AFTER_BIN"; fi; }
adapter_of() { if [ "$1" = before ]; then printf '%s' "$BEFORE_SQL"; else printf '%s' "$AFTER_SQL"; fi; }
upper() { printf '%s' "$1" | tr a-z A-Z; }

ingest() {
  local side=$1 bin rc=0
  bin=$(bin_of "$side")
  mkdir -p "$WORK/$side"
  local args=(ingest --quiet --json --events all --sensor compare --db "$WORK/$side/store.db")
  [ -z "$NODES" ] || args+=(--nodes "$NODES")
  run "$side" ingest "$bin" "${args[@]}" "${CAPTURES[@]}" || rc=$?
  # 1: something was skipped (a damaged record): results still count; compared as an item.
  [ $rc -le 1 ] || fail_cmd "$side" ingest $rc
  echo "$rc" >"$WORK/$side/ingest.rc"
}
report() {
  local side=$1 phase=$2 bin rc=0
  bin=$(bin_of "$side")
  local args=(report --db "$WORK/$side/store.db" --format json --out "$WORK/$side/$phase/report.raw.json")
  [ -z "$NODES" ] || args+=(--nodes "$NODES")
  # The report of the store as ingested: a binary that applies a nodes file at report time
  # (issue 13) is told to keep the stored nodes, so both sides read their own analysis.
  if [ -n "$NODES" ] && "$bin" report --help 2>/dev/null | grep -q -- --stored-nodes; then
    args+=(--stored-nodes)
  fi
  run "$side" "$phase/report" "$bin" "${args[@]}" || fail_cmd "$side" "$phase/report" $?
  jq -S -a . "$WORK/$side/$phase/report.raw.json" >"$WORK/$side/$phase/report.json" ||
    die "$side: $phase: report --format json is not JSON"
}
analyze() {
  local side=$1 bin
  bin=$(bin_of "$side")
  run "$side" analyze "$bin" analyze --json --db "$WORK/$side/store.db" || fail_cmd "$side" analyze $?
}

# --- reading the stores ------------------------------------------------------------------------
# sql SIDE QUERY: runs QUERY on SIDE's store, read-only, after SIDE's adapter SQL.
sql() {
  local side=$1 query=$2 adapter
  adapter=$(adapter_of "$side")
  {
    [ -z "$adapter" ] || cat -- "$adapter"
    printf '%s\n' "$query"
  } | timeout "$TIMEOUT" sqlite3 -readonly -batch -bail -list -noheader -separator "$TAB" "$WORK/$side/store.db"
}
# columns SIDE TABLE: the table's (or view's) column names, one a line; nothing when absent.
columns() { sql "$1" "SELECT name FROM pragma_table_info('$2');"; }
has() { grep -qxF -- "$2" <<<"$1"; }
# An SQL literal of any value, in printable ASCII only: text with a backslash, tab, CR or LF
# as e'...' with \\ \t \r \n; text with any other character outside printable ASCII (controls,
# non-ASCII) as x'HEX' of its bytes; numbers, BLOBs and NULL as quote() shows them.
render() {
  local c=$1 e
  e="replace(replace(replace(replace($c, '\\', '\\\\'), char(9), '\\t'), char(13), '\\r'), char(10), '\\n')"
  printf '%s' "CASE WHEN typeof($c) <> 'text' THEN quote($c) WHEN $e GLOB '*[^ -~]*' THEN 'x''' || hex($c) || ''''"
  printf '%s' " WHEN $e <> $c THEN 'e' || quote($e) ELSE quote($c) END"
}

TAB=$'\t'
STATUS=0 # 0 same, 1 differs, 3 not everything compared
differs() { STATUS=1; }
not_compared() { [ $STATUS = 1 ] || STATUS=3; }
layout() {
  say "layout differs: $*"
  not_compared
}

# show_diff ITEM BEFORE_FILE AFTER_FILE [COLUMNS]: the truncated unified diff of two files;
# COLUMNS (tab-separated names) for dumps, whose values are tab-separated (a rendered value
# never holds a tab): shown as " | ".
show_diff() {
  local item=$1 b=$2 a=$3 header=${4:-}
  local d="$WORK/diff/${item//\//.}.diff" rc=0
  mkdir -p "$WORK/diff"
  timeout 600 diff -u --label "BEFORE $item" --label "AFTER $item" "$b" "$a" >"$d" || rc=$?
  if [ $rc -gt 1 ]; then
    say "  (diff failed or took over 600 s; first difference: $(cmp "$b" "$a" 2>&1 | head -n 1))"
    return
  fi
  [ -z "$header" ] || say "  columns: ${header//$TAB/ | }"
  local total
  total=$(wc -l <"$d")
  head -n "$DIFF_LINES" "$d" | sed "s/$TAB/ | /g" | cut -c1-300 | cat -v | sed 's/^/  /'
  if [ "$total" -gt "$DIFF_LINES" ]; then
    say "  ... $((total - DIFF_LINES)) more diff lines$([ "$KEEP" = 1 ] && printf '%s' " in $d" || printf '%s' " (--keep keeps them)")"
  fi
  # Rows are long: name the columns in which the first changed row differs.
  [ -z "$header" ] || awk -F "$TAB" -v header="$header" '
    # v from its first difference with w (less 30 characters), at most 100 characters.
    function cut(v, w,   p, from, out) {
      for (p = 1; p <= length(v) && substr(v, p, 1) == substr(w, p, 1); p++) {}
      from = p > 40 ? p - 30 : 1
      out = substr(v, from, 100)
      return (from > 1 ? "..." : "") out (from + 100 <= length(v) ? "..." : "")
    }
    /^@@/ { old = "" }
    /^-/ && !/^---/ && old == "" && !done { old = substr($0, 2); next }
    /^\+/ && !/^\+\+\+/ && old != "" && !done {
      done = 1
      n = split(header, name, FS); nb = split(old, b, FS); na = split(substr($0, 2), a, FS)
      if (nb != n || na != n) exit
      shown = 0
      for (i = 1; i <= n; i++) if (b[i] != a[i] && shown++ < 6)
        printf "  first changed row: %s: %s -> %s\n", name[i], cut(b[i], a[i]), cut(a[i], b[i])
    }' "$d" | cat -v
}

# compare_files ITEM WHAT BEFORE_FILE AFTER_FILE [COLUMNS]: same/DIFFERS line (WHAT describes
# the size), and the diff when they differ.
compare_files() {
  local item=$1 what=$2 b=$3 a=$4 header=${5:-}
  if cmp -s "$b" "$a"; then
    say "same: $item ($what)"
  else
    differs
    say "DIFFERS: $item ($what)"
    show_diff "$item" "$b" "$a" "$header"
  fi
}
lines() { wc -l <"$1" | tr -d ' '; }
plural() { if [ "$1" = 1 ]; then printf "1 %s" "$2"; else printf "%s %ss" "$1" "$2"; fi; }

# dump PHASE NAME TABLE SPEC...: dumps TABLE of both stores, sorted, and compares them.
# SPEC: COLUMN (shown as is), key:COLUMN / sum:COLUMN / min:COLUMN / max:COLUMN (summed per
# key: GROUP BY the keys), raw:COLUMN (a BLOB as length and SHA3-256), file:COLUMN (a file id as
# the ingested file's sha256).
dump() {
  local phase=$1 name=$2 table=$3
  shift 3
  local item="$phase/$name" cb ca
  cb=$(columns before "$table")
  ca=$(columns after "$table")
  if [ -z "$cb" ] && [ -z "$ca" ]; then layout "$item: no table $table in either store: not compared"; return; fi
  if [ -z "$ca" ]; then layout "$item: no table $table in AFTER: not compared"; return; fi
  if [ -z "$cb" ]; then layout "$item: no table $table in BEFORE: not compared"; return; fi
  local select=() group=() names=() missing=() spec kind col expr grouped=0
  for spec in "$@"; do
    case $spec in *:*) kind=${spec%%:*} col=${spec#*:} ;; *) kind=plain col=$spec ;; esac
    local where=
    has "$cb" "$col" || where=BEFORE
    has "$ca" "$col" || where=${where:+both}${where:-AFTER}
    if [ -n "$where" ]; then
      missing+=("$col not in $where")
      continue
    fi
    if [ "$kind" = file ]; then
      local fb fa
      fb=$(columns before ingested_files)
      fa=$(columns after ingested_files)
      if ! { has "$fb" id && has "$fb" sha256 && has "$fa" id && has "$fa" sha256; }; then
        missing+=("$col (as its file's sha256): ingested_files.id or .sha256 missing")
        continue
      fi
    fi
    case $kind in
      plain) expr=$(render "t.$col"); names+=("$col") ;;
      key) expr=$(render "t.$col"); names+=("$col"); group+=("t.$col"); grouped=1 ;;
      sum | min | max) expr="quote($kind(t.$col))"; names+=("$kind($col)"); grouped=1 ;;
      raw) expr="length(t.$col) || ' ' || hex(sha3(t.$col, 256))"; names+=("len+sha3($col)") ;;
      file) expr="(SELECT $(render f.sha256) FROM ingested_files f WHERE f.id = t.$col)"; names+=("sha256 of $col") ;;
      *) die "internal: bad spec $spec" ;;
    esac
    select+=("$expr")
  done
  local m
  for m in "${missing[@]}"; do layout "$item: column $m: not compared"; done
  if [ ${#select[@]} -eq 0 ]; then layout "$item: no column to compare"; return; fi
  local order n=${#select[@]} i query
  order=$(seq -s, 1 "$n")
  query="SELECT $(IFS=,; printf '%s' "${select[*]}") FROM $table t"
  if [ $grouped = 1 ] && [ ${#group[@]} -gt 0 ]; then query+=" GROUP BY $(IFS=,; printf '%s' "${group[*]}")"; fi
  query+=" ORDER BY $order;"
  local side
  for side in before after; do
    mkdir -p "$WORK/$side/$phase"
    sql "$side" "$query" >"$WORK/$side/$phase/$name.txt" ||
      die "$side: $item: reading the store failed (query: $query)"
  done
  local rb ra what header
  rb=$(lines "$WORK/before/$phase/$name.txt")
  ra=$(lines "$WORK/after/$phase/$name.txt")
  if [ $grouped = 1 ]; then
    local xb xa
    xb=$(sql before "SELECT count(*) FROM $table;")
    xa=$(sql after "SELECT count(*) FROM $table;")
    if [ "$rb" = "$ra" ]; then what=$(plural "$rb" key); else what="$(plural "$rb" key) in BEFORE, $ra in AFTER"; fi
    what+="; $(plural "$xb" row) in BEFORE, $xa in AFTER"
  elif [ "$rb" = "$ra" ]; then
    what=$(plural "$rb" row)
  else
    what="$(plural "$rb" row) in BEFORE, $ra in AFTER"
  fi
  [ ${#missing[@]} -eq 0 ] || what+="; $n of $((n + ${#missing[@]})) columns"
  header=$(IFS=$TAB; printf '%s' "${names[*]}")
  compare_files "$item" "$what" "$WORK/before/$phase/$name.txt" "$WORK/after/$phase/$name.txt" "$header"
  # Columns AFTER has that nobody asked about: shown so that new data is not overlooked.
  local extra=() c
  while IFS= read -r c; do
    [ -n "$c" ] || continue
    has "$cb" "$c" || extra+=("$c")
  done <<<"$ca"
  [ ${#extra[@]} -eq 0 ] || say "note: $item: AFTER's $table has new columns (not compared): ${extra[*]}"
}

# summary PHASE FILE JQ_DELETE: compares a command's JSON summary on the fields both have.
summary() {
  local phase=$1 file=$2 drop=$3 item="$1/summary" side
  for side in before after; do
    jq -e 'type == "object"' "$WORK/$side/$file" >/dev/null 2>&1 || die "$side: $file: not a JSON object"
  done
  local only
  only=$(jq -r -n --slurpfile b "$WORK/before/$file" --slurpfile a "$WORK/after/$file" \
    '[($b[0] | keys) - ($a[0] | keys) | .[] | "\(.) (not in AFTER)"] + [($a[0] | keys) - ($b[0] | keys) | .[] | "\(.) (not in BEFORE)"] | join(", ")')
  [ -z "$only" ] || layout "$item: fields $only: not compared"
  for side in before after; do
    mkdir -p "$WORK/$side/$phase"
    jq -S -a -n --slurpfile b "$WORK/before/$file" --slurpfile a "$WORK/after/$file" --arg side "$side" \
      "(\$b[0] | keys) as \$kb | (\$a[0] | keys) as \$ka | (if \$side == \"before\" then \$b[0] else \$a[0] end)
       | with_entries(select(.key as \$k | (\$kb | index([\$k])) and (\$ka | index([\$k])))) | $drop" \
      >"$WORK/$side/$phase/summary.json"
  done
  compare_files "$item" "$(jq -r 'keys | length' "$WORK/before/$phase/summary.json") fields" \
    "$WORK/before/$phase/summary.json" "$WORK/after/$phase/summary.json"
}

# The analysis tables, as `analyze` and the in-pass analysis write them.
dump_analysis() {
  local p=$1
  dump "$p" analysis_runs analysis_runs kind events flows_evicted
  dump "$p" flows flows src_ip first_ns last_ns packets bytes packets_per_s methods destinations \
    dest_ports source_ports users dialled responses fingerprint tool variant tool_verdict similarity \
    strategy ua_class user_agent
  dump "$p" fingerprints fingerprints id text flows packets tool variant verdict similarity
  dump "$p" stages stages src_ip node stage first_ns last_ns count detail samples
  dump "$p" numbers numbers number e164 country number_type attempts variants sources first_ns last_ns \
    variant_samples invites country_inferred
  dump "$p" user_agents user_agents user_agent class product messages sources
  dump "$p" sources sources src_ip first_ns last_ns messages flows nodes tool ua_class
  dump "$p" source_days source_days src_ip day messages
  dump "$p" traffic traffic key:hour key:node key:src_ip key:kind key:method key:direction key:user_agent \
    sum:messages min:first_ns max:last_ns
  dump "$p" dialled dialled key:hour key:node key:src_ip key:ruri_user key:number_country key:number \
    sum:invites min:first_ns max:last_ns
}

# --- the run -----------------------------------------------------------------------------------
describe() {
  local v
  v=$("$2" --version 2>/dev/null | head -n 1) || v="(no --version)"
  say "$PROG: $1 $2: $v, sha256 $(sha256sum "$2" | cut -c1-16)..."
}
describe BEFORE "$BEFORE_BIN"
describe AFTER "$AFTER_BIN"
say "$PROG: ${#CAPTURES[@]} capture path(s); work directory $WORK"
START=$SECONDS

for side in before after; do
  say "$PROG: $(upper $side): ingest ..."
  ingest "$side"
  mkdir -p "$WORK/$side/ingest"
  report "$side" ingest
done
printf '%s\n' "$(cat "$WORK/before/ingest.rc")" >"$WORK/before/ingest/exit-code.txt"
printf '%s\n' "$(cat "$WORK/after/ingest.rc")" >"$WORK/after/ingest/exit-code.txt"
compare_files ingest/exit-code "exit $(cat "$WORK/before/ingest.rc") in BEFORE, $(cat "$WORK/after/ingest.rc") in AFTER" \
  "$WORK/before/ingest/exit-code.txt" "$WORK/after/ingest/exit-code.txt"
summary ingest ingest.out 'del(.elapsed_s)'
compare_files ingest/report "json, $(wc -c <"$WORK/before/ingest/report.json") bytes" \
  "$WORK/before/ingest/report.json" "$WORK/after/ingest/report.json"
dump ingest events events ts_ns sensor node transport src_ip src_port dst_ip dst_port tunnel_src tunnel_dst \
  direction file:file_id packet_no kind method status reason request_uri ruri_user ruri_host from_user \
  from_host from_tag to_user to_host to_tag call_id cseq_seq cseq_method user_agent contact expires \
  auth_username auth_realm auth_nonce auth_uri auth_response auth_algorithm auth_qop anomalies raw:raw
dump ingest ingested_files ingested_files sha256 path size sensor status packets messages skipped
dump_analysis ingest

for side in before after; do
  say "$PROG: $(upper $side): analyze ..."
  analyze "$side"
  mkdir -p "$WORK/$side/analyze"
  report "$side" analyze
done
summary analyze analyze.out 'del(.run)'
compare_files analyze/report "json, $(wc -c <"$WORK/before/analyze/report.json") bytes" \
  "$WORK/before/analyze/report.json" "$WORK/after/analyze/report.json"
dump_analysis analyze

# Not compared (exit code unchanged), but worth knowing: one ingest run over all captures and
# `analyze` see the same events, so their rows should be equal (docs/analysis.md).
for side in before after; do
  equal=0 unequal=()
  for f in report.json flows.txt fingerprints.txt stages.txt numbers.txt user_agents.txt sources.txt \
    source_days.txt traffic.txt dialled.txt; do
    [ -f "$WORK/$side/ingest/$f" ] && [ -f "$WORK/$side/analyze/$f" ] || continue
    if cmp -s "$WORK/$side/ingest/$f" "$WORK/$side/analyze/$f"; then
      equal=$((equal + 1))
    else
      unequal+=("${f%.*}")
    fi
  done
  if [ ${#unequal[@]} -eq 0 ]; then
    say "note: $(upper $side): in-pass results equal analyze's ($equal items)"
  else
    say "note: $(upper $side): in-pass results differ from analyze's in: ${unequal[*]} (not an error here)"
  fi
done

ELAPSED=$((SECONDS - START))
case $STATUS in
  0) say "$PROG: same: every item compared is equal (${ELAPSED}s)" ;;
  1) say "$PROG: DIFFERENT: some results differ (see DIFFERS above; ${ELAPSED}s)" ;;
  3) say "$PROG: no difference found, but some items were not compared (layout differs; use --after-sql; ${ELAPSED}s)" ;;
esac
exit $STATUS
