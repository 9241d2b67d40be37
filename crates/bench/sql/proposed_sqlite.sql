-- The events table as docs/PERFORMANCE.md proposes it for SQLite: `position`
-- is the INTEGER PRIMARY KEY, an alias of the rowid, which SQLite hands out
-- as max + 1 on insert (no trigger, no second write of the row; VACUUM never
-- renumbers an explicit INTEGER PRIMARY KEY). Used only to measure what
-- writers would pay: (a'') of the load tool.
CREATE TABLE IF NOT EXISTS events
(
  position       integer PRIMARY KEY,
  aggregate_type text                          NOT NULL,
  aggregate_id   text                          NOT NULL,
  sequence       integer CHECK (sequence >= 0) NOT NULL,
  event_type     text                          NOT NULL,
  event_version  text                          NOT NULL,
  payload        text                          NOT NULL,
  metadata       text                          NOT NULL,
  UNIQUE (aggregate_type, aggregate_id, sequence)
) STRICT;
