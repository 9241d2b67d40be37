-- Baseline (b) of docs/PERFORMANCE.md: the database's own limit for the
-- transaction one command makes through postgres-es, statement for statement:
-- read the stream (outside the transaction, as cqrs-es loads before it
-- decides), then BEGIN, insert the next event, COMMIT. Each run is a new
-- stream, as in the load tool's single-command scenario, with a payload and
-- metadata of the size of a real `DelegationRequested` and its metadata.
-- A stream's id is the slice's name (`-D slice=`, new for each pgbench
-- the load tool starts on a schema), the client's and a random number:
-- random numbers alone met a stream of an earlier slice once, on a table
-- that kept every slice's rows.
-- (pgbench reads a colon before a letter or digit as a variable: inside the
-- JSON such colons are written `\u003a`, which JSON reads as `:`.)
--
-- Run by the load tool (`deleghe-load`), or by hand:
--   PGOPTIONS='-c search_path=bench_bare' pgbench -n -M prepared -D slice=1 \
--     -f bench/pgbench/command.sql -c 4 -j 2 -T 10 -h 127.0.0.1 -U postgres deleghe_bench
\set n random(1, 1000000000000)
SELECT aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata
  FROM events
 WHERE aggregate_type = 'pgbench' AND aggregate_id = 'pgb-' || :slice::text || '.' || :client_id::text || '.' || :n::text
 ORDER BY sequence;
BEGIN;
INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
VALUES ('pgbench', 'pgb-' || :slice::text || '.' || :client_id::text || '.' || :n::text, 1, 'DelegationRequested', '1.0',
        '{"DelegationRequested":{"id":"d-123456","grantor":"AAAHBK50B03H501Q","delegate":"AAAHBL50C04H501T","role":"ordinary","channel":"online","ends_on": null,"at":"2026-11-30T09\u003a00\u003a00.123456789Z"}}',
        '{"actor":"citizen\u003aAAAHBK50B03H501Q","channel":"web","correlation_id":"5f0c6f1e-8a4b-4c1e-9f47-2b8f1d3c9a10"}');
COMMIT;
