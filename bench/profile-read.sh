#!/usr/bin/env bash
# Where the app's read spends its server CPU, against the minimal handler
# (d): bench/http.sh postgres runs as usual, and `perf record` samples the
# app's server during its read, then (d)'s during its own, for a few
# seconds each; bench/profile_read.py sorts the samples into the parts of a
# read and prints each part's share and µs a read (the share times the CPU
# a read bench/http.sh measured from /proc, perf's own cost included).
#
#   bash bench/profile-read.sh
#
# Needs perf (Debian: apt-get install -y linux-perf) and what bench/http.sh
# needs. Environment: DELEGHE_BENCH_PROFILE_SECONDS (6), and bench/http.sh's.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v perf >/dev/null; then
  echo "bench/profile-read.sh: perf is missing (Debian: apt-get install -y linux-perf)" >&2
  exit 2
fi
window=${DELEGHE_BENCH_PROFILE_SECONDS:-6}
work=$(mktemp -d -t deleghe-profile-XXXXXX)
http=
trap '[ -z "$http" ] || kill "$http" 2>/dev/null || true; rm -rf "$work"' EXIT

# Each endpoint runs long enough for a sample window inside it; one round
# (the app's read, then (c), then (d)).
DELEGHE_BENCH_READ_ROUNDS=1 DELEGHE_BENCH_HTTP_SECONDS=$((window + 6)) bash bench/http.sh postgres >"$work/http.out" 2>&1 &
http=$!

# The pid of the first process whose command line matches, waited for; with
# a second argument, only among that process's children.
await() {
  local pid
  for _ in $(seq 1 3000); do
    pid=$(pgrep ${2:+-P "$2"} -f "$1" | head -1 || true)
    [ -n "$pid" ] && { echo "$pid"; return; }
    kill -0 "$http" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
# The app's read is the one wrk run with a bearer token; (d)'s is the wrk
# run after the minimal handler started.
await '^wrk .*Bearer' >/dev/null
app=$(await ' serve --dev --listen 127.0.0.1:' "$http")
sleep 2
perf record -q -F 999 --call-graph dwarf,32768 -p "$app" -o "$work/app.data" -- sleep "$window" >/dev/null
minimal=$(await 'deleghe-minimal-read --database-url' "$http")
await '^wrk .*127.0.0.1:[0-9]+/v1/delegations' >/dev/null
sleep 2
perf record -q -F 999 --call-graph dwarf,32768 -p "$minimal" -o "$work/d.data" -- sleep "$window" >/dev/null
wait "$http" || { cat "$work/http.out"; exit 1; }
http=
cat "$work/http.out"
echo
for side in app d; do
  perf script -i "$work/$side.data" -F comm,tid,ip,sym 2>/dev/null >"$work/$side.stacks"
done
cpu() { awk -v w="$1" '/CPU a read, server/ { for (i = 1; i <= NF; i++) if ($i == w) { print $(i + 1); exit } }' "$work/http.out"; }
python3 bench/profile_read.py "$work/app.stacks" "$(cpu app)" "$work/d.stacks" "$(cpu '(d)')"
