#!/usr/bin/env bash
# Why the log's NOTIFY is not sent in the append's transaction (ADR 0014):
# PostgreSQL takes a global lock to queue a notification at commit, held
# through the commit, so appending commits of all sessions would pass it one
# at a time. pgbench runs the command's transaction
# (bench/pgbench/command.sql: read the stream, BEGIN, insert an event,
# COMMIT) on the event table made by the app's migrations, in turns with a
# trigger that notifies in each appending transaction and without it, as
# the app runs (four slices each, alternated, so that a drift of the machine
# falls on both), and prints both rates and their ratio.
#
#   bash bench/notify.sh        (DELEGHE_BENCH_POSTGRES_URL, DELEGHE_BENCH_NOTIFY_SECONDS=5,
#                                DELEGHE_BENCH_HTTP_CONNECTIONS=16)
set -euo pipefail
cd "$(dirname "$0")/.."
# Plain text to PostgreSQL for every client, the app included (docs/PERFORMANCE.md, "TLS to PostgreSQL").
export PGSSLMODE=${PGSSLMODE:-disable}
postgres=${DELEGHE_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/deleghe_bench}
seconds=${DELEGHE_BENCH_NOTIFY_SECONDS:-5}
clients=${DELEGHE_BENCH_HTTP_CONNECTIONS:-16}
db=${postgres%%\?*}
schema=bench_notify
export PGOPTIONS='-c client_min_messages=warning'
psql "$db" -qX -v ON_ERROR_STOP=1 -c "DROP SCHEMA IF EXISTS $schema CASCADE" -c "CREATE SCHEMA $schema"
trap 'psql "$db" -qX -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true' EXIT
for migration in crates/adapters/migrations/postgres/*.sql; do
  { echo "SET search_path TO $schema;"; cat "$migration"; } | psql "$db" -qX -v ON_ERROR_STOP=1 >/dev/null
done
psql "$db" -qX -v ON_ERROR_STOP=1 <<SQL
CREATE FUNCTION $schema.notify_append() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    PERFORM pg_notify('deleghe_log', TG_TABLE_SCHEMA);
    RETURN NULL;
END;
\$\$;
SQL
notifying() {
  psql "$db" -qX -c "CREATE TRIGGER events_notify_append AFTER INSERT ON $schema.events
    FOR EACH STATEMENT EXECUTE FUNCTION $schema.notify_append()"
}
run() { # $1: the run's name, which the script's streams carry (`:slice`)
  PGOPTIONS="-c search_path=$schema" pgbench -n -M prepared -D slice="$1" \
    -f bench/pgbench/command.sql \
    -c "$clients" -j 2 -T "$seconds" "$db" 2>/dev/null | awk '/^tps = / {print $3; exit}'
}
with=() without=()
for i in 1 2 3 4; do
  without+=("$(run "without$i")")
  notifying
  with+=("$(run "with$i")")
  psql "$db" -qX -c "DROP TRIGGER events_notify_append ON $schema.events"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (a[int((NR+1)/2)] + a[int(NR/2)+1]) / 2}'; }
w=$(median "${with[@]}") wo=$(median "${without[@]}")
printf 'postgres command transaction, c=%s, %s s x 4 each: NOTIFY in it %.0f tx/s, none (as the app appends) %.0f tx/s: %.2fx\n' \
  "$clients" "$seconds" "$w" "$wo" "$(awk -v a="$w" -v b="$wo" 'BEGIN {print a / b}')"
