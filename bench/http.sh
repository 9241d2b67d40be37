#!/usr/bin/env bash
# The HTTP part of docs/PERFORMANCE.md: the app (crates/app) under wrk on
# loopback, for a write endpoint (POST /v1/counter/delegations: a whole
# registration) and a read endpoint (GET /v1/delegations?grantor=...: the read
# model), with requests per second, p50/p99 latency and the server's peak
# memory (VmHWM, the peak resident set).
#
#   bash bench/http.sh [sqlite|postgres]      (default: sqlite)
#
# Environment: DELEGHE_BENCH_HTTP_SECONDS (10), DELEGHE_BENCH_HTTP_CONNECTIONS
# (16), DELEGHE_BENCH_APP (the app's binary to measure, a path from the
# repository's root; target/release/deleghe, which is built either way),
# DELEGHE_BENCH_POSTGRES_URL (postgres://postgres@127.0.0.1:5432/deleghe_bench,
# schema bench_http, dropped at the end), DELEGHE_BENCH_READ_ROUNDS (3: on
# PostgreSQL the app's read, (c) and (d) take turns this many rounds). The
# server runs on a free port of 127.0.0.1 with its files in a temporary
# folder; both go when the script ends.
set -euo pipefail
cd "$(dirname "$0")/.."
# Plain text to PostgreSQL for every client, the app included (docs/PERFORMANCE.md, "TLS to PostgreSQL").
export PGSSLMODE=${PGSSLMODE:-disable}

store=${1:-sqlite}
seconds=${DELEGHE_BENCH_HTTP_SECONDS:-10}
connections=${DELEGHE_BENCH_HTTP_CONNECTIONS:-16}
postgres=${DELEGHE_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/deleghe_bench}

if ! command -v wrk >/dev/null; then
  echo "bench/http.sh: wrk is missing (Debian: apt-get install -y wrk)" >&2
  exit 1
fi
cargo build --release -q -p deleghe-app
if [ "$store" = postgres ]; then cargo build --release -q -p deleghe-bench --bin deleghe-minimal-read; fi
# Another build of the app to measure (a before and an after, side by side).
app=${DELEGHE_BENCH_APP:-target/release/deleghe}

work=$(mktemp -d -t deleghe-http-XXXXXX)
server=
minimal=
cleanup() {
  for pid in $server $minimal; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$store" = postgres ]; then
    PGOPTIONS='-c client_min_messages=warning' psql "$postgres" -q \
      -c 'DROP SCHEMA IF EXISTS bench_http CASCADE' >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

case "$store" in
  sqlite) url="sqlite://$work/http.db" ;;
  postgres)
    PGOPTIONS='-c client_min_messages=warning' psql "$postgres" -q \
      -c 'DROP SCHEMA IF EXISTS bench_http CASCADE' >/dev/null
    url="$postgres?schema=bench_http" ;;
  *) echo "bench/http.sh: store is sqlite or postgres, not $store" >&2; exit 2 ;;
esac

# A key of our own (never printed), and the dev files in the temporary folder.
DELEGHE_JWT_SECRET=$(head -c 48 /dev/urandom | base64 | tr -d '\n')
export DELEGHE_JWT_SECRET
# The app's own log level (info: a line per request) into a file, as deployed.
export TMPDIR="$work"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$app" serve --dev --listen "127.0.0.1:$port" --database-url "$url" \
  --sms-outbox "$work/sms.jsonl" >"$work/server.log" 2>&1 &
server=$!
base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
  curl -fs "$base/health" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.1
done

reader=RSSMRA85T10A562S
operator_token=$("$app" token VRDLGU70A01H501O --role operator)
reader_token=$("$app" token "$reader")
. bench/fixture.sh
sleep 0.5

summary() { # name, wrk output
  local rps p50 p99 non2xx errors
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$2")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$2")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$2")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$2")
  errors=$(awk '/Socket errors/ {sub(/.*Socket errors: /, ""); print}' <<<"$2")
  printf '%-8s %-40s %10s req/s  p50 %9s  p99 %9s  non-2xx %s%s\n' \
    "$store" "$1" "$rps" "$p50" "$p99" "${non2xx:-0}" "${errors:+  socket errors: $errors}"
  # Failed requests make the line above no figure of the app: say so where
  # nobody can miss it, with what the server logged.
  if [ "${non2xx:-0}" != 0 ] || [ -n "$errors" ]; then
    echo "bench/http.sh: WARNING: requests to $1 failed; the line above is not a figure to record." \
      "The server's last warnings and errors:"
    grep -E ' (WARN|ERROR) ' "$work/server.log" | tail -n 5 || true
  fi
}

echo "wrk: $connections connections, 2 threads, ${seconds}s per endpoint, on 127.0.0.1 ($store store)"
write=$(DELEGHE_BENCH_TOKEN=$operator_token DELEGHE_BENCH_RUN=0 DELEGHE_BENCH_DOCUMENTS=$documents \
  wrk -t2 -c"$connections" -d"${seconds}s" --latency -s bench/http/register.lua \
  "$base/v1/counter/delegations")
summary "write: POST /v1/counter/delegations" "$write"
# CPU time (user + system, in clock ticks) of processes, for the CPU each
# read costs the server and the database. /proc/PID/stat's fields are
# counted after the command's name, which may hold spaces: utime and stime
# are then the 12th and 13th, the ended children's cutime and cstime the
# 14th and 15th.
stat_ticks() { awk -v first="$2" '{sub(/^.*\) /, ""); print $first + $(first + 1)}' "/proc/$1/stat" 2>/dev/null || echo 0; }
ticks() { local t=0 p; for p in "$@"; do t=$((t + $(stat_ticks "$p" 12))); done; echo "$t"; }
# The user time alone (utime) of one process: the rest of its CPU is the
# kernel's work for it (system calls, the network's loopback).
user_ticks() { awk '{sub(/^.*\) /, ""); print $12}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# PostgreSQL's, server-wide: every process of the user postgres alive now
# (background processes included), and the backends that have ended, whose
# time the postmaster holds as its children's. 0 where PostgreSQL is not
# a local server of that user.
pg_ticks() {
  [ "$store" = postgres ] || { echo 0; return; }
  local live postmaster
  live=$(ticks $(pgrep -u postgres 2>/dev/null | tr '\n' ' '))
  postmaster=$(pgrep -o -u postgres -x postgres 2>/dev/null || true)
  echo $((live + $(stat_ticks "${postmaster:-0}" 14)))
}
pg_processes() { pgrep -u postgres 2>/dev/null | wc -l; }
hz=$(getconf CLK_TCK)
# The read is measured alone: first the workers finish what the writes
# left them (GET /metrics: no projector or runner lag, no flow pending, an
# empty outbox; about 120 s at most), then what the server spends in a second
# idle is taken, before the read.
settle_started=$(date +%s.%N)
busy=1
for _ in $(seq 1 600); do
  m=$(curl -fs "$base/metrics") || { echo "bench/http.sh: GET /metrics failed" >&2; exit 1; }
  busy=$(awk '/^deleghe_(projector_lag_events|runner_lag_events|outbox_backlog|flows_pending)[ {]/ { if ($NF + 0 > 0) n++ } END { print n + 0 }' <<<"$m")
  [ "$busy" = 0 ] && break
  sleep 0.2
done
if [ "$busy" != 0 ]; then
  echo "bench/http.sh: the workers were still busy after about 120 s; the read shares the server with them" >&2
fi
settled_s=$(awk -v a="$settle_started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
idle_before=$(ticks "$server"); sleep 1; idle_ms=$(( ($(ticks "$server") - idle_before) * 1000 / hz ))
rps_of() { awk '/^Requests\/sec:/ {print $2}' <<<"$1"; }
requests_of() { awk '/ requests in / {n = $1} END {print n + 0}' <<<"$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
# µs a request from ticks and a count of requests.
us_each() { awk -v t="$1" -v n="$2" -v hz="$hz" 'BEGIN { if (n > 0) printf "%.0f", t * 1e6 / hz / n; else print "n/a" }'; }
# The median of the numbers among the words read (a round that gave no
# rate, "n/a", is left out).
median() { tr ' ' '\n' | awk '$1 ~ /^[0-9.]+$/ && $1 > 0' | sort -g | awk '{ a[NR] = $1 }
  END { if (NR == 0) print "n/a"; else if (NR % 2) print a[(NR + 1) / 2]; else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# The app's read, once: the wrk output in $read; the CPU ticks of the
# server and of PostgreSQL added to the totals, and its requests counted.
app_ticks=0; app_user_ticks=0; app_pg_ticks=0; app_requests=0
read_app() {
  local pg0 app0 user0
  pg0=$(pg_ticks); app0=$(ticks "$server"); user0=$(user_ticks "$server")
  read=$(wrk -t2 -c"$connections" -d"${seconds}s" --latency \
    -H "Authorization: Bearer $reader_token" "$base/v1/delegations?grantor=$reader")
  app_ticks=$((app_ticks + $(ticks "$server") - app0)); app_pg_ticks=$((app_pg_ticks + $(pg_ticks) - pg0))
  app_user_ticks=$((app_user_ticks + $(user_ticks "$server") - user0))
  app_requests=$((app_requests + $(requests_of "$read")))
  summary "read:  GET /v1/delegations?grantor=..." "$read"
}

if [ "$store" != postgres ]; then
  read_app
  printf '%-8s %-40s the app %s µs (user %s); idle before: %s ms a second (settled in %s s)\n' "$store" "CPU a read, server" \
    "$(us_each "$app_ticks" "$app_requests")" "$(us_each "$app_user_ticks" "$app_requests")" "$idle_ms" "$settled_s"
else
  # The limits of the read, on PostgreSQL, in the same run (ADR 0014):
  # (c) the database's: pgbench running the read model's very SELECT, as
  #     many clients as wrk has connections;
  # (d) the stack's: a minimal axum + sqlx server
  #     (crates/bench/src/minimal_read.rs) serving that SELECT on the same
  #     path, under the same wrk.
  # The machine is shared and its speed drifts by more than the gaps
  # measured: the app, (c) and (d) take turns, DELEGHE_BENCH_READ_ROUNDS
  # rounds (3) of one each, and the ratios are the medians of the rounds'.
  rounds=${DELEGHE_BENCH_READ_ROUNDS:-3}
  case "$rounds" in
    '' | *[!0-9]* | 0) echo "bench/http.sh: DELEGHE_BENCH_READ_ROUNDS is a whole number from 1, not $rounds" >&2; exit 2 ;;
  esac
  query=$(target/release/deleghe-minimal-read --print-query)
  printf '%s;\n' "$query" | sed "s/\\\$1/'$reader'/" >"$work/read.sql"
  c_ticks=0; c_requests=0; d_ticks=0; d_user_ticks=0; d_pg_ticks=0; d_requests=0; to_c=; to_d=
  read_c() { # (c), once: its rate in $pg_tps
    local pg_before processes_before pgbench_out pg_p
    pg_before=$(pg_ticks); processes_before=$(pg_processes)
    pgbench_out=$(PGOPTIONS='-c search_path=bench_http' pgbench -n -M prepared -c "$connections" -j 2 \
      -T "$seconds" -f "$work/read.sql" "${postgres%%\?*}" 2>&1)
    # pgbench's backends gone (their time then the postmaster's), so that none
    # is counted both alive and ended.
    for _ in $(seq 1 50); do [ "$(pg_processes)" -le "$processes_before" ] && break; sleep 0.1; done
    c_ticks=$((c_ticks + $(pg_ticks) - pg_before))
    c_requests=$((c_requests + $(awk '/number of transactions actually processed/ {n = $NF} END {print n + 0}' <<<"$pgbench_out")))
    pg_tps=$(awk '/^tps = / {print $3; exit}' <<<"$pgbench_out")
    pg_p=$(awk '/latency average/ {print $4, $5}' <<<"$pgbench_out")
    printf '%-8s %-40s %10s tx/s   latency average %s\n' "$store" "(c) pgbench: the same SELECT" \
      "${pg_tps:-n/a}" "${pg_p:-n/a}"
  }
  read_d() { # (d), once (started the first time): wrk's output in $minimal_out
    local pg_before minimal_before user_before
    if [ -z "$minimal" ]; then
      minimal_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
      target/release/deleghe-minimal-read --database-url "$url" \
        --listen "127.0.0.1:$minimal_port" >"$work/minimal.log" 2>&1 &
      minimal=$!
      for _ in $(seq 1 100); do
        curl -fs "http://127.0.0.1:$minimal_port/v1/delegations?grantor=$reader" >/dev/null 2>&1 && break
        sleep 0.1
      done
    fi
    pg_before=$(pg_ticks); minimal_before=$(ticks "$minimal"); user_before=$(user_ticks "$minimal")
    minimal_out=$(wrk -t2 -c"$connections" -d"${seconds}s" --latency \
      "http://127.0.0.1:$minimal_port/v1/delegations?grantor=$reader")
    d_ticks=$((d_ticks + $(ticks "$minimal") - minimal_before)); d_pg_ticks=$((d_pg_ticks + $(pg_ticks) - pg_before))
    d_user_ticks=$((d_user_ticks + $(user_ticks "$minimal") - user_before))
    d_requests=$((d_requests + $(requests_of "$minimal_out")))
    summary "(d) minimal axum + sqlx: the same read" "$minimal_out"
  }
  # The order turns round from one round to the next (the app, (c), (d);
  # then (d), (c), the app), so that a drift within a round favours
  # neither side. The first round reads the app first, as
  # bench/profile-read.sh expects.
  for round in $(seq 1 "$rounds"); do
    echo "round $round of $rounds"
    if [ $((round % 2)) = 1 ]; then read_app; read_c; read_d; else read_d; read_c; read_app; fi
    to_c="$to_c $(ratio "$(rps_of "$read")" "${pg_tps:-0}")"
    to_d="$to_d $(ratio "$(rps_of "$read")" "$(rps_of "$minimal_out")")"
  done
  # Like with like (docs/PERFORMANCE.md, "TLS to PostgreSQL"): the app's
  # and (d)'s connections, both still open, and a libpq client's, as
  # pgbench's, all in plain text.
  tls=$(PGOPTIONS='' psql "${postgres%%\?*}" -Atc "SELECT (SELECT count(*) FILTER (WHERE s.ssl) FROM pg_stat_ssl s
    JOIN pg_stat_activity a USING (pid) WHERE a.datname = current_database() AND a.pid <> pg_backend_pid())
    || ' ' || (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid())" 2>/dev/null || echo '? ?')
  if [ "$tls" = "0 false" ]; then
    printf '%-8s %-40s none: the app'\''s, (d)'\''s and libpq'\''s (pgbench'\''s) connections in plain text\n' "$store" "TLS to PostgreSQL"
  else
    echo "bench/http.sh: WARNING: TLS to PostgreSQL (connections over TLS, libpq's over TLS: $tls);" \
      "the ratios above may compare unlike clients (PGSSLMODE=$PGSSLMODE)"
  fi
  printf '%-8s %-40s %s× pgbench (target ≥ 0.5; rounds%s), %s× the minimal handler (target ≥ 0.8; rounds%s)\n' \
    "$store" "ratio: the app's read, median" "$(median <<<"$to_c")" "$to_c" "$(median <<<"$to_d")" "$to_d"
  printf '%-8s %-40s the app %s µs (user %s) + PostgreSQL %s µs; (d) %s µs (user %s) + PostgreSQL %s µs; (c) PostgreSQL %s µs; the app idle before: %s ms a second (settled in %s s)\n' \
    "$store" "CPU a read, server + database" "$(us_each "$app_ticks" "$app_requests")" \
    "$(us_each "$app_user_ticks" "$app_requests")" "$(us_each "$app_pg_ticks" "$app_requests")" \
    "$(us_each "$d_ticks" "$d_requests")" "$(us_each "$d_user_ticks" "$d_requests")" \
    "$(us_each "$d_pg_ticks" "$d_requests")" "$(us_each "$c_ticks" "$c_requests")" "$idle_ms" "$settled_s"
fi
peak=$(awk '/^VmHWM:/ {print $2, $3}' "/proc/$server/status")
printf '%-8s %-40s %s\n' "$store" "server peak memory (VmHWM)" "$peak"
if [ -n "${DELEGHE_BENCH_HTTP_VERBOSE:-}" ]; then
  printf '%s\n\n%s\n' "$write" "$read"
fi
