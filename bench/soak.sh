#!/usr/bin/env bash
# The soak (issue 21, docs/PERFORMANCE.md "Soak"): a steady mixed load on the
# HTTP app for half an hour per store — registrations (counter and online),
# revocations, bookings, web meetings from booking to completion, reads —
# at a fixed request rate, not saturating, printing every minute the
# requests per second, the latency (p50, p99, max), the server's resident
# memory (VmRSS of /proc/PID/status), the outbox backlog (pending rows, and
# those of them already due), the rules' expected refusals, the errors,
# the server's CPU and the machine's load; at the end the verdict: memory
# flat (the mean RSS of the last ten minutes within 10% of minute ten's)
# and no error. The load is crates/bench/src/soak.rs (deleghe-soak).
#
#   bash bench/soak.sh [sqlite|postgres|both] [--quick]    (default: both)
#
# `both` runs the two stores at the same time, each with its own server and
# its own load, to halve the wall time: the two share the machine, and the
# output says so. --quick is a two-minute smoke test (no memory verdict).
# Environment: SOAK_MINUTES (30), SOAK_RATE (requests per second per store,
# 50), SOAK_POSTGRES_URL (postgres://postgres@127.0.0.1:5432/deleghe_soak: a
# database of its own, created here and dropped at the end). PostgreSQL is
# started if it is installed but down, as bench/run.sh does. Each server
# runs on a free port of 127.0.0.1 with its files (SQLite database, SMS
# file, log) in a temporary folder, removed at the end. Everything printed
# is also kept in target/bench/soak-<store>.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
# Plain text to PostgreSQL for every client, the app included (docs/PERFORMANCE.md, "TLS to PostgreSQL").
export PGSSLMODE=${PGSSLMODE:-disable}

which=both
quick=
for arg in "$@"; do
  case "$arg" in
    sqlite | postgres | both) which=$arg ;;
    --quick) quick=1 ;;
    *) echo "usage: bash bench/soak.sh [sqlite|postgres|both] [--quick]" >&2; exit 2 ;;
  esac
done
minutes=${SOAK_MINUTES:-30}
if [ -n "$quick" ]; then minutes=2; fi
rate=${SOAK_RATE:-50}
postgres=${SOAK_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/deleghe_soak}
case "$which" in
  both) stores=(sqlite postgres) ;;
  *) stores=("$which") ;;
esac

for tool in curl python3; do
  command -v "$tool" >/dev/null || { echo "bench/soak.sh: $tool is needed" >&2; exit 1; }
done

# ------------------------------------------------------------ PostgreSQL
db=${postgres##*/}
db=${db%%\?*}
if [[ " ${stores[*]} " == *" postgres "* ]]; then
  if command -v pg_isready >/dev/null && ! pg_isready -h 127.0.0.1 -p 5432 -q; then
    if command -v pg_ctlcluster >/dev/null; then
      echo "bench/soak.sh: starting PostgreSQL"
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
      for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
    fi
  fi
  dropdb -h 127.0.0.1 -U postgres --if-exists "$db" 2>/dev/null || true
  createdb -h 127.0.0.1 -U postgres "$db"
fi

cargo build --release -q -p deleghe-app -p deleghe-bench --bin deleghe --bin deleghe-soak
app=target/release/deleghe
soak=target/release/deleghe-soak
mkdir -p target/bench

# ------------------------------------------------------------ cleanup
servers=()
works=()
cleanup() {
  for pid in "${servers[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  for work in "${works[@]}"; do rm -rf "$work"; done
  if [[ " ${stores[*]} " == *" postgres "* ]]; then
    dropdb -h 127.0.0.1 -U postgres --if-exists "$db" 2>/dev/null || true
  fi
}
trap cleanup EXIT

# ------------------------------------------------------------ one store
# start STORE: starts its server; sets STARTED_PID, STARTED_BASE, STARTED_WORK, STARTED_URL.
start() {
  local store=$1 work url port pid
  work=$(mktemp -d -t deleghe-soak-XXXXXX)
  works+=("$work")
  case "$store" in
    sqlite) url="sqlite://$work/soak.db" ;;
    postgres) url="$postgres" ;;
  esac
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # A key of our own (never printed), the dev files in the temporary folder,
  # the app's own log level (info: a line per request) into a file.
  DELEGHE_JWT_SECRET=$(head -c 48 /dev/urandom | base64 | tr -d '\n')
  printf '%s' "$DELEGHE_JWT_SECRET" >"$work/key"
  TMPDIR="$work" DELEGHE_JWT_SECRET="$DELEGHE_JWT_SECRET" "$app" serve --dev \
    --listen "127.0.0.1:$port" --database-url "$url" --sms-outbox "$work/sms.jsonl" \
    --counters bench/soak/counters.json >"$work/server.log" 2>&1 &
  pid=$!
  servers+=("$pid")
  for _ in $(seq 1 300); do
    curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
    sleep 0.1
  done
  STARTED_PID=$pid
  STARTED_BASE="http://127.0.0.1:$port"
  STARTED_WORK=$work
  STARTED_URL=$url
}

# load STORE PID BASE WORK URL: the load and its report, into target/bench/soak-STORE.txt.
load() {
  local store=$1 pid=$2 base=$3 work=$4 url=$5 out=target/bench/soak-$1.txt
  : >"$out"
  echo 0 >"$work/status"
  {
    echo "# bash bench/soak.sh $which${quick:+ --quick} — $store store — $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)," \
      "$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) memory, $(uname -sr); shared with other work"
    if [ "${#stores[@]}" -gt 1 ]; then
      echo "the two stores run at the same time (two servers, two loads) on this machine"
    fi
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    DELEGHE_JWT_SECRET=$(cat "$work/key") "$soak" --base "$base" --server-pid "$pid" \
      --sms-file "$work/sms.jsonl" --store "$store" --database-url "$url" \
      --minutes "$minutes" --rate "$rate" 2>&1 || echo $? >"$work/status"
    echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "server log: $(grep -c ' WARN ' "$work/server.log" || true) warnings," \
      "$(grep -c ' ERROR ' "$work/server.log" || true) errors; the last ones:"
    grep -E ' (WARN|ERROR) ' "$work/server.log" | tail -n 5 || true
  } 2>&1 | tee -a "$out"
  # The block above runs in a subshell of the pipe: its status comes by file.
  return "$(cat "$work/status")"
}

pids=()
for store in "${stores[@]}"; do
  start "$store"
  load "$store" "$STARTED_PID" "$STARTED_BASE" "$STARTED_WORK" "$STARTED_URL" &
  pids+=($!)
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=1; done
exit "$failed"
