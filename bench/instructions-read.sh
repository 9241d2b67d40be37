#!/usr/bin/env bash
# The instructions a read costs the server, counted by valgrind's callgrind:
# the app's GET /v1/delegations?grantor=… against the minimal handler (d)'s
# (crates/bench/src/minimal_read.rs), on PostgreSQL, the same data and the
# same wrk load for both. A rate or a CPU time drifts with whatever else the
# machine runs; a count of instructions drifts far less (valgrind counts
# them, it does not time them: 144.3k to 144.7k a read in four runs of one
# build), so a change of a few per cent in the read's own work
# shows here where bench/http.sh's rates cannot see it. It is not a time:
# PostgreSQL's work, the kernel's and the waits are not in it, an
# instruction may take one cycle or hundreds, and under valgrind SHA-256
# runs its portable code (the CPU's SHA instructions are not offered), so
# the caller's pseudonym counts for more here than it costs.
#
#   bash bench/instructions-read.sh
#
# Prints, for each server, the instructions of the load window less those
# of an idle window of the same length (the app's workers poll the log),
# divided by the requests wrk completed; then their ratio; then the app's
# functions that cost the most a read, inclusive of what they call.
#
# Needs valgrind (Debian: apt-get install -y valgrind), wrk and a local
# PostgreSQL (the database is created if missing, and left). Environment: DELEGHE_BENCH_APP (the app's binary,
# target/release/deleghe, built either way), DELEGHE_BENCH_POSTGRES_URL
# (postgres://postgres@127.0.0.1:5432/deleghe_bench, schema bench_instructions,
# dropped at the end), DELEGHE_BENCH_INSTRUCTION_SECONDS (10: the load window;
# under valgrind a server answers a few hundred reads a second),
# DELEGHE_BENCH_FUNCTIONS (25: the app's functions listed; 0 for none),
# DELEGHE_BENCH_CALLGRIND_OUT (a folder to keep the load windows' dumps in,
# app.out and d.out, for callgrind_annotate or kcachegrind).
set -euo pipefail
cd "$(dirname "$0")/.."
# Plain text to PostgreSQL for every client, the app included (docs/PERFORMANCE.md, "TLS to PostgreSQL").
export PGSSLMODE=${PGSSLMODE:-disable}

for tool in valgrind callgrind_control callgrind_annotate wrk curl psql python3; do
  command -v "$tool" >/dev/null || {
    echo "bench/instructions-read.sh: $tool is missing (Debian: apt-get install -y valgrind wrk curl postgresql-client python3)" >&2
    exit 2
  }
done
seconds=${DELEGHE_BENCH_INSTRUCTION_SECONDS:-10}
functions=${DELEGHE_BENCH_FUNCTIONS:-25}
for number in "$seconds" "$functions"; do
  case "$number" in
    '' | *[!0-9]*)
      echo "bench/instructions-read.sh: DELEGHE_BENCH_INSTRUCTION_SECONDS and DELEGHE_BENCH_FUNCTIONS are whole numbers, not '$number'" >&2
      exit 2 ;;
  esac
done
postgres=${DELEGHE_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/deleghe_bench}
cargo build --release -q -p deleghe-app
cargo build --release -q -p deleghe-bench --bin deleghe-minimal-read
app=${DELEGHE_BENCH_APP:-target/release/deleghe}

work=$(mktemp -d -t deleghe-instructions-XXXXXX)
server=
psql_quiet() { PGOPTIONS='-c client_min_messages=warning' psql "$postgres" -q "$@" >/dev/null; }
stop() {
  [ -n "$server" ] || return 0
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  server=
}
cleanup() {
  stop
  psql_quiet -c 'DROP SCHEMA IF EXISTS bench_instructions CASCADE' 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
db=${postgres##*/}
createdb -h 127.0.0.1 -U postgres "${db%%\?*}" 2>/dev/null || true
psql_quiet -c 'DROP SCHEMA IF EXISTS bench_instructions CASCADE'
url="$postgres?schema=bench_instructions"
DELEGHE_JWT_SECRET=$(head -c 48 /dev/urandom | base64 | tr -d '\n')
export DELEGHE_JWT_SECRET TMPDIR="$work"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# Waits for $1 to answer (a server under valgrind takes some seconds to start).
await() {
  for _ in $(seq 1 600); do
    curl -fs "$1" >/dev/null 2>&1 && return 0
    kill -0 "$server" 2>/dev/null || { cat "$work"/*.log >&2; exit 1; }
    sleep 0.1
  done
  echo "bench/instructions-read.sh: $1 did not answer" >&2
  exit 1
}
# Starts "$@" under callgrind, instrumentation off until the load.
start() { # name, command...
  local name=$1
  shift
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/$name.%p.out" \
    "$@" >"$work/$name.log" 2>&1 &
  server=$!
}
# The instructions since the counters were last zeroed: the totals of the
# server's dump number $2 (callgrind numbers a process's dumps from 1).
# callgrind_control says nothing when it fails: the dump must be there.
dump_total() { # name, number
  local file="$work/$1.$server.out.$2"
  callgrind_control -d "$server" >/dev/null 2>&1
  [ -s "$file" ] || {
    echo "bench/instructions-read.sh: no dump $file (did the server stop?)" >&2
    cat "$work/$1.log" >&2
    exit 1
  }
  awk '/^(summary|totals):/ {print $2; exit}' "$file"
}
# Measures the server now running at $1: an idle window, then the load.
measure() { # name (of start), label, url, wrk arguments...
  local name=$1 label=$2 target=$3 idle load out requests
  shift 3
  callgrind_control -i on "$server" >/dev/null 2>&1
  wrk -t2 -c16 -d2s "$@" "$target" >/dev/null # warm: pools filled, caches built
  sleep 1
  callgrind_control -z "$server" >/dev/null 2>&1
  sleep "$seconds"
  idle=$(dump_total "$name" 1)
  callgrind_control -z "$server" >/dev/null 2>&1
  out=$(wrk -t2 -c16 -d"${seconds}s" "$@" "$target")
  kill -0 "$server" 2>/dev/null || { echo "bench/instructions-read.sh: $label stopped" >&2; cat "$work/$name.log" >&2; exit 1; }
  load=$(dump_total "$name" 2)
  requests=$(awk '/ requests in / {print $1 + 0}' <<<"$out")
  # A request that failed or timed out cost the server work and is not
  # counted: the figure would be too high.
  if grep -qE 'Non-2xx|Socket errors' <<<"$out" || [ "${requests:-0}" -le 0 ]; then
    echo "bench/instructions-read.sh: $label did not answer every request:" >&2
    echo "$out" >&2
    exit 1
  fi
  awk -v l="$load" -v i="$idle" -v n="$requests" -v name="$label" \
    'BEGIN { printf "%-5s %9.0f instructions a read (%d reads; the load window %.3g, an idle one %.3g)\n", name, (l - i) / n, n, l, i }'
  reads=$requests
  per_read=$(awk -v l="$load" -v i="$idle" -v n="$requests" 'BEGIN { printf "%.0f", (l - i) / n }')
}

reader=RSSMRA85T10A562S
port=$(free_port)
base="http://127.0.0.1:$port"
start app "$app" serve --dev --listen "127.0.0.1:$port" --database-url "$url" \
  --sms-outbox "$work/sms.jsonl"
await "$base/health"
operator_token=$("$app" token VRDLGU70A01H501O --role operator)
reader_token=$("$app" token "$reader")
. bench/fixture.sh
# The projector has applied the delegation once the list holds it.
listed=
for _ in $(seq 1 300); do
  if curl -fs -H "Authorization: Bearer $reader_token" "$base/v1/delegations?grantor=$reader" |
    grep -q "$reader"; then
    listed=1
    break
  fi
  sleep 0.2
done
[ -n "$listed" ] || { echo "bench/instructions-read.sh: the reader's delegation was never listed" >&2; exit 1; }
echo "the app and (d) under callgrind, wrk 2 threads 16 connections, ${seconds}s windows ($(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
measure app app "$base/v1/delegations?grantor=$reader" -H "Authorization: Bearer $reader_token"
app_read=$per_read
app_reads=$reads
app_dump="$work/app.$server.out.2"
stop

port=$(free_port)
start d target/release/deleghe-minimal-read --database-url "$url" --listen "127.0.0.1:$port"
await "http://127.0.0.1:$port/v1/delegations?grantor=$reader"
measure d "(d)" "http://127.0.0.1:$port/v1/delegations?grantor=$reader"
d_read=$per_read
d_dump="$work/d.$server.out.2"
stop
if [ -n "${DELEGHE_BENCH_CALLGRIND_OUT:-}" ]; then
  mkdir -p "$DELEGHE_BENCH_CALLGRIND_OUT"
  cp "$app_dump" "$DELEGHE_BENCH_CALLGRIND_OUT/app.out"
  cp "$d_dump" "$DELEGHE_BENCH_CALLGRIND_OUT/d.out"
fi
awk -v a="$app_read" -v d="$d_read" 'BEGIN { if (d <= 0) exit 1; printf "ratio: the app %.2f× (d)'\''s instructions a read\n", a / d }'

if [ "$functions" -gt 0 ]; then
  echo
  echo "the app's functions by instructions a read, inclusive of what they call (the load window's;"
  echo "the runtime's frames that hold nearly all of it, and recursion levels, left out):"
  # callgrind_annotate's lines: "Ir (share) file:function"; the table
  # after the totals is by function. A name ending in 'N is a level of a
  # recursion (callgrind's --separate-recs), whose inclusive count is not a
  # cost of its own.
  callgrind_annotate --inclusive=yes --auto=no --threshold=100 "$app_dump" 2>/dev/null |
    awk -v n="$functions" -v reads="$app_reads" '
      /PROGRAM TOTALS/ { total = $1; gsub(",", "", total); next }
      total > 0 && $1 ~ /^[0-9,]+$/ && shown < n {
        ir = $1; gsub(",", "", ir)
        if (total > 0 && ir > 0.9 * total) next
        name = $0
        sub(/^[^)]*\) +/, "", name); sub(/^[^:]*:/, "", name); sub(/ \[[^]]*\]$/, "", name)
        if (name ~ /\047[0-9]+$/) next
        printf "%9.0f  %s\n", ir / reads, name; shown++
      }'
fi
