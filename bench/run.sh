#!/usr/bin/env bash
# Every figure of docs/PERFORMANCE.md, in one run:
#   1. the pure decisions (criterion): cargo bench -p deleghe-bench --bench decisions
#   2. the load tool on SQLite and PostgreSQL, with its baselines (bare
#      cqrs-es, pgbench): cargo run --release -p deleghe-bench --bin deleghe-load
#   3. the HTTP app under wrk, on SQLite and PostgreSQL: bench/http.sh
#   4. the app's write over the library's counter registration (the same
#      operation) and over its online registration, at the same concurrency
#   5. what the log's NOTIFY costs a commit: bench/notify.sh
#
#   bash bench/run.sh            the full run (about half an hour on 2 cores)
#   bash bench/run.sh --quick    a smoke test of the tools (a few minutes; not figures to record)
#
# Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust; started here if
# it is installed but down, as scripts/test does), pgbench and wrk (installed
# with apt-get when missing and we are root). The database deleghe_bench is
# created and dropped at the end. Everything printed is also kept in
# target/bench/run.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
# Plain text to PostgreSQL for every client, the app included (docs/PERFORMANCE.md, "TLS to PostgreSQL").
export PGSSLMODE=${PGSSLMODE:-disable}

quick=
if [ "${1:-}" = "--quick" ]; then quick=--quick; fi
postgres=${DELEGHE_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/deleghe_bench}
export DELEGHE_BENCH_POSTGRES_URL="$postgres"

# ------------------------------------------------------------ what it needs
if ! command -v wrk >/dev/null || ! command -v pgbench >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    command -v wrk >/dev/null || apt-get install -y -qq wrk
    command -v pgbench >/dev/null || apt-get install -y -qq postgresql-contrib
  else
    echo "bench/run.sh: needs wrk and pgbench (Debian: apt-get install wrk postgresql-contrib)" >&2
    exit 1
  fi
fi
if command -v pg_isready >/dev/null && ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  if command -v pg_ctlcluster >/dev/null; then
    echo "bench/run.sh: starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  fi
fi
db=${postgres##*/}
db=${db%%\?*}
server=${postgres%/*}
createdb -h 127.0.0.1 -U postgres "$db" 2>/dev/null || true
trap 'dropdb -h 127.0.0.1 -U postgres --if-exists "$db" 2>/dev/null || true' EXIT

mkdir -p target/bench
out=target/bench/run.txt
: >"$out"
say() { echo "$*" | tee -a "$out"; }

say "# bash bench/run.sh $quick — $(date -u +%Y-%m-%dT%H:%M:%SZ)"
say "machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)," \
  "$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) memory, $(uname -sr)"
say "rustc: $(rustc --version); PostgreSQL: $(psql "$server/postgres" -Atc 'SHOW server_version' 2>/dev/null || echo unreachable)"
say "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# ------------------------------------------------------------ 1. pure decisions
say ""
say "## 1. pure decisions, and a registration's events encoded (criterion, one core): cargo bench -p deleghe-bench --bench decisions"
criterion_args=()
if [ -n "$quick" ]; then criterion_args=(-- --quick); fi
cargo bench -q -p deleghe-bench --bench decisions "${criterion_args[@]}" 2>/dev/null \
  | awk '/^[a-z_]+\/[a-z_]+/ {name=$1}
         /thrpt:/ && !seen[name]++ {u=$5; sub(/elem\/s/, "", u);
           what = (name ~ /^encoding\//) ? "registrations encoded/s" : "decisions/s";
           printf "%-44s %10s %s %s (median)\n", name, $4, u, what}' \
  | tee -a "$out"

# ------------------------------------------------------------ 2. the load tool
say ""
say "## 2. the library on SQLite and PostgreSQL: deleghe-load $quick"
cargo build -q --release -p deleghe-bench
target/release/deleghe-load $quick --postgres "$postgres" 2>&1 | tee -a "$out"

# ------------------------------------------------------------ 3. HTTP
say ""
say "## 3. the app under wrk: bench/http.sh"
seconds=10
if [ -n "$quick" ]; then seconds=3; fi
for store in sqlite postgres; do
  DELEGHE_BENCH_HTTP_SECONDS=$seconds bash bench/http.sh "$store" 2>&1 | tee -a "$out"
done
# ------------------------------------------------------------ ratios across the parts
say ""
say "## 4. the app's write against the library's registration, same concurrency (target >= 0.8)"
# The same operation: the library's counter registration (deleghe-load's
# "counter registration (flow)": what POST /v1/counter/delegations does, the
# evidence looked up, minus HTTP); and, as before, the online registration.
connections=${DELEGHE_BENCH_HTTP_CONNECTIONS:-16}
library_field() { # store, first word of the scenario, field ($6 rate, $9 p99 ms)
  awk -v s="$1" -v w="$2" -v c="$connections" -v f="$3" \
    '$1 == s && $2 == w && $3 == "registration" && $5 == c {print $f; exit}' "$out"
}
ratio_of() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
for store in sqlite postgres; do
  counter=$(library_field "$store" counter 6)
  counter_p99=$(library_field "$store" counter 9)
  online=$(library_field "$store" online 6)
  app=$(awk -v s="$store" '$1 == s && $2 == "write:" {print $5; exit}' "$out")
  app_p99=$(awk -v s="$store" '$1 == s && $2 == "write:" {print $10; exit}' "$out")
  say "$(printf '%-8s app write %s req/s (p99 %s; target < 20 ms), library counter registration, the same operation (c=%s) %s/s (p99 %s ms): %s×' \
    "$store" "${app:-n/a}" "${app_p99:-n/a}" "$connections" "${counter:-n/a}" "${counter_p99:-n/a}" \
    "$(ratio_of "$app" "$counter")")"
  say "$(printf '%-8s app write %s req/s, library online registration (c=%s) %s/s: %s× (against the online registration, which looks no evidence up)' \
    "$store" "${app:-n/a}" "$connections" "${online:-n/a}" "$(ratio_of "$app" "$online")")"
  # The same operation with the app's background workers at work on the
  # library's store (deleghe-load's "workers + counter reg."): the work the
  # app's process and database do for each registration besides answering it.
  deployed=$(awk -v s="$store" -v c="$connections" \
    '$1 == s && $2 == "workers" && $4 == "counter" && $6 == c {print $7; exit}' "$out")
  say "$(printf '%-8s app write %s req/s, library counter registration with the workers running (c=%s) %s/s: %s×; the workers alone take the library from %s/s to %s/s: %s×' \
    "$store" "${app:-n/a}" "$connections" "${deployed:-n/a}" "$(ratio_of "$app" "$deployed")" \
    "${counter:-n/a}" "${deployed:-n/a}" "$(ratio_of "$deployed" "$counter")")"
done

say ""
say "## 5. what the log's NOTIFY costs a commit: bench/notify.sh"
notify_seconds=5
if [ -n "$quick" ]; then notify_seconds=1; fi
DELEGHE_BENCH_NOTIFY_SECONDS=$notify_seconds bash bench/notify.sh 2>&1 | tee -a "$out"

say ""
say "load average after: $(cut -d' ' -f1-3 /proc/loadavg); all of the above is in $out"
