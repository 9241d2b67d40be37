#!/usr/bin/env bash
# The app's resident memory before and after a burst of cheap requests that
# nobody scrapes /metrics during: GET /v1/counters (a token checked, JSON
# written, no database), 16 connections, on a SQLite store in a temporary
# folder. Memory that grows with the number of requests shows here.
#
#   bash bench/rss-per-request.sh [BINARY] [SECONDS]
#
# BINARY defaults to target/release/deleghe (built if missing), SECONDS to 40.
# Needs wrk (Debian: apt-get install -y wrk), curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/deleghe}
seconds=${2:-40}
if [ "$bin" = target/release/deleghe ]; then cargo build --release -q -p deleghe-app --bin deleghe; fi
command -v wrk >/dev/null || { echo "bench/rss-per-request.sh: wrk is missing" >&2; exit 1; }
work=$(mktemp -d -t deleghe-rss-XXXXXX)
server=
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
# A key of our own (never printed); the dev files in the temporary folder.
DELEGHE_JWT_SECRET=$(head -c 48 /dev/urandom | base64 | tr -d '\n')
export DELEGHE_JWT_SECRET TMPDIR="$work"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" serve --dev --listen "127.0.0.1:$port" --database-url "sqlite://$work/db" \
  --sms-outbox "$work/sms.jsonl" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.1; done
token=$("$bin" token RSSMRA85T10A562S)
rss() { awk '/^VmRSS/ {print $2}' "/proc/$server/status"; }
url="http://127.0.0.1:$port/v1/counters"
wrk -t2 -c16 -d3s -H "Authorization: Bearer $token" "$url" >/dev/null
sleep 6
before=$(rss)
out=$(wrk -t2 -c16 -d"${seconds}s" -H "Authorization: Bearer $token" "$url")
sleep 6
after=$(rss)
requests=$(awk '/requests in/ {print $1}' <<<"$out")
echo "$requests requests; RSS after the warm-up $before kB, after the load $after kB:" \
  "$((after - before)) kB more, $(awk -v d=$((after - before)) -v n="$requests" \
  'BEGIN { printf "%.1f", d * 1024 / n }') bytes a request"
